"""Writing a document without parsing or encoding the reservations a transaction did not touch.

A booking at 5,000 reservations changes one record of a 2.7 MB document; parsing all of it for TinyDB
(~15-25 ms) and encoding it again (~2.5 ms, plus ~8 ms to import orjson) was most of a write's own cost.
Compact JSON is the same bytes wherever a value stands, so a document igor wrote can be put back together
from the old document's bytes for the untouched records and fresh encodings of the rest, and be exactly
what encoding the whole parse would have written (`document._serialize`).

For that a writer records where each reservation record lies in what it wrote (`Spans`), and the snapshot
cache keeps them beside the document (cache.py: valid only for exactly those bytes). A transaction that
starts from such a cache parses the document with its reservations table cut out and gives TinyDB an empty
`RawRecord` per reservation: TinyDB only ever adds, removes or wholly replaces reservation records (the
transaction reads reservations from the converted snapshot, never through TinyDB), so a record still
empty and raw at the commit is the old bytes, and anything else is encoded.
"""

from __future__ import annotations

import itertools
import operator

from ..typenames import Any
from . import document
from .document import DocumentData, _gc_paused, encode_json

Spans = tuple[int, int, tuple[str, ...], tuple[int, ...], tuple[int, ...]]
"""Where the reservations table lies in a document igor wrote: the table's own [start, end) and, in the
document's order, each record's key and the [start, end) of its value."""

TABLE = "reservations"


class RawRecord(dict[str, Any]):
    """A reservation record left unparsed: empty until TinyDB replaces it with a new record."""

    __slots__ = ()


def parse_without_reservations(payload: bytes, spans: Spans, label: str) -> DocumentData | None:
    """The document's parse with a RawRecord for each reservation, or None if `spans` do not fit it."""
    start, end, keys, _, _ = spans
    if payload[start : start + 1] != b"{" or payload[end - 1 : end] != b"}":
        return None
    with _gc_paused():
        data = document._parse_document(payload[:start] + b"{}" + payload[end:], label)  # tests count parses
        if data.get(TABLE) != {}:
            return None
        data[TABLE] = {key: RawRecord() for key in keys}
    return data


def serialize(data: DocumentData, old: tuple[bytes, Spans] | None) -> tuple[bytes, Spans | None]:
    """`document._serialize(data)` put together from parts, and where its reservation records lie.

    With `old` (the document read and its spans), every record still a RawRecord is copied from it and
    only the others are encoded, by json (a few records do not repay importing orjson); without, every
    record is encoded, by the encoder `_serialize` would choose for the whole document. (The one
    difference: a value orjson refuses is escaped in that record alone, not in the whole document.)"""
    by_orjson = old is None and sum(map(len, data.values())) >= document.ORJSON_FROM_RECORDS
    chunks: list[bytes] = []
    found: Spans | None = None
    for i, (name, table) in enumerate(data.items()):
        chunks.append((b"," if i else b"{") + encode_json(name, by_orjson=False) + b":")
        if name != TABLE:
            chunks.append(encode_json(table, by_orjson=by_orjson))
            continue
        start = sum(map(len, chunks))
        if not table:
            chunks.append(b"{}")
            found = (start, start + 2, (), (), ())
            continue
        records = _Records(start)
        if old is None:
            for key, record in table.items():
                records.add(key, encode_json(record, by_orjson=by_orjson))
        else:
            records.splice(table, *old)
        chunks += records.chunks
        chunks.append(b"}")
        found = (start, records.pos + 1, tuple(records.keys), tuple(records.starts), tuple(records.ends))
    chunks.append(b"}\n" if chunks else b"{}\n")
    return b"".join(chunks), found


class _Records:
    """The reservations table's text as it is put together, and where each record's value lies."""

    def __init__(self, pos: int) -> None:
        self.pos = pos
        self.chunks: list[bytes] = []
        self.keys: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def _head(self, key: str) -> None:
        text = key.encode() if key.isdigit() and key.isascii() else encode_json(key, by_orjson=False)[1:-1]
        self.chunks.append((b',"' if self.keys else b'{"') + text + b'":')
        self.pos += len(self.chunks[-1])

    def add(self, key: str, value: bytes) -> None:
        self._head(key)
        self.keys.append(key)
        self.starts.append(self.pos)
        self.pos += len(value)
        self.ends.append(self.pos)
        self.chunks.append(value)

    def splice(self, table: dict[str, Any], payload: bytes, spans: Spans) -> None:
        """Runs of untouched records that were neighbours in the old document are copied in one slice
        each (with the keys between them), so the cost grows with the changes, not the table: the
        runs are found by a few passes in C over the keys, not a Python step per record."""
        _, _, old_keys, old_starts, old_ends = spans
        keys, values = list(table), list(table.values())
        if tuple(keys[: len(old_keys)]) == old_keys:  # the usual: old records in place, new ones after
            at = list(range(len(old_keys)))
            at += itertools.repeat(-2, len(keys) - len(at))  # -2: not in the old document
        else:
            index = dict(zip(old_keys, range(len(old_keys)), strict=True))
            at = list(map(index.get, keys, itertools.repeat(-2)))
        changed = map(
            operator.or_,
            map(operator.is_not, map(type, values), itertools.repeat(RawRecord)),
            map(bool, values),
        )
        cuts = set(itertools.compress(itertools.count(), changed))  # records to encode (all in C)
        cuts |= {k + 1 for k in cuts}
        steps = map(operator.ne, map(operator.sub, at[1:], at[:-1]), itertools.repeat(1))
        cuts.update(itertools.compress(itertools.count(1), steps))  # where the old order breaks
        bounds = sorted(cuts | {0, len(keys)})
        for a, b in itertools.pairwise(bounds):
            value = values[a]
            if type(value) is not RawRecord or value:  # a changed record: alone between two cuts
                self.add(keys[a], encode_json(value, by_orjson=False))
                continue
            first, last = at[a], at[b - 1]
            self._head(keys[a])
            delta = self.pos - old_starts[first]
            self.chunks.append(payload[old_starts[first] : old_ends[last]])
            self.keys += old_keys[first : last + 1]
            self.starts += map(operator.add, old_starts[first : last + 1], itertools.repeat(delta))
            self.ends += map(operator.add, old_ends[first : last + 1], itertools.repeat(delta))
            self.pos = self.ends[-1]
