"""The store on disk: `igor.json` in a state directory, guarded by the never-replaced `igor.lock`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import StoreError
from ..typenames import TYPE_CHECKING
from .base import DocumentStore
from .codec import patch_plain, reservations_to_plain
from .storage import read_file, replace_file

if TYPE_CHECKING:
    from .cache import Identity, Plain, Rows
    from .document import DocumentData
    from .protocol import Snapshot
    from .spliced import Spans
    from .storage import Converted
    from .transaction import StoreTransaction

    Cached = tuple[Converted, Plain, Spans | None]
    """The reservations of a cached snapshot (or transaction), their plain columns and their records'
    spans."""

DOCUMENT_NAME = "igor.json"
LOCK_NAME = "igor.lock"
ARCHIVE_NAME = "archive.jsonl"  # see archive.py
TEMP_PREFIX = ".igor.json."
CACHE_NAME = "igor.snapshot"  # see cache.py

_DIR_MODE = 0o755
_NOTHING_CACHED: Cached = ((), (), None)


class TinyStore(DocumentStore):
    """The store on disk: `igor.json` in a state directory, guarded by the never-replaced `igor.lock`.

    Every transaction takes the lock (igor_tui.locks: flock polled like portalocker, with a timeout and a
    clear error), reads, lets TinyDB work, writes atomically and releases; no TinyDB handle or cache
    outlives it. Readers take no lock: the document is only ever replaced whole."""

    def __init__(self, directory: str | os.PathLike[str], *, lock_timeout: float = 10.0) -> None:
        super().__init__(lock_timeout)
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, DOCUMENT_NAME)
        self.lock_path = os.path.join(self.directory, LOCK_NAME)
        self.archive_path = os.path.join(self.directory, ARCHIVE_NAME)
        self.cache_path = os.path.join(self.directory, CACHE_NAME)
        self._plain: Cached = _NOTHING_CACHED  # the last cache loaded or written: see _after_write
        self.label = self.path

    def __repr__(self) -> str:
        return f"TinyStore({self.directory!r})"

    def _read_payload(self) -> bytes:
        payload, self._local.read_stat = read_file(self.path, self.label)  # see _read_payload_stat
        return payload

    # -- the snapshot cache (cache.py says why it is safe to trust)

    def _cached_snapshot(self, key: Identity) -> Snapshot | None:
        from . import cache

        found = cache.load(self.cache_path, key, self.label)
        if found is None:
            return None
        self._plain = (found[0].reservations, found[1], found[2])
        return found[0]

    def _cached_rows(self, key: Identity) -> Rows | None:
        from . import cache

        found = cache.load_rows(self.cache_path, key)
        if found is None:
            return None
        rows, spans = found
        self._plain = (rows, rows.columns, spans)
        return rows

    def _spans_for(self, reservations: Converted) -> Spans | None:
        base, _, spans = self._plain
        return spans if base is reservations and base else None

    def _save_snapshot(self, key: Identity, snap: Snapshot, data: DocumentData) -> None:
        """A reader that could write the cache (it runs as the document's owner) writes it, under the
        store's lock if that is free at once and only if the document is still the one it decoded;
        otherwise the next writer will."""
        from .. import locks
        from . import cache

        if key[cache.OWNER] != os.geteuid():
            return

        with (
            contextlib.suppress(OSError, locks.LockBusy, ValueError),
            locks.hold(self.lock_path, timeout=0),
        ):
            if cache.identity(os.stat(self.path), b"")[:-1] == key[:-1]:  # the same file, unchanged
                plain = reservations_to_plain(snap.reservations)
                cache.dump(self._cache_where(), key, plain, data, None)  # maybe not igor's layout
                self._plain = (snap.reservations, plain, None)

    def _before_write(self) -> None:
        from . import cache

        cache.remove(self.cache_path)

    def _after_write(self, tx: StoreTransaction) -> None:
        """The cache of what `tx` wrote: the plain columns of the snapshot it took over, patched with
        the reservations it changed, or (it started from a parse) all of them converted."""
        from . import cache

        storage, (base, plain, _) = tx._storage, self._plain
        self._plain = _NOTHING_CACHED
        with contextlib.suppress(OSError, StoreError, ValueError):
            changes = tx._converted_changes()
            if storage.converted is base and base and changes is not None:
                plain = patch_plain(plain, tx._changed, changes)
            else:
                plain = reservations_to_plain(tx._stored_reservations())
            written = cache.identity(os.stat(self.path), storage.written)
            cache.dump(self._cache_where(), written, plain, storage.data, storage.spans)

    def _cache_where(self) -> tuple[str, str]:
        return (self.cache_path, TEMP_PREFIX)

    def _write_payload(self, payload: bytes) -> None:
        self._remove_leftover_temps()
        replace_file(self.directory, self.path, TEMP_PREFIX, payload)

    def _read_archive(self) -> bytes:
        from ..archive import read_file as read_archive

        return read_archive(self.archive_path)

    def _append_archive(self, lines: list[bytes]) -> None:
        from ..archive import append_file

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
        from .. import locks  # writers only

        self._ensure_directory()
        with contextlib.ExitStack() as held:
            try:  # only the taking of the lock: errors of the transaction itself pass untouched
                held.enter_context(locks.hold(self.lock_path, timeout=self.lock_timeout))
            except locks.LockBusy:
                raise StoreError(
                    f"the igor store is busy: another igor process has held {self.lock_path} "
                    f"for more than {self.lock_timeout:g}s; try again"
                ) from None
            except OSError as err:  # cannot open, no locking on this file system, ...
                raise StoreError(f"cannot lock the igor store {self.lock_path}: {err}") from err
            yield

    def _remove_leftover_temps(self) -> list[str]:
        """Temp files of writers killed mid-commit, whatever their age. Only called with the store lock
        held: a writer makes its temp file only while it holds that lock, so any temp file seen now
        belongs to a writer that is gone. Best effort; they are harmless apart from space."""
        from ..tempfiles import remove_files

        return remove_files(self.directory, lambda name: name.startswith(TEMP_PREFIX))

    def sweep_leftovers(self) -> list[str]:
        """Take the store lock and remove crash leftovers (igor-tick calls this each run, so they go at
        the next tick rather than only once a later commit happens to look)."""
        if not os.path.isdir(self.directory):
            return []
        with self._exclusive():
            return self._remove_leftover_temps()
