"""`igor sub --like NAME`: book like last time, from a live or archived reservation.

What is reused: the boot (the kernel and initrd by content hash, so the files need not exist at their
original paths any more, or the Cobbler profile), the kernel arguments, the VLAN sharing, the node count
and the duration. Every flag the user gives wins over what is reused. Only the reservation's owner, its
group and admins may book like it: its boot files are copies of files they could read, not the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import NotFound, PermissionDenied, ValidationError
from ..model import floor_minute
from ..timeparse import format_duration
from ..typenames import TYPE_CHECKING
from ..values import dataclass, replace
from .housekeeping import is_live

if TYPE_CHECKING:
    from ..model import Reservation
    from .booking import SubmitRequest
    from .facade import IgorService


@dataclass(frozen=True, slots=True)
class Like:
    """The request with what `source` lends it filled in, the boot files by hash, and what was reused."""

    source: Reservation
    archived: bool
    request: SubmitRequest
    kernel_hash: str = ""  # set when the boot files are reused: submit copies nothing
    initrd_hash: str = ""
    reused: tuple[str, ...] = ()

    @property
    def sentence(self) -> str:
        """The one line `igor sub` prints, e.g. `like run-42 (archived): 8 nodes, 2h, kernel sha256:…`."""
        state = "archived" if self.archived else "live"
        what = ", ".join(self.reused) if self.reused else "nothing (every option was given)"
        return f"like {self.source.name} ({state}): {what}"


def short_hash(digest: str) -> str:
    return f"sha256:{digest[:12]}…"


def find_source(
    svc: IgorService, name: str, reservations: Sequence[Reservation], now: datetime
) -> tuple[Reservation, bool]:
    """The live reservation called `name`, else the most recently archived one; (it, archived?)."""
    live = [r for r in reservations if r.name == name and is_live(r, now)]
    if live:
        return live[-1], False
    entries = svc.store.archived(name)
    if entries:
        return max(entries, key=lambda e: e.archived).reservation, True
    raise NotFound(f"--like {name}: no live or archived reservation is called {name}")


def resolve_like(svc: IgorService, req: SubmitRequest) -> Like:
    """`req` (whose `like` names the source) completed from the source; refuses in one line when the
    caller may not reuse it or its boot files are gone from the content area.

    The answer is kept on the service for the same request, store and minute: `igor sub --like` asks
    for it to print what it reuses, then to plan and to book (the booking checks the copies again
    under the lock), and each answer read the store, and for an archived source the archive."""
    snap, now = svc.store.snapshot(), floor_minute(svc.now())
    last = svc._last_like
    if last is not None and last[0] == req and last[1] is snap and last[2] == now:
        return last[3]
    like = _resolve(svc, req, snap.reservations, now)
    svc._last_like = (req, snap, now, like)
    return like


def _resolve(
    svc: IgorService, req: SubmitRequest, reservations: Sequence[Reservation], now: datetime
) -> Like:
    source, archived = find_source(svc, req.like, reservations, now)
    if not svc.can_write(source):
        raise PermissionDenied(
            f"--like {source.name}: it belongs to {source.owner}; only its owner, its group's members and "
            "admins may book like it"
        )
    reused: list[str] = []
    changes: dict[str, object] = {}
    if not req.count and not req.nodes:
        changes["count"] = len(source.nodes)
        reused.append(f"{len(source.nodes)} nodes")
    if not req.duration:
        minutes = int(source.duration.total_seconds() // 60)
        changes["duration"] = f"{minutes}m"
        reused.append(format_duration(minutes))
    hashes = ("", "")
    if not (req.kernel or req.initrd or req.profile):
        hashes, words = _boot(svc, source)
        changes.update(kernel=source.kernel, initrd=source.initrd, profile=source.profile)
        reused.extend(words)
    if req.kernel_args is None:
        changes["kernel_args"] = source.kernel_args
        if source.kernel_args:
            reused.append(f'args "{source.kernel_args}"')
    if not req.vlan:
        shared = _shared_vlan(svc, source, reservations, now)
        if shared:
            changes["vlan"] = shared
            reused.append(f"VLAN of {shared}")
    request = replace(req, **changes)
    return Like(source, archived, request, hashes[0], hashes[1], tuple(reused))


def _boot(svc: IgorService, source: Reservation) -> tuple[tuple[str, str], list[str]]:
    """The source's boot: its profile, or its kernel and initrd copies, which must still be there."""
    if source.profile:
        return ("", ""), [f"Cobbler profile {source.profile}"]
    for what, digest in (("kernel", source.kernel_hash), ("initrd", source.initrd_hash)):
        if not digest:
            raise ValidationError(f"--like {source.name}: it has no {what} to reuse; give -k and -i")
        if not svc.content.has(digest):
            raise ValidationError(
                f"--like {source.name}: its {what} ({short_hash(digest)}) is no longer in the content area "
                "(igor keeps copies only while a reservation uses them); give -k and -i"
            )
    words = [f"kernel {short_hash(source.kernel_hash)}", f"initrd {short_hash(source.initrd_hash)}"]
    return (source.kernel_hash, source.initrd_hash), words


def _shared_vlan(
    svc: IgorService, source: Reservation, reservations: Sequence[Reservation], now: datetime
) -> str:
    """The live reservation (other than the source, and the caller's to share) whose VLAN the source
    shared, or ''. Only one that
    overlapped the source can have shared it: igor never gives two live reservations one VLAN, so a
    later holder of the number just got it after the source let it go."""
    if source.vlan is None:
        return ""
    for res in reservations:
        same = res.id != source.id and res.vlan == source.vlan
        if same and is_live(res, now) and res.overlaps(source.start, source.end) and svc.can_write(res):
            return res.name
    return ""


def check_content(svc: IgorService, like: Like) -> None:
    """Inside the booking's transaction (collection of unused copies takes the same lock): the copies
    found before are still there, so the reservation written next keeps them."""
    if like.kernel_hash:
        _boot(svc, like.source)
