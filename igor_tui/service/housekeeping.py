"""What every writer does to keep the store and the content area tidy: the one content collector and the
small predicates the booking code and the tick executor share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..model import NodeState, Reservation
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from ..content import ContentStore
    from ..store import Transaction


def collect_unused(content: ContentStore, tx: Transaction) -> list[str]:
    """Delete the copied kernels/initrds no reservation of the store references; returns the digests
    removed. Under the store's lock (`tx`), so a concurrent submit about to reference a copy either sees
    it collected (and copies it again, see booking's `ensure_content`) or keeps it. The digests come from
    `tx.content_hashes()`, which reads them off the snapshot cache's columns without building the
    reservations when it can."""
    return content.collect(tx.content_hashes())


def is_live(res: Reservation, now: datetime) -> bool:
    """Still in the store's working set: not ended, or ended but not yet torn down by igor-tick."""
    return not res.has_ended(now) or res.installed


def down_nodes(status: Mapping[str, object]) -> frozenset[str]:
    """The nodes the last liveness probe found down (the scheduler avoids them)."""
    return frozenset(name for name, st in status.items() if getattr(st, "state", None) is NodeState.DOWN)
