"""The TUI's main screens as reproducible scenes: used by the SVG snapshot tests and by
`make screenshots` (scripts/make_screenshots.py), so the README's pictures are the tested ones.

Each scene drives the real app on the frozen demo cluster with keys, then waits for every worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input
from tui_rig import no_blink, settle, wait_for

from igor_tui.screens.details import ExtendScreen, ReservationScreen
from igor_tui.screens.resize import ResizeScreen
from igor_tui.screens.speculate import SpeculateScreen
from igor_tui.widgets.reservation_table import ReservationTable

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


async def _time_cursor_80(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("t", "right", "right")
    await settle(pilot)


async def _past(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("t", *["left"] * 6)  # 02:00, six hours ago: gpu-old, hpl-warmup just ended
    await settle(pilot)
    await pilot.pause(0.3)
    await settle(pilot)


async def _detail(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("2")
    table = pilot.app.screen.query_one(ReservationTable)
    table.select_reservation(next(r.id for r in table.listed if r.name == "kernel-ci"))
    await settle(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReservationScreen))
    await settle(pilot)


async def _extend(pilot: Pilot[None]) -> None:
    await _detail(pilot)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExtendScreen))
    await wait_for(pilot, lambda: "ends" in str(pilot.app.screen.query_one("#extend-info").render()))
    await settle(pilot)


async def _nodes(pilot: Pilot[None]) -> None:
    await _detail(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResizeScreen))
    screen = pilot.app.screen
    svc = pilot.app.service  # type: ignore[attr-defined]
    held = next(r for r in svc.view().reservations if r.name == "mpi-bench")
    screen.query_one("#resize-add", Input).value = held.nodes[0]  # bob's: refused, and the dialog says why
    await pilot.press("enter")
    await wait_for(pilot, lambda: "✗" in str(screen.query_one("#resize-error").render()))
    await settle(pilot)


async def _late_plan(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    screen = pilot.app.screen
    svc = pilot.app.service  # type: ignore[attr-defined]
    ceph = next(r for r in svc.view().reservations if r.name == "ceph-lab")
    screen.query_one("#f-name", Input).value = "late"
    screen.query_one("#f-nodes", Input).value = svc.naming.compress(ceph.nodes[:4])
    screen.query_one("#f-duration", Input).value = "2h"
    await wait_for(pilot, lambda: "not now" in str(screen.query_one("#plan").render()))
    await settle(pilot)


async def _plan_moved(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    screen = pilot.app.screen
    app = pilot.app
    root = app.service.config.statedir.rsplit("/", 1)[0]  # type: ignore[attr-defined]  # the demo's root
    for field, text in {"name": "mine", "kernel": f"{root}/vmlinuz", "initrd": f"{root}/initrd.img"}.items():
        screen.query_one(f"#f-{field}", Input).value = text
    screen.query_one("#f-nodes", Input).value = "4"
    await wait_for(pilot, lambda: "(4 node(s))" in str(screen.query_one("#plan").render()))
    await settle(pilot)
    service = app.service  # type: ignore[attr-defined]
    slot = service.plan(screen.request()).slot  # type: ignore[attr-defined]
    # Meanwhile the plan's first node is booked from elsewhere (another terminal, another igor).
    service.submit(replace(screen.request(), name="theirs", nodes=slot.nodes[0], count=0, duration="2h"))  # type: ignore[attr-defined]
    await pilot.press("enter")
    await wait_for(pilot, lambda: "schedule changed" in str(screen.query_one("#form-error").render()))
    shown = f"on {service.naming.compress(slot.nodes)} "
    await wait_for(pilot, lambda: shown not in str(screen.query_one("#plan").render()))  # the new plan
    await settle(pilot)


async def _legend(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("L")
    await settle(pilot)


async def _empty_filter(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("slash", "z", "z", "z")
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
    Scene("help", (120, 40), _help, "the help screen: legend, then every binding in columns"),
    Scene("time-cursor-80x24", (80, 24), _time_cursor_80, "80x24 with the time cursor 2 h ahead"),
    Scene("past", (120, 40), _past, "the time cursor 6 h back: ended reservations, dimmed"),
    Scene("detail", (120, 40), _detail, "the detail dialog of alice's kernel-ci, focus on Close"),
    Scene("extend", (120, 40), _extend, "the extend dialog: how far and why, focus on Extend"),
    Scene("nodes", (120, 40), _nodes, "the detail's Nodes dialog: adding a node bob holds is refused"),
    Scene("submit-late-plan", (120, 40), _late_plan, "the form's plan: not now, and why"),
    Scene("submit-plan-moved", (120, 40), _plan_moved, "Enter on a plan another booking just took"),
    Scene("legend", (120, 40), _legend, "the legend panel (L)"),
    Scene("empty-filter", (120, 40), _empty_filter, "a filter that matches nothing says so"),
)
SCENE = {scene.name: scene for scene in SCENES}


def scene_root(name: str) -> Path:
    """Where a scene's demo cluster lives: a fixed path (emptied first), because the detail dialog
    prints the boot files' paths and a picture must not change with pytest's numbered tmp dirs."""
    root = Path(tempfile.gettempdir()) / "igor-tui-scenes" / name
    shutil.rmtree(root, ignore_errors=True)
    return root / "demo"


@contextlib.contextmanager
def scene_lock(name: str) -> Iterator[Path]:
    """`scene_root(name)`, held exclusively until the block ends. The path is fixed and machine-wide, so
    two sessions (or xdist workers) drawing the same scene would empty and fill one directory at once:
    a picture then showed the other's half-built cluster ("a reservation named mpi-bench already exists")."""
    base = Path(tempfile.gettempdir()) / "igor-tui-scenes"
    base.mkdir(exist_ok=True)
    with (base / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield scene_root(name)
