"""Pilot test: a host policy's unavailability window appears on the TUI's timeline and racks like a block."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tui_rig import FROZEN_NOW, dashboard, demo_app, demo_cluster, settle, wait_for

from igor_tui.screens.details import NodeScreen
from igor_tui.service import policies
from igor_tui.widgets.palette import BLOCKED_GLYPH
from igor_tui.widgets.rack_grid import RackGrid
from igor_tui.widgets.timeline import Timeline

pytestmark = pytest.mark.slow


async def test_a_policy_window_is_drawn_on_the_timeline_and_marks_the_rack(tmp_path: Path) -> None:
    cluster = demo_cluster(tmp_path / "demo")  # frozen at 08:00 UTC on Mon Jun 01 2026, zone UTC
    admin = cluster.service("ops")
    node = next(n for n in admin.nodes[::-1] if not any(n in r.nodes for r in admin.view().reservations))
    policies.add(admin, "maint", node, unavailable=["0 10 * * *:2h", "0 7 * * *:2h"])  # 07-09, 10-12
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        timeline = dashboard(app).query_one(Timeline)
        timeline.zoom = "hours"
        timeline.origin = FROZEN_NOW
        row = admin.nodes.index(node)
        timeline.scroll_to(y=row, animate=False, immediate=True)
        await settle(pilot)
        text = timeline.render_line(row - timeline.scroll_offset.y + 1).text
        assert text.startswith(node)
        cols = [x for x in range(len(text)) if text[x] == BLOCKED_GLYPH]
        assert cols, text
        assert timeline.time_at_column(cols[0]) < FROZEN_NOW + timedelta(hours=1)  # 07-09 is in force
        inside = [timeline.time_at_column(x) for x in cols]
        gap_start, gap_end = FROZEN_NOW + timedelta(hours=1, minutes=5), FROZEN_NOW + timedelta(hours=2)
        assert not [t for t in inside if gap_start <= t < gap_end]  # 09:00-10:00 is free
        assert [t for t in inside if FROZEN_NOW + timedelta(hours=2) <= t < FROZEN_NOW + timedelta(hours=4)]
        moment = dashboard(app).query_one(RackGrid).moment
        assert moment is not None and node in moment.blocked  # the rack cell is # while the window is on


async def test_the_node_detail_names_its_policy_and_next_window(tmp_path: Path) -> None:
    """Enter on a node under a policy: who may book it, for how long, and when nobody may."""
    cluster = demo_cluster(tmp_path / "demo")  # 08:00 UTC
    admin = cluster.service("ops")
    node = next(n for n in admin.nodes[::-1] if not any(n in r.nodes for r in admin.view().reservations))
    policies.add(admin, "maint", node, maxtime="4h", unavailable=["0 10 * * *:2h"])
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dashboard(app).jump_to_node(node)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NodeScreen))
        text = str(app.screen.query_one("#node-detail Static").render())
        assert "policy: maint (anyone, at most 4h)" in text
        assert "unavailable: 10:00 → 12:00" in text
