"""The archive of ended reservations: an append-only JSON-lines file in statedir, never part of the store.

Every path that takes a reservation out of the store (`igor del`, expiry by igor-tick or by any writer's
housekeeping, igor-tick's release after a teardown) appends the reservation here, with when, why and by
whom, written and fsynced under the store lock *before* the transaction that removes it commits. A crash
between the two leaves the reservation in both places; readers therefore de-duplicate by id (the last line
wins) and drop ids the store still holds, so nothing is ever lost and nothing shows twice.

Why a separate file: the store document is rewritten by every transaction, so history inside it would make
every booking slower as the years go by. Appending a line costs the same on day one and day 3,000; only
`igor history`, `igor restore` and the TUI's look at the past read the whole file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from .errors import StoreError
from .model import Reservation
from .typenames import Any
from .values import dataclass

ARCHIVE_NAME = "archive.jsonl"
ENDINGS_KEY = "endings"
"""Store key/value entry: res id -> {why, by, at} for reservations ended early by `igor del` that stay in
the store until igor-tick has torn them down; the archive line then says who deleted it, not "ended"."""


@dataclass(frozen=True, slots=True)
class ArchivedReservation:
    """A reservation taken out of the store: as it was, when, why ("deleted", "expired", "ended") and by
    whom (a user, or igor-tick)."""

    reservation: Reservation
    archived: datetime
    why: str
    by: str


Encode = Callable[[Reservation], Mapping[str, Any]]
Decode = Callable[[Mapping[str, Any]], Reservation]
"""The store's reservation codec, handed in by the store so the archive's lines hold the same records as
the store document (and this module does not import the store back)."""


def entry_line(entry: ArchivedReservation, encode: Encode) -> bytes:
    """One archive line (JSON, newline-terminated)."""
    record = {
        "archived": entry.archived.isoformat(),
        "why": entry.why,
        "by": entry.by,
        "reservation": encode(entry.reservation),
    }
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def _entry(record: Mapping[str, Any], decode: Decode) -> ArchivedReservation:
    return ArchivedReservation(
        reservation=decode(record["reservation"]),
        archived=datetime.fromisoformat(record["archived"]),
        why=str(record.get("why", "")),
        by=str(record.get("by", "")),
    )


def parse_lines(
    payload: bytes, decode: Decode, live_ids: Iterable[int] = (), *, name: str | None = None
) -> list[ArchivedReservation]:
    """The archive's entries, one per reservation id (its last line), without ids the store still holds,
    oldest archival first; with `name`, only reservations of that name. A torn last line (a crash
    mid-append) or a damaged line is skipped: the archive only ever adds, so one bad line must not hide
    the rest.

    `name` first skips every line that does not even contain the name's JSON spelling (an id's lines all
    carry the same name, so "last line wins" is unaffected): `igor history` over 50,000 archived
    reservations took ~1.9 s decoding them all."""
    latest: dict[int, ArchivedReservation] = {}
    needle = json.dumps(name, ensure_ascii=False)[1:-1].encode("utf-8") if name is not None else b""
    for line in payload.splitlines():
        if not line.strip() or needle not in line:
            continue
        try:
            entry = _entry(json.loads(line), decode)
        except (ValueError, KeyError, TypeError):
            continue
        if name is not None and entry.reservation.name != name:
            continue
        latest.pop(entry.reservation.id, None)  # re-insert: dict order follows the last archival
        latest[entry.reservation.id] = entry
    for res_id in live_ids:
        latest.pop(res_id, None)
    return list(latest.values())


def read_file(path: str) -> bytes:
    """The archive's bytes; b"" when there is none yet."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""
    except OSError as err:
        raise StoreError(f"cannot read the igor archive {path}: {err.strerror or err}") from err


def append_file(path: str, lines: list[bytes]) -> None:
    """Append `lines` and fsync before returning (the caller holds the store lock and commits next).

    A previous append cut short by a crash may have left a last line without its newline: one is written
    first, so the torn line stays alone (and is skipped) instead of swallowing this entry."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as err:
        raise StoreError(f"cannot write the igor archive {path}: {err.strerror or err}") from err
    try:
        data = b"".join(lines)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        if not size:  # a new file: make its directory entry durable too, before the store commits
            from .tempfiles import fsync_directory

            fsync_directory(os.path.dirname(path) or ".")
    except OSError as err:
        raise StoreError(f"cannot write the igor archive {path}: {err.strerror or err}") from err
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
