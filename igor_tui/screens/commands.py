"""Command palette (Ctrl+P): jump to a node or a reservation, submit, speculate, switch panels."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class IgorCommands(Provider):
    """Commands that act on the dashboard, so they are found by name instead of remembered as keys."""

    def _dashboard(self) -> object | None:
        from .dashboard import DashboardScreen

        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        from .dashboard import DashboardScreen

        dash = self._dashboard()
        if not isinstance(dash, DashboardScreen):
            return []
        out: list[tuple[str, str, Callable[[], object]]] = [
            ("Submit a new reservation", "open the form (n)", dash.action_submit),
            ("Speculate: when can I get nodes?", "list the next options (s)", dash.action_speculate),
            ("Time cursor", "look at the cluster at another time (t)", dash.action_time_cursor),
            ("Help", "every key (?)", dash.action_help),
        ]
        view = dash.view
        if view is not None:
            for res in view.reservations:
                out.append(
                    (
                        f"Jump to reservation {res.name}",
                        f"{res.owner}, {len(res.nodes)} node(s)",
                        partial(dash.jump_to_reservation, res.id),
                    )
                )
            for node in view.nodes:
                out.append((f"Jump to node {node}", "move the rack cursor", partial(dash.jump_to_node, node)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands()[:4]:
            yield DiscoveryHit(title, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), action, help=help_text)
