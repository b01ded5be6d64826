"""The plan a booking will make, and one sentence saying why it cannot start when it was asked to.

A booking that silently lands twelve hours late is the worst surprise igor can spring, so the form (TUI)
and `igor sub` (CLI) both show the plan before or with the booking, with the same sentence:
`kn[161-168] are free now but ceph-lab takes kn161 at 08:02; earliest fit: Thu Dec 03 07:23`.

Pure: inputs are model values and two small formatters; no store, no clock, no Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from .model import POLICY_BY, Block, Request, Reservation, Slot
from .timeparse import format_duration
from .values import dataclass

Compress = Callable[[tuple[str, ...]], str]
"""Node names to the short form users read (`kn[1-4]`)."""
When = Callable[[datetime], str]
"""A time in the front ends' one date policy (see dates.py)."""

_LIST_LIMIT = 28  # longer node lists are summarised as "N nodes" inside the sentence


@dataclass(frozen=True, slots=True)
class Plan:
    """What a booking made now would get: the slot, the start that was asked for, and why they differ."""

    asked: datetime
    slot: Slot
    why_not: str = ""

    @property
    def late(self) -> bool:
        return self.slot.start > self.asked


def _obstacles(
    reservations: Iterable[Reservation], blocks: Iterable[Block], start: datetime, end: datetime
) -> list[tuple[datetime, str, tuple[str, ...]]]:
    """Everything that starts inside (start, end): (when, what, nodes), earliest first."""
    found: list[tuple[datetime, str, tuple[str, ...]]] = []
    for res in reservations:
        if start < res.start < end:
            found.append((res.start, res.name, res.nodes))
    for block in blocks:
        if start < block.start < end:
            found.append((block.start, block.reason if block.by == POLICY_BY else "maintenance", block.nodes))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def why_not(
    request: Request,
    slot: Slot,
    *,
    now: datetime,
    nodes: Sequence[str],
    reservations: Sequence[Reservation],
    blocks: Sequence[Block],
    down: frozenset[str],
    compress: Compress,
    when: When,
) -> str:
    """One line saying why `request` cannot start at `request.earliest`, ending with the earliest fit.

    Empty when the slot starts when asked. The first obstacle is named: a down, held or blocked node,
    too few free nodes, or the reservation that takes one of the free nodes before the window ends."""
    asked = request.earliest
    if slot.start <= asked:
        return ""
    end = asked + timedelta(minutes=request.minutes)
    at = "now" if asked <= now else f"at {when(asked)}"
    holder = {n: r for r in reservations if r.start <= asked < r.end for n in r.nodes}
    blocked = {n: b for b in blocks if b.start <= asked and (b.end is None or asked < b.end) for n in b.nodes}
    wanted = request.nodes or tuple(nodes)
    usable = [n for n in wanted if n not in down and n not in holder and n not in blocked]
    reason = ""
    if request.nodes:
        for node in request.nodes:
            if node in down:
                reason = f"{node} is down"
            elif node in holder:
                res = holder[node]
                reason = f"{node} is held by {res.name} ({res.owner}) until {when(res.end)}"
            elif node in blocked:
                reason = _blocked(node, blocked[node], at, when)
            if reason:
                break
    elif len(usable) < request.count:
        count = len(usable)
        reason = (
            f"only {_nodes(count)} {'is' if count == 1 else 'are'} free {at} (you asked for {request.count})"
        )
    if not reason:
        reason = _taken(
            usable,
            request,
            asked,
            end,
            at=at,
            reservations=reservations,
            blocks=blocks,
            compress=compress,
            when=when,
        )
    return f"{reason}; earliest fit: {when(slot.start)}"


def _blocked(node: str, block: Block, at: str, when: When) -> str:
    """A maintenance block, or a host policy's window (policy.py makes them blocks by "policy")."""
    if block.by == POLICY_BY and block.end is not None:
        return f"{block.reason} makes {node} unavailable {when(block.start)} - {when(block.end)}"
    return f"{node} is blocked for maintenance {at}"


def _taken(
    usable: list[str],
    request: Request,
    asked: datetime,
    end: datetime,
    *,
    at: str,
    reservations: Sequence[Reservation],
    blocks: Sequence[Block],
    compress: Compress,
    when: When,
) -> str:
    """The free nodes and the first reservation (or block) that takes one of them inside the window."""
    free = set(usable)
    listed = compress(tuple(usable))
    subject = listed if len(listed) <= _LIST_LIMIT else f"{len(usable)} nodes"
    verb = "is" if len(usable) == 1 else "are"
    obstacles = _obstacles(reservations, blocks, asked, end)
    first = next(((s, w, n) for s, w, taken in obstacles for n in taken if n in free), None)
    if first is None:
        return f"{subject} {verb} free {at} but not together for {format_duration(request.minutes)}"
    start, what, hit = first
    taking = f"{what} takes {hit} at {when(start)}"
    staying = free - {n for _s, _w, taken in obstacles for n in taken}
    if request.nodes or len(staying) >= request.count:
        return f"{subject} {verb} free {at} but {taking}"
    return (
        f"{subject} {verb} free {at} but only {len(staying)} stay free for "
        f"{format_duration(request.minutes)} ({taking})"
    )


def _nodes(count: int) -> str:
    return f"{count} node" if count == 1 else f"{count} nodes"
