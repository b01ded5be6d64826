"""The timeline's layout as plain functions: which item sits on which line, where bars fall in a window,
where the tick labels go and how a bar's name fits. No Textual here, so it is tested without an app.

The widget (`timeline.py`) decides *when* to call these (per view, per window, per paint) and turns the
chars and cell kinds they fill in into styled strips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from rich.segment import Segment
from rich.style import Style

from igor_tui.dates import day_text
from igor_tui.model import ClusterView, Reservation, Slot
from igor_tui.viewstate import racks
from igor_tui.widgets.palette import DOWN_GLYPH

ZOOMS: Final = ("hours", "day", "week")
"""Zoom levels from closest to widest; `+` moves left in this tuple, `-` right."""

SPANS: Final = {"hours": timedelta(hours=6), "day": timedelta(hours=24), "week": timedelta(days=7)}
"""Time across the chart width per zoom."""

STEPS: Final = {"hours": timedelta(minutes=15), "day": timedelta(hours=1), "week": timedelta(hours=6)}
"""Cursor step per zoom; scrolling without a cursor moves by four steps."""

TICK_MINUTES: Final = {"hours": 60, "day": 180, "week": 1440}
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER: Final = timedelta(minutes=15)
_MIN_NAME: Final = 4  # narrower bars show only their colour: "r…" helps nobody

NOW_GLYPH: Final = "┊"
CURSOR_GLYPH: Final = "│"
MORE_LEFT: Final = "◀"
MORE_RIGHT: Final = "▶"
SELECTED_LEFT: Final = "▐"
SELECTED_RIGHT: Final = "▌"

RES: Final = 0  # what an item is
BLOCK: Final = 1
PREVIEW: Final = 2

BLANK: Final = 0  # what a chart cell holds, so markers know what they may overwrite
FILL: Final = 1
TEXT: Final = 2

PLAIN: Final = 0  # what a header cell shows, so the widget knows its style
CURSOR: Final = 1
NOW: Final = 2


def ts(when: datetime) -> float:
    return when.timestamp()


@dataclass(frozen=True, slots=True)
class Item:
    """One thing drawn on a line: a reservation, a maintenance block or the previewed slot.

    Times are epoch seconds so the per-window column pass is plain float arithmetic; `end` is +inf for a
    block without an end.
    """

    kind: int
    start: float
    end: float
    res: Reservation | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One screen line below the header. `label` is empty on a rack's extra lanes."""

    label: str
    down: bool
    items: tuple[Item, ...]
    nodes: tuple[str, ...]  # lets a zoom switch keep the same part of the cluster at the top


@dataclass(frozen=True, slots=True)
class Bar:
    """An item's columns in the current window, unclipped (negative / past the width when it continues)."""

    c0: int
    c1: int
    item: Item


def pack_lanes(items: list[Item]) -> list[list[Item]]:
    """Greedy interval packing by start: each item takes the first lane that is free when it starts.

    Lanes depend only on the items' times, never on the window, so bars don't jump between lanes while
    the user scrolls through time.
    """
    lanes: list[list[Item]] = []
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


def place_preview(lanes: list[list[Item]], preview: Item) -> None:
    """Put the preview in the first lane with room for it, else in a lane of its own.

    Placed after packing so moving through speculation options never reshuffles the booked bars.
    """
    for lane in lanes:
        if all(not (i.start < preview.end and preview.start < i.end) for i in lane):
            lane.append(preview)
            return
    lanes.append([preview])


@dataclass(frozen=True, slots=True)
class Rows:
    """What one row stands for: a node ("hours" zoom) or a rack of `rackwidth` × `rackheight` nodes."""

    zoom: str
    rackwidth: int
    rackheight: int


def build_lines(
    view: ClusterView, nodes: tuple[str, ...], down: set[str], preview: Slot | None, rows: Rows
) -> list[Line]:
    """Rows and lanes for the view, zoom and preview; the only pass that walks every reservation."""
    preview_item = Item(PREVIEW, ts(preview.start), ts(preview.end)) if preview is not None else None
    if rows.zoom == "hours":
        return _node_lines(view, nodes, down, preview, preview_item)
    groups = racks(nodes, rows.rackwidth, rows.rackheight)
    return _rack_lines(view, groups, down, preview, preview_item)


def _node_lines(
    view: ClusterView,
    nodes: tuple[str, ...],
    down: set[str],
    preview: Slot | None,
    preview_item: Item | None,
) -> list[Line]:
    row_of = {node: i for i, node in enumerate(nodes)}
    items: list[list[Item]] = [[] for _ in nodes]
    for block in (*view.blocks, *view.windows):  # host-policy windows are drawn as blocks
        end = math.inf if block.end is None else ts(block.end)
        item = Item(BLOCK, ts(block.start), end)
        for node in block.nodes:
            if (row := row_of.get(node)) is not None:
                items[row].append(item)
    for res in sorted(view.reservations, key=lambda r: (r.start, r.id)):
        item = Item(RES, ts(res.start), ts(res.end), res)
        for node in res.nodes:
            if (row := row_of.get(node)) is not None:
                items[row].append(item)
    if preview is not None and preview_item is not None:
        for node in preview.nodes:
            if (row := row_of.get(node)) is not None:
                items[row].append(preview_item)
    return [
        Line(
            label=f"{DOWN_GLYPH}{node}" if node in down else node,
            down=node in down,
            items=tuple(items[i]),
            nodes=(node,),
        )
        for i, node in enumerate(nodes)
    ]


def _rack_lines(
    view: ClusterView,
    groups: list[tuple[str, ...]],
    down: set[str],
    preview: Slot | None,
    preview_item: Item | None,
) -> list[Line]:
    rack_of = {node: r for r, group in enumerate(groups) for node in group}
    items: list[list[Item]] = [[] for _ in groups]

    def touched(names: Iterable[str]) -> set[int]:
        return {r for n in names if (r := rack_of.get(n)) is not None}

    for block in (*view.blocks, *view.windows):  # host-policy windows are drawn as blocks
        end = math.inf if block.end is None else ts(block.end)
        item = Item(BLOCK, ts(block.start), end)
        for r in touched(block.nodes):
            items[r].append(item)
    for res in view.reservations:
        item = Item(RES, ts(res.start), ts(res.end), res)
        for r in touched(res.nodes):
            items[r].append(item)
    preview_racks = touched(preview.nodes) if preview is not None else set()
    lines: list[Line] = []
    for r, group in enumerate(groups):
        lanes = pack_lanes(items[r])
        if preview_item is not None and r in preview_racks:
            place_preview(lanes, preview_item)
        any_down = any(n in down for n in group)
        label = f"rack {r + 1}" + (DOWN_GLYPH if any_down else "")
        for lane_no, lane in enumerate(lanes or [[]]):
            lines.append(
                Line(
                    label=label if lane_no == 0 else "",
                    down=any_down and lane_no == 0,
                    items=tuple(lane),
                    nodes=group,
                )
            )
    return lines


def window_bars(lines: list[Line], origin: float, span: float, width: int) -> list[list[Bar]]:
    """Column ranges of every item in the window of `span` seconds from `origin` over `width` columns.

    A bar that continues past an edge gets a column beyond it (-1, width + 1), so the painter can draw
    the "continues" arrows."""
    per_col = span / max(1, width)
    window_end = origin + span
    floor = math.floor
    bars: list[list[Bar]] = []
    for line in lines:
        row: list[Bar] = []
        for item in line.items:
            if item.end <= origin or item.start >= window_end:
                continue
            c0 = floor((item.start - origin) / per_col)
            c1 = width + 1 if item.end == math.inf else floor((item.end - origin) / per_col)
            if item.end > window_end:
                c1 = max(c1, width + 1)  # "continues right" even if it ends inside the last column
            if item.start < origin:
                c0 = min(c0, -1)
            row.append(Bar(c0, max(c1, c0 + 1), item))
        bars.append(row)
    return bars


def snap(when: datetime, step: timedelta, tz: tzinfo, how: str) -> datetime:
    """`when` on a whole step of the display zone's wall clock (6 h steps land on 00/06/12/18 local);
    `how` is "floor", "ceil" or "round"."""
    offset = when.astimezone(tz).utcoffset() or timedelta(0)
    seconds = step.total_seconds()
    quotient = ((when + offset) - EPOCH).total_seconds() / seconds
    if how == "floor":
        n = math.floor(quotient)
    elif how == "ceil":
        n = math.ceil(quotient)
    else:
        n = math.floor(quotient + 0.5)
    return EPOCH + timedelta(seconds=n * seconds) - offset


def ticks(
    origin: datetime, zoom: str, tz: tzinfo, now: datetime, column: Callable[[float], int]
) -> list[tuple[int, str]]:
    """(column, label) of each tick in the display zone: hours, every 3 h, or midnights.

    A midnight (and every week tick) is labelled with its day in the one date policy (`Tue Jun 02`),
    so it never reads as a time of day next to `03:00`."""
    every = TICK_MINUTES[zoom]
    when = EPOCH + timedelta(minutes=math.floor((origin - EPOCH) / _QUARTER) * 15)
    end = origin + SPANS[zoom]
    found: list[tuple[int, str]] = []
    while when < end:
        if when >= origin:
            local = when.astimezone(tz)
            minutes = local.hour * 60 + local.minute
            if minutes % every == 0:
                day = minutes == 0 or zoom == "week"
                text = day_text(when, tz, now) if day else f"{local.hour:02d}:00"
                found.append((column(ts(when)), text))
        when += _QUARTER
    return found


def header_cells(
    width: int,
    cursor: tuple[int, str] | None,
    tick_labels: list[tuple[int, str]],
    now_col: int | None,
) -> tuple[list[str], list[int]]:
    """The header's chars and what each shows (PLAIN, CURSOR, NOW), labels never overwriting each other:
    the cursor's label (`cursor`: its column and text) is placed first, then every tick label with a
    blank column on both sides, then the now mark if its column is still blank (`09:00┊` reads fine,
    `09┊00` does not)."""
    chars = [" "] * width
    kinds = [PLAIN] * width
    taken = [False] * width

    def put(start: int, text: str, kind: int = PLAIN, *, gap: int = 1) -> bool:
        stop = start + len(text)
        if start < 0 or stop > width or any(taken[max(0, start - gap) : min(width, stop + gap)]):
            return False
        chars[start:stop] = text
        for c in range(start, stop):
            taken[c] = True
            kinds[c] = kind
        return True

    if cursor is not None:
        col, text = cursor
        placed = put(col, CURSOR_GLYPH + text, CURSOR, gap=0) or put(
            col - len(text), text + CURSOR_GLYPH, CURSOR, gap=0
        )
        if not placed:
            put(col, CURSOR_GLYPH, CURSOR, gap=0)
    for col, text in tick_labels:
        put(col, text)
    if now_col is not None:
        put(now_col, NOW_GLYPH, NOW, gap=0)
    return chars, kinds


def paint_bar(
    bar: Bar, chars: list[str], cells: list[int], width: int, *, fill: str, selected: bool
) -> tuple[int, int] | None:
    """Draw one bar's chars into a line: its fill, the arrows where it continues, the selection's edges
    and its name if there is room. Returns the columns it covers (for the caller's styles), or None."""
    item = bar.item
    left = max(bar.c0, 0)
    right = min(bar.c1, width)
    if right <= left:
        return None
    chars[left:right] = fill * (right - left)
    cells[left:right] = [FILL] * (right - left)
    inner_left, inner_right = left, right
    if bar.c0 < 0:
        chars[left] = MORE_LEFT
        inner_left += 1
    if bar.c1 > width and inner_right > inner_left:
        chars[right - 1] = MORE_RIGHT
        inner_right -= 1
    if item.res is None:
        return left, right
    if selected and inner_right - inner_left >= 3:
        if bar.c0 >= 0:
            chars[inner_left] = SELECTED_LEFT
            inner_left += 1
        if bar.c1 <= width:
            chars[inner_right - 1] = SELECTED_RIGHT
            inner_right -= 1
    text = fitted_name(item.res.name, inner_right - inner_left)
    chars[inner_left : inner_left + len(text)] = text
    cells[inner_left : inner_left + len(text)] = [TEXT] * len(text)
    return left, right


def fitted_name(name: str, room: int) -> str:
    """A bar's label in `room` columns: ` name`, `name`, `na…`, or nothing below four columns."""
    if room >= len(name) + 1:
        return " " + name
    if room >= len(name):
        return name
    if room >= _MIN_NAME:
        return name[: room - 1] + "…"
    return ""


def runs(chars: list[str], styles: list[Style]) -> list[Segment]:
    """Merge equal neighbouring cells into one segment (styles are shared objects, so `is` suffices)."""
    segments: list[Segment] = []
    start = 0
    for c in range(1, len(chars) + 1):
        if c == len(chars) or styles[c] is not styles[start]:
            segments.append(Segment("".join(chars[start:c]), styles[start]))
            start = c
    return segments
