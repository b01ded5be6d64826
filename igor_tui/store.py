"""The reservation state store: one TinyDB document, locked for writers, atomically replaced for readers."""

from __future__ import annotations

import contextlib
import gc
import json
import operator
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import StoreError
from .model import Block, NodeState, NodeStatus, Reservation
from .values import dataclass, field, field_names, replace

if TYPE_CHECKING:
    from tinydb import TinyDB
    from tinydb.table import Table

    from .archive import ArchivedReservation


try:
    import fcntl
except ImportError:  # not POSIX (Windows): portalocker's msvcrt locking
    _LOCKING = "portalocker"
else:
    _LOCKING = "flock"
"""How writers lock igor.lock: "flock" (POSIX) or "portalocker" (anywhere else; tests switch between them).

On POSIX this is `fcntl.flock(LOCK_EX | LOCK_NB)` polled like portalocker polls it, because importing
portalocker costs ~32 ms (its metadata look-up at import time) of the 120-150 ms a whole `igor sub` may
take. portalocker itself uses flock on Linux, so processes of either kind exclude each other."""

SCHEMA_VERSION = 1
"""Bump only together with an explicit migration; older igors refuse documents with a higher number."""

DOCUMENT_NAME = "igor.json"
LOCK_NAME = "igor.lock"
ARCHIVE_NAME = "archive.jsonl"  # see archive.py
TEMP_PREFIX = ".igor.json."

_FILE_MODE = 0o644  # the TUI and `igor show` may run as other users than the writer
_DIR_MODE = 0o755
_LOCK_POLL_SECONDS = 0.005  # portalocker polls a non-blocking flock; coarse polling starves busy writers
_META_ID = 1

_DocumentData = dict[str, dict[str, Any]]
_T = TypeVar("_T", Reservation, Block)


# --------------------------------------------------------------------------------------------- records


def _time_out(value: datetime) -> str:
    """Refuse naive datetimes: stored wall-clock times without an offset are ambiguous forever."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; igor stores aware UTC times")
    return value.astimezone(UTC).isoformat()


_TIMES_REMEMBERED = 1 << 15
_times_read: dict[str, datetime] = {}
"""Times already parsed, by their text. Many reservations share a start or an end, and sharing the (immutable)
datetime objects also lets every later hash of one (caches, sets, dicts) be computed once instead of per
copy. Bounded by clearing, for long-running front ends."""


def _time_in(text: str) -> datetime:
    """Accept any ISO 8601 offset (hand-edited documents); a missing offset is read as UTC."""
    value = _times_read.get(text) if isinstance(text, str) else None
    if value is None:
        value = _parse_time(text)
        if len(_times_read) >= _TIMES_REMEMBERED:
            _times_read.clear()
        _times_read[text] = value
    return value


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    zone = value.tzinfo
    if zone is UTC:
        return value
    if zone is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _optional_time_in(text: str | None) -> datetime | None:
    return None if text is None else _time_in(text)


def _optional_time_out(value: datetime | None) -> str | None:
    return None if value is None else _time_out(value)


def _names(value: Any) -> tuple[str, ...]:
    """Node lists must be JSON arrays of strings; a bare string would silently become its characters."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"nodes must be a list of names, not {value!r}")
    names = tuple(value)
    "".join(names)  # raises TypeError for a non-string item, ~5x faster than an isinstance loop
    return names


_RESERVATION_FIELDS = (
    "id",
    "name",
    "owner",
    "start",
    "end",
    "nodes",
    "group",
    "kernel",
    "initrd",
    "kernel_hash",
    "initrd_hash",
    "profile",
    "kernel_args",
    "vlan",
    "created",
    "revision",
    "extensions",
    "installed",
    "error",
)


_POSITIONAL = field_names(Reservation) == _RESERVATION_FIELDS
"""Positional construction is ~40% cheaper than keywords (it matters at 5,000 records), but is only safe
while the model declares its fields in exactly this order; otherwise keywords are used."""


def reservation_to_record(res: Reservation) -> dict[str, Any]:
    """The JSON form of a reservation, shared by the store, `--json` output and import."""
    return {
        "id": res.id,
        "name": res.name,
        "owner": res.owner,
        "start": _time_out(res.start),
        "end": _time_out(res.end),
        "nodes": list(res.nodes),
        "group": res.group,
        "kernel": res.kernel,
        "initrd": res.initrd,
        "kernel_hash": res.kernel_hash,
        "initrd_hash": res.initrd_hash,
        "profile": res.profile,
        "kernel_args": res.kernel_args,
        "vlan": res.vlan,
        "created": _optional_time_out(res.created),
        "revision": res.revision,
        "extensions": res.extensions,
        "installed": res.installed,
        "error": res.error,
    }


_RECORD_DEFAULTS: dict[str, Any] = {
    "group": "",
    "kernel": "",
    "initrd": "",
    "kernel_hash": "",
    "initrd_hash": "",
    "profile": "",
    "kernel_args": "",
    "vlan": None,
    "created": None,
    "revision": 1,
    "extensions": 0,
    "installed": False,
    "error": "",
}
"""The model's defaults of the optional fields in their JSON form: the store leaves a field with exactly
this value (and type: `true` is not 1) out of the records it writes, and reading puts it back."""


def _stored_record(res: Reservation) -> dict[str, Any]:
    """`reservation_to_record` without the fields that hold their default (no group, no VLAN, not
    installed, revision 1, ...): what the store writes.

    Measured at 5,000 reservations: the document shrinks by ~15% but orjson parses it in about half the
    time (~16 -> ~8 ms), since every one of those short values was an object to make and a key to look up;
    restoring the defaults costs ~2 ms. Documents with every field (older igors, imports) read the same.
    """
    record = reservation_to_record(res)
    for key, default in _RECORD_DEFAULTS.items():
        value = record[key]
        if value == default and type(value) is type(default):
            del record[key]
    return record


def reservation_from_record(d: Mapping[str, Any]) -> Reservation:
    """Inverse of `reservation_to_record`; optional fields may be missing (older documents, imports, and
    every record the store writes: see `_stored_record`).

    Raises ValueError for a record that cannot be a reservation, so callers choose their own error type.
    """
    try:
        values = _exact_values(d if len(d) == len(_RESERVATION_FIELDS) else {**_RECORD_DEFAULTS, **d})
    except (KeyError, TypeError, ValueError, AttributeError):
        values = None
    if values is None:
        values = _converted_values(d)
    if _POSITIONAL:
        return Reservation(*values)
    return Reservation(**dict(zip(_RESERVATION_FIELDS, values, strict=True)))


_ALL_FIELDS = operator.itemgetter(*_RESERVATION_FIELDS)


def _exact_values(d: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The values of a complete record whose JSON types already are the model's (every record igor writes),
    checked with a few C-level operations instead of a conversion call per field (~20% less time for the
    values of 5,000 records). None, or an exception, for anything else: `_converted_values` then converts
    or rejects it with its own message, so both paths give the same reservation or the same error."""
    (
        res_id, name, owner, start, end, nodes, group, kernel, initrd, kernel_hash, initrd_hash, profile,
        kernel_args, vlan, created, revision, extensions, installed, error,
    ) = _ALL_FIELDS(d)  # fmt: skip
    if not (
        type(res_id) is int
        and type(revision) is int
        and type(extensions) is int
        and type(installed) is bool
        and (vlan is None or type(vlan) is int)
    ):
        return None
    # TypeError unless all are strings (JSON makes no str subclasses, which str() would have converted)
    "".join((name, owner, group, kernel, initrd, kernel_hash, initrd_hash, profile, kernel_args, error))
    known = _times_read.get  # _time_in's own cache, looked up here: most times were read before
    return (  # in _RESERVATION_FIELDS order
        res_id,
        name,
        owner,
        known(start) or _time_in(start),
        known(end) or _time_in(end),
        _names(nodes),
        group,
        kernel,
        initrd,
        kernel_hash,
        initrd_hash,
        profile,
        kernel_args,
        vlan,
        None if created is None else known(created) or _time_in(created),
        revision,
        extensions,
        installed,
        error,
    )


def _converted_values(d: Mapping[str, Any]) -> tuple[Any, ...]:
    """Every field converted to the model's type, defaults for missing optional ones."""
    try:
        vlan = d.get("vlan")
        created = d.get("created")
        return (  # in _RESERVATION_FIELDS order
            int(d.get("id", 0)),
            str(d["name"]),
            str(d["owner"]),
            _time_in(d["start"]),
            _time_in(d["end"]),
            _names(d["nodes"]),
            str(d.get("group", "")),
            str(d.get("kernel", "")),
            str(d.get("initrd", "")),
            str(d.get("kernel_hash", "")),
            str(d.get("initrd_hash", "")),
            str(d.get("profile", "")),
            str(d.get("kernel_args", "")),
            None if vlan is None else int(vlan),
            None if created is None else _time_in(created),
            int(d.get("revision", 1)),
            int(d.get("extensions", 0)),
            bool(d.get("installed", False)),
            str(d.get("error", "")),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"bad reservation record ({type(err).__name__}: {err})") from err


def block_to_record(block: Block) -> dict[str, Any]:
    """The JSON form of a maintenance block (`end` null = until unblocked)."""
    return {
        "id": block.id,
        "nodes": list(block.nodes),
        "start": _time_out(block.start),
        "end": _optional_time_out(block.end),
        "reason": block.reason,
        "by": block.by,
    }


def block_from_record(d: Mapping[str, Any]) -> Block:
    """Inverse of `block_to_record`; raises ValueError for a record that cannot be a block."""
    try:
        return Block(
            id=int(d.get("id", 0)),
            nodes=_names(d["nodes"]),
            start=_time_in(d["start"]),
            end=_optional_time_in(d.get("end")),
            reason=str(d.get("reason", "")),
            by=str(d.get("by", "")),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"bad block record ({type(err).__name__}: {err})") from err


def node_status_to_record(status: NodeStatus) -> dict[str, Any]:
    """The JSON form of a liveness observation."""
    return {
        "name": status.name,
        "state": status.state.value,
        "checked": _optional_time_out(status.checked),
        "detail": status.detail,
    }


def node_status_from_record(d: Mapping[str, Any]) -> NodeStatus:
    """Inverse of `node_status_to_record`; raises ValueError for an unknown state or a missing name."""
    try:
        return NodeStatus(
            name=str(d["name"]),
            state=NodeState(d.get("state", NodeState.UNKNOWN.value)),
            checked=_optional_time_in(d.get("checked")),
            detail=str(d.get("detail", "")),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"bad node status record ({type(err).__name__}: {err})") from err


# ---------------------------------------------------------------------------------------- documents


def _corrupt(label: str, why: str) -> StoreError:
    return StoreError(
        f"the igor store {label} is corrupt ({why}); igor will not start over from an empty store: "
        f"restore the file from a backup or move it aside"
    )


def _parse_document(payload: bytes, label: str) -> _DocumentData:
    """Validate the whole document up front so a transaction never writes back something it misread."""
    if not payload:
        return {}
    # The standard library's parser, not orjson: importing orjson imports dataclasses and uuid (~11 ms,
    # more than it saves on 5,000 reservations: ~13.5 vs ~16.5 ms with the collector paused), and a
    # read-only `igor show` never needs it. It was already the fallback for what orjson refuses (lone
    # surrogates, NaN), and it is the more faithful reader: integers beyond 64 bits stay integers.
    try:
        data = json.loads(payload)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise _corrupt(label, f"not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise _corrupt(label, "the document is not a JSON object")
    # The version first: a newer igor may have changed anything else, and "upgrade" is the useful advice.
    meta_table = data.get("meta", {})
    meta = meta_table.get(str(_META_ID), {}) if isinstance(meta_table, dict) else None
    if not isinstance(meta, dict):
        raise _corrupt(label, "the meta record is not a JSON object")
    version = meta.get("schema_version", SCHEMA_VERSION)  # no meta yet: nothing was ever committed
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _corrupt(label, f"schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{label} was written by a newer igor (schema {version}); upgrade igor")
    for name, table in data.items():
        if not isinstance(table, dict):
            raise _corrupt(label, f"table {name!r} is not a JSON object")
        if not set(map(type, table.values())) <= {dict}:  # json makes no dict subclasses; looped in C
            raise _corrupt(label, f"table {name!r} holds a record that is not a JSON object")
    return data


def _serialize(data: _DocumentData) -> bytes:
    """The document as compact JSON on one line: plain JSON for TinyDB and jq.

    orjson encodes 5,000 reservations in ~2.5 ms (json took ~25 ms; an earlier digest-checked reuse of the
    previous document's record lines cost more code than orjson now takes in total). It refuses two
    things json wrote: strings with lone surrogates and integers beyond 64 bits; such documents are
    written by json instead, with the same strictness as before (no NaN, which orjson would turn into null
    silently); _parse_document reads both kinds.
    """
    import orjson  # writers only (see _parse_document)

    try:
        return orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError
        return _json_text(data).encode() + b"\n"


def _json_text(value: Any) -> str:
    """Strict JSON by the standard library: TypeError for non-JSON types, ValueError for NaN and infinity."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _load_records(
    raw: Mapping[str, Any], convert: Callable[[Mapping[str, Any]], _T], what: str, label: str
) -> dict[int, _T]:
    """Convert a whole table at once, ordered by id; the TinyDB key, not the record, is the id."""
    out: dict[int, _T] = {}
    key = "?"
    try:
        for key, record in raw.items():
            doc_id = int(key)
            value = convert(record)
            if value.id != doc_id:
                value = replace(value, id=doc_id)
            out[doc_id] = value
    except (ValueError, TypeError, AttributeError) as err:
        raise _corrupt(label, f"{what} {key}: {err}") from err
    ids = list(out)
    ordered = sorted(ids)
    return out if ids == ordered else {doc_id: out[doc_id] for doc_id in ordered}


def _load_nodes(raw: Mapping[str, Any], label: str) -> dict[str, NodeStatus]:
    out: dict[str, NodeStatus] = {}
    for key, record in raw.items():
        try:
            status = node_status_from_record(record)
        except (ValueError, TypeError, AttributeError) as err:
            raise _corrupt(label, f"node status {key}: {err}") from err
        out[status.name] = status
    return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the store holds at one instant, immutable so front ends can keep it between refreshes."""

    reservations: tuple[Reservation, ...] = ()  # sorted by id
    blocks: tuple[Block, ...] = ()  # sorted by id
    nodes: Mapping[str, NodeStatus] = field(default_factory=lambda: MappingProxyType({}))


def _reservation_map(raw: Mapping[str, Any], label: str) -> dict[int, Reservation]:
    return _load_records(raw, reservation_from_record, "reservation", label)


def _block_map(raw: Mapping[str, Any], label: str) -> dict[int, Block]:
    return _load_records(raw, block_from_record, "block", label)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Reading a document makes ~100,000 containers at once, none of them cyclic: the cyclic collector would
    only walk the growing heap again and again (~6% of a whole `igor show` at 5,000 reservations)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _snapshot(data: _DocumentData, label: str) -> Snapshot:
    return Snapshot(
        reservations=tuple(_reservation_map(data.get("reservations", {}), label).values()),
        blocks=tuple(_block_map(data.get("blocks", {}), label).values()),
        nodes=MappingProxyType(_load_nodes(data.get("nodes", {}), label)),
    )


# -------------------------------------------------------------------------------------- transactions


class _DocumentStorage:
    """Hands TinyDB the already-parsed document: no disk I/O per operation, so a transaction with any number
    of operations reads the file once (before) and writes it once (after, by the store). TinyDB only calls
    read, write and close (it never checks the class), so tinydb is imported by writing transactions only."""

    def __init__(self, data: _DocumentData) -> None:
        self.data = data
        self.dirty = False

    def read(self) -> _DocumentData | None:
        return self.data

    def write(self, data: _DocumentData) -> None:
        self.data = data
        self.dirty = True

    def close(self) -> None:
        pass


class Transaction(Protocol):
    """What the service may do inside one exclusive read-modify-write of the store."""

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


class StoreTransaction:
    """The one Transaction implementation behind both stores, so file and memory semantics cannot drift.

    Writes go through a TinyDB instance made for this transaction only (TinyDB caches next ids per
    instance, which is wrong across processes), created at the first write. Reads look at the parsed tables
    directly: wrapping thousands of records in TinyDB Documents costs more than the whole conversion.

    `data` is the parsed, validated document, owned by the transaction from now on. `reservations`, if
    given, are its reservations already converted (by a snapshot of the same bytes), sorted by id.
    """

    def __init__(
        self, data: _DocumentData, label: str, reservations: Sequence[Reservation] | None = None
    ) -> None:
        self._storage = _DocumentStorage(data)
        self._db: TinyDB | None = None
        self._label = label
        self._closed = False
        self._reservations: dict[int, Reservation] | None = (  # converted lazily, kept in step
            None if reservations is None else {r.id: r for r in reservations}
        )
        self._counters_checked: set[str] = set()
        self.archived: list[ArchivedReservation] = []  # appended to the archive before the commit

    # -- plumbing

    def _table(self, name: str) -> Table:
        self._check_open()
        if self._db is None:
            from tinydb import TinyDB

            storage = self._storage
            self._db = TinyDB(storage=lambda: storage)
        return self._db.table(name, cache_size=0)

    def _raw(self, name: str) -> dict[str, Any]:
        """The live table dict; TinyDB replaces it on every write, so never keep it across one."""
        self._check_open()
        return self._storage.data.get(name, {})

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this store transaction has ended; open a new one")

    def _insert(self, name: str, record: Mapping[str, Any], doc_id: int | None = None) -> int:
        table = self._table(name)
        if doc_id is None:
            return int(table.insert(record))
        from tinydb.table import Document

        return int(table.insert(Document(record, doc_id=doc_id)))

    def _insert_many(self, name: str, records: Mapping[int, Mapping[str, Any]]) -> None:
        """One table rewrite for all of them: TinyDB copies the whole table on every single insert."""
        from tinydb.table import Document

        self._table(name).insert_multiple(Document(record, doc_id=i) for i, record in records.items())

    def _update(self, name: str, record: Mapping[str, Any], doc_id: int) -> None:
        """Set the fields of `record`, keeping the record's other fields (TinyDB's update)."""
        self._table(name).update(record, doc_ids=[doc_id])

    def _replace(self, name: str, record: Mapping[str, Any], doc_id: int) -> None:
        """Replace the record as a whole: merging would keep a field the new record leaves out because it
        is back to its default (see `_stored_record`)."""

        def replace(doc: MutableMapping[str, Any]) -> None:
            doc.clear()
            doc.update(record)

        self._table(name).update(replace, doc_ids=[doc_id])

    def _remove(self, name: str, doc_id: int) -> None:
        """Removing nothing writes nothing."""
        if str(doc_id) in self._raw(name):
            self._table(name).remove(doc_ids=[doc_id])

    def _finish(self) -> bytes | None:
        """End the transaction: the new document to write, or None if nothing changed."""
        self._check_open()
        self._close()
        if not self._storage.dirty:
            return None
        data = self._storage.data
        if str(_META_ID) not in data.get("meta", {}):  # a written document always says its schema
            meta = {"schema_version": SCHEMA_VERSION, "next_id": 1, "next_block_id": 1}
            data["meta"] = {str(_META_ID): meta, **data.get("meta", {})}
        # Earlier versions ended the document with a digest of itself; nothing maintains it any more.
        data["meta"][str(_META_ID)].pop("digest", None)
        return _serialize(data)

    def _abort(self) -> None:
        self._close()

    def _close(self) -> None:
        self._closed = True
        if self._db is not None:
            self._db.close()

    def _take_ids(self, counter: str, table: str, count: int = 1) -> range:
        """Ids come from a counter in meta, never from max(id)+1, so removing the newest never reuses it.

        The first use per transaction also lifts the counter above any id present (hand edits, imports)."""
        meta = self._raw("meta").get(str(_META_ID))
        next_id = int((meta or {}).get(counter, 1))
        if counter not in self._counters_checked:
            self._counters_checked.add(counter)
            next_id = max(next_id, max((int(k) for k in self._raw(table)), default=0) + 1)
        if meta is None:
            fresh = {
                "schema_version": SCHEMA_VERSION,
                "next_id": 1,
                "next_block_id": 1,
                counter: next_id + count,
            }
            self._insert("meta", fresh, _META_ID)
        else:
            self._update("meta", {counter: next_id + count}, _META_ID)
        return range(next_id, next_id + count)

    # -- reservations

    def _reservation_map(self) -> dict[int, Reservation]:
        if self._reservations is None:
            with _gc_paused():
                self._reservations = _reservation_map(self._raw("reservations"), self._label)
        return self._reservations

    def reservations(self) -> list[Reservation]:
        """All reservations sorted by id (ids only grow, so insertion keeps the order)."""
        return list(self._reservation_map().values())

    def reservation(self, res_id: int) -> Reservation | None:
        if self._reservations is not None:
            self._check_open()
            return self._reservations.get(res_id)
        record = self._raw("reservations").get(str(res_id))
        if record is None:
            return None
        return _reservation_map({str(res_id): record}, self._label)[res_id]

    def add_reservation(self, res: Reservation) -> Reservation:
        """Store `res` under the next id (its own id is ignored) and return it as stored."""
        return self.add_reservations([res])[0]

    def add_reservations(self, many: Sequence[Reservation]) -> list[Reservation]:
        """Store all of `many` under consecutive new ids, in order, and return them as stored; the cost of
        one insert, where adding them one by one rewrites the whole table each time (bulk imports)."""
        if not many:
            self._check_open()
            return []
        ids = self._take_ids("next_id", "reservations", len(many))
        stored = [replace(res, id=res_id) for res, res_id in zip(many, ids, strict=True)]
        self._insert_many("reservations", {res.id: _stored_record(res) for res in stored})
        if self._reservations is not None:
            self._reservations.update((res.id, res) for res in stored)
        return stored

    def put_reservation(self, res: Reservation) -> None:
        """Replace the stored reservation with the same id; a vanished id is a lost race, not a KeyError."""
        if str(res.id) not in self._raw("reservations"):
            raise StoreError(f"reservation {res.id} ({res.name}) is no longer in the store")
        self._replace("reservations", _stored_record(res), res.id)
        if self._reservations is not None:
            self._reservations[res.id] = res

    def remove_reservation(self, res_id: int) -> None:
        """Idempotent, so a retried cleanup never fails. Ended reservations go through
        `archive_reservation` instead: this is for records that never were a booking."""
        self._remove("reservations", res_id)
        if self._reservations is not None:
            self._reservations.pop(res_id, None)

    def archive_reservation(self, res_id: int, *, why: str, by: str, when: datetime) -> Reservation | None:
        """Take the reservation out of the store into the archive (see archive.py); None if it is gone.

        A note left by `igor del` (the reservation stayed for igor-tick to tear down) supplies why, by
        whom and when instead of the caller's "ended"."""
        from .archive import ENDINGS_KEY, ArchivedReservation

        res = self.reservation(res_id)
        if res is None:
            return None
        endings = self.get_value(ENDINGS_KEY) or {}
        note = endings.pop(str(res_id), None)
        if note is not None:
            self.set_value(ENDINGS_KEY, endings)
            why, by = str(note.get("why", why)), str(note.get("by", by))
            with contextlib.suppress(TypeError, ValueError):
                when = _time_in(note["at"])
        self.archived.append(ArchivedReservation(reservation=res, archived=when, why=why, by=by))
        self.remove_reservation(res_id)
        return res

    def restore_reservation(self, res: Reservation) -> None:
        """Put an archived reservation back under its own id (ids are never reused, so it is free)."""
        if str(res.id) in self._raw("reservations"):
            raise StoreError(f"reservation {res.id} ({res.name}) is already in the store")
        self._insert("reservations", _stored_record(res), res.id)
        if self._reservations is not None:
            self._reservations[res.id] = res

    # -- blocks

    def blocks(self) -> list[Block]:
        return list(_block_map(self._raw("blocks"), self._label).values())

    def add_block(self, block: Block) -> Block:
        stored = replace(block, id=self._take_ids("next_block_id", "blocks")[0])
        self._insert("blocks", block_to_record(stored), stored.id)
        return stored

    def remove_block(self, block_id: int) -> None:
        self._remove("blocks", block_id)

    # -- node health

    def node_status(self) -> dict[str, NodeStatus]:
        return _load_nodes(self._raw("nodes"), self._label)

    def put_node_status(self, status: NodeStatus) -> None:
        """Upsert by node name: one record per node however often igor-tick probes it."""
        record = node_status_to_record(status)
        for key, existing in self._raw("nodes").items():
            if existing.get("name") == status.name:
                self._update("nodes", record, int(key))
                return
        self._insert("nodes", record)

    # -- key/value area

    def get_value(self, key: str, default: Any = None) -> Any:
        """A copy, so mutating the result cannot leak into the document behind the transaction's back."""
        for record in self._raw("kv").values():
            if record.get("key") == key:
                import copy

                return copy.deepcopy(record.get("value"))
        return default

    def set_value(self, key: str, value: Any) -> None:
        """Values are stored as JSON gives them back (tuples become lists) in memory and on disk alike;
        non-JSON values fail here rather than at commit."""
        import orjson

        stored = json.loads(_json_text(value))
        orjson.dumps(stored)  # TypeError for integers beyond 64 bits, which orjson would read back as floats
        for doc_key, record in self._raw("kv").items():
            if record.get("key") == key:
                self._update("kv", {"key": key, "value": stored}, int(doc_key))
                return
        self._insert("kv", {"key": key, "value": stored})


# -------------------------------------------------------------------------------------------- stores


class ReservationStore(Protocol):
    """Where reservations live; the service needs nothing else from a store."""

    def snapshot(self) -> Snapshot: ...
    def transaction(self) -> AbstractContextManager[Transaction]: ...
    def archived(self, name: str | None = None) -> list[ArchivedReservation]: ...
    def sweep_leftovers(self) -> list[str]: ...


class _DocumentStore:
    """Shared transaction logic; subclasses only say how to read, write and lock the serialized document."""

    label: str
    lock_timeout: float

    def __init__(self, lock_timeout: float) -> None:
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        self._last_snapshot: tuple[bytes, Snapshot] | None = None
        # The parse behind the last snapshot, until a transaction takes it (see `_begin`).
        self._spare: tuple[bytes, _DocumentData, tuple[Reservation, ...]] | None = None

    def _read_payload(self) -> bytes:
        raise NotImplementedError

    def _write_payload(self, payload: bytes) -> None:
        raise NotImplementedError

    def _exclusive(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _read_archive(self) -> bytes:
        raise NotImplementedError

    def _append_archive(self, lines: list[bytes]) -> None:
        raise NotImplementedError

    def archived(self, name: str | None = None) -> list[ArchivedReservation]:
        """Reservations taken out of the store (with `name`: of that name), one per id, oldest archival
        first; lock-free (the archive is append-only). Ids the store holds again (restored, or a crash
        before the removal committed) are left out, so the store's own answer always wins."""
        from .archive import parse_lines

        live = self.snapshot().reservations  # first: a damaged store is refused here too
        payload = self._read_archive()
        return (
            parse_lines(payload, reservation_from_record, (r.id for r in live), name=name) if payload else []
        )

    def snapshot(self) -> Snapshot:
        """Lock-free: writers replace the document atomically, so this sees the old or the new one.

        A front end refreshing an unchanged store gets the previous (immutable) snapshot back for the price
        of reading and comparing the bytes."""
        payload = self._read_payload()
        last = self._last_snapshot
        if last is not None and last[0] == payload:
            return last[1]
        with _gc_paused():
            data = _parse_document(payload, self.label)
            snap = _snapshot(data, self.label)
        self._last_snapshot = (payload, snap)
        self._spare = (payload, data, snap.reservations)  # the snapshot keeps no reference into `data`
        return snap

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """Exclusive read-modify-write; commits once on normal exit, writes nothing on an exception."""
        if getattr(self._local, "active", False):
            # The lock is not re-entrant: waiting for ourselves would only end in a misleading timeout.
            raise StoreError("nested store transaction: igor already holds the store in this thread")
        self._local.active = True
        try:
            with self._exclusive():
                tx = self._begin(self._read_payload())
                try:
                    yield tx
                except BaseException:
                    tx._abort()
                    raise
                payload = tx._finish()
                if tx.archived:  # durable before the removal commits: a crash in between loses nothing
                    from .archive import entry_line

                    self._append_archive([entry_line(entry, reservation_to_record) for entry in tx.archived])
                if payload is not None:
                    self._write_payload(payload)
        finally:
            self._local.active = False

    def _begin(self, payload: bytes) -> StoreTransaction:
        """A transaction over `payload`. If a snapshot just parsed exactly these bytes (`igor sub` checks
        the name lock-free first), the transaction takes over that parse and those converted reservations
        instead of doing both again: at 5,000 reservations that is ~40 ms of a 150 ms budget. Called under
        the exclusive lock, so no two transactions can take the same spare; taking it leaves none behind
        and the immutable snapshot shares nothing mutable with it."""
        spare, self._spare = self._spare, None
        if spare is not None and spare[0] == payload:
            return StoreTransaction(spare[1], self.label, spare[2])
        with _gc_paused():
            data = _parse_document(payload, self.label)
        return StoreTransaction(data, self.label)


class TinyStore(_DocumentStore):
    """The store on disk: `igor.json` in a state directory, guarded by the never-replaced `igor.lock`."""

    def __init__(self, directory: str | os.PathLike[str], *, lock_timeout: float = 10.0) -> None:
        super().__init__(lock_timeout)
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, DOCUMENT_NAME)
        self.lock_path = os.path.join(self.directory, LOCK_NAME)
        self.archive_path = os.path.join(self.directory, ARCHIVE_NAME)
        self.label = self.path

    def __repr__(self) -> str:
        return f"TinyStore({self.directory!r})"

    def _read_payload(self) -> bytes:
        """The document's bytes; b"" only when there is no file at all (the one case of a new store).

        A file that exists but is empty or blank is damage (a full disk, a bad restore, `> igor.json`),
        never a new store: reading it as one let the next booking write over every other reservation."""
        try:
            with open(self.path, "rb") as handle:
                payload = handle.read()
        except FileNotFoundError:
            return b""  # no state directory or no document yet: an empty store
        except OSError as err:
            raise StoreError(f"cannot read the igor store {self.path}: {err.strerror or err}") from err
        if not payload.strip():
            raise _corrupt(self.label, "the file holds only whitespace" if payload else "the file is empty")
        return payload

    def _read_archive(self) -> bytes:
        from .archive import read_file

        return read_file(self.archive_path)

    def _append_archive(self, lines: list[bytes]) -> None:
        from .archive import append_file

        append_file(self.archive_path, lines)

    def _ensure_directory(self) -> None:
        try:
            os.makedirs(self.directory, mode=_DIR_MODE)
        except FileExistsError:
            return
        except OSError as err:
            why = err.strerror or err
            raise StoreError(f"cannot create the state directory {self.directory}: {why}") from err
        with contextlib.suppress(OSError):
            os.chmod(self.directory, _DIR_MODE)  # makedirs honours the umask; readers need r-x

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self._ensure_directory()
        if _LOCKING == "flock":
            fd = self._flock()
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        else:
            with self._portalocker():
                yield

    def _busy(self) -> StoreError:
        return StoreError(
            f"the igor store is busy: another igor process has held {self.lock_path} "
            f"for more than {self.lock_timeout:g}s; try again"
        )

    def _flock(self) -> int:
        """The open, exclusively flocked igor.lock: portalocker.Lock(mode="a", fail_when_locked=False)'s
        semantics (create if missing, never truncate, poll a non-blocking lock until the timeout)."""
        try:
            fd = os.open(self.lock_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as err:
            raise StoreError(f"cannot lock the igor store {self.lock_path}: {err}") from err
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:  # EWOULDBLOCK: another open file description holds it
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._busy() from None
                    time.sleep(min(_LOCK_POLL_SECONDS, remaining))
                except OSError as err:  # no locking on this file system, ...: waiting cannot help
                    raise StoreError(f"cannot lock the igor store {self.lock_path}: {err}") from err
        except BaseException:
            os.close(fd)
            raise

    @contextmanager
    def _portalocker(self) -> Iterator[None]:
        import portalocker  # ~32 ms to import, hence flock where there is fcntl

        lock = portalocker.Lock(
            self.lock_path,
            mode="a",
            timeout=self.lock_timeout,
            check_interval=_LOCK_POLL_SECONDS,
            fail_when_locked=False,
        )
        try:
            lock.acquire()
        except portalocker.exceptions.AlreadyLocked as err:
            raise self._busy() from err
        except (portalocker.exceptions.LockException, OSError) as err:
            raise StoreError(f"cannot lock the igor store {self.lock_path}: {err}") from err
        try:
            yield
        finally:
            lock.release()

    def _remove_leftover_temps(self) -> list[str]:
        """Temp files of writers killed mid-commit, whatever their age. Only called with the store lock
        held: a writer makes its temp file only while it holds that lock, so any temp file seen now
        belongs to a writer that is gone. Best effort; they are harmless apart from space."""
        from .tempfiles import remove_files

        return remove_files(self.directory, lambda name: name.startswith(TEMP_PREFIX))

    def sweep_leftovers(self) -> list[str]:
        """Take the store lock and remove crash leftovers (igor-tick calls this each run, so they go at
        the next tick rather than only once a later commit happens to look)."""
        if not os.path.isdir(self.directory):
            return []
        with self._exclusive():
            return self._remove_leftover_temps()

    def _write_payload(self, payload: bytes) -> None:
        """Temp file + fsync + rename: a reader or a crash sees the old document or the new, never a mix."""
        import tempfile  # writers only

        self._remove_leftover_temps()
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=TEMP_PREFIX)
        except OSError as err:
            raise StoreError(f"cannot write the igor store {self.path}: {err.strerror or err}") from err
        replaced = False
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, self.path)
            replaced = True
        except OSError as err:
            raise StoreError(f"cannot write the igor store {self.path}: {err.strerror or err}") from err
        finally:
            if not replaced:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        # Make the rename itself durable. Other processes already see the new document, so a failure
        # here must not report the committed transaction as failed.
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


class MemoryStore(_DocumentStore):
    """The same store in memory, for tests and the TUI demo. It keeps the serialized document, so every
    transaction works on a private copy and JSON round-tripping behaves exactly as on disk."""

    def __init__(self, *, lock_timeout: float = 10.0) -> None:
        super().__init__(lock_timeout)
        self.label = "<memory store>"
        self._payload = b""
        self._archive = b""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def _read_payload(self) -> bytes:
        return self._payload

    def _write_payload(self, payload: bytes) -> None:
        self._payload = payload

    def sweep_leftovers(self) -> list[str]:
        """Nothing on disk, nothing left over."""
        return []

    def _read_archive(self) -> bytes:
        return self._archive

    def _append_archive(self, lines: list[bytes]) -> None:
        self._archive += b"".join(lines)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.lock_timeout):
            raise StoreError(
                f"the igor store is busy: another transaction has held the in-memory store "
                f"for more than {self.lock_timeout:g}s; try again"
            )
        try:
            yield
        finally:
            self._lock.release()
