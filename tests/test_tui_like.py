"""Booking again like a reservation from the TUI (`igor sub --like` in the detail dialog, issue 15 part 7):
`b` opens the booking form filled in from it, its boot files reused by content hash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from test_tui_findings import open_on, stored, toasts
from textual.widgets import Input
from tui_rig import book_planned, demo_app, demo_cluster, settle, wait_for

from igor_tui.demo import DemoCluster
from igor_tui.screens.details import ReservationScreen
from igor_tui.screens.submit import SubmitScreen

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> DemoCluster:
    return demo_cluster(tmp_path / "demo")


async def test_again_opens_the_form_like_it_and_books_its_boot_files(cluster: DemoCluster) -> None:
    source = stored(cluster, "kernel-ci")  # alice's
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        form = app.screen
        value = {f: form.query_one(f"#f-{f}", Input).value for f in ("kernel", "initrd", "nodes", "duration")}
        minutes = int(source.duration.total_seconds() // 60)
        assert value == {
            "kernel": "",
            "initrd": "",
            "nodes": str(len(source.nodes)),
            "duration": f"{minutes}m",
        }
        assert form.query_one("#f-kernel_args", Input).value == source.kernel_args
        note = form.query_one("#n-kernel")
        await wait_for(pilot, lambda: "kernel-ci's copy" in str(note.render()))
        form.query_one("#f-name", Input).value = "again"
        await book_planned(pilot)
        await settle(pilot)
    booked = stored(cluster, "again")
    assert (booked.kernel_hash, booked.initrd_hash) == (source.kernel_hash, source.initrd_hash)
    assert (len(booked.nodes), booked.duration, booked.owner) == (len(source.nodes), source.duration, "alice")


async def test_again_on_someone_elses_reservation_is_refused(cluster: DemoCluster) -> None:
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on(pilot, "hpl", "enter", ReservationScreen)  # carol's
        await pilot.press("b")
        refusal = "permission denied: hpl belongs to carol"
        await wait_for(pilot, lambda: any(refusal in t for t in toasts(app)))
        assert isinstance(app.screen, ReservationScreen)


async def test_the_detail_shows_what_the_hooks_did(cluster: DemoCluster) -> None:
    """With on_start/on_end configured, the detail lists this reservation's hook runs from its history
    (a failed one in red); other reservations' runs are not its."""
    site = replace(cluster, config=replace(cluster.config, on_start=("/usr/bin/true",)))
    svc = site.service("alice")
    source = stored(site, "kernel-ci")
    other = stored(site, "hpl")
    now = svc.now()
    svc.events.append(
        now,
        "hook",
        by="igor-tick",
        id=source.id,
        name="kernel-ci",
        hook="start",
        ok=False,
        result="exit 3",
        output="no such image",
    )
    svc.events.append(
        now,
        "hook",
        by="igor-tick",
        id=other.id,
        name="hpl",
        hook="start",
        ok=True,
        result="exit 0",
        output="",
    )
    app = demo_app(site)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        hooks = app.screen.query_one("#res-hooks")
        await wait_for(pilot, lambda: "on_start exit 3" in str(hooks.render()))
        assert "exit 0" not in str(hooks.render())
