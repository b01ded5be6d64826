"""Checks of what a user typed, shared by every verb: names, durations, start times, node lists, boot
files, kernel arguments, groups, VLANs, and "find the reservation (the caller may write) or refuse".

One sentence per mistake, the same from the CLI, the TUI's forms and the importer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from ..dates import when_zone
from ..errors import Conflict, NotFound, PermissionDenied, ScheduleError, ValidationError
from ..model import Request, Reservation
from ..timeparse import format_duration, parse_duration, parse_start
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from .booking import SubmitRequest
    from .facade import IgorService

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
PXE_CMDLINE_MAX = 2047
"""PXELINUX hands the kernel at most 2047 characters of command line (syslinux 3.62 and later, matching
Linux's x86 COMMAND_LINE_SIZE of 2048 with its NUL); longer is cut off, silently, at boot."""
KERNEL_ARGS_MAX = PXE_CMDLINE_MAX - 256
"""What is left for -c once syslinux adds BOOT_IMAGE=<kernel path> and igor adds initrd=<initrd path>
(each a content-area path well under 128 characters)."""
NAME_MAX = 64
RESERVED_NAMES = frozenset({"down", "unreserved", "blocked"})  # the pseudo-rows of `igor show`
HORIZON = timedelta(days=3650)  # nothing is booked more than 10 years ahead (and datetimes stay in range)
HORIZON_MINUTES = int(HORIZON.total_seconds() // 60)


def find(reservations: Iterable[Reservation], name: str) -> Reservation:
    """The reservation called `name`, or the refusal every verb gives for a name that is not there."""
    res = next((r for r in reservations if r.name == name), None)
    if res is None:
        raise NotFound(f"no reservation named {name}" if name else "give the name of a reservation")
    return res


def build_request(svc: IgorService, req: SubmitRequest) -> Request:
    """The scheduler's request for a typed one, within the caller's limits (admins have none)."""
    from ..scheduler import check_limits

    minutes = duration_minutes(req.duration)
    nodes, size = node_spec(svc, req)
    earliest = earliest_start(svc, req.after, minutes)
    if not svc.caller.is_admin:
        check_limits(svc.config.limits, size, minutes)
    return Request(
        minutes=minutes, earliest=earliest, count=req.count, nodes=nodes, contiguous=req.contiguous
    )


def node_spec(svc: IgorService, req: SubmitRequest) -> tuple[tuple[str, ...], int]:
    """The listed nodes (if any) and how many nodes are asked for."""
    if req.count and req.nodes:
        raise ValidationError("give either -n (a number of nodes) or -w (a list of nodes), not both")
    if not req.count and not req.nodes:
        raise ValidationError("give -n (a number of nodes) or -w (a list of nodes)")
    if req.count < 0 or (not req.nodes and req.count == 0):
        raise ValidationError(f"-n must be a positive number of nodes, got {req.count}")
    if req.count > len(svc.nodes):
        raise ValidationError(
            f"-n {req.count} is larger than the cluster ({len(svc.nodes)} nodes, {svc.naming.describe()})"
        )
    nodes = svc.naming.expand(req.nodes) if req.nodes else ()
    return nodes, len(nodes) or req.count


def earliest_start(svc: IgorService, after: str, minutes: int) -> datetime:
    """The -a lower bound (now without one), refusing the past for non-admins and the far future."""
    now = svc.now()
    earliest = now
    if after:
        earliest = parse_start(after, now, svc.config.tz)
        if earliest < now and not svc.caller.is_admin:
            tz = svc.config.tz
            raise ValidationError(
                f"start time {when_zone(earliest, tz, now)} is in the past (now {when_zone(now, tz, now)})"
            )
    if minutes > HORIZON_MINUTES or earliest > now + HORIZON - timedelta(minutes=minutes):
        raise ValidationError("igor books at most 10 years ahead: pick an earlier start or a shorter -t")
    if earliest + timedelta(minutes=minutes) <= now:
        raise ValidationError(
            f"a reservation from {when_zone(earliest, svc.config.tz, now)} for "
            f"{format_duration(minutes)} would already have ended"
        )
    return earliest


def duration_minutes(text: str) -> int:
    """A typed duration in whole minutes; zero and negative durations are refused."""
    minutes = parse_duration(text)
    if minutes <= 0:
        raise ValidationError(f"duration must be positive, got '{text}' ({format_duration(minutes)})")
    return minutes


def check_name(name: str) -> None:
    if not name:
        raise ValidationError("a reservation needs a name (-r NAME)")
    if len(name) > NAME_MAX:
        raise ValidationError(f"reservation name is {len(name)} characters long; the limit is {NAME_MAX}")
    if name.lower() in RESERVED_NAMES:
        raise ValidationError(f"'{name}' is reserved for igor show's own rows; pick another name")
    if not NAME_RE.fullmatch(name):  # match() let "foo\n" through: `$` matches before a final newline
        raise ValidationError(
            f"invalid reservation name {name!r}: use only letters, digits, '-' and '_' "
            "(and do not start with '-')"
        )


def check_unique(name: str, live: list[Reservation], now: datetime) -> None:
    existing = next((r for r in live if r.name == name), None)
    if existing is None:
        return
    if existing.has_ended(now):
        raise Conflict(f"{name} has ended and is being torn down; its name is free after the next igor-tick")
    raise Conflict(f"a reservation named {name} already exists")


def check_not_paused(svc: IgorService) -> None:
    if svc.config.pause and not svc.caller.is_admin:
        raise PermissionDenied(f"igor is paused: {svc.config.pause}")


def boot_files(svc: IgorService, kernel: str, initrd: str, profile: str) -> tuple[str, str, str]:
    if profile:
        if kernel or initrd:
            raise ValidationError("give either a Cobbler profile or a kernel and initrd, not both")
        if not svc.config.usecobbler:
            raise ValidationError("igor is not configured to use Cobbler, so -profile cannot be used")
        profiles: Callable[[], list[str]] | None = getattr(svc.backends().boot, "profiles", None)
        if profiles is not None and profile not in profiles():
            raise ValidationError(f"Cobbler has no profile named {profile}")
        return "", "", profile
    if not kernel or not initrd:
        raise ValidationError("give a kernel and an initrd (-k and -i), or a Cobbler profile (-profile)")
    return os.path.abspath(kernel), os.path.abspath(initrd), ""


def check_boot_args(svc: IgorService, args: str) -> str:
    """Kernel arguments every node of the cluster can boot: on a cluster with UEFI nodes (plain PXE),
    also those GRUB passes on unchanged, so a reservation fails here rather than at its start."""
    check_kernel_args(args)
    if svc.config.bootmode and not svc.config.usecobbler:
        from ..backends.grub import kernel_words

        try:
            kernel_words(args)
        except ValueError as err:
            raise ValidationError(f"kernel arguments: {err} (bootmode)") from None
    return args


def check_kernel_args(args: str) -> str:
    size = len(args.encode("utf-8", "surrogateescape"))
    if size > KERNEL_ARGS_MAX:
        raise ValidationError(
            f"kernel arguments are {size} bytes long; the limit is {KERNEL_ARGS_MAX}, so that with the "
            f"kernel and initrd paths they fit PXELINUX's {PXE_CMDLINE_MAX}-character kernel command line"
        )
    bad = next((ch for ch in args if not ch.isprintable()), None)
    if bad is not None:
        raise ValidationError(
            f"kernel arguments contain a control character ({bad!r}); "
            "they must be a single line of printable text"
        )
    return args


def check_group(svc: IgorService, group: str) -> str:
    if not svc.directory.group_exists(group):
        raise ValidationError(f"no such group: {group}")
    if not svc.caller.is_admin and group not in svc.caller.groups:
        raise PermissionDenied(f"you are not a member of group {group}")
    return group


def resolve_vlan(svc: IgorService, value: str, live: list[Reservation]) -> int:
    """Classic -vlan: a number from the pool, or the name of a reservation whose VLAN to share."""
    cfg = svc.config
    if not cfg.network:
        raise ValidationError("this cluster has no network isolation configured, so -vlan cannot be used")
    named = next((r for r in live if r.name == value), None)
    if named is not None:
        if not svc.can_write(named):
            raise PermissionDenied(f"cannot share the VLAN of {value}: it belongs to {named.owner}")
        if named.vlan is None:
            raise ValidationError(f"{value} has no VLAN yet (it gets one when it starts); give a number")
        return named.vlan
    if not (value.isascii() and value.isdigit()):
        raise ValidationError(f"-vlan wants a VLAN number or a reservation name, got '{value}'")
    vlan = int(value)
    if not cfg.vlan_min <= vlan <= cfg.vlan_max:
        raise ValidationError(f"VLAN {vlan} is outside the pool {cfg.vlan_min}-{cfg.vlan_max}")
    users = [r for r in live if r.vlan == vlan]
    if users and not any(svc.can_write(r) for r in users):
        raise PermissionDenied(f"VLAN {vlan} is used by {users[0].name}, which belongs to {users[0].owner}")
    return vlan


def find_writable(svc: IgorService, live: list[Reservation], name: str, verb: str) -> Reservation:
    res = find(live, name)
    if not svc.can_write(res):
        raise PermissionDenied(f"permission denied: {name} belongs to {res.owner}")
    if res.has_ended(svc.now()):
        raise Conflict(f"cannot {verb} {name}: it has ended and igor-tick is releasing its nodes")
    return res


def wanted_properties(svc: IgorService, text: str) -> tuple[str, ...]:
    """The properties typed after -p (comma-separated), each one some node has: a typo would otherwise
    read as "no node has it" and look like a full cluster."""
    wanted = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    known = svc.config.known_properties()
    unknown = [p for p in wanted if p not in known]
    if unknown:
        offer = f"known properties: {', '.join(known)}" if known else "igor.conf defines no node properties"
        raise ValidationError(f"no node has property {unknown[0]!r} ({offer})")
    return wanted


def property_nodes(svc: IgorService, wanted: Sequence[str]) -> tuple[str, ...]:
    """The cluster's nodes having every property in `wanted` (all of them when it is empty)."""
    from ..scheduler import with_properties

    return with_properties(svc.nodes, svc.config.properties, wanted)


def candidate_nodes(svc: IgorService, req: SubmitRequest) -> tuple[str, ...]:
    """The nodes a request may be placed on: every node, or with -p those having all the properties.
    A -w list naming a node without them, or a -n larger than the nodes with them, is refused here,
    saying which nodes and how many."""
    wanted = wanted_properties(svc, req.properties)
    if not wanted:
        return svc.nodes
    having = property_nodes(svc, wanted)
    listed = ",".join(wanted)
    if req.nodes:
        have = set(having)
        lacking = [n for n in svc.naming.expand(req.nodes) if n not in have]
        if lacking:
            raise ValidationError(
                f"{svc.naming.compress(lacking)} lack{'s' if len(lacking) == 1 else ''} "
                f"{listed}: only {svc.naming.compress(having) or 'no node'} "
                f"{'has' if len(having) == 1 else 'have'} them"
            )
    elif req.count > len(having):
        noun = "node has" if len(having) == 1 else "nodes have"
        raise ScheduleError(f"only {len(having)} {noun} {listed}; asked for {req.count}")
    return having


def check_quota(
    svc: IgorService,
    live: Iterable[Reservation],
    user: str,
    added: Sequence[tuple[Sequence[str], datetime, datetime]],
    what: str = "booking",
) -> None:
    """Refuse `added` (nodes, start, end) when it would take `user` over their quota (igor.conf `quota`),
    counted with everything they hold now and later; the sentence says the quota, the use and what would
    fit. An admin caller is exempt, as from every limit (restore checks the owner's quota itself).

    Called by sub, extend and edit (adding nodes) inside their transaction, with `live` from it. Without
    a quota configured there is nothing to check, nor a module to import (~1.5 M instructions, issue 14)."""
    if svc.caller.is_admin or not svc.config.quota:
        return
    from .quota import check

    check(svc, live, user, added, what)
