"""SVG snapshot tests of the main screens (pytest-textual-snapshot; textual is pinned exactly).

Each docstring says what the picture must show; a human checked each accepted SVG against it.
Update after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`, then look.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tui_rig import demo_app, demo_cluster
from tui_scenes import SCENE

pytestmark = [pytest.mark.snapshot, pytest.mark.slow]

SnapCompare = Callable[..., bool]


def _compare(snap_compare: SnapCompare, tmp_path: Path, name: str) -> bool:
    scene = SCENE[name]
    app = demo_app(demo_cluster(tmp_path / "demo"))
    run_before: Any = scene.run
    return snap_compare(app, terminal_size=scene.size, run_before=run_before)


def test_dashboard_wide(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """120×40: the header names the demo cluster, alice, 08:00 UTC and "viewing: NOW" with 4 down;
    13 racks of 8×5 in two columns (rack 1 with alice's kernel-ci cells marked *, kn30 red with ✗),
    the cursor on kn19; the table lists 15 reservations with kernel-ci selected and its summary under
    it; the day timeline shows rack rows with labelled bars and the ┊ now line; the footer shows keys."""
    assert _compare(snap_compare, tmp_path, "dashboard-120x40")


def test_dashboard_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """80×24: the tab line (1 Racks highlighted), two racks side by side with numbers readable, the
    one-line summary of the selected reservation above the footer; nothing essential cut off."""
    assert _compare(snap_compare, tmp_path, "dashboard-80x24")


def test_submit_form_inline_errors(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The New reservation form over the dashboard: under Name the service's sentence about the
    invalid name 'my demo!', under Kernel "no such file", next to Duration "max 12h for 64 node(s)"
    and under it "max 12h0m for 64 nodes, you asked 30h"; the keys line at the bottom."""
    assert _compare(snap_compare, tmp_path, "submit-error")


def test_speculation_list(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """'When can I get 200 nodes for 3h?': up to 10 options with start, end, free count and nodes,
    the second highlighted; above, the racks and timeline show its nodes hatched with ░."""
    assert _compare(snap_compare, tmp_path, "speculation")


def test_timeline_time_cursor_day(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """Day zoom with the time cursor 10 h ahead (│ in the timeline, its time in the header); the
    header reads "viewing: Mon Jun 01 18:00" and the racks are coloured by who holds them then
    (alice's nightly)."""
    assert _compare(snap_compare, tmp_path, "timeline-day")


def test_help_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The help screen: grouped bindings (Everywhere, Racks, Reservations table, Timeline, Submit form,
    Speculation list, Reservation detail) and the glyph legend."""
    assert _compare(snap_compare, tmp_path, "help")
