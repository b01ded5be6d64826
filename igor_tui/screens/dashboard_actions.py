"""The dashboard's verbs on one reservation (extend, delete, power): each acts on what the user points at
and refuses in the service's own words before asking anything.

A base class of `DashboardScreen`, kept apart because it is a seam of its own: which reservation an action
means (`_need_selection`), the permission check before a dialog opens, and the worker that runs the
action and reports back. The dashboard supplies the state it reads, declared below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from textual import work
from textual.screen import Screen

from ..dates import when_text
from ..errors import IgorError
from ..model import ClusterView, Reservation
from ..service import IgorService
from ..viewstate import moment
from ..widgets.rack_grid import RackGrid
from .messages import ActionDone, ActionFailed, outcome


class ReservationActions(Screen[None]):
    """Extend, delete and power on the pointed-at reservation, with their check and their worker."""

    service: IgorService
    tz: tzinfo
    view: ClusterView | None
    at: datetime | None  # the time cursor's moment; None = now
    selected: Reservation | None  # the table's highlighted reservation
    panel: str  # the focused panel: "racks", "table" or "timeline"
    _grid: RackGrid

    def _drawn(self) -> ClusterView:
        """The view the racks draw (live and ended reservations); the dashboard supplies it."""
        raise NotImplementedError

    def reload_after(self) -> None:
        """Read the store again now (after an action); the dashboard supplies it."""
        raise NotImplementedError

    def _need_selection(self) -> Reservation | None:
        """The reservation an action acts on: what the user points at in the focused panel.

        In the racks, the reservation holding the node under the cursor at the viewed time (or a word
        that the node is free); in the table and the timeline, the highlighted row."""
        view = self.view
        if self.panel == "racks" and view is not None:
            node = self._grid.cursor_node
            holder = moment(self._drawn(), self.at).holder.get(node)
            then = "" if self.at is None else f" at {when_text(self.at, self.tz, view.now, dated=True)}"
            if holder is None:
                self.notify(f"{node} is free{then}: no reservation to act on", severity="warning")
            elif holder.end <= view.now:
                self.notify(f"{node} was {holder.name}'s{then}, which has ended", severity="warning")
                return None
            return holder
        if self.selected is None:
            self.notify(
                "select a reservation first (in the table, or a node in the racks)", severity="warning"
            )
        return self.selected

    def action_extend(self) -> None:
        res = self._need_selection()
        if res is None:
            return
        from .details import ExtendScreen

        self._writable_then(res, "extend", lambda: ExtendScreen(self.service, res, self.reload_after))

    def action_delete(self) -> None:
        res = self._need_selection()
        if res is None:
            return
        from .details import confirm_delete

        self._writable_then(res, "delete", lambda: confirm_delete(self.service, res, self._run_action))

    def action_power(self) -> None:
        res = self._need_selection()
        if res is None:
            return
        from .details import PowerScreen

        if not self.service.power_configured:
            self.notify(
                "power is not configured: set poweroncommand and poweroffcommand in igor.conf",
                title="igor",
                severity="warning",
            )
            return
        self._writable_then(res, "power", lambda: PowerScreen(self.service, res, self._run_action))

    @work(thread=True, group="check", exit_on_error=False)
    def _writable_then(self, res: Reservation, verb: str, make: Callable[[], Screen[object]]) -> None:
        """Refuse in the service's own words before asking anything (a refused delete never confirms)."""
        try:
            self.service.ensure_writable(res.name, verb)
        except IgorError as err:
            self.post_message(ActionFailed(str(err)))
            return

        def push() -> None:
            self.app.push_screen(make())

        self.app.call_from_thread(push)

    def _run_action(self, fn: Callable[[], str]) -> None:
        self._action_worker(fn)

    @work(thread=True, group="action", exit_on_error=False)
    def _action_worker(self, fn: Callable[[], str]) -> None:
        self.post_message(outcome(fn))

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.text, title="igor")
        self.reload_after()

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(message.text, title="igor", severity="error", timeout=8)
        self.reload_after()
