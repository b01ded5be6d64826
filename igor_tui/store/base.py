"""What the file store and the memory store share: lock-free snapshots and locked transactions over the
serialized document. A store only says how to read, write and lock its bytes, and where its archive is."""

from __future__ import annotations

import os
from _thread import _local  # threading.local itself; importing threading costs every run ~0.7 ms
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from ..errors import StoreError
from ..typenames import TYPE_CHECKING
from . import document
from .cache import Identity, identity
from .codec import reservation_from_record, reservation_to_record
from .document import DocumentData, _gc_paused, _snapshot
from .protocol import Snapshot

if TYPE_CHECKING:
    from ..archive import ArchivedReservation
    from .cache import Rows
    from .spliced import Spans
    from .storage import Converted, Spare
    from .transaction import StoreTransaction


class DocumentStore:
    """Shared transaction logic; subclasses only say how to read, write and lock the serialized document."""

    label: str
    lock_timeout: float

    def __init__(self, lock_timeout: float) -> None:
        self.lock_timeout = lock_timeout
        self._local = _local()
        self._last_snapshot: tuple[bytes | Identity, Snapshot] | None = None
        self._spare: Spare | None = None  # the parse behind the last snapshot, until a transaction takes it

    def _read_payload(self) -> bytes:
        raise NotImplementedError

    def _read_payload_stat(self) -> tuple[bytes, os.stat_result | None]:
        """The bytes and, for a file, the stat of what they were read from (see cache.py); by way of
        `_read_payload`, the one read a store defines (tests count its calls)."""
        self._local.read_stat = None
        payload = self._read_payload()
        return payload, self._local.read_stat

    def _cached_snapshot(self, key: Identity) -> Snapshot | None:
        """The snapshot cached for the document of this identity (see cache.py), if the store keeps one."""
        return None

    def _save_snapshot(self, key: Identity, snap: Snapshot, data: DocumentData) -> None:
        """A reader decoded the document of this identity: a store with a cache may keep it."""

    def _cached_rows(self, key: Identity) -> Rows | None:
        """The cached reservations of the document of this identity, built only as a transaction asks
        (see cache.py), if the store keeps a cache."""
        return None

    def _spans_for(self, reservations: Converted) -> Spans | None:
        """Where the records of the document these cached reservations came from lie in it, if known."""
        return None

    def _before_write(self) -> None:
        """Called under the lock just before a changed document is written."""

    def _after_write(self, tx: StoreTransaction) -> None:
        """Called under the lock just after a changed document was written by `tx`."""

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
        from ..archive import parse_lines

        live = self.snapshot().reservations  # first: a damaged store is refused here too
        payload = self._read_archive()
        return (
            parse_lines(payload, reservation_from_record, (r.id for r in live), name=name) if payload else []
        )

    def snapshot(self) -> Snapshot:
        """Lock-free: writers replace the document atomically, so this sees the old or the new one.

        A front end refreshing an unchanged store gets the previous (immutable) snapshot back for the price
        of reading and comparing the bytes. No TinyDB here: tinydb is not even imported by read-only runs
        (`igor show`), and the snapshot needs every record converted anyway (see the transaction's one
        raw read for what TinyDB's Documents would add)."""
        payload, st = self._read_payload_stat()
        ident = None if st is None else identity(st, payload)
        key: bytes | Identity = payload if ident is None else ident
        last = self._last_snapshot
        if last is not None and last[0] == key:
            return last[1]
        data: DocumentData | None = None
        with _gc_paused():
            snap = None
            if ident is not None:
                del payload  # a cached snapshot needs only the key: not holding 2.7 MB at 5,000 (RSS)
                snap = self._cached_snapshot(ident)
                if snap is None:  # read it again (rare: every write leaves a cache)
                    payload, st = self._read_payload_stat()
                    ident = None if st is None else identity(st, payload)
                    key = payload if ident is None else ident
            if snap is None:
                data = document._parse_document(payload, self.label)  # looked up late: tests count parses
                snap = _snapshot(data, self.label)
                if ident is not None:
                    self._save_snapshot(ident, snap, data)
        self._last_snapshot = (key, snap)
        self._spare = (key, data, snap.reservations)  # the snapshot keeps no reference into `data`
        return snap

    def _take_spare(self, payload: bytes, st: os.stat_result | None) -> Spare | None:
        """Under the lock: what a transaction over `payload` can take over instead of parsing and
        converting: the last snapshot's work if it was of the same document, or else the cache's."""
        spare, self._spare = self._spare, None  # taking it leaves none
        if st is None:
            return (payload, spare[1], spare[2]) if spare is not None and spare[0] == payload else None
        key = identity(st, payload)  # once: its CRC reads the whole document (~0.5 ms at 5,000)
        if spare is not None and spare[0] == key:
            return (payload, spare[1], spare[2])
        with _gc_paused():  # `igor del`, `extend`, the tick: no snapshot of their own first
            rows = self._cached_rows(key)
        return None if rows is None else (payload, None, rows)

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """Exclusive read-modify-write; commits once on normal exit, writes nothing on an exception."""
        if getattr(self._local, "active", False):
            # The lock is not re-entrant: waiting for ourselves would only end in a misleading timeout.
            raise StoreError("nested store transaction: igor already holds the store in this thread")
        self._local.active = True
        try:
            from .storage import DocumentStorage  # writers only: `igor show` never loads them
            from .transaction import StoreTransaction

            with self._exclusive():
                payload, st = self._read_payload_stat()
                spare = self._take_spare(payload, st)  # under the lock: no two transactions take one
                spans = None if spare is None else self._spans_for(spare[2])
                tx = StoreTransaction(
                    DocumentStorage(lambda: payload, self._write_payload, self.label, spare, spans)
                )
                try:
                    yield tx
                except BaseException:
                    tx._abort()
                    raise
                storage = tx._finish()
                if tx.archived:  # durable before the removal commits: a crash in between loses nothing
                    from ..archive import entry_line

                    self._append_archive([entry_line(entry, reservation_to_record) for entry in tx.archived])
                if storage.dirty:
                    self._before_write()
                    storage.commit()
                    with _gc_paused():
                        self._after_write(tx)
        finally:
            self._local.active = False
