"""Who is calling and what they may do: sudo-aware user identity, groups, admins."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from collections.abc import Iterable, Mapping

from .typenames import Protocol
from .values import dataclass


class UserDirectory(Protocol):
    """User and group lookups; the system one reads /etc/passwd and /etc/group (or NSS)."""

    def user_exists(self, user: str) -> bool: ...

    def group_exists(self, group: str) -> bool: ...

    def groups_of(self, user: str) -> frozenset[str]: ...


class SystemDirectory:
    """Lookups through pwd/grp, so LDAP or sssd users work exactly as they do for sudo."""

    def user_exists(self, user: str) -> bool:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return False
        return True

    def group_exists(self, group: str) -> bool:
        try:
            grp.getgrnam(group)
        except KeyError:
            return False
        return True

    def groups_of(self, user: str) -> frozenset[str]:
        """The user's primary and supplementary groups as the system's NSS answers them (getgrouplist,
        what login and sudo use), not by enumerating every group: enumeration is off by default in
        sssd, so LDAP groups were missed, and it read the whole group database on every command. A name
        with no passwd entry has no primary group; only the groups that list it as a member count."""
        try:
            primary = pwd.getpwnam(user).pw_gid
        except KeyError:
            return frozenset(entry.gr_name for entry in grp.getgrall() if user in entry.gr_mem)
        try:
            gids = os.getgrouplist(user, primary)
        except OSError:
            gids = [primary]
        names: set[str] = set()
        for gid in gids:
            with contextlib.suppress(KeyError):
                names.add(grp.getgrgid(gid).gr_name)
        return frozenset(names)


@dataclass(frozen=True)
class StaticDirectory:
    """A fixed directory for tests and the demo: {user: groups} plus groups that exist without members."""

    users: Mapping[str, frozenset[str]]
    extra_groups: frozenset[str] = frozenset()

    def user_exists(self, user: str) -> bool:
        return user in self.users

    def group_exists(self, group: str) -> bool:
        return group in self.extra_groups or any(group in g for g in self.users.values())

    def groups_of(self, user: str) -> frozenset[str]:
        return self.users.get(user, frozenset())


@dataclass(frozen=True, slots=True)
class Caller:
    """The person a request acts for, with the facts permission checks need."""

    user: str
    groups: frozenset[str]
    is_admin: bool


SERVICE_USER = "igor"
SYSTEM_CONFIG = "/etc/igor.conf"


def service_uids() -> frozenset[int]:
    """Accounts a user can only become through sudo: root, the `igor` service user, and the owner of
    /etc/igor.conf. Never the owner of a config a user points igor at, which they could write themselves."""
    uids = {0}
    with contextlib.suppress(KeyError):
        uids.add(pwd.getpwnam(SERVICE_USER).pw_uid)
    with contextlib.suppress(OSError):
        uids.add(os.stat(SYSTEM_CONFIG).st_uid)
    return frozenset(uids)


def caller_name(env: Mapping[str, str], trusted: frozenset[int], euid: int | None = None) -> str:
    """The real user behind this process.

    SUDO_USER is trusted only when the process runs as one of the `trusted` service accounts, which is
    only possible through sudo; anyone else is themselves, so exporting SUDO_USER impersonates nobody.
    """
    euid = os.geteuid() if euid is None else euid
    sudo_user = env.get("SUDO_USER", "")
    if sudo_user and euid in trusted:
        return sudo_user
    try:
        return pwd.getpwuid(euid).pw_name
    except KeyError:
        return str(euid)


def resolve_caller(user: str, admins: Iterable[str], directory: UserDirectory) -> Caller:
    """Caller with groups and admin status: root, a listed admin, or a member of a listed %group."""
    groups = directory.groups_of(user)
    admin = user == "root"
    for entry in admins:
        admin = admin or (entry[1:] in groups if entry.startswith("%") else entry == user)
    return Caller(user=user, groups=groups, is_admin=admin)
