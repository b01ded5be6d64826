"""What the service needs from a store, in values and transactions only (no files, no TinyDB).

The file store and the memory store both satisfy it, and the contract tests (tests/test_store.py) run
against both; a PostgreSQL store (a later issue) satisfies it too: `transaction()` maps to one database
transaction (SERIALIZABLE, or SELECT ... FOR UPDATE on a lock row), `snapshot()` to one read-only
transaction, ids to sequences (never reused, as here), and the key/value area to a JSON column.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from types import MappingProxyType

from ..model import Block, NodeStatus, Reservation
from ..typenames import TYPE_CHECKING, Any, Protocol
from ..values import dataclass, field

if TYPE_CHECKING:
    from ..archive import ArchivedReservation


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the store holds at one instant, immutable so front ends can keep it between refreshes."""

    reservations: tuple[Reservation, ...] = ()  # sorted by id
    blocks: tuple[Block, ...] = ()  # sorted by id
    nodes: Mapping[str, NodeStatus] = field(default_factory=lambda: MappingProxyType({}))


class Transaction(Protocol):
    """What the service may do inside one exclusive read-modify-write of the store: everything it does
    commits together when the block ends normally, and nothing does if it raises."""

    def reservations(self) -> list[Reservation]: ...
    def reservation(self, res_id: int) -> Reservation | None: ...
    def add_reservation(self, res: Reservation) -> Reservation: ...
    def put_reservation(self, res: Reservation) -> None: ...
    def remove_reservation(self, res_id: int) -> None: ...
    def archive_reservation(
        self, res_id: int, *, why: str, by: str, when: datetime
    ) -> Reservation | None: ...
    def restore_reservation(self, res: Reservation) -> None: ...
    def blocks(self) -> list[Block]: ...
    def add_block(self, block: Block) -> Block: ...
    def remove_block(self, block_id: int) -> None: ...
    def node_status(self) -> dict[str, NodeStatus]: ...
    def put_node_status(self, status: NodeStatus) -> None: ...
    def get_value(self, key: str, default: Any = None) -> Any: ...
    def set_value(self, key: str, value: Any) -> None: ...


class ReservationStore(Protocol):
    """Where reservations live; the service needs nothing else from a store."""

    def snapshot(self) -> Snapshot: ...
    def transaction(self) -> AbstractContextManager[Transaction]: ...
    def archived(self, name: str | None = None) -> list[ArchivedReservation]: ...
    def sweep_leftovers(self) -> list[str]: ...


Store = ReservationStore
"""The protocol's short name; `ReservationStore` stays for the modules that import it by that name."""
