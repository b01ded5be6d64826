"""Booking: what `igor sub`, `del`, `extend` and `edit` do, and what the TUI's forms ask before them.

Requests arrive as the strings a user typed, so every front end gets the same validation and sentences.
Slow work (copying kernels) happens outside the store lock; scheduling and the write happen inside one
short locked transaction, so two igor processes can never double-book a node.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from ..dates import span_text, when_text, when_zone
from ..errors import IgorError, PermissionDenied, PlanChanged, ScheduleError, ValidationError
from ..model import Block, Policy, Request, Reservation, Slot, floor_minute
from ..timeparse import format_duration
from ..typenames import TYPE_CHECKING
from ..values import dataclass, replace
from . import checks, policy_gate
from .housekeeping import collect_unused, down_nodes, is_live

if TYPE_CHECKING:
    from ..booking_plan import Plan
    from ..policy import PolicyRules
    from ..scheduler import ExtensionRoom
    from .facade import IgorService
    from .like import Like

SPECULATION_OPTIONS = 10


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """`igor sub` as typed: strings are parsed by the service so every front end gets the same errors."""

    name: str = ""
    kernel: str = ""
    initrd: str = ""
    profile: str = ""
    count: int = 0
    nodes: str = ""
    duration: str = "60m"  # with `like`, "" takes the source's
    after: str = ""
    kernel_args: str | None = ""  # None: not given (with `like`, the source's; else none)
    group: str = ""
    vlan: str = ""
    contiguous: bool = False
    desc: str = ""
    like: str = ""  # `--like NAME`: fill what is not given from NAME (see like.py)
    properties: str = ""
    """-p: comma-separated node properties every picked node must have (config `properties`)."""


@dataclass(frozen=True, slots=True)
class EditRequest:
    """`igor edit`: None leaves a field unchanged (classic igor cleared kernel args when -c was omitted)."""

    kernel: str | None = None
    initrd: str | None = None
    profile: str | None = None
    kernel_args: str | None = None
    vlan: str | None = None
    owner: str | None = None
    group: str | None = None
    desc: str | None = None
    add: str | None = None  # "2" (a number of nodes) or "kn[3-4]"; see service/resize.py
    drop: str | None = None


@dataclass(frozen=True, slots=True)
class ExtendInfo:
    """What the TUI shows before extending: room on the nodes and the caller's limit, with reasons."""

    room: ExtensionRoom
    limit_minutes: float | None
    within_window: bool
    reason: str


def field_errors(svc: IgorService, req: SubmitRequest, *, booking: bool = True) -> dict[str, str]:
    """Every problem with a submit request, per field (SubmitRequest's field names; "limits" for the
    node/time limits), in the words `submit` would use: forms show them next to their fields.

    `booking=False` checks only what speculation needs (nodes, duration, start). Scheduling itself
    (are the nodes free?) is not checked: only `speculate`/`submit` can answer that."""
    errors: dict[str, str] = {}
    kernel_args = req.kernel_args or ""

    def check(field: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except IgorError as err:
            errors.setdefault(field, str(err))

    if booking:
        check("name", lambda: checks.check_name(req.name))
        if "name" not in errors:
            live = list(svc.live_reservations())
            check("name", lambda: checks.check_unique(req.name, live, svc.now()))
        if req.profile:
            check("profile", lambda: checks.boot_files(svc, "", "", req.profile))
        elif req.like and not (req.kernel or req.initrd):  # `like`'s copies, which must still be there
            check("kernel", lambda: _resolve_like(svc, req))
        else:
            for what, path in (("kernel", req.kernel), ("initrd", req.initrd)):
                if not path:
                    errors[what] = f"give the path of the {what} (-{what[0]})"
                    continue
                try:
                    svc.content.check(os.path.abspath(path), what, svc.reader)
                except IgorError as err:
                    errors[what] = str(err)
        check("kernel_args", lambda: checks.check_boot_args(svc, kernel_args))
        check("desc", lambda: check_desc(req.desc))
        if req.group:
            check("group", lambda: checks.check_group(svc, req.group))
        if req.vlan:
            check("vlan", lambda: checks.resolve_vlan(svc, req.vlan, list(svc.live_reservations())))
    check("duration", lambda: checks.duration_minutes(req.duration))
    field = "nodes" if req.nodes else "count"
    check(field, lambda: checks.node_spec(svc, req))
    if req.properties and field not in errors:
        check("properties", lambda: checks.candidate_nodes(svc, req))
    if "duration" not in errors:
        check("after", lambda: checks.earliest_start(svc, req.after, checks.duration_minutes(req.duration)))
    if not errors.keys() & {"duration", "count", "nodes"} and not svc.caller.is_admin:
        from ..scheduler import check_limits

        size = checks.node_spec(svc, req)[1]
        check("limits", lambda: check_limits(svc.config.limits, size, checks.duration_minutes(req.duration)))
    return errors


def speculate(svc: IgorService, req: SubmitRequest, limit: int = SPECULATION_OPTIONS) -> list[Slot]:
    """The next `limit` distinct options for `req`; each is bookable with `after` set to its start."""
    from ..scheduler import speculate

    req = _like(svc, req)
    request = checks.build_request(svc, req)
    nodes = checks.candidate_nodes(svc, req)
    snap = svc.store.snapshot()
    now = svc.now()
    live = [r for r in snap.reservations if is_live(r, now)]
    rules = policy_gate.policy_rules(svc, snap.policies)
    down = down_nodes(snap.nodes)
    return speculate(nodes, live, request, blocks=snap.blocks, down=down, limit=limit, rules=rules)


def plan(svc: IgorService, req: SubmitRequest) -> Plan:
    """What `submit` would book now, and why it starts later than asked (if it does).

    The same scheduler call on the same inputs as `submit`, so a form showing this plan shows what
    Enter books, with the sentence `igor sub` prints when the booking it made starts late (`book`)."""
    from ..booking_plan import Plan

    req = _like(svc, req)
    request = checks.build_request(svc, req)
    nodes = checks.candidate_nodes(svc, req)
    snap = svc.store.snapshot()
    now = svc.now()
    live = [r for r in snap.reservations if is_live(r, now)]
    slot, reason = _place(
        svc,
        request,
        nodes,
        live,
        blocks=snap.blocks,
        policies=snap.policies,
        down=down_nodes(snap.nodes),
        now=now,
    )
    return Plan(asked=request.earliest, slot=slot, why_not=reason)


def _place(
    svc: IgorService,
    request: Request,
    nodes: tuple[str, ...],
    live: Sequence[Reservation],
    *,
    blocks: Sequence[Block],
    policies: Sequence[Policy],
    down: frozenset[str],
    now: datetime,
) -> tuple[Slot, str]:
    """Where `request` goes over these inputs (with the caller's host policies), and the sentence saying
    why it starts later than asked ("" when it does not): `plan` shows both, `book` books the one and
    prints the other, each from one search. Policy windows are expanded for the sentence only as far
    as the slot's end, and only for a late start."""
    rules = policy_gate.policy_rules(svc, policies)
    slot = _find_slot(svc, live, request, blocks, down, nodes=nodes, rules=rules)
    if slot.start <= request.earliest:
        return slot, ""
    from ..booking_plan import why_not

    tz = svc.config.tz
    return slot, why_not(
        request,
        slot,
        now=now,
        nodes=nodes,
        reservations=live,
        blocks=(*blocks, *policy_gate.window_blocks(svc, policies, request.earliest, slot.end)),
        down=down,
        compress=svc._nodes_text,
        when=lambda when: when_text(when, tz, now),
    )


def _find_slot(
    svc: IgorService,
    live: Sequence[Reservation],
    request: Request,
    blocks: Iterable[Block],
    down: frozenset[str],
    *,
    nodes: tuple[str, ...],
    rules: PolicyRules | None = None,
) -> Slot:
    """`scheduler.find_slot` over the service's nodes, remembering its last answer.

    Why: the TUI's form plans (to show the booking and why a start is late) and then books; when nothing
    changed in between, the transaction schedules the very same inputs again (at 5,000 reservations
    ~15 ms). find_slot is a pure function of its inputs, so an equal key gives the same slot;
    the transaction that took over the plan's snapshot holds the same Reservation objects, so comparing
    the lists is a pointer walk. Any change (a new booking, the next minute, a block) is a miss."""
    from ..scheduler import find_slot

    key = (request, nodes, tuple(live), tuple(blocks), down, rules)
    last = svc._last_slot
    if last is not None and last[0] == key:
        return last[1]
    slot = find_slot(nodes, key[2], request, blocks=key[3], down=down, rules=rules)
    svc._last_slot = (key, slot)
    return slot


def submit(svc: IgorService, req: SubmitRequest, expect: Slot | None = None) -> Reservation:
    """Validate, copy the boot files, then schedule and store in one locked transaction."""
    return book(svc, req, expect)[0]


def book(svc: IgorService, req: SubmitRequest, expect: Slot | None = None) -> tuple[Reservation, str]:
    """`submit`, and why the booking starts later than asked ("" when it does not).

    The sentence is worked out in the booking's transaction from what it scheduled over, and only for a
    late start: `igor sub` used to plan first to have it ready, searching the schedule twice (at 5,000
    reservations ~4 ms of every on-time booking, with the plan's own filtering and policy expansion).

    `expect` is the plan a front end showed (the TUI's form, a speculation option): the booking is made
    only if it is still that plan, else PlanChanged says what it would be now and nothing is booked."""
    checks.check_not_paused(svc)
    checks.check_name(req.name)
    like = _resolve_like(svc, req)
    req = like.request if like is not None else req
    request = checks.build_request(svc, req)
    nodes = checks.candidate_nodes(svc, req)
    if like is not None and like.kernel_hash:  # reused copies: nothing to read or copy
        kernel, initrd, profile = req.kernel, req.initrd, ""
    else:
        kernel, initrd, profile = checks.boot_files(svc, req.kernel, req.initrd, req.profile)
    kernel_args = checks.check_boot_args(svc, req.kernel_args or "")
    desc = check_desc(req.desc)
    group = checks.check_group(svc, req.group) if req.group else ""
    checks.check_unique(req.name, list(svc.live_reservations()), svc.now())  # lock-free early answer
    with svc._copies_collected_on_failure():
        kernel_hash, initrd_hash = _copies(svc, kernel, initrd, like)
        now = svc.now()
        with svc.store.transaction() as tx:
            live = svc._housekeep(tx, now)
            checks.check_unique(req.name, live, now)
            vlan = checks.resolve_vlan(svc, req.vlan, live) if req.vlan else None
            down = down_nodes(tx.node_status())
            slot, why = _place(
                svc, request, nodes, live, blocks=tx.blocks(), policies=tx.policies(), down=down, now=now
            )
            _check_shown(svc, expect, slot, now)
            checks.check_quota(svc, live, svc.caller.user, [(slot.nodes, slot.start, slot.end)])
            _ensure_copies(svc, (("kernel", kernel, kernel_hash), ("initrd", initrd, initrd_hash)), like)
            res = tx.add_reservation(
                Reservation(
                    id=0,
                    name=req.name,
                    owner=svc.caller.user,
                    start=slot.start,
                    end=slot.end,
                    nodes=slot.nodes,
                    group=group,
                    kernel=kernel,
                    initrd=initrd,
                    kernel_hash=kernel_hash,
                    initrd_hash=initrd_hash,
                    profile=profile,
                    kernel_args=kernel_args,
                    vlan=vlan,
                    created=now,
                    desc=desc,
                )
            )
    svc._log("created", res, **({"desc": res.desc} if res.desc else {}))
    return res, why


def _check_shown(svc: IgorService, shown: Slot | None, slot: Slot, now: datetime) -> None:
    """PlanChanged unless `slot` is the plan `shown` (if one was): the same nodes and length, and the
    shown start (or, once that has passed, the current minute: a plan for "now" read for a minute is
    still the plan)."""
    if shown is None:
        return
    same_start = slot.start == max(shown.start, floor_minute(now))
    if same_start and slot.nodes == shown.nodes and slot.end - slot.start == shown.end - shown.start:
        return
    raise PlanChanged(
        "the schedule changed since this plan was shown; nothing was booked: it would now be "
        f"{span_text(slot.start, slot.end, svc.config.tz, now)} on {svc._nodes_text(slot.nodes)}",
        slot,
    )


def delete(svc: IgorService, name: str) -> Reservation:
    """Release a reservation. One that igor-tick has installed ends now and is torn down by the next
    tick (nothing is leaked); one that was never installed is removed at once."""
    now = svc.now()
    with svc.store.transaction() as tx:
        svc._expire(tx, now)
        res = checks.find_writable(svc, tx.reservations_named(name), name, "delete")
        if res.installed:
            from ..archive import ENDINGS_KEY

            ended = replace(res, end=max(res.start, now))
            tx.put_reservation(ended)
            # igor-tick archives it once torn down; this note makes the archive say who ended it.
            endings = tx.get_value(ENDINGS_KEY) or {}
            endings[str(res.id)] = {"why": "deleted", "by": svc.caller.user, "at": now.isoformat()}
            tx.set_value(ENDINGS_KEY, endings)
        else:
            tx.archive_reservation(res.id, why="deleted", by=svc.caller.user, when=now)
        collect_unused(svc.content, tx)
    svc._log("deleted", res, actual_end=now.isoformat())
    return res


def extend(svc: IgorService, name: str, duration: str = "60m") -> Reservation:
    """Push the end of a reservation out, if its nodes are free and the caller's limits allow."""
    from ..scheduler import check_extend_limits, extension_room

    checks.check_not_paused(svc)
    minutes = checks.duration_minutes(duration)
    now = svc.now()
    with svc.store.transaction() as tx:
        live = svc._housekeep(tx, now)
        res = checks.find_writable(svc, live, name, "extend")
        if not svc.caller.is_admin:
            check_extend_limits(svc.config.limits, res, now, minutes)
        if minutes > checks.HORIZON_MINUTES or res.end > now + checks.HORIZON - timedelta(minutes=minutes):
            raise ValidationError("igor books at most 10 years ahead: extend by less")
        new_end = res.end + timedelta(minutes=minutes)
        checks.check_quota(svc, live, res.owner, [(res.nodes, res.end, new_end)], "extension")
        policies = tx.policies()
        if not svc.caller.is_admin:
            check_policy_maxtime(policies, res, new_end)
        room = extension_room(
            res, live, [*tx.blocks(), *policy_gate.window_blocks(svc, policies, res.end, new_end)]
        )
        if room.until is not None and room.until < new_end:
            raise ScheduleError(no_room(svc, res, minutes, room))
        res = replace(res, end=new_end, extensions=res.extensions + 1)
        tx.put_reservation(res)
    svc._log("extended", res, minutes=minutes)
    return res


def extend_info(svc: IgorService, name: str) -> ExtendInfo:
    """How far `name` could be extended now, and why not further (for the TUI's extend dialog)."""
    from ..scheduler import check_extend_limits, extension_room

    snap, now = svc.store.snapshot(), svc.now()
    live = [r for r in snap.reservations if is_live(r, now)]
    res = checks.find(live, name)
    mine = [p for p in snap.policies if not set(p.nodes).isdisjoint(res.nodes)]  # the others cannot stop it
    windows = policy_gate.window_blocks(svc, mine, res.end, res.end + timedelta(days=366))
    room = extension_room(res, live, [*snap.blocks, *windows])
    limit = svc.max_minutes(len(res.nodes))
    reason = ""
    within = True
    try:
        if not svc.caller.is_admin:
            check_extend_limits(svc.config.limits, res, now, 1)
    except IgorError as err:
        within, reason = False, str(err)
    if not reason and room.until is not None:
        reason = f"{room.blocker} starts {when_zone(room.until, svc.config.tz, now)}"
    return ExtendInfo(room=room, limit_minutes=limit, within_window=within, reason=reason)


def edit(svc: IgorService, name: str, req: EditRequest) -> Reservation:
    """Change what a reservation boots, its args, VLAN, owner, group or nodes; only the fields given."""
    if all(getattr(req, f) is None for f in EditRequest.__slots__):
        raise ValidationError(
            "nothing to change: give at least one of -k, -i, -profile, -c, -vlan, -owner, -g, -desc, -add, "
            "-drop"
        )
    desc = check_desc(req.desc) if req.desc is not None else None
    if req.owner is not None:
        if not svc.caller.is_admin:
            raise PermissionDenied("only an admin can change the owner of a reservation")
        if not svc.directory.user_exists(req.owner):
            raise ValidationError(f"no such user: {req.owner}")
    kernel_args = checks.check_boot_args(svc, req.kernel_args) if req.kernel_args is not None else None
    if req.profile:
        checks.boot_files(svc, "", "", req.profile)
    group = checks.check_group(svc, req.group) if req.group else req.group
    checks.find_writable(svc, list(svc.live_reservations()), name, "edit")  # refuse before copying anything
    new_files: dict[str, tuple[str, str]] = {}
    with svc._copies_collected_on_failure():
        given: list[tuple[str, str]] = []
        for what, path in (("kernel", req.kernel), ("initrd", req.initrd)):
            if path == "":
                raise ValidationError(f"-{what[0]} needs the path of the new {what}")
            if path:
                given.append((os.path.abspath(path), what))
        for (full, what), digest in zip(given, svc.content.add_all(given, svc.reader), strict=True):
            new_files[what] = (full, digest)
        now = svc.now()
        with svc.store.transaction() as tx:
            live = svc._housekeep(tx, now)
            old = checks.find_writable(svc, live, name, "edit")
            if req.group is not None and not (svc.caller.is_admin or old.owner == svc.caller.user):
                raise PermissionDenied(
                    f"only the owner ({old.owner}) or an admin can change the group of {name}"
                )
            res = old
            if req.profile:
                res = replace(res, profile=req.profile, kernel="", initrd="", kernel_hash="", initrd_hash="")
            elif new_files:
                if old.profile and len(new_files) < 2:
                    raise ValidationError(f"{name} boots Cobbler profile {old.profile}: give both -k and -i")
                if "kernel" in new_files:
                    res = replace(res, kernel=new_files["kernel"][0], kernel_hash=new_files["kernel"][1])
                if "initrd" in new_files:
                    res = replace(res, initrd=new_files["initrd"][0], initrd_hash=new_files["initrd"][1])
                res = replace(res, profile="")
            if kernel_args is not None:
                res = replace(res, kernel_args=kernel_args)
            if req.vlan is not None:
                others = [r for r in live if r.id != old.id]
                res = replace(res, vlan=checks.resolve_vlan(svc, req.vlan, others) if req.vlan else None)
            if req.owner is not None:
                res = replace(res, owner=req.owner)
            if group is not None:
                res = replace(res, group=group)
            if req.add is not None or req.drop is not None:
                from .resize import resize

                res = resize(svc, tx, live, res, add=req.add, drop=req.drop, now=now)
            svc._ensure_content(tuple((what, *file) for what, file in new_files.items()))
            res = _with_desc(res, old, req, desc)
            tx.put_reservation(res)
            collect_unused(svc.content, tx)
    _log_edit(svc, old, res, req)
    return res


def _log_edit(svc: IgorService, old: Reservation, res: Reservation, req: EditRequest) -> None:
    """The history line of an edit; an add or drop also names the nodes that came and went."""
    changed = sorted(f for f in EditRequest.__slots__ if getattr(req, f) is not None)
    extra: dict[str, object] = {}
    if old.nodes != res.nodes:
        extra["added"] = svc._nodes_text(tuple(n for n in res.nodes if n not in old.nodes))
        extra["dropped"] = svc._nodes_text(tuple(n for n in old.nodes if n not in res.nodes))
    if old.desc != res.desc or "desc" in changed:
        extra["desc"] = res.desc
    svc._log("edited", res, changed=changed, **extra)


def _resolve_like(svc: IgorService, req: SubmitRequest) -> Like | None:
    if not req.like:
        return None
    from .like import resolve_like

    return resolve_like(svc, req)


def _like(svc: IgorService, req: SubmitRequest) -> SubmitRequest:
    """`req` with `--like`'s source filled in (speculation and plans ask the same as the booking)."""
    like = _resolve_like(svc, req)
    return like.request if like is not None else req


def _copies(svc: IgorService, kernel: str, initrd: str, like: Like | None) -> tuple[str, str]:
    """The content hashes to boot: `--like`'s reused copies, or fresh copies of the caller's files."""
    if like is not None and like.kernel_hash:
        return like.kernel_hash, like.initrd_hash
    files = [(path, what) for path, what in ((kernel, "kernel"), (initrd, "initrd")) if path]
    hashes = dict(zip((what for _, what in files), svc.content.add_all(files, svc.reader), strict=True))
    return hashes.get("kernel", ""), hashes.get("initrd", "")


def _ensure_copies(svc: IgorService, files: tuple[tuple[str, str, str], ...], like: Like | None) -> None:
    """Under the lock: reused copies must still be there (refused if collected meanwhile); fresh ones
    are copied again if a concurrent delete collected them."""
    if like is not None and like.kernel_hash:
        from .like import check_content

        check_content(svc, like)
    else:
        svc._ensure_content(files)


DESC_MAX = 200
"""Characters of a description: a line in `show` and the TUI, not a document."""


def check_desc(desc: str) -> str:
    """One line of printable text, like a block's reason: it is printed in tables and the TUI."""
    if len(desc) > DESC_MAX:
        raise ValidationError(f"the description is {len(desc)} characters long; the limit is {DESC_MAX}")
    bad = next((ch for ch in desc if not ch.isprintable()), None)
    if bad is not None:
        raise ValidationError(
            f"the description contains a control character ({bad!r}); it must be one line of printable text"
        )
    return desc


def _with_desc(res: Reservation, old: Reservation, req: EditRequest, desc: str | None) -> Reservation:
    """The edited reservation with its new description; the revision grows (igor-tick re-installs) only
    when something it boots or owns changed, not for a description alone."""
    if desc is not None:
        res = replace(res, desc=desc)
    if all(getattr(req, f) is None for f in EditRequest.__slots__ if f != "desc"):
        return res
    return replace(res, revision=old.revision + 1, error="")


def check_policy_maxtime(policies: Sequence[Policy], res: Reservation, new_end: datetime) -> None:
    """`extend` may not take a reservation past the maxtime of a policy on its nodes (admins may)."""
    minutes = int((new_end - res.start).total_seconds() // 60)
    mine = set(res.nodes)
    for policy in policies:
        if policy.maxtime and minutes > policy.maxtime and mine.intersection(policy.nodes):
            most = policy.maxtime - int(res.duration.total_seconds() // 60)
            tail = (
                f"it can be extended by at most {format_duration(most)}"
                if most > 0
                else "it cannot be extended"
            )
            raise ScheduleError(
                f'cannot extend {res.name} to {format_duration(minutes)}: policy "{policy.name}" allows at '
                f"most {format_duration(policy.maxtime)} on its nodes; {tail}"
            )


def no_room(svc: IgorService, res: Reservation, minutes: int, room: ExtensionRoom) -> str:
    assert room.until is not None
    tz = svc.config.tz
    most = int((room.until - res.end).total_seconds() // 60)
    tail = f"it can be extended by at most {format_duration(most)}" if most > 0 else "it cannot be extended"
    return (
        f"cannot extend {res.name} by {format_duration(minutes)}: {room.blocker} starts "
        f"{when_zone(room.until, tz, svc.now())}; {tail}"
    )
