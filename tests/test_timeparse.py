"""Tests for igor_tui.timeparse: durations, start times, display formats and paste-back round-trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from igor_tui.errors import ValidationError
from igor_tui.timeparse import (
    format_duration,
    format_input_time,
    format_time,
    format_time_zone,
    parse_duration,
    parse_start,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
NOW = datetime(2026, 3, 1, 12, 0, 30, 123456, tzinfo=UTC)

# --- durations: spec §2.1 table and §10.3 item 9 -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("0", 0),
        ("60", 60),
        ("90", 90),
        ("-5", -5),
        ("+5", 5),
        ("-2", -2),
        ("1h30m", 90),
        ("1d", 24 * 60),
        ("0d", 0),
        ("2d", 2880),
        ("2h", 120),
        ("1d12h", 36 * 60),
        ("2d30m", 48 * 60 + 30),
        ("1.5h", 90),
        ("90s", 2),
        ("30s", 1),
        ("89s", 1),
        ("29s", 0),
        ("-90s", -2),
        ("-30s", -1),
        ("3d-1h", 71 * 60),
        ("-1d", -1440),
        ("+1d+1h", 1500),
        (".5h", 30),
        ("1.h", 60),
        ("1h0.5m", 61),
        ("1500ms", 0),
        ("30000000us", 1),
        ("30000000µs", 1),
        ("30000000000ns", 1),
        ("1d0", 1440),  # Go accepts a bare "0" duration
        (" 90 ", 90),  # surrounding whitespace is ignored
        ("48h30m", 2910),
    ],
)
def test_parse_duration(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1d2", "missing unit after 2"),
        ("1h1d", "'1h1' before 'd' is not a whole number of days"),
        ("1D", "unknown unit 'D'"),
        ("2g", "unknown unit 'g'"),
        ("0.5", "missing unit after 0.5"),  # not an integer and no unit
        ("%wjfe", "unexpected '%'"),
        ("h", "unexpected 'h'"),
        ("", "it is empty"),  # classic: 0, then rejected as not positive
        ("   ", "it is empty"),
        ("d", "missing number of days before 'd'"),  # classic: 0; we reject a bare 'd'
        ("d5h", "missing number of days before 'd'"),
        ("1.5d", "'1.5' before 'd' is not a whole number of days"),
        ("1d2d", "days ('d') may appear only once"),
        ("1h 30m", "unknown unit 'h '"),
        ("1hm", "unknown unit 'hm'"),
        ("1d-", "missing number after '-'"),
        ("1H", "unknown unit 'H'"),
        (".h", "unexpected '.'"),
        ("9" * 100, "too long"),
        ("9999999999h", "too long"),
    ],
)
def test_parse_duration_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_duration(text)
    message = str(info.value)
    assert fragment in message
    assert message.startswith("cannot parse duration ")
    assert "use minutes (90) or units (1h30m, 2d" in message
    assert "\n" not in message
    if len(text) < 60:
        assert repr(text) in message


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (30, "30m"),
        (60, "1h"),
        (90, "1h30m"),
        (1440, "24h"),
        (2910, "48h30m"),
        (0, "0m"),
        (-90, "-1h30m"),
        (-5, "-5m"),
        (-60, "-1h"),
        (1, "1m"),
    ],
)
def test_format_duration(minutes: int, text: str) -> None:
    assert format_duration(minutes) == text


@given(st.integers(-(10**8), 10**8))
def test_duration_round_trip(minutes: int) -> None:
    assert parse_duration(format_duration(minutes)) == minutes


# --- start times ---------------------------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # classic layout 2006-Jan-2-15:04 (spec §2.2), read in the local zone (Berlin: CEST = UTC+2)
        ("2017-Sep-25-13:00", utc(2017, 9, 25, 11, 0)),
        ("2017-Sept-25-13:00", utc(2017, 9, 25, 11, 0)),
        ("2017-SEPT-25-13:00", utc(2017, 9, 25, 11, 0)),
        ("2017-Jan-2-15:04", utc(2017, 1, 2, 14, 4)),
        ("2017-jan-02-9:04", utc(2017, 1, 2, 8, 4)),
        ("2017-JAN-02-09:04", utc(2017, 1, 2, 8, 4)),
        ("2016-Feb-29-00:00", utc(2016, 2, 28, 23, 0)),
        (" 2017-Dec-31-23:59 ", utc(2017, 12, 31, 22, 59)),
        # ISO 8601
        ("2017-09-25T13:00", utc(2017, 9, 25, 11, 0)),
        ("2017-09-25 13:00", utc(2017, 9, 25, 11, 0)),
        ("2017-09-25T13:00:59", utc(2017, 9, 25, 11, 0)),  # floored to the minute
        ("2017-09-25T13:00:59.999", utc(2017, 9, 25, 11, 0)),
        ("2017-09-25T13:00+02:00", utc(2017, 9, 25, 11, 0)),
        ("2017-09-25T13:00:00+0530", utc(2017, 9, 25, 7, 30)),
        ("2017-09-25T13:00-03", utc(2017, 9, 25, 16, 0)),
        ("2017-09-25T13:00Z", utc(2017, 9, 25, 13, 0)),
        ("2017-09-25 13:00:30z", utc(2017, 9, 25, 13, 0)),
        # relative to now (12:00:30 UTC), floored
        ("+2h", utc(2026, 3, 1, 14, 0)),
        ("+90", utc(2026, 3, 1, 13, 30)),
        ("+1d2h", utc(2026, 3, 2, 14, 0)),
        ("+1m", utc(2026, 3, 1, 12, 1)),
        ("+30s", utc(2026, 3, 1, 12, 1)),  # 30 s rounds to one minute
        # past times are accepted: back-dating is the service's decision
        ("2001-Jan-1-00:00", utc(2000, 12, 31, 23, 0)),
    ],
)
def test_parse_start(text: str, expected: datetime) -> None:
    result = parse_start(text, NOW, BERLIN)
    assert result == expected
    assert result.tzinfo is UTC
    assert result.second == 0
    assert result.microsecond == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tomorrow", "use 2017-Sep-25-13:00, 2017-09-25T13:00[+02:00] or +2h"),
        ("", "use 2017-Sep-25-13:00"),
        ("2017-September-25-13:00", "use 2017-Sep-25-13:00"),
        ("2017-09-25-13:00", "use 2017-Sep-25-13:00"),  # numeric month in the classic layout
        ("2017-Jan-2-15:4", "use 2017-Sep-25-13:00"),
        ("2017-Jan-2 15:04", "use 2017-Sep-25-13:00"),
        ("17-Jan-2-15:04", "use 2017-Sep-25-13:00"),
        ("2017-Jan-123-15:04", "use 2017-Sep-25-13:00"),
        ("2017-09-25T1:00", "use 2017-Sep-25-13:00"),
        ("2017-09-25", "use 2017-Sep-25-13:00"),
        ("2017-Foo-25-13:00", "unknown month 'Foo'"),
        ("2017-Feb-3-24:00", "hour 24 is out of range (0-23)"),
        ("2017-Feb-30-13:00", "Feb 2017 has no day 30"),
        ("2017-Feb-29-13:00", "Feb 2017 has no day 29"),
        ("2017-Feb-0-13:00", "has no day 0"),
        ("2017-Feb-3-13:60", "minute 60 is out of range"),
        ("2017-02-30T13:00", "Feb 2017 has no day 30"),
        ("2017-13-01T13:00", "month 13 is out of range"),
        ("2017-02-03T13:00:60", "second 60 is out of range"),
        ("0000-01-01T00:00", "year 0 is out of range"),
        ("2017-02-03T13:00+24:00", "offset +24:00 is out of range"),
        ("9999-12-31T23:59-05:00", "out of the supported range"),
        ("+0", "a relative start must be later than now"),
        ("+-5", "use 2017-Sep-25-13:00"),
        ("+", "it is empty"),
        ("+2x", "unknown unit 'x'"),
        ("+1d2", "missing unit after 2"),
        ("+999999999999", "too long"),
        ("2026-Mar-29-02:30", "02:30 on that day does not exist in Europe/Berlin"),
        ("2026-03-29T02:59", "does not exist in Europe/Berlin"),
    ],
)
def test_parse_start_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_start(text, NOW, BERLIN)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(f"cannot parse start time {text!r}: ")
    assert "\n" not in message


def test_parse_start_dst_gap_with_offset_is_fine() -> None:
    assert parse_start("2026-03-29T02:30+01:00", NOW, BERLIN) == utc(2026, 3, 29, 1, 30)


def test_parse_start_ambiguous_takes_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25; fold=0 is the earlier one (CEST, UTC+2).
    assert parse_start("2026-Oct-25-02:30", NOW, BERLIN) == utc(2026, 10, 25, 0, 30)
    assert parse_start("2026-10-25T02:30+01:00", NOW, BERLIN) == utc(2026, 10, 25, 1, 30)
    # New York falls back at 02:00 EDT -> 01:00 EST.
    assert parse_start("2026-Nov-1-01:30", NOW, NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_parse_start_lord_howe_half_hour_dst() -> None:
    # Lord Howe: +10:30 standard, +11 summer; 2026-10-04 02:00 -> 02:30 is skipped.
    with pytest.raises(ValidationError, match="does not exist in Australia/Lord_Howe"):
        parse_start("2026-Oct-4-02:15", NOW, LORD_HOWE)
    assert parse_start("2026-Oct-4-02:30", NOW, LORD_HOWE) == utc(2026, 10, 3, 15, 30)


def test_parse_start_in_utc_and_fixed_zone() -> None:
    assert parse_start("2017-Sep-25-13:00", NOW, UTC) == utc(2017, 9, 25, 13, 0)
    minus_330 = timezone(-timedelta(hours=3, minutes=30))
    assert parse_start("2017-Sep-25-13:00", NOW, minus_330) == utc(2017, 9, 25, 16, 30)


def test_parse_start_relative_uses_now_in_any_zone() -> None:
    now = datetime(2026, 3, 1, 13, 0, 45, tzinfo=timezone(timedelta(hours=1)))
    assert parse_start("+1h", now, NEW_YORK) == utc(2026, 3, 1, 13, 0)


def test_parse_start_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_start("+1h", datetime(2026, 1, 1), UTC)  # noqa: DTZ001 - testing the guard


# --- display formats --------------------------------------------------------------------------------


def test_format_time() -> None:
    when = utc(2026, 11, 24, 3, 5)
    assert format_time(when, BERLIN) == "Nov 24 04:05"
    assert format_time(utc(2026, 1, 2, 8, 4), UTC) == "Jan 2 08:04"
    assert format_time_zone(when, BERLIN) == "Nov 24 04:05 CET"
    assert format_time_zone(utc(2026, 7, 1, 12, 0), BERLIN) == "Jul 1 14:00 CEST"
    assert format_time_zone(utc(2026, 7, 1, 12, 0), UTC) == "Jul 1 12:00 UTC"
    with pytest.raises(ValueError, match="aware"):
        format_time(datetime(2026, 1, 1), UTC)  # noqa: DTZ001 - testing the guard


@pytest.mark.parametrize(
    ("when", "zone", "text"),
    [
        (utc(2026, 11, 24, 5, 35), BERLIN, "2026-Nov-24-06:35"),
        (utc(2026, 1, 2, 8, 4), UTC, "2026-Jan-2-08:04"),
        # Berlin 2026-10-25: 02:30 occurs twice; both get an explicit offset.
        (utc(2026, 10, 25, 0, 30), BERLIN, "2026-10-25T02:30+02:00"),
        (utc(2026, 10, 25, 1, 30), BERLIN, "2026-10-25T02:30+01:00"),
        (utc(2026, 10, 25, 2, 0), BERLIN, "2026-Oct-25-03:00"),
        (utc(2026, 10, 24, 23, 59), BERLIN, "2026-Oct-25-01:59"),
        (utc(2026, 3, 29, 1, 0), BERLIN, "2026-Mar-29-03:00"),
        (utc(2026, 11, 1, 5, 30), NEW_YORK, "2026-11-01T01:30-04:00"),
        (utc(2026, 11, 1, 6, 30), NEW_YORK, "2026-11-01T01:30-05:00"),
        # Lord Howe falls back 02:00 -> 01:30, so 01:30-01:59 is ambiguous.
        (utc(2026, 4, 4, 14, 45), LORD_HOWE, "2026-04-05T01:45+11:00"),
        (utc(2026, 4, 4, 15, 15), LORD_HOWE, "2026-04-05T01:45+10:30"),
        # Seconds are floored away, exactly as parse_start would.
        (datetime(2026, 11, 24, 5, 35, 59, 999, tzinfo=UTC), BERLIN, "2026-Nov-24-06:35"),
        # Historic local mean time (+00:53:28) has no exact wall spelling: UTC is used.
        (utc(1890, 1, 1, 12, 0), BERLIN, "1890-01-01T12:00Z"),
    ],
)
def test_format_input_time(when: datetime, zone: tzinfo, text: str) -> None:
    assert format_input_time(when, zone) == text
    assert parse_start(text, NOW, zone) == when.replace(second=0, microsecond=0)


ZONES: list[tzinfo] = [
    BERLIN,
    NEW_YORK,
    LORD_HOWE,
    UTC,
    ZoneInfo("UTC"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Pacific/Chatham"),
    timezone(timedelta(hours=-9, minutes=-30)),
]
RANGE_START = utc(2015, 1, 1)
RANGE_END = utc(2031, 1, 1)


def _transitions(zone: tzinfo) -> list[datetime]:
    """Instants in [RANGE_START, RANGE_END) where `zone` changes offset, found by daily scan + bisection."""
    found: list[datetime] = []
    day = timedelta(days=1)
    t = RANGE_START
    while t < RANGE_END:
        before = t.astimezone(zone).utcoffset()
        if before != (t + day).astimezone(zone).utcoffset():
            lo, hi = 0, 24 * 60  # offset(t + lo) == before != offset(t + hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                same = (t + timedelta(minutes=mid)).astimezone(zone).utcoffset() == before
                lo, hi = (mid, hi) if same else (lo, mid)
            found.append(t + timedelta(minutes=hi))
        t += day
    return found


TRANSITIONS = [(zone, when) for zone in ZONES for when in _transitions(zone)]


def test_transition_table_is_sane() -> None:
    zones_with_dst = {str(zone) for zone, _ in TRANSITIONS}
    assert {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} <= zones_with_dst
    assert utc(2026, 10, 25, 1, 0) in [when for zone, when in TRANSITIONS if zone is BERLIN]


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[tzinfo, datetime]:
    """Whole-minute instants anywhere in 2015-2030, or within three hours of a DST transition."""
    if draw(st.booleans()):
        zone, transition = draw(st.sampled_from(TRANSITIONS))
        return zone, transition + timedelta(minutes=draw(st.integers(-180, 180)))
    span = int((RANGE_END - RANGE_START) / timedelta(minutes=1))
    return draw(st.sampled_from(ZONES)), RANGE_START + timedelta(minutes=draw(st.integers(0, span)))


@given(zone_and_instant())
@example((BERLIN, utc(2026, 10, 25, 0, 30)))
@example((BERLIN, utc(2026, 10, 25, 1, 30)))
@example((LORD_HOWE, utc(2026, 4, 4, 15, 0)))
def test_input_time_round_trip(case: tuple[tzinfo, datetime]) -> None:
    zone, when = case
    text = format_input_time(when, zone)
    assert parse_start(text, NOW, zone) == when
    assert format_input_time(parse_start(text, NOW, zone), zone) == text


ZONES = [
    UTC,
    BERLIN,
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Australia/Lord_Howe"),
    timezone(timedelta(hours=-3)),
]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive by definition
        max_value=datetime(2200, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, BERLIN, timezone(timedelta(hours=5, minutes=30))]),
    ),
    st.sampled_from(ZONES),
)
def test_cached_time_formats_equal_a_fresh_conversion(when: datetime, zone: tzinfo) -> None:
    """format_time/format_time_zone remember their text per (datetime, fold, zone): asked again, and asked
    for the same instant in other ways (other zone, other fold), each answer is that of a fresh conversion."""
    for variant in (when, when.astimezone(UTC), when.replace(fold=1 - when.fold), when):
        local = variant.astimezone(zone)
        expected = f"{MONTHS[local.month - 1]} {local.day} {local.hour:02d}:{local.minute:02d}"
        assert format_time(variant, zone) == expected
        assert format_time_zone(variant, zone) == f"{expected} {local.tzname()}"


def test_a_naive_time_is_refused_even_when_an_aware_one_is_remembered() -> None:
    aware = utc(2026, 3, 1, 12, 0)
    assert format_time(aware, UTC) == "Mar 1 12:00"
    with pytest.raises(ValueError, match="aware"):
        format_time(aware.replace(tzinfo=None), UTC)
    with pytest.raises(ValueError, match="aware"):
        format_time_zone(aware.replace(tzinfo=None), UTC)


def test_the_time_format_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from igor_tui import timeparse

    monkeypatch.setattr(timeparse, "_FORMAT_CACHE_LIMIT", 10)
    for minute in range(25):
        when = utc(2026, 3, 1, 12, minute)
        assert format_time(when, UTC) == f"Mar 1 12:{minute:02d}"
        assert format_time_zone(when, UTC) == f"Mar 1 12:{minute:02d} UTC"
    assert len(timeparse._times) <= 10 and len(timeparse._times_with_zone) <= 10


_UNITS_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_PART = st.tuples(
    st.from_regex(r"[0-9]{0,4}", fullmatch=True),
    st.one_of(st.none(), st.from_regex(r"[0-9]{0,6}", fullmatch=True)),
    st.sampled_from(sorted(_UNITS_NS)),
).filter(lambda part: bool(part[0] or part[1]))


@given(sign=st.sampled_from(["", "+", "-"]), parts=st.lists(_PART, min_size=1, max_size=4))
@example(sign="", parts=[("0", "5", "m")])  # exactly half a minute: rounds away from zero
@example(sign="-", parts=[("", "5", "m")])
@example(sign="", parts=[("1", "", "h"), ("29", None, "s"), ("999", "9", "ms")])
def test_durations_with_units_are_exact_rationals_rounded_half_away(
    sign: str, parts: list[tuple[str, str | None, str]]
) -> None:
    """The parse sums whole.frac x unit exactly (in integers) and rounds to the nearest minute, halves
    away from zero, as Go's Duration.Round(time.Minute): checked against fractions.Fraction."""
    text = sign + "".join(f"{whole}{'' if frac is None else '.' + frac}{unit}" for whole, frac, unit in parts)
    ns = sum(
        (Fraction(f"{whole or '0'}.{frac or '0'}") * _UNITS_NS[unit] for whole, frac, unit in parts),
        Fraction(0),
    )
    minutes = abs(ns) / (60 * 10**9)
    expected = int(minutes + Fraction(1, 2)) * (-1 if sign == "-" else 1)
    assert parse_duration(text) == expected
