"""Host policies: `igor policy add|show|edit|del|apply` (admins change, anyone reads), and the rules and
window blocks the booking verbs hand to the scheduler.

A policy is a named set of rules applied to hosts (igor2): which groups may book them, for how long at
most, and recurring windows in which nobody may. A node is under at most one policy; putting it under
another (add, edit -w, apply) moves it, and `apply default` returns it to no restriction. Imported only
by the policy verbs and by bookings on a cluster that has policies, so `igor show` on a cluster without
them never loads it (nor policy.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..errors import Conflict, NotFound, ValidationError
from ..model import Block, Policy
from ..policy import DEFAULT_POLICY, PolicyRules, parse_window, window_blocks
from ..typenames import TYPE_CHECKING
from ..values import dataclass, replace
from . import checks

if TYPE_CHECKING:
    from ..store import Transaction
    from .facade import IgorService


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """What a policy verb did: the policy as stored now (as it was, for del) and the nodes it took
    from other policies (node -> the policy it left)."""

    policy: Policy
    moved: dict[str, str]


@dataclass(frozen=True, slots=True)
class PolicyEdit:
    """`igor policy edit`: None leaves a rule as it is; `unavailable` replaces all windows (() clears)."""

    nodes: str | None = None
    groups: str | None = None
    maxtime: str | None = None
    unavailable: tuple[str, ...] | None = None


def rules_for(svc: IgorService, policies: Sequence[Policy]) -> PolicyRules:
    """The policies as they apply to the caller (admins are exempt from groups and maxtime, not windows)."""
    caller = svc.caller
    return PolicyRules(tuple(policies), svc.config.tz, groups=caller.groups, exempt=caller.is_admin)


def blocks_between(svc: IgorService, policies: Sequence[Policy], lo: datetime, hi: datetime) -> list[Block]:
    """The window instances overlapping [lo, hi), as blocks named for their policy (for drawings and
    the extension check)."""
    return window_blocks(policies, svc.config.tz, lo, hi)


WINDOWS_BEHIND = timedelta(days=7)
WINDOWS_AHEAD = timedelta(days=35)
"""The range of host-policy windows a view carries for drawing (the timeline shows up to a week at a
time): recurring windows are expanded over this range only, never over their whole future."""


def windows_around(svc: IgorService, policies: Sequence[Policy], at: datetime) -> tuple[Block, ...]:
    """The window instances a view at `at` draws (`igor show`, `show -at`, the TUI)."""
    return tuple(blocks_between(svc, policies, at - WINDOWS_BEHIND, at + WINDOWS_AHEAD))


def show(svc: IgorService, name: str = "") -> list[Policy]:
    """All policies by id, or the one called `name` (anyone may read them)."""
    policies = list(svc.store.snapshot().policies)
    if not name:
        return policies
    return [_find(policies, name)]


def add(
    svc: IgorService,
    name: str,
    nodes: str,
    *,
    groups: str = "",
    maxtime: str = "",
    unavailable: Sequence[str] = (),
) -> PolicyChange:
    """Create policy `name` on `nodes` (moving them from any other policy)."""
    svc._require_admin("change host policies")
    _check_name(name)
    names = _nodes(svc, nodes)
    policy = Policy(
        id=0,
        name=name,
        nodes=names,
        groups=_groups(svc, groups),
        maxtime=_maxtime(maxtime),
        unavailable=_windows(unavailable),
        by=svc.caller.user,
    )
    with svc.store.transaction() as tx:
        existing = tx.policies()
        if any(p.name == name for p in existing):
            raise Conflict(f'policy "{name}" exists already: change it with igor policy edit')
        moved = _take_nodes(tx, existing, names, keep=None)
        policy = tx.put_policy(policy)
    change = PolicyChange(policy, moved)
    _log(svc, "policy-added", change)
    return change


def edit(svc: IgorService, name: str, req: PolicyEdit) -> PolicyChange:
    """Change the rules given; -w replaces the node list (moving nodes from other policies)."""
    svc._require_admin("change host policies")
    if req == PolicyEdit():
        raise ValidationError(
            "nothing to change: give at least one of -w, -groups, -maxtime, -unavailable, -clear"
        )
    names = _nodes(svc, req.nodes) if req.nodes is not None else None
    groups = _groups(svc, req.groups) if req.groups is not None else None
    maxtime = _maxtime(req.maxtime) if req.maxtime is not None else None
    windows = _windows(req.unavailable) if req.unavailable is not None else None
    with svc.store.transaction() as tx:
        existing = tx.policies()
        policy = _find(existing, name)
        moved: dict[str, str] = {}
        if names is not None:
            moved = _take_nodes(tx, existing, names, keep=policy.id)
            policy = replace(policy, nodes=names)
        if groups is not None:
            policy = replace(policy, groups=groups)
        if maxtime is not None:
            policy = replace(policy, maxtime=maxtime)
        if windows is not None:
            policy = replace(policy, unavailable=windows)
        policy = tx.put_policy(replace(policy, by=svc.caller.user))
    change = PolicyChange(policy, moved)
    _log(svc, "policy-edited", change)
    return change


def delete(svc: IgorService, name: str) -> PolicyChange:
    """Remove a policy: its nodes go back to the default (no restriction)."""
    svc._require_admin("change host policies")
    with svc.store.transaction() as tx:
        policy = _find(tx.policies(), name)
        tx.remove_policy(policy.id)
    change = PolicyChange(policy, {})
    _log(svc, "policy-deleted", change)
    return change


def apply(svc: IgorService, name: str, nodes: str) -> PolicyChange:
    """Put `nodes` under policy `name` as well (moving them from their current policy); the policy's
    other nodes stay. `default` takes them out of every policy."""
    svc._require_admin("change host policies")
    names = _nodes(svc, nodes)
    with svc.store.transaction() as tx:
        existing = tx.policies()
        if name == DEFAULT_POLICY:
            moved = _take_nodes(tx, existing, names, keep=None)
            policy = Policy(id=0, name=DEFAULT_POLICY, nodes=names)
        else:
            policy = _find(existing, name)
            moved = _take_nodes(tx, existing, names, keep=policy.id)
            wanted = set(policy.nodes) | set(names)
            policy = tx.put_policy(replace(policy, nodes=tuple(n for n in svc.nodes if n in wanted)))
    change = PolicyChange(policy, moved)
    _log(svc, "policy-applied", change, applied=svc._nodes_text(names))
    return change


def next_window_of(svc: IgorService, policy: Policy, now: datetime) -> tuple[datetime, datetime] | None:
    """The window in force now, or the next within a year (for `show`)."""
    from ..policy import next_window

    return next_window(policy, svc.config.tz, now)


# ---------------------------------------------------------------------------------------------- helpers


def _find(policies: Sequence[Policy], name: str) -> Policy:
    found = next((p for p in policies if p.name == name), None)
    if found is None:
        known = ", ".join(p.name for p in policies) or "none yet"
        raise NotFound(f'no policy named "{name}" (policies: {known})')
    return found


def _check_name(name: str) -> None:
    if name == DEFAULT_POLICY:
        raise ValidationError(f'"{DEFAULT_POLICY}" is the name of no policy (no restriction); pick another')
    if not checks.NAME_RE.fullmatch(name) or len(name) > checks.NAME_MAX:
        raise ValidationError(
            f"invalid policy name {name!r}: use up to {checks.NAME_MAX} letters, digits, '-' and '_'"
        )


def _nodes(svc: IgorService, text: str) -> tuple[str, ...]:
    if not text.strip():
        raise ValidationError("give the nodes of the policy with -w NODES, e.g. -w kn[3-4]")
    return svc.naming.expand(text)


def _groups(svc: IgorService, text: str) -> tuple[str, ...]:
    """-groups g1,g2 ("" = anyone); each must exist."""
    groups = tuple(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))
    for group in groups:
        if not svc.directory.group_exists(group):
            raise ValidationError(f"-groups: no such group: {group}")
    return groups


def _maxtime(text: str) -> int:
    """-maxtime DURATION in minutes ("" or 0 = no cap)."""
    if text.strip() in ("", "0"):
        return 0
    from ..timeparse import parse_duration

    try:
        minutes = parse_duration(text)
    except ValidationError as err:
        raise ValidationError(f"-maxtime: {err}") from None
    if minutes <= 0:
        raise ValidationError(f"-maxtime must be positive, got {text!r}")
    return minutes


def _windows(texts: Sequence[str]) -> tuple[str, ...]:
    """Each -unavailable "CRON:DURATION", checked now so the scheduler never meets a bad one."""
    out: list[str] = []
    for text in texts:
        try:
            out.append(parse_window(text).text)
        except ValidationError as err:
            raise ValidationError(f"-unavailable: {err}") from None
    return tuple(out)


def _take_nodes(
    tx: Transaction, policies: Sequence[Policy], names: Sequence[str], keep: int | None
) -> dict[str, str]:
    """Take `names` out of every policy but `keep` (a node is under one policy); what left which."""
    wanted = set(names)
    moved: dict[str, str] = {}
    for policy in policies:
        if policy.id == keep or not wanted.intersection(policy.nodes):
            continue
        moved.update((n, policy.name) for n in policy.nodes if n in wanted)
        tx.put_policy(replace(policy, nodes=tuple(n for n in policy.nodes if n not in wanted)))
    return moved


def _log(svc: IgorService, event: str, change: PolicyChange, **extra: object) -> None:
    policy = change.policy
    svc.events.append(
        svc.clock.now(),
        event,
        by=svc.caller.user,
        name=policy.name,
        policy=policy.id,
        nodes=svc._nodes_text(policy.nodes),
        groups=list(policy.groups),
        maxtime=policy.maxtime,
        unavailable=list(policy.unavailable),
        moved=change.moved,
        **extra,
    )
