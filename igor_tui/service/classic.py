"""Reading classic igor's reservations.json (spec §4.2) for `igor import-classic`.

Classic igor stores one JSON object keyed by decimal ids, with capitalised Go field names, RFC 3339 times
(Go may write nanoseconds), durations in nanoseconds and SHA-1 named copies of kernels and initrds beside
the file (`<sha1>-kernel`, `<sha1>-initrd`). This module only parses and checks; the service decides what
can be carried over and writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..trust import Principal

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


@dataclass(frozen=True, slots=True)
class ClassicReservation:
    """One entry of reservations.json, typed; `problems` holds what could not be read."""

    id: str
    name: str
    owner: str
    group: str
    start: datetime | None
    end: datetime | None
    duration_ns: int
    hosts: tuple[str, ...]
    profile: str
    kernel_args: str
    kernel: str
    initrd: str
    kernel_hash: str
    initrd_hash: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _time(value: object) -> datetime | None:
    """RFC 3339 as Go writes it ('Z' or an offset, up to nanoseconds) -> aware UTC; None if unreadable."""
    if not isinstance(value, str):
        return None
    text = _FRACTION.sub(r"\1", value.strip())  # Python keeps microseconds at most
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.astimezone(UTC)


def _text(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    return value if isinstance(value, str) else ""


def parse_classic(path: str, who: Principal | None = None) -> list[ClassicReservation]:
    """Every entry of a classic reservations.json, in id order; an empty file means no reservations.

    Read with the rights of `who` (the admin behind sudo; None: the process's own), like a kernel: being
    an admin does not let anyone read through igor what they could not read themselves."""
    from ..trust import open_as, own_principal

    fd = open_as(who or own_principal(), path, "classic store")
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read()
    except OSError as err:
        raise ValidationError(f"cannot read {path}: {err.strerror}") from None
    finally:
        os.close(fd)
    if not raw.strip():
        return []
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ValidationError(f"{path} is not classic igor's reservations.json: {err}") from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"{path} is not classic igor's reservations.json: expected a JSON object of reservations"
        )
    out: list[ClassicReservation] = []
    for key, entry in data.items():
        if not isinstance(entry, dict):
            out.append(_unreadable(str(key), "not a JSON object"))
            continue
        problems: list[str] = []
        notes: list[str] = []
        start, end = _time(entry.get("Start")), _time(entry.get("End"))
        if start is None:
            problems.append(f"Start {entry.get('Start')!r} is not an RFC 3339 time")
        if end is None:
            problems.append(f"End {entry.get('End')!r} is not an RFC 3339 time")
        hosts = entry.get("Hosts")
        if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
            problems.append(f"Hosts {hosts!r} is not a list of node names")
            hosts = []
        duration = entry.get("Duration")
        if (
            start
            and end
            and isinstance(duration, int)
            and timedelta(microseconds=duration // 1000) != end - start
        ):
            notes.append(f"Duration {duration} ns does not match End - Start; End is kept")
        if not _text(entry, "Name") or not _text(entry, "Owner"):
            problems.append("Name or Owner is missing")
        out.append(
            ClassicReservation(
                id=str(entry.get("ID", key)),
                name=_text(entry, "Name"),
                owner=_text(entry, "Owner"),
                group=_text(entry, "Group"),
                start=start,
                end=end,
                duration_ns=duration if isinstance(duration, int) else 0,
                hosts=tuple(hosts),
                profile=_text(entry, "CobblerProfile"),
                kernel_args=_text(entry, "KernelArgs"),
                kernel=_text(entry, "Kernel"),
                initrd=_text(entry, "Initrd"),
                kernel_hash=_text(entry, "KernelHash").lower(),
                initrd_hash=_text(entry, "InitrdHash").lower(),
                problems=tuple(problems),
                notes=tuple(notes),
            )
        )
    return sorted(out, key=lambda r: (r.start or datetime.max.replace(tzinfo=UTC), r.id))


def _unreadable(key: str, why: str) -> ClassicReservation:
    return ClassicReservation(key, "", "", "", None, None, 0, (), "", "", "", "", "", "", (why,))


def find_copy(directory: str, digest: str, suffix: str, original: str) -> str:
    """The file whose SHA-1 is `digest`: classic igor's own copy beside reservations.json, else the path the
    user gave at the time if it still holds the same bytes; '' if neither does."""
    candidates = [os.path.join(directory, f"{digest}-{suffix}")] if digest else []
    if original:
        candidates.append(original)
    for path in candidates:
        try:
            with open(path, "rb") as handle:
                if hashlib.sha1(handle.read(), usedforsecurity=False).hexdigest() == digest:
                    return path
        except OSError:
            continue
    return ""
