"""Shared rig for the TUI's pilot, snapshot and smoke tests: the demo cluster on a frozen clock.

Nothing here reads the user's real config: every cluster is built under the test's tmp_path, and the
clock is frozen so screens are reproducible to the character.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled

from igor_tui.app import IgorApp
from igor_tui.demo import DemoCluster, build_demo
from igor_tui.screens.dashboard import DashboardScreen

FROZEN_NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def demo_cluster(root: Path, *, timezone: str = "UTC") -> DemoCluster:
    return build_demo(root, now=FROZEN_NOW, timezone=timezone)


def demo_app(cluster: DemoCluster, user: str = "alice", *, refresh: float = 0.2) -> IgorApp:
    return IgorApp(cluster.service(user), refresh_seconds=refresh, title="DEMO kn[1-520]")


def dashboard(app: IgorApp) -> DashboardScreen:
    for screen in app.screen_stack:
        if isinstance(screen, DashboardScreen):
            return screen
    raise AssertionError("the dashboard is not on the screen stack")


async def settle(pilot: Pilot[None], rounds: int = 3) -> None:
    """Let workers finish and their messages land (each round: a short pause, then idle)."""
    for _ in range(rounds):
        await pilot.pause(0.05)
        # An exclusive worker (the refresh) replaced by a newer one counts as cancelled, and waiting on
        # it raises; the newer one is waited for in the next round.
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def wait_for(pilot: Pilot[None], predicate: object, timeout: float = 3.0) -> None:
    """Poll until `predicate()` holds (worker results arrive asynchronously)."""
    import time

    assert callable(predicate)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        await pilot.pause(0.05)
    assert predicate(), "condition not reached in time"


async def book_planned(pilot: Pilot[None]) -> None:
    """On the booking form: wait for its plan, press Enter, and wait for the form to close (booked)."""
    from igor_tui.screens.submit import SubmitScreen

    form = pilot.app.screen
    await wait_for(pilot, lambda: "Plan:" in str(form.query_one("#plan").render()))
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, SubmitScreen))


def no_blink(app: IgorApp) -> None:
    """Snapshots must not depend on where a blinking cursor was when the picture was taken."""
    for box in app.screen.query(Input):
        box.cursor_blink = False


def book_behind(
    cluster: DemoCluster, user: str, name: str, nodes: str, duration: str, after: str = ""
) -> None:
    """`user` books `nodes` behind the app's back, as another igor process would."""
    from igor_tui.service import SubmitRequest

    cluster.service(user).submit(
        SubmitRequest(
            name=name,
            kernel=str(cluster.root / "vmlinuz"),
            initrd=str(cluster.root / "initrd.img"),
            nodes=nodes,
            duration=duration,
            after=after,
        )
    )
