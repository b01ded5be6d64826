"""The reservation detail's "Nodes" dialog: add N nodes or named nodes, drop nodes (`igor edit -add/-drop`).

In the style of the extend dialog: it says what the reservation holds and until when before the user
types, and a refusal shows the service's own sentence (the one `igor edit` prints) under the fields.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from ..dates import when_zone
from ..errors import IgorError
from ..service import EditRequest
from .dialog import ReservationDialog


class ResizeScreen(ReservationDialog):
    """Add or drop nodes of one reservation; new nodes must be free until it ends."""

    HOME = "resize-go"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="resize.cancel"),
        Binding("a", "focus_field('resize-add')", "Add", id="resize.add"),
        Binding("x", "focus_field('resize-drop')", "Drop", id="resize.drop"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a field has the focus, letters are text."""
        return action != "focus_field" or not isinstance(self.focused, Input)

    def compose(self) -> ComposeResult:
        res, svc = self.res, self.service
        until = when_zone(res.end, svc.config.tz, svc.now())
        with Vertical(id="resize", classes="dialog"):
            yield Static(
                f"holds {svc.naming.compress(res.nodes)} ({len(res.nodes)} nodes) until {until}\n"
                "[dim]added nodes must be free until then; a running reservation's nodes follow at the "
                "next igor-tick[/]",
                id="resize-info",
            )
            yield Static("[b]Add[/] a number of nodes or a list (a edits)", classes="resize-label")
            yield Input("", id="resize-add", placeholder="2 or kn[5-6]", compact=True)
            yield Static("[b]Drop[/] these nodes (x edits)", classes="resize-label")
            yield Input("", id="resize-drop", placeholder="kn3", compact=True)
            yield Static("", id="resize-error")
            with Horizontal(classes="buttons"):
                yield Button("Apply (Enter)", id="resize-go", variant="primary")
                yield Button("Cancel (Esc)", id="resize-cancel")

    def on_mount(self) -> None:
        self.query_one("#resize").border_title = f"Nodes of {self.res.name}"
        self.query_one("#resize-go", Button).focus()

    def action_focus_field(self, field: str) -> None:
        self.query_one(f"#{field}", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#resize-go")
    def _submit(self) -> None:
        add = self.query_one("#resize-add", Input).value.strip()
        drop = self.query_one("#resize-drop", Input).value.strip()
        if not add and not drop:
            self._refused("give a number or list of nodes to add, or nodes to drop")
            return
        self._apply(EditRequest(add=add or None, drop=drop or None))

    @on(Button.Pressed, "#resize-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def _refused(self, text: str) -> None:
        self.query_one("#resize-error", Static).update(f"[b red]✗ {text}[/]")
        self.notify(text, title="igor", severity="error", timeout=8)

    @work(thread=True, exclusive=True, group="resize", exit_on_error=False)
    def _apply(self, req: EditRequest) -> None:
        try:
            res = self.service.edit(self.res.name, req)
        except IgorError as err:
            self.app.call_from_thread(self._refused, str(err))
            return
        text = f"{res.name} now holds {self.service.naming.compress(res.nodes)}"
        self.app.call_from_thread(self.notify, text, title="igor")
        self.app.call_from_thread(self.changed)
        self.app.call_from_thread(self.dismiss, None)
