"""The time zone igor shows times in: the one igor.conf names, else the system's, found without a library;
loaded through zoneinfo only when it is not UTC."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, tzinfo

UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
"""Names of the zone that is UTC all year, abbreviated `UTC` (tzdata's `UTC` and `Etc/UTC`, the latter what
Debian's /etc/timezone says on a UTC machine). Python's own `datetime.UTC` shows every instant exactly as
zoneinfo's copy does (same offset and name; tests/test_config.py compares them), and importing zoneinfo costs
every command ~8 M instructions (~2 ms): it imports sysconfig and its data module to learn TZPATH, struct,
weakref and the C zone module. Other spellings (`Zulu`, `Universal`, `UCT`) stay zoneinfo's."""


def load_zone(name: str) -> tzinfo:
    """The zone `name` names: `datetime.UTC` for UTC, else zoneinfo's (imported here, only then).

    Raises what zoneinfo raises for a bad name; config checks the name with `zone_ok` at load."""
    if name in UTC_NAMES:
        return UTC
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def zone_ok(name: str) -> bool:
    """True if `load_zone` can load `name`; every failure mode (bad key, missing file, odd path) is a no."""
    if not name:
        return False
    try:
        load_zone(name)
    except (KeyError, ValueError, OSError):  # zoneinfo's ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _after_zoneinfo(path: str) -> str:
    """'/usr/share/zoneinfo/posix/Europe/Berlin' -> 'Europe/Berlin'; '' outside a zoneinfo tree."""
    marker = "zoneinfo/"
    if marker not in path:
        return ""
    name = path.rsplit(marker, 1)[1]
    return name.removeprefix("posix/")


def system_timezone(
    *,
    env: Mapping[str, str] | None = None,
    etc_timezone: str = "/etc/timezone",
    localtime: str = "/etc/localtime",
) -> str:
    """IANA name of the local zone, so displayed times match the wall clock when igor.conf names none.

    Order: $TZ if it names a zone (a leading ':' or a zoneinfo path is accepted), then /etc/timezone, then
    the target of the /etc/localtime symlink, else "UTC". The keyword arguments exist for tests.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    tz = environ.get("TZ", "").strip().removeprefix(":")
    if tz.startswith("/"):
        tz = _after_zoneinfo(tz)
    if zone_ok(tz):
        return tz
    try:
        with open(etc_timezone, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    if lines and zone_ok(lines[0].strip()):
        return lines[0].strip()
    try:
        target = os.readlink(localtime)
    except OSError:
        target = ""
    name = _after_zoneinfo(target)
    if zone_ok(name):
        return name
    return "UTC"
