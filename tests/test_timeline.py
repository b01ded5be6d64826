"""Pilot tests of the timeline widget: bars land on the right rows and columns, markers where times map,
keys move the cursor and zoom, and messages go up.

Expected columns are derived here from first principles (label column of 8, chart = widget width - 8,
linear in time) rather than through the widget's own mapping helpers, so a wrong mapping fails the tests.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.strip import Strip

from igor_tui.hostlist import NodeNaming
from igor_tui.model import Block, ClusterView, NodeState, NodeStatus, Reservation, Slot
from igor_tui.widgets.palette import PREVIEW_GLYPH, reservation_style
from igor_tui.widgets.timeline import Timeline
from igor_tui.widgets.timeline_layout import Item, pack_lanes

BERLIN = ZoneInfo("Europe/Berlin")
NAMING = NodeNaming("kn", 1, 520)
BASE = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # a Monday; 12:00 in Berlin (CEST, UTC+2)
NOW = BASE + timedelta(minutes=7)  # off-step on purpose: the cursor must snap
LABEL = 8
RACKS = 13  # 520 nodes in racks of 8 x 5


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def res(res_id: int, name: str, owner: str, start: datetime, end: datetime, *nodes: str) -> Reservation:
    return Reservation(id=res_id, name=name, owner=owner, start=start, end=end, nodes=nodes)


ALPHA = res(1, "alpha", "alice", BASE - hours(1), BASE + hours(2), "kn1", "kn2")
BETA = res(2, "beta", "bob", BASE + hours(0.5), BASE + hours(3), "kn3")  # overlaps alpha in rack 1
GAMMA = res(3, "gamma", "bob", BASE + hours(1), BASE + hours(2), "kn41")  # rack 2
LONG = res(4, "longrun", "carol", BASE - hours(30), BASE + hours(40), "kn100")


def make_view(*reservations: Reservation, now: datetime = NOW) -> ClusterView:
    return ClusterView(
        now=now,
        user="alice",
        is_admin=False,
        nodes=NAMING.all(),
        reservations=reservations or (ALPHA, BETA, GAMMA, LONG),
        blocks=(Block(9, ("kn5",), BASE + hours(4), BASE + hours(5), reason="fan"),),
        status={"kn6": NodeStatus("kn6", NodeState.DOWN)},
    )


class Harness(App[None]):
    """One Timeline filling the screen; records the messages it posts and whether Escape got past it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app_escape", "Back")]

    def __init__(self, tz: ZoneInfo = BERLIN) -> None:
        super().__init__()
        self.tz = tz
        self.cursor_moves: list[datetime | None] = []
        self.zooms: list[str] = []
        self.clicked: list[int] = []
        self.app_escapes = 0

    def compose(self) -> ComposeResult:
        yield Timeline(NAMING, 8, 5, self.tz, id="timeline")

    def on_mount(self) -> None:
        timeline = self.query_one(Timeline)
        timeline.show(make_view())
        timeline.focus()

    def on_timeline_cursor_moved(self, message: Timeline.CursorMoved) -> None:
        self.cursor_moves.append(message.at)

    def on_timeline_zoom_changed(self, message: Timeline.ZoomChanged) -> None:
        self.zooms.append(message.zoom)

    def on_timeline_reservation_clicked(self, message: Timeline.ReservationClicked) -> None:
        self.clicked.append(message.res_id)

    def action_app_escape(self) -> None:
        self.app_escapes += 1


def expected_col(timeline: Timeline, when: datetime) -> int:
    """Widget column of `when`: label column, then chart columns linear in time from origin."""
    width = timeline.scrollable_content_region.width - LABEL  # less a vertical scrollbar
    seconds = (when - timeline.origin).total_seconds()
    return LABEL + math.floor(seconds * width / timeline.span.total_seconds())


def style_at(strip: Strip, x: int) -> Style:
    position = 0
    for segment in strip:
        if position <= x < position + len(segment.text):
            assert segment.style is not None
            return segment.style
        position += len(segment.text)
    raise IndexError(x)


def line(timeline: Timeline, content_line: int) -> str:
    """Text of a content line (0 = first row) at the current scroll, below the sticky header."""
    return timeline.render_line(content_line - timeline.scroll_offset.y + 1).text


async def zoom_to_hours(timeline: Timeline, origin: datetime) -> None:
    timeline.zoom = "hours"
    timeline.origin = origin
    timeline.scroll_to(y=0, animate=False, immediate=True)


# ---------------------------------------------------------------------------------------------- layout


@pytest.mark.asyncio
async def test_first_view_puts_now_a_sixth_in_and_racks_as_rows() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        timeline = app.query_one(Timeline)
        assert timeline.zoom == "day"
        assert timeline.origin == (NOW - hours(4)).replace(second=0)  # 24 h / 6 before now
        assert timeline.row_mode == "racks"
        assert line(timeline, 0).startswith("rack 1✗ ")  # kn6 is down
        assert line(timeline, 2).startswith("rack 2 ")


@pytest.mark.asyncio
async def test_bar_name_on_its_node_rows_at_its_columns() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        await pilot.pause()
        start = expected_col(timeline, ALPHA.start)
        end = expected_col(timeline, ALPHA.end)
        assert start == LABEL  # alpha starts exactly at the window's left edge
        for row in (0, 1):  # kn1, kn2
            text = line(timeline, row)
            assert text.startswith(f"kn{row + 1}")
            assert text[start + 1 : start + 6] == "alpha"
            bar = style_at(timeline.render_line(row + 1), start + 2)
            assert bar.bgcolor == reservation_style(ALPHA.id).bgcolor
            assert style_at(timeline.render_line(row + 1), end).bgcolor != bar.bgcolor  # bar ends there
            assert style_at(timeline.render_line(row + 1), end - 1).bgcolor == bar.bgcolor
        assert "alpha" not in line(timeline, 2)
        beta_col = expected_col(timeline, BETA.start)
        assert line(timeline, 2)[beta_col + 1 : beta_col + 5] == "beta"  # kn3


@pytest.mark.asyncio
async def test_continuation_glyphs_and_blocks_and_down_nodes() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE + hours(3.5))
        await pilot.pause()
        block = line(timeline, 4)  # kn5: maintenance 14:00-15:00 UTC, dim hatching
        assert block[expected_col(timeline, BASE + hours(4)) + 1] == "▒"
        assert "✗kn6" in line(timeline, 5)
        timeline.scroll_to(y=99, animate=False, immediate=True)
        await pilot.pause()
        long = line(timeline, 99)  # kn100: runs from yesterday to tomorrow
        assert long.startswith("kn100")
        assert long[LABEL] == "◀"
        assert long.rstrip()[-1] == "▶"
        assert "longrun" in long


@pytest.mark.asyncio
async def test_now_marker_column_on_every_row() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        await pilot.pause()
        col = expected_col(timeline, NOW)
        assert col == LABEL + math.floor(67 * 60 * (timeline.size.width - LABEL) / (6 * 3600))
        for row in range(10, 30):
            text = line(timeline, row)
            assert text[col] == "┊", row
            assert text.count("┊") == 1


@pytest.mark.asyncio
async def test_overlapping_reservations_in_one_rack_take_two_lanes() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        timeline = app.query_one(Timeline)
        assert line(timeline, 0).startswith("rack 1")
        assert line(timeline, 1)[:LABEL].strip() == ""  # second lane of rack 1
        assert line(timeline, 2).startswith("rack 2")
        lanes = [line(timeline, 0), line(timeline, 1)]
        assert sum("alpha" in lane for lane in lanes) == 1
        assert sum("beta" in lane for lane in lanes) == 1
        assert "gamma" in line(timeline, 2)
        assert timeline.line_count == RACKS + 1


def test_lane_packing_reuses_a_lane_once_it_is_free() -> None:
    items = [Item(0, 0, 10), Item(0, 5, 15), Item(0, 10, 20), Item(0, 16, 30)]
    lanes = pack_lanes(items)
    assert [[(i.start, i.end) for i in lane] for lane in lanes] == [[(0, 10), (10, 20)], [(5, 15), (16, 30)]]


# ---------------------------------------------------------------------------------------------- header


@pytest.mark.asyncio
async def test_day_header_labels_hours_in_the_display_zone() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        timeline = app.query_one(Timeline)
        header = timeline.render_line(0).text
        assert header.startswith("day")
        nine_berlin = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
        col = expected_col(timeline, nine_berlin)
        assert header[col : col + 5] == "09:00"
        midnight = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)  # Tue 2 June 00:00 in Berlin
        col = expected_col(timeline, midnight)
        assert header[col : col + 10] == "Tue Jun 02"  # a day, never "Tue 02" beside 03:00


@pytest.mark.asyncio
async def test_utc_zone_moves_the_labels() -> None:
    """Same instant, other zone: the 09:00 label sits two hours later on the chart."""
    app = Harness(tz=ZoneInfo("UTC"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        timeline = app.query_one(Timeline)
        header = timeline.render_line(0).text
        col = expected_col(timeline, datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
        assert header[col : col + 5] == "09:00"


@pytest.mark.asyncio
async def test_header_stays_on_top_when_rows_scroll() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        await pilot.pause()
        await pilot.press("down", "down", "j")
        assert timeline.scroll_offset.y == 3
        assert timeline.render_line(0).text.startswith("hours")
        assert timeline.render_line(1).text.startswith("kn4 ")
        await pilot.press("k")
        assert timeline.render_line(1).text.startswith("kn3 ")
        await pilot.press("pagedown")
        assert timeline.scroll_offset.y == 2 + 38


# ---------------------------------------------------------------------------------------------- cursor


@pytest.mark.asyncio
async def test_t_turns_the_cursor_on_snapped_and_right_steps() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await pilot.press("t")
        await pilot.pause()
        assert timeline.cursor_time == BASE  # 10:07 rounded to the day zoom's 1 h step
        assert app.cursor_moves == [BASE]
        header = timeline.render_line(0).text
        assert "│Mon Jun 01 12:00" in header  # cursor time in Berlin
        col = expected_col(timeline, BASE)
        assert line(timeline, 5)[col] == "│"
        await pilot.press("right")
        await pilot.pause()
        assert app.cursor_moves == [BASE, BASE + hours(1)]
        await pilot.press("left", "h")
        await pilot.pause()
        assert app.cursor_moves[-1] == BASE - hours(1)


@pytest.mark.asyncio
async def test_cursor_step_follows_zoom() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await pilot.press("plus", "t", "l")
        await pilot.pause()
        assert timeline.zoom == "hours"
        assert app.cursor_moves == [BASE, BASE + timedelta(minutes=15)]
        timeline.cursor_time = BASE + timedelta(minutes=20)
        await pilot.press("right")
        assert timeline.cursor_time == BASE + timedelta(minutes=30)  # snaps to the next whole step


@pytest.mark.asyncio
async def test_escape_turns_the_cursor_off_and_otherwise_bubbles() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await pilot.press("t")
        await pilot.press("escape")
        await pilot.pause()
        assert timeline.cursor_time is None
        assert app.cursor_moves == [BASE, None]
        assert app.app_escapes == 0
        assert "│" not in timeline.render_line(0).text
        await pilot.press("escape")
        await pilot.pause()
        assert app.app_escapes == 1  # not swallowed while the cursor is off


@pytest.mark.asyncio
async def test_moving_without_cursor_scrolls_time() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        origin = timeline.origin
        await pilot.press("right")
        assert timeline.origin == origin + hours(4)  # 4 steps of 1 h
        await pilot.press("shift+left")
        assert timeline.origin == origin + hours(4) - hours(12)
        assert app.cursor_moves == []


@pytest.mark.asyncio
async def test_cursor_walking_off_the_chart_scrolls_it_back_into_view() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await pilot.press("t", *["right"] * 24)
        await pilot.pause()
        cursor = timeline.cursor_time
        assert cursor == BASE + hours(24)
        assert timeline.origin <= cursor < timeline.origin + timeline.span


# ---------------------------------------------------------------------------------------------- zoom


@pytest.mark.asyncio
async def test_zoom_keys_switch_rows_between_nodes_and_racks() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await pilot.press("plus")
        await pilot.pause()
        assert timeline.zoom == "hours"
        assert timeline.line_count == 520
        assert line(timeline, 0).startswith("kn1 ")
        await pilot.press("plus")  # already closest: no change
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert timeline.zoom == "week"
        assert timeline.line_count == RACKS + 1
        await pilot.press("minus")
        await pilot.press("equals_sign")
        await pilot.pause()
        assert app.zooms == ["hours", "day", "week", "day"]
        assert timeline.span == hours(24)


@pytest.mark.asyncio
async def test_zoom_keeps_the_cursor_in_view() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.cursor_time = BASE + hours(18)
        await pilot.press("plus")
        await pilot.pause()
        assert timeline.origin <= BASE + hours(18) < timeline.origin + hours(6)
        assert "│" in line(timeline, 0)


@pytest.mark.asyncio
async def test_zoom_in_keeps_the_same_nodes_at_the_top() -> None:
    app = Harness()
    async with app.run_test(size=(120, 8)) as pilot:  # short, so the 14 rack lines scroll
        timeline = app.query_one(Timeline)
        await pilot.press("down", "down")  # rack 1 has two lanes: line 2 is rack 2
        assert line(timeline, timeline.scroll_offset.y).startswith("rack 2 ")
        await pilot.press("plus")
        await pilot.pause()
        assert line(timeline, timeline.scroll_offset.y).startswith("kn41 ")


# ---------------------------------------------------------------------------------------------- data in


@pytest.mark.asyncio
async def test_preview_is_drawn_hatched_on_its_rows() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        timeline.preview = Slot(BASE + hours(3), BASE + hours(4), ("kn7", "kn8"), 12)
        await pilot.pause()
        start = expected_col(timeline, BASE + hours(3))
        end = expected_col(timeline, BASE + hours(4))
        for row in (6, 7):
            text = line(timeline, row)
            assert text[start:end] == PREVIEW_GLYPH * (end - start)
        assert PREVIEW_GLYPH not in line(timeline, 8)
        timeline.preview = None
        await pilot.pause()
        assert PREVIEW_GLYPH not in line(timeline, 6)


@pytest.mark.asyncio
async def test_preview_on_rack_rows() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.preview = Slot(BASE + hours(1), BASE + hours(2), ("kn50",), 3)  # rack 2, gamma's time
        await pilot.pause()
        assert line(timeline, 2).startswith("rack 2")
        assert "gamma" in line(timeline, 2)
        assert PREVIEW_GLYPH in line(timeline, 3)  # its own lane: gamma holds the first one then
        assert line(timeline, 4).startswith("rack 3")


@pytest.mark.asyncio
async def test_selected_reservation_is_emphasised_without_colour() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        await pilot.pause()
        col = LABEL + 3
        before = style_at(timeline.render_line(1), col)
        assert not before.reverse
        timeline.selected_id = ALPHA.id
        await pilot.pause()
        strip = timeline.render_line(1)
        after = style_at(strip, col)
        assert after.reverse and after.bold
        assert strip.text[LABEL] == "▐"
        assert not style_at(timeline.render_line(3), expected_col(timeline, BETA.start) + 2).reverse


@pytest.mark.asyncio
async def test_show_keeps_window_and_scroll() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        await pilot.press("pagedown")
        origin, scroll = timeline.origin, timeline.scroll_offset.y
        timeline.show(make_view(ALPHA, now=NOW + hours(1)))
        await pilot.pause()
        assert (timeline.origin, timeline.scroll_offset.y) == (origin, scroll)
        assert "beta" not in line(timeline, 2)


# ---------------------------------------------------------------------------------------------- mouse


@pytest.mark.asyncio
async def test_click_on_bar_posts_reservation_and_elsewhere_sets_cursor() -> None:
    app = Harness()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        await zoom_to_hours(timeline, BASE - hours(1))
        await pilot.pause()
        await pilot.click(Timeline, offset=(LABEL + 3, 1))  # kn1, inside alpha
        await pilot.pause()
        assert app.clicked == [ALPHA.id]
        assert app.cursor_moves == []
        x = expected_col(timeline, BASE + hours(4))
        await pilot.click(Timeline, offset=(x, 20))  # an empty row
        await pilot.pause()
        assert app.clicked == [ALPHA.id]
        assert app.cursor_moves == [BASE + hours(4)]
