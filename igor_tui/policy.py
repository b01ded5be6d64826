"""Host policies, pure: igor2's "CRON:DURATION" unavailability windows and the rules a policy sets.

A window such as `0 17 24 12 *:8d15h` starts at every minute the 5-field cron expression matches
(minute hour day-of-month month day-of-week, with `*`, lists, ranges, steps and month/day names) and
lasts the duration. Cron times are wall-clock times of the site's zone, so `0 17 * * 1-5:15h` starts at
17:00 local time on both sides of a DST change. A wall time that does not exist (the hour skipped in
spring) is read with the offset before the change, i.e. one hour later on the new clock; a wall time
that happens twice (autumn) starts the window once, at its first occurrence.

Hand-written rather than a dependency: 5 fields and the day-of-month/day-of-week OR rule are ~100
lines, and zoneinfo does the zone arithmetic croniter would otherwise do for us. Windows are expanded
only over a range the caller asks for (the scheduler's search horizon, the visible timeline), never
over years: the cost grows with the days in that range, not with the windows' whole future.

No I/O, no clock: the store, the scheduler and the front ends all call in with values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from .errors import ValidationError
from .model import POLICY_BY, Block, Policy
from .values import dataclass

DEFAULT_POLICY = "default"
"""The name of "no policy": `igor policy apply default -w NODES` returns nodes to no restriction."""

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed 5-field cron expression: the matching values of each field (day-of-week 0 = Sunday).

    `any_dom`/`any_dow` record a field written with `*`: when both day fields are restricted a day
    matches if EITHER does (the usual cron rule), otherwise both must."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_dom: bool
    any_dow: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        if self.any_dom or self.any_dow:
            return dom and dow
        return dom or dow


@dataclass(frozen=True, slots=True)
class Window:
    """One recurring unavailability window: its text as typed, the cron and the length in minutes."""

    text: str
    cron: Cron
    minutes: int


def _value(word: str, names: dict[str, int]) -> int:
    key = word.lower()
    if key in names:
        return names[key]
    if not word.isdigit():
        raise ValueError(f"{word!r} is not a number")
    return int(word)


def _parse_field(text: str, index: int) -> frozenset[int]:
    """The values one cron field matches; ValueError with a reason for anything else."""
    _, low, high = _FIELDS[index]
    names = _MONTHS if index == 3 else _DAYS if index == 4 else {}
    out: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"step {step_text!r} is not a positive number")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = body.partition("-")
            first = _value(first_text, names)
            last = _value(last_text, names) if dash else (high if step_text else first)
        for value in (first, last):
            if not low <= value <= high:
                raise ValueError(f"{value} is out of range {low}-{high}")
        if first > last:
            raise ValueError(f"range {first}-{last} runs backwards")
        out.update(range(first, last + 1, step))
    if index == 4 and 7 in out:  # 7 is Sunday too
        out = (out - {7}) | {0}
    return frozenset(out)


def parse_cron(text: str) -> Cron:
    """A 5-field cron expression, or ValidationError naming the bad field."""
    words = text.split()
    if len(words) != 5:
        raise ValidationError(
            f"cron {text!r} has {len(words)} fields; give 5: minute hour day-of-month month day-of-week"
        )
    values: list[frozenset[int]] = []
    for index, word in enumerate(words):
        try:
            values.append(_parse_field(word, index))
        except ValueError as why:
            raise ValidationError(f"cron {text!r}: bad {_FIELDS[index][0]} field {word!r}: {why}") from None
    return Cron(
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=values[2],
        months=values[3],
        weekdays=values[4],
        any_dom=words[2].startswith("*"),
        any_dow=words[4].startswith("*"),
    )


def parse_window_duration(text: str) -> int:
    """`8d15h`, `15h`, `90m`, `1d2h30m` in minutes (positive), or ValidationError."""
    match = _DURATION_RE.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValidationError(f"bad window duration {text!r}: write it like 8d15h, 15h or 90m")
    days, hours, mins = (int(g or 0) for g in match.groups())
    minutes = (days * 24 + hours) * 60 + mins
    if minutes <= 0:
        raise ValidationError(f"bad window duration {text!r}: it must be longer than 0")
    if minutes > 366 * 24 * 60:
        raise ValidationError(f"bad window duration {text!r}: at most 366 days")
    return minutes


def parse_window(text: str) -> Window:
    """igor2's `CRON:DURATION`, e.g. `0 17 24 12 *:8d15h` (every 24 Dec at 17:00 for 8 days 15 hours)."""
    cron_text, colon, duration = text.rpartition(":")
    if not colon:
        raise ValidationError(f'window {text!r} needs the form "CRON:DURATION", e.g. "0 17 24 12 *:8d15h"')
    return Window(text=text.strip(), cron=parse_cron(cron_text), minutes=parse_window_duration(duration))


def _local_start(day: date, hour: int, minute: int, tz: tzinfo) -> datetime:
    """The UTC instant of a wall time in `tz` (fold 0: see the module docstring for gaps and repeats)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


def window_starts(window: Window, tz: tzinfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """UTC starts of every instance of `window` that overlaps [lo, hi), in order.

    Walks the local calendar days from `lo` minus the window's length to `hi`: the work is the number of
    days in the range times the matching hours and minutes, whatever the cron's period."""
    earliest = lo - timedelta(minutes=window.minutes)
    day = earliest.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date() + timedelta(days=1)
    cron = window.cron
    seen: datetime | None = None
    while day <= last:
        if cron.matches_day(day):
            for hour in cron.hours:
                for minute in cron.minutes:
                    start = _local_start(day, hour, minute, tz)
                    if start == seen:
                        continue
                    seen = start
                    if earliest < start < hi:
                        yield start
        day += timedelta(days=1)


def instances(window: Window, tz: tzinfo, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """The instances of `window` overlapping [lo, hi) as [start, end), overlapping ones merged."""
    merged: list[tuple[datetime, datetime]] = []
    length = timedelta(minutes=window.minutes)
    for start in window_starts(window, tz, lo, hi):
        end = start + length
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def policy_windows(policy: Policy) -> tuple[Window, ...]:
    """The parsed windows of a stored policy (they were validated when it was written)."""
    return tuple(parse_window(text) for text in policy.unavailable)


def window_blocks(policies: Iterable[Policy], tz: tzinfo, lo: datetime, hi: datetime) -> list[Block]:
    """Every window instance overlapping [lo, hi) as a Block on its policy's nodes: the scheduler, the
    extension check and the drawings treat them like maintenance blocks. `reason` names the policy."""
    out: list[Block] = []
    for policy in policies:
        if not policy.nodes:
            continue
        for window in policy_windows(policy):
            for start, end in instances(window, tz, lo, hi):
                out.append(
                    Block(
                        id=0,
                        nodes=policy.nodes,
                        start=start,
                        end=end,
                        reason=f'policy "{policy.name}"',
                        by=POLICY_BY,
                    )
                )
    return out


def next_window(
    policy: Policy, tz: tzinfo, now: datetime, days: int = 400
) -> tuple[datetime, datetime] | None:
    """The window instance in force at `now`, else the next one within `days` (None if none).

    The next week is tried first: most windows recur within it, and `show` asks for every policy."""
    windows = policy_windows(policy)
    for reach in (min(8, days), days):
        found = [spans[0] for w in windows if (spans := instances(w, tz, now, now + timedelta(days=reach)))]
        if found:
            return min(found)
    return None


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """The policies as they apply to one caller, for the scheduler.

    Admins are `exempt` from the group and maxtime rules, as in igor2, but never from unavailability
    windows: a window is the site saying the hardware is not there."""

    policies: tuple[Policy, ...]
    tz: tzinfo
    groups: frozenset[str] = frozenset()
    exempt: bool = False

    @property
    def has_windows(self) -> bool:
        return any(p.unavailable and p.nodes for p in self.policies)

    def refusals(self, minutes: int) -> dict[str, str]:
        """Nodes this caller may not have for `minutes`, each with the sentence saying why."""
        out: dict[str, str] = {}
        if self.exempt:
            return out
        for policy in self.policies:
            reason = refusal(policy, self.groups, minutes)
            if reason:
                out.update((node, reason) for node in policy.nodes)
        return out

    def blocks(self, lo: datetime, hi: datetime) -> list[Block]:
        return window_blocks(self.policies, self.tz, lo, hi)


def refusal(policy: Policy, groups: frozenset[str], minutes: int) -> str:
    """Why `policy` keeps its nodes from a user of `groups` booking `minutes`, and what would fit
    ("" when it does not keep them)."""
    if policy.groups and not groups.intersection(policy.groups):
        noun = "groups" if len(policy.groups) > 1 else "group"
        return f'policy "{policy.name}" keeps them for {noun} {", ".join(policy.groups)}: book other nodes'
    if policy.maxtime and minutes > policy.maxtime:
        from .timeparse import format_duration

        most = format_duration(policy.maxtime)
        return f'policy "{policy.name}" allows at most {most} on them: ask for -t {most} or less there'
    return ""


def policy_of(policies: Sequence[Policy], node: str) -> Policy | None:
    """The policy a node is under (at most one), or None for the default (no restriction)."""
    return next((p for p in policies if node in p.nodes), None)
