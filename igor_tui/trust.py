"""The sudo trust boundary: who igor acts for, which config it may obey, which files it may read for them.

igor runs as the service user on behalf of whoever reached it through sudo. The service user can read
things its callers cannot (the config with the switch password, other users' files it was given), so
everything a caller hands across the boundary is checked here, on the descriptor that is then used:
- a config is obeyed only if the caller could not have written it (ARCHITECTURE.md §9);
- a kernel or initrd is read only if the caller could have read it themselves, walking the path one
  component at a time, so a symlink swapped mid-check never lets the service's own rights leak through.
No other module reads a user-supplied path or trusts the environment.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from collections.abc import Mapping

from .errors import ConfigError, ValidationError
from .identity import SERVICE_USER, caller_name, service_uids
from .values import dataclass, replace

MAX_SYMLINK_HOPS = 40
"""Linux's own limit (MAXSYMLINKS) for one path resolution."""
_SEARCH, _READ = 0o1, 0o4
_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Principal:
    """The person whose rights a file read is checked against.

    `for_other` is True when the process is a service account acting for someone else through sudo: only
    then may a config the caller could have made be dangerous, and only then do the process's rights
    exceed the caller's."""

    name: str
    uid: int
    gids: frozenset[int]
    for_other: bool = False

    @property
    def is_root(self) -> bool:
        return self.uid == 0


def principal(
    env: Mapping[str, str], trusted: frozenset[int] | None = None, euid: int | None = None
) -> Principal:
    """Who this process acts for: the sudo caller when it really is a service account, else itself."""
    trusted = service_uids() if trusted is None else trusted
    euid = os.geteuid() if euid is None else euid
    name = caller_name(env, trusted, euid)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        # No such account: sudo never sets that, so the trusted account itself exported SUDO_USER (the
        # test suite does, as root). Its own rights are the ones at stake; it could read anything anyway.
        return replace(own_principal(), name=name)
    gids = frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return Principal(name, entry.pw_uid, gids, for_other=entry.pw_uid not in (euid, 0))


def own_principal() -> Principal:
    """The process itself (tests, the demo, cron's igor-tick): the kernel's own checks are the rule."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return Principal(name, uid, frozenset(os.getgroups()) | {os.getegid()})


# ----------------------------------------------------------------------------------------- the config


def read_config(path: str, who: Principal) -> tuple[bytes, os.stat_result]:
    """The bytes and status of the config at `path`, or one ConfigError line saying why it is refused.

    Acting for another user, the config must be a regular file that only root or the service user could
    have written and that nobody else can read (0600/0400): the caller names the file, so anything they
    could create, or the world-readable copies in the content area, would make them admin and let them
    choose the power commands. A group- or world-writable config is refused for everyone. The checks are
    made on the descriptor that is then read (O_NOFOLLOW, no second open)."""
    try:
        fd = _open_config(path, _READ_FLAGS if who.for_other else _READ_FLAGS & ~os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (use --config PATH or IGOR_CONFIG)") from None
    except PermissionError:
        raise ConfigError(
            f"config file {path} is not readable by user {_euid_name()}: it holds the switch password, so "
            "only the igor service user may read it; run igor through its wrapper (which uses sudo -u igor), "
            "not the Python entry point directly"
        ) from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ConfigError(f"config {path} refused: it is a symbolic link; name the file itself") from None
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None
    try:
        st = os.fstat(fd)
        _check_config(path, st, who)
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks), st
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None
    finally:
        os.close(fd)


def _open_config(path: str, flags: int) -> int:
    """The one open of a config (a seam for tests: as root, chmod 000 does not stop a read)."""
    return os.open(path, flags)


def _check_config(path: str, st: os.stat_result, who: Principal) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"config file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        who_writes = "world" if mode & 0o002 else "group"
        raise ConfigError(
            f"config {path} refused: it is {who_writes}-writable (mode {mode:04o}), so others could change "
            f"poweroncommand and run commands as igor; run chmod 600 {path}"
        )
    if not who.for_other:
        return
    trusted = {0, *_service_uid()}
    if st.st_uid not in trusted or mode & 0o077:
        raise ConfigError(
            f"config {path} refused: igor acts for {who.name} here, so its config must be owned by root or "
            f"{SERVICE_USER} with mode 0600 or 0400 (it is owned by {_user_name(st.st_uid)}, mode {mode:04o})"
        )


def _service_uid() -> set[int]:
    try:
        return {pwd.getpwnam(SERVICE_USER).pw_uid}
    except KeyError:
        return set()


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _euid_name() -> str:
    return _user_name(os.geteuid())


# ------------------------------------------------------------------------------------ caller's files


def open_as(who: Principal, path: str, what: str) -> int:
    """A read-only descriptor of `path` if `who` could open it themselves, else one ValidationError.

    Root reads anything. For anyone else (admins included) every directory on the way must grant them
    search and the file must grant them read, for their uid and all their groups; symlinks are followed
    here, under the same rule. Each step opens with O_NOFOLLOW relative to the last checked directory
    and checks what it opened, so a symlink swapped during the walk only changes which file is checked,
    never lets an unchecked one through. The file is opened O_NONBLOCK, so a FIFO never hangs igor."""
    if not path:
        raise ValidationError(f"{what}: no path given")
    if who.is_root:
        return _plain_open(path, what)
    walk = _Walk(who, path, what)
    try:
        return walk.run()
    finally:
        walk.close()


def _plain_open(path: str, what: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise _open_error(err, path, what) from None


def _open_error(err: OSError, path: str, what: str) -> ValidationError:
    if err.errno == errno.ENOENT:
        return ValidationError(f"{what} {path}: no such file")
    if err.errno == errno.ENOTDIR:
        return ValidationError(f"{what} {path}: a component of the path is not a directory")
    if err.errno == errno.ELOOP:
        return ValidationError(f"{what} {path}: too many levels of symbolic links")
    if err.errno in (errno.EACCES, errno.EPERM):
        return ValidationError(f"{what} {path}: not readable by igor (make it world-readable)")
    return ValidationError(f"{what} {path}: {err.strerror or err}")


def may(who: Principal, st: os.stat_result, bit: int) -> bool:
    """Whether the classic owner/group/other bits grant `who` the access `bit` (4 read, 1 search)."""
    if who.is_root:
        return True
    if st.st_uid == who.uid:
        return bool(st.st_mode >> 6 & bit)
    if st.st_gid in who.gids:
        return bool(st.st_mode >> 3 & bit)
    return bool(st.st_mode & bit)


class _Walk:
    """One path resolution done by hand: a stack of remaining components and the current directory."""

    def __init__(self, who: Principal, path: str, what: str) -> None:
        self.who, self.path, self.what = who, path, what
        self.hops = 0
        self.fds: list[int] = []
        self.dir = self._own(os.open("/" if path.startswith("/") else ".", _PATH_FLAGS | os.O_DIRECTORY))
        self.todo = [p for p in reversed(path.split("/")) if p not in ("", ".")]

    def _own(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()

    def denied(self) -> ValidationError:
        return ValidationError(f"{self.what} {self.path}: permission denied: {self.who.name} cannot read it")

    def not_a_file(self, kind: str) -> ValidationError:
        return ValidationError(f"{self.what} {self.path}: {kind}; give the path of the {self.what} file")

    def run(self) -> int:
        if not self.todo:  # "/" or "." alone: a directory
            raise self.not_a_file("a directory")
        while True:
            name = self.todo.pop()
            if not may(self.who, os.fstat(self.dir), _SEARCH):
                raise self.denied()
            try:
                fd = self._own(os.open(name, _PATH_FLAGS, dir_fd=self.dir))
            except OSError as err:
                raise _open_error(err, self.path, self.what) from None
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                self._follow(fd)
            elif self.todo:
                if not stat.S_ISDIR(st.st_mode):
                    raise _open_error(OSError(errno.ENOTDIR, "not a directory"), self.path, self.what)
                self.dir = fd
            else:
                opened = self._open_last(name, st)
                if opened is not None:
                    return opened
                self._hop()  # the name changed under us: check it again as it is now
                self.todo.append(name)

    def _hop(self) -> None:
        self.hops += 1
        if self.hops > MAX_SYMLINK_HOPS:
            raise _open_error(OSError(errno.ELOOP, "loop"), self.path, self.what)

    def _follow(self, link_fd: int) -> None:
        self._hop()
        target = os.readlink("", dir_fd=link_fd)  # the very link opened, not whatever the name holds now
        if target.startswith("/"):
            self.dir = self._own(os.open("/", _PATH_FLAGS | os.O_DIRECTORY))
        self.todo.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
        if not self.todo:
            raise self.not_a_file("a directory")

    def _open_last(self, name: str, seen: os.stat_result) -> int | None:
        """Open the checked entry for reading; None if it is no longer the file that was checked."""
        if not stat.S_ISREG(seen.st_mode):
            raise self.not_a_file("a directory" if stat.S_ISDIR(seen.st_mode) else "not a regular file")
        if not may(self.who, seen, _READ):
            raise self.denied()
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=self.dir)
        except OSError as err:
            if err.errno == errno.ELOOP:  # swapped for a symlink since
                return None
            raise _open_error(err, self.path, self.what) from None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino):
            os.close(fd)
            return None
        return fd
