"""`igor import-classic`: carry classic igor's reservations.json over (reading it is classic.py's job).

Each classic entry is checked as `igor sub` would check it (name, kernel arguments, nodes, boot files),
then against what is booked; a dry run reports the plan, `apply` copies the boot files outside the lock
and stores every import in one transaction, checking the plan again against the store by then.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..dates import when_zone
from ..errors import ValidationError
from ..model import Reservation, floor_minute
from ..values import dataclass, replace
from . import checks

if TYPE_CHECKING:
    from .classic import ClassicReservation
    from .facade import IgorService


class ImportAction(enum.StrEnum):
    """What happens (or, in a dry run, would happen) to one classic reservation; a StrEnum so the text
    and JSON output keep the words "import" and "skip"."""

    IMPORT = "import"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class ImportItem:
    """`igor import-classic`: one classic reservation, whether it is (or would be) imported, and why not."""

    classic_id: str
    name: str
    action: ImportAction
    reasons: tuple[str, ...] = ()
    reservation: Reservation | None = None


def import_classic(svc: IgorService, path: str, *, apply: bool = False) -> list[ImportItem]:
    """Carry classic igor's reservations.json over (admins; files are read with their own rights).

    Reservations that have not ended are imported with the same name, owner, group, nodes, times and
    boot files (classic igor's SHA-1 named copies beside the file, checked); anything that cannot be
    carried over is reported with the reason. Without `apply` nothing is written (a dry run). igor-tick
    then installs the active ones itself; classic igor's PXE files and VLANs are not taken over."""
    from .classic import parse_classic

    svc._require_admin("import reservations")
    entries = parse_classic(path, svc.reader)
    now = svc.now()
    taken = [r for r in svc.live_reservations() if not r.has_ended(now)]
    items: list[ImportItem] = []
    for entry in entries:
        label = entry.name or f"id {entry.id}"
        notes = list(entry.notes)
        reasons, res = _carried_over(svc, entry, path, now)
        if res is None:
            items.append(ImportItem(entry.id, label, ImportAction.SKIP, tuple(reasons + notes)))
            continue
        if (res.start, res.end) != (entry.start, entry.end):
            notes.append("times rounded to whole minutes")
        clash = _clash(taken, res)
        if clash is not None:
            why = "its name is taken" if clash.name == res.name else "its nodes are booked then"
            reason = f"{why} by {clash.name} ({clash.owner})"
            items.append(ImportItem(entry.id, label, ImportAction.SKIP, (reason, *notes)))
            continue
        taken.append(res)
        items.append(ImportItem(entry.id, label, ImportAction.IMPORT, tuple(notes), res))
    if apply and any(i.action is ImportAction.IMPORT for i in items):
        _apply(svc, items, now)
    return items


def _carried_over(
    svc: IgorService, entry: ClassicReservation, path: str, now: datetime
) -> tuple[list[str], Reservation | None]:
    """Why `entry` cannot be carried over, or (no reasons) the reservation it becomes, its times
    rounded out to whole minutes and its boot files found beside `path` or at their original paths."""
    reasons = list(entry.problems)
    if reasons:
        return reasons, None
    assert entry.start is not None and entry.end is not None
    if entry.end <= now:
        reasons.append(f"it ended {when_zone(entry.end, svc.config.tz, now)}")
    nodes: tuple[str, ...] = ()
    try:
        checks.check_name(entry.name)
        checks.check_kernel_args(entry.kernel_args)  # the same limits as sub: one line, fits APPEND
        nodes = tuple(sorted({svc.naming.canonical(h) for h in entry.hosts}, key=svc.nodes.index))
    except ValidationError as err:
        reasons.append(str(err))
    files = {"kernel": "", "initrd": ""}
    if entry.profile:
        if not svc.config.usecobbler:
            reasons.append(f"it boots Cobbler profile {entry.profile}, but usecobbler is off")
    else:
        reasons += _find_boot_files(entry, path, files)
    if reasons:
        return reasons, None
    end = floor_minute(entry.end)
    if entry.end.second or entry.end.microsecond:
        end += timedelta(minutes=1)
    return reasons, Reservation(
        id=0,
        name=entry.name,
        owner=entry.owner,
        start=floor_minute(entry.start),
        end=end,
        nodes=nodes,
        group=entry.group,
        kernel=files["kernel"],
        initrd=files["initrd"],
        profile=entry.profile,
        kernel_args=entry.kernel_args,
        created=now,
    )


def _find_boot_files(entry: ClassicReservation, path: str, found: dict[str, str]) -> list[str]:
    """Fill `found` with the kernel's and initrd's copies (same SHA-1); returns why any is missing."""
    from .classic import find_copy

    directory = os.path.dirname(os.path.abspath(path))
    reasons: list[str] = []
    for what, digest, original in (
        ("kernel", entry.kernel_hash, entry.kernel),
        ("initrd", entry.initrd_hash, entry.initrd),
    ):
        copy = find_copy(directory, digest, what, original)
        if not copy:
            reasons.append(
                f"its {what} ({digest or 'no hash'}-{what}) is neither beside {path} nor at "
                f"{original or 'its original path'} with the same SHA-1"
            )
        found[what] = copy
    return reasons


def _clash(booked: Iterable[Reservation], res: Reservation) -> Reservation | None:
    """The first reservation with `res`'s name, or on one of its nodes during its window."""
    mine = set(res.nodes)
    return next(
        (r for r in booked if r.name == res.name or (mine & set(r.nodes) and r.overlaps(res.start, res.end))),
        None,
    )


def _apply(svc: IgorService, items: list[ImportItem], now: datetime) -> None:
    """Copy the boot files (outside the lock), then store every import in one transaction, checking the
    plan again against what the store holds by then."""
    with svc._copies_collected_on_failure():
        planned: list[tuple[int, Reservation]] = []
        for i, item in enumerate(items):
            if item.action is ImportAction.IMPORT and item.reservation is not None:
                res = item.reservation
                if res.kernel:
                    res = replace(
                        res,
                        kernel_hash=svc.content.add(res.kernel, "kernel", svc.reader),
                        initrd_hash=svc.content.add(res.initrd, "initrd", svc.reader),
                    )
                planned.append((i, res))
        with svc.store.transaction() as tx:
            live = svc._housekeep(tx, now)
            for i, res in planned:
                clash = _clash(live, res)
                if clash is not None:
                    reason = f"{clash.name} took its place meanwhile"
                    items[i] = replace(items[i], action=ImportAction.SKIP, reasons=(reason,))
                    continue
                stored = tx.add_reservation(res)
                live.append(stored)
                items[i] = replace(items[i], reservation=stored)
    for item in items:
        if item.action is ImportAction.IMPORT and item.reservation is not None:
            svc._log("imported", item.reservation, classic_id=item.classic_id)
