"""The reservation state store: one TinyDB document, locked for writers, atomically replaced for readers.

protocol.py   what the service needs (Store/ReservationStore, Transaction, Snapshot)
codec.py      model values <-> JSON records, generated from the model's field list
document.py   the document: validation, schema version, canonical serialization
storage.py    igor's TinyDB storage: one locked read, one temp + fsync + replace write
transaction.py  a read-modify-write through TinyDB's tables and queries
base.py       what the two stores share (snapshots, transactions); files.py and memory.py: the stores

Every name other modules import from `igor_tui.store` is re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import DocumentStore
from .codec import (
    _POSITIONAL,
    _RECORD_DEFAULTS,
    _RESERVATION_FIELDS,
    _converted_values,
    _exact_values,
    _stored_record,
    _time_in,
    _time_out,
    block_from_record,
    block_to_record,
    node_status_from_record,
    node_status_to_record,
    reservation_from_record,
    reservation_to_record,
)
from .document import SCHEMA_VERSION, _json_text, _parse_document, _serialize
from .files import ARCHIVE_NAME, DOCUMENT_NAME, LOCK_NAME, TEMP_PREFIX, TinyStore
from .memory import MemoryStore
from .protocol import ReservationStore, Snapshot, Store, Transaction

if TYPE_CHECKING:
    from .transaction import StoreTransaction


def __getattr__(name: str) -> object:
    """`StoreTransaction` on demand: only writers need the transaction module (and tinydb behind it)."""
    if name == "StoreTransaction":
        from .transaction import StoreTransaction

        return StoreTransaction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARCHIVE_NAME",
    "DOCUMENT_NAME",
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "TEMP_PREFIX",
    "_POSITIONAL",
    "_RECORD_DEFAULTS",
    "_RESERVATION_FIELDS",
    "DocumentStore",
    "MemoryStore",
    "ReservationStore",
    "Snapshot",
    "Store",
    "StoreTransaction",
    "TinyStore",
    "Transaction",
    "_converted_values",
    "_exact_values",
    "_json_text",
    "_parse_document",
    "_serialize",
    "_stored_record",
    "_time_in",
    "_time_out",
    "block_from_record",
    "block_to_record",
    "node_status_from_record",
    "node_status_to_record",
    "reservation_from_record",
    "reservation_to_record",
]
