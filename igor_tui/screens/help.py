"""`?`: every key binding of the dashboard and its widgets, gathered from the bindings themselves so
the help can never drift from what the keys really do."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# Imported for their BINDINGS only (the help lists what each part of the screen answers to).
from ..widgets.rack_grid import RackGrid
from ..widgets.reservation_table import ReservationTable
from ..widgets.timeline import Timeline
from .details import ReservationScreen
from .speculate import SpeculateScreen
from .submit import SubmitScreen


def _key_name(key: str) -> str:
    names = {
        "slash": "/",
        "question_mark": "?",
        "escape": "Esc",
        "enter": "Enter",
        "space": "Space",
        "plus": "+",
        "minus": "-",
        "equals_sign": "=",
        "equal": "=",
        "pageup": "PgUp",
        "pagedown": "PgDn",
    }
    return ", ".join(
        names.get(k, k.replace("ctrl+", "Ctrl+").replace("shift+", "Shift+")) for k in key.split(",")
    )


def binding_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    rows: dict[str, list[str]] = {}
    for b in bindings:
        if not isinstance(b, Binding) or not b.description:
            continue
        rows.setdefault(b.description, []).append(_key_name(b.key))
    return [(", ".join(keys), desc) for desc, keys in rows.items()]


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    from .dashboard import DashboardScreen

    return [
        (
            "Everywhere",
            [*binding_rows(DashboardScreen.BINDINGS), ("Ctrl+P", "Command palette"), ("Tab", "Next panel")],
        ),
        ("Racks", binding_rows(RackGrid.BINDINGS)),
        ("Reservations table", [*binding_rows(ReservationTable.BINDINGS), ("Enter", "Open the reservation")]),
        ("Timeline", binding_rows(Timeline.BINDINGS)),
        ("Submit form", binding_rows(SubmitScreen.BINDINGS)),
        ("Speculation list", [*binding_rows(SpeculateScreen.BINDINGS), ("↑ ↓", "Preview an option")]),
        ("Reservation detail", binding_rows(ReservationScreen.BINDINGS)),
    ]


class HelpScreen(ModalScreen[None]):
    """All keys, grouped by where they work."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        lines: list[str] = []
        for title, rows in sections():
            lines.append(f"[b]{title}[/]")
            for keys, desc in rows:
                lines.append(f"  {keys:<22} {desc}")
            lines.append("")
        lines.append("Colours: one per reservation everywhere; yours are bold, underlined and marked *.")
        lines.append("Glyphs: ✗ down  ▒ blocked  • marked  * yours  · someone's")
        lines.append("        ░ speculation preview  ┊ now  │ time cursor")
        with Vertical(id="help", classes="dialog"):
            with VerticalScroll():
                yield Static("\n".join(lines), id="help-text")
            yield Static("[dim]Esc close[/]")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "igor-tui keys"

    def action_close(self) -> None:
        self.dismiss(None)
