"""igor's TinyDB storage: one locked read of the document, one atomic write of it, per transaction.

TinyDB is not safe across processes by itself, and its JSONStorage rewrites the file in place (a reader
could see it torn) on every single insert. This storage is what TinyDB reads and writes through instead:
`read()` reads and validates the document once (the store holds its lock), TinyDB's writes stay in
memory, and `commit()` writes the result once, by temp file + fsync + `os.replace`, so a reader or a crash
sees the old document or the new one, never a mix. An aborted transaction simply never commits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from ..errors import StoreError
from ..typenames import TYPE_CHECKING
from . import document, spliced
from .document import META_ID, SCHEMA_VERSION, DocumentData, _corrupt, _gc_paused, _serialize

if TYPE_CHECKING:
    from typing import TypeAlias

    from ..model import Reservation
    from .cache import Identity, Rows
    from .spliced import Spans

    Converted: TypeAlias = tuple[Reservation, ...] | Rows
    """Reservations already decoded: a snapshot's, or the snapshot cache's columns, built as a
    transaction asks (cache.Rows)."""

FILE_MODE = 0o644  # the TUI and `igor show` may run as other users than the writer

Spare = tuple["bytes | Identity", "DocumentData | None", "Converted"]
"""A snapshot's bytes (a file's: its identity, see cache.py), their parse (None when the snapshot came
from the cache) and their converted reservations, for a transaction to take over; the storage is given
one whose first item is the bytes it reads."""


class DocumentStorage:
    """A TinyDB Storage (TinyDB calls only `read`, `write` and `close`, and never checks the class, so
    tinydb need not be imported to define it) over one document for one transaction.

    `read_payload`/`write_payload` are the store's raw I/O (a file, or bytes in memory). If `spare` holds
    a parse of exactly the bytes read (a snapshot just parsed them: `igor sub` checks the name lock-free
    first), the storage takes over that parse and those converted reservations instead of doing both
    again: at 5,000 reservations that is ~40 ms of a 150 ms budget."""

    def __init__(
        self,
        read_payload: Callable[[], bytes],
        write_payload: Callable[[bytes], None],
        label: str,
        spare: Spare | None = None,
        spans: Spans | None = None,
    ) -> None:
        """`spans`: where the spare's reservation records lie in its bytes, if known (see spliced.py)."""
        self.label = label
        self._write_payload = write_payload
        payload = read_payload()
        self.converted: Converted | None = None
        self._old: tuple[bytes, Spans] | None = None  # the bytes of the records left unparsed
        self.spans: Spans | None = None  # where the records lie in what `commit` wrote
        parsed = None
        if spare is not None and spare[0] == payload:
            parsed, self.converted = spare[1], spare[2]
            if parsed is None and spans is not None:
                parsed = spliced.parse_without_reservations(payload, spans, label)
                self._old = None if parsed is None else (payload, spans)
        if parsed is None:
            with _gc_paused():
                parsed = document._parse_document(payload, label)  # looked up late: tests count parses
        self.data = parsed
        self.dirty = False
        self.written = b""  # what `commit` wrote

    def read(self) -> DocumentData:
        return self.data

    def write(self, data: DocumentData) -> None:
        self.data = data
        self.dirty = True

    def close(self) -> None:
        """TinyDB's close: nothing to release (the store holds the lock; `commit` writes)."""

    def commit(self) -> None:
        """Write the document if anything changed (see `dirty`), always saying its schema."""
        if not self.dirty:
            return
        data = self.data
        if str(META_ID) not in data.get("meta", {}):  # a written document always says its schema
            meta = {"schema_version": SCHEMA_VERSION, "next_id": 1, "next_block_id": 1}
            data["meta"] = {str(META_ID): meta, **data.get("meta", {})}
        # Earlier versions ended the document with a digest of itself; nothing maintains it any more.
        data["meta"][str(META_ID)].pop("digest", None)
        if self._old is not None or sum(map(len, data.values())) >= document.ORJSON_FROM_RECORDS:
            self.written, self.spans = spliced.serialize(data, self._old)
        else:  # small: parsed whole in well under a millisecond, so not worth knowing where records lie
            self.written = _serialize(data)
        self._write_payload(self.written)


def read_file(path: str, label: str) -> tuple[bytes, os.stat_result | None]:
    """The document's bytes and the stat of the file they were read from (for the snapshot cache); b""
    and None only when there is no file at all (the one case of a new store).

    A file that exists but is empty or blank is damage (a full disk, a bad restore, `> igor.json`),
    never a new store: reading it as one let the next booking write over every other reservation."""
    try:
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            payload = handle.read()
            after = os.fstat(handle.fileno())
    except FileNotFoundError:
        return b"", None  # no state directory or no document yet: an empty store
    except OSError as err:
        raise StoreError(f"cannot read the igor store {path}: {err.strerror or err}") from err
    if not payload or payload.isspace():  # not strip(): that copies the whole document to look at its ends
        raise _corrupt(label, "the file holds only whitespace" if payload else "the file is empty")
    changed = (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
        before.st_size,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )  # edited in place while it was read (never by igor): no identity to cache it under
    return payload, None if changed else after


def replace_file(directory: str, path: str, prefix: str, payload: bytes) -> None:
    """Temp file + fsync + rename: a reader or a crash sees the old document or the new, never a mix."""
    from ..tempfiles import fsync_directory, make_temp  # writers only

    try:
        fd, tmp = make_temp(directory, prefix)
    except OSError as err:
        raise StoreError(f"cannot write the igor store {path}: {err.strerror or err}") from err
    replaced = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
        replaced = True
    except OSError as err:
        raise StoreError(f"cannot write the igor store {path}: {err.strerror or err}") from err
    finally:
        if not replaced:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    # Make the rename itself durable. Other processes already see the new document, so a failure
    # here must not report the committed transaction as failed.
    with contextlib.suppress(OSError):
        fsync_directory(directory)
