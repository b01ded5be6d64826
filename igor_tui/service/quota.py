"""Quotas (igor.conf `quota`): what one user may hold across all their live and future reservations.

Per-booking limits (`nodelimit`, `timelimit`) cannot stop three back-to-back 72 h bookings of one node by
one user; a quota counts them together. Two measures, each checked on sub, extend, edit and restore:

* node-hours: the remaining node-hours of the user's running reservations plus all of their future ones;
* concurrent nodes: the most nodes the user holds at any instant, new booking included.

Pure arithmetic over reservations plus one sentence per refusal, so the CLI, the TUI form and
speculation all say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from ..config import Quota
from ..config.sharing import QUOTA_DEFAULT
from ..errors import LimitError
from ..typenames import TYPE_CHECKING
from ..values import dataclass

if TYPE_CHECKING:
    from ..model import Reservation, Slot
    from .facade import IgorService

Added = tuple[Sequence[str], datetime, datetime]
"""A booking or part of one being added: (nodes, start, end)."""


@dataclass(frozen=True, slots=True)
class QuotaUse:
    """One user's quota and what they hold against it (`igor quota`, the TUI's booking form)."""

    user: str
    limit: Quota
    source: tuple[str, str]
    """The entries that set node_hours and concurrent_nodes ('' when unlimited)."""
    node_minutes: int
    peak_nodes: int
    reservations: int
    exempt: bool = False
    """An admin: the quota is shown but never applied to them."""

    @property
    def used_text(self) -> str:
        """The node-hours in use as the refusals write them."""
        return node_hours_text(self.node_minutes)


def applicable(quota: Mapping[str, Quota], user: str, groups: Iterable[str]) -> tuple[Quota, tuple[str, str]]:
    """The quota for `user`, field by field from the most specific entry that sets it: the user's own,
    then their groups' (the largest, since a group quota grants), then 'default'."""
    levels: list[list[tuple[str, Quota]]] = [
        [(user, quota[user])] if user in quota else [],
        [(f"%{g}", quota[f"%{g}"]) for g in sorted(groups) if f"%{g}" in quota],
        [(QUOTA_DEFAULT, quota[QUOTA_DEFAULT])] if QUOTA_DEFAULT in quota else [],
    ]
    found: dict[str, tuple[int | None, str]] = {}
    for name in ("node_hours", "concurrent_nodes"):
        found[name] = (None, "")
        for level in levels:
            given = [(int(getattr(q, name)), who) for who, q in level if getattr(q, name) is not None]
            if given:
                found[name] = max(given)
                break
    hours, nodes = found["node_hours"], found["concurrent_nodes"]
    return Quota(node_hours=hours[0], concurrent_nodes=nodes[0]), (hours[1], nodes[1])


def held(live: Iterable[Reservation], user: str, now: datetime) -> list[Added]:
    """What `user` holds from now on: their reservations that have not ended, clipped to start now."""
    return [(r.nodes, max(r.start, now), r.end) for r in live if r.owner == user and r.end > now]


def node_minutes(spans: Iterable[Added], now: datetime) -> int:
    """Node-minutes of `spans` from now on (a running one counts only what is left of it)."""
    total = 0
    for nodes, start, end in spans:
        minutes = int((end - max(start, now)).total_seconds() // 60)
        total += len(nodes) * max(minutes, 0)
    return total


def peak(spans: Iterable[Added], within: Sequence[tuple[datetime, datetime]] = ()) -> int:
    """The most nodes held at one instant by `spans`, only counting instants inside `within` (every
    instant when empty). Windows are half-open, so back-to-back bookings do not add up."""
    events: list[tuple[datetime, int]] = []
    for nodes, start, end in spans:
        if end > start:
            events += [(start, len(nodes)), (end, -len(nodes))]
    events += [(start, 0) for start, _ in within]  # the count carried into a window is counted there
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    best = count = 0
    for i, (when, delta) in enumerate(events):
        count += delta
        if i + 1 < len(events) and events[i + 1][0] == when:
            continue  # the count at `when` is known once every change there is applied
        if not within or any(a <= when < b for a, b in within):
            best = max(best, count)
    return best


def use(svc: IgorService, user: str, live: Iterable[Reservation]) -> QuotaUse:
    """`user`'s quota and current use: node-hours still to come and the peak of nodes held."""
    now = svc.now()
    spans = held(live, user, now)
    limit, source = applicable(svc.config.quota, user, _groups(svc, user))
    return QuotaUse(
        user=user,
        limit=limit,
        source=source,
        node_minutes=node_minutes(spans, now),
        peak_nodes=peak(spans),
        reservations=len(spans),
        exempt=_is_admin(svc, user),
    )


def refusal(
    svc: IgorService, live: Iterable[Reservation], user: str, added: Sequence[Added], what: str = "booking"
) -> str:
    """Why `user`'s quota refuses `added` on top of what they hold, in one sentence; '' when it fits.
    Admin users are exempt (as from every limit)."""
    if not svc.config.quota or not added or _is_admin(svc, user):
        return ""
    now = svc.now()
    spans = held(live, user, now)
    limit, _ = applicable(svc.config.quota, user, _groups(svc, user))
    new = [(nodes, max(start, now), end) for nodes, start, end in added]
    count = sum(len(nodes) for nodes, _, _ in new)
    minutes = max(int((end - start).total_seconds() // 60) for _, start, end in new)
    if limit.node_hours is not None:
        used, need = node_minutes(spans, now), node_minutes(new, now)
        if used + need > limit.node_hours * 60:
            fit = _hours_fit(limit.node_hours * 60 - used, count, minutes, what)
            return (
                f"quota: {user} may hold {limit.node_hours:,} node-hours; {node_hours_text(used)} in use, "
                f"this {what} needs {node_hours_text(need)} ({count} {_nodes(count)} × {_span(minutes)}); "
                f"{fit}"
            )
    if limit.concurrent_nodes is not None:
        windows = [(start, end) for _, start, end in new]
        before = peak(spans, windows)
        if before + count > limit.concurrent_nodes:
            room = limit.concurrent_nodes - before
            fit = (
                f"at most {room} more {_nodes(room)} would fit then" if room > 0 else "no more nodes fit then"
            )
            most = limit.concurrent_nodes
            return (
                f"quota: {user} may hold {most} {_nodes(most)} at once; {before} held during this {what}, "
                f"which needs {count}; {fit}"
            )
    return ""


def check(
    svc: IgorService, live: Iterable[Reservation], user: str, added: Sequence[Added], what: str
) -> None:
    """Raise the refusal as a LimitError (the CLI prints it as one line, exit 1)."""
    why = refusal(svc, live, user, added, what)
    if why:
        raise LimitError(why)


def slot_refusals(svc: IgorService, slots: Sequence[Slot]) -> list[str]:
    """For speculation: per option, why the caller's quota would refuse booking it ('' when it would
    not), so `igor sub -s` can mark the rows instead of offering what `sub -a` then refuses."""
    if not svc.config.quota or svc.caller.is_admin:
        return ["" for _ in slots]
    live = list(svc.live_reservations())
    user = svc.caller.user
    return [refusal(svc, live, user, [(s.nodes, s.start, s.end)]) for s in slots]


def _groups(svc: IgorService, user: str) -> frozenset[str]:
    return svc.caller.groups if user == svc.caller.user else svc.directory.groups_of(user)


def _is_admin(svc: IgorService, user: str) -> bool:
    if user == svc.caller.user:
        return svc.caller.is_admin
    from ..identity import resolve_caller

    return resolve_caller(user, svc.config.admins, svc.directory).is_admin


def _hours_fit(room: int, count: int, minutes: int, what: str) -> str:
    """What would still fit in `room` node-minutes: fewer nodes for as long, or as many for less time (an
    extension can only be shorter, nodes added to a reservation can only be fewer)."""
    fewer, shorter = room // minutes if minutes else 0, room // count if count else 0
    options = []
    if what != "extension" and fewer > 0:
        options.append(f"{fewer} {_nodes(fewer)} × {_span(minutes)}")
    if what != "addition" and shorter > 0:  # added nodes last as long as the reservation does
        options.append(f"{count} {_nodes(count)} × {_span(shorter, whole=True)}")
    if not options:
        return f"no {what} fits until some of that ends"
    return f"at most {' or '.join(options)} would fit"


def _nodes(n: int) -> str:
    return "node" if n == 1 else "nodes"


def node_hours_text(node_min: int) -> str:
    """Node-hours with thousands separators: whole when whole, else one decimal."""
    return f"{node_min // 60:,}" if node_min % 60 == 0 else f"{node_min / 60:,.1f}"


def _span(minutes: int, whole: bool = False) -> str:
    """'32 h', or '1h30m' for a duration that is not whole hours; `whole` rounds down to hours (for
    what would fit, where less is always safe) when there is at least one."""
    if minutes >= 60 and (whole or minutes % 60 == 0):
        return f"{minutes // 60} h"
    from ..timeparse import format_duration

    return format_duration(minutes)


def report(svc: IgorService, user: str = "") -> QuotaUse:
    """`igor quota [USER]`: anyone may see their own quota and use; only admins another user's."""
    from ..errors import PermissionDenied

    user = user or svc.caller.user
    if user != svc.caller.user and not svc.caller.is_admin:
        raise PermissionDenied(f"only admins may see another user's quota (you are {svc.caller.user})")
    return use(svc, user, svc.live_reservations())
