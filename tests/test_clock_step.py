"""A wall clock stepped forward loses nothing: the real igor-tick, run under libfaketime with only the wall
clock stepped (CLOCK_BOOTTIME stays real, which the test checks first), holds every teardown and expiry
and says why on every run, until the clock comes back, an admin runs `igor tick --accept-clock-step`, or
the machine has rebooted since the last run (a new boot id).

Before, one tick a day ahead tore down the running reservations and deleted the future ones for good."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Cluster, ClusterFactory
from fault_rig import book, check_only_wall_clock_steps, listed, stepped, tick, tick_site
from test_service import ServiceFactory, files, make, sub

from igor_tui.clockstep import Baseline, ClockGuard
from igor_tui.service import build_service

__all__ = ["files", "make"]  # fixtures

pytestmark = pytest.mark.real  # needs libfaketime; IGOR_REQUIRE_REAL=1 fails the skip

DAY = "+1d"


def pxe_files(cluster: Cluster) -> set[str]:
    return {p.name for p in (cluster.tftproot / "pxelinux.cfg").iterdir() if not p.name.startswith(".")}


@pytest.fixture
def site(make_cluster: ClusterFactory) -> tuple[Cluster, list[str]]:
    """Two running reservations (installed by a tick at the real time) and two starting in three hours."""
    cluster = tick_site(make_cluster)
    names = book(cluster, running=2, future=2, after="+3h")  # all of them "ended" a day ahead
    check_only_wall_clock_steps(stepped(cluster.env(None), DAY), 86400)
    tick(cluster, check=0)
    assert (cluster.statedir / "tick.clock").is_file(), "the first tick records its baseline"
    return cluster, names


def test_a_day_ahead_holds_every_teardown_and_expiry(site: tuple[Cluster, list[str]]) -> None:
    cluster, names = site
    installed = pxe_files(cluster)
    assert len(installed) == 4  # by MAC and by IP for each of the two nodes
    ahead = stepped(cluster.env(None), DAY)
    for _ in range(2):  # says why on every run
        held = tick(cluster, env=ahead, check=1)
        assert "HOLD  the wall clock jumped 14" in held.stdout, held.stdout
        assert "'igor tick --accept-clock-step'" in held.stdout
        assert held.stdout.count("held  ") == 6, held.stdout  # 2 x (boot files, release), 2 expiries
        assert pxe_files(cluster) == installed
    data = json.loads(tick(cluster, "--json", env=ahead, check=1).stdout)
    assert data["clock"]["held"] is True and "accept-clock-step" in data["clock"]["reason"]
    assert {a["reservation"] for a in data["clock"]["held_actions"]} == set(names)
    assert data["actions"] == []
    events = [e for e in cluster.log_events() if e["event"] == "clock-step"]
    assert len(events) == 3 and "jumped" in events[0]["reason"]

    back = tick(cluster, check=0)  # the clock came back: nothing was lost
    assert "HOLD" not in back.stdout
    assert listed(cluster) == set(names)
    assert pxe_files(cluster) == installed


def test_an_admin_accepts_the_step(site: tuple[Cluster, list[str]]) -> None:
    cluster, names = site
    ahead = stepped(cluster.env(None), DAY)
    tick(cluster, env=ahead, check=1)
    denied = cluster.run("tick", "--accept-clock-step", user="alice")
    assert denied.returncode == 1
    assert denied.stderr == "igor: only admins and the igor service user may run igor-tick\n"
    accepted = tick(cluster, "--accept-clock-step", env=ahead, check=0)
    assert "clock step accepted" in accepted.stdout
    assert [e["by"] for e in cluster.log_events() if e["event"] == "clock-step-accepted"] == ["root"]
    assert pxe_files(cluster) == set()
    assert listed(cluster) == set()
    for name in names:  # archived, not destroyed
        assert "ARCHIVED" in cluster.run("history", name, check=0).stdout
    assert "HOLD" not in tick(cluster, env=ahead, check=0).stdout  # the new time is the baseline now


def test_after_a_reboot_the_tick_proceeds(site: tuple[Cluster, list[str]]) -> None:
    """The baseline's boot id is not this boot's: the last run was before a reboot, boottime restarted,
    and there is nothing to compare the wall clock with."""
    cluster, _ = site
    state = cluster.statedir / "tick.clock"
    data = json.loads(state.read_text())
    data["boot_id"] = "00000000-0000-0000-0000-000000000000"
    state.write_text(json.dumps(data))
    proc = tick(cluster, env=stepped(cluster.env(None), DAY), check=0)
    assert "HOLD" not in proc.stdout
    assert pxe_files(cluster) == set()
    assert json.loads(state.read_text())["boot_id"] != "00000000-0000-0000-0000-000000000000"


def boot_source(value: list[str]) -> Callable[[], str]:
    return lambda: value[0]


def test_the_boot_id_source_is_injected_through_the_service_factory(make_cluster: ClusterFactory) -> None:
    cluster = tick_site(make_cluster)
    book(cluster, running=1, future=0)
    boot = ["boot-a"]
    config, env = str(cluster.config_path), cluster.env(None)
    tick_now = build_service(config, env, boot_id=boot_source(boot)).tick
    tick_now()
    state = json.loads((cluster.statedir / "tick.clock").read_text())
    assert state["boot_id"] == "boot-a"
    # Make the last run look a day and a half older by the wall clock than boottime says it was.
    state["wall"] = (datetime.fromisoformat(state["wall"]) - timedelta(hours=36)).isoformat()
    (cluster.statedir / "tick.clock").write_text(json.dumps(state))
    report = build_service(config, env, boot_id=boot_source(boot)).tick()
    assert report.clock.held and report.outcomes == []
    boot[0] = "boot-b"  # rebooted since
    report = build_service(config, env, boot_id=boot_source(boot)).tick()
    assert not report.clock.held


def test_guard_thresholds(tmp_path: Path) -> None:
    wall = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    boottime = [1000.0]
    guard = ClockGuard(str(tmp_path / "tick.clock"), 10, boot_id=lambda: "b", boottime=lambda: boottime[0])
    assert not guard.check(wall).held  # no baseline yet
    guard.accept(wall)
    assert guard.baseline() == Baseline(wall=wall, boottime=1000.0, boot_id="b")
    boottime[0] += 60
    assert not guard.check(wall + timedelta(minutes=11)).held  # 10 minutes ahead of boottime: allowed
    verdict = guard.check(wall + timedelta(minutes=12))
    assert verdict.held and verdict.trusted == wall + timedelta(minutes=1)
    guard.settle(wall + timedelta(minutes=12), verdict)
    assert guard.baseline() == Baseline(wall=wall, boottime=1000.0, boot_id="b"), "a held run keeps it"
    assert not guard.check(wall - timedelta(hours=5)).held, "a jump back ends nothing early"


def test_a_booking_under_a_stepped_clock_expires_nothing(make: ServiceFactory, files: dict[str, str]) -> None:
    """Every writer's housekeeping drops ended reservations; under a held step it leaves them."""
    svc = make("alice")
    svc.submit(sub(svc, files, "soon", count=1, duration="1h", after="+2h"))
    state = Path(svc.config.statedir)
    state.mkdir(parents=True, exist_ok=True)
    guard = ClockGuard(str(state / "tick.clock"), 10, boot_id=lambda: "b", boottime=lambda: 5000.0)
    guard.accept(svc.clock.now())
    svc.clock_guard = guard
    svc.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]  # boottime did not move
    svc.submit(sub(svc, files, "other", count=1))
    assert {r.name for r in svc.view().reservations} >= {"other"}
    assert [r.name for r in svc.store.snapshot().reservations] == ["soon", "other"]
    assert svc.archived("soon") == []
    svc.clock_guard = None  # no guard (or the clock accepted): the ended one is archived as before
    svc.submit(sub(svc, files, "third", count=1))
    assert [e.why for e in svc.archived("soon")] == ["expired"]


def test_restore_goes_by_the_real_clock_while_a_step_is_held(
    make: ServiceFactory, files: dict[str, str]
) -> None:
    """The wall clock says the window has passed; the trusted clock (boottime) says it has not."""
    alice, admin = make("alice"), make("olga")
    res = alice.submit(sub(alice, files, "oops", nodes="kn4", duration="2h"))
    alice.delete("oops")
    state = Path(admin.config.statedir)
    state.mkdir(parents=True, exist_ok=True)
    guard = ClockGuard(str(state / "tick.clock"), 10, boot_id=lambda: "b", boottime=lambda: 5000.0)
    guard.accept(admin.clock.now())
    admin.clock_guard = guard
    admin.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    assert admin.restore("oops") == res


def test_held_teardowns_keep_their_nodes_from_new_installs() -> None:
    """While held, an install due by the trusted time runs, unless a held teardown still owns a node."""
    from igor_tui.clockstep import hold_destructive
    from igor_tui.model import Install
    from igor_tui.tickplan import Action, Step

    installs = {1: Install(res_id=1, name="old", nodes=("kn1", "kn2"), complete=True)}
    teardown = [Action(Step.UNINSTALL_BOOT, 1, "old", nodes=("kn1", "kn2")), Action(Step.FORGET, 1, "old")]
    on_kn2 = [Action(Step.INSTALL_BOOT, 2, "next", nodes=("kn2", "kn3")), Action(Step.COMPLETE, 2, "next")]
    elsewhere = [Action(Step.INSTALL_BOOT, 3, "free", nodes=("kn4",)), Action(Step.COMPLETE, 3, "free")]
    keep, held = hold_destructive(teardown + on_kn2 + elsewhere, installs)
    assert keep == elsewhere
    assert held == teardown + on_kn2
