"""The igor document: one JSON object of TinyDB tables, validated whole when read and written canonically.

Lock-free readers (the TUI's refresh, `igor show`) and transactions both read through here, so a document
is judged the same way whoever reads it."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from ..errors import StoreError
from ..model import Block, NodeStatus, Policy, Reservation
from ..typenames import Any, TypeVar
from ..values import replace
from .codec import block_from_record, node_status_from_record, policy_from_record, reservation_from_record
from .protocol import Snapshot

SCHEMA_VERSION = 1
"""Bump only together with an explicit migration; older igors refuse documents with a higher number."""

META_ID = 1
"""The TinyDB id of the one record of the `meta` table (schema version and the id counters)."""

DocumentData = dict[str, dict[str, Any]]
_T = TypeVar("_T", Reservation, Block, Policy)


def _corrupt(label: str, why: str) -> StoreError:
    return StoreError(
        f"the igor store {label} is corrupt ({why}); igor will not start over from an empty store: "
        f"restore the file from a backup or move it aside"
    )


def _parse_document(payload: bytes, label: str) -> DocumentData:
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
    meta = meta_table.get(str(META_ID), {}) if isinstance(meta_table, dict) else None
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


ORJSON_FROM_RECORDS = 2_000
"""Documents of this many records or more are encoded by orjson, smaller ones by json. Why: importing
orjson imports dataclasses, inspect, uuid and platform, which (measured on the 2-core reference machine,
CPU time) costs about as much as json takes to encode ~2,000 reservations (~5 us each; orjson ~0.3 us).
At issue 14's 100 reservations json encodes the whole document in ~0.5 ms and the import was the
write's biggest single cost; at 5,000 orjson still repays its import."""


def _serialize(data: DocumentData) -> bytes:
    """The document as compact JSON on one line: plain JSON for TinyDB and jq.

    orjson encodes 5,000 reservations in ~2.5 ms (json took ~25 ms; an earlier digest-checked reuse of the
    previous document's record lines cost more code than orjson now takes in total), but small documents
    are written by json (see ORJSON_FROM_RECORDS), in the same bytes orjson would write (UTF-8, compact).
    Either way, what orjson refuses (strings with lone surrogates, integers beyond 64 bits) is written by
    json with ASCII escapes, with the same strictness as before (no NaN, which orjson would turn into null
    silently); _parse_document reads every kind.
    """
    return encode_json(data, by_orjson=sum(map(len, data.values())) >= ORJSON_FROM_RECORDS) + b"\n"


def encode_json(value: Any, *, by_orjson: bool) -> bytes:
    """One JSON value as `_serialize` writes it (compact JSON of a value is the same bytes wherever it
    stands, so a document can also be put together from its parts: see storage.py)."""
    if not by_orjson:
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: escaped, as for what orjson refuses below
            return _json_text(value).encode()
        except ValueError:  # NaN or infinity, only from a hand edit: written by orjson, as before
            pass
    import orjson  # writers of big documents only (see _parse_document)

    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return _json_text(value).encode()


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


def _reservation_map(raw: Mapping[str, Any], label: str) -> dict[int, Reservation]:
    return _load_records(raw, reservation_from_record, "reservation", label)


def _block_map(raw: Mapping[str, Any], label: str) -> dict[int, Block]:
    return _load_records(raw, block_from_record, "block", label)


def _policy_map(raw: Mapping[str, Any], label: str) -> dict[int, Policy]:
    return _load_records(raw, policy_from_record, "policy", label)


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


def raw_table(data: DocumentData, name: str) -> dict[str, Any]:
    """A table's records as parsed, keyed by id text, read past TinyDB: the store's one raw read, used by
    snapshots (every record, converted) and transactions (all reservations, converted; ids present).

    Why: every caller converts every record to a model value at once, which TinyDB cannot help with,
    and TinyDB's `table.all()` first copies each record into a Document. Measured at 5,000 reservations
    (CPU time, best of 25): converting the raw table ~25 ms; `all()` alone ~7 ms, `all()` + conversion
    ~37 ms (+45%). A snapshot does not even import tinydb (~2 ms of `igor show`).
    The dict is TinyDB's live table: never keep it across a write."""
    return data.get(name, {})


def _snapshot(
    data: DocumentData, label: str, reservations: tuple[Reservation, ...] | None = None
) -> Snapshot:
    """Every table converted; `reservations` when they already are (the snapshot cache keeps them decoded
    and the other tables as parsed, so a table added here is cached without a change there)."""
    if reservations is None:
        reservations = tuple(_reservation_map(raw_table(data, "reservations"), label).values())
    return Snapshot(
        reservations=reservations,
        blocks=tuple(_block_map(raw_table(data, "blocks"), label).values()),
        nodes=MappingProxyType(_load_nodes(raw_table(data, "nodes"), label)),
        policies=tuple(_policy_map(raw_table(data, "policies"), label).values()),
    )
