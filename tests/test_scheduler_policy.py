"""The scheduler honours host policies: groups, maxtime, recurring windows (with a Hypothesis property)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igor_tui.errors import ScheduleError
from igor_tui.model import Policy, Request, Reservation
from igor_tui.policy import PolicyRules, window_blocks
from igor_tui.scheduler import extension_room, find_slot, speculate

T0 = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # a Monday
NODES = tuple(f"kn{i}" for i in range(1, 7))
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def rules(*policies: Policy, groups: frozenset[str] = frozenset(), exempt: bool = False) -> PolicyRules:
    return PolicyRules(tuple(policies), UTC, groups=groups, exempt=exempt)


XMAS = Policy(id=1, name="gpu-maint", nodes=("kn3", "kn4"), unavailable=("0 17 24 12 *:8d15h",))


def test_a_window_pushes_a_listed_booking_past_it() -> None:
    request = Request(minutes=4 * 24 * 60, earliest=T0, nodes=("kn3",))
    slot = find_slot(NODES, [], request, rules=rules(XMAS))
    assert slot.start == datetime(2027, 1, 2, 8, 0, tzinfo=UTC)
    short = Request(minutes=60, earliest=T0, nodes=("kn3",))
    assert find_slot(NODES, [], short, rules=rules(XMAS)).start == T0


def test_a_counted_booking_avoids_windowed_nodes_when_others_are_free() -> None:
    request = Request(minutes=5 * 24 * 60, earliest=T0, count=4)
    slot = find_slot(NODES, [], request, rules=rules(XMAS))
    assert slot.start == T0 and not {"kn3", "kn4"} & set(slot.nodes)


def test_windows_far_beyond_the_first_horizon_are_found() -> None:
    """The horizon doubles: a booking that can only start after a long run of windows still fits."""
    daily = Policy(id=1, name="nightly", nodes=("kn1",), unavailable=("0 0 * * *:23h",))
    request = Request(minutes=120, earliest=T0, nodes=("kn1",))
    with pytest.raises(ScheduleError, match='for 2h: the windows of policy "nightly" leave no gap that long'):
        find_slot(NODES, [], request, rules=rules(daily))
    slot = find_slot(NODES, [], Request(minutes=60, earliest=T0, nodes=("kn1",)), rules=rules(daily))
    assert slot.start == datetime(2026, 12, 21, 23, 0, tzinfo=UTC)
    late = Policy(id=1, name="late", nodes=("kn1",), unavailable=("0 0 1 1 *:60d",))
    slot = find_slot(
        NODES,
        [],
        Request(minutes=60, earliest=datetime(2027, 1, 1, tzinfo=UTC), nodes=("kn1",)),
        rules=rules(late),
    )
    assert slot.start == datetime(2027, 3, 2, tzinfo=UTC)


def test_group_rule_refuses_listed_nodes_and_skips_them_for_counts() -> None:
    gpu = Policy(id=2, name="gpu-only", nodes=("kn1", "kn2"), groups=("gpu",))
    with pytest.raises(
        ScheduleError, match='kn1 is not yours to book: policy "gpu-only" keeps them for group gpu'
    ):
        find_slot(NODES, [], Request(minutes=60, earliest=T0, nodes=("kn1",)), rules=rules(gpu))
    slot = find_slot(NODES, [], Request(minutes=60, earliest=T0, count=2), rules=rules(gpu))
    assert slot.nodes == ("kn3", "kn4")
    members = rules(gpu, groups=frozenset({"gpu"}))
    assert find_slot(NODES, [], Request(minutes=60, earliest=T0, count=2), rules=members).nodes == (
        "kn1",
        "kn2",
    )
    admin = rules(gpu, exempt=True)
    assert find_slot(NODES, [], Request(minutes=60, earliest=T0, nodes=("kn1",)), rules=admin).nodes == (
        "kn1",
    )
    with pytest.raises(
        ScheduleError, match=r'only 4 of 6 are usable \(0 down, 2 kept by host policies: policy "gpu-only"'
    ):
        find_slot(NODES, [], Request(minutes=60, earliest=T0, count=5), rules=rules(gpu))


def test_maxtime_caps_the_length_on_its_nodes_only() -> None:
    short = Policy(id=3, name="short", nodes=("kn1",), maxtime=120)
    with pytest.raises(ScheduleError, match='policy "short" allows at most 2h on them'):
        find_slot(NODES, [], Request(minutes=180, earliest=T0, nodes=("kn1",)), rules=rules(short))
    assert find_slot(
        NODES, [], Request(minutes=120, earliest=T0, nodes=("kn1",)), rules=rules(short)
    ).nodes == ("kn1",)
    assert (
        "kn1"
        not in find_slot(NODES, [], Request(minutes=180, earliest=T0, count=1), rules=rules(short)).nodes
    )
    admin = rules(short, exempt=True)
    assert find_slot(NODES, [], Request(minutes=180, earliest=T0, nodes=("kn1",)), rules=admin).nodes == (
        "kn1",
    )


def test_admins_are_not_exempt_from_windows() -> None:
    request = Request(minutes=4 * 24 * 60, earliest=T0, nodes=("kn3",))
    assert find_slot(NODES, [], request, rules=rules(XMAS, exempt=True)).start == datetime(
        2027, 1, 2, 8, 0, tzinfo=UTC
    )


def test_extension_room_stops_at_a_window() -> None:
    res = Reservation(id=1, name="r", owner="u", start=T0, end=T0 + timedelta(days=1), nodes=("kn3",))
    blocks = window_blocks([XMAS], UTC, res.end, res.end + timedelta(days=30))
    room = extension_room(res, [], blocks)
    assert room.until == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    assert 'policy "gpu-maint"' in room.blocker


def test_speculation_options_respect_dst_shifted_windows() -> None:
    evenings = Policy(id=4, name="evenings", nodes=NODES, unavailable=("0 17 * * *:15h",))
    tz_rules = PolicyRules((evenings,), BERLIN)
    start = datetime(2026, 3, 27, 6, 0, tzinfo=UTC)
    for slot in speculate(NODES, [], Request(minutes=60, earliest=start, count=1), rules=tz_rules, limit=10):
        local = slot.start.astimezone(BERLIN)
        assert 8 <= local.hour < 17 and (slot.end.astimezone(BERLIN).hour, slot.end.minute) <= (17, 0)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[Policy], list[Request], frozenset[str], bool]:
    policies: list[Policy] = []
    free = list(NODES)
    for pid in range(draw(st.integers(0, 3))):
        nodes = draw(st.lists(st.sampled_from(free), min_size=1, max_size=3, unique=True)) if free else []
        free = [n for n in free if n not in nodes]
        hour = draw(st.integers(0, 23))
        dow = draw(st.sampled_from(["*", "1-5", "0,6", "3"]))
        length = draw(st.integers(1, 60 * 60))
        windows = (f"{draw(st.integers(0, 59))} {hour} * * {dow}:{length}m",) if draw(st.booleans()) else ()
        allowed = tuple(draw(st.lists(st.sampled_from(["gpu", "hpc"]), max_size=1)))
        policies.append(
            Policy(id=pid + 1, name=f"p{pid}", nodes=tuple(nodes), groups=allowed, unavailable=windows)
        )
    requests = [
        Request(
            minutes=draw(st.integers(1, 3 * 24 * 60)),
            earliest=T0 + timedelta(minutes=draw(st.integers(0, 7 * 24 * 60))),
            count=draw(st.integers(1, 4)),
        )
        for _ in range(draw(st.integers(1, 4)))
    ]
    groups = frozenset(draw(st.lists(st.sampled_from(["gpu", "hpc", "eng"]), max_size=2)))
    return policies, requests, groups, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_no_placement_overlaps_a_window_or_breaks_a_group_rule(
    case: tuple[list[Policy], list[Request], frozenset[str], bool],
) -> None:
    policies, requests, groups, exempt = case
    applied = PolicyRules(tuple(policies), BERLIN, groups=groups, exempt=exempt)
    booked: list[Reservation] = []
    for n, request in enumerate(requests):
        try:
            slot = find_slot(NODES, booked, request, rules=applied)
        except ScheduleError:
            continue
        for policy in policies:
            mine = set(policy.nodes) & set(slot.nodes)
            if not mine:
                continue
            if policy.groups and not exempt:
                assert groups & set(policy.groups), (policy, slot)
            for block in window_blocks([policy], BERLIN, slot.start, slot.end):
                assert not block.overlaps(slot.start, slot.end), (policy, slot, block)
        for other in booked:
            assert not (other.overlaps(slot.start, slot.end) and set(other.nodes) & set(slot.nodes))
        booked.append(
            Reservation(id=n + 1, name=f"b{n}", owner="u", start=slot.start, end=slot.end, nodes=slot.nodes)
        )
