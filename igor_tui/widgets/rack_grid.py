"""The rack grid: every node of the cluster as a small cell, racks side by side, coloured by who holds it.

It answers "what does the cluster look like at time T" at a glance, so it draws the `viewstate.moment` of the
view at `at` (the screen's time cursor), never just "now". Built on the Line API (`render_line`) like
Textual's DataTable and Toolong's log view, because a 520-node cluster redraws on every keypress and every
refresh tick: the geometry is computed once per resize, lines are rendered lazily and cached, and moving the
cursor repaints only the two lines it leaves and enters.

Attributes down, messages up: the screen sets `view`/`at` (via `show`), `selected`, `preview` and `marked`;
the grid posts `CursorMoved`, `NodeSelected` and `MarkedChanged` and never reaches into other widgets.
Colour is never the only signal: down, blocked, marked, previewed and own nodes carry a glyph, and the
selected reservation's nodes are drawn reversed and bold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .. import viewstate
from ..hostlist import NodeNaming
from ..model import ClusterView
from ..viewstate import Moment
from . import palette

RACK_GAP = 2
"""Blank columns between two racks side by side: wider than the one blank glyph column between cells, so
rack boundaries read as boundaries."""

_MANY_LINES = 12
"""Above this many changed lines, repainting everything is as cheap as tracking them one by one."""


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where everything sits for one widget width; rebuilt only on resize, never per frame.

    `grid` is the visual node grid (grid row by grid column, None where a partial rack leaves a hole) that the
    cursor keys walk; `lines` holds, for each content line, the (x, node) cells on it, and `titles` the
    (x, rack index) rack titles on it, so `render_line` only formats strings.
    """

    per_row: int
    width: int
    height: int
    grid: tuple[tuple[str | None, ...], ...]
    grid_y: tuple[int, ...]
    where: dict[str, tuple[int, int]]  # node -> (grid row, grid column)
    xy: dict[str, tuple[int, int]]  # node -> (x, content line)
    lines: tuple[tuple[tuple[int, str], ...], ...]
    titles: tuple[tuple[tuple[int, int], ...], ...]


@dataclass(frozen=True, slots=True)
class _Context:
    """What one line's cells are drawn from (see `RackGrid._line_context`)."""

    styles: dict[str, Style]
    moment: Moment | None
    user: str | None
    selected: frozenset[str]
    preview: frozenset[str]
    marked: frozenset[str]
    dimmed: frozenset[str]


@dataclass
class _GridMessage(Message):
    """What every RackGrid message carries: the grid it came from (its `control`)."""

    grid: RackGrid

    @property
    def control(self) -> RackGrid:
        return self.grid


class RackGrid(ScrollView, can_focus=True):
    """All nodes in racks of `rackwidth` by `rackheight`, wrapped to the width, with a node cursor."""

    ALLOW_SELECT = False  # a drag over the racks is not a text selection; clicks move the cursor

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rack-grid--cursor",
        "rack-grid--title",
        "rack-grid--free",
        "rack-grid--selected",
        "rack-grid--dimmed",
    }
    """
    | Class | Description |
    | :- | :- |
    | `rack-grid--cursor` | The node cursor (applied on top of the cell's colours). |
    | `rack-grid--title` | The "rack N  free/total free" line above each rack. |
    | `rack-grid--free` | A node nobody holds at the viewed time. |
    | `rack-grid--selected` | Nodes of the reservation selected elsewhere (applied on top of its colour). |
    | `rack-grid--dimmed` | Nodes the property filter leaves out (applied on top of everything else). |
    """

    DEFAULT_CSS = """
    RackGrid {
        overflow-x: auto;
        overflow-y: auto;
        scrollbar-gutter: stable;
        height: 1fr;
        & > .rack-grid--title { text-style: bold; }
        & > .rack-grid--free { }
        & > .rack-grid--selected { text-style: reverse bold; }
        & > .rack-grid--dimmed { text-style: dim strike; }
        & > .rack-grid--cursor { text-style: reverse dim; }
        &:focus > .rack-grid--cursor { text-style: reverse bold underline; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "cursor_left", "Left", show=False, id="rack-grid.left"),
        Binding("right,l", "cursor_right", "Right", show=False, id="rack-grid.right"),
        Binding("up,k", "cursor_up", "Up", show=False, id="rack-grid.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="rack-grid.down"),
        Binding("pageup", "page_up", "Rack row up", show=False, id="rack-grid.page-up"),
        Binding("pagedown", "page_down", "Rack row down", show=False, id="rack-grid.page-down"),
        Binding("home", "first_node", "First node", show=False, id="rack-grid.first"),
        Binding("end", "last_node", "Last node", show=False, id="rack-grid.last"),
        Binding("space", "toggle_mark", "Mark", show=False, id="rack-grid.mark"),
        Binding("enter", "select_node", "Open node", show=False, id="rack-grid.select"),
    ]

    @dataclass
    class CursorMoved(_GridMessage):
        """The cursor is on another node (the screen highlights the reservation holding it)."""

        node: str

    @dataclass
    class NodeSelected(_GridMessage):
        """Enter, or a click on the cursor cell: the user wants this node's details."""

        node: str

    @dataclass
    class MarkedChanged(_GridMessage):
        """The user's marks changed (Space, `clear_marks`); they pre-fill "these nodes" in the submit form."""

        nodes: frozenset[str]

    view: var[ClusterView | None] = var(None, init=False)
    """The snapshot drawn; None draws every node as free (before the first refresh arrives)."""
    at: var[datetime | None] = var(None, init=False)
    """The instant drawn (the screen's time cursor); None means `view.now`."""
    selected: var[frozenset[str]] = var(frozenset(), init=False)
    """Nodes of the reservation selected in the table: drawn reversed and bold."""
    preview: var[frozenset[str]] = var(frozenset(), init=False)
    """Nodes of a speculation option being previewed: hatched, as they are not booked yet."""
    marked: var[frozenset[str]] = var(frozenset(), init=False)
    """Nodes marked with Space. Setting it does not post MarkedChanged (the setter already knows)."""
    dimmed: var[frozenset[str]] = var(frozenset(), init=False)
    """Nodes the screen's property filter leaves out: dim and struck through (an attribute, not a colour,
    so it reads on a monochrome terminal), still there to move over and open."""

    def __init__(
        self,
        naming: NodeNaming,
        rackwidth: int,
        rackheight: int,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.naming = naming
        self.rackwidth = max(1, rackwidth)
        self.rackheight = max(1, rackheight)
        self._all_nodes: tuple[str, ...] = naming.all()
        self._racks: list[tuple[str, ...]] = viewstate.racks(self._all_nodes, self.rackwidth, self.rackheight)
        numbers = {node: naming.number(node) for node in self._all_nodes}
        texts = {node: node if num is None else str(num) for node, num in numbers.items()}
        digits = max(len(text) for text in texts.values())
        self._labels: dict[str, str] = {node: text.rjust(digits) for node, text in texts.items()}
        self.cell_width = digits + 1
        """Columns per cell: the number right-aligned, then one glyph column that doubles as separator."""
        self.rack_width = self.rackwidth * self.cell_width
        self._cursor: str = self._all_nodes[0]
        self._moment: Moment | None = None
        self._line_cache: dict[int, Strip] = {}
        self._style_cache: dict[str, Style] = {}
        self._layout: _Layout = self._compute_layout(0)

    # ------------------------------------------------------------------------------------ public API

    @property
    def cursor_node(self) -> str:
        """The node under the cursor (kept across refreshes, time changes and resizes)."""
        return self._cursor

    def move_cursor_to(self, node: str) -> None:
        """Put the cursor on `node` (ignored if it is not a node of this cluster) and scroll to it."""
        if node in self._layout.where:
            self._set_cursor(node)

    def clear_marks(self) -> None:
        """Forget all marks (after the submit form used them); posts MarkedChanged if there were any."""
        if self.marked:
            self.marked = frozenset()
            self.post_message(self.MarkedChanged(self, self.marked))

    def show(self, view: ClusterView, at: datetime | None = None) -> None:
        """Draw `view` as it is at `at` (None: the view's now); the cursor and marks stay where they are."""
        self.view = view
        self.at = at

    @property
    def moment(self) -> Moment | None:
        """Who holds what at the viewed time; computed once per (view, at), not per line or per cell."""
        if self._moment is None and self.view is not None:
            self._moment = viewstate.moment(self.view, self.at)
        return self._moment

    def cell_region(self, node: str) -> Region:
        """The node's cell in content coordinates (before scrolling), e.g. to anchor a tooltip or a test."""
        x, y = self._layout.xy[node]
        return Region(x, y, self.cell_width, 1)

    def cell(self, node: str) -> tuple[str, Style]:
        """The text and style a node's cell is drawn with right now, cursor excluded.

        Glyph priority is down > blocked > marked > preview > mine, so the most urgent fact wins the one
        glyph column; the style follows the same order (a down node is red whoever holds it).
        """
        return self._cell(node, self._line_context())

    def _line_context(self) -> _Context:
        """Everything `_cell` reads, fetched once per line: reactive attribute reads are not free."""
        view = self.view
        return _Context(
            styles=self._styles(),
            moment=self.moment,
            user=None if view is None else view.user,
            selected=self.selected,
            preview=self.preview,
            marked=self.marked,
            dimmed=self.dimmed,
        )

    def _cell(self, node: str, ctx: _Context) -> tuple[str, Style]:
        styles = ctx.styles
        glyph = " "
        style = styles["free"]
        now = ctx.moment
        if now is not None and (res := now.holder.get(node)) is not None:
            mine = res.owner == ctx.user
            style = styles["base"] + palette.reservation_style(res.id, mine)
            # A glyph as well as the colour, so a monochrome terminal still tells held from free.
            glyph = palette.MINE_GLYPH if mine else palette.HELD_GLYPH
        if node in ctx.preview:
            style = styles["base"] + palette.PREVIEW_STYLE
            glyph = palette.PREVIEW_GLYPH
        if node in ctx.marked:
            glyph = palette.MARKED_GLYPH
        if now is not None:
            if node in now.down:
                style = styles["base"] + palette.DOWN_STYLE
                glyph = palette.DOWN_GLYPH
            elif node in now.blocked:
                style = styles["base"] + palette.BLOCKED_STYLE
                glyph = palette.BLOCKED_GLYPH
        if node in ctx.selected:
            style += styles["selected"]
        if node in ctx.dimmed:
            style += styles["dimmed"]
        return self._labels[node] + glyph, style

    # ------------------------------------------------------------------------------------ layout

    def _compute_layout(self, width: int) -> _Layout:
        """Place racks side by side as many as fit in `width`, bands of racks one below the other.

        Each band is a title line, `rackheight` node lines and a blank line before the next band.
        """
        rw, rh = self.rackwidth, self.rackheight
        per_row = max(1, (width + RACK_GAP) // (self.rack_width + RACK_GAP))
        per_row = min(per_row, len(self._racks))
        bands = -(-len(self._racks) // per_row)
        band_height = rh + 2
        height = bands * band_height - 1
        grid: list[list[str | None]] = [[None] * (per_row * rw) for _ in range(bands * rh)]
        lines: list[list[tuple[int, str]]] = [[] for _ in range(height)]
        titles: list[list[tuple[int, int]]] = [[] for _ in range(height)]
        where: dict[str, tuple[int, int]] = {}
        xy: dict[str, tuple[int, int]] = {}
        for index, rack in enumerate(self._racks):
            band, slot = divmod(index, per_row)
            left = slot * (self.rack_width + RACK_GAP)
            titles[band * band_height].append((left, index))
            for i, node in enumerate(rack):
                row, col = divmod(i, rw)
                grid_row, grid_col = band * rh + row, slot * rw + col
                x, y = left + col * self.cell_width, band * band_height + 1 + row
                grid[grid_row][grid_col] = node
                where[node] = (grid_row, grid_col)
                xy[node] = (x, y)
                lines[y].append((x, node))
        grid_y = tuple((r // rh) * band_height + 1 + r % rh for r in range(bands * rh))
        return _Layout(
            per_row=per_row,
            width=per_row * self.rack_width + (per_row - 1) * RACK_GAP,
            height=height,
            grid=tuple(tuple(row) for row in grid),
            grid_y=grid_y,
            where=where,
            xy=xy,
            lines=tuple(tuple(sorted(line)) for line in lines),
            titles=tuple(tuple(title) for title in titles),
        )

    def _relayout(self) -> None:
        """Re-wrap the racks for the current width (on mount and resize); keeps the cursor node."""
        width = self.scrollable_content_region.width or self.size.width
        layout = self._compute_layout(width)
        if layout.per_row != self._layout.per_row:
            self._layout = layout
            self._line_cache.clear()
        self.virtual_size = Size(self._layout.width, self._layout.height)
        self.refresh()
        self._scroll_to_cursor()

    def on_mount(self) -> None:
        self._relayout()

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()

    # ------------------------------------------------------------------------------------ invalidation

    def notify_style_update(self) -> None:
        """Theme, focus or CSS changed: component styles are stale, so every cached line is too."""
        super().notify_style_update()
        self._style_cache.clear()
        self._line_cache.clear()
        self.refresh()

    def _invalidate(self) -> None:
        self._line_cache.clear()
        self.refresh()

    def _refresh_nodes(self, nodes: Iterable[str], *, titles: bool = False) -> None:
        """Repaint only the lines holding `nodes` (marks and cursor moves touch one or two lines), and
        with `titles` the title lines of their racks (whose free counts may change with them)."""
        ys = {self._layout.xy[node][1] for node in nodes if node in self._layout.xy}
        if titles:
            band = self.rackheight + 2
            ys |= {y // band * band for y in ys}
        if len(ys) > _MANY_LINES:
            self._invalidate()
            return
        for y in ys:
            self._line_cache.pop(y, None)
            self.refresh_line(y)

    def watch_view(self) -> None:
        self._moment = None
        self._invalidate()

    def watch_at(self) -> None:
        """A time-cursor step: repaint only the cells whose holder or block changes at the new time."""
        old = self._moment
        self._moment = None
        new = self.moment
        if old is None or new is None:
            self._invalidate()
            return
        self._refresh_nodes(viewstate.changed_nodes(old, new), titles=True)

    def watch_selected(self, old: frozenset[str], new: frozenset[str]) -> None:
        self._refresh_nodes(old ^ new)

    def watch_preview(self, old: frozenset[str], new: frozenset[str]) -> None:
        self._refresh_nodes(old ^ new)

    def watch_marked(self, old: frozenset[str], new: frozenset[str]) -> None:
        self._refresh_nodes(old ^ new)

    def watch_dimmed(self, old: frozenset[str], new: frozenset[str]) -> None:
        self._refresh_nodes(old ^ new)

    # ------------------------------------------------------------------------------------ rendering

    def _styles(self) -> dict[str, Style]:
        """Widget and component styles, looked up once per style change instead of once per cell."""
        cache = self._style_cache
        if not cache:
            cache["base"] = self.rich_style
            cache["free"] = self.get_component_rich_style("rack-grid--free")
            cache["title"] = self.get_component_rich_style("rack-grid--title")
            cache["selected"] = self.get_component_rich_style("rack-grid--selected", partial=True)
            cache["dimmed"] = self.get_component_rich_style("rack-grid--dimmed", partial=True)
            cache["cursor"] = self.get_component_rich_style("rack-grid--cursor", partial=True)
        return cache

    def _cursor_style(self, style: Style) -> Style:
        """The cursor over a cell: a reversing cursor on an already reversed (selected) cell un-reverses it,
        as a terminal cursor does, so the cursor stays visible inside the selection without colour."""
        cursor = self._styles()["cursor"]
        if style.reverse and cursor.reverse:
            return style + cursor + Style(reverse=False)
        return style + cursor

    def _rack_title(self, index: int, now: Moment | None) -> str:
        """ "rack 3  31/40 free": free means nobody holds it and it is neither down nor blocked."""
        rack = self._racks[index]
        if now is None:
            free = len(rack)
        else:
            free = sum(1 for n in rack if n not in now.holder and n not in now.down and n not in now.blocked)
        text = f"rack {index + 1}  {free}/{len(rack)} free"
        return text[: self.rack_width]

    def _render_content_line(self, y: int) -> Strip:
        """One full-width content line, cached until something on it changes."""
        strip = self._line_cache.get(y)
        if strip is None:
            strip = self._line_cache[y] = self._build_line(y)
        return strip

    def _build_line(self, y: int) -> Strip:
        """Format content line `y` from the precomputed layout: only string and style work, no geometry."""
        ctx = self._line_context()
        styles = ctx.styles
        base = styles["base"]
        segments: list[Segment] = []
        at_x = 0
        layout = self._layout
        if 0 <= y < layout.height:
            for x, index in layout.titles[y]:
                if x > at_x:
                    segments.append(Segment(" " * (x - at_x), base))
                text = self._rack_title(index, ctx.moment)
                segments.append(Segment(text, styles["title"]))
                at_x = x + len(text)
            for x, node in layout.lines[y]:
                if x > at_x:
                    segments.append(Segment(" " * (x - at_x), base))
                text, style = self._cell(node, ctx)
                if node == self._cursor:
                    style = self._cursor_style(style)
                segments.append(Segment(text, style))
                at_x = x + self.cell_width
        return Strip(segments, at_x)

    def render_line(self, y: int) -> Strip:
        """Line `y` of the visible area: the cached content line, cropped to the horizontal scroll."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        strip = self._render_content_line(scroll_y + y)
        return strip.crop_extend(scroll_x, scroll_x + width, self._styles()["base"])

    # ------------------------------------------------------------------------------------ cursor

    def _set_cursor(self, node: str) -> None:
        old = self._cursor
        if node == old:
            self._scroll_to_cursor()
            return
        self._cursor = node
        self._refresh_nodes((old, node))
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self, node))

    def _scroll_to_cursor(self) -> None:
        """Keep the cursor visible; on a rack's first row also show the rack's title above it."""
        x, y = self._layout.xy[self._cursor]
        grid_row = self._layout.where[self._cursor][0]
        top = y - 1 if grid_row % self.rackheight == 0 else y
        region = Region(x, top, self.cell_width, y - top + 1)
        self.scroll_to_region(region, animate=False, force=True, immediate=True)

    def _nearest_in_row(self, grid_row: int, column: int) -> str | None:
        """The node in `grid_row` closest to `column` (left wins ties), for up/down into ragged rows."""
        row = self._layout.grid[grid_row]
        best: tuple[int, int, str] | None = None
        for col, node in enumerate(row):
            if node is not None:
                key = (abs(col - column), col, node)
                if best is None or key < best:
                    best = key
        return None if best is None else best[2]

    def _move_vertical(self, step: int, rows: int = 1) -> None:
        layout = self._layout
        grid_row, column = layout.where[self._cursor]
        target = grid_row + step * rows
        target = max(0, min(len(layout.grid) - 1, target))
        # Skip rows left empty by a partial last rack, in the direction of travel.
        candidates = range(target, len(layout.grid)) if step > 0 else range(target, -1, -1)
        for row in candidates:
            if row == grid_row:
                break
            node = self._nearest_in_row(row, column)
            if node is not None:
                self._set_cursor(node)
                return

    def _move_horizontal(self, step: int) -> None:
        layout = self._layout
        grid_row, column = layout.where[self._cursor]
        row = layout.grid[grid_row]
        col = column + step
        while 0 <= col < len(row):
            node = row[col]
            if node is not None:
                self._set_cursor(node)
                return
            col += step

    def action_cursor_left(self) -> None:
        self._move_horizontal(-1)

    def action_cursor_right(self) -> None:
        self._move_horizontal(1)

    def action_cursor_up(self) -> None:
        self._move_vertical(-1)

    def action_cursor_down(self) -> None:
        self._move_vertical(1)

    def action_page_up(self) -> None:
        self._move_vertical(-1, self.rackheight)

    def action_page_down(self) -> None:
        self._move_vertical(1, self.rackheight)

    def action_first_node(self) -> None:
        self._set_cursor(self._all_nodes[0])

    def action_last_node(self) -> None:
        self._set_cursor(self._all_nodes[-1])

    def action_toggle_mark(self) -> None:
        self.marked = self.marked ^ {self._cursor}
        self.post_message(self.MarkedChanged(self, self.marked))

    def action_select_node(self) -> None:
        self.post_message(self.NodeSelected(self, self._cursor))

    def node_at(self, x: int, y: int) -> str | None:
        """The node drawn at content coordinates (x, y), or None for titles, gaps and blanks."""
        if not 0 <= y < self._layout.height:
            return None
        for left, node in self._layout.lines[y]:
            if left <= x < left + self.cell_width:
                return node
        return None

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor; a click on the cursor cell opens the node, like Enter."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        node = self.node_at(offset.x + scroll_x, offset.y + scroll_y)
        if node is None:
            return
        event.stop()
        if node == self._cursor:
            self.post_message(self.NodeSelected(self, node))
        else:
            self._set_cursor(node)
