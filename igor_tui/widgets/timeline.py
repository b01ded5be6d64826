"""The timeline panel: a Gantt chart of reservations over nodes (zoomed in) or racks (zoomed out).

Built on the Line API (`ScrollView.render_line`), like Textual's DataTable and Log, so 520 nodes and a
thousand reservations scroll without building a widget per bar. Work is split by how often it changes:

* rows and lanes (which item sits on which line) change only with the view, the zoom's row mode or the
  preview, so they are rebuilt then and never while scrolling;
* bar column ranges depend on the window (origin, width, zoom) and are recomputed once per change;
* a `Strip` per line is built on first paint and cached until anything drawn on it changes.

Time runs left to right from `origin`; line 0 is a sticky header with tick labels in the display zone,
drawn at the top whatever the vertical scroll, so the content lines scroll underneath it.

Attributes go down (the screen calls `show()` and sets `zoom`, `cursor_time`, `selected_id`, `preview`);
messages go up (`CursorMoved`, `ZoomChanged`, `ReservationClicked`). The widget never looks at siblings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from igor_tui.dates import day_text, when_text
from igor_tui.hostlist import NodeNaming
from igor_tui.model import ClusterView, NodeState, Reservation, Slot
from igor_tui.viewstate import racks
from igor_tui.widgets.palette import (
    BLOCKED_GLYPH,
    DOWN_GLYPH,
    DOWN_STYLE,
    PREVIEW_GLYPH,
    PREVIEW_STYLE,
    reservation_style,
)

ZOOMS: Final = ("hours", "day", "week")
"""Zoom levels from closest to widest; `+` moves left in this tuple, `-` right."""

SPANS: Final = {"hours": timedelta(hours=6), "day": timedelta(hours=24), "week": timedelta(days=7)}
"""Time across the chart width per zoom."""

STEPS: Final = {"hours": timedelta(minutes=15), "day": timedelta(hours=1), "week": timedelta(hours=6)}
"""Cursor step per zoom; scrolling without a cursor moves by four steps."""

_TICK_MINUTES: Final = {"hours": 60, "day": 180, "week": 1440}
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # locale-independent, like timeparse
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER: Final = timedelta(minutes=15)
_MIN_LABEL: Final = 8
_MIN_NAME: Final = 4  # narrower bars show only their colour: "r…" helps nobody

NOW_GLYPH: Final = "┊"
CURSOR_GLYPH: Final = "│"
MORE_LEFT: Final = "◀"
MORE_RIGHT: Final = "▶"
SELECTED_LEFT: Final = "▐"
SELECTED_RIGHT: Final = "▌"

_RES: Final = 0
_BLOCK: Final = 1
_PREVIEW: Final = 2

_BLANK: Final = 0  # what a chart cell holds, so markers know what they may overwrite
_FILL: Final = 1
_TEXT: Final = 2


def _ts(when: datetime) -> float:
    return when.timestamp()


@dataclass(frozen=True, slots=True)
class _Item:
    """One thing drawn on a line: a reservation, a maintenance block or the previewed slot.

    Times are epoch seconds so the per-window column pass is plain float arithmetic; `end` is +inf for a
    block without an end.
    """

    kind: int
    start: float
    end: float
    res: Reservation | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    """One screen line below the header. `label` is empty on a rack's extra lanes."""

    label: str
    down: bool
    items: tuple[_Item, ...]
    nodes: tuple[str, ...]  # lets a zoom switch keep the same part of the cluster at the top


@dataclass(frozen=True, slots=True)
class _Bar:
    """An item's columns in the current window, unclipped (negative / past the width when it continues)."""

    c0: int
    c1: int
    item: _Item


def _pack_lanes(items: list[_Item]) -> list[list[_Item]]:
    """Greedy interval packing by start: each item takes the first lane that is free when it starts.

    Lanes depend only on the items' times, never on the window, so bars don't jump between lanes while
    the user scrolls through time.
    """
    lanes: list[list[_Item]] = []
    ends: list[float] = []
    for item in sorted(items, key=lambda i: (i.start, i.end, i.kind, i.res.id if i.res else 0)):
        for lane, end in enumerate(ends):
            if end <= item.start:
                lanes[lane].append(item)
                ends[lane] = item.end
                break
        else:
            lanes.append([item])
            ends.append(item.end)
    return lanes


def _place_preview(lanes: list[list[_Item]], preview: _Item) -> None:
    """Put the preview in the first lane with room for it, else in a lane of its own.

    Placed after packing so moving through speculation options never reshuffles the booked bars.
    """
    for lane in lanes:
        if all(not (i.start < preview.end and preview.start < i.end) for i in lane):
            lane.append(preview)
            return
    lanes.append([preview])


class _TimelineMessage(Message):
    """What every Timeline message carries: the timeline it came from (its `control`)."""

    def __init__(self, timeline: Timeline | None) -> None:
        super().__init__()
        self.timeline = timeline

    @property
    def control(self) -> Timeline | None:
        return self.timeline


class Timeline(ScrollView, can_focus=True):
    """Reservations over time: nodes as rows when zoomed to hours, racks (packed in lanes) otherwise."""

    DEFAULT_CSS = """
    Timeline {
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
    }
    Timeline > .timeline--header {
        text-style: bold;
    }
    Timeline > .timeline--now {
        color: $warning;
    }
    Timeline > .timeline--cursor {
        color: $accent;
        text-style: bold;
    }
    Timeline > .timeline--label {
        color: $text-muted;
    }
    Timeline > .timeline--block {
        text-style: dim;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--header",
        "timeline--now",
        "timeline--cursor",
        "timeline--label",
        "timeline--block",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "earlier", "Earlier", show=False, id="timeline.earlier"),
        Binding("right,l", "later", "Later", show=False, id="timeline.later"),
        Binding("shift+left", "page_earlier", "Half a span earlier", show=False, id="timeline.page_earlier"),
        Binding("shift+right", "page_later", "Half a span later", show=False, id="timeline.page_later"),
        Binding("plus,equals_sign", "zoom_in", "Zoom in", show=False, id="timeline.zoom_in"),
        Binding("minus", "zoom_out", "Zoom out", show=False, id="timeline.zoom_out"),
        Binding("up,k", "row_up", "Row up", show=False, id="timeline.row_up"),
        Binding("down,j", "row_down", "Row down", show=False, id="timeline.row_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="timeline.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="timeline.page_down"),
        Binding("t", "toggle_cursor", "Time cursor", show=False, id="timeline.toggle_cursor"),
        Binding("escape", "cursor_off", "Back to now", show=False, id="timeline.cursor_off"),
    ]

    zoom: reactive[str] = reactive("day", init=False)
    """"hours" (node rows, 6 h wide), "day" (rack rows, 24 h) or "week" (rack rows, 7 d)."""
    origin: reactive[datetime] = reactive(_EPOCH, init=False)
    """Time at the chart's left edge (aware UTC); set on the first `show()` so now sits 1/6 in."""
    cursor_time: reactive[datetime | None] = reactive(None, init=False)
    """The time cursor, or None when off. Every change posts `CursorMoved`."""
    selected_id: reactive[int | None] = reactive(None, init=False)
    """The reservation selected elsewhere (table), drawn bold, reversed and with edges."""
    preview: reactive[Slot | None] = reactive(None, init=False)
    """A speculation option drawn hatched on its nodes' (or racks') rows: not booked yet."""

    class CursorMoved(_TimelineMessage):
        """The time cursor moved to `at`, or was turned off (`at` is None): redraw the racks for then."""

        def __init__(self, at: datetime | None, timeline: Timeline | None = None) -> None:
            super().__init__(timeline)
            self.at = at

    class ZoomChanged(_TimelineMessage):
        """The zoom changed (so the screen can update the panel title)."""

        def __init__(self, zoom: str, timeline: Timeline | None = None) -> None:
            super().__init__(timeline)
            self.zoom = zoom

    class WindowMoved(_TimelineMessage):
        """The chart now starts at `origin` (scrolled or zoomed): the screen may fetch the past for it."""

        def __init__(self, origin: datetime, timeline: Timeline | None = None) -> None:
            super().__init__(timeline)
            self.origin = origin

    class ReservationClicked(_TimelineMessage):
        """A bar was clicked: the screen selects that reservation in its table."""

        def __init__(self, res_id: int, timeline: Timeline | None = None) -> None:
            super().__init__(timeline)
            self.res_id = res_id

    def __init__(
        self,
        naming: NodeNaming,
        rackwidth: int,
        rackheight: int,
        tz: tzinfo,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.naming = naming
        self.rackwidth = rackwidth
        self.rackheight = rackheight
        self.tz = tz
        self.view: ClusterView | None = None
        self._lines: list[_Line] = []
        self._label_w = _MIN_LABEL
        self._bars: list[list[_Bar]] | None = None  # None = window changed, recompute before painting
        self._chart_w = 1
        self._strips: LRUCache[int, Strip] = LRUCache(2048)
        self._header: Strip | None = None
        self._bar_styles: dict[tuple[int, bool, bool, bool], Style] = {}
        self._over: dict[tuple[Style, str], Style] = {}
        self._part_styles: dict[str, Style] = {}
        self._marker_cols: tuple[int | None, int | None] | None = None

    # ------------------------------------------------------------------------------------------ data in

    def show(self, view: ClusterView) -> None:
        """Draw a new snapshot, keeping the window and the vertical scroll the user chose."""
        first = self.view is None
        self.view = view
        if first:
            self.set_reactive(Timeline.origin, self._initial_origin(view.now))
        self._rebuild()

    @property
    def span(self) -> timedelta:
        return SPANS[self.zoom]

    @property
    def step(self) -> timedelta:
        return STEPS[self.zoom]

    @property
    def row_mode(self) -> str:
        """ "nodes" or "racks": what one row stands for at the current zoom."""
        return "nodes" if self.zoom == "hours" else "racks"

    @property
    def line_count(self) -> int:
        """Lines below the header (a rack with overlapping reservations takes one line per lane)."""
        return len(self._lines)

    def line_of_node(self, node: str) -> int | None:
        """The first content line showing `node` (its own row, or its rack's first lane)."""
        for index, line in enumerate(self._lines):
            if line.label and node in line.nodes:
                return index
        return None

    def column_of(self, when: datetime) -> int:
        """Screen column (within the widget) where `when` is drawn in the current window."""
        return self._label_w + self._col(_ts(when))

    def time_at_column(self, x: int) -> datetime:
        """The time at the left edge of widget column `x`."""
        return self.origin + timedelta(seconds=(x - self._label_w) * self._sec_per_col())

    # ------------------------------------------------------------------------------------------ reactives

    def validate_zoom(self, zoom: str) -> str:
        if zoom not in ZOOMS:
            raise ValueError(f"zoom must be one of {', '.join(ZOOMS)}, not {zoom!r}")
        return zoom

    def validate_origin(self, origin: datetime) -> datetime:
        if origin.tzinfo is None:
            raise ValueError("origin must be an aware datetime")
        return origin.astimezone(UTC)

    def validate_cursor_time(self, at: datetime | None) -> datetime | None:
        if at is not None and at.tzinfo is None:
            raise ValueError("cursor_time must be an aware datetime")
        return None if at is None else at.astimezone(UTC)

    def watch_zoom(self, old: str, new: str) -> None:
        """Keep the cursor (or the centre) at the same place on screen and the same nodes at the top."""
        old_span = SPANS[old]
        anchor = self.cursor_time if self.cursor_time is not None else self.origin + old_span / 2
        fraction = min(1.0, max(0.0, (anchor - self.origin) / old_span))
        top = self._top_node()
        self.set_reactive(Timeline.origin, self._minute(anchor - SPANS[new] * fraction))
        self._rebuild()
        if top is not None and self.is_mounted and (old == "hours") != (new == "hours"):
            line = self.line_of_node(top)
            if line is not None:
                self.scroll_to(y=line, animate=False, immediate=True)
        self.post_message(self.ZoomChanged(new, self))

    def watch_origin(self, origin: datetime) -> None:
        self._invalidate_window()
        self.post_message(self.WindowMoved(origin, self))

    def watch_cursor_time(self, at: datetime | None) -> None:
        before = self._marker_cols if self._bars is not None else None
        if at is not None:
            self._keep_in_window(at)  # may move the window, which repaints everything anyway
        if before is None or self._bars is None:
            self._invalidate_paint()
        else:
            self._repaint_cursor(before[1])
        # Straight to the screen, not bubbled panel by panel: the screen then redraws the racks for the new
        # time before the next frame, so one step is one repaint, not two (bench/tui_bench.py, time cursor).
        target = self.screen if self.is_attached else self
        target.post_message(self.CursorMoved(at, self))

    def _repaint_cursor(self, old_col: int | None) -> None:
        """A cursor step changes two columns and the header: repaint just those (and rebuild the strips,
        as every line carries the cursor), so the terminal is sent two columns instead of the chart."""
        self._marker_cols = None
        self._strips.clear()
        self._header = None
        new_col = self._markers()[1]
        height = self.size.height
        regions = [Region(0, 0, self.size.width, 1)]
        regions += [Region(self._label_w + c, 1, 1, height - 1) for c in {old_col, new_col} if c is not None]
        self.refresh(*regions)

    def watch_selected_id(self) -> None:
        self._invalidate_paint()

    def watch_preview(self) -> None:
        self._rebuild()

    def notify_style_update(self) -> None:
        """Theme or CSS changed: every cached strip holds stale styles."""
        super().notify_style_update()
        self._bar_styles.clear()
        self._over.clear()
        self._part_styles.clear()
        self._invalidate_paint()

    def on_resize(self, event: events.Resize) -> None:
        self._invalidate_window()

    # ------------------------------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only belongs to the timeline while a cursor is on; otherwise it bubbles (closing panels)."""
        if action == "cursor_off":
            return self.cursor_time is not None
        return True

    def action_earlier(self) -> None:
        self._move(-1)

    def action_later(self) -> None:
        self._move(+1)

    def action_page_earlier(self) -> None:
        self.origin = self._minute(self.origin - self.span / 2)

    def action_page_later(self) -> None:
        self.origin = self._minute(self.origin + self.span / 2)

    def action_zoom_in(self) -> None:
        index = ZOOMS.index(self.zoom)
        if index > 0:
            self.zoom = ZOOMS[index - 1]

    def action_zoom_out(self) -> None:
        index = ZOOMS.index(self.zoom)
        if index < len(ZOOMS) - 1:
            self.zoom = ZOOMS[index + 1]

    def action_row_up(self) -> None:
        self.scroll_to(y=self.scroll_offset.y - 1, animate=False)

    def action_row_down(self) -> None:
        self.scroll_to(y=self.scroll_offset.y + 1, animate=False)

    def action_page_up(self) -> None:
        self.scroll_to(y=self.scroll_offset.y - self._page(), animate=False)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_offset.y + self._page(), animate=False)

    def action_toggle_cursor(self) -> None:
        if self.cursor_time is not None:
            self.cursor_time = None
        else:
            now = self.view.now if self.view is not None else datetime.now(UTC)
            self.cursor_time = self._snap(now, "round")

    def action_cursor_off(self) -> None:
        self.cursor_time = None

    def _move(self, direction: int) -> None:
        """Step the cursor to the next whole step, or scroll the window when the cursor is off."""
        if self.cursor_time is None:
            self.origin = self.origin + self.step * 4 * direction
        elif direction > 0:
            self.cursor_time = self._snap(self.cursor_time, "floor") + self.step
        else:
            self.cursor_time = self._snap(self.cursor_time, "ceil") - self.step

    def _page(self) -> int:
        return max(1, self.size.height - 2)

    def on_click(self, event: events.Click) -> None:
        """A bar selects its reservation; anywhere else on the chart puts the time cursor there."""
        offset = event.get_content_offset(self)
        if offset is None or offset.x < self._label_w:
            return
        bars = self._ensure_bars()
        column = offset.x - self._label_w
        if offset.y > 0:
            index = self.scroll_offset.y + offset.y - 1
            if index < len(bars):
                for bar in reversed(bars[index]):
                    if bar.c0 <= column < bar.c1 and bar.item.res is not None:
                        event.stop()
                        self.post_message(self.ReservationClicked(bar.item.res.id, self))
                        return
        event.stop()
        self.cursor_time = self._snap(self.time_at_column(offset.x), "round")

    # ------------------------------------------------------------------------------------------ layout

    def _rebuild(self) -> None:
        """Rows and lanes for the view, zoom and preview; the only pass that walks every reservation."""
        view = self.view
        if view is None:
            self._lines = []
        else:
            nodes = view.nodes or self.naming.all()
            preview = self.preview
            preview_item = (
                _Item(_PREVIEW, _ts(preview.start), _ts(preview.end)) if preview is not None else None
            )
            down = {n for n, st in view.status.items() if st.state is NodeState.DOWN}
            if self.zoom == "hours":
                self._lines = self._node_lines(view, nodes, down, preview, preview_item)
            else:
                self._lines = self._rack_lines(view, nodes, down, preview, preview_item)
        longest = max((len(line.label) for line in self._lines), default=0)
        self._label_w = max(_MIN_LABEL, longest + 1)
        self.virtual_size = Size(self._label_w + 1, len(self._lines) + 1)  # + the sticky header
        self._invalidate_window()

    def _node_lines(
        self,
        view: ClusterView,
        nodes: tuple[str, ...],
        down: set[str],
        preview: Slot | None,
        preview_item: _Item | None,
    ) -> list[_Line]:
        row_of = {node: i for i, node in enumerate(nodes)}
        items: list[list[_Item]] = [[] for _ in nodes]
        for block in view.blocks:
            end = math.inf if block.end is None else _ts(block.end)
            item = _Item(_BLOCK, _ts(block.start), end)
            for node in block.nodes:
                if (row := row_of.get(node)) is not None:
                    items[row].append(item)
        for res in sorted(view.reservations, key=lambda r: (r.start, r.id)):
            item = _Item(_RES, _ts(res.start), _ts(res.end), res)
            for node in res.nodes:
                if (row := row_of.get(node)) is not None:
                    items[row].append(item)
        if preview is not None and preview_item is not None:
            for node in preview.nodes:
                if (row := row_of.get(node)) is not None:
                    items[row].append(preview_item)
        return [
            _Line(
                label=f"{DOWN_GLYPH}{node}" if node in down else node,
                down=node in down,
                items=tuple(items[i]),
                nodes=(node,),
            )
            for i, node in enumerate(nodes)
        ]

    def _rack_lines(
        self,
        view: ClusterView,
        nodes: tuple[str, ...],
        down: set[str],
        preview: Slot | None,
        preview_item: _Item | None,
    ) -> list[_Line]:
        groups = racks(nodes, self.rackwidth, self.rackheight)
        rack_of = {node: r for r, group in enumerate(groups) for node in group}
        items: list[list[_Item]] = [[] for _ in groups]

        def touched(names: Iterable[str]) -> set[int]:
            return {r for n in names if (r := rack_of.get(n)) is not None}

        for block in view.blocks:
            end = math.inf if block.end is None else _ts(block.end)
            item = _Item(_BLOCK, _ts(block.start), end)
            for r in touched(block.nodes):
                items[r].append(item)
        for res in view.reservations:
            item = _Item(_RES, _ts(res.start), _ts(res.end), res)
            for r in touched(res.nodes):
                items[r].append(item)
        preview_racks = touched(preview.nodes) if preview is not None else set()
        lines: list[_Line] = []
        for r, group in enumerate(groups):
            lanes = _pack_lanes(items[r])
            if preview_item is not None and r in preview_racks:
                _place_preview(lanes, preview_item)
            any_down = any(n in down for n in group)
            label = f"rack {r + 1}" + (DOWN_GLYPH if any_down else "")
            for lane_no, lane in enumerate(lanes or [[]]):
                lines.append(
                    _Line(
                        label=label if lane_no == 0 else "",
                        down=any_down and lane_no == 0,
                        items=tuple(lane),
                        nodes=group,
                    )
                )
        return lines

    def _top_node(self) -> str | None:
        index = self.scroll_offset.y
        if 0 <= index < len(self._lines) and self._lines[index].nodes:
            return self._lines[index].nodes[0]
        return None

    def _sec_per_col(self) -> float:
        return self.span.total_seconds() / max(1, self._chart_width())

    def _chart_width(self) -> int:
        """Columns for time: the widget's width less the labels and a vertical scrollbar, if shown."""
        return max(1, self.scrollable_content_region.width - self._label_w)

    def _col(self, ts: float) -> int:
        return math.floor((ts - _ts(self.origin)) / self._sec_per_col())

    def _ensure_bars(self) -> list[list[_Bar]]:
        """Column ranges of every item in the current window, computed once per window change."""
        if self._bars is not None:
            return self._bars
        width = self._chart_width()
        self._chart_w = width
        origin = _ts(self.origin)
        per_col = self._sec_per_col()
        window_end = origin + self.span.total_seconds()
        floor = math.floor
        bars: list[list[_Bar]] = []
        for line in self._lines:
            row: list[_Bar] = []
            for item in line.items:
                if item.end <= origin or item.start >= window_end:
                    continue
                c0 = floor((item.start - origin) / per_col)
                c1 = width + 1 if item.end == math.inf else floor((item.end - origin) / per_col)
                if item.end > window_end:
                    c1 = max(c1, width + 1)  # "continues right" even if it ends inside the last column
                if item.start < origin:
                    c0 = min(c0, -1)
                row.append(_Bar(c0, max(c1, c0 + 1), item))
            bars.append(row)
        self._bars = bars
        return bars

    def _invalidate_window(self) -> None:
        self._bars = None
        self._invalidate_paint()

    def _invalidate_paint(self) -> None:
        self._marker_cols = None
        self._strips.clear()
        self._header = None
        self.refresh()

    # ------------------------------------------------------------------------------------------ time

    def _initial_origin(self, now: datetime) -> datetime:
        return self._minute(now - self.span / 6)

    @staticmethod
    def _minute(when: datetime) -> datetime:
        return when.astimezone(UTC).replace(second=0, microsecond=0)

    def _snap(self, when: datetime, how: str) -> datetime:
        """`when` on a whole step of the display zone's wall clock (6 h steps land on 00/06/12/18 local)."""
        offset = when.astimezone(self.tz).utcoffset() or timedelta(0)
        step = self.step.total_seconds()
        quotient = ((when + offset) - _EPOCH).total_seconds() / step
        if how == "floor":
            n = math.floor(quotient)
        elif how == "ceil":
            n = math.ceil(quotient)
        else:
            n = math.floor(quotient + 0.5)
        return _EPOCH + timedelta(seconds=n * step) - offset

    def _keep_in_window(self, at: datetime) -> None:
        """Scroll time so a cursor that stepped off the chart is back on it, a quarter span from the edge."""
        if self.size.width <= self._label_w + 1:
            return  # not laid out yet (a tab just shown): no column width to judge by, keep the window
        last = self.origin + self.span - timedelta(seconds=self._sec_per_col())
        if at < self.origin:
            self.origin = self._minute(at - self.span / 4)
        elif at > last:
            self.origin = self._minute(at - self.span * 3 / 4)

    # ------------------------------------------------------------------------------------------ painting

    def render_line(self, y: int) -> Strip:
        """Line 0 is the sticky header; the others are content lines shifted by the vertical scroll."""
        bars = self._ensure_bars()
        if y == 0:
            if self._header is None:
                self._header = self._build_header()
            return self._header
        index = self.scroll_offset.y + y - 1
        strip = self._strips.get(index)
        if strip is None:
            if index < len(self._lines):
                strip = self._build_line(self._lines[index], bars[index])
            else:
                strip = Strip.blank(self.size.width, self.rich_style)
            self._strips[index] = strip
        return strip

    def _style(self, component: str) -> Style:
        style = self._part_styles.get(component)
        if style is None:
            style = self._part_styles[component] = self.rich_style + self.get_component_rich_style(
                component, partial=True
            )
        return style

    def _bar_style(self, res: Reservation, selected: bool) -> Style:
        user = self.view.user if self.view is not None else ""
        ended = self.view is not None and res.end <= self.view.now
        key = (res.id, res.owner == user, selected, ended)
        style = self._bar_styles.get(key)
        if style is None:
            style = self.rich_style + reservation_style(res.id, mine=key[1])
            if selected:
                style += Style(bold=True, reverse=True)
            if ended:  # the past, from the log: its colour, dimmed
                style += Style(dim=True)
            self._bar_styles[key] = style
        return style

    def _over_style(self, under: Style, component: str) -> Style:
        """A marker over a bar keeps the bar's colours plus the marker's own attributes (cached: few)."""
        key = (under, component)
        style = self._over.get(key)
        if style is None:
            style = under + self.get_component_rich_style(component, partial=True)
            self._over[key] = style
        return style

    def _markers(self) -> tuple[int | None, int | None]:
        """Columns of the now line and the cursor, worked out once per paint (not once per line)."""
        if self._marker_cols is None:
            self._marker_cols = self._marker_columns()
        return self._marker_cols

    def _marker_columns(self) -> tuple[int | None, int | None]:
        width = self._chart_w
        now_col = self._col(_ts(self.view.now)) if self.view is not None else None
        cursor_col = self._col(_ts(self.cursor_time)) if self.cursor_time is not None else None
        return (
            now_col if now_col is not None and 0 <= now_col < width else None,
            cursor_col if cursor_col is not None and 0 <= cursor_col < width else None,
        )

    def _build_line(self, line: _Line, bars: list[_Bar]) -> Strip:
        width = self._chart_w
        base = self.rich_style
        chars = [" "] * width
        styles = [base] * width
        cells = [_BLANK] * width
        for bar in bars:
            self._paint_bar(bar, chars, styles, cells, width)
        now_col, cursor_col = self._markers()
        # The now line and the time cursor run through every line but step around a bar's name, so a
        # name never reads split (`sto│rage`) nor changes colour mid-word.
        if now_col is not None and cells[now_col] != _TEXT:
            chars[now_col] = NOW_GLYPH
            styles[now_col] = (
                self._style("timeline--now")
                if cells[now_col] == _BLANK
                else self._over_style(styles[now_col], "timeline--now")
            )
        if cursor_col is not None and cells[cursor_col] != _TEXT:
            chars[cursor_col] = CURSOR_GLYPH
            styles[cursor_col] = self._over_style(styles[cursor_col], "timeline--cursor")
        label_style = base + DOWN_STYLE if line.down else self._style("timeline--label")
        label = line.label[: self._label_w - 1].ljust(self._label_w)
        segments = [Segment(label, label_style), *self._runs(chars, styles)]
        return Strip(segments, self._label_w + width).crop_extend(0, self.size.width, base)

    def _paint_bar(
        self, bar: _Bar, chars: list[str], styles: list[Style], cells: list[int], width: int
    ) -> None:
        item = bar.item
        left = max(bar.c0, 0)
        right = min(bar.c1, width)
        if right <= left:
            return
        if item.kind == _BLOCK:
            style = self._style("timeline--block")
            fill = BLOCKED_GLYPH
        elif item.kind == _PREVIEW:
            style = self.rich_style + PREVIEW_STYLE
            fill = PREVIEW_GLYPH
        else:
            assert item.res is not None
            selected = item.res.id == self.selected_id
            style = self._bar_style(item.res, selected)
            fill = " "
        for c in range(left, right):
            chars[c] = fill
            styles[c] = style
            cells[c] = _FILL
        inner_left, inner_right = left, right
        if bar.c0 < 0:
            chars[left] = MORE_LEFT
            inner_left += 1
        if bar.c1 > width and inner_right > inner_left:
            chars[right - 1] = MORE_RIGHT
            inner_right -= 1
        if item.res is None:
            return
        if item.res.id == self.selected_id and inner_right - inner_left >= 3:
            if bar.c0 >= 0:
                chars[inner_left] = SELECTED_LEFT
                inner_left += 1
            if bar.c1 <= width:
                chars[inner_right - 1] = SELECTED_RIGHT
                inner_right -= 1
        room = inner_right - inner_left
        name = item.res.name
        if room >= len(name) + 1:
            text = " " + name
        elif room >= len(name):
            text = name
        elif room >= _MIN_NAME:
            text = name[: room - 1] + "…"
        else:
            return
        chars[inner_left : inner_left + len(text)] = text
        cells[inner_left : inner_left + len(text)] = [_TEXT] * len(text)

    @staticmethod
    def _runs(chars: list[str], styles: list[Style]) -> list[Segment]:
        """Merge equal neighbouring cells into one segment (styles are shared objects, so `is` suffices)."""
        segments: list[Segment] = []
        start = 0
        for c in range(1, len(chars) + 1):
            if c == len(chars) or styles[c] is not styles[start]:
                segments.append(Segment("".join(chars[start:c]), styles[start]))
                start = c
        return segments

    def _ticks(self) -> list[tuple[int, str]]:
        """(column, label) of each tick in the display zone: hours, every 3 h, or midnights.

        A midnight (and every week tick) is labelled with its day in the one date policy (`Tue Jun 02`),
        so it never reads as a time of day next to `03:00`."""
        every = _TICK_MINUTES[self.zoom]
        origin = self.origin
        now = self.view.now if self.view is not None else origin
        when = _EPOCH + timedelta(minutes=math.floor((origin - _EPOCH) / _QUARTER) * 15)
        end = origin + self.span
        ticks: list[tuple[int, str]] = []
        while when < end:
            if when >= origin:
                local = when.astimezone(self.tz)
                minutes = local.hour * 60 + local.minute
                if minutes % every == 0:
                    if minutes == 0 or self.zoom == "week":
                        text = day_text(when, self.tz, now)
                    else:
                        text = f"{local.hour:02d}:00"
                    ticks.append((self._col(_ts(when)), text))
            when += _QUARTER
        return ticks

    def _build_header(self) -> Strip:
        """Tick labels, the now mark and the cursor's time, never overwriting each other: the cursor's
        label is placed first, then every tick label with a blank column on both sides, then the now mark
        if its column is still blank."""
        width = self._chart_w
        header = self._style("timeline--header")
        chars = [" "] * width
        styles = [header] * width
        taken = [False] * width

        def put(start: int, text: str, style: Style | None = None, *, gap: int = 1) -> bool:
            stop = start + len(text)
            if start < 0 or stop > width or any(taken[max(0, start - gap) : min(width, stop + gap)]):
                return False
            chars[start:stop] = text
            for c in range(start, stop):
                taken[c] = True
                if style is not None:
                    styles[c] = style
            return True

        now_col, cursor_col = self._markers()
        if cursor_col is not None and self.cursor_time is not None:
            cursor_style = header + self.get_component_rich_style("timeline--cursor", partial=True)
            now = self.view.now if self.view is not None else self.cursor_time
            text = when_text(self.cursor_time, self.tz, now, dated=True)
            placed = put(cursor_col, CURSOR_GLYPH + text, cursor_style, gap=0) or put(
                cursor_col - len(text), text + CURSOR_GLYPH, cursor_style, gap=0
            )
            if not placed:
                put(cursor_col, CURSOR_GLYPH, cursor_style, gap=0)
        for col, text in self._ticks():
            put(col, text)
        if now_col is not None:  # only in a blank column: `09:00┊` reads fine, `09┊00` does not
            now_style = header + self.get_component_rich_style("timeline--now", partial=True)
            put(now_col, NOW_GLYPH, now_style, gap=0)
        label = self.zoom.ljust(self._label_w)
        segments = [Segment(label, header), *self._runs(chars, styles)]
        return Strip(segments, self._label_w + width).crop_extend(0, self.size.width, self.rich_style)
