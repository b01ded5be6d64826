"""`igor setup` on an older install: move the store out of the TFTP root and point the config at it.

Kept apart from setup.py's fresh-install steps: these two only ever act on an upgrade, each is idempotent
(done once the old store is gone / the config no longer names the old place), and neither overwrites
anything: a store already in statedir blocks the move instead.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING

from ..statedir import STORE_NAME, move_state

if TYPE_CHECKING:
    from .deploy import Root, Step


def move_store_step(root: Root, old: str, new: str) -> list[Step]:
    """The move, planned only while a store is still in `old`."""
    from .deploy import Step

    old_store, new_store = root(os.path.join(old, STORE_NAME)), root(os.path.join(new, STORE_NAME))
    if not os.path.lexists(old_store):
        return []

    def apply() -> None:
        move_state(root(old), root(new))

    step = Step(
        f"move the store and igor-tick's state from {old} to {new} (out of the TFTP root)",
        lambda: not os.path.lexists(old_store),
        apply,
    )
    if os.path.lexists(new_store):
        step.blocked = (
            f"both {old}/{STORE_NAME} and {new}/{STORE_NAME} exist: keep the one with the reservations, "
            "move the other away, then run setup again"
        )
    return [step]


_STATEDIR = re.compile(r'("statedir"\s*:\s*)("(?:[^"\\]|\\.)*")', re.IGNORECASE)


def _named_statedir(path: str) -> str | None:
    """The config's statedir as written (None when unreadable or not set)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if key.lower() == "statedir" and isinstance(value, str):
            return os.path.normpath(value) if value else None
    return None


def config_statedir_step(root: Root, config: str, old: str, new: str) -> list[Step]:
    """Change only the statedir value of an existing config that names the old place; every other byte
    (comments, secrets, the admin's layout), the owner and the mode stay as they are."""
    from .deploy import Step

    real = root(config)
    if _named_statedir(real) != os.path.normpath(old):
        return []

    def apply() -> None:
        with open(real, encoding="utf-8") as handle:
            text = handle.read()
        changed = _STATEDIR.sub(lambda m: m.group(1) + json.dumps(new), text)
        st = os.stat(real)
        tmp = os.path.join(os.path.dirname(real), f".{os.path.basename(real)}.igor-setup")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, changed.encode("utf-8"))
            os.fchown(fd, st.st_uid, st.st_gid)
            os.fchmod(fd, st.st_mode & 0o7777)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, real)

    return [
        Step(
            f"config {config}: statedir {old} -> {new}",
            lambda: _named_statedir(real) != os.path.normpath(old),
            apply,
        )
    ]
