"""Pilot tests of igor-tui on the demo cluster (frozen clock, throw-away directory).

Each test drives the real app with keys, the way a user would, and asserts on state: the store, the
widgets' attributes, the screens on the stack, the notifications.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import igor_executable
from textual.widgets import Input
from tui_rig import FROZEN_NOW, book_behind, dashboard, demo_app, demo_cluster, settle, wait_for

from igor_tui.demo import DemoCluster
from igor_tui.screens.details import ConfirmScreen, ExtendScreen, NodeScreen
from igor_tui.screens.speculate import SpeculateScreen
from igor_tui.screens.submit import SubmitScreen
from igor_tui.service import SubmitRequest
from igor_tui.viewstate import moment
from igor_tui.widgets.rack_grid import RackGrid
from igor_tui.widgets.reservation_table import ReservationTable
from igor_tui.widgets.timeline import Timeline

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> DemoCluster:
    return demo_cluster(tmp_path / "demo")


def names_in_store(cluster: DemoCluster) -> dict[str, object]:
    return {r.name: r for r in cluster.service("ops").view().reservations}


async def fill(pilot: object, field: str, text: str) -> None:
    app = pilot.app  # type: ignore[attr-defined]
    box = app.screen.query_one(f"#f-{field}", Input)
    box.value = text


async def open_form(pilot: object, cluster: DemoCluster | None = None, **fields: str) -> None:
    """Press n and type the given fields; with `cluster`, also its kernel and initrd (to book)."""
    await pilot.press("n")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(pilot.app.screen, SubmitScreen)  # type: ignore[attr-defined]
    if cluster is not None:
        fields = {
            "kernel": str(cluster.root / "vmlinuz"),
            "initrd": str(cluster.root / "initrd.img"),
            **fields,
        }
    for field, text in fields.items():
        await fill(pilot, field, text)
    await settle(pilot)  # type: ignore[arg-type]


async def test_grid_cursor_moves_over_racks(cluster: DemoCluster) -> None:
    """Arrows and hjkl move the rack cursor node by node, and across a rack boundary."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(RackGrid)
        assert grid.has_focus
        assert grid.cursor_node == "kn1"
        await pilot.press("right", "right", "l")
        assert grid.cursor_node == "kn4"
        await pilot.press("down", "j")
        assert grid.cursor_node == "kn20"  # two rows of 8 further down the first rack
        await pilot.press(
            "left", "h", "h", "h", "right", "right", "right", "right", "right", "right", "right", "right"
        )
        # kn20 is column 4 of rack 1; eight steps right from column 0 pass rack 1's last column into rack 2
        assert grid.cursor_node == "kn57"


async def test_enter_on_node_opens_detail(cluster: DemoCluster) -> None:
    """Enter on a node shows its state, probe and reservations; Esc closes it."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(RackGrid)
        grid.move_cursor_to("kn30")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, NodeScreen)
        assert app.screen.node == "kn30"
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "down" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, NodeScreen)


async def test_node_detail_says_the_boot_mode(cluster: DemoCluster) -> None:
    """The node detail names the node's boot mode (config `bootmode`): uefi for kn30 here, bios for kn31."""
    uefi = replace(cluster, config=replace(cluster.config, bootmode=frozenset({"kn30"})))
    app = demo_app(uefi)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for node, mode in (("kn30", "uefi"), ("kn31", "bios")):
            app.screen.query_one(RackGrid).move_cursor_to(node)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, NodeScreen)
            text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
            assert f"boot mode: {mode}" in text, text
            await pilot.press("escape")
            await settle(pilot)


async def test_filter_by_owner_and_node(cluster: DemoCluster) -> None:
    """`/` filters the table by name, owner or node."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ReservationTable)
        total = len(table.listed)
        await pilot.press("slash")
        await pilot.press(*"carol")
        await settle(pilot)
        owners = {r.owner for r in table.listed}
        assert owners == {"carol"}
        assert 0 < len(table.listed) < total
        box = app.screen.query_one("#filter", Input)
        box.value = "kn45"
        await settle(pilot)
        holding = {r.name for r in cluster.service().view().reservations if "kn45" in r.nodes}
        assert "mpi-bench" in holding
        assert {r.name for r in table.listed} == holding
        await pilot.press("escape")
        await settle(pilot)
        assert len(table.listed) == total


async def test_submit_books_a_reservation(cluster: DemoCluster) -> None:
    """n opens the form; a valid form books through the service and the new row appears."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_form(
            pilot, cluster, name="from-tui", nodes="3", duration="2h", kernel_args="console=ttyS0 tui"
        )
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: not isinstance(app.screen, SubmitScreen))
        stored = names_in_store(cluster)["from-tui"]
        assert stored.owner == "alice"  # type: ignore[attr-defined]
        assert len(stored.nodes) == 3  # type: ignore[attr-defined]
        assert stored.kernel_args == "console=ttyS0 tui"  # type: ignore[attr-defined]
        table = app.screen.query_one(ReservationTable)
        await wait_for(pilot, lambda: any(r.name == "from-tui" for r in table.listed))


async def test_submit_shows_inline_error(cluster: DemoCluster) -> None:
    """A bad field gets the service's own sentence next to it, and nothing is booked."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_form(pilot, name="bad name!", nodes="0")
        error = app.screen.query_one("#e-name")
        assert error.display
        assert "invalid reservation name 'bad name!'" in str(error.render())
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert isinstance(app.screen, SubmitScreen)
        assert "give -n (a number of nodes) or -w" in str(app.screen.query_one("#e-nodes").render())
        assert "bad name!" not in names_in_store(cluster)


async def open_options(pilot: object, cluster: DemoCluster, **fields: str) -> SpeculateScreen:
    """The form filled in (`open_form`), then Ctrl+S: the list of options."""
    await settle(pilot)  # type: ignore[arg-type]
    await open_form(pilot, cluster, **fields)
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    app = pilot.app  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, SpeculateScreen))  # type: ignore[arg-type]
    assert isinstance(app.screen, SpeculateScreen)
    return app.screen


async def test_speculate_and_book_second_option(cluster: DemoCluster) -> None:
    """Ctrl+S lists options; ↓ then Enter books exactly the second option's start."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        spec = await open_options(pilot, cluster, name="picked", nodes="200", duration="3h")
        slots = spec.slots
        assert len(slots) >= 2
        dash = dashboard(app)
        grid = dash.query_one(RackGrid)
        assert grid.preview == frozenset(slots[0].nodes)  # the hovered option is drawn on the racks
        await pilot.press("down")
        await settle(pilot)
        assert grid.preview == frozenset(slots[1].nodes)
        assert dash.query_one(Timeline).preview == slots[1]
        await pilot.press("enter")
        await wait_for(pilot, lambda: "picked" in names_in_store(cluster))
        stored = names_in_store(cluster)["picked"]
        assert stored.start == slots[1].start  # type: ignore[attr-defined]
        assert stored.start != slots[0].start  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: grid.preview == frozenset())


async def test_a_speculation_option_taken_meanwhile_is_not_booked_elsewhere(cluster: DemoCluster) -> None:
    """Enter books exactly the highlighted option: when another booking takes its nodes while the list
    is open, nothing is booked (not the next fit somewhere else) and the toast says the option is gone."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        spec = await open_options(pilot, cluster, name="picked", nodes="2", duration="1h")
        option = spec.slots[0]
        book_behind(cluster, "bob", "theirs", option.nodes[0], "1h", after=option.start.isoformat())
        await pilot.press("enter")
        notes = app._notifications
        await wait_for(pilot, lambda: any("this option is gone" in str(n.message) for n in notes))
        assert isinstance(app.screen, SpeculateScreen)
    assert "picked" not in names_in_store(cluster)


async def select_row(pilot: object, app: object, name: str) -> None:
    """Point at reservation `name` in the table (actions act on what the focused panel points at)."""
    await pilot.press("2")  # type: ignore[attr-defined]
    dash = dashboard(app)  # type: ignore[arg-type]
    table = dash.query_one(ReservationTable)
    res = next(r for r in table.listed if r.name == name)
    table.select_reservation(res.id)
    await settle(pilot)  # type: ignore[arg-type]
    assert dash.selected is not None and dash.selected.name == name


async def test_extend_own_reservation(cluster: DemoCluster) -> None:
    """e on your reservation shows the room and extends by what you type."""
    before = names_in_store(cluster)["kernel-ci"]
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "kernel-ci")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExtendScreen))
        box = app.screen.query_one("#extend-by", Input)
        box.value = "90m"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExtendScreen))
    after = names_in_store(cluster)["kernel-ci"]
    assert after.end == before.end + timedelta(minutes=90)  # type: ignore[attr-defined]


async def test_delete_asks_then_deletes(cluster: DemoCluster) -> None:
    """d asks for confirmation naming the reservation; n keeps it, y deletes it."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "net-test")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "net-test" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("n")
        await settle(pilot)
        assert "net-test" in names_in_store(cluster)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "net-test" not in names_in_store(cluster))
        table = app.screen.query_one(ReservationTable)
        await wait_for(pilot, lambda: all(r.name != "net-test" for r in table.listed))


async def test_delete_of_someone_elses_is_refused(cluster: DemoCluster) -> None:
    """Deleting carol's reservation (alice is not in its group) is refused with the CLI's sentence,
    without asking to confirm."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "hpl")
        await pilot.press("d")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        messages = [n.message for n in app._notifications]
        assert "permission denied: hpl belongs to carol" in messages
        assert "hpl" in names_in_store(cluster)


async def test_external_change_appears_without_keypress(cluster: DemoCluster) -> None:
    """Another user's booking (here: through the service, as the CLI does) shows up within 2 s,
    and the table's cursor stays on the reservation it was on."""
    app = demo_app(cluster, refresh=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "hpl")
        cluster.service("dave").submit(
            SubmitRequest(
                name="outside",
                kernel=str(cluster.root / "vmlinuz"),
                initrd=str(cluster.root / "initrd.img"),
                count=2,
                duration="1h",
            )
        )
        table = app.screen.query_one(ReservationTable)
        await wait_for(pilot, lambda: any(r.name == "outside" for r in table.listed), timeout=2.0)
        assert table.current is not None and table.current.name == "hpl"


async def test_time_cursor_redraws_the_grid(cluster: DemoCluster) -> None:
    """t turns the time cursor on; moving it later shows who holds the nodes then."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dash = dashboard(app)
        grid = dash.query_one(RackGrid)
        view = dash.view
        assert view is not None
        # alice's nightly starts 10 h from now on 64 nodes: find one of them, free or someone else's now.
        nightly = next(r for r in view.reservations if r.name == "nightly")
        node = nightly.nodes[0]
        assert moment(view).holder.get(node) is not nightly
        await pilot.press("t")
        await settle(pilot)
        timeline = dash.query_one(Timeline)
        assert timeline.cursor_time is not None
        for _ in range(11):  # day zoom: one hour per step
            await pilot.press("right")
        await settle(pilot)
        assert dash.at is not None and dash.at >= nightly.start
        assert grid.at == dash.at
        assert grid.moment is not None and grid.moment.holder.get(node) == nightly
        assert "viewing: " in str(dash.query_one("#status").render())
        await pilot.press("escape")
        await settle(pilot)
        assert dash.at is None and grid.at is None


async def test_narrow_terminal_uses_tabs(cluster: DemoCluster) -> None:
    """At 80×24 one panel shows at a time; 2 switches to the table, the summary line stays visible."""
    app = demo_app(cluster)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dash = dashboard(app)
        assert dash.narrow
        assert dash.query_one("#racks-panel").display
        assert not dash.query_one("#table-panel").display
        await pilot.press("2")
        await settle(pilot)
        assert dash.query_one("#table-panel").display
        assert not dash.query_one("#racks-panel").display
        assert dash.query_one("#summary").display


async def test_marked_nodes_prefill_the_form(cluster: DemoCluster) -> None:
    """Space marks nodes in the racks; n pre-fills the form's node list with them."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(RackGrid)
        grid.move_cursor_to("kn33")
        await pilot.press("space", "right", "space")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.query_one("#f-nodes", Input).value == "kn[33-34]"


async def test_help_lists_bindings(cluster: DemoCluster) -> None:
    """? shows every binding group, taken from the bindings themselves."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = "\n".join(str(section.render()) for section in app.screen.query(".help-section"))
        for expected in ("Speculate", "Time cursor", "Zoom in", "Mark", "Book this slot"):
            assert expected in text


def test_frozen_now_is_used(cluster: DemoCluster) -> None:
    """The rig's clock really is frozen (snapshots depend on it)."""
    assert cluster.service().now() == FROZEN_NOW
    assert replace(cluster.service().view(), reservations=()).now == FROZEN_NOW


def test_igor_tui_help_and_config_error(tmp_path: Path) -> None:
    """`igor-tui --help` teaches the keys without a config; a bad config gets the CLI's report (every
    problem, one per line) and exit 2, never a traceback; `igor tui` is the same program."""
    from conftest import igor_env, run_igor

    tui = str(Path(igor_executable()).with_name("igor-tui"))
    shown = run_igor("--help", env=igor_env(tmp_path / "none.conf"), executable=tui, check=0)
    assert "time cursor" in shown.stdout and "--demo" in shown.stdout
    bad = tmp_path / "igor.conf"
    bad.write_text('{"start": 1, "end": 0}')
    for argv, program in ((("--config", str(bad)), tui), (("tui", "--config", str(bad)), "")):
        proc = run_igor(*argv, env=igor_env(bad), executable=program)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert "Traceback" not in proc.stderr
        assert lines[0].startswith("igor-tui: ") and "problem(s) in config" in lines[0]
        assert any(line.startswith("  - end: 0 is less than start 1") for line in lines)


async def test_unreadable_store_is_reported_once_and_recovers(cluster: DemoCluster) -> None:
    """A corrupt store gives one error notification and a red status line (not one toast a second);
    the racks keep the last good picture, and the app recovers when the store is readable again."""
    app = demo_app(cluster, refresh=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dash = dashboard(app)
        good = dash.view
        store = Path(cluster.config.statedir) / "igor.json"
        saved = store.read_bytes()
        store.write_bytes(b"{ not json")
        await wait_for(pilot, lambda: bool(dash.view_error))
        await pilot.pause(0.5)  # several refreshes fail meanwhile
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1
        assert "cannot read the store" in str(dash.query_one("#status").render())
        assert dash.view is good
        store.write_bytes(saved)
        await wait_for(pilot, lambda: not dash.view_error)
        assert "viewing:" in str(dash.query_one("#status").render())


async def test_command_palette_jumps_to_a_node(cluster: DemoCluster) -> None:
    """Ctrl+P, "node kn45", Enter: the rack cursor lands on kn45 (and its holder is selected)."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Jump to node kn45")
        await pilot.pause(0.5)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        dash = dashboard(app)
        assert dash.query_one(RackGrid).cursor_node == "kn45"
        await wait_for(pilot, lambda: dash.selected is not None and dash.selected.name == "mpi-bench")


async def test_table_builds_every_row_soon_after_the_first_paint() -> None:
    """The first build puts only the first rows on the screen before it paints; the rest follow at once,
    so every reservation can be selected (the rack cursor selects through the rows)."""
    from datetime import UTC

    from textual.app import App, ComposeResult

    from igor_tui.hostlist import NodeNaming
    from igor_tui.model import ClusterView, Reservation
    from igor_tui.widgets.reservation_table import FIRST_ROWS

    naming = NodeNaming("kn", 1, 520)
    hour = timedelta(hours=1)
    count = FIRST_ROWS * 3
    reservations = tuple(
        Reservation(i, f"r{i}", "bob", FROZEN_NOW + i * hour, FROZEN_NOW + (i + 1) * hour, (f"kn{i}",))
        for i in range(1, count + 1)
    )
    view = ClusterView(FROZEN_NOW, "alice", False, naming.all(), reservations)

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield ReservationTable(naming, UTC, lambda res: False, id="table")

        def on_mount(self) -> None:
            self.query_one(ReservationTable).show(view)

    app = TableApp()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ReservationTable)
        await wait_for(pilot, lambda: table.row_count == count)
        assert len(table.listed) == count
        table.select_reservation(count)
        await pilot.pause()
        assert table.cursor_row == count - 1 and table.current is not None
        assert table.current.name == f"r{count}"
