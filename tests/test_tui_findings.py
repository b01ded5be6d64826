"""Pilot tests for issue 12's findings: each was written first and failed on the code before its fix.

Every test drives the real app on the frozen demo cluster (08:00 UTC on Mon Jun 01 2026) with keys.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Button, Input
from tui_rig import FROZEN_NOW, book_behind, dashboard, demo_app, demo_cluster, settle, wait_for

from igor_tui.demo import DemoCluster
from igor_tui.model import ClusterView, Reservation
from igor_tui.screens.details import ConfirmScreen, ExtendScreen, ReservationScreen
from igor_tui.screens.submit import SubmitScreen
from igor_tui.service import SubmitRequest
from igor_tui.widgets.rack_grid import RackGrid
from igor_tui.widgets.reservation_table import ReservationTable
from igor_tui.widgets.timeline import Timeline

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> DemoCluster:
    return demo_cluster(tmp_path / "demo")


def stored(cluster: DemoCluster, name: str) -> Reservation:
    return next(r for r in cluster.service("ops").view().reservations if r.name == name)


def toasts(app: object) -> list[str]:
    return [n.message for n in app._notifications]  # type: ignore[attr-defined]


async def focus_row(pilot: object, name: str) -> ReservationTable:
    """Switch to the table (2) and put its cursor on reservation `name`."""
    app = pilot.app  # type: ignore[attr-defined]
    await pilot.press("2")  # type: ignore[attr-defined]
    table = dashboard(app).query_one(ReservationTable)
    res = next(r for r in table.listed if r.name == name)
    table.select_reservation(res.id)
    await settle(pilot)  # type: ignore[arg-type]
    assert table.has_focus
    return table


async def open_on(pilot: object, name: str, key: str, kind: type) -> None:
    """Put the table's cursor on reservation `name`, press `key` and wait for the `kind` screen it opens."""
    app = pilot.app  # type: ignore[attr-defined]
    await focus_row(pilot, name)
    await pilot.press(key)  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, kind))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- 1. keys never leak into text


async def test_detail_dialog_keys_do_not_type_into_kernel_args(cluster: DemoCluster) -> None:
    """Finding 1: Enter on your own reservation, then d: the delete confirmation opens; nothing is typed
    into "Edit kernel args" and Enter does not save `dp` as the kernel arguments."""
    before = stored(cluster, "kernel-ci")
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        assert isinstance(app.screen.focused, Button)  # focus on the actions, not in a text field
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ReservationScreen)
        args = app.screen.query_one("#args", Input)
        assert args.value == before.kernel_args
        await pilot.press("enter")  # on a button: never saves the arguments
        await settle(pilot)
    assert stored(cluster, "kernel-ci").kernel_args == before.kernel_args


async def test_kernel_args_are_entered_on_purpose(cluster: DemoCluster) -> None:
    """Finding 1: `a` enters the kernel-args field (which then shows its focus); typing there edits and
    Enter saves; Esc leaves the field without closing the dialog."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        args = app.screen.query_one("#args", Input)
        unfocused = args.styles.background
        await pilot.press("a")
        await settle(pilot)
        assert args.has_focus and args.value.endswith("quiet")
        assert args.styles.background != unfocused  # the field shows it has the focus
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ReservationScreen) and not args.has_focus
        await pilot.press("a", "end", "space", "x")
        await pilot.press("enter")
        await wait_for(pilot, lambda: stored(cluster, "kernel-ci").kernel_args.endswith(" x"))


async def test_extend_dialog_opens_on_its_actions(cluster: DemoCluster) -> None:
    """Finding 1, the extend dialog: it opens with focus on its Extend button, so typed letters and
    digits never land in the duration; `b` enters the duration on purpose (lit while focused), Esc leaves
    it without closing, and Enter on the button extends by what the field holds."""
    before = stored(cluster, "kernel-ci")
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_on(pilot, "kernel-ci", "e", ExtendScreen)
        await settle(pilot)
        box = app.screen.query_one("#extend-by", Input)
        assert isinstance(app.screen.focused, Button)
        assert app.screen.focused.id == "extend-go"
        unfocused = box.styles.background
        await pilot.press("3", "x")
        await settle(pilot)
        assert box.value == "1h"  # nothing typed into the field
        await pilot.press("b")
        await settle(pilot)
        assert box.has_focus and box.styles.background != unfocused
        await pilot.press("end", "backspace", "backspace", "9", "0", "m")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ExtendScreen) and not box.has_focus and box.value == "90m"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExtendScreen))
    assert stored(cluster, "kernel-ci").end == before.end + timedelta(minutes=90)
    from igor_tui.screens.dashboard import DashboardScreen
    from igor_tui.screens.help import sections

    # the help names the key too
    assert ("b", "By how long") in dict(sections(DashboardScreen.BINDINGS))["Extend dialog"]


async def test_every_dialog_opens_off_its_text_fields(cluster: DemoCluster) -> None:
    """Finding 1, every dialog with single-letter keys (detail, extend, power, confirm, node, help)
    opens with the focus off any text field, so those letters act instead of typing."""
    from igor_tui.screens.details import NodeScreen, PowerScreen
    from igor_tui.screens.help import HelpScreen

    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_row(pilot, "kernel-ci")
        opened: list[str] = []
        for key, kind in (
            ("enter", ReservationScreen),
            ("e", ExtendScreen),
            ("p", PowerScreen),
            ("d", ConfirmScreen),
            ("question_mark", HelpScreen),
        ):
            await pilot.press(key)
            await wait_for(pilot, lambda kind=kind: isinstance(app.screen, kind))
            await settle(pilot)
            assert not isinstance(app.screen.focused, Input), kind.__name__
            opened.append(kind.__name__)
            await pilot.press("escape")
            await wait_for(pilot, lambda kind=kind: not isinstance(app.screen, kind))
        await pilot.press("1", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NodeScreen))
        assert not isinstance(app.screen.focused, Input)
        opened.append("NodeScreen")
    assert len(opened) == 6


# --------------------------------------------------------------------------- 2. act on what is pointed at


async def test_delete_on_a_free_node_says_it_is_free(cluster: DemoCluster) -> None:
    """Finding 5: the rack cursor on free kn300 after the table pointed at net-test: d says `kn300 is
    free` and asks nothing about net-test."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus_row(pilot, "net-test")
        await pilot.press("1")
        grid = dashboard(app).query_one(RackGrid)
        grid.move_cursor_to("kn300")
        await settle(pilot)
        assert grid.has_focus
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("kn300 is free" in t for t in toasts(app))


async def test_delete_in_the_racks_targets_the_holder(cluster: DemoCluster) -> None:
    """Finding 5: on a node of alice's kernel-ci in the racks, d asks to delete kernel-ci, by name."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        node = stored(cluster, "kernel-ci").nodes[0]
        await focus_row(pilot, "net-test")
        await pilot.press("1")
        dashboard(app).query_one(RackGrid).move_cursor_to(node)
        await settle(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "kernel-ci" in app.screen.question  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- 3. the plan before the booking


async def open_filled(pilot: object, cluster: DemoCluster, **fields: str) -> SubmitScreen:
    """Press n and set the fields, with the cluster's kernel and initrd: the form, ready to book."""
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press("n")  # type: ignore[attr-defined]
    app = pilot.app  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))  # type: ignore[arg-type]
    screen = app.screen
    boot = {"kernel": str(cluster.root / "vmlinuz"), "initrd": str(cluster.root / "initrd.img")}
    for field, text in {**boot, **fields}.items():
        screen.query_one(f"#f-{field}", Input).value = text
    assert isinstance(screen, SubmitScreen)
    return screen


async def test_form_shows_the_late_plan_and_why(cluster: DemoCluster) -> None:
    """Finding 2: nodes free now but taken in two minutes: the form shows the plan it will book (a later
    start) and one line saying why not now, before anything is booked; Enter books exactly that plan."""
    app = demo_app(cluster)
    svc = cluster.service("alice")
    view = svc.view()
    ceph = next(r for r in view.reservations if r.name == "ceph-lab")  # starts 2 minutes from now
    nodes = svc.naming.compress(ceph.nodes[:4])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_filled(pilot, cluster, name="late", nodes=nodes, duration="1h")
        await wait_for(pilot, lambda: "not now" in str(screen.query_one("#plan").render()))
        plan = str(screen.query_one("#plan").render())
        assert f"ceph-lab takes {ceph.nodes[0]} at 08:02" in plan
        assert "earliest fit" in plan
        assert "Plan:" in plan and nodes in plan
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SubmitScreen))
    booked = stored(cluster, "late")
    assert booked.start >= ceph.end


async def test_enter_books_the_plan_shown_or_says_it_moved(cluster: DemoCluster) -> None:
    """ "Enter Book this plan" books what the form shows: when another booking takes the plan's nodes
    while the form is open, Enter books nothing, says so under the form and shows the new plan, and the
    next Enter books that one."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_filled(pilot, cluster, name="mine", nodes="2", duration="1h")
        await wait_for(pilot, lambda: "(2 node(s))" in str(screen.query_one("#plan").render()))
        shown = str(screen.query_one("#plan").render())
        planned = cluster.service("alice").plan(screen.request()).slot
        assert cluster.service("alice").naming.compress(planned.nodes) in shown
        taken = planned.nodes[0]
        book_behind(cluster, "bob", "theirs", taken, "2h")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "schedule changed" in str(screen.query_one("#form-error").render()))
        assert isinstance(app.screen, SubmitScreen)
        await wait_for(pilot, lambda: str(screen.query_one("#plan").render()) != shown)
        moved = str(screen.query_one("#plan").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SubmitScreen))
    mine = stored(cluster, "mine")
    assert taken not in mine.nodes
    assert cluster.service("alice").naming.compress(mine.nodes) in moved


# --------------------------------------------------------------------------- 4. 80x24 keeps the viewed time


def screen_lines(app: object) -> list[str]:
    """The terminal as the user sees it, one string per row (from the app's own screenshot text)."""
    from rich.console import Console

    console = Console(width=app.size.width, record=True, file=open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    console.print(app.screen._compositor.render_update(full=True))  # type: ignore[attr-defined]
    return console.export_text().splitlines()


def column_of(timeline: Timeline, when: datetime) -> int:
    """The widget column where `when` is drawn: the last column that starts at or before it."""
    x = 0
    while timeline.time_at_column(x + 1) <= when:
        x += 1
    return x


async def test_narrow_header_keeps_the_viewed_time(cluster: DemoCluster) -> None:
    """Finding 4: at 80×24, t and → → : the top line shows the whole viewed moment (day and time), and
    the timeline still shows what lies ahead (now is in the left half of the chart)."""
    app = demo_app(cluster)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("right", "right")
        await settle(pilot)
        top = screen_lines(app)[0]
        assert re.search(r"viewing: +Mon Jun 01 10:00 ", top), top
        timeline = dashboard(app).query_one(Timeline)
        now_col = column_of(timeline, FROZEN_NOW)
        assert timeline._label_w <= now_col < timeline.size.width // 2


# --------------------------------------------------------------------------- 5. columns fit their content


@pytest.mark.parametrize("size", [(120, 40), (180, 50)])
async def test_table_columns_fit_and_never_cut_a_node_range(
    cluster: DemoCluster, size: tuple[int, int]
) -> None:
    """Finding 3: every column fits in the table's width; START/END/LEFT are whole; NODES is either the
    full list or whole ranges plus an ellipsis; the summary line names the full list."""
    svc = cluster.service("bob")
    svc.submit(
        SubmitRequest(
            name="sparse",
            kernel=str(cluster.root / "vmlinuz"),
            initrd=str(cluster.root / "initrd.img"),
            nodes="kn[261-262,264,266,268,270,272,274,276,278,280,282,284]",
            duration="1h",
            after="+900d",
        )
    )
    app = demo_app(cluster)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = await focus_row(pilot, "sparse")
        columns = list(table.columns.values())
        assert sum(c.width for c in columns) <= table.size.width
        naming = svc.naming
        for res in table.listed:
            cells = [str(c) for c in table.get_row(str(res.id))]
            for col, text in zip(columns[:-1], cells[:-1], strict=True):
                assert len(text) < col.width, (col.label, text)
                assert not text.endswith("…") or col.key.value in ("name", "owner"), text
            full = naming.compress(res.nodes)
            shown = cells[-1]
            assert len(shown) < columns[-1].width
            assert shown == full or (shown.endswith(",…]") and full.startswith(shown[:-2])), (shown, full)
        assert naming.compress(stored(cluster, "sparse").nodes) in str(
            dashboard(app).query_one("#detail-line").render()
        )


async def test_speculation_node_lists_are_never_cut_mid_range(cluster: DemoCluster) -> None:
    """Finding 3: the options for 200 nodes show whole ranges plus an ellipsis (never
    `kn[259-320,337-398,400-47`), and the line under the list has the highlighted option's full list."""
    from textual.widgets import DataTable

    from igor_tui.screens.speculate import SpeculateScreen

    app = demo_app(cluster)
    naming = cluster.service("alice").naming
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        app.screen.query_one("#f-nodes", Input).value = "200"
        app.screen.query_one("#f-duration", Input).value = "3h"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SpeculateScreen))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SpeculateScreen)
        table = screen.query_one("#slots", DataTable)
        nodes_col = list(table.columns.values())[-1]
        assert sum(c.width for c in table.columns.values()) <= table.size.width
        for i, slot in enumerate(screen.slots):
            shown = str(table.get_row(str(i))[-1])
            full = naming.compress(slot.nodes)
            assert len(shown) < nodes_col.width
            assert shown == full or (shown.endswith(",…]") and full.startswith(shown[:-2])), (shown, full)
        first = naming.compress(screen.slots[0].nodes)
        assert first in str(screen.query_one("#slot-line").render()).replace("\n", "")


# --------------------------------------------------------------------------- 6. overdrawn text

_TOKEN = re.compile(r"^([│┊]|[│┊]?(\d\d:\d\d|[A-Z][a-z]{2}|\d\d|day|hours|week)[│┊]?)$")


def _line_text(timeline: Timeline, y: int) -> str:
    return "".join(seg.text for seg in timeline.render_line(y))


@pytest.mark.parametrize("zoom", ["hours", "day", "week"])
async def test_timeline_labels_never_run_together(cluster: DemoCluster, zoom: str) -> None:
    """Finding 7: the axis labels, the now mark and the time-cursor label never touch or overwrite each
    other (no `18:0021:00`, no `09:│Dec 3 10:00`) and none is cut at the right edge."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        timeline = dashboard(app).query_one(Timeline)
        timeline.zoom = zoom
        await pilot.press("t")
        for _ in range(3):
            await pilot.press("right")
            await settle(pilot, rounds=1)
            header = _line_text(timeline, 0)
            for token in header.split():
                assert _TOKEN.match(token), (token, header)


async def test_now_line_and_cursor_never_split_a_bar_label(cluster: DemoCluster) -> None:
    """Finding 7: a time cursor (and the now line) through `storage`'s label leaves the name whole and
    in one colour (a tinted letter reads as a split word in a screenshot)."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        timeline = dashboard(app).query_one(Timeline)
        storage = stored(cluster, "storage")
        line = timeline.line_of_node(storage.nodes[0])
        assert line is not None
        label_col = column_of(timeline, storage.start) + 1
        for offset in range(len("storage")):
            timeline.cursor_time = timeline.time_at_column(label_col + offset)
            await settle(pilot, rounds=1)
            strip = timeline.render_line(line + 1 - timeline.scroll_offset.y)
            assert any("storage" in seg.text for seg in strip)  # whole, and in one colour


# --------------------------------------------------------------------------- 7. legend, help, key names


async def test_legend_key_toggles_a_legend_panel(cluster: DemoCluster) -> None:
    """Finding 6: L (named in the footer) shows what glyphs, flags and LEFT's `+` mean; L again hides."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert any("Legend" in line for line in screen_lines(app)[-1:])
        await pilot.press("L")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        for words in (
            "✗ down",
            "▒ blocked",
            "A active",
            "W you may change it",
            "E install error",
            "+2h = starts",
        ):
            assert words in text, words
        await pilot.press("L")
        await settle(pilot)
        assert "A active" not in "\n".join(screen_lines(app))


async def test_help_uses_columns_and_one_spelling_of_keys(cluster: DemoCluster) -> None:
    """Finding 9: ? lays the key groups out in columns across the width, spells keys one way
    (Ctrl+P, Esc, Space; never ctrl+r, ^p or escape) and includes the legend."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        footer = screen_lines(app)[-1]
        assert "^p" not in footer and "Ctrl+P" in footer
        await pilot.press("question_mark")
        await settle(pilot)
        lines = screen_lines(app)
        text = "\n".join(lines)
        assert any("Everywhere" in line and "Racks" in line for line in lines)  # side by side
        assert "Ctrl+P" in text and "Esc" in text and "Space" in text
        for wrong in ("ctrl+", "Ctrl+r", "^p", "escape", "question_mark"):
            assert wrong not in text, wrong
        assert "A active" in text


# --------------------------------------------------------------------------- 8. one date policy, fresh facts


async def test_detail_dialog_shows_the_new_end_after_extend(cluster: DemoCluster) -> None:
    """Finding 8: extend from the detail dialog: the dialog stays and shows the new end, in the date
    policy, with the relative times saying what they are relative to."""
    before = stored(cluster, "kernel-ci")
    new_end = before.end + timedelta(minutes=90)
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExtendScreen))
        app.screen.query_one("#extend-by", Input).value = "90m"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReservationScreen))
        lines = app.screen.query_one("#res-lines")
        await wait_for(pilot, lambda: f"end     {new_end:%H:%M}" in str(lines.render()))
        text = str(lines.render())
        assert "left" in text.split("end", 1)[1].splitlines()[0]  # "(… left)" sits on the end line
        assert "ago" in text.split("start", 1)[1].splitlines()[0]  # the start says it was before now
        assert "UTC" in text and text.count("UTC") == 1  # the zone is named once


async def test_dates_follow_one_policy_in_the_tui(cluster: DemoCluster) -> None:
    """Finding 8: a booking next year shows its year in the table and its detail; today's times are
    bare HH:MM; the header names the day and the zone."""
    svc = cluster.service("alice")
    svc.submit(
        SubmitRequest(
            name="next-year",
            kernel=str(cluster.root / "vmlinuz"),
            initrd=str(cluster.root / "initrd.img"),
            count=2,
            duration="1h",
            after="2027-Sep-25-13:00",
        )
    )
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = await focus_row(pilot, "next-year")
        res = next(r for r in table.listed if r.name == "next-year")
        assert "2027 Sep 25" in [str(c) for c in table.get_row(str(res.id))]
        summary = str(dashboard(app).query_one("#detail-line").render())
        assert "Sat Sep 25 2027 13:00 - Sat Sep 25 2027 14:00 UTC" in summary
        assert "Mon Jun 01 08:00 UTC" in screen_lines(app)[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReservationScreen))
        assert "Sat Sep 25 2027 13:00" in str(app.screen.query_one("#res-lines").render())


# ---------------------------------------------------------------- 9. filter, sort, palette, toasts, Enter


async def test_filter_counts_in_the_title_and_says_when_nothing_matches(cluster: DemoCluster) -> None:
    """Finding 9: / kn4 puts "n of 15 match" in the title; zzz says no reservation matches 'zzz'."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dash = dashboard(app)
        await pilot.press("slash", "z", "z", "z")
        await settle(pilot)
        assert dash.query_one("#table-panel").border_title == "Reservations (0 of 15 match 'zzz')"
        assert "no reservation matches 'zzz'" in str(dash.query_one("#detail-line").render())


async def test_sorted_column_has_an_indicator(cluster: DemoCluster) -> None:
    """Finding 9: the sorted column's header carries ▲ (▼ reversed); o moves it to the next key."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = await focus_row(pilot, "hpl")
        labels = [str(c.label) for c in table.columns.values()]
        assert "START ▲" in labels
        await pilot.press("o")
        await settle(pilot)
        labels = [str(c.label) for c in table.columns.values()]
        assert "NAME ▲" in labels and "START" in labels
        await pilot.press("O")
        await settle(pilot)
        assert "NAME ▼" in [str(c.label) for c in table.columns.values()]


async def test_palette_offers_igor_commands_and_theme_only(cluster: DemoCluster) -> None:
    """Finding 9: Textual's Screenshot, Maximize, Keys… are not offered; igor's commands and Theme are."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles == ["Theme"]


async def test_one_toast_per_burst_of_marks(cluster: DemoCluster) -> None:
    """Finding 9: marking three nodes in a row says so once (with the count), not three times."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dashboard(app).query_one(RackGrid).move_cursor_to("kn161")
        await pilot.press("space", "right", "space", "right", "space")
        await pilot.pause(1.0)
        await settle(pilot)
        marks = [t for t in toasts(app) if "marked" in t]
        assert marks == ["3 nodes marked (kn[161-163]): press n to book them"]


async def test_enter_on_an_invalid_form_says_what_blocks_it(cluster: DemoCluster) -> None:
    """Finding 9: Enter with an invalid name and no kernel says, under the form, which fields block."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
        app.screen.query_one("#f-name", Input).value = "my demo!"
        await settle(pilot)
        await pilot.press("enter")
        screen = app.screen
        await wait_for(pilot, lambda: "not booked" in str(screen.query_one("#form-error").render()))
        text = str(screen.query_one("#form-error").render())
        assert "Name" in text and "Kernel" in text


# --------------------------------------------------------------------------- 10. loading, demo power


async def test_demo_power_screen_is_reachable(cluster: DemoCluster) -> None:
    """Finding 10: the demo has a (fake) power backend, so p on your active reservation opens the
    power dialog and o powers its nodes on through it."""
    from igor_tui.screens.details import PowerScreen

    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_on(pilot, "kernel-ci", "p", PowerScreen)
        await pilot.press("o")
        await wait_for(pilot, lambda: any(call[0] == "on" for call in cluster.power.calls))
    assert set(cluster.power.calls[-1][1]) == set(stored(cluster, "kernel-ci").nodes)


async def test_loading_shows_until_the_first_view(cluster: DemoCluster) -> None:
    """Finding 10: while the first read of the store is under way, the screen says loading…"""
    import threading

    release = threading.Event()
    app = demo_app(cluster)
    real_view = app.service.view

    def slow_view() -> ClusterView:
        release.wait(10)
        return real_view()

    app.service.view = slow_view  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert "loading" in screen_lines(app)[0]
        release.set()
        await settle(pilot)
        await wait_for(pilot, lambda: "viewing" in screen_lines(app)[0])
        assert "loading" not in "\n".join(screen_lines(app))


# --------------------------------------------------------------------------- 11. the past


async def test_time_cursor_goes_back_and_draws_ended_reservations(cluster: DemoCluster) -> None:
    """Finding 11: ← with the time cursor goes before now; the header says (past); the racks show who
    held the nodes then (erin's gpu-old, ended 3 h ago, from the log) and the timeline draws it dimmed."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dash = dashboard(app)
        await pilot.press("t")
        for _ in range(4):  # day zoom: 1 h per step, to 04:00, when gpu-old held kn[321-336]
            await pilot.press("left")
        await settle(pilot)
        grid = dash.query_one(RackGrid)
        await wait_for(pilot, lambda: grid.moment is not None and "kn321" in grid.moment.holder)
        assert grid.moment is not None and grid.moment.holder["kn321"].name == "gpu-old"
        assert re.search(r"viewing: +Mon Jun 01 04:00 \(past\)", screen_lines(app)[0])
        for _ in range(3):  # to 01:00: the chart scrolls back, gpu-old (02:00-05:00) is whole on it
            await pilot.press("left")
        await settle(pilot)
        timeline = dash.query_one(Timeline)
        line = timeline.line_of_node("kn321")
        assert line is not None
        strip = timeline.render_line(line + 1 - timeline.scroll_offset.y)
        assert "gpu-old" in strip.text
        assert any(seg.text.strip() == "gpu-old" and seg.style is not None and seg.style.dim for seg in strip)
