"""The dashboard: rack grid, reservation table and timeline for one moment, refreshed live.

Attributes down, messages up: this screen is the only place that knows all three widgets. It sets their
snapshot, the viewed time and the selection; they report cursor moves, selections and the time cursor.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.events import Resize
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from ..dates import span_text
from ..errors import IgorError
from ..model import ClusterView, Reservation, Slot
from ..service import IgorService, SubmitRequest
from ..viewstate import moment
from ..widgets.legend import legend_text
from ..widgets.rack_grid import RACK_GAP, RackGrid
from ..widgets.reservation_table import ReservationTable
from ..widgets.timeline import Timeline
from .dashboard_actions import ReservationActions
from .lines import status_text, summary_text
from .messages import PastLoaded, ViewFailed, ViewLoaded

NARROW_WIDTH = 110
NARROW_HEIGHT = 30
TABLE_MIN = 50
PAST_MARGIN = timedelta(days=1)  # fetch the past a day further back than asked, so steps do not refetch
PAST_DELAY = 0.5  # seconds after the first view before the log is read for ended reservations
MARK_TOAST_DELAY = 0.6  # seconds of quiet after the last Space before the marks are announced
PANELS = ("racks", "table", "timeline")
PANEL_TITLES = {"racks": "Racks", "table": "Reservations", "timeline": "Timeline"}


class StatusBar(Static):
    """The top line: cluster, caller, zone and clock, the viewed time, and what is down or blocked."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """


class DashboardScreen(ReservationActions):
    """Everything at a glance; every action starts here."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "submit", "New", id="dash.new"),
        Binding("s", "speculate", "Speculate", id="dash.speculate"),
        Binding("e", "extend", "Extend", id="dash.extend"),
        Binding("d", "delete", "Delete", id="dash.delete"),
        Binding("p", "power", "Power", show=False, id="dash.power"),
        Binding("t", "time_cursor", "Time", id="dash.time"),
        Binding("slash", "filter", "Filter", show=False, id="dash.filter"),
        Binding("L", "legend", "Legend", id="dash.legend"),
        Binding("question_mark", "help", "Help", id="dash.help"),
        Binding("q", "quit", "Quit", id="dash.quit"),
        Binding("1", "panel('racks')", "Racks", show=False, id="dash.panel.racks"),
        Binding("2", "panel('table')", "Reservations", show=False, id="dash.panel.table"),
        Binding("3", "panel('timeline')", "Timeline", show=False, id="dash.panel.timeline"),
        Binding("enter", "open", "Open", show=False, id="dash.open"),
        Binding("escape", "back", "Back to now", show=False, id="dash.back"),
        Binding("ctrl+r", "reload", "Refresh now", show=False, id="dash.reload"),
        Binding("f", "property_filter", "Property filter (racks)", show=False, id="dash.property-filter"),
    ]

    def __init__(self, service: IgorService, cluster_title: str) -> None:
        super().__init__()
        self.service = service
        self.cluster_title = cluster_title
        cfg = service.config
        self.tz = cfg.tz
        self.view: ClusterView | None = None
        self.at: datetime | None = None  # the time cursor's moment; None = now
        self.selected: Reservation | None = None
        self.panel = "racks"
        self.narrow = False
        self.marked: frozenset[str] = frozenset()
        self.property = ""  # the racks' property filter ("" = off): nodes without it are dimmed
        self.last_request: SubmitRequest | None = None
        self._mark_toast: Timer | None = None
        self.past: tuple[Reservation, ...] = ()  # ended reservations, from IgorService.past_reservations
        self._past_since: datetime | None = None  # how far back `past` reaches (None: not fetched yet)
        self._drawn_cache: tuple[ClusterView, tuple[Reservation, ...], ClusterView] | None = None
        self.view_error = ""  # why the last read of the store failed ("" = it worked)
        self._grid = RackGrid(service.naming, cfg.rackwidth, cfg.rackheight, id="grid")
        self._table = ReservationTable(service.naming, self.tz, service.can_write, id="table")
        self._timeline = Timeline(service.naming, cfg.rackwidth, cfg.rackheight, self.tz, id="timeline")

    # ---------------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield StatusBar(f"[b]igor[/] · {escape(self.cluster_title)} · loading the cluster…", id="status")
        yield Static(id="tabs")
        with Container(id="panels"):
            with Vertical(id="racks-panel", classes="panel"):
                yield self._grid
            with Vertical(id="table-panel", classes="panel"):
                yield Input(placeholder="filter: name, owner or nodes (kn[3-5])", id="filter")
                yield self._table
                yield Static(id="detail-line")
            with Vertical(id="timeline-panel", classes="panel"):
                yield self._timeline
        yield Static(id="summary")
        yield Static(id="legend")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#racks-panel").border_title = "Racks"
        self.query_one("#timeline-panel").border_title = f"Timeline · {self._timeline.zoom}"
        self.query_one("#filter").display = False
        self.query_one("#legend").display = False
        self._relayout(self.app.size.width, self.app.size.height)
        self._grid.focus()
        for name in PANELS:
            self.query_one(f"#{name}-panel").loading = True  # until the first view arrives
        self.load_view()
        self.set_interval(getattr(self.app, "refresh_seconds", 1.0), self.load_view, name="refresh")

    def on_resize(self, event: Resize) -> None:
        self._relayout(event.size.width, event.size.height)
        self._update_status()

    def _relayout(self, width: int, height: int) -> None:
        """Wide terminals show all three panels; narrow ones (80×24 over SSH) show one as a tab."""
        self.narrow = width < NARROW_WIDTH or height < NARROW_HEIGHT
        self.set_class(self.narrow, "narrow")
        if not self.narrow:
            # Whole racks on the left, everything else for the table (at least TABLE_MIN columns).
            per_rack = self._grid.rack_width + RACK_GAP
            frame = 4  # the panel's border and the vertical scrollbar
            racks = max(1, (width - TABLE_MIN - frame + RACK_GAP) // per_rack)
            self.query_one("#panels").styles.grid_columns = f"{racks * per_rack - RACK_GAP + frame} 1fr"
        footer = self.query_one(Footer)
        footer.compact = self.narrow
        footer.show_command_palette = not self.narrow  # Ctrl+P still works; the help names it
        legend = self.query_one("#legend", Static)
        if legend.display:
            legend.update(legend_text(width - 2))
        for name in PANELS:
            self.set_class(self.narrow and self.panel == name, f"show-{name}")
        self._draw_tabs()

    def _draw_tabs(self) -> None:
        parts = []
        for i, name in enumerate(PANELS, 1):
            title = PANEL_TITLES[name]
            parts.append(f"[reverse] {i} {title} [/]" if name == self.panel else f" {i} {title} ")
        self.query_one("#tabs", Static).update(" ".join(parts) + "   [dim]Tab/1-3 switch[/]")

    def action_panel(self, name: str) -> None:
        self.panel = name
        self._relayout(self.size.width, self.size.height)
        {"racks": self._grid, "table": self._table, "timeline": self._timeline}[name].focus()

    def on_descendant_focus(self) -> None:
        focused = self.focused
        for name, widget in (("racks", self._grid), ("table", self._table), ("timeline", self._timeline)):
            if focused is widget and self.panel != name:
                self.panel = name
                self._relayout(self.size.width, self.size.height)

    # ---------------------------------------------------------------------------------- live data

    @work(thread=True, exclusive=True, group="view", exit_on_error=False)
    def load_view(self) -> None:
        """Read a snapshot off the UI thread; readers never lock, so this never waits on a writer."""
        try:
            view = self.service.view()
        except (IgorError, OSError) as err:
            self.post_message(ViewFailed(str(err)))
            return
        self.post_message(ViewLoaded(view))

    def on_view_failed(self, message: ViewFailed) -> None:
        """The store could not be read: say so once (not every second), keep the last good picture and
        keep trying; the status line stays red until a read succeeds."""
        if message.text != self.view_error:
            self.notify(message.text, title="igor", severity="error", timeout=10)
        self.view_error = message.text
        self._update_status()

    def action_reload(self) -> None:
        self.load_view()

    def on_view_loaded(self, message: ViewLoaded) -> None:
        if self.view_error:
            self.view_error = ""
            self._update_status()
        self.apply_view(message.view)

    def apply_view(self, view: ClusterView) -> None:
        """Hand the snapshot to every widget; cursors, selection and scroll positions stay where they are."""
        old = self.view
        if old is not None and (old.now, old.reservations, old.blocks, old.status, old.policies) == (
            view.now,
            view.reservations,
            view.blocks,
            view.status,
            view.policies,
        ):
            return
        if old is None:
            for name in PANELS:
                self.query_one(f"#{name}-panel").loading = False
        self.view = view
        self._refresh_dialogs(view)
        self._table.show(view)
        ended = old is not None and {r.id for r in old.reservations} - {r.id for r in view.reservations}
        if old is None:
            # The first look back waits until the first picture is on the screen: reading the log
            # in a worker still competes with the first paint for the interpreter.
            self.set_timer(PAST_DELAY, lambda: self._need_past(view.now - self._timeline.span))
        elif ended and self._past_since is not None:
            self._need_past(self._past_since, again=True)
        drawn = self._drawn()
        self._grid.show(drawn, self.at)
        self._timeline.show(drawn)
        self._update_status()
        self._update_selection()

    def _drawn(self) -> ClusterView:
        """The view plus the ended reservations fetched for looking back (the table lists live ones only)."""
        view = self.view
        assert view is not None
        if not self.past:
            return view
        cached = self._drawn_cache
        if cached is not None and cached[0] is view and cached[1] is self.past:
            return cached[2]  # a time-cursor step must not rebuild it (1,000 reservations)
        live = {r.id for r in view.reservations}
        extra = tuple(r for r in self.past if r.id not in live)
        drawn = replace(view, reservations=view.reservations + extra) if extra else view
        self._drawn_cache = (view, self.past, drawn)
        return drawn

    def _need_past(self, since: datetime, *, again: bool = False) -> None:
        """Fetch ended reservations back to `since` (a day more, so small steps do not refetch) when
        the time cursor or the chart reaches before what is already known."""
        view = self.view
        if view is None or (since >= view.now and self._past_since is not None):
            return
        if again or self._past_since is None or since < self._past_since:
            self.load_past(min(since, view.now) - PAST_MARGIN, view.now)

    @work(thread=True, exclusive=True, group="past", exit_on_error=False)
    def load_past(self, since: datetime, until: datetime) -> None:
        """The log (or, later, the store's archive) is read off the UI thread; failures mean no past."""
        try:
            past = tuple(self.service.past_reservations(since, until))
        except (IgorError, OSError):
            past = ()
        if not get_current_worker().is_cancelled:
            self.post_message(PastLoaded(past, since))

    def on_past_loaded(self, message: PastLoaded) -> None:
        self.past = message.reservations
        self._past_since = message.since
        if self.view is not None:
            drawn = self._drawn()
            self._grid.show(drawn, self.at)
            self._timeline.show(drawn)

    def on_timeline_window_moved(self, message: Timeline.WindowMoved) -> None:
        self._need_past(message.origin)

    def _refresh_dialogs(self, view: ClusterView) -> None:
        """Open detail dialogs show the reservation as it is now (after an extend, an edit, a tick)."""
        from .details import ReservationScreen

        fresh = {r.id: r for r in view.reservations}
        for screen in self.app.screen_stack:
            if isinstance(screen, ReservationScreen) and screen.res.id in fresh:
                screen.show(fresh[screen.res.id])

    def _update_status(self) -> None:
        view = self.view
        if self.view_error:
            shown = "the last good picture" if view is not None else "nothing yet"
            why = escape(self.view_error)
            self.query_one("#status", StatusBar).update(
                f"[b reverse red] cannot read the store [/] {why} (showing {shown}; retrying)"
            )
            return
        if view is None:
            return
        # One line, always: no layout pass (a time-cursor step would otherwise re-lay out the screen).
        self.query_one("#status", StatusBar).update(
            self._status_text(view, self.size.width - 2), layout=False
        )

    def _status_text(self, view: ClusterView, width: int) -> str:
        drawn, grid = self._drawn(), self._grid
        # The grid has already worked out this moment for its cells: reuse it, it is the costly part.
        m = grid.moment if grid.view is drawn and grid.at == self.at else None
        m = m if m is not None else moment(drawn, self.at)
        return status_text(view, m, at=self.at, tz=self.tz, title=self.cluster_title, width=width)

    def _update_selection(self) -> None:
        res = self.selected
        view = self.view
        if res is not None and view is not None:
            res = next((r for r in view.reservations if r.id == res.id), None)
            self.selected = res
        nodes = frozenset(res.nodes) if res is not None else frozenset()
        self._grid.selected = nodes
        self._timeline.selected_id = res.id if res is not None else None
        line = ""
        if res is not None and view is not None:
            line = self._summary(res, view)
        elif self._table.filter_text.strip() and not self._table.listed:
            needle = escape(self._table.filter_text.strip())
            line = f"no reservation matches '{needle}' (Esc clears the filter)"
        self.query_one("#detail-line", Static).update(line)
        self.query_one("#summary", Static).update(line)
        self._table_title()

    def _summary(self, res: Reservation, view: ClusterView) -> str:
        nodes = self.service.naming.compress(res.nodes)
        return summary_text(res, view.now, self.tz, nodes, self.service.can_write(res))

    def _table_title(self) -> None:
        """`Reservations (15)`, or with a filter `Reservations (2 of 15 match 'kn4')`."""
        view = self.view
        if view is None:
            return
        total = len(view.reservations)
        needle = self._table.filter_text.strip()
        title = f"Reservations ({total})"
        if needle:
            title = f"Reservations ({len(self._table.listed)} of {total} match '{needle}')"
        self.query_one("#table-panel").border_title = title

    # ---------------------------------------------------------------------------------- widget messages

    def on_reservation_table_highlighted(self, message: ReservationTable.Highlighted) -> None:
        self.selected = message.reservation
        self._update_selection()

    def on_reservation_table_opened(self, message: ReservationTable.Opened) -> None:
        self.open_reservation(message.reservation)

    def on_rack_grid_cursor_moved(self, message: RackGrid.CursorMoved) -> None:
        if self.view is None:
            return
        holder = moment(self._drawn(), self.at).holder.get(message.node)
        if holder is not None:
            self._table.select_reservation(holder.id)

    def on_rack_grid_node_selected(self, message: RackGrid.NodeSelected) -> None:
        if self.view is None:
            return
        from .details import NodeScreen

        self.app.push_screen(NodeScreen(self.view, message.node, self.service))

    def on_rack_grid_marked_changed(self, message: RackGrid.MarkedChanged) -> None:
        """One toast per burst of marks: it waits for the marking to pause, then says the total."""
        self.marked = frozenset(message.nodes)
        if self._mark_toast is not None:
            self._mark_toast.stop()
        self._mark_toast = self.set_timer(MARK_TOAST_DELAY, self._marks_said) if self.marked else None

    def _marks_said(self) -> None:
        self._mark_toast = None
        count = len(self.marked)
        if count:
            nodes = self.service.naming.compress(self.marked)
            what = f"{count} node{'s' if count != 1 else ''}"
            self.notify(f"{what} marked ({nodes}): press n to book them", timeout=3)

    async def on_timeline_cursor_moved(self, message: Timeline.CursorMoved) -> None:
        self.at = message.at
        if self.view is not None:
            if self.at is not None:
                self._need_past(self.at)
            self._grid.show(self._drawn(), self.at)
        self._update_status()
        # Let the racks and the status line queue their repaint before this screen goes idle, so they
        # are drawn in the same frame as the timeline's cursor (one repaint per step, not two).
        await asyncio.sleep(0)

    def on_timeline_zoom_changed(self, message: Timeline.ZoomChanged) -> None:
        self.query_one("#timeline-panel").border_title = f"Timeline · {message.zoom}"

    def on_timeline_reservation_clicked(self, message: Timeline.ReservationClicked) -> None:
        self._table.select_reservation(message.res_id)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._table.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._table.focus()

    # ---------------------------------------------------------------------------------- actions

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        if self.narrow:
            self.action_panel("table")
        box.focus()

    def action_property_filter(self) -> None:
        """f: the next property of igor.conf `properties` (then off again); the racks dim every node
        without it, so "where are the free GPU nodes" is one glance."""
        cfg = self.service.config
        known = cfg.known_properties()
        if not known:
            self.notify("igor.conf defines no node properties", severity="warning")
            return
        cycle = ["", *known]
        self.property = cycle[(cycle.index(self.property) + 1) % len(cycle)]
        empty: frozenset[str] = frozenset()
        self._grid.dimmed = frozenset(
            n
            for n in self.service.nodes
            if self.property and self.property not in cfg.properties.get(n, empty)
        )
        title = f"Racks · {self.property}" if self.property else "Racks"
        self.query_one("#racks-panel").border_title = title
        self.notify(f"racks: nodes without {self.property} dimmed" if self.property else "racks: all nodes")

    def action_back(self) -> None:
        """Esc: leave the filter box, then return the racks to now."""
        box = self.query_one("#filter", Input)
        if box.has_focus:
            box.value = ""
            box.display = False
            self._table.focus()
            return
        if self.at is not None:
            self._timeline.cursor_time = None
            self.at = None
            if self.view is not None:
                self._grid.show(self._drawn(), None)
            self._update_status()

    def action_time_cursor(self) -> None:
        if self.narrow:
            self.action_panel("timeline")
        self._timeline.focus()
        self._timeline.action_toggle_cursor()

    def action_legend(self) -> None:
        """L: show or hide what the glyphs, flags and marks mean (the help shows it too)."""
        legend = self.query_one("#legend", Static)
        legend.display = not legend.display
        if legend.display:
            legend.update(legend_text(self.size.width - 2))

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        self.app.exit()

    def action_open(self) -> None:
        if self.selected is not None:
            self.open_reservation(self.selected)

    def open_reservation(self, res: Reservation) -> None:
        from .details import ReservationScreen

        self.app.push_screen(ReservationScreen(self.service, res, self.reload_after), self._after_detail)

    def _after_detail(self, like: str | None) -> None:
        """The detail's "Again (b)": the booking form, filled in like that reservation."""
        if like:
            self.action_submit(like=like)

    def jump_to_reservation(self, res_id: int) -> None:
        """Palette: select a reservation in the table (which outlines it in the racks and timeline)."""
        self._table.set_filter("")
        self.query_one("#filter", Input).value = ""
        self._table.select_reservation(res_id)
        self.action_panel("table")

    def jump_to_node(self, node: str) -> None:
        """Palette: put the rack cursor on a node."""
        self.action_panel("racks")
        self._grid.move_cursor_to(node)

    def reload_after(self) -> None:
        self.load_view()

    # -- submit / speculate

    def action_submit(self, speculate: bool = False, like: str = "") -> None:
        from .submit import SubmitScreen, like_request

        req = self.last_request or SubmitRequest(count=4, duration="1h")
        if like:
            try:
                req = like_request(self.service, like)
            except IgorError as err:
                self.notify(str(err), title="igor", severity="error")
                return
        elif self.marked:
            req = replace(req, nodes=self.service.naming.compress(self.marked), count=0)
        self.app.push_screen(SubmitScreen(self.service, req, speculate_first=speculate), self._after_form)

    def action_speculate(self) -> None:
        self.action_submit(speculate=True)

    def _after_form(self, outcome: object) -> None:
        from .speculate import SpeculateScreen
        from .submit import FormOutcome

        if not isinstance(outcome, FormOutcome):
            return
        self.last_request = outcome.request
        if outcome.booked is not None:
            self._booked(outcome.booked)
            return
        if outcome.slots is not None:
            self.app.push_screen(
                SpeculateScreen(self.service, outcome.request, outcome.slots, self.preview),
                self._after_speculation,
            )

    def _after_speculation(self, outcome: object) -> None:
        from .speculate import SpeculationOutcome

        self.preview(None)
        if not isinstance(outcome, SpeculationOutcome):
            return
        self.last_request = outcome.request
        if outcome.booked is not None:
            self._booked(outcome.booked)
        else:
            self.action_submit()  # Esc: back to the form, as it was

    def _booked(self, res: Reservation) -> None:
        self.last_request = None
        self.marked = frozenset()
        self._grid.clear_marks()
        nodes = self.service.naming.compress(res.nodes)
        when = span_text(res.start, res.end, self.tz, self.service.now())
        self.notify(f"booked {res.name}: {nodes}, {when}", title="igor")
        self.selected = res
        self.load_view()

    def preview(self, slot: Slot | None) -> None:
        """Draw a speculation option on the racks (at its start) and the timeline, before booking."""
        self._grid.preview = frozenset(slot.nodes) if slot is not None else frozenset()
        self._timeline.preview = slot
        if self.view is not None:
            self._grid.show(self._drawn(), slot.start if slot is not None else self.at)
        if slot is None or not slot.nodes:
            return
        # Bring the option into sight: its first node in the racks, its rows and start in the timeline.
        self._grid.scroll_to_region(self._grid.cell_region(slot.nodes[0]), animate=False)
        timeline = self._timeline
        if not timeline.origin <= slot.start < timeline.origin + timeline.span:
            timeline.origin = slot.start - timeline.span / 6
        line = timeline.line_of_node(slot.nodes[0])
        if line is not None:
            timeline.scroll_to(y=line, animate=False)
