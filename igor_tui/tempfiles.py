"""Removing a dead writer's temp files: the one directory sweep the store, the content area, the PXE
backend and igor-tick's clean-up share. Each caller decides, from the lock it holds, which files can only
belong to a writer that is gone; this only lists and unlinks, best effort (leftovers cost space, not
correctness, so a file that vanishes or resists is passed over)."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable


def remove_files(directory: str, match: Callable[[str], bool], older_than: float | None = None) -> list[str]:
    """Unlink the regular files of `directory` whose name `match`es (and, with `older_than`, whose mtime
    is that many seconds old); returns the names removed. A missing directory removes nothing."""
    cutoff = time.time() - older_than if older_than is not None else None
    removed: list[str] = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if not match(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                if cutoff is None or entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def is_dot_tmp(name: str) -> bool:
    """`.<name>.<random>.tmp`: the atomic writes of boot files (pxe.py's `_atomic_write`)."""
    return name.startswith(".") and name.endswith(".tmp")


def fsync_directory(path: str) -> None:
    """Make renames and new entries in directory `path` durable (the last step of every atomic write);
    raises OSError, and callers whose data already is visible to others ignore it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_temp(directory: str, prefix: str, suffix: str = "") -> tuple[int, str]:
    """`tempfile.mkstemp(dir=directory, prefix=prefix)` without importing tempfile, which pulls in shutil,
    random and weakref (~3.5 ms of every booking, for one file name). The same contract: a new file only
    its owner can read (0600), created exclusively (never an existing file or a symlink's target), not
    inherited by children; returns its open descriptor and path."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        path = os.path.join(directory, prefix + os.urandom(4).hex() + suffix)
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name found", directory)


def replace_unsynced(path: str, prefix: str, chunks: Iterable[bytes], mode: int = 0o600) -> None:
    """Put `chunks` at `path` whole, through a temp file beside it (named `prefix`...) and one rename, but
    without fsync: for the caches igor rebuilds at will (the snapshot cache, the content digests), where
    a power cut may cost the file but never leave it torn. Raises OSError; the temp is never left."""
    fd, tmp = make_temp(os.path.dirname(path), prefix)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        if mode != 0o600:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
