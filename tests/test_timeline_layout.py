"""The timeline's layout without Textual: lines and lanes, bar columns in a window, names that fit,
header labels that never collide, and cursor steps on the display zone's wall clock.

Plain function calls on hand-built values; a subprocess checks the module loads without Textual.
"""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from igor_tui.model import Block, ClusterView, Reservation, Slot
from igor_tui.widgets.timeline_layout import (
    BLOCK,
    CURSOR,
    CURSOR_GLYPH,
    FILL,
    MORE_LEFT,
    MORE_RIGHT,
    NOW,
    NOW_GLYPH,
    PLAIN,
    RES,
    TEXT,
    Bar,
    Item,
    Line,
    Rows,
    build_lines,
    fitted_name,
    header_cells,
    paint_bar,
    snap,
    window_bars,
)

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
NODES = tuple(f"kn{n}" for n in range(1, 9))


def res(rid: int, name: str, start: datetime, end: datetime, *nodes: str) -> Reservation:
    return Reservation(rid, name, "alice", start, end, nodes)


def view(*reservations: Reservation, blocks: tuple[Block, ...] = ()) -> ClusterView:
    return ClusterView(T0, "alice", False, NODES, reservations, blocks)


def test_module_loads_without_textual() -> None:
    code = "import sys, igor_tui.widgets.timeline_layout; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_rack_rows_pack_overlaps_into_lanes_and_place_the_preview_where_it_fits() -> None:
    """Two racks of 4: rack 1 has two overlapping reservations (two lanes); rack 2 one reservation and a
    preview after it, which shares its lane; a down node marks its rack's first line only."""
    a = res(1, "a", T0, T0 + 2 * HOUR, "kn1")
    b = res(2, "b", T0 + HOUR, T0 + 3 * HOUR, "kn2")
    c = res(3, "c", T0, T0 + HOUR, "kn5")
    preview = Slot(T0 + 2 * HOUR, T0 + 4 * HOUR, ("kn6",), free=4)
    lines = build_lines(view(a, b, c), NODES, {"kn3"}, preview, Rows("day", 2, 2))
    assert [line.label for line in lines] == ["rack 1✗", "", "rack 2"]
    assert [line.down for line in lines] == [True, False, False]
    assert [[i.res.name if i.res else i.kind for i in line.items] for line in lines[:2]] == [["a"], ["b"]]
    assert [i.kind for i in lines[2].items] == [RES, 2]  # c, then the preview in the same lane


def test_node_rows_list_each_node_with_its_items_in_start_order() -> None:
    late = res(1, "late", T0 + 2 * HOUR, T0 + 3 * HOUR, "kn1")
    early = res(2, "early", T0, T0 + HOUR, "kn1")
    block = Block(1, ("kn1",), T0 - HOUR, None)
    lines = build_lines(view(late, early, blocks=(block,)), NODES, set(), None, Rows("hours", 2, 2))
    assert [line.label for line in lines] == list(NODES)
    kinds = [(i.kind, i.res.name if i.res else "") for i in lines[0].items]
    assert kinds == [(BLOCK, ""), (RES, "early"), (RES, "late")]
    assert lines[0].items[0].end == math.inf


def test_window_bars_mark_what_continues_past_either_edge_and_skip_what_is_outside() -> None:
    """A 24-column window of 24 h: one column an hour."""
    origin = T0.timestamp()
    items = (
        Item(RES, origin - 3600, origin + 2 * 3600),  # started before the window
        Item(BLOCK, origin + 20 * 3600, math.inf),  # never ends
        Item(RES, origin + 3 * 3600, origin + 4 * 3600),  # inside
        Item(RES, origin - 9 * 3600, origin - 3600),  # over before the window
    )
    bars = window_bars([Line("rack 1", False, items, NODES)], origin, 24 * 3600.0, 24)
    assert [(bar.c0, bar.c1) for bar in bars[0]] == [(-1, 2), (20, 25), (3, 4)]


def test_paint_bar_draws_arrows_edges_and_the_name_that_fits() -> None:
    width = 20
    reservation = res(1, "storage", T0, T0 + HOUR, "kn1")
    chars, cells = [" "] * width, [0] * width
    covered = paint_bar(
        Bar(-1, 12, Item(RES, 0, 1, reservation)), chars, cells, width, fill=" ", selected=True
    )
    assert covered == (0, 12)
    text = "".join(chars)
    assert text.startswith(MORE_LEFT + " storage") and text[11] == "▌"  # continues left; selected edge
    assert cells[2:9] == [TEXT] * 7 and cells[0] == FILL and cells[12] == 0
    chars, cells = [" "] * width, [0] * width
    paint_bar(Bar(15, 25, Item(RES, 0, 1, reservation)), chars, cells, width, fill=" ", selected=False)
    assert "".join(chars)[15:] == "sto…" + MORE_RIGHT  # continues right: name shortened to fit


def test_fitted_name_pads_shortens_or_gives_up() -> None:
    assert fitted_name("hpl", 10) == " hpl"
    assert fitted_name("hpl", 3) == "hpl"
    assert fitted_name("storage", 5) == "stor…"
    assert fitted_name("storage", 3) == ""


def test_header_labels_never_collide_and_the_now_mark_takes_only_a_blank_column() -> None:
    """The cursor's label wins; a tick label touching it is dropped; the now mark inside a label is not
    drawn (it would split the label), beside one it is."""
    chars, kinds = header_cells(40, (10, "Mon 12:00"), [(0, "09:00"), (18, "12:00"), (30, "15:00")], 2)
    text = "".join(chars)
    assert text.startswith("09:00") and CURSOR_GLYPH + "Mon 12:00" in text
    assert "12:00 " not in text[18:]  # the 12:00 tick would touch the cursor's label
    assert text[30:35] == "15:00"
    assert NOW_GLYPH not in text and set(kinds[10:20]) == {CURSOR}
    chars, kinds = header_cells(40, None, [(0, "09:00")], 6)
    assert chars[6] == NOW_GLYPH and kinds[6] == NOW and kinds[0] == PLAIN


def test_snap_lands_on_the_display_zones_whole_steps() -> None:
    """Six-hour steps in UTC+05:30 land on local 00/06/12/18, not on UTC's."""
    zone = timezone(timedelta(hours=5, minutes=30))
    when = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # 08:30 local
    six = timedelta(hours=6)
    assert snap(when, six, zone, "floor").astimezone(zone).hour == 6
    assert snap(when, six, zone, "ceil").astimezone(zone).hour == 12
    assert snap(when, six, zone, "round").astimezone(zone).hour == 6
    assert snap(when, HOUR, UTC, "round") == when
