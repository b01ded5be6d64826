"""IgorService: the only entry point for the CLI, the TUI and igor-tick; permission checks live here.

Requests arrive as the strings a user typed (durations, start times, node lists), so every front end gets
the same validation and the same sentences. Slow work (copying kernels) happens outside the store lock;
scheduling and the write happen inside one short locked transaction, so two igor processes can never
double-book a node.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clock import Clock, SystemClock
from .errors import (
    Conflict,
    IgorError,
    NotFound,
    PermissionDenied,
    ScheduleError,
    StoreError,
    ValidationError,
)
from .eventlog import EventLog
from .identity import Caller, SystemDirectory, UserDirectory, caller_name, resolve_caller, service_uids
from .model import Block, ClusterView, NodeState, Request, Reservation, Slot, floor_minute
from .timeparse import format_duration, format_time_zone, parse_duration, parse_start
from .trust import Principal, principal
from .values import dataclass, replace

# The scheduler and the content store (hashlib, tempfile) are imported by the methods that use them:
# `igor show` needs neither, and every module a CLI process imports costs start-up time.
if TYPE_CHECKING:
    from .archive import ArchivedReservation
    from .backends.base import Backends, PowerAction
    from .booking_plan import Plan
    from .clockstep import ClockGuard
    from .config import Config
    from .content import ContentStore
    from .notify import Mailer, Reminder
    from .scheduler import ExtensionRoom
    from .stats import Stats
    from .store import ReservationStore, Transaction
    from .tick import TickReport

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
PXE_CMDLINE_MAX = 2047
"""PXELINUX hands the kernel at most 2047 characters of command line (syslinux 3.62 and later, matching
Linux's x86 COMMAND_LINE_SIZE of 2048 with its NUL); longer is cut off, silently, at boot."""
KERNEL_ARGS_MAX = PXE_CMDLINE_MAX - 256
"""What is left for -c once syslinux adds BOOT_IMAGE=<kernel path> and igor adds initrd=<initrd path>
(each a content-area path well under 128 characters)."""
NAME_MAX = 64
RESERVED_NAMES = frozenset({"down", "unreserved", "blocked"})  # the pseudo-rows of `igor show`
HORIZON = timedelta(days=3650)  # nothing is booked more than 10 years ahead (and datetimes stay in range)
HORIZON_MINUTES = int(HORIZON.total_seconds() // 60)
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
    duration: str = "60m"
    after: str = ""
    kernel_args: str = ""
    group: str = ""
    vlan: str = ""
    contiguous: bool = False


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


@dataclass(frozen=True, slots=True)
class PortDiff:
    """`igor sync`: a switch port whose VLAN differs from what the store says it should be."""

    port: str
    node: str
    expected: int | None
    actual: int | None
    reservation: str = ""


@dataclass(frozen=True, slots=True)
class BlockResult:
    """`igor block`: the stored block and the reservations that already overlap it (left untouched)."""

    block: Block
    conflicts: tuple[Reservation, ...]


@dataclass(frozen=True, slots=True)
class InventoryHost:
    """`igor hosts`: one node of a reservation, its stable alias and its configured addresses."""

    alias: str
    node: str
    ip: str = ""
    mac: str = ""


@dataclass(frozen=True, slots=True)
class ImportItem:
    """`igor import-classic`: one classic reservation, whether it is (or would be) imported, and why not."""

    classic_id: str
    name: str
    action: str  # "import" or "skip"
    reasons: tuple[str, ...] = ()
    reservation: Reservation | None = None


@dataclass(frozen=True, slots=True)
class MailResult:
    """One owner's reminder mail: to whom, about what, the text, and whether it went out."""

    to: str
    reminders: tuple[Reminder, ...]
    text: str
    ok: bool = True
    error: str = ""


@dataclass(frozen=True, slots=True)
class NotifyReport:
    """What `notify` did: one entry per owner mailed (or, with dry_run, that would be)."""

    dry_run: bool = False
    mails: tuple[MailResult, ...] = ()

    @property
    def failed(self) -> int:
        return sum(1 for m in self.mails if not m.ok)


@dataclass(frozen=True, slots=True)
class ExtendInfo:
    """What the TUI shows before extending: room on the nodes and the caller's limit, with reasons."""

    room: ExtensionRoom
    limit_minutes: float | None
    within_window: bool
    reason: str


class IgorService:
    """Every operation on reservations, for one caller, over one store, config and clock."""

    def __init__(
        self,
        config: Config,
        store: ReservationStore,
        caller: Caller,
        *,
        clock: Clock | None = None,
        directory: UserDirectory | None = None,
        content: ContentStore | None = None,
        events: EventLog | None = None,
        backends: Callable[[], Backends] | None = None,
        reader: Principal | None = None,
        clock_guard: ClockGuard | None = None,
    ) -> None:
        self.clock_guard = clock_guard
        self.config = config
        self.store = store
        self.caller = caller
        self.reader = reader
        """Whose rights boot files are read with (trust.principal); None: the process's own."""
        self.clock = clock or SystemClock()
        self.directory = directory or SystemDirectory()
        self._content = content
        self.events = events or EventLog(config.logfile)
        self.naming = config.naming
        self.nodes = self.naming.all()
        self._backend_factory = backends
        self._backends_built: Backends | None = None

    def backends(self) -> Backends:
        """The configured backends, built on first use: read-only commands never construct (or call) any."""
        if self._backends_built is None:
            if self._backend_factory is None:
                from .backends.factory import build_backends

                self._backends_built = build_backends(self.config)
            else:
                self._backends_built = self._backend_factory()
        return self._backends_built

    @property
    def content(self) -> ContentStore:
        """Where boot files are copied to; made on first use (only booking and editing copy files)."""
        if self._content is None:
            from .content import ContentStore

            self._content = ContentStore(self.config.contentdir, lock_dir=self.config.statedir)
        return self._content

    # ------------------------------------------------------------------------------------ reading

    def now(self) -> datetime:
        return floor_minute(self.clock.now())

    def real_now(self) -> datetime:
        """`now`, unless igor-tick holds a clock step: then the trusted time (the last baseline plus the
        boottime elapsed since, see clockstep.py), which a stepped wall clock cannot move."""
        if self.clock_guard is not None:
            check = self.clock_guard.check(self.clock.now())
            if check.held and check.trusted is not None:
                return floor_minute(check.trusted)
        return self.now()

    def view(self) -> ClusterView:
        """An immutable snapshot of the cluster for drawing: live reservations, blocks and node health."""
        snap = self.store.snapshot()
        now = self.now()
        live = tuple(r for r in snap.reservations if r.end > now or r.installed)  # _is_live, inlined
        return ClusterView(
            now=now,
            user=self.caller.user,
            is_admin=self.caller.is_admin,
            nodes=self.nodes,
            reservations=live,
            blocks=snap.blocks,
            status=dict(snap.nodes),
        )

    def get(self, name: str) -> Reservation:
        for res in self.view().reservations:
            if res.name == name:
                return res
        raise NotFound(f"no reservation named {name}")

    def can_write(self, res: Reservation) -> bool:
        """Owner, a member of the reservation's group, or an admin may delete, extend, edit and power it."""
        caller = self.caller
        return caller.is_admin or res.owner == caller.user or bool(res.group and res.group in caller.groups)

    def max_minutes(self, nodes: int) -> float | None:
        """The caller's time limit for a booking of `nodes` nodes (None: unlimited), for forms to show."""
        if self.caller.is_admin:
            return None
        from .scheduler import max_minutes

        return max_minutes(self.config.timelimit, nodes)

    def ensure_writable(self, name: str, verb: str) -> Reservation:
        """The reservation if the caller may `verb` it, else the refusal the CLI would print; lets the TUI
        refuse before asking for confirmation, in the same words."""
        return self._find_writable(list(self.view().reservations), name, verb)

    @property
    def power_configured(self) -> bool:
        """Whether `power` can work here; the TUI explains instead of offering a dead action."""
        cfg = self.config
        return bool(cfg.power == "ssh" or cfg.poweroncommand or cfg.poweroffcommand)

    def cobbler_profiles(self) -> list[str]:
        """The Cobbler profiles a reservation may boot (empty when Cobbler is not used)."""
        if not self.config.usecobbler:
            return []
        profiles: Callable[[], list[str]] | None = getattr(self.backends().boot, "profiles", None)
        return sorted(profiles()) if profiles is not None else []

    def field_errors(self, req: SubmitRequest, *, booking: bool = True) -> dict[str, str]:
        """Every problem with a submit request, per field (SubmitRequest's field names; "limits" for the
        node/time limits), in the words `submit` would use: forms show them next to their fields.

        `booking=False` checks only what speculation needs (nodes, duration, start). Scheduling itself
        (are the nodes free?) is not checked: only `speculate`/`submit` can answer that."""
        errors: dict[str, str] = {}

        def check(field: str, fn: Callable[[], object]) -> None:
            try:
                fn()
            except IgorError as err:
                errors.setdefault(field, str(err))

        if booking:
            check("name", lambda: self._check_name(req.name))
            if "name" not in errors:
                live = list(self.view().reservations)
                check("name", lambda: self._check_unique(req.name, live, self.now()))
            if req.profile:
                check("profile", lambda: self._boot_files("", "", req.profile))
            else:
                for what, path in (("kernel", req.kernel), ("initrd", req.initrd)):
                    if not path:
                        errors[what] = f"give the path of the {what} (-{what[0]})"
                        continue
                    try:
                        self.content.check(os.path.abspath(path), what, self.reader)
                    except IgorError as err:
                        errors[what] = str(err)
            check("kernel_args", lambda: self._check_boot_args(req.kernel_args))
            if req.group:
                check("group", lambda: self._check_group(req.group))
            if req.vlan:
                check("vlan", lambda: self._resolve_vlan(req.vlan, list(self.view().reservations)))
        check("duration", lambda: self._duration(req.duration))
        field = "nodes" if req.nodes else "count"
        check(field, lambda: self._node_spec(req))
        if "duration" not in errors:
            check("after", lambda: self._earliest(req.after, self._duration(req.duration)))
        if not errors.keys() & {"duration", "count", "nodes"} and not self.caller.is_admin:
            from .scheduler import check_limits

            size = self._node_spec(req)[1]
            check("limits", lambda: check_limits(self.config.limits, size, self._duration(req.duration)))
        return errors

    # ------------------------------------------------------------------------------------ booking

    def speculate(self, req: SubmitRequest, limit: int = SPECULATION_OPTIONS) -> list[Slot]:
        """The next `limit` distinct options for `req`; each is bookable with `after` set to its start."""
        from .scheduler import speculate

        request = self._request(req)
        snap = self.store.snapshot()
        now = self.now()
        live = [r for r in snap.reservations if _is_live(r, now)]
        return speculate(self.nodes, live, request, blocks=snap.blocks, down=_down(snap.nodes), limit=limit)

    def plan(self, req: SubmitRequest) -> Plan:
        """What `submit` would book now, and why it starts later than asked (if it does).

        The same scheduler call on the same inputs as `submit`, so a form showing this plan shows what
        Enter books; `igor sub` prints the same "why not" sentence when the start is late."""
        from .booking_plan import Plan, why_not
        from .dates import when_text
        from .scheduler import find_slot

        request = self._request(req)
        snap = self.store.snapshot()
        now = self.now()
        live = [r for r in snap.reservations if _is_live(r, now)]
        down = _down(snap.nodes)
        slot = find_slot(self.nodes, live, request, blocks=snap.blocks, down=down)
        tz = self.config.tz
        reason = why_not(
            request,
            slot,
            now=now,
            nodes=self.nodes,
            reservations=live,
            blocks=snap.blocks,
            down=down,
            compress=self._nodes_text,
            when=lambda when: when_text(when, tz, now),
        )
        return Plan(asked=request.earliest, slot=slot, why_not=reason)

    def submit(self, req: SubmitRequest) -> Reservation:
        """Validate, copy the boot files, then schedule and store in one locked transaction."""
        from .scheduler import find_slot

        self._check_not_paused()
        self._check_name(req.name)
        request = self._request(req)
        kernel, initrd, profile = self._boot_files(req.kernel, req.initrd, req.profile)
        kernel_args = self._check_boot_args(req.kernel_args)
        group = self._check_group(req.group) if req.group else ""
        self._check_unique(req.name, list(self.view().reservations), self.now())  # lock-free early answer
        with self._copies_collected_on_failure():
            kernel_hash = self.content.add(kernel, "kernel", self.reader) if kernel else ""
            initrd_hash = self.content.add(initrd, "initrd", self.reader) if initrd else ""
            now = self.now()
            with self.store.transaction() as tx:
                live = self._housekeep(tx, now)
                self._check_unique(req.name, live, now)
                vlan = self._resolve_vlan(req.vlan, live) if req.vlan else None
                slot = find_slot(self.nodes, live, request, blocks=tx.blocks(), down=_down(tx.node_status()))
                self._ensure_content((("kernel", kernel, kernel_hash), ("initrd", initrd, initrd_hash)))
                res = tx.add_reservation(
                    Reservation(
                        id=0,
                        name=req.name,
                        owner=self.caller.user,
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
                    )
                )
        self._log("created", res)
        return res

    def delete(self, name: str) -> Reservation:
        """Release a reservation. One that igor-tick has installed ends now and is torn down by the next
        tick (nothing is leaked); one that was never installed is removed at once."""
        now = self.now()
        with self.store.transaction() as tx:
            live = self._housekeep(tx, now)
            res = self._find_writable(live, name, "delete")
            if res.installed:
                from .archive import ENDINGS_KEY

                ended = replace(res, end=max(res.start, now))
                tx.put_reservation(ended)
                # igor-tick archives it once torn down; this note makes the archive say who ended it.
                endings = tx.get_value(ENDINGS_KEY) or {}
                endings[str(res.id)] = {"why": "deleted", "by": self.caller.user, "at": now.isoformat()}
                tx.set_value(ENDINGS_KEY, endings)
            else:
                tx.archive_reservation(res.id, why="deleted", by=self.caller.user, when=now)
            self._collect(tx)
        self._log("deleted", res, actual_end=now.isoformat())
        return res

    def extend(self, name: str, duration: str = "60m") -> Reservation:
        """Push the end of a reservation out, if its nodes are free and the caller's limits allow."""
        from .scheduler import check_extend_limits, extension_room

        self._check_not_paused()
        minutes = self._duration(duration)
        now = self.now()
        with self.store.transaction() as tx:
            live = self._housekeep(tx, now)
            res = self._find_writable(live, name, "extend")
            if not self.caller.is_admin:
                check_extend_limits(self.config.limits, res, now, minutes)
            if minutes > HORIZON_MINUTES or res.end > now + HORIZON - timedelta(minutes=minutes):
                raise ValidationError("igor books at most 10 years ahead: extend by less")
            new_end = res.end + timedelta(minutes=minutes)
            room = extension_room(res, live, tx.blocks())
            if room.until is not None and room.until < new_end:
                raise ScheduleError(self._no_room(res, minutes, room))
            res = replace(res, end=new_end, extensions=res.extensions + 1)
            tx.put_reservation(res)
        self._log("extended", res, minutes=minutes)
        return res

    def extend_info(self, name: str) -> ExtendInfo:
        """How far `name` could be extended now, and why not further (for the TUI's extend dialog)."""
        from .scheduler import check_extend_limits, extension_room

        view = self.view()
        res = next((r for r in view.reservations if r.name == name), None)
        if res is None:
            raise NotFound(f"no reservation named {name}")
        room = extension_room(res, view.reservations, view.blocks)
        limit = self.max_minutes(len(res.nodes))
        reason = ""
        within = True
        try:
            if not self.caller.is_admin:
                check_extend_limits(self.config.limits, res, view.now, 1)
        except IgorError as err:
            within, reason = False, str(err)
        if not reason and room.until is not None:
            reason = f"{room.blocker} starts {format_time_zone(room.until, self.config.tz)}"
        return ExtendInfo(room=room, limit_minutes=limit, within_window=within, reason=reason)

    def edit(self, name: str, req: EditRequest) -> Reservation:
        """Change what a reservation boots, its args, VLAN, owner or group; only the fields given."""
        if all(getattr(req, f) is None for f in EditRequest.__slots__):
            raise ValidationError(
                "nothing to change: give at least one of -k, -i, -profile, -c, -vlan, -owner, -g"
            )
        if req.owner is not None:
            if not self.caller.is_admin:
                raise PermissionDenied("only an admin can change the owner of a reservation")
            if not self.directory.user_exists(req.owner):
                raise ValidationError(f"no such user: {req.owner}")
        kernel_args = self._check_boot_args(req.kernel_args) if req.kernel_args is not None else None
        if req.profile:
            self._boot_files("", "", req.profile)
        group = self._check_group(req.group) if req.group else req.group
        self._find_writable(list(self.view().reservations), name, "edit")  # refuse before copying anything
        new_files: dict[str, tuple[str, str]] = {}
        with self._copies_collected_on_failure():
            for what, path in (("kernel", req.kernel), ("initrd", req.initrd)):
                if path == "":
                    raise ValidationError(f"-{what[0]} needs the path of the new {what}")
                if path:
                    full = os.path.abspath(path)
                    new_files[what] = (full, self.content.add(full, what, self.reader))
            now = self.now()
            with self.store.transaction() as tx:
                live = self._housekeep(tx, now)
                old = self._find_writable(live, name, "edit")
                if req.group is not None and not (self.caller.is_admin or old.owner == self.caller.user):
                    raise PermissionDenied(
                        f"only the owner ({old.owner}) or an admin can change the group of {name}"
                    )
                res = old
                if req.profile:
                    res = replace(
                        res, profile=req.profile, kernel="", initrd="", kernel_hash="", initrd_hash=""
                    )
                elif new_files:
                    if old.profile and len(new_files) < 2:
                        raise ValidationError(
                            f"{name} boots Cobbler profile {old.profile}: give both -k and -i"
                        )
                    if "kernel" in new_files:
                        res = replace(res, kernel=new_files["kernel"][0], kernel_hash=new_files["kernel"][1])
                    if "initrd" in new_files:
                        res = replace(res, initrd=new_files["initrd"][0], initrd_hash=new_files["initrd"][1])
                    res = replace(res, profile="")
                if kernel_args is not None:
                    res = replace(res, kernel_args=kernel_args)
                if req.vlan is not None:
                    others = [r for r in live if r.id != old.id]
                    res = replace(res, vlan=self._resolve_vlan(req.vlan, others) if req.vlan else None)
                if req.owner is not None:
                    res = replace(res, owner=req.owner)
                if group is not None:
                    res = replace(res, group=group)
                self._ensure_content(tuple((what, *file) for what, file in new_files.items()))
                res = replace(res, revision=old.revision + 1, error="")
                tx.put_reservation(res)
                self._collect(tx)
        self._log(
            "edited", res, changed=sorted(f for f in EditRequest.__slots__ if getattr(req, f) is not None)
        )
        return res

    # ----------------------------------------------------------------------------- real systems

    def tick(
        self, *, dry_run: bool = False, probe: bool = True, accept_clock_step: bool = False
    ) -> TickReport:
        """One igor-tick run (see tick.py); admins and the igor service user only. `accept_clock_step`:
        an admin says the wall clock's jump ahead is right (see clockstep.py)."""
        if not self.caller.is_admin:
            raise PermissionDenied("only admins and the igor service user may run igor-tick")
        from .backends.factory import resolver
        from .tick import Ticker, TickPolicy

        cfg = self.config
        ticker = Ticker(
            store=self.store,
            clock=self.clock,
            backends=self.backends,  # built only if this tick has something to do
            policy=TickPolicy(
                network=cfg.network == "arista",
                node_map=dict(cfg.node_map),
                autoreboot=cfg.autoreboot,
                poweroffatend=cfg.poweroffatend,
                power=bool(cfg.power == "ssh" or cfg.poweroncommand or cfg.poweroffcommand),
            ),
            naming=self.naming,
            content=self.content,
            events=self.events,
            resolve=resolver(cfg),
            vlan_pool=(cfg.vlan_min, cfg.vlan_max),
            lock_path=os.path.join(cfg.statedir, "tick.lock"),
            last_path=os.path.join(cfg.statedir, "tick.last"),
            clock_guard=self.clock_guard,
            pxe_dir="" if cfg.usecobbler else os.path.join(cfg.tftproot, "pxelinux.cfg"),
        )
        report = ticker.run(dry_run=dry_run, probe=probe, accept_clock_step=accept_clock_step)
        if report.clock_accepted:  # who trusted the new time, for the audit trail
            self.events.append(self.clock.now(), "clock-step-accepted", by=self.caller.user)
        if cfg.notify and not dry_run:
            try:
                mails = self.notify().mails
            except IgorError as err:
                report.mail_errors.append(str(err))
            else:
                for m in mails:
                    names = ", ".join(r.res.name for r in m.reminders)
                    (report.mailed if m.ok else report.mail_errors).append(
                        f"{m.to}: {names}" if m.ok else m.error
                    )
        return report

    def power(self, action: str, *, name: str = "", nodes: str = "", force: bool = False) -> tuple[str, ...]:
        """Power a reservation's nodes, or listed nodes that are all in reservations the caller may write.
        Admins may power unreserved nodes too, but only with `force` (a deliberate confirmation)."""
        if action not in ("on", "off", "cycle"):
            raise ValidationError(f"power action must be on, off or cycle, got '{action}'")
        if bool(name) == bool(nodes):
            raise ValidationError("give either -r NAME or -n NODES")
        view = self.view()
        if name:
            res = next((r for r in view.reservations if r.name == name), None)
            if res is None:
                raise NotFound(f"no reservation named {name}")
            if not self.can_write(res):
                raise PermissionDenied(f"permission denied: {name} belongs to {res.owner}")
            if not res.is_active(view.now):
                raise ValidationError(f"{name} is not active, so its nodes are not yours to power")
            targets = res.nodes
        else:
            targets = self.naming.expand(nodes)
            holder = {n: r for r in view.reservations if r.is_active(view.now) for n in r.nodes}
            for node in targets:
                held = holder.get(node)
                if held is None:
                    if not self.caller.is_admin:
                        raise PermissionDenied(f"{node} is not in an active reservation of yours")
                    if not force:
                        raise ValidationError(
                            f"{node} is not in any active reservation; add --force to power it"
                        )
                elif not self.can_write(held):
                    raise PermissionDenied(
                        f"permission denied: {node} is in {held.name}, which belongs to {held.owner}"
                    )
        backend = self.backends().power
        if backend is None:
            raise ValidationError(
                "power is not configured: set poweroncommand and poweroffcommand in igor.conf"
            )
        power_action: PowerAction = "on" if action == "on" else "off" if action == "off" else "cycle"
        held_by = sorted(
            {r.name for r in view.reservations if r.is_active(view.now) and set(r.nodes) & set(targets)}
        )
        try:
            backend.power(targets, power_action)
        finally:
            self.events.append(
                self.clock.now(),
                "power",
                by=self.caller.user,
                action=action,
                nodes=self._nodes_text(targets),
                reservations=held_by,  # so `igor history NAME` finds it
            )
        return targets

    def sync(self, *, repair: bool = False) -> list[PortDiff]:
        """Compare the switch's real port VLANs with the store's installs; with `repair`, fix the switch."""
        if not self.caller.is_admin:
            raise PermissionDenied("only admins may sync the switch")
        switch = self.backends().switch
        if switch is None:
            raise ValidationError("network isolation is not configured (network is not 'arista')")
        from .tick import read_installs

        with self.store.transaction() as tx:
            installs = read_installs(tx)
        now = self.now()
        live = {r.id for r in self.view().reservations if not r.has_ended(now)}
        expected: dict[str, tuple[int, str]] = {}
        for inst in installs.values():
            if inst.network and inst.vlan is not None and inst.res_id in live:
                for port in inst.ports:
                    expected[port] = (inst.vlan, inst.name)
        port_node = {port: node for node, port in self.config.node_map.items()}
        ports = sorted(port_node, key=lambda p: self.naming.number(port_node[p]) or 0)
        actual = switch.port_vlans(ports)
        diffs: list[PortDiff] = []
        for port in ports:
            want, owner = expected.get(port, (None, ""))
            if want != actual.get(port):
                diffs.append(PortDiff(port, port_node[port], want, actual.get(port), owner))
        if repair and diffs:
            stray = [d.port for d in diffs if d.expected is None]
            if stray:
                switch.clear(stray)
            by_vlan: dict[int, list[str]] = {}
            for d in diffs:
                if d.expected is not None:
                    by_vlan.setdefault(d.expected, []).append(d.port)
            for vlan, group in sorted(by_vlan.items()):
                switch.set_vlan(group, vlan)
            self.events.append(self.clock.now(), "sync", by=self.caller.user, repaired=len(diffs))
        return diffs

    # ------------------------------------------------------------------------- operations (issue 6)

    def block(self, nodes: str, *, reason: str, start: str = "", duration: str = "") -> BlockResult:
        """Take nodes out of service for maintenance (admins). The scheduler never places anything on them
        inside the window; reservations that already overlap it are returned so the admin can act on them
        (they are not silently broken). Without a duration the block lasts until `unblock`."""
        self._require_admin("block nodes")
        reason = reason.strip()
        if not reason:
            raise ValidationError("give a reason for the block (--reason TEXT): users see it in igor show")
        self._check_kernel_args(reason)  # one line of printable text, like kernel arguments
        names = self.naming.expand(nodes)
        now = self.now()
        begin = parse_start(start, now, self.config.tz) if start else now
        end: datetime | None = None
        if duration:
            end = begin + timedelta(minutes=self._duration(duration))
            if end <= now:
                raise ValidationError(
                    f"a block from {format_time_zone(begin, self.config.tz)} for {duration} would already "
                    "have ended"
                )
        with self.store.transaction() as tx:
            live = self._housekeep(tx, now)
            block = tx.add_block(
                Block(id=0, nodes=names, start=begin, end=end, reason=reason, by=self.caller.user)
            )
        wanted = set(names)
        conflicts = tuple(
            r
            for r in live
            if not r.has_ended(now) and block.overlaps(r.start, r.end) and wanted.intersection(r.nodes)
        )
        self.events.append(
            self.clock.now(),
            "blocked",
            by=self.caller.user,
            block=block.id,
            nodes=self._nodes_text(names),
            start=begin.isoformat(),
            end=end.isoformat() if end else None,
            reason=reason,
            overlapping=[r.name for r in conflicts],
        )
        return BlockResult(block=block, conflicts=conflicts)

    def unblock(self, nodes: str) -> list[Block]:
        """Return nodes to service (admins): they leave every block that holds them; a block covering
        other nodes too keeps those. Returns the blocks as they were before."""
        self._require_admin("unblock nodes")
        names = set(self.naming.expand(nodes))
        touched: list[Block] = []
        with self.store.transaction() as tx:
            for block in tx.blocks():
                if not names.intersection(block.nodes):
                    continue
                touched.append(block)
                tx.remove_block(block.id)
                rest = tuple(n for n in block.nodes if n not in names)
                if rest:
                    tx.add_block(replace(block, id=0, nodes=rest))
        if not touched:
            raise NotFound(f"{self._nodes_text(tuple(n for n in self.nodes if n in names))} is not blocked")
        self.events.append(
            self.clock.now(),
            "unblocked",
            by=self.caller.user,
            nodes=self._nodes_text(tuple(n for n in self.nodes if n in names)),
            blocks=[b.id for b in touched],
        )
        return touched

    def current_blocks(self) -> list[Block]:
        """Blocks that are in force now or later (ended ones only linger until the next unblock)."""
        now = self.now()
        return [b for b in self.store.snapshot().blocks if b.end is None or b.end > now]

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every logged event of reservations called `name` (names are reused, so ids tell them apart):
        created, extended, edited, powered, each igor-tick step with its error, deleted or expired."""
        from .stats import read_events

        path = self._logfile()
        found: list[dict[str, Any]] = []
        try:
            for ev in read_events(path):
                if ev.get("name") == name or name in (ev.get("reservations") or ()):
                    found.append(ev)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise ValidationError(f"cannot read log {path}: {err.strerror}") from None
        if not found:
            raise NotFound(f"no events for a reservation named {name} in {path}")
        return found

    def archived(self, name: str) -> list[ArchivedReservation]:
        """Archived reservations called `name`, oldest first (`igor history` shows them)."""
        from .restore import archived_named

        return archived_named(self, name)

    def past_reservations(self, start: datetime, end: datetime) -> list[Reservation]:
        """Archived reservations (ended, deleted, expired) whose window overlaps [start, end), by start;
        the TUI's timeline draws them left of now."""
        from .restore import past_reservations

        return past_reservations(self, start, end)

    def restore(self, name: str) -> Reservation:
        """`igor restore` (admins): put an archived reservation back; see restore.py."""
        from .restore import restore

        return restore(self, name)

    def stats(self, days: int) -> Stats:
        """Usage over the last `days` days from the action log (anyone may ask, as in classic igor)."""
        from .stats import collect_usage, compute_stats, read_events

        if days <= 0:
            raise ValidationError(f"-d wants a positive number of days, got {days}")
        if days > 36500:
            raise ValidationError(f"-d {days} is more than 100 years")
        path = self._logfile()
        try:
            records = collect_usage(read_events(path))
        except FileNotFoundError:
            records = {}
        except OSError as err:
            raise ValidationError(f"cannot read log {path}: {err.strerror}") from None

        def expand(text: str) -> tuple[str, ...]:
            try:
                return self.naming.expand(text)
            except ValidationError:  # nodes the config no longer has: count them by their logged names
                return tuple(n for n in text.split(",") if n)

        return compute_stats(records.values(), self.now(), days, expand)

    def notify(self, *, dry_run: bool = False) -> NotifyReport:
        """Mail owners about reservations starting within the hour or reaching a lead time before their end
        (admins; igor-tick runs it each minute with `notify: true`). Each reminder is sent once: it is
        recorded in the store after its mail went out, and a failed mail is due again next run. No mail
        is sent while the store lock is held."""
        from .notify import SENT_KEY, due_reminders

        self._require_admin("notify users")
        cfg = self.config
        if not cfg.domain:
            raise ValidationError("set domain in igor.conf to notify users (mail goes to <owner>@<domain>)")
        mailer = self._mailer()
        now = self.now()
        mails: list[MailResult] = []
        with self._notify_lock() as alone:
            if not alone:  # another notify (an overlapping igor-tick) is already mailing
                return NotifyReport(dry_run=dry_run)
            with self.store.transaction() as tx:
                live = [r for r in tx.reservations() if not r.has_ended(now)]
                sent: dict[str, str] = tx.get_value(SENT_KEY) or {}
                ids = {str(r.id) for r in live}
                kept = {k: v for k, v in sent.items() if k.split(":")[1] in ids}
                if kept != sent and not dry_run:  # forget reminders of reservations that are gone
                    tx.set_value(SENT_KEY, kept)
            due = due_reminders(now, live, cfg.notifyleadtimes, kept)
            by_owner: dict[str, list[Reminder]] = {}
            for reminder in due:
                by_owner.setdefault(reminder.res.owner, []).append(reminder)
            for owner, reminders in sorted(by_owner.items()):
                mails.append(self._mail(owner, reminders, mailer, now, dry_run))
            delivered = [k for m in mails if m.ok and not dry_run for r in m.reminders for k in r.keys]
            if delivered:
                with self.store.transaction() as tx:
                    sent = tx.get_value(SENT_KEY) or {}
                    sent.update(dict.fromkeys(delivered, now.isoformat()))
                    tx.set_value(SENT_KEY, sent)
        return NotifyReport(dry_run=dry_run, mails=tuple(mails))

    def _mailer(self) -> Mailer:
        from .notify import CommandMailer, SmtpMailer

        cfg = self.config
        if cfg.mailhost:
            return SmtpMailer(cfg.mailhost, cfg.mailport, cfg.mailtimeout)
        if cfg.mailcommand:
            return CommandMailer(cfg.mailcommand, cfg.mailtimeout)
        raise ValidationError("set mailhost (SMTP) or mailcommand in igor.conf to notify users")

    def _mail(
        self, owner: str, reminders: list[Reminder], mailer: Mailer, now: datetime, dry_run: bool
    ) -> MailResult:
        """Compose and (unless dry_run) send one owner's mail; a failure is reported, not raised, so one
        bad address does not keep the other owners from their reminders."""
        from .notify import compose

        to = f"{owner}@{self.config.domain}"
        msg = compose(
            owner,
            reminders,
            to=to,
            sender=self.config.mailfrom,
            now=now,
            tz=self.config.tz,
            naming=self.naming,
        )
        result = MailResult(to=to, reminders=tuple(reminders), text=msg.as_string())
        if dry_run:
            return result
        try:
            mailer.send(msg)
        except IgorError as err:
            result = replace(result, ok=False, error=str(err))
        for r in reminders:
            self.events.append(
                self.clock.now(),
                "notified",
                by=self.caller.user,
                id=r.res.id,
                name=r.res.name,
                to=to,
                why=r.kind,
                ok=result.ok,
                error=result.error,
            )
        return result

    @contextmanager
    def _notify_lock(self) -> Iterator[bool]:
        """True if this is the only notify run now: two overlapping runs must not mail the same reminder."""
        import fcntl

        try:
            os.makedirs(self.config.statedir, exist_ok=True)
            fd = os.open(os.path.join(self.config.statedir, "notify.lock"), os.O_RDWR | os.O_CREAT, 0o640)
        except OSError:  # no state directory to lock in (an in-memory store): nothing else can run
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def inventory(self, name: str) -> list[InventoryHost]:
        """A reservation's nodes with stable aliases NAME-0 .. NAME-N (in node order) and the addresses the
        `hosts` map gives. igor never resolves names here: a node without a configured address is listed by
        its name, for the user's own resolver (and so no command ever waits on DNS)."""
        res = self.get(name)
        return [
            InventoryHost(
                alias=f"{res.name}-{i}",
                node=node,
                ip=(addr.ip if (addr := self.config.hosts.get(node)) else ""),
                mac=addr.mac if addr else "",
            )
            for i, node in enumerate(res.nodes)
        ]

    def import_classic(self, path: str, *, apply: bool = False) -> list[ImportItem]:
        """Carry classic igor's reservations.json over (admins; files are read with their own rights).

        Reservations that have not ended are imported with the same name, owner, group, nodes, times and
        boot files (classic igor's SHA-1 named copies beside the file, checked); anything that cannot be
        carried over is reported with the reason. Without `apply` nothing is written (a dry run). igor-tick
        then installs the active ones itself; classic igor's PXE files and VLANs are not taken over."""
        from .classic import find_copy, parse_classic

        self._require_admin("import reservations")
        entries = parse_classic(path, self.reader)
        directory = os.path.dirname(os.path.abspath(path))
        now = self.now()
        view = self.view()
        taken = [r for r in view.reservations if not r.has_ended(now)]
        items: list[ImportItem] = []
        for entry in entries:
            label = entry.name or f"id {entry.id}"
            reasons = list(entry.problems)
            notes = list(entry.notes)
            nodes: tuple[str, ...] = ()
            kernel = initrd = ""
            if not reasons:
                assert entry.start is not None and entry.end is not None
                if entry.end <= now:
                    reasons.append(f"it ended {format_time_zone(entry.end, self.config.tz)}")
                try:
                    self._check_name(entry.name)
                    self._check_kernel_args(
                        entry.kernel_args
                    )  # the same limits as sub: one line, fits APPEND
                    nodes = tuple(
                        sorted({self.naming.canonical(h) for h in entry.hosts}, key=self.nodes.index)
                    )
                except ValidationError as err:
                    reasons.append(str(err))
                if entry.profile:
                    if not self.config.usecobbler:
                        reasons.append(f"it boots Cobbler profile {entry.profile}, but usecobbler is off")
                else:
                    for what, digest, original in (
                        ("kernel", entry.kernel_hash, entry.kernel),
                        ("initrd", entry.initrd_hash, entry.initrd),
                    ):
                        found = find_copy(directory, digest, what, original)
                        if not found:
                            reasons.append(
                                f"its {what} ({digest or 'no hash'}-{what}) is neither beside {path} nor at "
                                f"{original or 'its original path'} with the same SHA-1"
                            )
                        elif what == "kernel":
                            kernel = found
                        else:
                            initrd = found
            if reasons:
                items.append(ImportItem(entry.id, label, "skip", tuple(reasons + notes)))
                continue
            assert entry.start is not None and entry.end is not None
            start = floor_minute(entry.start)
            end = floor_minute(entry.end) + (
                timedelta(minutes=1) if entry.end.second or entry.end.microsecond else timedelta(0)
            )
            if (start, end) != (entry.start, entry.end):
                notes.append("times rounded to whole minutes")
            res = Reservation(
                id=0,
                name=entry.name,
                owner=entry.owner,
                start=start,
                end=end,
                nodes=nodes,
                group=entry.group,
                kernel=kernel,
                initrd=initrd,
                profile=entry.profile,
                kernel_args=entry.kernel_args,
                created=now,
            )
            clash = next(
                (
                    r
                    for r in taken
                    if r.name == res.name or (set(r.nodes) & set(nodes) and r.overlaps(start, end))
                ),
                None,
            )
            if clash is not None:
                why = "its name is taken" if clash.name == res.name else "its nodes are booked then"
                items.append(
                    ImportItem(entry.id, label, "skip", (f"{why} by {clash.name} ({clash.owner})", *notes))
                )
                continue
            taken.append(res)
            items.append(ImportItem(entry.id, label, "import", tuple(notes), res))
        if apply and any(i.action == "import" for i in items):
            self._apply_import(items, now)
        return items

    def _apply_import(self, items: list[ImportItem], now: datetime) -> None:
        """Copy the boot files (outside the lock), then store every import in one transaction, checking the
        plan again against what the store holds by then."""
        with self._copies_collected_on_failure():
            planned: list[tuple[int, Reservation]] = []
            for i, item in enumerate(items):
                if item.action == "import" and item.reservation is not None:
                    res = item.reservation
                    if res.kernel:
                        res = replace(
                            res,
                            kernel_hash=self.content.add(res.kernel, "kernel", self.reader),
                            initrd_hash=self.content.add(res.initrd, "initrd", self.reader),
                        )
                    planned.append((i, res))
            with self.store.transaction() as tx:
                live = self._housekeep(tx, now)
                for i, res in planned:
                    clash = next(
                        (
                            r
                            for r in live
                            if r.name == res.name
                            or (set(r.nodes) & set(res.nodes) and r.overlaps(res.start, res.end))
                        ),
                        None,
                    )
                    if clash is not None:
                        items[i] = replace(
                            items[i], action="skip", reasons=(f"{clash.name} took its place meanwhile",)
                        )
                        continue
                    stored = tx.add_reservation(res)
                    live.append(stored)
                    items[i] = replace(items[i], reservation=stored)
        for item in items:
            if item.action == "import" and item.reservation is not None:
                self._log("imported", item.reservation, classic_id=item.classic_id)

    def _logfile(self) -> str:
        if not self.config.logfile:
            raise ValidationError("no logfile is configured in igor.conf, so igor has no history to read")
        return self.config.logfile

    def _require_admin(self, what: str) -> None:
        if not self.caller.is_admin:
            raise PermissionDenied(f"only admins may {what}")

    # ------------------------------------------------------------------------------------ helpers

    def _request(self, req: SubmitRequest) -> Request:
        from .scheduler import check_limits

        minutes = self._duration(req.duration)
        nodes, size = self._node_spec(req)
        earliest = self._earliest(req.after, minutes)
        if not self.caller.is_admin:
            check_limits(self.config.limits, size, minutes)
        return Request(
            minutes=minutes, earliest=earliest, count=req.count, nodes=nodes, contiguous=req.contiguous
        )

    def _node_spec(self, req: SubmitRequest) -> tuple[tuple[str, ...], int]:
        """The listed nodes (if any) and how many nodes are asked for."""
        if req.count and req.nodes:
            raise ValidationError("give either -n (a number of nodes) or -w (a list of nodes), not both")
        if not req.count and not req.nodes:
            raise ValidationError("give -n (a number of nodes) or -w (a list of nodes)")
        if req.count < 0 or (not req.nodes and req.count == 0):
            raise ValidationError(f"-n must be a positive number of nodes, got {req.count}")
        if req.count > len(self.nodes):
            raise ValidationError(
                f"-n {req.count} is larger than the cluster "
                f"({len(self.nodes)} nodes, {self.naming.describe()})"
            )
        nodes = self.naming.expand(req.nodes) if req.nodes else ()
        return nodes, len(nodes) or req.count

    def _earliest(self, after: str, minutes: int) -> datetime:
        """The -a lower bound (now without one), refusing the past for non-admins and the far future."""
        now = self.now()
        earliest = now
        if after:
            earliest = parse_start(after, now, self.config.tz)
            if earliest < now and not self.caller.is_admin:
                from .dates import when_zone

                tz = self.config.tz
                raise ValidationError(
                    f"start time {when_zone(earliest, tz, now)} is in the past "
                    f"(now {when_zone(now, tz, now)})"
                )
        if minutes > HORIZON_MINUTES or earliest > now + HORIZON - timedelta(minutes=minutes):
            raise ValidationError("igor books at most 10 years ahead: pick an earlier start or a shorter -t")
        if earliest + timedelta(minutes=minutes) <= now:
            raise ValidationError(
                f"a reservation from {format_time_zone(earliest, self.config.tz)} for "
                f"{format_duration(minutes)} would already have ended"
            )
        return earliest

    @staticmethod
    def _duration(text: str) -> int:
        minutes = parse_duration(text)
        if minutes <= 0:
            raise ValidationError(f"duration must be positive, got '{text}' ({format_duration(minutes)})")
        return minutes

    @staticmethod
    def _check_name(name: str) -> None:
        if not name:
            raise ValidationError("a reservation needs a name (-r NAME)")
        if len(name) > NAME_MAX:
            raise ValidationError(f"reservation name is {len(name)} characters long; the limit is {NAME_MAX}")
        if name.lower() in RESERVED_NAMES:
            raise ValidationError(f"'{name}' is reserved for igor show's own rows; pick another name")
        if not NAME_RE.fullmatch(name):  # match() let "foo\n" through: `$` matches before a final newline
            raise ValidationError(
                f"invalid reservation name {name!r}: use only letters, digits, '-' and '_' "
                "(and do not start with '-')"
            )

    @staticmethod
    def _check_unique(name: str, live: list[Reservation], now: datetime) -> None:
        existing = next((r for r in live if r.name == name), None)
        if existing is None:
            return
        if existing.has_ended(now):
            raise Conflict(
                f"{name} has ended and is being torn down; its name is free after the next igor-tick"
            )
        raise Conflict(f"a reservation named {name} already exists")

    def _check_not_paused(self) -> None:
        if self.config.pause and not self.caller.is_admin:
            raise PermissionDenied(f"igor is paused: {self.config.pause}")

    def _boot_files(self, kernel: str, initrd: str, profile: str) -> tuple[str, str, str]:
        if profile:
            if kernel or initrd:
                raise ValidationError("give either a Cobbler profile or a kernel and initrd, not both")
            if not self.config.usecobbler:
                raise ValidationError("igor is not configured to use Cobbler, so -profile cannot be used")
            profiles: Callable[[], list[str]] | None = getattr(self.backends().boot, "profiles", None)
            if profiles is not None and profile not in profiles():
                raise ValidationError(f"Cobbler has no profile named {profile}")
            return "", "", profile
        if not kernel or not initrd:
            raise ValidationError("give a kernel and an initrd (-k and -i), or a Cobbler profile (-profile)")
        return os.path.abspath(kernel), os.path.abspath(initrd), ""

    def _check_boot_args(self, args: str) -> str:
        """Kernel arguments every node of the cluster can boot: on a cluster with UEFI nodes (plain PXE),
        also those GRUB passes on unchanged, so a reservation fails here rather than at its start."""
        self._check_kernel_args(args)
        if self.config.bootmode and not self.config.usecobbler:
            from .backends.grub import kernel_words

            try:
                kernel_words(args)
            except ValueError as err:
                raise ValidationError(f"kernel arguments: {err} (bootmode)") from None
        return args

    @staticmethod
    def _check_kernel_args(args: str) -> str:
        size = len(args.encode("utf-8", "surrogateescape"))
        if size > KERNEL_ARGS_MAX:
            raise ValidationError(
                f"kernel arguments are {size} bytes long; the limit is {KERNEL_ARGS_MAX}, so that with the "
                f"kernel and initrd paths they fit PXELINUX's {PXE_CMDLINE_MAX}-character kernel command line"
            )
        bad = next((ch for ch in args if not ch.isprintable()), None)
        if bad is not None:
            raise ValidationError(
                f"kernel arguments contain a control character ({bad!r}); "
                "they must be a single line of printable text"
            )
        return args

    def _check_group(self, group: str) -> str:
        if not self.directory.group_exists(group):
            raise ValidationError(f"no such group: {group}")
        if not self.caller.is_admin and group not in self.caller.groups:
            raise PermissionDenied(f"you are not a member of group {group}")
        return group

    def _resolve_vlan(self, value: str, live: list[Reservation]) -> int:
        """Classic -vlan: a number from the pool, or the name of a reservation whose VLAN to share."""
        cfg = self.config
        if not cfg.network:
            raise ValidationError("this cluster has no network isolation configured, so -vlan cannot be used")
        named = next((r for r in live if r.name == value), None)
        if named is not None:
            if not self.can_write(named):
                raise PermissionDenied(f"cannot share the VLAN of {value}: it belongs to {named.owner}")
            if named.vlan is None:
                raise ValidationError(f"{value} has no VLAN yet (it gets one when it starts); give a number")
            return named.vlan
        if not (value.isascii() and value.isdigit()):
            raise ValidationError(f"-vlan wants a VLAN number or a reservation name, got '{value}'")
        vlan = int(value)
        if not cfg.vlan_min <= vlan <= cfg.vlan_max:
            raise ValidationError(f"VLAN {vlan} is outside the pool {cfg.vlan_min}-{cfg.vlan_max}")
        users = [r for r in live if r.vlan == vlan]
        if users and not any(self.can_write(r) for r in users):
            raise PermissionDenied(
                f"VLAN {vlan} is used by {users[0].name}, which belongs to {users[0].owner}"
            )
        return vlan

    def _find_writable(self, live: list[Reservation], name: str, verb: str) -> Reservation:
        res = next((r for r in live if r.name == name), None)
        if res is None:
            raise NotFound(f"no reservation named {name}" if name else "give the name of a reservation")
        if not self.can_write(res):
            raise PermissionDenied(f"permission denied: {name} belongs to {res.owner}")
        if res.has_ended(self.now()):
            raise Conflict(f"cannot {verb} {name}: it has ended and igor-tick is releasing its nodes")
        return res

    def _housekeep(self, tx: Transaction, now: datetime) -> list[Reservation]:
        """Drop ended reservations that were never installed (nothing to undo), return the live ones.

        Installed ones stay until igor-tick has torn them down; their end still frees the nodes.
        """
        live: list[Reservation] = []
        dropped = False
        held = self.clock_guard is not None and self.clock_guard.check(self.clock.now()).held
        for res in tx.reservations():
            if res.has_ended(now) and not res.installed and not held:  # a clock step holds expiry
                tx.archive_reservation(res.id, why="expired", by="igor", when=now)
                self._log("expired", res)
                dropped = True
            else:
                live.append(res)
        if dropped:
            self._collect(tx)
        return live

    def _collect(self, tx: Transaction) -> None:
        """Delete copies of kernels/initrds nobody references any more (under the lock, so a concurrent
        submit that is about to reference one re-checks it with `_ensure_content`)."""
        referenced: set[str] = set()
        for res in tx.reservations():
            referenced |= res.content_hashes()
        self.content.collect(referenced)

    @contextmanager
    def _copies_collected_on_failure(self) -> Iterator[None]:
        """Copies made for a request that is then refused must not pile up in the content area."""
        try:
            yield
        except BaseException as err:
            if not isinstance(err, StoreError):  # a busy store would only make us wait a second time
                with suppress(IgorError, OSError), self.store.transaction() as tx:
                    self._collect(tx)
            raise

    def _ensure_content(self, files: tuple[tuple[str, str, str], ...]) -> None:
        """Inside the lock: re-copy any file a concurrent delete collected since we copied it, (what, path,
        digest) each, read with the caller's rights again: the path may point elsewhere by now."""
        for what, path, digest in files:
            if (
                digest
                and not self.content.has(digest)
                and self.content.add(path, what, self.reader) != digest
            ):
                raise ValidationError(f"{what} {path} changed while igor was copying it; try again")

    def _no_room(self, res: Reservation, minutes: int, room: ExtensionRoom) -> str:
        assert room.until is not None
        tz = self.config.tz
        most = int((room.until - res.end).total_seconds() // 60)
        tail = (
            f"it can be extended by at most {format_duration(most)}" if most > 0 else "it cannot be extended"
        )
        return (
            f"cannot extend {res.name} by {format_duration(minutes)}: {room.blocker} starts "
            f"{format_time_zone(room.until, tz)}; {tail}"
        )

    def _nodes_text(self, names: tuple[str, ...]) -> str:
        """Logging happens after the commit and must not fail, even for nodes the config no longer has."""
        try:
            return self.naming.compress(names)
        except ValueError:
            return ",".join(names)

    def _log(self, event: str, res: Reservation, **extra: object) -> None:
        self.events.append(
            self.clock.now(),
            event,
            by=self.caller.user,
            id=res.id,
            name=res.name,
            owner=res.owner,
            group=res.group,
            nodes=self._nodes_text(res.nodes),
            count=len(res.nodes),
            start=res.start.isoformat(),
            end=res.end.isoformat(),
            **extra,
        )


def _is_live(res: Reservation, now: datetime) -> bool:
    """Still in the store's working set: not ended, or ended but not yet torn down by igor-tick."""
    return not res.has_ended(now) or res.installed


def _down(status: Mapping[str, object]) -> frozenset[str]:
    return frozenset(name for name, st in status.items() if getattr(st, "state", None) is NodeState.DOWN)


def build_service(
    config_path: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    boot_id: Callable[[], str] | None = None,
) -> IgorService:
    """The production wiring: config from --config / IGOR_CONFIG / /etc/igor.conf, files in statedir.

    `boot_id` replaces the kernel's boot id for tests (a "reboot"); only code can pass it, never the
    environment, which a sudo caller controls."""
    from .config import config_path as resolve_path
    from .config import load_config
    from .store import TinyStore

    env = os.environ if env is None else env
    path = resolve_path(config_path, env)
    trusted = service_uids()
    who = principal(env, trusted)
    config = load_config(path, who)  # refuses a config the caller could have made, before anything else
    directory = SystemDirectory()
    caller = resolve_caller(caller_name(env, trusted), config.admins, directory)
    if not env.get("SUDO_USER") and os.geteuid() in trusted:
        caller = replace(caller, is_admin=True)  # the igor service user itself (cron's igor-tick)
    from .statedir import check_not_left_behind

    check_not_left_behind(config)
    from .clockstep import STATE_NAME, ClockGuard, read_boot_id

    guard = ClockGuard(
        os.path.join(config.statedir, STATE_NAME), config.clockstepminutes, boot_id=boot_id or read_boot_id
    )
    return IgorService(
        config, TinyStore(config.statedir), caller, directory=directory, reader=who, clock_guard=guard
    )
