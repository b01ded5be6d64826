"""The submit form: every field checked while typing, errors next to their field in the service's words.

It never books on its own thread: validation, speculation and the booking itself run in workers and
report back, and the form dismisses itself with a FormOutcome the dashboard acts on.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Select, Static

from ..dates import when_text, zone_name
from ..errors import IgorError, PlanChanged
from ..model import Reservation, Slot
from ..service import IgorService, SubmitRequest
from ..timeparse import format_duration

# (field, label, placeholder); "nodes" takes a count or a node list, like -n / -w.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "Name", "letters, digits, - and _"),
    ("kernel", "Kernel", "path of the kernel to boot"),
    ("initrd", "Initrd", "path of the initrd"),
    ("nodes", "Nodes", "a count (4) or nodes (kn[3-5,9])"),
    ("properties", "Properties", "only nodes having all of these, e.g. gpu,100g"),
    ("duration", "Duration", "90, 1h30m, 2d"),
    ("after", "Start", "now, or +2h, 2026-Dec-01-09:00"),
    ("kernel_args", "Kernel args", "console=ttyS0"),
    ("group", "Group", "Unix group that may manage it (optional)"),
    ("vlan", "VLAN", "number or reservation to share with (optional)"),
    ("desc", "Description", "one line shown with it (optional)"),
)


@dataclass(frozen=True, slots=True)
class FormOutcome:
    """What the form ended with: a booking, or speculation options to choose from."""

    request: SubmitRequest
    booked: Reservation | None = None
    slots: list[Slot] | None = None


class PathSuggester(Suggester):
    """Completes file system paths as the user types (the kernel and initrd fields)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        folder, prefix = os.path.split(os.path.expanduser(value))
        try:
            names = sorted(n for n in os.listdir(folder or ".") if n.startswith(prefix) and n != prefix)
        except OSError:
            return None
        if not names:
            return None
        shown_folder = os.path.split(value)[0]
        full = os.path.join(shown_folder, names[0]) if shown_folder else names[0]
        if os.path.isdir(os.path.join(folder or ".", names[0])):
            full += os.sep
        return full


class Checked(Message):
    """Worker result: per-field errors and per-field notes (file sizes, limits)."""

    def __init__(
        self,
        errors: dict[str, str],
        notes: dict[str, str],
        show_all: bool,
        plan: str | None = None,
        *,
        slot: Slot | None = None,
        request: SubmitRequest | None = None,
    ) -> None:
        super().__init__()
        self.errors = errors
        self.notes = notes
        self.show_all = show_all
        self.plan = plan  # None: leave the plan line as it is
        self.slot = slot  # the plan's slot (None: no plan to book)
        self.request = request  # what the plan was made for


def request_nodes(text: str) -> tuple[int, str]:
    """The Nodes field: digits are a count (-n), anything else a node list (-w)."""
    value = text.strip()
    if value.isascii() and value.isdigit():
        return int(value), ""
    return 0, value


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class SubmitScreen(ModalScreen[FormOutcome | None]):
    """New reservation: Enter books the first fit, Ctrl+S lists the next options to pick from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="submit.cancel"),
        Binding("ctrl+s", "speculate", "Speculate", id="submit.speculate", priority=True),
        Binding("ctrl+b", "book", "Book", id="submit.book", priority=True),
    ]

    def __init__(
        self, service: IgorService, request: SubmitRequest, *, speculate_first: bool = False
    ) -> None:
        super().__init__()
        self.service = service
        self.initial = request
        self.speculate_first = speculate_first
        self.touched: set[str] = set()
        self.errors: dict[str, str] = {}
        self.profiles: list[str] = []
        self.shown: tuple[SubmitRequest, Slot] | None = None
        """The plan on screen and the request it was made for: Enter books it, or nothing if the schedule
        moved (service.PlanChanged). A request typed after it (Enter before the plan line caught up) is
        booked as it fits then, and the toast names where."""

    def compose(self) -> ComposeResult:
        req = self.initial
        values = {
            "name": req.name,
            "kernel": req.kernel,
            "initrd": req.initrd,
            "nodes": req.nodes or (str(req.count) if req.count else ""),
            "duration": req.duration,
            "after": req.after,
            "kernel_args": req.kernel_args,
            "group": req.group,
            "vlan": req.vlan,
            "properties": req.properties,
            "desc": req.desc,
        }
        with Vertical(id="form"):
            with VerticalScroll(id="form-fields"):
                if self.service.config.usecobbler:
                    with Horizontal(classes="field", id="row-profile"):
                        yield Label("Profile", classes="field-label")
                        yield Select[str](
                            [], prompt="kernel + initrd (no profile)", id="f-profile", allow_blank=True
                        )
                        yield Static("", classes="field-note", id="n-profile")
                    yield Static("", classes="field-error", id="e-profile")
                for field, label, hint in FIELDS:
                    if (field == "vlan" and not self.service.config.network) or (
                        field == "properties" and not self.service.config.properties
                    ):
                        continue
                    with Horizontal(classes="field", id=f"row-{field}"):
                        yield Label(label, classes="field-label")
                        yield Input(
                            values[field],
                            placeholder=hint,
                            id=f"f-{field}",
                            compact=True,
                            select_on_focus=False,
                            suggester=PathSuggester() if field in ("kernel", "initrd") else None,
                        )
                        yield Static("", classes="field-note", id=f"n-{field}")
                    yield Static("", classes="field-error", id=f"e-{field}")
            yield Static("", id="plan")
            yield Static("", id="form-error")
            book = "Enter Speculate" if self.speculate_first else "Enter Book this plan"
            yield Static(f"[b]{book}[/] · Ctrl+S Speculate · Ctrl+B Book · Esc Cancel", id="form-keys")

    def on_mount(self) -> None:
        form = self.query_one("#form")
        form.border_title = "When can I get nodes?" if self.speculate_first else "New reservation"
        for err in self.query(".field-error"):
            err.display = False
        first = "nodes" if self.speculate_first else "name"
        self.query_one(f"#f-{first}", Input).focus()
        if self.service.config.usecobbler:
            self._load_profiles()
        self.check(show_all=False)

    # ------------------------------------------------------------------------------ the request

    def request(self) -> SubmitRequest:
        def value(field: str) -> str:
            found = self.query(f"#f-{field}")
            return found.first(Input).value.strip() if found else ""

        count, nodes = request_nodes(value("nodes"))
        profile = ""
        if self.service.config.usecobbler:
            chosen = self.query_one("#f-profile", Select).value
            profile = chosen if isinstance(chosen, str) else ""
        return replace(
            self.initial,
            name=value("name"),
            kernel="" if profile else value("kernel"),
            initrd="" if profile else value("initrd"),
            profile=profile,
            count=count,
            nodes=nodes,
            duration=value("duration") or "60m",
            after=value("after"),
            kernel_args=self.query_one("#f-kernel_args", Input).value,
            group=value("group"),
            vlan=value("vlan"),
            properties=value("properties"),
            desc=value("desc"),
        )

    # ------------------------------------------------------------------------------ live checks

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("f-"):
            self.touched.add(event.input.id[2:])
            self.check(show_all=False)

    @on(Select.Changed)
    def _profile_changed(self, event: Select.Changed) -> None:
        self.touched.add("profile")
        profile_on = isinstance(event.value, str)
        for field in ("kernel", "initrd"):
            self.query_one(f"#row-{field}").display = not profile_on
        self.check(show_all=False)

    @work(thread=True, exclusive=True, group="form-check", exit_on_error=False)
    def check(self, show_all: bool) -> None:
        req = self.request()
        errors = self.service.field_errors(req)
        notes: dict[str, str] = {}
        for what in ("kernel", "initrd"):
            path = getattr(req, what)
            if path and what not in errors:
                with suppress(IgorError):
                    notes[what] = "✓ " + _size(self.service.content.check(os.path.abspath(path), what))
        if req.like and not (req.kernel or req.initrd or req.profile) and "kernel" not in errors:
            notes["kernel"] = notes["initrd"] = f"empty: {req.like}'s copy"
        notes["duration"] = self._limit_note(req)
        notes["properties"] = self._properties_note()
        plan, slot = self._plan_text(req, errors)
        self.post_message(Checked(errors, notes, show_all, plan, slot=slot, request=req))

    def _plan_text(self, req: SubmitRequest, errors: dict[str, str]) -> tuple[str, Slot | None]:
        """The plan Enter would book, from the service call that books it, and why it is late if it is;
        and its slot."""
        if errors.keys() & {"nodes", "count", "duration", "after", "limits"}:
            return "[dim]Plan: fill in nodes, duration and start to see when and where it would run[/]", None
        try:
            plan = self.service.plan(req)
        except IgorError as err:
            return f"[b red]Plan: none: {escape(str(err))}[/]", None
        svc, slot = self.service, plan.slot
        tz, now = svc.config.tz, svc.now()
        nodes = escape(svc.naming.compress(slot.nodes))
        text = (
            f"[b]Plan:[/] {when_text(slot.start, tz, now)} → {when_text(slot.end, tz, now)} "
            f"{zone_name(tz, slot.start)} on {nodes} ({len(slot.nodes)} node(s))"
        )
        if plan.late:
            asked = "now" if plan.asked <= now else when_text(plan.asked, tz, now)
            text += f"\n[b $warning]! not {asked}:[/] {escape(plan.why_not)}"
        return text + self._quota_text(slot), slot

    def _quota_text(self, slot: Slot) -> str:
        """Under the plan, when igor.conf sets a quota: the caller's use, or the sentence that refuses
        this plan (the one Enter would get), so nobody fills a form only to be refused at the end."""
        from ..service.quota import report, slot_refusals

        svc = self.service
        if not svc.config.quota or svc.caller.is_admin:
            return ""
        refused = slot_refusals(svc, [slot])[0]
        if refused:
            return f"\n[b red]✗ {escape(refused)}[/]"
        use = report(svc)
        hours = f"{use.limit.node_hours:,}" if use.limit.node_hours is not None else "unlimited"
        nodes = use.limit.concurrent_nodes if use.limit.concurrent_nodes is not None else "unlimited"
        return (
            f"\n[dim]Quota: {use.used_text} of {hours} node-hours in use, "
            f"{use.peak_nodes} of {nodes} nodes at the peak[/]"
        )

    def _properties_note(self) -> str:
        """What the Properties field accepts: the properties some node has (igor.conf `properties`)."""
        known = self.service.config.known_properties()
        return f"known: {', '.join(known)}" if known else ""

    def _limit_note(self, req: SubmitRequest) -> str:
        """The limits while typing: "max 36h0m for 4 nodes", or "no limits (admin)"."""
        if self.service.caller.is_admin:
            return "no limits (admin)"
        size = req.count or len(_expand_quiet(self.service, req.nodes))
        if size <= 0:
            return ""
        limits = self.service.config.limits
        if limits.nodelimit and size > limits.nodelimit:
            return f"max {limits.nodelimit} nodes"
        most = self.service.max_minutes(size)
        return f"max {format_duration(int(most))} for {size} node(s)" if most else ""

    def on_checked(self, message: Checked) -> None:
        self.errors = message.errors
        if message.plan is not None and not self.speculate_first:
            self.query_one("#plan", Static).update(message.plan)
            made_for, slot = message.request, message.slot
            self.shown = (made_for, slot) if made_for is not None and slot is not None else None
        for field, note in message.notes.items():
            found = self.query(f"#n-{field}")
            if found:
                found.first(Static).update(note)
        shown = {"count": "nodes", "limits": "duration"}
        visible: dict[str, str] = {}
        for field, text in message.errors.items():
            target = shown.get(field, field)
            if message.show_all or target in self.touched or field == "limits":
                visible.setdefault(target, text)
        for err in self.query(".field-error"):
            field = (err.id or "e-")[2:]
            text = visible.get(field, "")
            err.display = bool(text)
            if isinstance(err, Static):
                err.update(f"✗ {text}" if text else "")
        if message.show_all:
            self._first_error_focus(visible)

    def _first_error_focus(self, visible: dict[str, str]) -> None:
        for field, _label, _hint in FIELDS:
            if field in visible:
                found = self.query(f"#f-{field}")
                if found:
                    found.first().focus()
                return

    @work(thread=True, exclusive=True, group="profiles", exit_on_error=False)
    def _load_profiles(self) -> None:
        try:
            profiles = self.service.cobbler_profiles()
        except (IgorError, OSError) as err:
            self.app.call_from_thread(self._form_error, f"cannot list Cobbler profiles: {err}")
            return
        self.app.call_from_thread(self._set_profiles, profiles)

    def _set_profiles(self, profiles: list[str]) -> None:
        self.query_one("#f-profile", Select).set_options([(p, p) for p in profiles])

    # ------------------------------------------------------------------------------ actions

    @on(Input.Submitted)
    def _enter(self) -> None:
        if self.speculate_first:
            self.action_speculate()
        else:
            self.action_book()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _form_error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(f"[b red]✗ {text}[/]" if text else "")

    def action_book(self) -> None:
        self._form_error("")
        self._book(self.request())

    def action_speculate(self) -> None:
        self._form_error("")
        self._speculate(self.request())

    def _book(self, req: SubmitRequest) -> None:
        self._act(req, booking=True)

    def _speculate(self, req: SubmitRequest) -> None:
        self._act(req, booking=False)

    @work(thread=True, exclusive=True, group="form-act", exit_on_error=False)
    def _act(self, req: SubmitRequest, booking: bool) -> None:
        """Book, or list the options; field problems go next to their fields, anything else (no room,
        a busy store) under the form. The form closes only on success."""
        errors = self.service.field_errors(req, booking=booking)
        if errors:
            self.post_message(Checked(errors, {}, show_all=True))
            labels = {f: label for f, label, _hint in FIELDS} | {"count": "Nodes", "limits": "Duration"}
            blocking = ", ".join(dict.fromkeys(labels.get(f, f) for f in errors))
            what = "booked" if booking else "listed"
            self.app.call_from_thread(self._form_error, f"not {what}: fix {blocking} first")
            return
        try:
            if booking:
                shown = self.shown
                expect = shown[1] if shown is not None and shown[0] == req else None
                outcome = FormOutcome(req, booked=self.service.submit(req, expect=expect))
            else:
                outcome = FormOutcome(req, slots=self.service.speculate(req))
        except PlanChanged as err:
            self.app.call_from_thread(self._moved, str(err), req, err.slot)
            return
        except IgorError as err:
            self.app.call_from_thread(self._refused, str(err))
            return
        if outcome.slots == []:
            self.app.call_from_thread(self._refused, "no option found within the booking horizon")
            return
        self.app.call_from_thread(self.dismiss, outcome)

    def _refused(self, text: str) -> None:
        self._form_error(text)
        self.notify(text, title="igor", severity="error", timeout=8)

    def _moved(self, text: str, req: SubmitRequest, slot: Slot) -> None:
        """The plan on screen is gone: say so and show the new one; the next Enter books that."""
        self.shown = req, slot  # what the refusal names, until the plan line is redrawn
        self._refused(f"{text}. Check the new plan; Enter books it")
        self.check(show_all=False)


def like_request(service: IgorService, name: str) -> SubmitRequest:
    """Where the form starts to book again like `name` (`igor sub --like`): its size, length, kernel
    arguments and VLAN sharing filled in, the kernel and initrd left empty (empty reuses its copies by
    content hash). Refused in one line, as the CLI refuses, when the copies are gone or it is not yours."""
    from ..service.like import resolve_like

    like = resolve_like(service, SubmitRequest(like=name, duration="", kernel_args=None))
    return replace(like.request, name="", kernel="", initrd="", nodes="", like=name)


def _expand_quiet(service: IgorService, nodes: str) -> tuple[str, ...]:
    if not nodes:
        return ()
    try:
        return service.naming.expand(nodes)
    except IgorError:
        return ()
