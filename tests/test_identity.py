"""identity.SystemDirectory answers group membership as the system does (NSS), for LDAP/sssd sites too."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd

import pytest

from igor_tui.identity import SystemDirectory


def _by_enumeration(user: str) -> frozenset[str]:
    """What a files-only system says: the primary group and every group listing the user."""
    names = {entry.gr_name for entry in grp.getgrall() if user in entry.gr_mem}
    with contextlib.suppress(KeyError):
        names.add(grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name)
    return frozenset(names)


def test_groups_are_the_primary_and_supplementary_ones_of_every_local_user() -> None:
    """On this machine's files backend, getgrouplist and enumeration must agree for every account."""
    users = [entry.pw_name for entry in pwd.getpwall()]
    assert users
    directory = SystemDirectory()
    for user in users:
        assert directory.groups_of(user) == _by_enumeration(user), user


def test_a_name_without_an_account_has_only_the_groups_that_list_it() -> None:
    assert SystemDirectory().groups_of("no-such-user-igor-test") == frozenset()


def test_groups_come_from_getgrouplist_not_from_enumerating_every_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sssd enumerates nothing by default: a directory user's groups exist only through getgrouplist."""
    user = pwd.getpwuid(os.getuid()).pw_name
    primary = pwd.getpwnam(user).pw_gid
    other = next(entry for entry in grp.getgrall() if entry.gr_gid != primary)  # stands for an LDAP group
    monkeypatch.setattr(grp, "getgrall", lambda: [])
    monkeypatch.setattr(os, "getgrouplist", lambda name, gid: [gid, other.gr_gid] if name == user else [gid])
    expected = frozenset({grp.getgrgid(primary).gr_name, other.gr_name})
    assert SystemDirectory().groups_of(user) == expected
