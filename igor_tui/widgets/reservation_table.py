"""The reservation table: one row per live reservation, sortable, filterable, coloured like the racks.

A DataTable (already Line-API based) that keeps its cursor on the same reservation across refreshes, so
a live update from another user never yanks the selection away.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from ..hostlist import NodeNaming
from ..model import ClusterView, Reservation
from ..timeparse import format_duration
from .palette import MINE_GLYPH, reservation_style

SORTS: tuple[str, ...] = ("start", "name", "owner", "end", "size")
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("NAME", "name", 10),
    ("OWNER", "owner", 6),
    ("LEFT", "left", 7),
    ("FL", "flags", 4),
    ("START", "start", 9),
    ("END", "end", 9),
    ("NODES", "nodes", 18),
)
"""(label, key, width): widths include the one-space gap to the next column (cell padding is 0)."""


def _cell(text: str, width: int, style: str | Style = "") -> Text:
    """Text cut to leave the column's last character blank, with an ellipsis when cut."""
    if len(text) >= width:
        text = text[: max(0, width - 2)] + "…"
    return Text(text, style=style)


"""Sort keys in the order `o` cycles through them."""


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
    """At most 8 characters: `14:05` today, `Tu 14:05` within a week, `Jun 02` further away."""
    local, today = when.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if abs((local.date() - today.date()).days) < 7:
        return local.strftime("%a")[:2] + local.strftime(" %H:%M")
    if local.year == today.year:
        return local.strftime("%b %d")
    return local.strftime("%Y-%m")


def res_flags(res: Reservation, now: datetime, writable: bool) -> str:
    """Classic igor's flags: A active, W writable by you, I installed, E install error."""
    return (
        ("A" if res.is_active(now) else "")
        + ("W" if writable else "")
        + ("I" if res.installed else "")
        + ("E" if res.error else "")
    )


def matches(res: Reservation, text: str, naming: NodeNaming) -> bool:
    """`/` filter: a substring of the name or owner, or a node (kn12, kn[3-5]) the reservation holds."""
    needle = text.strip()
    if not needle:
        return True
    low = needle.lower()
    if low in res.name.lower() or low in res.owner.lower() or (res.group and low in res.group.lower()):
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

    def on_mount(self) -> None:
        # Fixed widths, most glanceable first: the table shares a 120-column terminal with two racks, so
        # NODES (the widest) goes last and the line under the table names the selection in full.
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

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
        signature = (view.reservations, view.now, self.sort_key, self.reverse, self.filter_text)
        if signature == self._signature:
            return
        self._signature = signature
        keep = self.current.id if self.current is not None else None
        rows = self._sort([r for r in view.reservations if matches(r, self.filter_text, self.naming)])
        self.listed = rows
        now, tz = view.now, self.tz
        compress = self.naming.compressor()
        self.clear()
        widths = {key: width for _label, key, width in COLUMNS}
        for res in rows:
            mine = res.owner == view.user
            swatch = reservation_style(res.id, mine)
            name = _cell(res.name + (MINE_GLYPH if mine else ""), widths["name"], swatch)
            try:
                nodes = compress(res.nodes)
            except ValueError:
                nodes = ",".join(res.nodes)
            flags = res_flags(res, now, self.can_write(res))
            self.add_row(
                name,
                _cell(res.owner, widths["owner"]),
                _cell(time_left(res, now, short=True), widths["left"]),
                _cell(flags, widths["flags"], "bold red" if res.error else ""),
                _cell(short_time(res.start, tz, now), widths["start"]),
                _cell(short_time(res.end, tz, now), widths["end"]),
                _cell(nodes, widths["nodes"]),
                key=str(res.id),
            )
        index = 0
        if keep is not None:
            index = next((i for i, r in enumerate(rows) if r.id == keep), 0)
        if rows:
            self.move_cursor(row=index, animate=False)
        self.post_message(self.Highlighted(self.current))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self.current))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        res = self.current
        if res is not None:
            self.post_message(self.Opened(res))
