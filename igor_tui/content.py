"""Content-addressed copies of users' kernels and initrds (sha256), shared and garbage-collected."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from collections.abc import Iterable, Sequence

from .errors import StoreError, ValidationError
from .trust import Principal, open_as, own_principal

_HASH = r"^[0-9a-f]{64}$"  # compiled (by re's cache) by the collector only, not by every booking
_INCOMING = ".incoming."
_COPYING_LOCK = ".copying.lock"
MAX_BOOT_FILE = 4 << 30  # 4 GiB: far above any kernel or initrd, far below "fill the disk"
STALE_INCOMING_SECONDS = 3600
DIGEST_CACHE = "content-digests"
"""The digest cache's file in the state directory (see DigestCache)."""
DIGEST_CACHE_ENTRIES = 64
"""Files remembered, newest kept: a CI job books the same few kernels and initrds over and over."""
RACY_NS = 1_000_000_000
"""A file's ctime must be this much older than the moment igor began reading it before its digest is
recorded: file timestamps are coarse (a clock tick), so an edit in the same tick as a read can leave the
stat as it was; a file unchanged for a second before the read cannot have been edited in the read's tick
without moving its ctime past the recorded one (git's "racily clean" rule)."""
_DIGESTS_HEADER = "igor content digests 1"
_DIGESTS_MAX_BYTES = 64 << 10
_HEX = frozenset("0123456789abcdef")
_Identity = tuple[int, int, int, int, int]


class ContentStore:
    """Files named by their sha256 under one directory.

    Copying happens when a reservation is made, so a user may delete or rebuild their kernel afterwards
    without changing what the reservation boots; identical files are stored once.
    """

    def __init__(self, directory: str, lock_dir: str | None = None) -> None:
        self.directory = directory
        # The copiers' lock is private state: in the service it lives in statedir, not in the TFTP root
        # that nodes fetch from (and that `igor doctor` checks for locks).
        self.lock_dir = directory if lock_dir is None else lock_dir
        self.digests = DigestCache(self.lock_dir)
        self.published = 0
        """New copies this object put in place: a refused request collects copies only if it made one."""

    def path(self, digest: str) -> str:
        return os.path.join(self.directory, digest)

    def add(self, source: str, what: str, who: Principal | None = None) -> str:
        """Copy `source` in (if not already present) and return its sha256; `what` names it in errors.

        The file is opened with the rights of `who` (the sudo caller; None: the process itself) and
        copied from that very descriptor, so igor never publishes a file its caller could not read.
        Only regular files are accepted: /dev/zero would fill the disk and a FIFO would hang igor
        (O_NONBLOCK keeps even the open from blocking on a FIFO without a writer).
        """
        return self.add_all([(source, what)], who)[0]

    def add_all(self, files: Sequence[tuple[str, str]], who: Principal | None = None) -> list[str]:
        """`add` for each (source, what), e.g. a kernel and its initrd: every file is opened with the
        caller's rights and checked before any is copied, so a request refused for one of them (not
        readable by the caller, empty, a directory) has published nothing, and has nothing to collect
        under the store's lock: it leaves the state directory as it found it."""
        principal = who or own_principal()
        fds: list[int] = []
        try:
            opened = []
            for source, what in files:
                fds.append(open_as(principal, source, what))
                opened.append((fds[-1], self._checked(fds[-1], source, what), source, what))
            return self._copy_all(opened)
        finally:
            for fd in fds:
                os.close(fd)

    def check(self, source: str, what: str, who: Principal | None = None) -> int:
        """The size of `source` if `add` would accept it, else the ValidationError `add` would raise.

        Lets the TUI's submit form say "✓ 14.2 MB" or the exact refusal while the user types, without
        copying anything."""
        fd = open_as(who or own_principal(), source, what)
        try:
            return self._checked(fd, source, what).st_size
        finally:
            os.close(fd)

    @staticmethod
    def _checked(fd: int, source: str, what: str) -> os.stat_result:
        """The open file's stat, if it is a file igor copies (else the one-line refusal)."""
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise ValidationError(f"{what} {source}: {kind}; give the path of the {what} file")
        if info.st_size == 0:
            raise ValidationError(f"{what} {source}: the file is empty")
        if info.st_size > MAX_BOOT_FILE:
            raise ValidationError(f"{what} {source}: {info.st_size >> 20} MiB is larger than the 4 GiB limit")
        return info

    def _copy_all(self, opened: Sequence[tuple[int, os.stat_result, str, str]]) -> list[str]:
        """The digests of the checked open files (fd, stat, source, what), under one shared copying lock.

        A file this very one, unchanged, was hashed before and whose copy is still here is answered by
        the digest cache: no read, and no hashlib (~11 M instructions and OpenSSL's pages, ~4 ms of a real
        `igor sub`). The others are read, hashed and copied; what they taught is recorded in one write
        of the cache, and new copies are made durable by one fsync of the directory."""
        held = contextlib.ExitStack()
        try:
            os.makedirs(self.directory, mode=0o755, exist_ok=True)
            os.makedirs(self.lock_dir, mode=0o755, exist_ok=True)
            held.enter_context(self._copying_lock(shared=True, timeout=float("inf")))
        except OSError as err:  # of making the directories or taking the lock
            whats = " and ".join(what for _, _, _, what in opened)
            raise StoreError(
                f"cannot store a copy of the {whats} in {self.directory}: {err.strerror or err}"
            ) from err
        with held:
            known = self.digests.entries()
            published = self.published
            names: list[str] = []
            learned: list[tuple[os.stat_result, os.stat_result, int, str]] = []
            for fd, before, source, what in opened:
                name = known.get(_identity(before))
                if name is None or not self.has(name):
                    if not learned:
                        self._remove_stale_incoming()  # once, before the first copy
                    began = time.time_ns()
                    name = self._hash_and_copy(fd, source, what)
                    learned.append((before, os.fstat(fd), began, name))
                names.append(name)
            if self.published != published:
                self._sync_directory()
            self.digests.record(learned)
            return names

    def _copying_lock(self, *, shared: bool, timeout: float) -> contextlib.AbstractContextManager[int]:
        """`.copying.lock`, held shared or exclusively. Every copy holds it shared from before its
        `.incoming.` temp exists until that temp is renamed or removed, so whoever holds it exclusively
        knows that every `.incoming.` file there belongs to a copier that died (see `sweep_incoming`)."""
        from . import locks

        path = os.path.join(self.lock_dir, _COPYING_LOCK)
        return locks.hold(path, shared=shared, timeout=timeout, flags=os.O_RDWR | os.O_CREAT, mode=0o644)

    def sweep_incoming(self) -> list[str]:
        """Remove the `.incoming.` temps of copies killed mid-way, at once rather than after an hour; a
        no-op while any copy is in progress (it is tried again next time)."""
        from .tempfiles import remove_files

        try:
            with self._copying_lock(shared=False, timeout=0):
                return remove_files(self.directory, lambda name: name.startswith(_INCOMING))
        except OSError:  # busy (a copy is running: locks.LockBusy), or no content area yet
            return []

    def _hash_and_copy(self, fd: int, source: str, what: str) -> str:
        # Imported by copiers only: `igor del` and `extend` use this module just to collect (~2 ms).
        import hashlib

        from .tempfiles import make_temp

        try:
            out_fd, tmp = make_temp(self.directory, _INCOMING)
        except OSError as err:
            raise StoreError(
                f"cannot store a copy of the {what} in {self.directory}: {err.strerror or err}"
            ) from err
        digest = hashlib.sha256()
        copied = 0
        try:
            with os.fdopen(out_fd, "wb") as out:
                while chunk := os.read(fd, 1 << 20):
                    copied += len(chunk)
                    if copied > MAX_BOOT_FILE:
                        raise ValidationError(f"{what} {source}: grew past the 4 GiB limit while copying")
                    digest.update(chunk)
                    out.write(chunk)
                name = digest.hexdigest()
                if os.path.exists(self.path(name)):
                    return name  # already stored (and durable): the temp goes in `finally`, unsynced
                out.flush()
                os.fsync(out.fileno())  # the bytes on disk before the name can point at them
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path(name))
            self.published += 1
            return name
        except OSError as err:
            raise StoreError(
                f"cannot store a copy of the {what} in {self.directory}: {err.strerror or err}"
            ) from err
        finally:
            if os.path.exists(tmp):
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _sync_directory(self) -> None:
        """Make a new copy's name durable before the booking that needs it commits: the store fsyncs only
        its own directory, so without this a power cut could keep the reservation and lose its kernel.
        Best effort, like the store's own directory sync: the copy is already visible to everyone."""
        from .tempfiles import fsync_directory

        with contextlib.suppress(OSError):
            fsync_directory(self.directory)

    def _remove_stale_incoming(self) -> None:
        """Copies interrupted by a kill leave temp files; drop those older than an hour."""
        cutoff = time.time() - STALE_INCOMING_SECONDS
        with contextlib.suppress(OSError), os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(_INCOMING):
                    with contextlib.suppress(OSError):
                        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(entry.path)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def collect(self, referenced: Iterable[str]) -> list[str]:
        """Delete every stored file no reservation references; idempotent (missing files are fine)."""
        keep = set(referenced)
        removed: list[str] = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return removed
        for name in names:
            if re.match(_HASH, name) and name not in keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(name))
                    removed.append(name)
        return removed


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class DigestCache:
    """sha256 digests of users' boot files by stat identity (device, inode, size, mtime, ctime), so a file
    booked again unchanged (what CI does all day) is neither read nor hashed again.

    Why it is safe: the identity is taken from the descriptor the caller's rights opened (trust.open_as
    runs before any lookup, exactly as without the cache); ctime cannot be set by a user and moves on
    every write, chmod, utime or rename of the file, and a replaced file is another inode; a digest is
    only recorded when the stat after reading equals the stat before and ctime is RACY_NS older than the
    read; a hit is used only while the copy it names is in the content store. What it still trusts: the
    system clock not stepping back past a recorded ctime (an edit would then need that exact ctime to the
    nanosecond to go unseen). The file lives in the state directory, written atomically under its own
    lock; any doubt about it (not a plain file of ours, writable by others, torn, malformed) means no
    entry, so the file is hashed as it would be without the cache."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, DIGEST_CACHE)

    def entries(self) -> dict[_Identity, str]:
        """Every remembered digest by file identity ({} for any doubt about the cache file)."""
        return self._read()

    def record(self, seen: Sequence[tuple[os.stat_result, os.stat_result, int, str]]) -> None:
        """Remember each (before, after, began_ns, digest): the digest of the file whose stat was `before`
        when reading began at `began_ns` and `after` when it ended, if it can be trusted (see above).
        One locked write for all of them; best effort (a busy lock or a failed write records nothing)."""
        fresh = [
            (_identity(before), digest)
            for before, after, began_ns, digest in seen
            if _identity(after) == _identity(before) and before.st_ctime_ns <= began_ns - RACY_NS
        ]
        if not fresh:
            return
        from . import locks

        try:
            with locks.hold(self.path + ".lock", flags=os.O_RDWR | os.O_CREAT, mode=0o600):
                entries = self._read()
                for key, digest in fresh:
                    entries.pop(key, None)
                    entries[key] = digest
                self._write(list(entries.items())[-DIGEST_CACHE_ENTRIES:])
        except OSError:
            return

    def _write(self, entries: list[tuple[_Identity, str]]) -> None:
        """Atomically, under the lock: a temp left by a writer killed mid-way (only lock holders write
        them) is removed by the next writer."""
        from .tempfiles import remove_files, replace_unsynced

        prefix = f".{DIGEST_CACHE}."
        remove_files(self.directory, lambda name: name.startswith(prefix))
        lines = [_DIGESTS_HEADER, *(" ".join([*map(str, key), digest]) for key, digest in entries)]
        lines.append(f"end {len(entries)}")
        replace_unsynced(self.path, prefix, ["\n".join(lines).encode("ascii") + b"\n"])

    def _read(self) -> dict[_Identity, str]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return {}
        try:
            st = os.fstat(fd)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != os.geteuid()
                or st.st_mode & 0o022
                or st.st_size > _DIGESTS_MAX_BYTES
            ):
                return {}
            data = os.read(fd, _DIGESTS_MAX_BYTES + 1)
        except OSError:
            return {}
        finally:
            os.close(fd)
        return _parse_digests(data)


def _parse_digests(data: bytes) -> dict[_Identity, str]:
    """The entries of a whole, well-formed cache file; {} for anything else (a torn write, an old format)."""
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        return {}
    if len(lines) < 3 or lines[0] != _DIGESTS_HEADER or lines[-1] or lines[-2] != f"end {len(lines) - 3}":
        return {}
    entries: dict[_Identity, str] = {}
    for line in lines[1:-2]:
        fields = line.split(" ")
        if len(fields) != 6 or len(fields[5]) != 64 or not _HEX.issuperset(fields[5]):
            return {}
        try:
            dev, ino, size, mtime, ctime = (int(f) for f in fields[:5])
        except ValueError:
            return {}
        entries[(dev, ino, size, mtime, ctime)] = fields[5]
    return entries
