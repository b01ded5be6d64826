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
from tui_scenes import SCENE, scene_lock

pytestmark = [pytest.mark.snapshot, pytest.mark.slow]

SnapCompare = Callable[..., bool]


def _compare(snap_compare: SnapCompare, tmp_path: Path, name: str) -> bool:
    scene = SCENE[name]
    with scene_lock(name) as root:
        app = demo_app(demo_cluster(root))
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
    """The help screen: the legend on top, then the grouped bindings (Everywhere, Racks, Reservations
    table, Timeline, Submit form, Speculation list, Reservation detail) in three columns; keys spelled
    Ctrl+P, Esc, Space."""
    assert _compare(snap_compare, tmp_path, "help")


def test_time_cursor_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """80×24 with the time cursor 2 h ahead: the top line starts with "viewing: Mon Jun 01 10:00" whole;
    the timeline tab shows now in its left part and the cursor's label clear of the tick labels; the
    footer ends with ? Help and q Quit."""
    assert _compare(snap_compare, tmp_path, "time-cursor-80x24")


def test_past(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The time cursor 6 h back: "viewing: Mon Jun 01 02:00 (past)"; the racks coloured by who held the
    nodes then (mpi-old, hpl-warmup, gpu-old from the log); their bars dimmed on the timeline."""
    assert _compare(snap_compare, tmp_path, "past")


def test_detail_dialog(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """kernel-ci's detail: times as HH:MM (today) with "(started 50m ago)" / "(1h10m left)", the zone
    once, the kernel-args field unlit (focus on the Close button), the buttons Extend, Power, Delete."""
    assert _compare(snap_compare, tmp_path, "detail")


def test_extend_dialog(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """e in kernel-ci's detail: the extend dialog over it says when kernel-ci ends, how far it can be
    extended and what is in the way; "By how long" with the field unlit holding 1h, and the buttons
    Extend (Enter), lit as focused, and Cancel (Esc)."""
    assert _compare(snap_compare, tmp_path, "extend")


def test_nodes_dialog(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """n in kernel-ci's detail: the Nodes dialog says what it holds until when, the Add field holds a node
    of bob's mpi-bench, and under it the refusal in red: that node is held by mpi-bench (bob) until ..."""
    assert _compare(snap_compare, tmp_path, "nodes")


def test_submit_late_plan(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The form with four of ceph-lab's nodes: "Plan: 20:02 → 22:02 UTC on kn[161-164]" and the line
    "! not now: kn[161-164] are free now but ceph-lab takes kn161 at 08:02; earliest fit: 20:02"."""
    assert _compare(snap_compare, tmp_path, "submit-late-plan")


def test_submit_plan_moved(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """Enter on a 4-node plan whose first node was booked from elsewhere meanwhile: the form stays open,
    nothing was booked, the red line under it says "the schedule changed since this plan was shown;
    nothing was booked: it would now be ... on ..." and "Enter books it", and the plan line shows that
    new plan (other nodes)."""
    assert _compare(snap_compare, tmp_path, "submit-plan-moved")


def test_legend(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """L: the legend panel above the footer (racks, timeline, flags, left), entries wrapped to the width."""
    assert _compare(snap_compare, tmp_path, "legend")


def test_empty_filter(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """/zzz: the table's title reads "Reservations (0 of 15 match 'zzz')" and the line under it says
    "no reservation matches 'zzz' (Esc clears the filter)"."""
    assert _compare(snap_compare, tmp_path, "empty-filter")
