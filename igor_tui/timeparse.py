"""Durations (-t) and start times (-a) as users type them, and the ways igor prints times back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from igor_tui.errors import ValidationError

# calendar is imported where dates are parsed: `igor show` only formats times. Durations are parsed in
# integers (no fractions module).

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {m.lower(): i for i, m in enumerate(_MONTHS, start=1)} | {"sept": 9}

# Go's time.ParseDuration units, in nanoseconds (both micro signs, as Go accepts).
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_NS_PER_MINUTE = 60_000_000_000
# About 1900 years: far beyond any sane reservation, well inside what datetime arithmetic can add.
_MAX_MINUTES = 1_000_000_000
_MAX_INPUT = 64

_DURATION_HINT = "use minutes (90) or units (1h30m, 2d, 2d12h)"
_START_HINT = "use 2017-Sep-25-13:00, 2017-09-25T13:00[+02:00] or +2h"

# Patterns, compiled by `re` (and kept in its cache) when a command first parses a time: compiling all
# four when the module is imported cost every command ~4 M instructions (~1 ms), and most parse none.
_INTEGER = r"[+-]?[0-9]+"
_GO_NUMBER = r"([0-9]*)(?:\.([0-9]*))?"
_CLASSIC = r"([0-9]{4})-([A-Za-z]{3}|[Ss][Ee][Pp][Tt])-([0-9]{1,2})-([0-9]{1,2}):([0-9]{2})"
_ISO = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?"
    r"\s*(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)


class _Unparsable(Exception):
    """Internal: why a text is not a duration/time; the public functions wrap it with the input."""


def _quote(text: str) -> str:
    """The user's input quoted for a one-line message, shortened when absurdly long."""
    if len(text) > _MAX_INPUT:
        text = text[: _MAX_INPUT - 3] + "..."
    return repr(text)


def _round_minutes(ns: tuple[int, int]) -> int:
    """Nanoseconds (numerator, positive denominator) to whole minutes, halves away from zero (Go's
    Duration.Round(time.Minute)): floor(|n| / (d * NS) + 1/2), in integers."""
    num, den = ns
    per = den * _NS_PER_MINUTE
    rounded = (2 * abs(num) + per) // (2 * per)
    return -rounded if num < 0 else rounded


def _go_duration_ns(text: str) -> tuple[int, int]:
    """Parse a Go duration string ('1h30m', '-1.5h', '90s') to nanoseconds, exactly: a numerator and a
    power-of-ten denominator. Plain integers rather than fractions.Fraction, whose import (with decimal
    and numbers) cost every `-t 30m` ~10 M instructions (~2.3 ms)."""
    if text == "0":  # Go's one unit-less exception
        return 0, 1
    pos = 0
    negative = False
    if text[:1] in ("+", "-"):
        negative = text[0] == "-"
        pos = 1
    if pos == len(text):
        raise _Unparsable(f"missing number after {text!r}")
    num, den = 0, 1
    number = re.compile(_GO_NUMBER)
    while pos < len(text):
        match = number.match(text, pos)
        assert match is not None  # the pattern can match the empty string
        whole, frac = match.group(1), match.group(2)
        if not whole and not frac:
            raise _Unparsable(f"unexpected {text[pos]!r} where a number should be")
        number_text = match.group(0)
        pos = match.end()
        unit_end = pos
        while unit_end < len(text) and text[unit_end] not in ".0123456789":
            unit_end += 1
        unit = text[pos:unit_end]
        if not unit:
            raise _Unparsable(f"missing unit after {number_text}")
        if "d" in unit:
            raise _Unparsable("days ('d') may appear only once, first (2d12h)")
        if unit not in _UNIT_NS:
            raise _Unparsable(f"unknown unit {unit!r} (units are d, h, m, s, ms, us, ns; lower case)")
        scale = 10 ** len(frac or "")  # whole.frac = (whole * scale + frac) / scale
        value = (int(whole or "0") * scale + int(frac or "0")) * _UNIT_NS[unit]
        num, den = num * scale + value * den, den * scale
        pos = unit_end
    return (-num if negative else num), den


def _duration_minutes(text: str) -> int:
    """The minutes `text` means, or _Unparsable with the reason."""
    text = text.strip()
    if not text:
        raise _Unparsable("it is empty")
    if len(text) > _MAX_INPUT:
        raise _Unparsable("it is too long")
    if re.fullmatch(_INTEGER, text):
        minutes = int(text)
    else:
        days = 0
        rest = text
        d_at = text.find("d")
        if d_at >= 0:
            day_text, rest = text[:d_at], text[d_at + 1 :]
            if not day_text:
                raise _Unparsable("missing number of days before 'd'")
            if not re.fullmatch(_INTEGER, day_text):
                raise _Unparsable(
                    f"{day_text!r} before 'd' is not a whole number of days (days go first: 2d12h)"
                )
            days = int(day_text)
        minutes = days * 24 * 60 + (_round_minutes(_go_duration_ns(rest)) if rest else 0)
    if abs(minutes) > _MAX_MINUTES:
        raise _Unparsable("it is too long a duration")
    return minutes


def parse_duration(text: str) -> int:
    """Minutes for a -t value, accepting classic igor's forms (90, 2d, 1h30m, 3d-1h) but rejecting junk.

    May return 0 or a negative number: whether that is acceptable depends on the command.
    """
    try:
        return _duration_minutes(text)
    except _Unparsable as why:
        raise ValidationError(f"cannot parse duration {_quote(text)}: {why}; {_DURATION_HINT}") from None


def format_duration(minutes: int) -> str:
    """Compact hours-and-minutes form (1h30m, 48h30m) that parse_duration reads back and users type."""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours and rest:
        return f"{sign}{hours}h{rest}m"
    if hours:
        return f"{sign}{hours}h"
    return f"{sign}{rest}m"


def _require_aware(when: datetime, what: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {when!r}")


def _wall_fields(when: datetime) -> tuple[int, int, int, int, int]:
    return (when.year, when.month, when.day, when.hour, when.minute)


def _from_wall(local: datetime) -> datetime:
    """The UTC instant of wall time `local` in its zone (fold=0 if ambiguous); _Unparsable in a DST gap."""
    utc = local.replace(fold=0).astimezone(UTC)
    if local.tzinfo is None or _wall_fields(utc.astimezone(local.tzinfo)) != _wall_fields(local):
        raise _Unparsable(
            f"{local.hour:02d}:{local.minute:02d} on that day does not exist in {local.tzinfo} "
            "(clocks skip it for daylight saving time); pick another time or give an explicit offset "
            "such as 2017-09-25T13:00+02:00"
        )
    return utc


def _check_date(year: int, month: int, day: int, hour: int, minute: int, *, second: int = 0) -> None:
    if year < 1:
        raise _Unparsable(f"year {year} is out of range")
    if not 1 <= month <= 12:
        raise _Unparsable(f"month {month} is out of range (01-12)")
    import calendar

    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise _Unparsable(f"{_MONTHS[month - 1]} {year} has no day {day}")
    if hour > 23:
        raise _Unparsable(f"hour {hour} is out of range (0-23)")
    if minute > 59:
        raise _Unparsable(f"minute {minute} is out of range (00-59)")
    if second > 59:
        raise _Unparsable(f"second {second} is out of range (00-59)")


def _start(text: str, now: datetime, tz: tzinfo) -> datetime:
    text = text.strip()
    if text.startswith("+"):
        rest = text[1:]
        if rest[:1] in ("+", "-"):
            raise _Unparsable(_START_HINT)
        try:
            minutes = _duration_minutes(rest)
        except _Unparsable as why:
            raise _Unparsable(f"{why}; {_START_HINT}") from None
        if minutes <= 0:
            raise _Unparsable("a relative start must be later than now (+1m or more)")
        try:
            return now.astimezone(UTC) + timedelta(minutes=minutes)
        except OverflowError:
            raise _Unparsable("it is too far in the future") from None
    match = re.fullmatch(_CLASSIC, text)
    if match:
        year_s, month_s, day_s, hour_s, minute_s = match.groups()
        month = _MONTH_NUMBERS.get(month_s.lower())
        if month is None:
            raise _Unparsable(f"unknown month {month_s!r} (use Jan, Feb, ... Dec)")
        year, day, hour, minute = int(year_s), int(day_s), int(hour_s), int(minute_s)
        _check_date(year, month, day, hour, minute)
        return _from_wall(datetime(year, month, day, hour, minute, tzinfo=tz))
    match = re.fullmatch(_ISO, text)
    if match:
        year_s, month_s, day_s, hour_s, minute_s, second_s, zulu, sign, off_h, off_m = match.groups()
        year, month, day = int(year_s), int(month_s), int(day_s)
        hour, minute, second = int(hour_s), int(minute_s), int(second_s or "0")
        _check_date(year, month, day, hour, minute, second=second)
        if zulu:
            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        if sign:
            hours, minutes = int(off_h), int(off_m or "0")
            if hours > 23 or minutes > 59:
                raise _Unparsable(f"offset {sign}{off_h}:{off_m or '00'} is out of range")
            offset = timedelta(hours=hours, minutes=minutes)
            fixed = timezone(-offset if sign == "-" else offset)
            return datetime(year, month, day, hour, minute, tzinfo=fixed).astimezone(UTC)
        # Seconds are dropped here: the result is floored to the minute anyway.
        return _from_wall(datetime(year, month, day, hour, minute, tzinfo=tz))
    raise _Unparsable(_START_HINT)


def parse_start(text: str, now: datetime, tz: tzinfo) -> datetime:
    """The instant a -a value names (classic, ISO 8601 or +duration), as aware UTC floored to the minute.

    Naive wall times are read in `tz`; past times are allowed because admins may back-date.
    """
    _require_aware(now, "now")
    try:
        when = _start(text, now, tz)
    except _Unparsable as why:
        raise ValidationError(f"cannot parse start time {_quote(text)}: {why}") from None
    except OverflowError:  # wall time at the very edge of datetime's range
        raise ValidationError(f"cannot parse start time {_quote(text)}: out of the supported range") from None
    return when.replace(second=0, microsecond=0)


def _local(when: datetime, tz: tzinfo) -> datetime:
    _require_aware(when, "when")
    return when.astimezone(tz)


# Front ends format the same instants over and over (two per reservation in a table), so the text is
# cached per (datetime, fold, zone). Equal aware datetimes are the same instant, except that equality
# ignores `fold` between datetimes of the same zone (hence the fold in the key); naive ones never get in
# (the check runs before caching) and never equal an aware key. Bounded by clearing.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_FORMAT_CACHE_LIMIT = 8192
_TimeKey = tuple[datetime, int, tzinfo]
_times: dict[_TimeKey, str] = {}
_times_with_zone: dict[_TimeKey, str] = {}


def _remember(cache: dict[_TimeKey, str], key: _TimeKey, text: str) -> str:
    if len(cache) >= _FORMAT_CACHE_LIMIT:
        cache.clear()
    cache[key] = text
    return text


def format_wall_time(local: datetime) -> str:
    """format_time of a datetime that is already in the zone to show: its own wall clock, no conversion."""
    return f"{_MONTHS[local.month - 1]} {local.day} {_TWO_DIGITS[local.hour]}:{_TWO_DIGITS[local.minute]}"


def format_time(when: datetime, tz: tzinfo) -> str:
    """Short wall-clock form for tables (Nov 24 04:05), locale-independent."""
    key = (when, when.fold, tz)
    text = _times.get(key)
    if text is None:
        text = _remember(_times, key, format_wall_time(_local(when, tz)))
    return text


def format_time_zone(when: datetime, tz: tzinfo) -> str:
    """Like format_time plus the zone abbreviation (Nov 24 04:05 CET), for messages read out of context."""
    key = (when, when.fold, tz)
    text = _times_with_zone.get(key)
    if text is None:
        local = _local(when, tz)
        zone = local.tzname() or _offset_text(local)
        text = _remember(_times_with_zone, key, f"{format_wall_time(local)} {zone}")
    return text


def _offset_text(local: datetime) -> str:
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_input_time(when: datetime, tz: tzinfo) -> str:
    """A spelling of `when` that a user can paste into -a and that parse_start reads back to the same instant.

    Classic form in `tz` normally; ISO 8601 with an explicit offset when the wall time is ambiguous
    (DST fold), and UTC ('Z') in the odd case of an offset that is not whole minutes (historic LMT).
    Seconds are floored away, as parse_start would.
    """
    _require_aware(when, "when")
    utc = when.astimezone(UTC).replace(second=0, microsecond=0)
    local = utc.astimezone(tz)
    ambiguous = local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()
    if local.second:  # zone offset with seconds (historic local mean time): no wall spelling is exact
        return f"{_iso_wall(utc)}Z"
    if ambiguous:
        return f"{_iso_wall(local)}{_offset_text(local)}"
    return f"{local.year:04d}-{_MONTHS[local.month - 1]}-{local.day}-{local.hour:02d}:{local.minute:02d}"


def _iso_wall(when: datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}"
