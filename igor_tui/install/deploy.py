"""What `igor setup` and `igor doctor` share: the install root, its user database, the shipped files."""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import IgorError

DEFAULT_USER = "igor"
DEFAULT_PREFIX = "/usr/local"
CONFIG_PATH = "/etc/igor.conf"
LOG_DIR = "/var/log/igor"
CRON_PATH = "/etc/cron.d/igor"
SUDOERS_PATH = "/etc/sudoers.d/igor"
SYSTEMD_DIR = "/etc/systemd/system"
TIMER_WANTS = "/etc/systemd/system/timers.target.wants/igor-tick.timer"
# Debian's syslinux packages (pxelinux, syslinux-common): the only two files plain PXE needs in the root.
PXELINUX_FILES = {
    "pxelinux.0": "/usr/lib/PXELINUX/pxelinux.0",
    "ldlinux.c32": "/usr/lib/syslinux/modules/bios/ldlinux.c32",
}


class Root:
    """A filesystem root: `/` on the head node itself, or another tree (an image, a test directory).

    Every path igor writes into its config stays the real system's path (/srv/tftp), and only this
    class maps it under the root, so a tree built with --root works unchanged once it is the system."""

    def __init__(self, root: str = "/") -> None:
        if not os.path.isabs(root):
            raise IgorError(f"--root {root}: expected an absolute path")
        self.root = os.path.normpath(root)

    @property
    def is_system(self) -> bool:
        return self.root == "/"

    def __call__(self, path: str) -> str:
        """`path` (absolute, as the installed system sees it) inside this root."""
        return path if self.is_system else os.path.join(self.root, path.lstrip("/"))

    def __str__(self) -> str:
        return self.root


@dataclass(frozen=True, slots=True)
class Account:
    """The service user as the root's user database knows it."""

    name: str
    uid: int
    gid: int


def find_account(root: Root, user: str) -> Account | None:
    """The user from the root's own /etc/passwd, or through NSS on the live system (LDAP users count)."""
    if root.is_system:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            return None
        return Account(user, entry.pw_uid, entry.pw_gid)
    try:
        lines = Path(root("/etc/passwd")).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == user and fields[2].isdigit() and fields[3].isdigit():
            return Account(user, int(fields[2]), int(fields[3]))
    return None


def owner_name(root: Root, uid: int) -> str:
    """A uid as a name for messages, looked up in the same user database as `find_account`."""
    if root.is_system:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)
    try:
        lines = Path(root("/etc/passwd")).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return str(uid)
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[2] == str(uid):
            return fields[0]
    return str(uid)


# ------------------------------------------------------------------------------------- shipped files


def data_dir() -> Path:
    """Where contrib/ and igor.conf.example are: inside the installed package (the wheel force-includes
    them as igor_tui/data/), or, in a source checkout or editable install, at the top of the repository,
    where admins and the README find them."""
    package = Path(__file__).resolve().parent.parent  # igor_tui/ (this module is igor_tui/install/deploy.py)
    packaged = package / "data"
    if (packaged / "igor.conf.example").is_file():
        return packaged
    checkout = package.parent
    if (checkout / "igor.conf.example").is_file():
        return checkout
    raise IgorError(
        f"igor.conf.example and contrib/ are missing from {packaged}: this igor-tui installation is "
        "incomplete; reinstall it (pip install --force-reinstall igor-tui)"
    )


def read_data(name: str) -> str:
    """A shipped file's text: `igor.conf.example` or `contrib/<name>`."""
    base = data_dir()
    path = base / name if name == "igor.conf.example" else base / "contrib" / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise IgorError(f"cannot read the shipped file {path}: {err.strerror or err}") from None


# The exact spots in contrib/ that name the service user; a pattern that stops matching means the file
# changed and setup must be taught about it (tests catch that), never a silently wrong sudo rule.
_USER_SPOTS: dict[str, tuple[str, ...]] = {
    "igor.cron": (r"(?m)^(\* \* \* \* \* )igor( )",),
    "igor-tick.service": (r"(?m)^(User=)igor()$", r"(?m)^(Group=)igor()$"),
    "igor.sudoers": (r"(=\()igor(\))",),
    "igor-wrapper.sh": (r"(= )igor( \])", r"(sudo -u )igor( )"),
    "igor-tick.timer": (),
}


def render_contrib(name: str, *, user: str, prefix: str) -> str:
    """contrib/<name> for this install: the service user and the install prefix put in their places."""
    text = read_data(name)
    for pattern in _USER_SPOTS[name]:
        text, count = re.subn(pattern, lambda m: f"{m.group(1)}{user}{m.group(2)}", text)
        if not count:
            raise IgorError(f"contrib/{name} no longer has the spot {pattern!r} igor setup fills in")
    prefix = prefix.rstrip("/") or "/"
    if prefix != DEFAULT_PREFIX:
        text = text.replace(DEFAULT_PREFIX + "/", prefix.rstrip("/") + "/")
    return text


def lib_dir(prefix: str) -> str:
    """The virtualenv igor-tui lives in; the wrapper, sudo rule and tick all run its programs."""
    return os.path.join(prefix, "lib", "igor-tui")


@dataclass
class Step:
    """One change setup may make. `is_done` inspects the root; `apply` makes the change; `blocked` says
    why the step cannot be taken (and how to fix that), in which case setup does the others and fails."""

    what: str
    is_done: Callable[[], bool]
    apply: Callable[[], None]
    blocked: str = ""
    note: str = ""
