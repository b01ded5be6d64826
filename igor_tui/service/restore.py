"""Reading and undoing the archive: `igor history`'s archived entries, the TUI's look at the past, and
`igor restore` (admins), which puts an archived reservation back if its window has not passed and its
nodes are still free.

Kept out of the facade (it delegates here) so the facade does not keep growing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..dates import span_text, when_zone
from ..errors import Conflict, NotFound, PermissionDenied, ValidationError
from ..values import replace
from . import quota

if TYPE_CHECKING:
    from ..archive import ArchivedReservation
    from ..model import Block, Reservation
    from .facade import IgorService


def archived_named(svc: IgorService, name: str) -> list[ArchivedReservation]:
    """Archived reservations called `name` (names are reused: several may match), oldest first."""
    return svc.store.archived(name)


def past_reservations(svc: IgorService, start: datetime, end: datetime) -> list[Reservation]:
    """Archived reservations whose window overlaps [start, end), by start time: ended, deleted or
    expired ones the store no longer holds, each ending when it really let go of its nodes."""
    if start.utcoffset() is None or end.utcoffset() is None:
        raise ValidationError("past_reservations needs timezone-aware start and end times")
    found: list[Reservation] = []
    for entry in svc.store.archived():
        res = entry.reservation
        ended = min(res.end, entry.archived)  # deleted early: it held its nodes until then, not to its end
        if ended <= res.start:
            continue  # deleted before it started: it never held a node
        if ended < res.end:
            res = replace(res, end=ended)
        if res.overlaps(start, end):
            found.append(res)
    return sorted(found, key=lambda r: (r.start, r.id))


def restore(svc: IgorService, name: str) -> Reservation:
    """Put the latest archived reservation called `name` back in the store, as it was booked, for the
    tick to install when its start comes (or at once if it has). "Not passed" is judged by the real
    clock: while igor-tick holds a clock step, the trusted time, not the stepped wall clock. Admins
    only: it can take nodes back from the free pool on someone's behalf.

    Its boot file copies may have been collected when it was archived; they are copied again from the
    paths it was booked with, and only if those still hold the same bytes (same sha256)."""
    if not svc.caller.is_admin:
        raise PermissionDenied("only admins may restore a reservation")
    entries = archived_named(svc, name)
    if not entries:
        raise NotFound(f"no archived reservation named {name} (see 'igor history {name}')")
    res = entries[-1].reservation
    tz = svc.config.tz
    now = svc.real_now()
    if res.has_ended(now):
        raise Conflict(f"cannot restore {name}: its window ended {when_zone(res.end, tz, now)}")
    files = ((res.kernel, res.kernel_hash), (res.initrd, res.initrd_hash))
    with svc._copies_collected_on_failure():
        for path, digest in files:
            if digest and not svc.content.has(digest):
                _recopy(svc, name, path, digest)
        with svc.store.transaction() as tx:
            live = svc._housekeep(tx, now)
            svc._check_unique(name, live, now)
            blocker = _in_the_way(svc, res, live, tx.blocks(), now)
            if blocker:
                raise Conflict(f"cannot restore {name}: {blocker}")
            quota.check(svc, live, res.owner, [(res.nodes, res.start, res.end)], "restore")
            for path, digest in files:
                if digest and not svc.content.has(digest):  # collected by a concurrent delete meanwhile
                    _recopy(svc, name, path, digest)
            restored = replace(res, installed=False, error="")
            tx.restore_reservation(restored)
    svc._log("restored", restored)
    return restored


def _recopy(svc: IgorService, name: str, path: str, digest: str) -> None:
    try:
        again = svc.content.add(path, "file")
    except ValidationError as err:
        raise Conflict(f"cannot restore {name}: its copy of {path} is gone and {err}") from None
    if again != digest:
        raise Conflict(f"cannot restore {name}: its copy of {path} is gone and the file has changed since")


def _in_the_way(
    svc: IgorService, res: Reservation, live: list[Reservation], blocks: list[Block], now: datetime
) -> str:
    """What holds one of `res`'s nodes during its window, in one phrase; '' when nothing does."""
    tz = svc.config.tz
    mine = set(res.nodes)
    for other in sorted(live, key=lambda r: (r.start, r.id)):
        shared = mine.intersection(other.nodes)
        if shared and other.overlaps(res.start, res.end):
            return (
                f"{svc._nodes_text(tuple(sorted(shared)))} reserved by {other.name} "
                f"({span_text(other.start, other.end, tz, now)})"
            )
    for block in blocks:
        shared = mine.intersection(block.nodes)
        if shared and block.overlaps(res.start, res.end):
            return f"{svc._nodes_text(tuple(sorted(shared)))} blocked for maintenance ({block.reason})"
    return ""
