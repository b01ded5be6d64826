"""Pure choices for a reservation that changes its nodes mid-window: `edit -add`'s free nodes and heal's
swaps (no I/O, no clock).

Apart from scheduler.py, which places new bookings, but built on its busy intervals and node picks, so a
node added or swapped in is free by the very rule a booking is: never another reservation's, never
blocked or down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from .model import Block, Reservation
from .scheduler import busy_intervals, pick_nodes, to_minutes
from .values import dataclass, replace


def free_for_window(
    nodes: Sequence[str],
    reservations: Iterable[Reservation],
    start: datetime,
    end: datetime,
    *,
    blocks: Iterable[Block] = (),
    down: frozenset[str] = frozenset(),
) -> list[str]:
    """The nodes, in node order, that nothing holds anywhere inside [start, end): no reservation (the
    one being changed included, so its own nodes are never offered twice), block or down state.

    Heal picks a replacement from these with `pick_nodes`, through the same busy intervals as booking,
    so a swapped-in node can never be one another reservation holds."""
    index = {name: i for i, name in enumerate(nodes)}
    lo, hi = to_minutes(start), to_minutes(end)
    busy = busy_intervals(index, reservations, blocks, lo, None)
    return [
        nodes[i]
        for i, spans in enumerate(busy)
        if nodes[i] not in down and not any(a < hi and lo < b for a, b in spans)
    ]


def pick_free(nodes: Sequence[str], free: Sequence[str], count: int) -> tuple[str, ...]:
    """`count` of the `free` nodes chosen as a booking chooses them (`pick_nodes`: fewest gaps, lowest)."""
    index = {name: i for i, name in enumerate(nodes)}
    return tuple(nodes[i] for i in pick_nodes(sorted(index[n] for n in free), count))


@dataclass(frozen=True, slots=True)
class Swap:
    """One heal: reservation `res_id` gives up `old` (`why`: "down" or "blocked") and gets `new`."""

    res_id: int
    old: str
    why: str
    new: str = ""  # "" when no node was free: the reservation is left as it is

    def text(self) -> str:
        tail = f"-> {self.new}" if self.new else "no free node to swap in"
        return f"{self.old} ({self.why}) {tail}"


def heal_swaps(
    nodes: Sequence[str],
    reservations: Sequence[Reservation],
    now: datetime,
    *,
    blocks: Sequence[Block] = (),
    down: frozenset[str] = frozenset(),
) -> list[Swap]:
    """For every reservation active at `now`, its down or blocked nodes and the free nodes to swap in
    for the rest of its window (`free_for_window`, chosen by `pick_free`); a swap without `new` when none
    is free. Earlier reservations choose first, and each choice counts for the next, so two reservations
    never get the same node and no node another reservation holds is ever offered."""
    current = {r.id: r for r in reservations}
    blocked = {n for b in blocks if b.start <= now and (b.end is None or now < b.end) for n in b.nodes}
    order = {name: i for i, name in enumerate(nodes)}
    swaps: list[Swap] = []
    for res in sorted(reservations, key=lambda r: (r.start, r.id)):
        if not res.is_active(now):
            continue
        bad = [(n, "down" if n in down else "blocked") for n in res.nodes if n in down or n in blocked]
        if not bad:
            continue
        free = free_for_window(nodes, list(current.values()), now, res.end, blocks=blocks, down=down)
        picked = pick_free(nodes, free, min(len(free), len(bad))) if free else ()
        swaps += [Swap(res.id, old, why, new) for (old, why), new in zip(bad, picked, strict=False)]
        swaps += [Swap(res.id, old, why) for old, why in bad[len(picked) :]]
        if picked:
            gone = {old for old, _ in bad[: len(picked)]}
            kept = [n for n in res.nodes if n not in gone]
            changed = tuple(sorted((*kept, *picked), key=lambda n: order.get(n, 0)))
            current[res.id] = replace(res, nodes=changed)
    return swaps
