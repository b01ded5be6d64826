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

from typing import Any

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
    payload, spans = old if old is not None else (b"", None)
    where = {} if spans is None else dict(zip(spans[2], zip(spans[3], spans[4], strict=True), strict=True))
    by_orjson = old is None and sum(map(len, data.values())) >= document.ORJSON_FROM_RECORDS
    chunks: list[bytes] = []
    pos = 0
    found: Spans | None = None
    for i, (name, table) in enumerate(data.items()):
        chunks.append((b"," if i else b"{") + encode_json(name, by_orjson=False) + b":")
        pos += len(chunks[-1])
        if name != TABLE:
            chunks.append(encode_json(table, by_orjson=by_orjson))
            pos += len(chunks[-1])
            continue
        start, keys, starts, ends = pos, [], [], []
        for j, (key, record) in enumerate(table.items()):
            text = (
                key.encode() if key.isdigit() and key.isascii() else encode_json(key, by_orjson=False)[1:-1]
            )
            head = (b',"' if j else b'{"') + text + b'":'
            if type(record) is RawRecord and not record:
                value = payload[slice(*where[key])]
            else:
                value = encode_json(record, by_orjson=by_orjson)
            pos += len(head)
            keys.append(key)
            starts.append(pos)
            pos += len(value)
            ends.append(pos)
            chunks += (head, value)
        chunks.append(b"}" if keys else b"{}")
        pos += len(chunks[-1])
        found = (start, pos, tuple(keys), tuple(starts), tuple(ends))
    chunks.append(b"}\n" if chunks else b"{}\n")
    return b"".join(chunks), found
