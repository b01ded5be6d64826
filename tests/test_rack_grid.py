"""Pilot tests of the rack grid: cursor moves across racks, messages, glyphs, time travel, wrapping, clicks.

The grid is driven through a one-widget harness app at fixed terminal sizes, with a hand-built `ClusterView`
(520 nodes in 13 racks of 8x5, fixed aware UTC times), so nothing reads the clock or a real config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip

from igor_tui.hostlist import NodeNaming
from igor_tui.model import Block, ClusterView, NodeState, NodeStatus, Reservation
from igor_tui.widgets import palette
from igor_tui.widgets.rack_grid import RackGrid

pytestmark = pytest.mark.asyncio

NAMING = NodeNaming("kn", 1, 520)
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def kn(*numbers: int) -> tuple[str, ...]:
    return tuple(f"kn{n}" for n in numbers)


def make_view(user: str = "alice") -> ClusterView:
    """alice holds kn1-4 now; bob takes kn3-8 from T0+1h; carol holds rack 2's first row; kn30 is down and
    kn50 blocked."""
    reservations = (
        Reservation(1, "res1", "alice", T0 - HOUR, T0 + HOUR, kn(1, 2, 3, 4)),
        Reservation(2, "res2", "bob", T0 + HOUR, T0 + 3 * HOUR, kn(3, 4, 5, 6, 7, 8)),
        Reservation(3, "res3", "carol", T0 - HOUR, T0 + 2 * HOUR, kn(*range(41, 49))),
    )
    return ClusterView(
        now=T0,
        user=user,
        is_admin=False,
        nodes=NAMING.all(),
        reservations=reservations,
        blocks=(Block(1, kn(50), T0 - HOUR, None, reason="PSU"),),
        status={"kn30": NodeStatus("kn30", NodeState.DOWN)},
    )


class GridApp(App[None]):
    """One RackGrid, focused, showing `make_view()`; records every message the grid posts."""

    def __init__(self) -> None:
        super().__init__()
        self.selected_nodes: list[str] = []
        self.moved: list[str] = []
        self.marks: list[frozenset[str]] = []

    def compose(self) -> ComposeResult:
        yield RackGrid(NAMING, 8, 5, id="racks")

    def on_mount(self) -> None:
        grid = self.query_one(RackGrid)
        grid.show(make_view())
        grid.focus()

    def on_rack_grid_node_selected(self, message: RackGrid.NodeSelected) -> None:
        assert message.control is message.grid
        self.selected_nodes.append(message.node)

    def on_rack_grid_cursor_moved(self, message: RackGrid.CursorMoved) -> None:
        self.moved.append(message.node)

    def on_rack_grid_marked_changed(self, message: RackGrid.MarkedChanged) -> None:
        self.marks.append(message.nodes)


def cell_strip(grid: RackGrid, node: str) -> Strip:
    """The node's cell exactly as the visible line draws it (so the node must be scrolled into view)."""
    region = grid.cell_region(node)
    line = grid.render_line(region.y - grid.scroll_offset.y)
    return line.crop(region.x - grid.scroll_offset.x, region.right - grid.scroll_offset.x)


def cell_style(grid: RackGrid, node: str) -> Style:
    styles = {segment.style for segment in cell_strip(grid, node)}
    assert len(styles) == 1, f"{node} cell has mixed styles {styles}"
    style = styles.pop()
    assert style is not None
    return style


def line_of(grid: RackGrid, node: str) -> str:
    return grid.render_line(grid.cell_region(node).y - grid.scroll_offset.y).text


def count_builds(grid: RackGrid) -> list[int]:
    """From now on, the content lines the grid (re)builds, in order: what a change really repaints."""
    built: list[int] = []
    build = grid._build_line

    def counting(y: int) -> Strip:
        built.append(y)
        return build(y)

    grid._build_line = counting  # type: ignore[method-assign]
    return built


async def test_keys_move_across_rack_boundaries() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        assert grid.cursor_node == "kn1"
        await pilot.press(*["right"] * 7)
        assert grid.cursor_node == "kn8"
        await pilot.press("right")  # off rack 1's right edge into rack 2, same row
        assert grid.cursor_node == "kn41"
        await pilot.press("h")
        assert grid.cursor_node == "kn8"
        await pilot.press("j", "down", "down", "down")
        assert grid.cursor_node == "kn40"
        await pilot.press("down")  # off rack 1's bottom into rack 4 (the next band at 120 columns)
        assert grid.cursor_node == "kn128"
        await pilot.press("k")
        assert grid.cursor_node == "kn40"
        await pilot.press("end")
        assert grid.cursor_node == "kn520"
        await pilot.press("right", "l")  # nothing right of the last rack: stays
        assert grid.cursor_node == "kn520"
        await pilot.press(*["left"] * 7, "up")  # kn513 -> kn505, within rack 13
        assert grid.cursor_node == "kn505"
        await pilot.press("up", "up", "up", "up")  # past rack 13's top row into rack 10's bottom row
        assert grid.cursor_node == "kn393"
        await pilot.press("home")
        assert grid.cursor_node == "kn1"
        assert app.moved[:3] == ["kn2", "kn3", "kn4"]
        assert app.moved[-1] == "kn1"


@pytest.mark.parametrize(("columns", "per_row"), [(80, 2), (112, 3), (120, 3), (150, 4)])
async def test_racks_wrap_to_the_width(columns: int, per_row: int) -> None:
    """2 racks side by side in an 80-column terminal, 3 at ~110 and 120; the cursor follows the wrap."""
    app = GridApp()
    async with app.run_test(size=(columns, 30)) as pilot:
        grid = app.query_one(RackGrid)
        title = grid.render_line(0).text
        for rack in range(1, per_row + 1):
            assert f"rack {rack} " in title
        assert f"rack {per_row + 1} " not in title
        bands = -(-13 // per_row)
        assert grid.virtual_size.height == bands * 7 - 1
        grid.move_cursor_to("kn48")  # last column of rack 2
        await pilot.press("right")
        assert grid.cursor_node == ("kn48" if per_row == 2 else "kn81")


async def test_enter_posts_node_selected() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "enter")
        assert app.selected_nodes == ["kn2"]


async def test_space_toggles_marks_and_posts_marked_changed() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        await pilot.press("space", "right", "space")
        assert grid.marked == {"kn1", "kn2"}
        assert app.marks == [frozenset(kn(1)), frozenset(kn(1, 2))]
        assert "  1•" in line_of(grid, "kn1")  # marked beats mine
        await pilot.press("left", "space")
        assert grid.marked == {"kn2"}
        assert app.marks[-1] == {"kn2"}
        assert "  1*" in line_of(grid, "kn1")
        assert grid.cursor_node == "kn1"
        grid.clear_marks()
        await pilot.pause()
        assert grid.marked == frozenset()
        assert app.marks[-1] == frozenset()


async def test_glyphs_for_down_blocked_mine_and_free() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        assert " 30✗" in line_of(grid, "kn30")
        assert " 50▒" in line_of(grid, "kn50")
        assert "  4*" in line_of(grid, "kn4")  # alice's own reservation
        assert " 41·" in line_of(grid, "kn41")  # carol's: the held glyph and her colour
        assert "  5 " in line_of(grid, "kn5")  # free: no glyph
        assert "rack 1  35/40 free" in grid.render_line(0).text  # 4 held, 1 down
        grid.marked = frozenset(kn(30, 50))  # down and blocked outrank marked
        await pilot.pause()
        assert " 30✗" in line_of(grid, "kn30")
        assert " 50▒" in line_of(grid, "kn50")
        assert cell_style(grid, "kn30").bgcolor == palette.DOWN_STYLE.bgcolor
        assert app.marks == []  # setting the attribute is the screen's doing: no message back


async def test_show_at_a_later_time_recolours_nodes() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        grid.move_cursor_to("kn10")
        await pilot.pause()
        blue = palette.reservation_style(1, True).bgcolor
        magenta = palette.reservation_style(2).bgcolor
        assert cell_style(grid, "kn3").bgcolor == blue
        assert cell_style(grid, "kn3").underline  # mine: also underlined
        assert cell_style(grid, "kn6").bgcolor != magenta
        grid.show(make_view(), at=T0 + 90 * timedelta(minutes=1))
        await pilot.pause()
        assert cell_style(grid, "kn3").bgcolor == magenta
        assert cell_style(grid, "kn6").bgcolor == magenta
        assert cell_style(grid, "kn1").bgcolor != blue  # res1 has ended by then
        assert "  3·" in line_of(grid, "kn3")  # bob's, not alice's: the held glyph, not the mine glyph
        assert grid.moment is not None and grid.moment.state("kn1") == "free"
        assert grid.cursor_node == "kn10"  # a new time never moves the cursor


async def test_click_moves_cursor_and_click_on_cursor_selects() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        region = grid.cell_region("kn45")
        offset = (region.x + 1, region.y - grid.scroll_offset.y)
        await pilot.click(RackGrid, offset=offset)
        assert grid.cursor_node == "kn45"
        assert app.selected_nodes == []
        await pilot.click(RackGrid, offset=offset)
        assert app.selected_nodes == ["kn45"]
        await pilot.click(RackGrid, offset=(region.x, 0))  # a rack title: nothing happens
        assert grid.cursor_node == "kn45"


async def test_selected_and_preview_render_without_moving_cursor() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        grid.move_cursor_to("kn5")
        grid.selected = frozenset(kn(41, 42))
        grid.preview = frozenset(kn(100, 101))
        await pilot.pause()
        assert grid.cursor_node == "kn5"
        assert cell_style(grid, "kn41").reverse and cell_style(grid, "kn41").bold
        assert not cell_style(grid, "kn43").reverse
        assert "100░101░" in line_of(grid, "kn100")
        assert cell_style(grid, "kn100").bgcolor == palette.PREVIEW_STYLE.bgcolor
        grid.selected = frozenset()
        await pilot.pause()
        assert not cell_style(grid, "kn41").reverse


async def test_cursor_is_visible_with_and_without_focus_and_inside_a_selection() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        await pilot.press("down")  # kn9: free, so only the cursor styles it
        focused = cell_style(grid, "kn9")
        assert focused.reverse and focused.bold and focused.underline
        app.set_focus(None)
        await pilot.pause()
        blurred = cell_style(grid, "kn9")
        assert blurred.reverse and blurred.dim and not blurred.underline
        grid.focus()
        grid.selected = frozenset(kn(9, 10))
        await pilot.pause()
        # On a reversed (selected) cell the cursor un-reverses, so it still stands out without colour.
        assert not cell_style(grid, "kn9").reverse
        assert cell_style(grid, "kn9").underline
        assert cell_style(grid, "kn10").reverse


async def test_cursor_move_rebuilds_only_the_two_lines_it_touches() -> None:
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        await pilot.pause()  # let mount, focus and the first full paint settle
        built = count_builds(grid)
        await pilot.press("right")  # kn1 -> kn2, both on line 1
        assert built == [1]
        built.clear()
        await pilot.press("down")  # kn2 -> kn10: line 1 and line 2
        assert sorted(built) == [1, 2]
        built.clear()
        grid.marked = frozenset(kn(300))
        await pilot.pause()
        assert built == [grid.cell_region("kn300").y]


async def test_time_step_rebuilds_only_the_lines_that_change() -> None:
    """A time-cursor step repaints the cells whose holder changes and their rack's title, not the grid:
    at T0+90m res1 has ended (kn1-2 free, kn3-4 bob's) and res2 holds kn3-8, all on rack 1's first row;
    carol's res3 and the down and blocked nodes look the same."""
    app = GridApp()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(RackGrid)
        await pilot.pause()
        built = count_builds(grid)
        grid.show(make_view(), at=T0 + 90 * timedelta(minutes=1))
        await pilot.pause()
        assert sorted(built) == [0, 1]  # rack 1's title and its first row
        assert grid.render_line(0).text.startswith("rack 1  33/40 free")  # was 35: kn3-8 held, kn30 down
        built.clear()
        grid.show(make_view(), at=T0 + 100 * timedelta(minutes=1))  # nothing changes hands: no repaint
        await pilot.pause()
        assert built == []


async def test_cursor_scrolls_into_view_on_a_small_terminal() -> None:
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(RackGrid)
        await pilot.press("end")
        y = grid.cell_region("kn520").y
        top = grid.scroll_offset.y
        assert top > 0
        assert top <= y < top + grid.scrollable_content_region.height
        assert " 520" in grid.render_line(y - top).text
        await pilot.press("home")
        assert grid.scroll_offset.y == 0
