"""The one way igor locks a file: exclusive or shared, blocking with a timeout, or a single non-blocking try.

Every lock igor takes (the store's `igor.lock`, the content area's `.copying.lock`, the old store's lock
while `igor setup` moves it, doctor's probe of a stuck lock) goes through `hold`, so they all share one
polling loop, one timeout rule and one error.

Why not simply portalocker (a dependency, and what igor's design names): importing it costs ~32 ms (its
metadata look-up at import time) of the 120-150 ms a whole `igor sub` may take. On POSIX this module
therefore calls `fcntl.flock(... | LOCK_NB)` itself and polls it the way portalocker polls it; portalocker
also uses flock on Linux, so processes locking either way exclude each other. Where there is no fcntl
(Windows) portalocker does the locking, imported only then. This module imports nothing else of note.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # not POSIX (Windows): portalocker's msvcrt locking
    LOCKING = "portalocker"
else:
    LOCKING = "flock"
"""How locks are taken: "flock" (POSIX) or "portalocker" (anywhere else; tests switch between them)."""

POLL_SECONDS = 0.005
"""portalocker's way: poll a non-blocking lock. Coarse polling starves busy writers (a waiter sleeping
50 ms loses every race against processes that retake the lock within a few ms)."""

APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT
"""portalocker.Lock(mode="a")'s open: create if missing, never truncate (the lock file is never replaced)."""


class LockBusy(TimeoutError):
    """Another open file description held the lock for the whole timeout (0: at the one try).

    A TimeoutError, so callers that only care whether they got the lock can catch OSError; callers that
    report it name the file and the wait, each in its own words."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(f"{path} is locked by another process (waited {timeout:g}s)")
        self.path = path
        self.timeout = timeout


@contextmanager
def hold(
    path: str,
    *,
    shared: bool = False,
    timeout: float = 0.0,
    poll: float = POLL_SECONDS,
    flags: int = APPEND_FLAGS,
    mode: int = 0o666,
) -> Iterator[int]:
    """Open `path` (with `flags`, `mode`) and hold a shared or exclusive lock on it while the block runs;
    yields the descriptor. Waits up to `timeout` seconds (0: one non-blocking try; `float("inf")`: for
    ever), then raises LockBusy. Any other failure (cannot open, no locking on this file system) is the
    OSError itself: waiting cannot help. Closing the descriptor releases the lock, even if we die."""
    fd = os.open(path, flags, mode)
    try:
        _acquire(fd, path, shared, timeout, poll)
        try:
            yield fd
        finally:
            _release(fd)
    finally:
        os.close(fd)


def _acquire(fd: int, path: str, shared: bool, timeout: float, poll: float) -> None:
    deadline = time.monotonic() + timeout
    while not _try(fd, shared):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockBusy(path, timeout)
        time.sleep(min(poll, remaining))


def _try(fd: int, shared: bool) -> bool:
    """One non-blocking attempt: True if we hold the lock now, False if someone else does."""
    if LOCKING == "flock":
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:  # EWOULDBLOCK: another open file description holds it
            return False
        return True
    import portalocker  # ~32 ms to import, hence flock where there is fcntl

    flags = portalocker.LockFlags.SHARED if shared else portalocker.LockFlags.EXCLUSIVE
    try:
        portalocker.lock(fd, flags | portalocker.LockFlags.NON_BLOCKING)
    except portalocker.exceptions.AlreadyLocked:
        return False
    except portalocker.exceptions.LockException as err:
        raise OSError(f"cannot lock: {err}") from err
    return True


def _release(fd: int) -> None:
    """Explicit, although closing releases too: a descriptor inherited by a child would keep it held."""
    try:
        if LOCKING == "flock":
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            import portalocker

            portalocker.unlock(fd)
    except (OSError, ImportError):
        pass
