"""`?`: every key binding of the dashboard and its widgets, gathered from the bindings themselves so
the help can never drift from what the keys really do."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keynames import key_name, keys_name
from ..widgets.legend import legend_text

# Imported for their BINDINGS only (the help lists what each part of the screen answers to).
from ..widgets.rack_grid import RackGrid
from ..widgets.reservation_table import ReservationTable
from ..widgets.timeline import Timeline
from .details import ExtendScreen, ReservationScreen
from .speculate import SpeculateScreen
from .submit import SubmitScreen

COLUMN_WIDTH = 40
"""Cells per help column: the longest key list plus the longest description fit."""


def binding_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    rows: dict[str, list[str]] = {}
    for b in bindings:
        if not isinstance(b, Binding) or not b.description:
            continue
        rows.setdefault(b.description, []).append(keys_name(b.key))
    return [(", ".join(keys), desc) for desc, keys in rows.items()]


def sections(everywhere: list[BindingType]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The help's sections; `everywhere` is the bindings of the screen that opened the help (the
    dashboard's), handed in so the help does not import the screen that imports it."""
    return [
        (
            "Everywhere",
            [
                *binding_rows(everywhere),
                (key_name("ctrl+p"), "Command palette"),
                ("Tab", "Next panel"),
            ],
        ),
        ("Racks", binding_rows(RackGrid.BINDINGS)),
        ("Reservations table", [*binding_rows(ReservationTable.BINDINGS), ("Enter", "Open the reservation")]),
        ("Timeline", binding_rows(Timeline.BINDINGS)),
        ("Submit form", binding_rows(SubmitScreen.BINDINGS)),
        (
            "Speculation list",
            [
                *binding_rows(SpeculateScreen.BINDINGS),
                (f"{key_name('up')}, {key_name('down')}", "Preview an option"),
            ],
        ),
        ("Reservation detail", binding_rows(ReservationScreen.BINDINGS)),
        ("Extend dialog", [*binding_rows(ExtendScreen.BINDINGS), ("Enter", "Extend")]),
    ]


class HelpScreen(ModalScreen[None]):
    """All keys, grouped by where they work, in as many columns as the terminal holds, then the legend."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(self, everywhere: list[BindingType]) -> None:
        super().__init__()
        self.everywhere = everywhere

    def compose(self) -> ComposeResult:
        width = self.app.size.width
        columns = max(1, min(3, (width - 6) // COLUMN_WIDTH))
        with Vertical(id="help", classes="dialog"):
            with VerticalScroll():
                yield Static(
                    "[b]Legend[/] (L toggles it on the dashboard)\n" + legend_text(width - 10),
                    id="help-legend",
                )
                grid = Grid(id="help-grid")
                grid.styles.grid_size_columns = columns
                with grid:
                    for title, rows in sections(self.everywhere):
                        keys_w = max(len(keys) for keys, _desc in rows)
                        text = "\n".join(f"  {keys:<{keys_w}}  {desc}" for keys, desc in rows)
                        yield Static(f"[b]{title}[/]\n{escape(text)}", classes="help-section")
            yield Static("[dim]Esc close[/]")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "igor-tui keys"

    def action_close(self) -> None:
        self.dismiss(None)
