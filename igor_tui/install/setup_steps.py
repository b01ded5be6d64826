"""The idempotent file-system steps `igor setup` is made of: a directory, a file, a link, with an owner.

Each builder returns a `Step` that can tell whether it is already in place and, when not, makes the change
atomically (temp name, then rename) and is verified by the caller afterwards. Kept apart from `setup.py`,
which decides *which* steps an install needs and runs them; these are *how* one step checks and acts.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import stat
from collections.abc import Callable, Mapping

from ..errors import IgorError
from .deploy import Root, Step, find_account

_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")

Owner = Callable[[], tuple[int, int] | None]


def root_owner() -> tuple[int, int] | None:
    """Files only root may change (sudo rule, wrappers, cron line) are root:root."""
    return (0, 0)


def user_owner(root: Root, user: str) -> Owner:
    """The service user's uid/gid, looked up when needed: it may only exist once the first step ran."""

    def owner() -> tuple[int, int] | None:
        account = find_account(root, user)
        return None if account is None else (account.uid, account.gid)

    return owner


def _has(path: str, owner: Owner, mode: int, kind: int) -> bool:
    """In place means the right kind of file with the right owner and mode, not merely present."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_IFMT(st.st_mode) == kind
        and (st.st_uid, st.st_gid) == owner()
        and stat.S_IMODE(st.st_mode) == mode
    )


def _need_owner(owner: Owner, path: str) -> tuple[int, int]:
    """The owner a change needs; a missing service user is a clear error, not a chown to None."""
    found = owner()
    if found is None:
        raise IgorError(f"setup: cannot give {path} to the service user: it does not exist")
    return found


def makedirs(path: str) -> None:
    """Create `path` and its parents, turning an OSError into the one-line error setup prints."""
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)
    except OSError as err:
        raise IgorError(f"setup: cannot create {path}: {err.strerror or err}") from None


def directory_step(root: Root, path: str, owner: Owner, owner_text: str, *, mode: int, why: str) -> Step:
    """A directory igor owns: created if missing, then given its owner and mode (both checked)."""
    real = root(path)

    def apply() -> None:
        if os.path.lexists(real) and not os.path.isdir(real):
            raise IgorError(f"setup: {real} exists but is not a directory; move it away and run setup again")
        makedirs(real)
        uid, gid = _need_owner(owner, real)
        os.chown(real, uid, gid)
        os.chmod(real, mode)

    return Step(
        f"directory {path}, owner {owner_text}, mode {mode:04o}{why}",
        lambda: _has(real, owner, mode, stat.S_IFDIR),
        apply,
    )


def _write_file(
    real: str,
    data: bytes,
    owner: Owner,
    mode: int,
    validate: Callable[[str], None] | None = None,
) -> None:
    """Write through a dotted temp name (cron.d and sudoers.d skip names with a dot), validate it, then
    rename it into place, so a half-written or invalid file is never live."""
    directory = os.path.dirname(real)
    makedirs(directory)
    uid, gid = _need_owner(owner, real)
    tmp = os.path.join(directory, f".{os.path.basename(real)}.igor-setup")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if validate is not None:
            validate(tmp)
        os.replace(tmp, real)
    except OSError as err:
        raise IgorError(f"setup: cannot write {real}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def file_step(
    root: Root,
    path: str,
    data: bytes,
    owner: Owner,
    owner_text: str,
    *,
    mode: int,
    why: str = "",
    validate: Callable[[str], None] | None = None,
) -> Step:
    """A file with exactly `data`, owner and mode; written atomically and, if given, validated first."""
    real = root(path)

    def done() -> bool:
        try:
            with open(real, "rb") as handle:
                same = handle.read() == data
        except OSError:
            return False
        return same and _has(real, owner, mode, stat.S_IFREG)

    return Step(
        f"file {path}, owner {owner_text}, mode {mode:04o}{why}",
        done,
        lambda: _write_file(real, data, owner, mode, validate),
    )


def symlink_step(root: Root, path: str, target: str, why: str) -> Step:
    """A link igor made; anything else already at `path` blocks the step rather than being replaced."""
    real = root(path)

    def apply() -> None:
        makedirs(os.path.dirname(real))
        tmp = os.path.join(os.path.dirname(real), f".{os.path.basename(real)}.igor-setup")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        try:
            os.symlink(target, tmp)
            os.replace(tmp, real)
        except OSError as err:
            raise IgorError(f"setup: cannot link {real}: {err.strerror or err}") from None

    def done() -> bool:
        try:
            return os.readlink(real) == target
        except OSError:
            return False

    blocked = ""
    if os.path.lexists(real) and not os.path.islink(real):
        blocked = f"{path} exists and is not a link igor setup made; move it away and run setup again"
    return Step(f"link {path} -> {target}{why}", done, apply, blocked=blocked)


def find_command(name: str, env: Mapping[str, str], override: str) -> list[str] | None:
    """argv for a tool: the override (shlex-split) if set, else `name` on PATH or in the sbin dirs."""
    if env.get(override):
        argv = shlex.split(env[override])
        found = shutil.which(argv[0]) if argv else None
        return [found, *argv[1:]] if found else None
    search = os.pathsep.join([*env.get("PATH", "").split(os.pathsep), *_SBIN])
    found = shutil.which(name, path=search)
    return [found] if found else None
