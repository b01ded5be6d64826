"""What the file store and the memory store share: lock-free snapshots and locked transactions over the
serialized document. A store only says how to read, write and lock its bytes, and where its archive is."""

from __future__ import annotations

from _thread import _local  # threading.local itself; importing threading costs every run ~0.7 ms
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from ..errors import StoreError
from ..typenames import TYPE_CHECKING
from . import document
from .codec import reservation_from_record, reservation_to_record
from .document import _gc_paused, _snapshot
from .protocol import Snapshot

if TYPE_CHECKING:
    from ..archive import ArchivedReservation
    from .storage import Spare
    from .transaction import StoreTransaction


class DocumentStore:
    """Shared transaction logic; subclasses only say how to read, write and lock the serialized document."""

    label: str
    lock_timeout: float

    def __init__(self, lock_timeout: float) -> None:
        self.lock_timeout = lock_timeout
        self._local = _local()
        self._last_snapshot: tuple[bytes, Snapshot] | None = None
        self._spare: Spare | None = None  # the parse behind the last snapshot, until a transaction takes it

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
        payload = self._read_payload()
        last = self._last_snapshot
        if last is not None and last[0] == payload:
            return last[1]
        with _gc_paused():
            data = document._parse_document(payload, self.label)  # looked up late: tests count parses
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
            from .storage import DocumentStorage  # writers only: `igor show` never loads them
            from .transaction import StoreTransaction

            with self._exclusive():
                # Under the lock, so no two transactions can take the same spare; taking it leaves none.
                spare, self._spare = self._spare, None
                tx = StoreTransaction(
                    DocumentStorage(self._read_payload, self._write_payload, self.label, spare)
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
                storage.commit()
        finally:
            self._local.active = False
