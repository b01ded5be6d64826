"""Keyboard-driven slot picking: the next options for a request, previewed as the cursor moves.

Enter books exactly the highlighted option (its start becomes the request's -a, which the scheduler
honours to the minute); Esc goes back to the form with everything as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..dates import span_text
from ..errors import IgorError, PlanChanged
from ..model import Reservation, Slot
from ..service import IgorService, SubmitRequest
from ..timeparse import format_duration
from ..widgets.fit import column_widths, fit_nodes
from ..widgets.palette import PREVIEW_GLYPH
from ..widgets.reservation_table import short_time


@dataclass(frozen=True, slots=True)
class SpeculationOutcome:
    """Booked (with the reservation), or backed out (booked is None) with the request to re-edit."""

    request: SubmitRequest
    booked: Reservation | None = None


class SpeculateScreen(ModalScreen[SpeculationOutcome | None]):
    """The options list, docked at the bottom so the racks and timeline above show the preview."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back to the form", id="spec.back"),
        Binding("enter", "book", "Book this slot", id="spec.book", priority=True),
    ]

    def __init__(
        self,
        service: IgorService,
        request: SubmitRequest,
        slots: list[Slot],
        preview: Callable[[Slot | None], None],
    ) -> None:
        super().__init__()
        self.service = service
        self.request = request
        self.slots = slots
        self._preview = preview
        self.booking = False

    def compose(self) -> ComposeResult:
        with Vertical(id="speculation"):
            yield DataTable[Text](id="slots", cursor_type="row", cell_padding=0)
            yield Static("", id="slot-line")
            yield Static(
                f"↑↓ preview ({PREVIEW_GLYPH} in racks, timeline) · [b]Enter[/] Book · Esc Back",
                id="speculation-keys",
            )

    def on_mount(self) -> None:
        req = self.request
        size = req.nodes or f"{req.count} nodes"
        duration = format_duration(self.service._duration(req.duration))
        self.query_one("#speculation").border_title = f"When can I get {size} for {duration}?"
        table = self.query_one("#slots", DataTable)
        self._fill(table, table.scrollable_content_region.width or 48)
        table.focus()
        if self.slots:
            self._preview(self.slots[0])
            self._describe(self.slots[0])

    def on_resize(self) -> None:
        table = self.query_one("#slots", DataTable)
        row = table.cursor_row
        self._fill(table, table.scrollable_content_region.width)
        table.move_cursor(row=row, animate=False)

    def _fill(self, table: DataTable[Text], width: int) -> None:
        """Columns as wide as what they show; node lists cut only after a whole range (the line under
        the table has the highlighted option's full list)."""
        tz, now = self.service.config.tz, self.service.now()
        compress = self.service.naming.compress
        texts = [
            (str(i), short_time(s.start, tz, now), short_time(s.end, tz, now), str(s.free), compress(s.nodes))
            for i, s in enumerate(self.slots, 1)
        ]
        headers = ["#", "START", "END", "FREE", "NODES"]
        widths = column_widths(headers, texts, flexible=4, total=max(width, 30))
        table.clear(columns=True)
        for label, col_width in zip(headers, widths, strict=True):
            table.add_column(label, width=col_width)
        for i, (row, slot) in enumerate(zip(texts, self.slots, strict=True)):
            table.add_row(
                *(Text(cell) for cell in row[:3]),
                Text(row[3]),
                Text(fit_nodes(row[4], widths[4] - 1, len(slot.nodes))),
                key=str(i),
            )

    def _describe(self, slot: Slot | None) -> None:
        if slot is None:
            return
        tz, now = self.service.config.tz, self.service.now()
        nodes = self.service.naming.compress(slot.nodes)
        self.query_one("#slot-line", Static).update(
            f"{span_text(slot.start, slot.end, tz, now)} on {len(slot.nodes)} node(s): {nodes}"
        )

    @property
    def current(self) -> Slot | None:
        table = self.query_one("#slots", DataTable)
        if not self.slots or not 0 <= table.cursor_row < len(self.slots):
            return None
        return self.slots[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._preview(self.current)
        self._describe(self.current)

    def action_back(self) -> None:
        self.dismiss(SpeculationOutcome(self.request))

    def action_book(self) -> None:
        slot = self.current
        if slot is None or self.booking:
            return
        self.booking = True
        # The option's start, written so it parses back to the same minute in any zone.
        req = replace(self.request, after=slot.start.isoformat())
        self._book(req, slot)

    @work(thread=True, exclusive=True, group="spec-book", exit_on_error=False)
    def _book(self, req: SubmitRequest, slot: Slot) -> None:
        missing = self.service.field_errors(req).keys() - {"nodes", "count", "duration", "after", "limits"}
        if missing:
            # Speculating needs no name or boot files, booking does: back to the form, start filled in.
            self.app.call_from_thread(
                self.notify, "fill in the form to book this slot (its start is kept)", title="igor"
            )
            self.app.call_from_thread(self.dismiss, SpeculationOutcome(req))
            return
        try:
            res = self.service.submit(req, expect=slot)  # exactly this option, or nothing
        except PlanChanged as err:
            gone = f"this option is gone: {err}. Esc, then Ctrl+S lists fresh ones"
            self.app.call_from_thread(self._refused, gone)
            return
        except IgorError as err:
            self.app.call_from_thread(self._refused, str(err))
            return
        self.app.call_from_thread(self.dismiss, SpeculationOutcome(replace(req, after=""), booked=res))

    def _refused(self, text: str) -> None:
        self.booking = False
        self.notify(text, title="igor", severity="error", timeout=8)
