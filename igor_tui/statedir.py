"""Where igor's private state lives (statedir, out of the TFTP root) and the move out of the old place.

Before, the store, its lock and the tick's state lived in `<tftproot>/igor`, which the TFTP server serves
to anyone on the boot network. `igor setup` moves them to statedir; until it has, igor refuses to start a
new, empty store beside the real one (the same rule as "empty is corrupt": never a new store over data).
"""

from __future__ import annotations

import contextlib
import os

from .errors import StoreError
from .typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

STORE_NAME = "igor.json"
PRIVATE_FILES = (
    "igor.json",
    "igor.lock",
    "archive.jsonl",
    "tick.lock",
    "tick.last",
    "tick.clock",
    "notify.lock",
)
"""Everything igor keeps in statedir; what `igor setup` moves out of the old location, in this order
(the store first: once it is in place every later file is optional)."""


def legacy_store(config: Config) -> str:
    """The old default store path, if a store is still there and statedir has none; else ''."""
    from .config import legacy_statedir

    old = legacy_statedir(config.tftproot)
    if os.path.normpath(old) == os.path.normpath(config.statedir):
        return ""
    old_store = os.path.join(old, STORE_NAME)
    if os.path.lexists(os.path.join(config.statedir, STORE_NAME)) or not os.path.lexists(old_store):
        return ""
    return old_store


def check_not_left_behind(config: Config) -> None:
    """Refuse to work on an empty statedir while the reservations are still in the old place: a booking
    would start a second, empty store and double-book every node the old one holds."""
    old_store = legacy_store(config)
    if old_store:
        raise StoreError(
            f"the igor store is still at {old_store}, inside the TFTP root; run 'igor setup' as root to "
            f"move it to {config.statedir}"
        )


def move_state(old: str, new: str) -> list[str]:
    """Move the private files from directory `old` to `new` (both existing); returns the names moved.

    Holds the old store's lock while it works, so an igor still running the old layout cannot commit in
    between. Within one file system a rename; across file systems copy, fsync, rename, then unlink the
    old one. A store already in `new` is never overwritten: the caller checks first, and so does this."""
    from . import locks

    if os.path.lexists(os.path.join(new, STORE_NAME)):
        raise StoreError(f"{new} already holds an igor store; not moving {old}/{STORE_NAME} over it")
    moved: list[str] = []
    with locks.hold(os.path.join(old, "igor.lock"), timeout=float("inf"), mode=0o644):
        for name in PRIVATE_FILES:
            src, dst = os.path.join(old, name), os.path.join(new, name)
            if not os.path.isfile(src) or os.path.islink(src):
                continue
            _move_file(src, dst)
            moved.append(name)
        _fsync_dir(new)
    return moved


def _move_file(src: str, dst: str) -> None:
    try:
        os.rename(src, dst)
        return
    except OSError as err:
        import errno

        if err.errno != errno.EXDEV:
            raise
    import shutil  # here, not at the top: only `igor setup` moves files, and shutil costs every run ~2 ms

    tmp = f"{dst}.moving"
    shutil.copy2(src, tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    st = os.stat(src)
    with contextlib.suppress(OSError):
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, dst)
    os.unlink(src)


def _fsync_dir(path: str) -> None:
    from .tempfiles import fsync_directory

    with contextlib.suppress(OSError):
        fsync_directory(path)
