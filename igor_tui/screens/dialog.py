"""The base of the dialogs that act on one reservation (extend, its nodes), shared by details.py and
resize.py so neither imports the other."""

from __future__ import annotations

from collections.abc import Callable

from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from ..model import Reservation
from ..service import IgorService

NARROW_DIALOG = 100
"""Below this many columns a dialog's buttons are compact (one line, no border)."""


def fit_buttons(screen: DOMNode, width: int) -> None:
    """At 80 columns a row of six bordered buttons (16 columns each) runs past the dialog and hides the
    last ones (Close among them); compact buttons keep every action in sight."""
    for button in screen.query(".buttons Button").results(Button):
        button.compact = width < NARROW_DIALOG


class ReservationDialog(ModalScreen[None]):
    """A dialog acting on one reservation (extend, its nodes): focus starts on the `HOME` button, Esc
    leaves a text field first (back to that button), then closes; `changed` refreshes the dashboard."""

    HOME = ""

    def __init__(self, service: IgorService, res: Reservation, changed: Callable[[], None]) -> None:
        super().__init__()
        self.service = service
        self.res = res
        self.changed = changed

    def action_close(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(f"#{self.HOME}", Button).focus()
            return
        self.dismiss(None)
