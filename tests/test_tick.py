"""igor-tick: pure planning rules and the executor's recording, idempotence, faults and catch-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from igor_tui.backends.base import Backends, NodeAddress
from igor_tui.backends.fake import FakeBoot, FakeLiveness, FakePower, FakeSwitch
from igor_tui.clock import FrozenClock
from igor_tui.content import ContentStore
from igor_tui.eventlog import EventLog
from igor_tui.hostlist import NodeNaming
from igor_tui.model import Install, InstallStage, NodeState, Reservation
from igor_tui.service.installs import read_installs
from igor_tui.service.tick_executor import Ticker
from igor_tui.store import MemoryStore, TinyStore
from igor_tui.tickplan import Step, TickPolicy, plan_actions

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
NAMING = NodeNaming("kn", 1, 8)
NODE_MAP = {f"kn{i}": f"Et{i}" for i in range(1, 9)}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def res(rid: int, start: int, end: int, nodes: Sequence[str], **kw: object) -> Reservation:
    return Reservation(rid, f"r{rid}", "alice", at(start), at(end), tuple(nodes), **kw)  # type: ignore[arg-type]


def steps(actions: Sequence[object]) -> list[tuple[str, int]]:
    return [(a.step.value, a.res_id) for a in actions]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------- planning


def test_active_reservation_gets_installed_in_order() -> None:
    policy = TickPolicy(network=True, node_map=NODE_MAP, autoreboot=True, power=True)
    plan = plan_actions(T0, [res(1, -5, 60, ["kn1", "kn2"])], {}, policy)
    assert steps(plan) == [("set-vlan", 1), ("install-boot", 1), ("power-cycle", 1), ("complete", 1)]
    assert plan[0].ports == ("Et1", "Et2")


def test_future_reservations_wait() -> None:
    assert plan_actions(T0, [res(1, 5, 60, ["kn1"])], {}, TickPolicy()) == []


def test_all_teardowns_come_before_any_install_back_to_back() -> None:
    ending = res(1, -60, 0, ["kn1", "kn2"], installed=True)
    starting = res(2, 0, 60, ["kn1", "kn2"])
    installs = {
        1: Install(
            1,
            "r1",
            revision=1,
            nodes=("kn1", "kn2"),
            vlan=101,
            ports=("Et1", "Et2"),
            network=True,
            boot={"k": 1},
            complete=True,
        )
    }
    policy = TickPolicy(network=True, node_map=NODE_MAP, poweroffatend=True, power=True)
    plan = plan_actions(T0, [starting, ending], installs, policy)
    kinds = [a.step.teardown for a in plan]
    assert kinds == sorted(kinds, reverse=True)  # every teardown before every install
    assert steps(plan)[:4] == [("clear-vlan", 1), ("uninstall-boot", 1), ("power-off", 1), ("forget", 1)]
    assert steps(plan)[4:] == [("set-vlan", 2), ("install-boot", 2), ("complete", 2)]


def test_teardown_never_touches_nodes_or_ports_of_a_running_install() -> None:
    ending = res(1, -60, 0, ["kn1", "kn2"], installed=True)
    running = res(2, -5, 60, ["kn2"], installed=True)
    installs = {
        1: Install(1, "r1", 1, ("kn1", "kn2"), 101, ("Et1", "Et2"), True, {"k": 1}, complete=True),
        2: Install(2, "r2", 1, ("kn2",), 102, ("Et2",), True, {"k": 2}, complete=True),
    }
    plan = plan_actions(
        T0,
        [ending, running],
        installs,
        TickPolicy(network=True, node_map=NODE_MAP, poweroffatend=True, power=True),
    )
    clear = next(a for a in plan if a.step is Step.CLEAR_VLAN)
    off = next(a for a in plan if a.step is Step.POWER_OFF)
    assert clear.ports == ("Et1",)
    assert off.nodes == ("kn1",)


def test_completed_install_plans_nothing_and_edit_refreshes_boot() -> None:
    r = res(1, -5, 60, ["kn1"], installed=True)
    done = {1: Install(1, "r1", revision=1, nodes=("kn1",), boot={"k": 1}, complete=True)}
    assert plan_actions(T0, [r], done, TickPolicy()) == []
    edited = replace(r, revision=2)
    plan = plan_actions(T0, [edited], done, TickPolicy())
    assert steps(plan) == [("uninstall-boot", 1), ("install-boot", 1), ("complete", 1)]
    assert plan[0].refresh


def test_backoff_defers_retries() -> None:
    r = res(1, -5, 60, ["kn1"], installed=True)
    failing = {1: Install(1, "r1", error="boom", failures=1, retry_at=at(1))}
    assert plan_actions(T0, [r], failing, TickPolicy()) == []
    assert steps(plan_actions(at(1), [r], failing, TickPolicy())) == [("install-boot", 1), ("complete", 1)]


def test_ended_never_installed_reservation_expires() -> None:
    assert steps(plan_actions(T0, [res(1, -60, -1, ["kn1"])], {}, TickPolicy())) == [("expire", 1)]


# -------------------------------------------------------------------------------------- executing


class Harness:
    """A ticker over a memory store with recording fakes and a frozen clock."""

    def __init__(
        self, tmp_path: Path, *, network: bool = True, autoreboot: bool = False, files: bool = False
    ) -> None:
        self.store: MemoryStore | TinyStore = TinyStore(tmp_path / "state") if files else MemoryStore()
        self.clock = FrozenClock(T0)
        self.boot, self.power, self.switch = FakeBoot(), FakePower(), FakeSwitch()
        self.liveness = FakeLiveness(down={"kn8"})
        self.log = tmp_path / "log"
        self.ticker = Ticker(
            store=self.store,
            clock=self.clock,
            backends=Backends(self.boot, self.power, self.switch, self.liveness),
            policy=TickPolicy(
                network=network, node_map=NODE_MAP, autoreboot=autoreboot, power=True, poweroffatend=True
            ),
            naming=NAMING,
            content=ContentStore(str(tmp_path / "content")),
            events=EventLog(str(self.log)),
            resolve=lambda names: [
                NodeAddress(n, mac=f"52:54:00:00:00:{i:02x}") for i, n in enumerate(names)
            ],
            vlan_pool=(100, 110),
        )

    def add(self, start: int, end: int, nodes: Sequence[str], **kw: object) -> Reservation:
        with self.store.transaction() as tx:
            return tx.add_reservation(res(0, start, end, nodes, **kw))

    def installs(self) -> dict[int, Install]:
        with self.store.transaction() as tx:
            return read_installs(tx)


def test_tick_installs_then_second_run_does_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, autoreboot=True)
    r = h.add(-5, 60, ["kn1", "kn2"])
    report = h.ticker.run()
    assert report.failed == 0
    assert [o.action.step.value for o in report.outcomes] == [
        "set-vlan",
        "install-boot",
        "power-cycle",
        "complete",
    ]
    assert h.switch.vlans == {"Et1": 100, "Et2": 100}
    assert h.boot.booting == {"kn1": "igor-1", "kn2": "igor-1"}
    assert h.power.calls == [("cycle", ("kn1", "kn2"))]
    stored = h.store.snapshot().reservations[0]
    assert stored.installed and stored.vlan == 100 and not stored.error
    assert h.installs()[r.id].complete
    assert h.ticker.run().outcomes == []  # idempotent at the same instant
    assert report.probed == 8 and report.down == ["kn8"]
    assert h.store.snapshot().nodes["kn8"].state is NodeState.DOWN


def test_a_file_store_tick_plans_over_the_started_ones_and_still_meets_each_future_one_in_time(
    tmp_path: Path, cache_builds: list[int]
) -> None:
    """From the snapshot cache the tick builds only what it plans over (begun, ended or installed), yet
    every future reservation is installed at its start and torn down at its end, on time."""
    built = cache_builds
    h = Harness(tmp_path, files=True)
    for hour in range(12):  # back to back on kn1-kn2, then one later on kn3
        h.add(hour * 60 - 5, hour * 60 + 55, ["kn1", "kn2"])
    late = h.add(600, 660, ["kn3"])
    for hour in range(3):
        h.clock.set(at(hour * 60 - 5))
        h.store = h.ticker.store = TinyStore(tmp_path / "state")  # a new process: from the cache
        built.clear()
        report = h.ticker.run(probe=False)
        assert report.failed == 0
        # The planning transaction built the started ones still stored (the one before is archived
        # once torn down), not all 13.
        assert built[0] == min(hour + 1, 2)
        assert h.boot.booting == {"kn1": f"igor-{hour + 1}", "kn2": f"igor-{hour + 1}"}
        assert [i for i, inst in h.installs().items() if inst.complete] == [hour + 1]
    h.clock.set(at(600))
    report = h.ticker.run(probe=False)
    assert steps([o.action for o in report.outcomes if o.action.step.teardown]) == [
        ("clear-vlan", 3),
        ("uninstall-boot", 3),
        ("power-off", 3),
        ("forget", 3),
    ] + [("expire", i) for i in range(4, 11)]
    assert h.boot.booting["kn3"] == f"igor-{late.id}"
    assert h.installs()[late.id].complete and h.installs()[11].complete


def test_back_to_back_keeps_the_new_reservation(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(-30, 0, ["kn1", "kn2"])
    h.clock.set(at(-10))
    h.ticker.run()
    b = h.add(0, 60, ["kn1", "kn2"])
    h.clock.set(T0)
    report = h.ticker.run()
    assert report.failed == 0
    assert h.boot.booting == {"kn1": f"igor-{b.id}", "kn2": f"igor-{b.id}"}
    assert h.switch.vlans == {"Et1": 100, "Et2": 100} or set(h.switch.vlans) == {"Et1", "Et2"}
    assert [r.id for r in h.store.snapshot().reservations] == [b.id]  # the ended one is gone
    assert list(h.installs()) == [b.id]


def test_failure_is_recorded_retried_with_backoff_and_cleared(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(-5, 120, ["kn1"])
    other = h.add(-5, 120, ["kn3"])
    h.boot.fail = "tftp root not writable"
    report = h.ticker.run()
    assert report.failed == 2  # both fail, independently
    assert all("tftp root not writable" in r.error for r in h.store.snapshot().reservations)
    h.boot.fail = ""
    h.clock.advance(timedelta(seconds=30))
    assert h.ticker.run().outcomes == []  # backoff: 1 minute
    h.clock.advance(timedelta(minutes=1))
    report = h.ticker.run()
    assert report.failed == 0
    assert not any(r.error for r in h.store.snapshot().reservations)
    assert h.installs()[other.id].complete


def test_one_failing_reservation_does_not_block_others(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(-5, 60, ["kn1"])
    second = h.add(-5, 60, ["kn7"])
    calls = 0
    real = h.boot.install

    def flaky(spec: object) -> dict[str, object]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise __import__("igor_tui.errors").errors.BackendError("kn1: boom")
        return real(spec)  # type: ignore[arg-type]

    h.boot.install = flaky  # type: ignore[method-assign]
    report = h.ticker.run()
    assert report.failed == 1
    assert h.installs()[second.id].complete


def test_delete_of_installed_reservation_is_torn_down_by_next_tick(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    r = h.add(-5, 60, ["kn1"])
    h.ticker.run()
    with h.store.transaction() as tx:  # what IgorService.delete does for an installed reservation
        stored = tx.reservation(r.id)
        assert stored is not None
        tx.put_reservation(replace(stored, end=T0))
    report = h.ticker.run()
    assert [o.action.step.value for o in report.outcomes] == [
        "clear-vlan",
        "uninstall-boot",
        "power-off",
        "forget",
    ]
    assert h.boot.booting == {} and h.switch.vlans == {}
    assert h.power.state == {"kn1": "off"}
    assert h.store.snapshot().reservations == ()


def test_catch_up_after_downtime_is_reported(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ticker.run()
    h.add(-5, 30, ["kn1"])  # starts and ends while the tick is down
    h.add(20, 200, ["kn2"])
    h.clock.advance(timedelta(hours=1))
    report = h.ticker.run()
    assert report.caught_up_minutes == 60
    assert [o.action.step.value for o in report.outcomes] == [
        "expire",
        "set-vlan",
        "install-boot",
        "complete",
    ]


def test_dry_run_plans_without_acting(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(-5, 60, ["kn1"])
    report = h.ticker.run(dry_run=True)
    assert [a.step.value for a in report.planned] == ["set-vlan", "install-boot", "complete"]
    assert report.outcomes == [] and h.boot.calls == [] and h.switch.calls == []
    assert not h.store.snapshot().reservations[0].installed


def test_crash_after_install_before_record_is_undone_at_the_end(tmp_path: Path) -> None:
    """Pending markers: a tick killed between writing boot files and recording them leaks nothing."""
    h = Harness(tmp_path, network=False)
    r = h.add(-5, 30, ["kn1"])
    with h.store.transaction() as tx:
        from igor_tui.service.installs import write_installs

        tx.put_reservation(replace(r, installed=True))
        write_installs(tx, {r.id: Install(r.id, r.name, nodes=r.nodes, pending=InstallStage.BOOT)})
    h.boot.booting["kn1"] = f"igor-{r.id}"  # the backend did its work, then the tick was killed
    h.clock.advance(timedelta(minutes=40))
    report = h.ticker.run()
    assert report.failed == 0
    assert h.boot.booting == {}
    assert h.store.snapshot().reservations == ()


def test_vlans_allocated_lowest_free_and_never_shared(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    a = h.add(-5, 60, ["kn1"])
    b = h.add(-5, 60, ["kn2"])
    h.ticker.run()
    vlans = {r.id: r.vlan for r in h.store.snapshot().reservations}
    assert vlans == {a.id: 100, b.id: 101}


def test_every_action_is_logged(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.add(-5, 60, ["kn1"])
    h.ticker.run()
    import json

    lines = [json.loads(x) for x in h.log.read_text().splitlines()]
    assert [x["step"] for x in lines] == ["set-vlan", "install-boot", "complete"]
    assert all(x["event"] == "tick" and x["ok"] for x in lines)


@pytest.mark.parametrize("repeat", range(20))
def test_back_to_back_twenty_times(tmp_path: Path, repeat: int) -> None:
    """r1 ends exactly when r2 starts on the same nodes: after the tick r2 is in place, r1 is gone."""
    h = Harness(tmp_path / str(repeat))
    nodes = [f"kn{i}" for i in range(1 + repeat % 4, 5 + repeat % 4)]
    h.add(-60, 0, nodes)
    h.clock.set(at(-30))
    h.ticker.run()
    r2 = h.add(0, 60, nodes)
    h.clock.set(T0)
    h.ticker.run()
    assert h.boot.booting == {n: f"igor-{r2.id}" for n in nodes}
    assert set(h.switch.vlans) == {NODE_MAP[n] for n in nodes}
    assert [r.id for r in h.store.snapshot().reservations] == [r2.id]


def test_clearing_ports_keeps_the_boot_marker_of_an_interrupted_install(tmp_path: Path) -> None:
    """Regression: CLEAR_VLAN used to reset `pending`, losing the "boot" marker of an install killed
    mid-way; when the boot teardown then failed once, the retry only forgot the reservation."""
    from igor_tui.service.installs import write_installs

    h = Harness(tmp_path)
    r = h.add(-5, 30, ["kn1"])
    with h.store.transaction() as tx:
        tx.put_reservation(replace(r, installed=True, vlan=100))
        write_installs(tx, {r.id: Install(r.id, r.name, nodes=r.nodes, vlan=100, ports=("Et1",),
                                          network=True, pending=InstallStage.BOOT)})  # fmt: skip
    h.switch.vlans["Et1"] = 100
    h.boot.booting["kn1"] = f"igor-{r.id}"  # written by the killed install
    h.clock.advance(timedelta(minutes=40))
    h.boot.fail = "tftp root busy"
    report = h.ticker.run()
    assert [(o.action.step.value, o.ok) for o in report.outcomes] == [
        ("clear-vlan", True),
        ("uninstall-boot", False),
    ]
    assert h.installs()[r.id].pending == "boot"
    h.boot.fail = ""
    h.clock.advance(timedelta(minutes=2))
    report = h.ticker.run()
    assert [o.action.step.value for o in report.outcomes] == ["uninstall-boot", "power-off", "forget"]
    assert h.boot.booting == {} and h.switch.vlans == {}
    assert h.store.snapshot().reservations == ()


def test_a_step_whose_intent_is_already_recorded_commits_nothing_before_it_acts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMPLETE's begin has nothing new to record (the reservation is installed, its record there): it
    must not rewrite the store (two fsyncs and a full write at every size); install-boot's must (its
    pending marker is what a killed tick's successor undoes)."""
    h = Harness(tmp_path, network=False)
    h.add(-5, 60, ["kn1", "kn2"])
    events: list[str] = []
    write = h.store._write_payload
    act = Ticker._act

    def writing(payload: bytes) -> None:
        events.append("write")
        write(payload)

    def acting(self: Ticker, action: object, *rest: object) -> object:
        events.append(f"act {action.step.value}")  # type: ignore[attr-defined]
        return act(self, action, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(h.store, "_write_payload", writing)
    monkeypatch.setattr(Ticker, "_act", acting)
    report = h.ticker.run(probe=False)
    assert [o.action.step.value for o in report.outcomes] == ["install-boot", "complete"]
    at_boot = events.index("act install-boot")
    assert events[at_boot - 1] == "write"  # the pending marker, before the files
    assert events[at_boot + 1 :] == ["write", "act complete", "write"]  # boot's outcome; complete's
    assert h.installs()[1].complete and h.store.snapshot().reservations[0].installed
