"""The decoded snapshot beside the document: `igor.snapshot`, so a command need not parse and convert the
whole JSON document (at 5,000 reservations ~50 ms of every command, ~200 ms at 20,000).

The TinyDB document stays the only source of truth: the cache is derived from it, never read by a
transaction's writes, and any doubt about it (missing, torn, another format, another document, owned by
someone else) means it is ignored and the document is read as before.

Which document: the cache names the document's identity, (st_dev, st_ino, st_size, st_mtime_ns,
st_ctime_ns) of the file its content was decoded from, and is used only while `igor.json` has exactly
that identity. Every igor write replaces `igor.json` by a new file (a new inode, with a new ctime that no
user can set), and every cache is written under the store's lock by the writer that just committed (or
a reader that holds the lock and has checked the document has not moved): a writer first removes the
cache, then replaces the document, then writes the new cache. So a cache can only ever name the
document that is in place while its writer holds the lock, and a same-size rewrite that reuses a freed
inode number within one clock tick (the case a content generation counter would otherwise catch) cannot
meet an old cache: the old one was removed before the rewrite. (A counter in the meta record was not
used: the document's meta record is part of its published layout, and tests pin it.)

Why marshal: it loads plain tuples and dicts ~4x faster than json parses the same document, and unlike
pickle it cannot run code, whoever wrote the file. A cache is still only read when it is a regular file
owned by the document's owner and writable by nobody else: then it is as trustworthy as the document,
whose owner could write anything into that too. It carries a CRC of its body, so a file a power cut
left half-written (it is not fsynced: it is rebuilt at will) fails the check instead of loading. Its
mode is the document's (0644): it holds nothing the document does not, and `igor show` runs as any user.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import os
import stat
import zlib
from collections.abc import Container, Iterator
from datetime import datetime

from ..typenames import TYPE_CHECKING, Any
from .codec import PLAIN_FIELDS, _time_in, reservations_from_plain
from .document import DocumentData, _snapshot
from .protocol import Snapshot
from .spliced import Spans

if TYPE_CHECKING:
    from ..model import Reservation

CACHE_FORMAT = ("igor snapshot", 2, PLAIN_FIELDS)
"""Changes whenever the tuples would mean something else (a new Reservation field changes PLAIN_FIELDS)."""

Identity = tuple[int, int, int, int, int, int, int]
OWNER = 2
"""The document's owner's uid in an Identity: the only user whose cache is trusted (see above)."""


def identity(st: os.stat_result, payload: bytes) -> Identity:
    """The document file's identity and owner and its content's CRC (~0.5 ms at 5,000 reservations)."""
    return (st.st_dev, st.st_ino, st.st_uid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, zlib.crc32(payload))


Plain = tuple[tuple[Any, ...], ...]
"""The reservations as plain columns (codec.reservations_to_plain)."""


def load(path: str, document: Identity, label: str) -> tuple[Snapshot, Plain, Spans | None] | None:
    """The cached snapshot of the document of this identity, its reservations' plain columns
    (for the next write to patch) and where their records lie in the document (spliced.py), or None to
    read the document."""
    found = _read(path, document)
    if found is None:
        return None
    plain, tables, spans = found
    try:
        return _snapshot(tables, label, reservations_from_plain(plain)), plain, spans
    except Exception:  # noqa: BLE001 - any damage at all only means "read the document instead"
        return None


def load_rows(path: str, document: Identity) -> tuple[Rows, Spans | None] | None:
    """The cached reservations of the document of this identity, built only as far as a transaction
    asks (`Rows`), and where their records lie in the document; or None to read the document."""
    found = _read(path, document)
    if found is None:
        return None
    plain, _, spans = found
    columns = len(plain) if isinstance(plain, tuple) else 0
    if columns != len(PLAIN_FIELDS) or len({len(column) for column in plain}) > 1:
        return None  # the wrong shape: read the document instead (building it would fail later)
    return Rows(plain), spans


def _read(path: str, document: Identity) -> tuple[Plain, dict[str, Any], Spans | None] | None:
    """The cache's body if it is of the document of this identity, intact and trusted, else None.

    The file is a small header (format, identity, the body's size and CRC) and the body, so a cache of
    another document costs one small read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) and st.st_uid == document[OWNER] and not st.st_mode & 0o022):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            size = int.from_bytes(handle.read(4), "big")
            fmt, ident, length, crc = marshal.loads(handle.read(size))
            if fmt != CACHE_FORMAT or ident != document:
                return None
            body = handle.read(length)
        if len(body) != length or zlib.crc32(body) != crc:
            return None
        plain, tables, spans = marshal.loads(body)
        return plain, tables, spans
    except Exception:  # noqa: BLE001 - any damage at all only means "read the document instead"
        return None
    finally:
        os.close(fd)


_ID, _NAME, _START, _END = (PLAIN_FIELDS.index(name) for name in ("id", "name", "start", "end"))
_HASH_COLUMNS = (PLAIN_FIELDS.index("kernel_hash"), PLAIN_FIELDS.index("initrd_hash"))


class Rows:
    """A transaction's cached reservations as their plain columns, built into Reservations only when
    asked: all of them for anything that reads them all, or only those igor-tick plans over
    (`started_by`), or one by id or by name (`igor del`). At 5,000 reservations, building all costs
    ~7 ms of an idle tick that needs ~65. The columns are the document as the transaction read it:
    the transaction answers for what it changed since."""

    __slots__ = ("_all", "columns")

    def __init__(self, columns: Plain) -> None:
        self.columns = columns
        self._all: tuple[Reservation, ...] | None = None

    def __len__(self) -> int:
        return len(self.columns[_ID])

    def __iter__(self) -> Iterator[Reservation]:
        return iter(self.all())

    def all(self) -> tuple[Reservation, ...]:
        """Every reservation, sorted by id (built once)."""
        if self._all is None:
            self._all = reservations_from_plain(self.columns)
        return self._all

    def started_by(self, when: datetime, ids: Container[int], skip: Container[int] = ()) -> list[Reservation]:
        """The reservations that start or end at or before `when`, or whose id is in `ids`, sorted by id,
        leaving out the ids in `skip`; only these are built. Each distinct start and end text is read
        once (they repeat). (Once a transaction has built them all it filters its own map instead: see
        `reservations_started_by`.)"""
        columns = self.columns
        texts = set(columns[_START]).union(columns[_END])
        due = {text for text in texts if _time_in(text) <= when}
        keep = [
            i
            for i, (rid, start, end) in enumerate(
                zip(columns[_ID], columns[_START], columns[_END], strict=True)
            )
            if (start in due or end in due or rid in ids) and rid not in skip
        ]
        return self._build(keep)

    def by_id(self, res_id: int) -> Reservation | None:
        """The reservation of this id, built alone (found by a scan in C: ~20 us at 5,000)."""
        try:
            i = self.columns[_ID].index(res_id)
        except ValueError:
            return None
        return self._build([i])[0]

    def ids_named(self, name: str) -> list[int]:
        """The ids of the reservations called `name`, without building any."""
        columns = self.columns
        return [rid for rid, named in zip(columns[_ID], columns[_NAME], strict=True) if named == name]

    def content_hashes(self, skip: Container[int] = ()) -> set[str]:
        """Every kernel and initrd digest the reservations name ("" included), leaving out the ids in
        `skip`, without building them."""
        kernel, initrd = (self.columns[i] for i in _HASH_COLUMNS)
        if not skip:
            return set(kernel).union(initrd)
        kept = [rid not in skip for rid in self.columns[_ID]]
        return set(itertools.compress(kernel, kept)).union(itertools.compress(initrd, kept))

    def _build(self, rows: list[int]) -> list[Reservation]:
        return list(reservations_from_plain(tuple([column[i] for i in rows] for column in self.columns)))


def dump(
    where: tuple[str, str],
    document: Identity,
    plain: Plain,
    data: DocumentData,
    spans: Spans | None,
) -> None:
    """Write the cache of the document of this identity (its reservations as plain columns, `data` its
    parse, for the other tables), atomically; best effort, since a missing cache only costs time. The
    caller holds the store's lock; `where` is (cache path, temp file prefix).

    The parse of the reservations table itself is not kept: loading it by marshal instead of parsing
    the JSON would save a transaction ~5 ms at 5,000 reservations, and cost every write ~11 ms."""
    path, temp_prefix = where
    tables: dict[str, Any] = {name: table for name, table in data.items() if name != "reservations"}
    body = marshal.dumps((plain, tables, spans))
    head = marshal.dumps((CACHE_FORMAT, document, len(body), zlib.crc32(body)))
    from ..tempfiles import replace_unsynced  # writers only

    with contextlib.suppress(OSError):
        replace_unsynced(path, temp_prefix, (len(head).to_bytes(4, "big") + head, body), mode=0o644)


def remove(path: str) -> None:
    """Before the document is replaced (see the module docstring). Best effort: a cache that resists
    still names the old document's inode, which the new document cannot have while it exists."""
    with contextlib.suppress(OSError):
        os.unlink(path)
