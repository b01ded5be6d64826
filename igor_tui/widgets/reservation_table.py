"""The reservation table: one row per live reservation, sortable, filterable, coloured like the racks.

A DataTable (already Line-API based) that keeps its cursor on the same reservation across refreshes, so
a live update from another user never yanks the selection away.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from ..dates import compact_text
from ..hostlist import NodeNaming
from ..model import ClusterView, Reservation
from ..timeparse import format_duration
from .fit import column_widths, fit_nodes
from .palette import MINE_GLYPH, reservation_style

SORTS: tuple[str, ...] = ("start", "name", "owner", "end", "size")
"""Sort keys in the order `o` cycles through them."""
COLUMNS: tuple[tuple[str, str], ...] = (
    ("NAME", "name"),
    ("OWNER", "owner"),
    ("LEFT", "left"),
    ("FL", "flags"),
    ("START", "start"),
    ("END", "end"),
    ("NODES", "nodes"),
)
"""(label, key), most glanceable first; widths are computed from what is shown (see widgets/fit.py)."""
SORT_COLUMN = {"start": "start", "name": "name", "owner": "owner", "end": "end", "size": "nodes"}
"""Which column header carries the sort indicator for each sort key."""
DROP_ORDER = ("flags", "left", "end")
"""Columns left out, in this order, when the table is too narrow for them and a readable NODES column
(the summary line under the table has the selected reservation's flags, time left and end)."""
NODES_MIN = 14
UNLAID_WIDTH = 46
FIRST_ROWS = 60
"""Rows built before the first paint; the rest follow right after it. DataTable measures every cell of
every new row, which for 1,000 reservations was the largest part of the first paint (bench/tui_bench.py)."""
"""Columns for the rows before the table has a size: what it gets beside two racks at 120 columns."""
NAME_MAX, OWNER_MAX = 20, 12  # longer names and owners end in an ellipsis; the summary line has them whole


def _cap(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def time_left(res: Reservation, now: datetime, *, short: bool = False) -> str:
    """What a user wants to know at a glance: how long until it starts, or how long it still runs.

    `short` drops the word "left" and the minutes of long spans so it fits a 7-character column."""

    def span(minutes: int) -> str:
        if short and minutes >= 600:
            return f"{minutes // 1440}d{minutes % 1440 // 60}h" if minutes >= 1440 else f"{minutes // 60}h"
        return format_duration(minutes)

    if res.end <= now:
        return "ended"
    if res.start > now:
        return ("+" if short else "in ") + span(int((res.start - now).total_seconds() // 60))
    left = span(int((res.end - now).total_seconds() // 60))
    return left if short else left + " left"


def short_time(when: datetime, tz: tzinfo, now: datetime) -> str:
    """A time in a table cell, in the one date policy (dates.compact_text): `14:05` today, `Jun 02 14:05`
    this year, `2027 Sep 25` another year."""
    return compact_text(when, tz, now)


def res_flags(res: Reservation, now: datetime, writable: bool) -> str:
    """Classic igor's flags: A active, W writable by you, I installed, E install error; H healed."""
    return (
        ("A" if res.is_active(now) else "")
        + ("W" if writable else "")
        + ("I" if res.installed else "")
        + ("E" if res.error else "")
        + ("H" if res.healed else "")
    )


def matches(res: Reservation, text: str, naming: NodeNaming) -> bool:
    """`/` filter: a substring of the name, owner, group or description, or a node (kn12, kn[3-5]) the
    reservation holds."""
    needle = text.strip()
    if not needle:
        return True
    low = needle.lower()
    if low in res.name.lower() or low in res.owner.lower() or (res.group and low in res.group.lower()):
        return True
    if res.desc and low in res.desc.lower():
        return True
    try:
        wanted = naming.expand(needle)
    except Exception:  # noqa: BLE001 - any text that is not a node list simply matches no node
        return False
    held = set(res.nodes)
    return any(node in held for node in wanted)


class ReservationTable(DataTable[Text]):
    """Live reservations; highlighting a row tells the screen which reservation to outline elsewhere."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "cycle_sort", "Sort", id="table.sort"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, id="table.reverse"),
    ]

    class Highlighted(Message):
        """The cursor is on `reservation` (None: the table is empty)."""

        def __init__(self, reservation: Reservation | None) -> None:
            super().__init__()
            self.reservation = reservation

    class Opened(Message):
        """Enter on a row: open the reservation's detail."""

        def __init__(self, reservation: Reservation) -> None:
            super().__init__()
            self.reservation = reservation

    def __init__(
        self,
        naming: NodeNaming,
        tz: tzinfo,
        can_write: Callable[[Reservation], bool],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self.naming = naming
        self.tz = tz
        self.can_write = can_write
        self.sort_key = "start"
        self.reverse = False
        self.filter_text = ""
        self.view: ClusterView | None = None
        self.listed: list[Reservation] = []
        self._signature: object = None

    def on_resize(self) -> None:
        self._rebuild()

    # -------------------------------------------------------------------------------- data in

    def show(self, view: ClusterView) -> None:
        """Redraw for a new snapshot, keeping the cursor on the same reservation."""
        self.view = view
        self._rebuild()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild()

    @property
    def current(self) -> Reservation | None:
        if not self.listed or not 0 <= self.cursor_row < len(self.listed):
            return None
        return self.listed[self.cursor_row]

    def select_reservation(self, res_id: int) -> None:
        """Move the cursor to reservation `res_id` if it is listed (the rack cursor asks for this)."""
        try:
            index = self.get_row_index(str(res_id))
        except RowDoesNotExist:
            return
        if index != self.cursor_row:
            self.move_cursor(row=index)

    # -------------------------------------------------------------------------------- sorting

    def action_cycle_sort(self) -> None:
        self.sort_key = SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)]
        self.notify(f"sorted by {self.sort_key}", timeout=1.5)
        self._rebuild()

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self._rebuild()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        key = {"nodes": "size", "flags": "start", "left": "end"}.get(key, key)
        if key == self.sort_key:
            self.reverse = not self.reverse
        else:
            self.sort_key, self.reverse = key, False
        self._rebuild()

    def _sort(self, rows: list[Reservation]) -> list[Reservation]:
        keys: dict[str, Callable[[Reservation], tuple[object, ...]]] = {
            "start": lambda r: (r.start, r.id),
            "name": lambda r: (r.name.lower(), r.start),
            "owner": lambda r: (r.owner, r.start, r.id),
            "end": lambda r: (r.end, r.id),
            "size": lambda r: (-len(r.nodes), r.start, r.id),
        }
        return sorted(rows, key=keys[self.sort_key], reverse=self.reverse)

    # -------------------------------------------------------------------------------- drawing

    def _rebuild(self) -> None:
        view = self.view
        if view is None:
            return
        # Room for a vertical scrollbar is always kept: widths that changed when it appears would
        # rebuild 1,000 rows a second time right after the first paint. Before the table is laid out
        # (or while its tab is hidden) the rows are built for the width it gets in a 120-column
        # terminal, so the first paint there needs no second build either; the rows must exist even
        # when hidden, because the rack cursor selects reservations through them.
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width <= 0:
            width = UNLAID_WIDTH
        signature = (view.reservations, view.now, self.sort_key, self.reverse, self.filter_text, width)
        if signature == self._signature:
            return
        first = self._signature is None
        self._signature = signature
        keep = self.current.id if self.current is not None else None
        rows = self._sort([r for r in view.reservations if matches(r, self.filter_text, self.naming)])
        self.listed = rows
        texts = self._texts(view, rows)
        arrow = " ▼" if self.reverse else " ▲"
        sorted_by = SORT_COLUMN[self.sort_key]
        keys = [key for _label, key in COLUMNS]
        for optional in (None, *DROP_ORDER):
            if optional is not None:
                keys.remove(optional)
            shown = [i for i, (_l, key) in enumerate(COLUMNS) if key in keys]
            headers = [COLUMNS[i][0] + (arrow if COLUMNS[i][1] == sorted_by else "") for i in shown]
            cells = [tuple(row[i] for i in shown) for row in texts]
            widths = column_widths(headers, cells, flexible=len(shown) - 1, total=width)
            if sum(widths[:-1]) + NODES_MIN <= width:
                break
        self.clear(columns=True)
        for header, i, col_width in zip(headers, shown, widths, strict=True):
            self.add_column(header, key=COLUMNS[i][1], width=col_width)
        pending = list(zip(rows, cells, strict=True))
        now = pending[:FIRST_ROWS] if first else pending
        flags = keys.index("flags") if "flags" in keys else None
        self._add_rows(now, view.user, flags, widths[-1] - 1)
        if len(now) < len(pending):
            rest = pending[len(now) :]
            self.call_after_refresh(self._add_rest, rest, view.user, flags, widths[-1] - 1, signature)
        index = 0
        if keep is not None:
            index = next((i for i, r in enumerate(rows) if r.id == keep), 0)
        if rows:
            self.move_cursor(row=index, animate=False)
        self._highlighted()

    def _add_rows(
        self, rows: list[tuple[Reservation, tuple[str, ...]]], user: str, flags: int | None, room: int
    ) -> None:
        """Rows from their texts: the name in the reservation's colour, flags red on an error."""
        for res, row in rows:
            styled = [Text(cell) for cell in row[:-1]]
            styled[0].stylize(reservation_style(res.id, res.owner == user))
            if res.error and flags is not None:
                styled[flags].stylize("bold red")
            self.add_row(*styled, Text(fit_nodes(row[-1], room, len(res.nodes))), key=str(res.id))

    def _add_rest(
        self,
        rows: list[tuple[Reservation, tuple[str, ...]]],
        user: str,
        flags: int | None,
        room: int,
        signature: object,
    ) -> None:
        """The rows left out of the first paint, unless a newer rebuild has already built them all."""
        if signature is self._signature:
            self._add_rows(rows, user, flags, room)

    def _texts(self, view: ClusterView, rows: list[Reservation]) -> list[tuple[str, ...]]:
        """Every cell's text, before widths are known (the widths are computed from these)."""
        now, tz = view.now, self.tz
        compress = self.naming.compressor()
        texts: list[tuple[str, ...]] = []
        for res in rows:
            try:
                nodes = compress(res.nodes)
            except ValueError:
                nodes = ",".join(res.nodes)
            texts.append(
                (
                    _cap(res.name + (MINE_GLYPH if res.owner == view.user else ""), NAME_MAX),
                    _cap(res.owner, OWNER_MAX),
                    time_left(res, now, short=True),
                    res_flags(res, now, self.can_write(res)),
                    short_time(res.start, tz, now),
                    short_time(res.end, tz, now),
                    nodes,
                )
            )
        return texts

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._highlighted()

    def _highlighted(self) -> None:
        """Tell the screen, and make the description the table's tooltip: too long for a column, it is
        what a user hovering over a row wants to read."""
        res = self.current
        self.tooltip = res.desc if res is not None and res.desc else None
        self.post_message(self.Highlighted(res))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        res = self.current
        if res is not None:
            self.post_message(self.Opened(res))
