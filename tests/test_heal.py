"""Heal (`heal: true`) and the scheduler properties behind add and heal (issue 15, parts 1 and 2).

The tick swaps a down or blocked node of a running reservation for one free for the rest of its window,
installs it, logs the swap once and never takes a node another reservation holds. Hypothesis states the
two laws: adding never double-books, heal never takes a held (or down, or blocked) node."""

from __future__ import annotations

import contextlib
import itertools
import json
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_notify import make, smtp  # noqa: F401 (pytest fixtures used below)
from test_service import DIRECTORY, NOW
from test_tick import T0, Harness, at

from igor_tui.clock import FrozenClock
from igor_tui.config import parse_config
from igor_tui.content import ContentStore
from igor_tui.errors import IgorError
from igor_tui.eventlog import EventLog
from igor_tui.identity import resolve_caller
from igor_tui.model import Block, Reservation, floor_minute
from igor_tui.node_swaps import heal_swaps
from igor_tui.service import EditRequest, IgorService
from igor_tui.store import MemoryStore


def events(h: Harness, kind: str) -> list[dict[str, Any]]:
    lines = h.log.read_text().splitlines() if h.log.exists() else []
    return [e for e in map(json.loads, lines) if e["event"] == kind]


# ---------------------------------------------------------------------------------------- the tick


def test_a_down_node_is_swapped_installed_and_logged(tmp_path: Path) -> None:
    h = Harness(tmp_path, autoreboot=True)  # its liveness probe finds kn8 down
    r = h.add(-5, 60, ["kn7"])
    h.ticker.run()
    with h.store.transaction() as tx:  # the user added kn8 (up then), the tick installed it
        tx.put_reservation(replace(r, nodes=("kn7", "kn8"), revision=2, installed=True, vlan=100))
    h.liveness.down = set()
    h.ticker.run()
    assert h.boot.booting == {"kn7": "igor-1", "kn8": "igor-1"}
    h.liveness.down = {"kn8"}
    h.ticker.heal = True
    h.power.calls.clear()
    report = h.ticker.run()
    assert report.failed == 0
    stored = h.store.snapshot().reservations[0]
    assert stored.nodes == ("kn1", "kn7") and stored.healed == ("kn8 (down) -> kn1",)
    assert h.boot.booting == {"kn1": "igor-1", "kn7": "igor-1"}
    assert h.switch.vlans == {"Et1": 100, "Et7": 100}
    assert ("cycle", ("kn7",)) not in h.power.calls  # the kept node is not disturbed
    assert [e["swap"] for e in events(h, "healed")] == ["kn8 (down) -> kn1"]
    assert [(s.old, s.new) for hd in report.healed for s in hd.swaps] == [("kn8", "kn1")]
    assert h.ticker.run().outcomes == [] and h.store.snapshot().reservations[0].nodes == ("kn1", "kn7")


def test_a_blocked_node_is_swapped_too(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ticker.heal = True
    r = h.add(-5, 60, ["kn1", "kn2"])
    with h.store.transaction() as tx:
        tx.add_block(Block(0, ("kn2",), at(-1), None, reason="fan"))
    h.ticker.run()
    stored = h.store.snapshot().reservations[0]
    assert stored.id == r.id and stored.nodes == ("kn1", "kn3")
    assert stored.healed == ("kn2 (blocked) -> kn3",)


def test_no_free_node_leaves_the_reservation_and_says_so_once(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ticker.heal = True
    mine = h.add(-5, 60, ["kn8"])  # kn8 is down
    others = h.add(-5, 120, ["kn1", "kn2", "kn3", "kn4", "kn5", "kn6", "kn7"])
    h.ticker.run()
    h.clock.set(at(1))
    h.ticker.run()
    snap = {r.id: r for r in h.store.snapshot().reservations}
    assert snap[mine.id].nodes == ("kn8",) and snap[mine.id].healed == ()
    assert snap[others.id].nodes == others.nodes  # never stolen
    assert [e["swap"] for e in events(h, "unhealed")] == ["kn8 (down) no free node to swap in"]


def test_heal_is_off_by_default(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(-5, 60, ["kn8"])
    h.ticker.run()
    assert h.store.snapshot().reservations[0].nodes == ("kn8",)


def test_a_document_from_before_heal_loads_and_healed_is_stored_only_when_set() -> None:
    from igor_tui.store.codec import _stored_record, reservation_from_record

    old = {"id": 3, "name": "r", "owner": "alice", "start": T0.isoformat(), "end": at(60).isoformat()}
    loaded = reservation_from_record({**old, "nodes": ["kn1"]})
    assert loaded.healed == () and loaded.nodes == ("kn1",)
    assert "healed" not in _stored_record(loaded)
    swapped = replace(loaded, healed=("kn1 (down) -> kn2",))
    assert _stored_record(swapped)["healed"] == ["kn1 (down) -> kn2"]
    assert reservation_from_record(_stored_record(swapped)) == swapped


def test_heal_config_key_defaults_off_and_is_validated() -> None:
    base = {"tftproot": "/tmp/t", "prefix": "kn", "start": 1, "end": 4}
    assert parse_config(base).heal is False
    assert parse_config({**base, "heal": True}).heal is True
    try:
        parse_config({**base, "heal": "yes"})
    except IgorError as err:
        assert "heal" in str(err)
    else:
        raise AssertionError("heal: 'yes' was accepted")


# ------------------------------------------------------------------------------------ properties

NODES = tuple(f"kn{i}" for i in range(1, 9))
SPECS = st.lists(
    st.tuples(st.integers(-60, 120), st.integers(1, 120), st.sets(st.integers(0, 7), min_size=1, max_size=3)),
    max_size=8,
)


def layout(specs: list[tuple[int, int, set[int]]]) -> list[Reservation]:
    """Reservations from (start, minutes, node indices) around T0, skipping any that would double-book."""
    out: list[Reservation] = []
    for start, minutes, members in specs:
        cand = Reservation(
            len(out) + 1,
            f"r{len(out) + 1}",
            "alice",
            at(start),
            at(start + minutes),
            tuple(NODES[i] for i in sorted(members)),
        )
        if all(not set(cand.nodes) & set(r.nodes) or not r.overlaps(cand.start, cand.end) for r in out):
            out.append(cand)
    return out


def assert_no_double_booking(reservations: list[Reservation], now: datetime) -> None:
    """No node in two reservations at once from `now` on: a node added or swapped in counts from now
    (its reservation started earlier, maybe while another held the node, which is over)."""
    for a, b in itertools.combinations(reservations, 2):
        shared = set(a.nodes) & set(b.nodes)
        overlap = max(a.start, b.start, now) < min(a.end, b.end)
        assert not (shared and overlap), (a, b)


@settings(max_examples=200, deadline=None)
@given(SPECS, st.sets(st.sampled_from(NODES), max_size=3), st.sets(st.sampled_from(NODES), max_size=2))
def test_heal_never_takes_a_held_down_or_blocked_node(
    specs: list[tuple[int, int, set[int]]], down: set[str], blocked: set[str]
) -> None:
    reservations = layout(specs)
    blocks = [Block(1, tuple(sorted(blocked)), at(-30), at(30))] if blocked else []
    swaps = heal_swaps(NODES, reservations, T0, blocks=blocks, down=frozenset(down))
    by_id = {r.id: r for r in reservations}
    healed = dict(by_id)
    for s in swaps:
        res = by_id[s.res_id]
        assert res.is_active(T0) and s.old in res.nodes and (s.old in down or s.old in blocked)
        if not s.new:
            continue
        assert s.new not in down and s.new not in blocked
        for other in reservations:  # held by nobody for the rest of the window, this one included
            assert not (s.new in other.nodes and other.overlaps(T0, res.end)), (s, other)
        cur = healed[s.res_id]
        healed[s.res_id] = replace(cur, nodes=(*tuple(n for n in cur.nodes if n != s.old), s.new))
    assert_no_double_booking(list(healed.values()), T0)


_DIR = tempfile.mkdtemp(prefix="igor-heal-prop-")


def service(store: MemoryStore) -> IgorService:
    """An admin's service over `store` (admins have no node limit, so every add the nodes allow is tried)."""
    config = parse_config(
        {"tftproot": _DIR, "statedir": _DIR, "prefix": "kn", "start": 1, "end": 8, "admins": ["%wheel"]}
    )
    return IgorService(
        config,
        store,
        resolve_caller("olga", config.admins, DIRECTORY),
        clock=FrozenClock(NOW),
        directory=DIRECTORY,
        content=ContentStore(str(Path(_DIR) / "content")),
        events=EventLog(""),
    )


EDITS = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.one_of(
            st.integers(1, 3).map(lambda n: ("add", str(n))),
            st.sampled_from(NODES).map(lambda n: ("add", n)),
            st.sampled_from(NODES).map(lambda n: ("drop", n)),
        ),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPECS, EDITS)
def test_adding_never_double_books(specs: list[tuple[int, int, set[int]]], edits: list[Any]) -> None:
    store = MemoryStore()
    base = floor_minute(NOW)
    with store.transaction() as tx:
        for r in layout(specs):
            if r.end > base:  # `edit` only sees live reservations
                shift = base - T0
                tx.add_reservation(replace(r, id=0, start=r.start + shift, end=r.end + shift))
    svc = service(store)
    for index, (verb, what) in edits:
        live = list(store.snapshot().reservations)
        if not live:
            return
        target = live[index % len(live)]
        with contextlib.suppress(IgorError):
            svc.edit(target.name, EditRequest(add=what) if verb == "add" else EditRequest(drop=what))
        after = list(store.snapshot().reservations)
        assert_no_double_booking(after, base)
        for r in after:  # a window never moves
            before = next(x for x in live if x.id == r.id)
            assert (r.start, r.end) == (before.start, before.end)
    assert timedelta(0) <= NOW - base < timedelta(minutes=1)


def test_the_owner_is_mailed_about_a_heal(make: tuple[Any, Any], smtp: Any, tmp_path: Path) -> None:  # noqa: F811
    from test_notify import book as book_mail

    factory, _clock = make
    svc = factory(heal=True, notify=False)
    res = book_mail(factory("alice"), tmp_path, "swapme", "kn[1-2]", "", "2h")
    with svc.store.transaction() as tx:
        tx.add_block(Block(0, ("kn2",), res.start, None, reason="fan"))
    report = svc.tick(probe=False)
    assert report.mailed == ["alice@example.com: swapme healed"] and report.mail_errors == []
    (mail,) = smtp.take()
    assert (mail.message["To"], mail.message["Subject"]) == (
        "alice@example.com",
        "igor: reservation swapme healed",
    )
    assert "  healed: kn2 (blocked) -> kn3" in mail.body
    assert svc.tick(probe=False).mailed == []  # once


def test_heal_never_swaps_in_a_node_inside_a_policy_window(tmp_path: Path) -> None:
    from igor_tui.model import Policy

    h = Harness(tmp_path)
    h.ticker.heal = True
    h.add(-5, 60, ["kn1", "kn2"])
    with h.store.transaction() as tx:
        tx.add_block(Block(0, ("kn2",), at(-1), None, reason="fan"))
        tx.put_policy(Policy(0, "always", ("kn3",), unavailable=("0 0 * * *:1d",)))
    h.ticker.run()
    assert h.store.snapshot().reservations[0].nodes == ("kn1", "kn4")  # kn3 is inside its window
