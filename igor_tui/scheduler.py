"""Pure scheduling: earliest fit, speculation, extension room and site limits (no I/O, no clock).

Everything works on whole minutes since the epoch and on per-node sorted busy intervals, so the cost
grows with the number of reservations and nodes, never with the length of the time horizon:

* each usable node contributes the intervals of start times at which it is free for the whole requested
  duration ("feasible starts": for a gap [a, b) that is [a, b - d]);
* one sweep over the sorted boundaries of those intervals keeps a count of available nodes (and, for
  ``contiguous`` requests, a segment tree of runs of consecutive nodes);
* the first boundary at which the condition holds is the earliest start; the following ones are the
  speculation options, so every option is, by construction, what a booking at that start would get.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from .errors import LimitError, ScheduleError
from .model import Block, Limits, Request, Reservation, Slot
from .typenames import TYPE_CHECKING
from .values import dataclass

if TYPE_CHECKING:
    from .policy import PolicyRules

_FOREVER = 1 << 62


_EPOCH_DAY = 719_163
"""`date(1970, 1, 1).toordinal()`."""


def to_minutes(when: datetime) -> int:
    """Epoch minutes of an aware datetime (seconds are dropped: igor's resolution is one minute).

    A UTC time (everything the store holds) is counted from its fields: `timestamp()` asks an aware
    datetime's zone for its offset by a method call and builds timedeltas and a float on the way, ~10
    times the work, and `busy_intervals` converts 10,000 times per booking at 5,000 reservations."""
    if when.tzinfo is UTC:
        return (when.toordinal() - _EPOCH_DAY) * 1440 + when.hour * 60 + when.minute
    return int(when.timestamp()) // 60


def from_minutes(minutes: int) -> datetime:
    """Aware UTC datetime for epoch minutes."""
    return datetime.fromtimestamp(minutes * 60, UTC)


# --------------------------------------------------------------------------------------------- limits


def max_minutes(timelimit: int, nodes: int) -> float | None:
    """Longest booking a non-admin may make on `nodes` nodes: classic's timelimit / log2(n) for n > 1."""
    if timelimit <= 0:
        return None
    if nodes <= 1:
        return float(timelimit)
    return timelimit / math.log2(nodes)


def _hm(minutes: float) -> str:
    whole = math.floor(minutes + 1e-9)
    return f"{whole // 60}h{whole % 60}m"


def _compact(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours}h{mins}m"
    return f"{hours}h" if hours else f"{mins}m"


def check_limits(limits: Limits, nodes: int, minutes: int) -> None:
    """Refuse a new booking over the node or time limit, saying the limit and what was asked."""
    if limits.nodelimit > 0 and nodes > limits.nodelimit:
        raise LimitError(f"at most {limits.nodelimit} nodes per reservation, you asked for {nodes}")
    allowed = max_minutes(limits.timelimit, nodes)
    if allowed is not None and minutes > allowed + 1e-9:
        noun = "node" if nodes == 1 else "nodes"
        raise LimitError(f"max {_hm(allowed)} for {nodes} {noun}, you asked {_compact(minutes)}")


def check_extend_limits(limits: Limits, res: Reservation, now: datetime, minutes: int) -> None:
    """Refuse an extension over `extendwithin` or the time limit (counted on remaining + extension)."""
    remaining = to_minutes(res.end) - max(to_minutes(now), to_minutes(res.start))
    if limits.extendwithin > 0 and remaining > limits.extendwithin:
        raise LimitError(
            f"{res.name} can only be extended within {_compact(limits.extendwithin)} of its end; "
            f"it ends in {_compact(remaining)}"
        )
    allowed = max_minutes(limits.timelimit, len(res.nodes))
    total = remaining + minutes
    if allowed is not None and total > allowed + 1e-9:
        noun = "node" if len(res.nodes) == 1 else "nodes"
        raise LimitError(
            f"max {_hm(allowed)} for {len(res.nodes)} {noun}, you asked {_compact(total)} "
            f"({_compact(remaining)} remaining + {_compact(minutes)} extension)"
        )


# ------------------------------------------------------------------------------------ node properties


def with_properties(
    nodes: Sequence[str], properties: Mapping[str, frozenset[str]], wanted: Iterable[str]
) -> tuple[str, ...]:
    """The `nodes` having every property in `wanted`, in node order: the candidate set a request with
    `-p` is scheduled over. A filter on the scheduler's input rather than a rule inside it, so every
    search (earliest fit, speculation, why-not) sees the same smaller cluster and stays the one sweep."""
    need = frozenset(wanted)
    if not need:
        return tuple(nodes)
    empty: frozenset[str] = frozenset()
    return tuple(n for n in nodes if need <= properties.get(n, empty))


# ------------------------------------------------------------------------------------ busy intervals


def busy_intervals(
    index: dict[str, int],
    reservations: Iterable[Reservation],
    blocks: Iterable[Block],
    since: int,
    exclude: int | None,
) -> list[list[tuple[int, int]]]:
    """Busy [start, end) minutes per node index, only what ends after `since` (the rest cannot matter).

    Every booking and speculation runs this over every node of every reservation (~42,000 at 5,000
    reservations), so: each instant is converted, not looked up in a memo (hashing an aware datetime
    costs more than `to_minutes`), and each node's list is found by name in one plain dict."""
    busy: list[list[tuple[int, int]]] = [[] for _ in range(len(index))]
    lists = {name: busy[i] for name, i in index.items()}
    spans = [
        (res.nodes, to_minutes(res.start), to_minutes(res.end)) for res in reservations if res.id != exclude
    ]
    spans += [
        (block.nodes, to_minutes(block.start), _FOREVER if block.end is None else to_minutes(block.end))
        for block in blocks
    ]
    for names, start, end in spans:
        if end <= since:
            continue
        interval = (start, end)
        for name in names:
            try:  # noqa: SIM105 - free when nothing is raised; a suppress() block per node is not
                lists[name].append(interval)
            except KeyError:  # a node the cluster no longer has
                pass
    return busy


def _feasible_starts(intervals: list[tuple[int, int]], since: int, d: int) -> Iterator[tuple[int, int]]:
    """Half-open ranges [lo, hi) of start times >= since at which a node is free for d minutes."""
    prev = since
    if intervals:
        intervals.sort()
        for start, end in intervals:
            if end <= prev:
                continue
            if start - prev >= d:
                yield prev, start - d + 1
            prev = end
            if prev >= _FOREVER:
                return
    yield prev, _FOREVER


# ---------------------------------------------------------------------------------------- node picks


def _runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive indices as (first, length), in order."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            first, length = runs[-1]
            runs[-1] = (first, length + 1)
        else:
            runs.append((i, 1))
    return runs


def pick_nodes(available: Sequence[int], count: int) -> list[int]:
    """Choose `count` of the sorted `available` node indices.

    The lowest-numbered contiguous block if one exists; otherwise the selection spanning the fewest runs
    of consecutive nodes (fewest gaps), and among those the lowest-numbered (lexicographically smallest):
    walk the runs in order and take each one whose nodes can be used while the rest can still be covered
    by the largest remaining runs.
    """
    runs = _runs(available)
    for first, length in runs:
        if length >= count:
            return list(range(first, first + count))
    lengths = sorted(length for _, length in runs)
    need_runs = 0
    total = 0
    for length in reversed(lengths):
        need_runs += 1
        total += length
        if total >= count:
            break
    else:
        raise ValueError("not enough available nodes")
    picked: list[int] = []
    need, slots = count, need_runs
    for first, length in runs:
        del lengths[bisect.bisect_left(lengths, length)]
        take = min(length, need)
        rest = need - take
        if rest == 0 or (slots > 1 and sum(lengths[len(lengths) - (slots - 1) :]) >= rest):
            picked.extend(range(first, first + take))
            need, slots = rest, slots - 1
            if need == 0:
                break
    return picked


class _RunTree:
    """Segment tree over node positions answering "longest run of consecutive available nodes"."""

    def __init__(self, size: int) -> None:
        n = 1
        while n < max(size, 1):
            n *= 2
        self.base = n
        self.pre = [0] * (2 * n)
        self.suf = [0] * (2 * n)
        self.best = [0] * (2 * n)
        self.span = [0] * (2 * n)
        for p in range(n, 2 * n):
            self.span[p] = 1
        for p in range(n - 1, 0, -1):
            self.span[p] = self.span[2 * p] * 2

    def set(self, i: int, value: int) -> None:
        p = i + self.base
        pre, suf, best, span = self.pre, self.suf, self.best, self.span
        pre[p] = suf[p] = best[p] = value
        p //= 2
        while p:
            left, right = 2 * p, 2 * p + 1
            pre[p] = pre[left] if pre[left] < span[left] else span[left] + pre[right]
            suf[p] = suf[right] if suf[right] < span[right] else span[right] + suf[left]
            best[p] = max(best[left], best[right], suf[left] + pre[right])
            p //= 2

    @property
    def longest(self) -> int:
        return self.best[1]


# ------------------------------------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class _Plan:
    pool: list[int]  # node indices considered, ascending
    need: int
    mode: str  # "count", "list" or "contiguous"


def _plan(
    nodes: Sequence[str],
    index: dict[str, int],
    request: Request,
    down: frozenset[str],
    refused: dict[str, str],
) -> _Plan:
    """The nodes to consider; `refused` are those host policies keep from this caller (with why)."""
    if request.minutes <= 0:
        raise ScheduleError(f"duration must be positive, got {request.minutes} minutes")
    if bool(request.count) == bool(request.nodes):
        raise ScheduleError("ask for either a number of nodes or a list of nodes")
    if request.nodes:
        pool: list[int] = []
        for name in request.nodes:
            i = index.get(name)
            if i is None:
                raise ScheduleError(f"{name} is not a node of this cluster")
            if name in down:
                raise ScheduleError(f"{name} is down")
            if name in refused:
                raise ScheduleError(f"{name} is not yours to book: {refused[name]}")
            pool.append(i)
        pool = sorted(set(pool))
        return _Plan(pool, len(pool), "list")
    if request.count < 0:
        raise ScheduleError(f"node count must be positive, got {request.count}")
    if request.count > len(nodes):
        raise ScheduleError(
            f"reservation too big for cluster: asked for {request.count} nodes, the cluster has {len(nodes)}"
        )
    pool = [i for i, name in enumerate(nodes) if name not in down and name not in refused]
    if request.count > len(pool):
        kept = len([n for n in nodes if n in refused and n not in down])
        why = f"{len(nodes) - len(pool) - kept} down"
        if kept:
            why += f", {kept} kept by host policies: " + "; ".join(sorted(set(refused.values())))
        raise ScheduleError(
            f"asked for {request.count} nodes but only {len(pool)} of {len(nodes)} are usable ({why})"
        )
    return _Plan(pool, request.count, "contiguous" if request.contiguous else "count")


def _sweep(
    nodes: Sequence[str], plan: _Plan, busy: list[list[tuple[int, int]]], since: int, d: int
) -> Iterator[Slot]:
    """The options of `plan` given each node's busy intervals, in start order (see the module docstring)."""
    # Events are packed into ints, (time, kind, node), so one C-level sort orders them; removals (kind 0)
    # sort before additions (kind 1) at the same minute.
    shift = max(len(nodes), 1).bit_length()
    node_mask = (1 << shift) - 1
    add_bit = 1 << shift
    events: list[int] = []
    for i in plan.pool:
        for lo, hi in _feasible_starts(busy[i], since, d):
            events.append((lo << (shift + 1)) | add_bit | i)
            if hi < _FOREVER:
                events.append((hi << (shift + 1)) | i)
    events.sort()

    available: set[int] = set()
    tree = _RunTree(len(nodes)) if plan.mode == "contiguous" else None
    k = 0
    total = len(events)
    while k < total:
        t = events[k] >> (shift + 1)
        added = False
        while k < total and events[k] >> (shift + 1) == t:
            event = events[k]
            i = event & node_mask
            if event & add_bit:
                available.add(i)
                added = True
                if tree is not None:
                    tree.set(i, 1)
            else:
                available.discard(i)
                if tree is not None:
                    tree.set(i, 0)
            k += 1
        if not added or len(available) < plan.need:
            continue
        if tree is not None and tree.longest < plan.need:
            continue
        chosen = sorted(available)
        if plan.mode == "list":
            picked = chosen
        elif plan.mode == "contiguous":
            first = next(f for f, length in _runs(chosen) if length >= plan.need)
            picked = list(range(first, first + plan.need))
        else:
            picked = pick_nodes(chosen, plan.need)
        yield Slot(
            start=from_minutes(t),
            end=from_minutes(t + d),
            nodes=tuple(nodes[i] for i in picked),
            free=len(available),
        )
    # The last feasible range of every node is open-ended, so the sweep only runs dry when the nodes can
    # never all be free together (indefinite maintenance blocks).


WINDOW_HORIZON_DAYS = 14
"""The first stretch of time over which host-policy windows are expanded; doubled while no option fits."""
WINDOW_HORIZON_MAX_DAYS = 3 * 366
"""Past this, nodes with windows count as busy for good: recurring windows are never expanded for years."""


def iter_slots(
    nodes: Sequence[str],
    reservations: Iterable[Reservation],
    request: Request,
    *,
    blocks: Iterable[Block] = (),
    down: frozenset[str] = frozenset(),
    exclude: int | None = None,
    rules: PolicyRules | None = None,
) -> Iterator[Slot]:
    """Every distinct bookable option for `request`, in start order, starting with the earliest.

    Candidate starts are `request.earliest` and each later instant at which some node becomes free;
    a candidate is yielded when the request fits there. `exclude` ignores one reservation (its own id,
    when re-planning an existing booking). Raises ScheduleError for requests that can never fit.

    `rules` are the host policies as they apply to the caller: nodes they keep from the caller are left
    out, and their recurring windows are busy time. Windows are expanded over a horizon only: nodes with
    windows count as busy from the horizon's end, so an option ending inside it is exact; the horizon
    doubles (up to WINDOW_HORIZON_MAX_DAYS) while the options run past it.
    """
    index = {name: i for i, name in enumerate(nodes)}
    plan = _plan(nodes, index, request, down, rules.refusals(request.minutes) if rules else {})
    since = to_minutes(request.earliest)
    d = request.minutes
    blocks = tuple(blocks)
    busy = busy_intervals(index, reservations, blocks, since, exclude)
    if rules is None or not rules.has_windows:
        yield from _sweep(nodes, plan, busy, since, d)
        return
    windowed = {index[n] for p in rules.policies if p.unavailable for n in p.nodes if n in index}
    horizon = max(WINDOW_HORIZON_DAYS * 1440, 4 * d)
    last = since - 1
    while True:
        final = horizon >= WINDOW_HORIZON_MAX_DAYS * 1440
        edge = since + horizon
        extra = busy_intervals(index, (), rules.blocks(from_minutes(since), from_minutes(edge)), since, None)
        merged = [
            busy[i] + extra[i] + ([(edge, _FOREVER)] if i in windowed else []) for i in range(len(nodes))
        ]
        for slot in _sweep(nodes, plan, merged, since, d):
            t = to_minutes(slot.start)
            if t + d > edge and not final:
                break
            if t > last:
                last = t
                yield slot
        else:  # ran dry: with windows expanded for good that is the end; else look further
            if final:
                return
        horizon *= 2


def find_slot(
    nodes: Sequence[str],
    reservations: Iterable[Reservation],
    request: Request,
    *,
    blocks: Iterable[Block] = (),
    down: frozenset[str] = frozenset(),
    exclude: int | None = None,
    rules: PolicyRules | None = None,
) -> Slot:
    """The earliest placement for `request` (see `iter_slots` for the rules)."""
    for slot in iter_slots(
        nodes, reservations, request, blocks=blocks, down=down, exclude=exclude, rules=rules
    ):
        return slot
    raise ScheduleError(_no_time(request, rules))


def speculate(
    nodes: Sequence[str],
    reservations: Iterable[Reservation],
    request: Request,
    *,
    blocks: Iterable[Block] = (),
    down: frozenset[str] = frozenset(),
    limit: int = 10,
    rules: PolicyRules | None = None,
) -> list[Slot]:
    """The next `limit` distinct options in start order; each is exactly what a booking at its start gets."""
    out: list[Slot] = []
    for slot in iter_slots(nodes, reservations, request, blocks=blocks, down=down, rules=rules):
        out.append(slot)
        if len(out) >= limit:
            break
    if not out:
        raise ScheduleError(_no_time(request, rules))
    return out


def _no_time(request: Request, rules: PolicyRules | None) -> str:
    """Why nothing ever fits: maintenance blocks without an end, or host-policy windows too close together
    for the duration (named, so the user knows whom to ask or to ask for less)."""
    base = "no time at which the requested nodes are free together"
    wanted = set(request.nodes)
    names = [
        f'policy "{p.name}"'
        for p in (rules.policies if rules else ())
        if p.unavailable and (not wanted or wanted.intersection(p.nodes))
    ]
    if not names:
        return f"{base} (blocked for maintenance)"
    return (
        f"{base} for {_compact(request.minutes)}: the windows of {', '.join(names)} leave no gap that long "
        f"(ask for less, or for other nodes)"
    )


# ----------------------------------------------------------------------------------------- extension


@dataclass(frozen=True, slots=True)
class ExtensionRoom:
    """How far a reservation can grow: `until` is None when nothing follows it on any of its nodes;
    otherwise `until` is the start of the first obstacle, named by `blocker` ("reservation x on kn3")."""

    until: datetime | None
    blocker: str = ""


def _first(res: Reservation, shared: set[str]) -> str:
    """The lowest-numbered shared node (the reservation's nodes are in node order; names sort badly)."""
    return next(n for n in res.nodes if n in shared)


def extension_room(
    res: Reservation, reservations: Iterable[Reservation], blocks: Iterable[Block] = ()
) -> ExtensionRoom:
    """The latest end `res` could be extended to on its own nodes, and what stops it there."""
    mine = set(res.nodes)
    candidates: list[tuple[datetime, str]] = []
    for other in reservations:
        if other.id == res.id or other.end <= res.end:
            continue
        shared = mine.intersection(other.nodes)
        if shared:
            candidates.append(
                (max(other.start, res.end), f"reservation {other.name} on {_first(res, shared)}")
            )
    for block in blocks:
        if block.end is not None and block.end <= res.end:
            continue
        shared = mine.intersection(block.nodes)
        if shared:
            reason = f" ({block.reason})" if block.reason else ""
            candidates.append((max(block.start, res.end), f"maintenance on {_first(res, shared)}{reason}"))
    if not candidates:
        return ExtensionRoom(None)
    until, blocker = heapq.nsmallest(1, candidates)[0]
    return ExtensionRoom(until, blocker)
