"""The timeline panel: a Gantt chart of reservations over nodes (zoomed in) or racks (zoomed out).

Built on the Line API (`ScrollView.render_line`), like Textual's DataTable and Log, so 520 nodes and a
thousand reservations scroll without building a widget per bar. Work is split by how often it changes:

* rows and lanes (which item sits on which line) change only with the view, the zoom's row mode or the
  preview, so they are rebuilt then and never while scrolling;
* bar column ranges depend on the window (origin, width, zoom) and are recomputed once per change;
* a `Strip` per line is built on first paint and cached until anything drawn on it changes.

The layout itself (lines, lanes, bar columns, tick labels, names) is plain functions in `timeline_layout`.

Time runs left to right from `origin`; line 0 is a sticky header with tick labels in the display zone,
drawn at the top whatever the vertical scroll, so the content lines scroll underneath it.

Attributes go down (the screen calls `show()` and sets `zoom`, `cursor_time`, `selected_id`, `preview`);
messages go up (`CursorMoved`, `ZoomChanged`, `ReservationClicked`). The widget never looks at siblings.
"""

from __future__ import annotations

import math
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

from igor_tui.dates import when_text
from igor_tui.hostlist import NodeNaming
from igor_tui.model import ClusterView, NodeState, Reservation, Slot
from igor_tui.widgets.palette import (
    BLOCKED_GLYPH,
    DOWN_STYLE,
    PREVIEW_GLYPH,
    PREVIEW_STYLE,
    reservation_style,
)
from igor_tui.widgets.timeline_layout import (
    BLANK,
    BLOCK,
    CURSOR,
    CURSOR_GLYPH,
    EPOCH,
    NOW,
    NOW_GLYPH,
    PREVIEW,
    SPANS,
    STEPS,
    TEXT,
    ZOOMS,
    Bar,
    Line,
    Rows,
    build_lines,
    header_cells,
    paint_bar,
    runs,
    snap,
    ticks,
    ts,
    window_bars,
)

_MIN_LABEL: Final = 8


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
    origin: reactive[datetime] = reactive(EPOCH, init=False)
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
        self._lines: list[Line] = []
        self._label_w = _MIN_LABEL
        self._bars: list[list[Bar]] | None = None  # None = window changed, recompute before painting
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
            self.cursor_time = snap(now, self.step, self.tz, "round")

    def action_cursor_off(self) -> None:
        self.cursor_time = None

    def _move(self, direction: int) -> None:
        """Step the cursor to the next whole step, or scroll the window when the cursor is off."""
        if self.cursor_time is None:
            self.origin = self.origin + self.step * 4 * direction
        elif direction > 0:
            self.cursor_time = snap(self.cursor_time, self.step, self.tz, "floor") + self.step
        else:
            self.cursor_time = snap(self.cursor_time, self.step, self.tz, "ceil") - self.step

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
        self.cursor_time = snap(self.time_at_column(offset.x), self.step, self.tz, "round")

    # ------------------------------------------------------------------------------------------ layout

    def _rebuild(self) -> None:
        """Rows and lanes for the view, zoom and preview; the only pass that walks every reservation."""
        view = self.view
        if view is None:
            self._lines = []
        else:
            down = {n for n, st in view.status.items() if st.state is NodeState.DOWN}
            rows = Rows(self.zoom, self.rackwidth, self.rackheight)
            self._lines = build_lines(view, view.nodes or self.naming.all(), down, self.preview, rows)
        longest = max((len(line.label) for line in self._lines), default=0)
        self._label_w = max(_MIN_LABEL, longest + 1)
        self.virtual_size = Size(self._label_w + 1, len(self._lines) + 1)  # + the sticky header
        self._invalidate_window()

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

    def _col(self, seconds: float) -> int:
        return math.floor((seconds - ts(self.origin)) / self._sec_per_col())

    def _ensure_bars(self) -> list[list[Bar]]:
        """Column ranges of every item in the current window, computed once per window change."""
        if self._bars is None:
            self._chart_w = self._chart_width()
            self._bars = window_bars(self._lines, ts(self.origin), self.span.total_seconds(), self._chart_w)
        return self._bars

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
        now_col = self._col(ts(self.view.now)) if self.view is not None else None
        cursor_col = self._col(ts(self.cursor_time)) if self.cursor_time is not None else None
        return (
            now_col if now_col is not None and 0 <= now_col < width else None,
            cursor_col if cursor_col is not None and 0 <= cursor_col < width else None,
        )

    def _build_line(self, line: Line, bars: list[Bar]) -> Strip:
        width = self._chart_w
        base = self.rich_style
        chars = [" "] * width
        styles = [base] * width
        cells = [BLANK] * width
        for bar in bars:
            self._paint_bar(bar, chars, styles, cells, width)
        now_col, cursor_col = self._markers()
        # The now line and the time cursor run through every line but step around a bar's name, so a
        # name never reads split (`sto│rage`) nor changes colour mid-word.
        if now_col is not None and cells[now_col] != TEXT:
            chars[now_col] = NOW_GLYPH
            styles[now_col] = (
                self._style("timeline--now")
                if cells[now_col] == BLANK
                else self._over_style(styles[now_col], "timeline--now")
            )
        if cursor_col is not None and cells[cursor_col] != TEXT:
            chars[cursor_col] = CURSOR_GLYPH
            styles[cursor_col] = self._over_style(styles[cursor_col], "timeline--cursor")
        label_style = base + DOWN_STYLE if line.down else self._style("timeline--label")
        label = line.label[: self._label_w - 1].ljust(self._label_w)
        segments = [Segment(label, label_style), *runs(chars, styles)]
        return Strip(segments, self._label_w + width).crop_extend(0, self.size.width, base)

    def _paint_bar(
        self, bar: Bar, chars: list[str], styles: list[Style], cells: list[int], width: int
    ) -> None:
        item = bar.item
        selected = item.res is not None and item.res.id == self.selected_id
        if item.kind == BLOCK:
            style, fill = self._style("timeline--block"), BLOCKED_GLYPH
        elif item.kind == PREVIEW:
            style, fill = self.rich_style + PREVIEW_STYLE, PREVIEW_GLYPH
        else:
            assert item.res is not None
            style, fill = self._bar_style(item.res, selected), " "
        covered = paint_bar(bar, chars, cells, width, fill=fill, selected=selected)
        if covered is not None:
            left, right = covered
            styles[left:right] = [style] * (right - left)

    def _build_header(self) -> Strip:
        """Tick labels, the now mark and the cursor's time, never overwriting each other."""
        width = self._chart_w
        header = self._style("timeline--header")
        now_col, cursor_col = self._markers()
        cursor = None
        if cursor_col is not None and self.cursor_time is not None:
            now = self.view.now if self.view is not None else self.cursor_time
            cursor = (cursor_col, when_text(self.cursor_time, self.tz, now, dated=True))
        now = self.view.now if self.view is not None else self.origin
        tick_labels = ticks(self.origin, self.zoom, self.tz, now, self._col)
        chars, kinds = header_cells(width, cursor, tick_labels, now_col)
        by_kind = {
            CURSOR: header + self.get_component_rich_style("timeline--cursor", partial=True),
            NOW: header + self.get_component_rich_style("timeline--now", partial=True),
        }
        styles = [by_kind.get(kind, header) for kind in kinds]
        label = self.zoom.ljust(self._label_w)
        segments = [Segment(label, header), *runs(chars, styles)]
        return Strip(segments, self._label_w + width).crop_extend(0, self.size.width, self.rich_style)
