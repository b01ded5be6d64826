"""What the cluster looks like at any instant of a `ClusterView`: pure functions for the TUI's widgets.

The TUI's time cursor lets a user look at the cluster at 15:00 tomorrow, so every widget asks "who holds
this node at time T", not "who holds it now". Kept free of Textual so it is unit-testable and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .model import Block, ClusterView, NodeState, Reservation


@dataclass(frozen=True, slots=True)
class Moment:
    """The cluster at one instant: who holds each node, which are down or blocked, and who is next."""

    at: datetime
    holder: dict[str, Reservation]
    down: frozenset[str]
    blocked: dict[str, Block]

    def state(self, node: str) -> str:
        """A short word for the node's state at this moment (for detail panes and tests)."""
        if node in self.down:
            return "down"
        if node in self.blocked:
            return "blocked"
        return "reserved" if node in self.holder else "free"


def moment(view: ClusterView, at: datetime | None = None) -> Moment:
    """Everything the rack grid needs to colour its cells at `at` (default: the view's now).

    Down is the last liveness observation, so it is shown at every viewed time: igor does not know the
    future health of a node, and the scheduler also keeps down nodes out of future bookings.
    """
    when = view.now if at is None else at
    holder: dict[str, Reservation] = {}
    for res in view.reservations:
        if res.start <= when < res.end:
            for node in res.nodes:
                holder[node] = res
    blocked: dict[str, Block] = {}
    for block in (*view.blocks, *view.windows):  # a host-policy window blocks like maintenance
        if block.start <= when and (block.end is None or when < block.end):
            for node in block.nodes:
                blocked[node] = block
    down = frozenset(n for n, st in view.status.items() if st.state is NodeState.DOWN)
    return Moment(at=when, holder=holder, down=down, blocked=blocked)


def changed_nodes(old: Moment, new: Moment) -> set[str]:
    """Nodes drawn differently at `new` than at `old` (another holder or block), so a time-cursor step
    repaints those cells only. Down is the same at every viewed time (see `moment`)."""
    changed = {n for n in old.holder.keys() | new.holder.keys() if old.holder.get(n) is not new.holder.get(n)}
    changed |= {
        n for n in old.blocked.keys() | new.blocked.keys() if old.blocked.get(n) is not new.blocked.get(n)
    }
    return changed | (old.down ^ new.down)


def reservations_of(view: ClusterView, node: str) -> list[Reservation]:
    """The node's reservations in start order (current and future ones; ended ones still being torn down)."""
    return sorted((r for r in view.reservations if node in r.nodes), key=lambda r: (r.start, r.id))


def racks(nodes: tuple[str, ...], rackwidth: int, rackheight: int) -> list[tuple[str, ...]]:
    """Nodes cut into racks of rackwidth × rackheight, in order (the last rack may be partial)."""
    size = max(1, rackwidth * rackheight)
    return [nodes[i : i + size] for i in range(0, len(nodes), size)]
