"""Scheduler: classic scenarios (spec §10), limits, and properties checked against brute force."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igor_tui.errors import LimitError, ScheduleError
from igor_tui.model import Block, Limits, Request, Reservation
from igor_tui.scheduler import (
    check_extend_limits,
    check_limits,
    extension_room,
    find_slot,
    max_minutes,
    pick_nodes,
    speculate,
    to_minutes,
)

T0 = datetime(2006, 1, 2, 15, 0, tzinfo=UTC)
HOSTS = tuple(f"host{i}" for i in range(1, 5))


def m(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def res(rid: int, start: int, minutes: int, nodes: tuple[str, ...] = HOSTS, name: str = "") -> Reservation:
    return Reservation(
        id=rid, name=name or f"r{rid}", owner="u", start=m(start), end=m(start + minutes), nodes=nodes
    )


ZONES = (UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/St_Johns"), timezone(timedelta(0)))


@given(
    when=st.datetimes(  # naive bounds (hypothesis adds no zone); from a day after the epoch in every zone
        min_value=datetime(1970, 1, 2, tzinfo=UTC).replace(tzinfo=None),
        max_value=datetime(2400, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    ),
    zone=st.sampled_from(ZONES),
)
def test_to_minutes_counts_utc_by_fields_as_timestamp_does(when: datetime, zone: tzinfo) -> None:
    """Issue 14: UTC times are counted from their fields (no offset call, no float); every zone still
    gives `timestamp()`'s minute."""
    aware = when.replace(tzinfo=zone)
    assert to_minutes(aware) == int(aware.timestamp()) // 60
    assert to_minutes(aware.astimezone(UTC)) == to_minutes(aware)


def test_nodes_the_cluster_no_longer_has_are_ignored() -> None:
    """A reservation made before the cluster shrank names nodes it no longer has: they hold nothing."""
    gone = Reservation(id=1, name="old", owner="u", start=m(0), end=m(60), nodes=("host1", "host9"))
    slot = find_slot(HOSTS, [gone], Request(minutes=30, earliest=m(0), count=4))
    assert slot.start == m(60)
    slot = find_slot(HOSTS, [gone], Request(minutes=30, earliest=m(0), count=3))
    assert (slot.start, slot.nodes) == (m(0), ("host2", "host3", "host4"))


def book(existing: list[Reservation], request: Request, nodes: tuple[str, ...] = HOSTS) -> Reservation:
    slot = find_slot(nodes, existing, request)
    new = Reservation(
        id=len(existing) + 1,
        name=f"b{len(existing)}",
        owner="u",
        start=slot.start,
        end=slot.end,
        nodes=slot.nodes,
    )
    existing.append(new)
    return new


# ------------------------------------------------------------------------------- spec §10.1 and §10.2


def test_active_predicate_is_half_open() -> None:
    r = res(1, -60, 120)
    assert r.is_active(m(0))
    assert not r.is_active(m(120))  # ends at +60: not active at +2h
    assert not r.is_active(m(-120))
    assert r.is_active(m(-60))  # start is inclusive (classic: strict)
    assert not r.is_active(m(60))  # end is exclusive


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(-90, -60, False), (60, 90, False), (-90, 90, True), (-30, 30, True), (-90, -30, True), (30, 90, True)],
)
def test_overlaps_table(start: int, end: int, expected: bool) -> None:
    assert res(1, -60, 120).overlaps(m(start), m(end)) is expected


NEXT_FREE = [res(1, -10, 15, ("host1",)), res(2, 10, 15, ("host1",)), res(3, 30, 15, ("host1",))]


@pytest.mark.parametrize(("after", "minutes", "expected"), [(-10, 5, 5), (-10, 15, 45), (10, 5, 25)])
def test_next_free_gaps(after: int, minutes: int, expected: int) -> None:
    slot = find_slot(("host1",), NEXT_FREE, Request(minutes=minutes, earliest=m(after), nodes=("host1",)))
    assert slot.start == m(expected)


def test_specific_hosts_corrected_scenario() -> None:
    existing = [res(1, -10, 15), res(2, 10, 15), res(3, 30, 15)]
    assert find_slot(HOSTS, existing, Request(minutes=5, earliest=T0, nodes=HOSTS)).start == m(5)
    assert find_slot(HOSTS, existing, Request(minutes=15, earliest=T0, nodes=HOSTS)).start == m(45)


CLASSIC_PACKING = [
    (0, "1"), (0, "23"), (5, "123"), (10, "1234"), (0, "4"), (15, "12"), (20, "123"), (25, "1234"),
    (5, "4"), (15, "34"), (30, "123"), (35, "1234"), (20, "4"), (40, "12"), (45, "123"), (50, "1234"),
    (30, "4"), (40, "34"), (55, "123"),
]  # fmt: skip


def test_contiguous_packing_matches_classic_verified_table() -> None:
    existing: list[Reservation] = []
    for i, (start, hosts) in enumerate(CLASSIC_PACKING):
        r = book(existing, Request(minutes=5, earliest=T0, count=i % 4 + 1, contiguous=True))
        assert (r.start, r.nodes) == (m(start), tuple(f"host{h}" for h in hosts)), i
    extra = [book(existing, Request(minutes=5, earliest=T0, count=1, contiguous=True)) for _ in range(2)]
    assert [(r.start, r.nodes) for r in extra] == [(m(45), ("host4",)), (m(55), ("host4",))]
    assert all(r.end <= m(60) for r in existing)


def test_default_packing_is_never_later_than_contiguous() -> None:
    """Our default (earliest start, any set) differs from classic only by starting earlier when scattered
    nodes are free; every placement is at least as early as the contiguous one on the same state."""
    default: list[Reservation] = []
    for i in range(19):
        req = Request(minutes=5, earliest=T0, count=i % 4 + 1)
        contiguous_start = find_slot(
            HOSTS, default, Request(minutes=5, earliest=T0, count=i % 4 + 1, contiguous=True)
        )
        assert book(default, req).start <= contiguous_start.start
    assert_no_overlaps(default)


@pytest.mark.parametrize(("i", "j"), list(itertools.combinations(range(1, 5), 2)))
def test_gap_scenario(i: int, j: int) -> None:
    existing = [res(1, 0, 5, (f"host{i}", f"host{j}"))]
    slot = find_slot(HOSTS, existing, Request(minutes=5, earliest=T0, count=3, contiguous=True))
    assert slot.start == m(5)


def test_gap_scenario_default_mode_needs_no_contiguity() -> None:
    """Adapted: with the earliest-start rule 3 nodes are not free at 15:00 either (only 2 are), so the
    default mode also starts at 15:05 — but it would take scattered nodes when enough are free."""
    existing = [res(1, 0, 5, ("host2",))]
    slot = find_slot(HOSTS, existing, Request(minutes=5, earliest=T0, count=3))
    assert (slot.start, slot.nodes) == (T0, ("host1", "host3", "host4"))
    contiguous = find_slot(HOSTS, existing, Request(minutes=5, earliest=T0, count=3, contiguous=True))
    assert contiguous.start == m(5)


def test_fragmented_scenario() -> None:
    existing = [res(1, 5, 5, ("host1", "host4"))]
    assert find_slot(HOSTS, existing, Request(minutes=5, earliest=T0, count=4, contiguous=True)).start == T0
    assert find_slot(HOSTS, existing, Request(minutes=10, earliest=T0, count=4, contiguous=True)).start == m(
        10
    )
    existing.append(res(2, 15, 5, ("host1", "host4")))
    assert find_slot(HOSTS, existing, Request(minutes=10, earliest=T0, count=4, contiguous=True)).start == m(
        20
    )


def test_lowest_contiguous_block_preferred() -> None:
    nodes = tuple(f"kn{i}" for i in range(1, 11))
    existing = [res(1, -5, 60, ("kn1", "kn2", "kn3"))]
    assert find_slot(nodes, existing, Request(minutes=30, earliest=T0, count=2)).nodes == ("kn4", "kn5")


def test_down_nodes_and_blocks_are_never_chosen() -> None:
    nodes = tuple(f"kn{i}" for i in range(1, 7))
    block = Block(id=1, nodes=("kn2", "kn3"), start=m(0), end=m(120), reason="disk swap")
    slot = find_slot(
        nodes, [], Request(minutes=60, earliest=T0, count=3), blocks=[block], down=frozenset({"kn5"})
    )
    assert slot.start == T0
    assert slot.nodes == ("kn1", "kn4", "kn6")
    forever = Block(id=2, nodes=("kn1",), start=m(0), end=None)
    with pytest.raises(ScheduleError, match="free together"):
        find_slot(nodes, [], Request(minutes=5, earliest=T0, nodes=("kn1",)), blocks=[forever])
    with pytest.raises(ScheduleError, match="kn5 is down"):
        find_slot(nodes, [], Request(minutes=5, earliest=T0, nodes=("kn5",)), down=frozenset({"kn5"}))


def test_too_big_and_unknown_nodes() -> None:
    with pytest.raises(ScheduleError, match="too big for cluster: asked for 5 nodes, the cluster has 4"):
        find_slot(HOSTS, [], Request(minutes=5, earliest=T0, count=5))
    with pytest.raises(ScheduleError, match="only 3 of 4 are usable"):
        find_slot(HOSTS, [], Request(minutes=5, earliest=T0, count=4), down=frozenset({"host1"}))
    with pytest.raises(ScheduleError, match="kn9 is not a node"):
        find_slot(HOSTS, [], Request(minutes=5, earliest=T0, nodes=("kn9",)))


def test_speculation_lists_distinct_useful_options() -> None:
    """Spec §2.5's example: 8 of 10 nodes, kn1-3 busy until 06:05, kn2-4 busy 06:05-06:35."""
    nodes = tuple(f"kn{i}" for i in range(1, 11))
    existing = [res(1, -60, 125, ("kn1", "kn2", "kn3")), res(2, 65, 30, ("kn2", "kn3", "kn4"))]
    slots = speculate(nodes, existing, Request(minutes=60, earliest=T0, count=8))
    assert slots[0].start == m(95)  # 8 nodes for a whole hour: only once kn2-4 are free (06:35)
    assert slots[0].nodes == tuple(f"kn{i}" for i in range(1, 9))
    assert slots[0].free == 10
    assert len(slots) == 1  # nothing changes after 06:35: no "+10 min" copies
    small = speculate(nodes, existing, Request(minutes=30, earliest=T0, count=7))
    assert [s.start for s in small] == [T0, m(65), m(95)]
    assert [s.free for s in small] == [7, 7, 10]


# ------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, 4320.0),
        (2, 4320.0),
        (3, 2725.6166),
        (4, 2160.0),
        (8, 1440.0),
        (16, 1080.0),
        (50, 765.434),
        (100, 650.2248),
    ],
)
def test_time_limit_table(n: int, expected: float) -> None:
    assert max_minutes(4320, n) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("timelimit", "nodes", "minutes", "ok"),
    [(0, 100, 100, True), (10, 1, 10, True), (10, 10, 10, False), (10, 100, 10, False), (100, 10, 10, True)],
)
def test_time_limit_acceptance(timelimit: int, nodes: int, minutes: int, ok: bool) -> None:
    limits = Limits(timelimit=timelimit)
    if ok:
        check_limits(limits, nodes, minutes)
    else:
        with pytest.raises(LimitError):
            check_limits(limits, nodes, minutes)


def test_limit_messages_name_limit_and_request() -> None:
    with pytest.raises(LimitError, match=r"^max 24h0m for 8 nodes, you asked 30h$"):
        check_limits(Limits(timelimit=4320), 8, 30 * 60)
    with pytest.raises(LimitError, match="at most 50 nodes per reservation, you asked for 51"):
        check_limits(Limits(nodelimit=50), 51, 10)


def test_extend_limits() -> None:
    r = res(1, -30, 60, ("host1", "host2"))  # 30 minutes remaining at T0
    check_extend_limits(Limits(timelimit=120, extendwithin=30), r, T0, 90)
    with pytest.raises(LimitError, match=r"30m remaining \+ 1h40m extension"):
        check_extend_limits(Limits(timelimit=120), r, T0, 100)
    with pytest.raises(LimitError, match="within 20m of its end; it ends in 30m"):
        check_extend_limits(Limits(extendwithin=20), r, T0, 10)


def test_extension_room_names_the_obstacle() -> None:
    mine = res(1, 0, 60, ("host1", "host2"))
    other = res(2, 90, 60, ("host2", "host3"), name="next")
    unrelated = res(3, 60, 60, ("host4",))
    room = extension_room(mine, [mine, other, unrelated])
    assert room.until == m(90)
    assert room.blocker == "reservation next on host2"
    assert extension_room(mine, [mine, unrelated]).until is None


# ------------------------------------------------------------------------------ brute-force properties


def brute_earliest(
    nodes: tuple[str, ...], existing: list[Reservation], req: Request, horizon: int
) -> tuple[int, list[str]] | None:
    """Minute-by-minute reference: first start at which the request fits, and the free nodes then."""
    start0 = int((req.earliest - T0).total_seconds() // 60)
    for t in range(start0, horizon + 1):
        window = (m(t), m(t + req.minutes))
        free = [n for n in nodes if not any(n in r.nodes and r.overlaps(*window) for r in existing)]
        if req.nodes:
            if all(n in free for n in req.nodes):
                return t, free
        elif req.contiguous:
            idx = [nodes.index(n) for n in free]
            if any(all(i + k in idx for k in range(req.count)) for i in idx):
                return t, free
        elif len(free) >= req.count:
            return t, free
    return None


def assert_no_overlaps(existing: list[Reservation]) -> None:
    for a, b in itertools.combinations(existing, 2):
        if set(a.nodes) & set(b.nodes):
            assert not a.overlaps(b.start, b.end), (a, b)


reservation_specs = st.lists(
    st.tuples(st.integers(0, 120), st.integers(1, 60), st.sets(st.integers(0, 5), min_size=1)), max_size=8
)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[tuple[str, ...], list[Reservation], Request]:
    size = draw(st.integers(1, 6))
    nodes = tuple(f"n{i}" for i in range(size))
    existing: list[Reservation] = []
    for start, minutes, members in draw(reservation_specs):
        picked = tuple(nodes[i] for i in sorted(members) if i < size)
        if not picked:
            continue
        cand = res(len(existing) + 1, start, minutes, picked)
        if all(
            not (set(cand.nodes) & set(r.nodes)) or not r.overlaps(cand.start, cand.end) for r in existing
        ):
            existing.append(cand)
    minutes = draw(st.integers(1, 40))
    earliest = m(draw(st.integers(0, 100)))
    if draw(st.booleans()):
        listed = draw(st.sets(st.sampled_from(nodes), min_size=1))
        req = Request(minutes=minutes, earliest=earliest, nodes=tuple(sorted(listed, key=nodes.index)))
    else:
        req = Request(
            minutes=minutes,
            earliest=earliest,
            count=draw(st.integers(1, size)),
            contiguous=draw(st.booleans()),
        )
    return nodes, existing, req


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_earliest_start_matches_brute_force(case: tuple[tuple[str, ...], list[Reservation], Request]) -> None:
    nodes, existing, req = case
    slot = find_slot(nodes, existing, req)
    expected = brute_earliest(nodes, existing, req, horizon=300)
    assert expected is not None
    t, free = expected
    assert slot.start == m(t)
    assert slot.end == m(t + req.minutes)
    assert set(slot.nodes) <= set(free)
    assert slot.free == (len(free) if not req.nodes else len(req.nodes))
    if req.nodes:
        assert slot.nodes == req.nodes
    else:
        assert len(slot.nodes) == req.count
    booked = [
        *existing,
        Reservation(id=999, name="new", owner="u", start=slot.start, end=slot.end, nodes=slot.nodes),
    ]
    assert_no_overlaps(booked)


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_every_speculated_slot_is_bookable_exactly(
    case: tuple[tuple[str, ...], list[Reservation], Request],
) -> None:
    nodes, existing, req = case
    slots = speculate(nodes, existing, req)
    assert slots[0] == find_slot(nodes, existing, req)
    starts = [s.start for s in slots]
    assert starts == sorted(set(starts))  # distinct, in order
    ends = {r.end for r in existing}
    for s in slots:
        assert s.start == req.earliest or s.start in ends  # only instants where something changes
        again = find_slot(
            nodes, existing, Request(req.minutes, s.start, req.count, req.nodes, req.contiguous)
        )
        assert again == s


def brute_pick(available: list[int], count: int) -> list[int]:
    def runs(sel: tuple[int, ...]) -> int:
        return 1 + sum(1 for a, b in itertools.pairwise(sel) if b != a + 1)

    best = min(itertools.combinations(available, count), key=lambda c: (runs(c), c))
    return list(best)


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(0, 11), min_size=1), st.data())
def test_pick_prefers_contiguous_then_fewest_gaps_then_lowest(free: set[int], data: st.DataObject) -> None:
    available = sorted(free)
    count = data.draw(st.integers(1, len(available)))
    assert pick_nodes(available, count) == brute_pick(available, count)


def test_pick_fewest_gaps_beats_first_fit() -> None:
    # runs: [0-2], [4], [6-8]; 6 nodes: two runs of 3 (one gap) beat 0-2,4,6-7 (two gaps)
    assert pick_nodes([0, 1, 2, 4, 6, 7, 8], 6) == [0, 1, 2, 6, 7, 8]
