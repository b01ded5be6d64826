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
from . import document
from .document import META_ID, SCHEMA_VERSION, DocumentData, _corrupt, _gc_paused, _serialize

if TYPE_CHECKING:
    from ..model import Reservation

FILE_MODE = 0o644  # the TUI and `igor show` may run as other users than the writer

Spare = tuple[bytes, DocumentData, "tuple[Reservation, ...]"]
"""A snapshot's parse of some bytes and its converted reservations, for a transaction to take over."""


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
    ) -> None:
        self.label = label
        self._write_payload = write_payload
        payload = read_payload()
        self.converted: tuple[Reservation, ...] | None = None
        if spare is not None and spare[0] == payload:
            self.data, self.converted = spare[1], spare[2]
        else:
            with _gc_paused():
                self.data = document._parse_document(payload, label)  # looked up late: tests count parses
        self.dirty = False

    def read(self) -> DocumentData:
        return self.data

    def write(self, data: DocumentData) -> None:
        self.data = data
        self.dirty = True

    def close(self) -> None:
        """TinyDB's close: nothing to release (the store holds the lock; `commit` writes)."""

    def commit(self) -> None:
        """Write the document if anything changed, always saying its schema."""
        if not self.dirty:
            return
        data = self.data
        if str(META_ID) not in data.get("meta", {}):  # a written document always says its schema
            meta = {"schema_version": SCHEMA_VERSION, "next_id": 1, "next_block_id": 1}
            data["meta"] = {str(META_ID): meta, **data.get("meta", {})}
        # Earlier versions ended the document with a digest of itself; nothing maintains it any more.
        data["meta"][str(META_ID)].pop("digest", None)
        self._write_payload(_serialize(data))


def read_file(path: str, label: str) -> bytes:
    """The document's bytes; b"" only when there is no file at all (the one case of a new store).

    A file that exists but is empty or blank is damage (a full disk, a bad restore, `> igor.json`),
    never a new store: reading it as one let the next booking write over every other reservation."""
    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except FileNotFoundError:
        return b""  # no state directory or no document yet: an empty store
    except OSError as err:
        raise StoreError(f"cannot read the igor store {path}: {err.strerror or err}") from err
    if not payload.strip():
        raise _corrupt(label, "the file holds only whitespace" if payload else "the file is empty")
    return payload


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
