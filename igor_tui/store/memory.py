"""The store in memory, for tests and the TUI demo: the same document, transactions and contract as the
file store, with bytes in place of a file and a thread lock in place of a file lock."""

from __future__ import annotations

from _thread import allocate_lock  # threading.Lock itself, without importing threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import StoreError
from .base import DocumentStore


class MemoryStore(DocumentStore):
    """The same store in memory, for tests and the TUI demo. It keeps the serialized document, so every
    transaction works on a private copy and JSON round-tripping behaves exactly as on disk."""

    def __init__(self, *, lock_timeout: float = 10.0) -> None:
        super().__init__(lock_timeout)
        self.label = "<memory store>"
        self._payload = b""
        self._archive = b""
        self._lock = allocate_lock()

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
