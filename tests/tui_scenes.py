"""The TUI's main screens as reproducible scenes: used by the SVG snapshot tests and by
`make screenshots` (scripts/make_screenshots.py), so the README's pictures are the tested ones.

Each scene drives the real app on the frozen demo cluster with keys, then waits for every worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.pilot import Pilot
from textual.widgets import Input
from tui_rig import no_blink, settle, wait_for

from igor_tui.screens.speculate import SpeculateScreen

Steps = Callable[[Pilot[None]], Awaitable[None]]


async def _dashboard(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("down", "down", "right", "right")  # the cursor on a node of alice's kernel-ci
    await settle(pilot)


async def _submit_error(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    pilot.app.screen.query_one("#f-name", Input).value = "my demo!"
    pilot.app.screen.query_one("#f-nodes", Input).value = "64"
    pilot.app.screen.query_one("#f-duration", Input).value = "30h"
    pilot.app.screen.query_one("#f-kernel", Input).value = "/nonexistent/vmlinuz"
    await settle(pilot, rounds=5)


async def _speculation(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#f-nodes", Input).value = "200"
    screen.query_one("#f-duration", Input).value = "3h"
    await settle(pilot)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SpeculateScreen))
    await pilot.press("down")
    await settle(pilot)


async def _timeline_day(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("t")
    for _ in range(10):
        await pilot.press("right")
    await settle(pilot)


async def _help(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    size: tuple[int, int]
    steps: Steps
    shows: str

    async def run(self, pilot: Pilot[None]) -> None:
        await self.steps(pilot)
        no_blink(pilot.app)  # type: ignore[arg-type]
        await pilot.pause()


SCENES: tuple[Scene, ...] = (
    Scene("dashboard-120x40", (120, 40), _dashboard, "racks, reservation table and day timeline at once"),
    Scene("dashboard-80x24", (80, 24), _dashboard, "the 80x24 layout: tabs, one panel, summary line"),
    Scene("submit-error", (120, 40), _submit_error, "the submit form with inline errors"),
    Scene("speculation", (120, 40), _speculation, "speculation options, the second previewed"),
    Scene("timeline-day", (120, 40), _timeline_day, "time cursor 10 h ahead: racks redrawn for then"),
    Scene("help", (120, 40), _help, "the help screen listing every binding"),
)
SCENE = {scene.name: scene for scene in SCENES}
