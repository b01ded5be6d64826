"""Host policies, pure part: the cron parser, window expansion (across DST in Europe/Berlin), the rules."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from igor_tui.errors import ValidationError
from igor_tui.model import POLICY_BY, Policy
from igor_tui.policy import (
    PolicyRules,
    instances,
    next_window,
    parse_cron,
    parse_window,
    policy_of,
    window_blocks,
    window_starts,
)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- parse


def test_fields_accept_stars_lists_ranges_steps_and_names() -> None:
    cron = parse_cron("*/15 8-10,17 1,15 jan-mar mon-fri")
    assert cron.minutes == (0, 15, 30, 45)
    assert cron.hours == (8, 9, 10, 17)
    assert cron.days == frozenset({1, 15})
    assert cron.months == frozenset({1, 2, 3})
    assert cron.weekdays == frozenset({1, 2, 3, 4, 5})
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday too
    assert parse_cron("0 0 * * 5-7").weekdays == frozenset({0, 5, 6})
    assert parse_cron("0 0 10/5 * *").days == frozenset({10, 15, 20, 25, 30})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("60 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 0 * *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * 8", "day-of-week"),
        ("0 0 * * xyz", "day-of-week"),
        ("*/0 * * * *", "minute"),
        ("0 5-3 * * *", "hour"),
    ],
)
def test_a_bad_field_is_named_in_one_line(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_cron(text)
    assert f"bad {field} field" in str(err.value) and "\n" not in str(err.value)


def test_window_form_and_its_errors() -> None:
    window = parse_window("0 17 24 12 *:8d15h")
    assert window.minutes == (8 * 24 + 15) * 60
    assert window.cron.months == frozenset({12}) and window.cron.days == frozenset({24})
    assert parse_window("0 17 * * 1-5:15h").minutes == 15 * 60
    for bad, words in [
        ("0 17 * * 1-5", "CRON:DURATION"),
        ("0 17 * * 1-5:", "duration"),
        ("0 17 * * 1-5:15x", "duration"),
        ("0 17 * * 1-5:0h", "longer than 0"),
        ("0 17 * *:1h", "has 4 fields"),
    ]:
        with pytest.raises(ValidationError, match=words):
            parse_window(bad)


# ------------------------------------------------------------------------------------------ expansion


def test_christmas_window_from_the_issue() -> None:
    window = parse_window("0 17 24 12 *:8d15h")
    spans = instances(window, UTC, utc(2026, 12, 1), utc(2027, 1, 10))
    assert spans == [(utc(2026, 12, 24, 17), utc(2027, 1, 2, 8))]
    # The range starts inside the window: the instance that began before it still counts.
    assert instances(window, UTC, utc(2026, 12, 30), utc(2026, 12, 31)) == spans


def test_weekday_evenings_stay_at_17_local_across_both_dst_changes() -> None:
    """Berlin: CET (UTC+1) until the last Sunday of March (29 Mar 2026), CEST (UTC+2) until the last
    Sunday of October (25 Oct 2026)."""
    window = parse_window("0 17 * * 1-5:15h")
    # Instances overlapping the range: the one that began the evening before (15 hours) is included.
    march = list(window_starts(window, BERLIN, utc(2026, 3, 26, 8), utc(2026, 4, 1)))
    assert march == [utc(2026, 3, 26, 16), utc(2026, 3, 27, 16), utc(2026, 3, 30, 15), utc(2026, 3, 31, 15)]
    october = list(window_starts(window, BERLIN, utc(2026, 10, 22, 8), utc(2026, 10, 28)))
    assert october == [
        utc(2026, 10, 22, 15),
        utc(2026, 10, 23, 15),
        utc(2026, 10, 26, 16),
        utc(2026, 10, 27, 16),
    ]
    assert all(s.astimezone(BERLIN).hour == 17 for s in march + october)


def test_skipped_and_repeated_wall_times() -> None:
    """02:30 does not exist on 29 Mar 2026 in Berlin (it is read one hour later on the new clock) and
    happens twice on 25 Oct 2026 (the window starts once, at the first)."""
    spring = parse_window("30 2 29 3 *:1h")
    assert list(window_starts(spring, BERLIN, utc(2026, 3, 28), utc(2026, 3, 30))) == [
        utc(2026, 3, 29, 1, 30)
    ]
    autumn = parse_window("30 2 25 10 *:1h")
    assert list(window_starts(autumn, BERLIN, utc(2026, 10, 24), utc(2026, 10, 26))) == [
        utc(2026, 10, 25, 0, 30)
    ]


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    window = parse_window("0 0 1 * mon:1h")  # the 1st of each month, and every Monday
    days = {s.date() for s in window_starts(window, UTC, utc(2026, 6, 1), utc(2026, 7, 2))}
    assert days == {date(2026, 6, d) for d in (1, 8, 15, 22, 29)} | {date(2026, 7, 1)}
    only_mondays = parse_window("0 0 * * mon:1h")
    assert all(s.weekday() == 0 for s in window_starts(only_mondays, UTC, utc(2026, 6, 1), utc(2026, 7, 2)))


def test_overlapping_instances_merge_and_expansion_is_bounded_by_the_range() -> None:
    window = parse_window("0 * * * *:90m")  # every hour for 90 minutes: one long span
    assert instances(window, UTC, utc(2026, 1, 1), utc(2026, 1, 2)) == [
        (utc(2025, 12, 31, 23), utc(2026, 1, 2, 0, 30))
    ]
    daily = parse_window("0 3 * * *:1h")
    assert len(instances(daily, UTC, utc(2026, 1, 1), utc(2026, 1, 11))) == 10


def test_window_blocks_and_next_window() -> None:
    policy = Policy(id=1, name="gpu-maint", nodes=("kn3", "kn4"), unavailable=("0 17 24 12 *:8d15h",))
    blocks = window_blocks([policy], UTC, utc(2026, 12, 1), utc(2027, 1, 1))
    assert [(b.nodes, b.start, b.end, b.by) for b in blocks] == [
        (("kn3", "kn4"), utc(2026, 12, 24, 17), utc(2027, 1, 2, 8), POLICY_BY)
    ]
    assert 'policy "gpu-maint"' in blocks[0].reason
    assert next_window(policy, UTC, utc(2026, 12, 1)) == (utc(2026, 12, 24, 17), utc(2027, 1, 2, 8))
    assert next_window(policy, UTC, utc(2026, 12, 25)) == (utc(2026, 12, 24, 17), utc(2027, 1, 2, 8))
    assert next_window(Policy(id=2, name="none"), UTC, utc(2026, 12, 1)) is None


def test_rules_group_and_maxtime_refusals_and_admin_exemption() -> None:
    policies = (
        Policy(id=1, name="gpu-only", nodes=("kn1",), groups=("gpu", "hpc")),
        Policy(id=2, name="short", nodes=("kn2",), maxtime=120),
    )
    rules = PolicyRules(policies, UTC, groups=frozenset({"eng"}))
    refused = rules.refusals(180)
    assert set(refused) == {"kn1", "kn2"}
    assert refused["kn1"] == 'policy "gpu-only" keeps them for groups gpu, hpc: book other nodes'
    assert refused["kn2"] == 'policy "short" allows at most 2h on them: ask for -t 2h or less there'
    assert PolicyRules(policies, UTC, groups=frozenset({"hpc"})).refusals(60) == {}
    assert PolicyRules(policies, UTC, exempt=True).refusals(10_000) == {}
    assert policy_of(policies, "kn2") == policies[1] and policy_of(policies, "kn9") is None


def test_a_range_between_two_instances_has_none() -> None:
    window = parse_window("0 17 24 12 *:8d15h")
    assert instances(window, UTC, utc(2026, 1, 1), utc(2026, 1, 3)) == [
        (utc(2025, 12, 24, 17), utc(2026, 1, 2, 8))
    ]
    start = utc(2026, 1, 2, 8)
    assert instances(window, UTC, start, start + timedelta(days=30)) == []
