"""The reservation state store: one TinyDB document, locked for writers, atomically replaced for readers.

protocol.py   what the service needs (Store/ReservationStore, Transaction, Snapshot)
codec.py      model values <-> JSON records, generated from the model's field list
document.py   the document: validation, schema version, canonical serialization
storage.py    igor's TinyDB storage: one locked read, one temp + fsync + replace write
transaction.py  a read-modify-write through TinyDB's tables and queries
cache.py      the decoded snapshot beside the document (igor.snapshot), valid for exactly one document
spliced.py    writing a document from the old one's bytes for the reservations a transaction left alone
base.py       what the two stores share (snapshots, transactions); files.py and memory.py: the stores

Every name other modules import from `igor_tui.store` is re-exported here.
"""

from __future__ import annotations

from ..lazy import lazy_exports
from ..typenames import TYPE_CHECKING
from .base import DocumentStore
from .codec import (
    block_from_record,
    block_to_record,
    node_status_from_record,
    node_status_to_record,
    policy_from_record,
    policy_to_record,
    reservation_from_record,
    reservation_to_record,
)
from .document import SCHEMA_VERSION
from .files import ARCHIVE_NAME, DOCUMENT_NAME, LOCK_NAME, TEMP_PREFIX, TinyStore
from .protocol import ReservationStore, Snapshot, Store, Transaction

if TYPE_CHECKING:
    from .memory import MemoryStore
    from .transaction import StoreTransaction

_ON_DEMAND = {"StoreTransaction": "transaction", "MemoryStore": "memory"}
"""Loaded on first use: only writers need the transaction module (and tinydb behind it), and only tests,
the demo and the TUI's fixtures build a memory store, so `igor show` loads neither."""


__getattr__ = lazy_exports(__name__, _ON_DEMAND)

__all__ = [
    "ARCHIVE_NAME",
    "DOCUMENT_NAME",
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "TEMP_PREFIX",
    "DocumentStore",
    "MemoryStore",
    "ReservationStore",
    "Snapshot",
    "Store",
    "StoreTransaction",
    "TinyStore",
    "Transaction",
    "block_from_record",
    "block_to_record",
    "node_status_from_record",
    "node_status_to_record",
    "policy_from_record",
    "policy_to_record",
    "reservation_from_record",
    "reservation_to_record",
]
