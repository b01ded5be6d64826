"""IgorApp: the Textual application shell (screens live in screens/, widgets in widgets/).

The app owns the service and the refresh timer; everything blocking runs in thread workers and comes
back as messages, so the UI never freezes on a busy store or a slow switch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from .keynames import key_name
from .screens.commands import IgorCommands
from .screens.dashboard import DashboardScreen
from .service import IgorService


class IgorApp(App[None]):
    """igor-tui: live racks, reservations and timeline for one caller over one IgorService."""

    CSS_PATH = "igor.tcss"
    TITLE = "igor"
    COMMANDS: ClassVar = App.COMMANDS | {IgorCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.quit"),
    ]

    def __init__(
        self,
        service: IgorService,
        *,
        refresh_seconds: float = 1.0,
        background: Callable[[], None] | None = None,
        background_seconds: float = 5.0,
        title: str = "",
    ) -> None:
        """`background` runs in a worker every `background_seconds` (the demo's in-process igor-tick)."""
        super().__init__()
        self.service = service
        self.refresh_seconds = refresh_seconds
        self.background = background
        self.background_seconds = background_seconds
        self.cluster_title = title or service.naming.describe()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Of Textual's own palette commands only Theme: Screenshot, Maximize or Keys are not igor's."""
        for command in super().get_system_commands(screen):
            if command.title == "Theme":
                yield command

    def get_key_display(self, binding: Binding) -> str:
        """Keys in the footer spelled as in the help and the legend (`Ctrl+P`, `Esc`, `Space`)."""
        return binding.key_display or key_name(binding.key)

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen(self.service, self.cluster_title))
        if self.background is not None:
            self.set_interval(self.background_seconds, self._run_background, name="background")

    def _run_background(self) -> None:
        background = self.background
        if background is not None:
            self.run_worker(background, thread=True, exclusive=True, group="background", exit_on_error=False)
