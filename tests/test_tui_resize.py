"""Pilot tests of the reservation detail's Nodes dialog (add N or named nodes, drop nodes) and the healed
line, on the frozen demo cluster (issue 15, parts 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_findings import open_on, stored, toasts
from textual.widgets import Button, Input, Static
from tui_rig import demo_app, demo_cluster, settle, wait_for

from igor_tui.demo import DemoCluster
from igor_tui.screens.details import ReservationScreen
from igor_tui.screens.resize import ResizeScreen
from igor_tui.values import replace

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> DemoCluster:
    return demo_cluster(tmp_path / "demo")


async def open_nodes_dialog(pilot: object) -> None:
    """kernel-ci's detail (Enter on its row), then `n`: the Nodes dialog is up."""
    app = pilot.app  # type: ignore[attr-defined]
    await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
    await pilot.press("n")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, ResizeScreen))  # type: ignore[arg-type]


async def test_add_two_nodes_from_the_detail(cluster: DemoCluster) -> None:
    before = stored(cluster, "kernel-ci")
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_nodes_dialog(pilot)
        assert isinstance(app.screen.focused, Button) and app.screen.focused.id == "resize-go"
        await pilot.press("2")  # on a button: typed into nothing
        await settle(pilot)
        box = app.screen.query_one("#resize-add", Input)
        assert box.value == ""
        await pilot.press("a", "2", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ResizeScreen))
    after = stored(cluster, "kernel-ci")
    assert len(after.nodes) == len(before.nodes) + 2 and set(before.nodes) < set(after.nodes)
    assert (after.start, after.end) == (before.start, before.end)


async def test_a_refusal_shows_the_sentence_and_changes_nothing(cluster: DemoCluster) -> None:
    before = stored(cluster, "kernel-ci")
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_nodes_dialog(pilot)
        await pilot.press("a", *"kn41", "enter")  # bob's mpi-bench holds kn41
        error = app.screen.query_one("#resize-error", Static)
        await wait_for(pilot, lambda: "held by mpi-bench" in str(error.render()))
        assert isinstance(app.screen, ResizeScreen)
        text = str(error.render())
        assert "cannot add to kernel-ci: kn41 is held by mpi-bench (bob) until" in text
        assert any("kn41 is held by mpi-bench" in t for t in toasts(app))
        await pilot.press("escape", "x", *before.nodes[0], "escape")  # drop field, then back out of it
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ReservationScreen))
    assert stored(cluster, "kernel-ci").nodes == before.nodes


async def test_drop_a_node_and_the_detail_shows_a_heal(cluster: DemoCluster) -> None:
    before = stored(cluster, "kernel-ci")
    svc = cluster.service("ops")
    with svc.store.transaction() as tx:  # what igor-tick's heal leaves on a reservation
        tx.put_reservation(replace(before, healed=("kn3 (down) -> kn500",)))
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        lines = str(app.screen.query_one("#res-lines", Static).render())
        assert "healed  kn3 (down) -> kn500" in lines
        assert "flags AWIH" in lines or "flags AWH" in lines
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ResizeScreen))
        await pilot.press("x", *before.nodes[-1], "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ResizeScreen))
    assert stored(cluster, "kernel-ci").nodes == before.nodes[:-1]
