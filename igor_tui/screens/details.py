"""Detail and action screens: a node, a reservation, extend, power, and the confirmation dialog.

Actions the caller may not take are not offered, and the reason is said once. Destructive actions
(delete, power off or cycle) ask for a confirmation that names the reservation and its nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..dates import relative_text, when_text, when_zone, zone_name
from ..errors import IgorError
from ..model import ClusterView, Reservation
from ..service import ExtendInfo, IgorService
from ..timeparse import format_duration
from ..viewstate import moment, reservations_of
from ..widgets.reservation_table import res_flags, time_left
from .dialog import ReservationDialog, fit_buttons
from .messages import ActionFailed, outcome

RunAction = Callable[[Callable[[], str]], None]
"""The dashboard's way to run a store/backend call in a worker and report its outcome."""


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no for destructive actions; the question names exactly what will happen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes", on_yes: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.on_yes = on_yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm").border_title = "Confirm"
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
        if yes and self.on_yes is not None:
            self.on_yes()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "confirm-yes")


def _nodes(service: IgorService, res: Reservation) -> str:
    try:
        return service.naming.compress(res.nodes)
    except ValueError:
        return ",".join(res.nodes)


def confirm_delete(service: IgorService, res: Reservation, run: RunAction) -> ConfirmScreen:
    """The delete confirmation; on yes the deletion runs through the caller's action worker."""
    return ConfirmScreen(
        f"Delete [b]{res.name}[/] ({res.owner}) and release {len(res.nodes)} node(s) "
        f"{_nodes(service, res)}?" + ("\nigor-tick will tear its nodes down." if res.installed else ""),
        yes="Delete",
        on_yes=lambda: run(lambda: f"deleted {service.delete(res.name).name}"),
    )


class NodeScreen(ModalScreen[None]):
    """A node: its state at the viewed time, last liveness probe, current and next reservations."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close", id="node.close")]

    def __init__(self, view: ClusterView, node: str, service: IgorService) -> None:
        super().__init__()
        self.view = view
        self.node = node
        self.service = service

    def compose(self) -> ComposeResult:
        view, node = self.view, self.node
        tz = self.service.config.tz
        m = moment(view, None)
        lines = [f"state now: [b]{m.state(node)}[/]", f"boot mode: {self.service.config.boot_mode(node)}"]
        props = self.service.config.properties
        if props:  # a cluster with properties says which this node has (igor sub -p)
            lines.append(f"properties: {', '.join(sorted(props.get(node, ()))) or 'none'}")
        lines += _policy_lines(view, node, tz)
        status = view.status.get(node)
        if status is not None and status.checked is not None:
            detail = f" ({status.detail})" if status.detail else ""
            checked = when_text(status.checked, tz, view.now)
            lines.append(f"last probe: {status.state.value} at {checked}{escape(detail)}")
        else:
            lines.append("last probe: none yet (igor-tick probes every minute)")
        block = m.blocked.get(node)
        if block is not None:
            until = when_text(block.end, tz, view.now) if block.end else "unblocked"
            lines.append(
                f"blocked: {escape(block.reason or 'maintenance')} (by {block.by or '?'}, until {until})"
            )
        current = m.holder.get(node)
        lines.append("")
        lines.append(
            f"current: [b]{current.name}[/] ({current.owner}), {time_left(current, view.now)}"
            if current
            else "current: free"
        )
        upcoming = [r for r in reservations_of(view, node) if r.start > view.now][:5]
        if upcoming:
            lines.append("next:")
            for res in upcoming:
                lines.append(
                    f"  {res.name} ({res.owner}) {when_text(res.start, tz, view.now)} → "
                    f"{when_text(res.end, tz, view.now)}"
                )
        else:
            lines.append("next: nothing booked")
        lines.append(f"(times in {zone_name(tz, view.now)})")
        with Vertical(id="node-detail", classes="dialog"):
            yield Static("\n".join(lines))
            yield Static("[dim]Esc close[/]")

    def on_mount(self) -> None:
        self.query_one("#node-detail").border_title = f"Node {self.node}"

    def action_close(self) -> None:
        self.dismiss(None)


def _policy_lines(view: ClusterView, node: str, tz: tzinfo) -> list[str]:
    """The host policy a node is under (igor policy), and its next window the view carries: who may book
    it, for how long, and when nobody may (the reason a booking here may start later)."""
    policy = next((p for p in view.policies if node in p.nodes), None)
    if policy is None:
        return []
    groups = ", ".join(policy.groups) or "anyone"
    cap = f", at most {format_duration(policy.maxtime)}" if policy.maxtime else ""
    lines = [f"policy: {escape(policy.name)} ({groups}{cap})"]
    ahead = sorted(
        (w for w in view.windows if node in w.nodes and (w.end is None or w.end > view.now)),
        key=lambda w: w.start,
    )
    if ahead:
        w = ahead[0]
        now_in = w.start <= view.now
        until = when_text(w.end, tz, view.now) if w.end else "further notice"
        start = "now" if now_in else when_text(w.start, tz, view.now)
        lines.append(f"unavailable: {start} → {until}")
    return lines


class ReservationScreen(ModalScreen[str | None]):
    """A reservation's detail and the actions the caller may take on it. Dismissed with the reservation's
    name when the user asks to book again like it (the dashboard opens the form), else None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="res.close"),
        Binding("e", "extend", "Extend", id="res.extend"),
        Binding("d", "delete", "Delete", id="res.delete"),
        Binding("p", "power", "Power", id="res.power"),
        Binding("a", "edit_args", "Edit kernel args", id="res.args"),
        Binding("n", "nodes", "Add/drop nodes", id="res.nodes"),
        Binding("b", "again", "Book again like it", id="res.again"),
    ]

    def __init__(self, service: IgorService, res: Reservation, changed: Callable[[], None]) -> None:
        super().__init__()
        self.service = service
        self.res = res
        self.changed = changed
        self.writable = service.can_write(res)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the kernel-args field has the focus, letters are text and Esc only leaves the field."""
        if action in ("extend", "delete", "power", "edit_args", "nodes", "again"):
            focused = self.focused
            return not isinstance(focused, Input)
        return True

    def _lines(self) -> str:
        """The facts, in the date policy with the zone named once; relative times say what they are from."""
        res, svc = self.res, self.service
        tz = svc.config.tz
        now = svc.now()
        boot = (
            f"Cobbler profile {escape(res.profile)}"
            if res.profile
            else f"kernel {escape(res.kernel)}\n        initrd {escape(res.initrd)}"
        )
        began = "starts" if res.start > now else "started"
        ends = "ends" if res.end > now else "ended"
        left = time_left(res, now) if res.is_active(now) else f"{ends} {relative_text(res.end, now)}"
        lines = [
            f"owner   {res.owner}" + (f"   group {res.group}" if res.group else ""),
            f"nodes   {_nodes(svc, res)} ({len(res.nodes)})",
            f"start   {when_text(res.start, tz, now)}   ({began} {relative_text(res.start, now)})",
            f"end     {when_text(res.end, tz, now)}   ({left})",
            f"zone    {zone_name(tz, res.start)}",
            f"boot    {boot}",
            f"args    {escape(res.kernel_args) or '(none)'}",
            f"vlan    {res.vlan if res.vlan is not None else '(none)'}",
            f"state   {'installed' if res.installed else 'not installed yet'}   "
            f"flags {res_flags(res, now, self.writable) or '-'}",
        ]
        if res.desc:
            lines.insert(0, f"desc    {escape(res.desc)}")
        lines += [f"healed  {escape(swap)}" for swap in res.healed]  # heal: true (service/heal.py)
        if res.error:
            lines.append(f"[b red]error   {escape(res.error)}[/]")
        return "\n".join(lines)

    def show(self, res: Reservation) -> None:
        """A fresher copy of the same reservation (an extend, an edit, igor-tick): redraw the facts."""
        if res == self.res:
            return
        self.res = res
        self.query_one("#res-lines", Static).update(self._lines())

    def compose(self) -> ComposeResult:
        res, svc = self.res, self.service
        now = svc.now()
        with Vertical(id="res-detail", classes="dialog"):
            yield Static(self._lines(), id="res-lines")
            yield Static("", id="res-hooks")
            if self.writable:
                yield Static("[b]Kernel args[/] (a edits, Enter saves, Esc leaves the field)")
                yield Input(res.kernel_args, id="args", compact=True, select_on_focus=False)
                with Horizontal(classes="buttons"):
                    yield Button("Extend (e)", id="btn-extend", variant="primary")
                    yield Button("Nodes (n)", id="btn-nodes")
                    if svc.power_configured and res.is_active(now):
                        yield Button("Power (p)", id="btn-power")
                    yield Button("Delete (d)", id="btn-delete", variant="error")
                    yield Button("Again (b)", id="btn-again")
                    yield Button("Close", id="btn-close")
                if not svc.power_configured:
                    yield Static("[dim]power: not configured (set poweroncommand/poweroffcommand)[/]")
                elif not res.is_active(now):
                    yield Static("[dim]power: only while the reservation is active[/]")
            else:
                yield Static(
                    f"[dim]You cannot change it: {res.name} belongs to {res.owner}"
                    + (f" (group {res.group})" if res.group else "")
                    + ".[/]",
                    id="res-readonly",
                )
                with Horizontal(classes="buttons"):
                    yield Button("Close", id="btn-close")

    def on_mount(self) -> None:
        self.query_one("#res-detail").border_title = f"Reservation {self.res.name}"
        self.query_one("#res-hooks").display = False
        fit_buttons(self, self.app.size.width)
        if self.service.config.on_start or self.service.config.on_end:
            self._load_hooks()
        # Focus on the actions, never in a text field: the advertised single-letter keys must act, not type.
        self.query_one("#btn-close", Button).focus()

    def on_resize(self, event: events.Resize) -> None:
        fit_buttons(self, event.size.width)

    @work(thread=True, exclusive=True, group="res-hooks", exit_on_error=False)
    def _load_hooks(self) -> None:
        """What the site's on_start/on_end hooks (igor.conf) did for this reservation, from its history:
        read in a worker, as the action log can be long. Nothing is shown before a hook has run."""
        try:
            events = self.service.history(self.res.name)
        except IgorError:
            return
        tz, now = self.service.config.tz, self.service.now()
        lines = []
        for ev in events:
            if ev.kind != "hook" or ev.res_id != self.res.id:
                continue
            rec = ev.record
            text = f"on_{rec.get('hook', '')} {rec.get('result', '')}"
            when = when_text(datetime.fromisoformat(ev.time), tz, now) if ev.time else ""
            style = "" if rec.get("ok", True) else "b red"
            line = f"hook    {escape(text)}" + (f"   ({when})" if when else "")
            lines.append(f"[{style}]{line}[/]" if style else line)
        if lines:
            self.app.call_from_thread(self._show_hooks, "\n".join(lines))

    def _show_hooks(self, text: str) -> None:
        hooks = self.query_one("#res-hooks", Static)
        hooks.update(text)
        hooks.display = True

    def action_close(self) -> None:
        """Esc leaves the kernel-args field first (back to the buttons), then closes the dialog."""
        if isinstance(self.focused, Input):
            self.query_one("#btn-close", Button).focus()
            return
        self.dismiss(None)

    def action_edit_args(self) -> None:
        found = self.query("#args")
        if found:
            found.first(Input).focus()

    def _allowed(self) -> bool:
        if not self.writable:
            self.notify(
                f"permission denied: {self.res.name} belongs to {self.res.owner}",
                title="igor",
                severity="error",
            )
        return self.writable

    def action_extend(self) -> None:
        if self._allowed():
            # The dialog stays and shows the new end: the dashboard hands it the fresh reservation.
            self.app.push_screen(ExtendScreen(self.service, self.res, self.changed))

    def action_nodes(self) -> None:
        if self._allowed():
            from .resize import ResizeScreen

            self.app.push_screen(ResizeScreen(self.service, self.res, self.changed))

    def action_again(self) -> None:
        """`igor sub --like NAME` in the TUI: the form, filled in from this reservation (its boot files
        reused by content hash); booking it stays the user's choice."""
        if self._allowed():
            self.dismiss(self.res.name)

    def action_delete(self) -> None:
        if not self._allowed():
            return
        self.app.push_screen(confirm_delete(self.service, self.res, self._run))

    def action_power(self) -> None:
        if not self._allowed():
            return
        if not self.service.power_configured:
            self.notify("power is not configured: set poweroncommand and poweroffcommand in igor.conf")
            return
        self.app.push_screen(PowerScreen(self.service, self.res, self._run))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        actions = {
            "btn-extend": self.action_extend,
            "btn-nodes": self.action_nodes,
            "btn-again": self.action_again,
            "btn-delete": self.action_delete,
            "btn-power": self.action_power,
            "btn-close": self.action_close,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()

    @on(Input.Submitted, "#args")
    def _save_args(self, event: Input.Submitted) -> None:
        from ..service import EditRequest

        name, args = self.res.name, event.value
        self._run(lambda: f"{self.service.edit(name, EditRequest(kernel_args=args)).name}: kernel args saved")

    def _run(self, fn: Callable[[], str]) -> None:
        self._worker(fn)

    @work(thread=True, group="res-action", exit_on_error=False)
    def _worker(self, fn: Callable[[], str]) -> None:
        result = outcome(fn)
        if isinstance(result, ActionFailed):
            self.app.call_from_thread(self.notify, result.text, title="igor", severity="error", timeout=8)
            return
        self.app.call_from_thread(self.notify, result.text, title="igor")
        self.app.call_from_thread(self._changed_and_close)

    def _changed_and_close(self) -> None:
        self.changed()
        if self.is_attached and self.app.screen is self:
            self.dismiss(None)


class ExtendScreen(ReservationDialog):
    """Extend: says how far it can go and why not further, before the user types a duration."""

    HOME = "extend-go"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="extend.cancel"),
        Binding("b", "edit_by", "By how long", id="extend.by"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the duration has the focus, `b` is text."""
        return action != "edit_by" or not isinstance(self.focused, Input)

    def compose(self) -> ComposeResult:
        with Vertical(id="extend", classes="dialog"):
            yield Static("checking how far it can be extended…", id="extend-info")
            yield Static(
                "[b]By how long[/] (b edits, Enter extends, Esc leaves the field)", id="extend-by-label"
            )
            yield Input("1h", id="extend-by", placeholder="30m, 2h, 1d", compact=True, select_on_focus=False)
            yield Static("", id="extend-error")
            with Horizontal(classes="buttons"):
                yield Button("Extend (Enter)", id="extend-go", variant="primary")
                yield Button("Cancel (Esc)", id="extend-cancel")

    def on_mount(self) -> None:
        self.query_one("#extend").border_title = f"Extend {self.res.name}"
        # Focus on the actions: a digit or letter typed by habit must not edit the duration.
        self.query_one("#extend-go", Button).focus()
        self._load_info()

    def action_edit_by(self) -> None:
        self.query_one("#extend-by", Input).focus()

    @work(thread=True, exclusive=True, group="extend-info", exit_on_error=False)
    def _load_info(self) -> None:
        try:
            info = self.service.extend_info(self.res.name)
        except IgorError as err:
            self.app.call_from_thread(self._show_info, str(err))
            return
        self.app.call_from_thread(self._show_info, self._describe(info))

    def _describe(self, info: ExtendInfo) -> str:
        tz = self.service.config.tz
        res = self.res
        now = self.service.now()
        parts = [f"ends {when_zone(res.end, tz, now)}"]
        if info.room.until is not None:
            parts.append(f"can extend until {when_text(info.room.until, tz, now)} — {info.reason}")
        else:
            parts.append("nothing booked after it on its nodes")
        if info.limit_minutes is not None:
            parts.append(
                f"your limit for {len(res.nodes)} node(s): {format_duration(int(info.limit_minutes))}"
            )
        if not info.within_window:
            parts.append(f"[red]{info.reason}[/]")
        return "\n".join(parts)

    def _show_info(self, text: str) -> None:
        self.query_one("#extend-info", Static).update(text)

    @on(Input.Submitted, "#extend-by")
    @on(Button.Pressed, "#extend-go")
    def _submit(self) -> None:
        self._extend(self.query_one("#extend-by", Input).value.strip() or "1h")

    @on(Button.Pressed, "#extend-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="extend", exit_on_error=False)
    def _extend(self, duration: str) -> None:
        try:
            res = self.service.extend(self.res.name, duration)
        except IgorError as err:
            text = str(err)
            self.app.call_from_thread(self.query_one("#extend-error", Static).update, f"[b red]✗ {text}[/]")
            self.app.call_from_thread(self.notify, text, title="igor", severity="error", timeout=8)
            return
        tz = self.service.config.tz
        self.app.call_from_thread(
            self.notify, f"{res.name} now ends {when_zone(res.end, tz, self.service.now())}", title="igor"
        )
        self.app.call_from_thread(self.changed)
        self.app.call_from_thread(self.dismiss, None)


class PowerScreen(ModalScreen[None]):
    """Power on, off or cycle a reservation's nodes; off and cycle ask once more."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="power.cancel"),
        Binding("o", "power('on')", "On", id="power.on"),
        Binding("f", "power('off')", "Off", id="power.off"),
        Binding("c", "power('cycle')", "Cycle", id="power.cycle"),
    ]

    def __init__(self, service: IgorService, res: Reservation, run: RunAction) -> None:
        super().__init__()
        self.service = service
        self.res = res
        self.run = run

    def compose(self) -> ComposeResult:
        with Vertical(id="power", classes="dialog"):
            yield Static(f"{len(self.res.nodes)} node(s): {_nodes(self.service, self.res)}")
            with Horizontal(classes="buttons"):
                yield Button("On (o)", id="power-on", variant="success")
                yield Button("Off (f)", id="power-off", variant="error")
                yield Button("Cycle (c)", id="power-cycle", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#power").border_title = f"Power {self.res.name}"

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_power((event.button.id or "power-on").removeprefix("power-"))

    def action_power(self, action: str) -> None:
        res, svc = self.res, self.service

        def go() -> str:
            nodes = svc.power(action, name=res.name)
            return f"power {action}: {svc.naming.compress(nodes)}"

        if action == "on":
            self.run(go)
            self.dismiss(None)
            return

        self.dismiss(None)
        self.app.push_screen(
            ConfirmScreen(
                f"Power {action} {len(res.nodes)} node(s) of [b]{res.name}[/]: {_nodes(svc, res)}?",
                yes=f"Power {action}",
                on_yes=lambda: self.run(go),
            )
        )
