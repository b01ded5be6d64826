"""Pilot tests for node properties and quotas in the TUI: the booking form's Properties field (with the
known properties beside it), the racks' property filter (f), and the form's quota line and refusal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from tui_rig import book_planned, dashboard, demo_app, demo_cluster, settle, wait_for

from igor_tui.config import Quota
from igor_tui.demo import DemoCluster
from igor_tui.screens.submit import SubmitScreen
from igor_tui.widgets.rack_grid import RackGrid

pytestmark = pytest.mark.slow

GPU = frozenset({"gpu", "100g"})
FAST = frozenset({"100g"})


def with_sharing(cluster: DemoCluster, **quota: Quota) -> DemoCluster:
    """The demo with kn[1-8] gpu+100g, kn[9-16] 100g, and `quota` entries."""
    props = {f"kn{i}": GPU if i <= 8 else FAST for i in range(1, 17)}
    config = replace(cluster.config, properties=MappingProxyType(props), quota=MappingProxyType(quota))
    return replace(cluster, config=config)


@pytest.fixture
def cluster(tmp_path: Path) -> DemoCluster:
    return demo_cluster(tmp_path / "demo")


async def open_form(pilot: Pilot[None], cluster: DemoCluster, fields: dict[str, str]) -> SubmitScreen:
    """n, then fill in the boot files and `fields`."""
    app = pilot.app
    await settle(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
    screen = app.screen
    assert isinstance(screen, SubmitScreen)
    boot = {"kernel": str(cluster.root / "vmlinuz"), "initrd": str(cluster.root / "initrd.img")}
    for field, text in {**boot, **fields}.items():
        screen.query_one(f"#f-{field}", Input).value = text
    return screen


async def test_form_properties_field_books_only_nodes_with_them(cluster: DemoCluster) -> None:
    site = with_sharing(cluster)
    app = demo_app(site)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, site, {"name": "gpus", "nodes": "20", "properties": "gpu"})
        note = screen.query_one("#n-properties")
        await wait_for(pilot, lambda: "known: 100g, gpu" in str(note.render()))
        error = screen.query_one("#e-properties")
        await wait_for(pilot, lambda: "only 8 nodes have gpu; asked for 20" in str(error.render()))
        screen.query_one("#f-nodes", Input).value = "2"
        await book_planned(pilot)
    booked = next(r for r in site.service("ops").view().reservations if r.name == "gpus")
    assert all(site.config.properties[n] >= GPU for n in booked.nodes)


async def test_form_without_properties_has_no_field(cluster: DemoCluster) -> None:
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, cluster, {})
        assert not screen.query("#f-properties")


async def test_racks_property_filter_dims_nodes_without_it(cluster: DemoCluster) -> None:
    site = with_sharing(cluster)
    app = demo_app(site)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        grid = dashboard(app).query_one(RackGrid)
        panel = dashboard(app).query_one("#racks-panel")
        await pilot.press("f")
        everyone = set(site.service("ops").nodes)
        assert grid.dimmed == everyone - {f"kn{i}" for i in range(1, 17)}
        assert panel.border_title == "Racks · 100g"
        assert grid.cell("kn1")[1].strike is not True and grid.cell("kn17")[1].strike is True
        await pilot.press("f")
        assert grid.dimmed == everyone - {f"kn{i}" for i in range(1, 9)}
        assert panel.border_title == "Racks · gpu"
        await pilot.press("f")
        assert grid.dimmed == frozenset() and panel.border_title == "Racks"


async def test_racks_property_filter_without_properties_says_so(cluster: DemoCluster) -> None:
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert "igor.conf defines no node properties" in [n.message for n in app._notifications]
        assert dashboard(app).query_one(RackGrid).dimmed == frozenset()


async def test_form_shows_quota_use_and_the_refusal(cluster: DemoCluster) -> None:
    roomy = with_sharing(cluster, default=Quota(node_hours=100_000, concurrent_nodes=500))
    app = demo_app(roomy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, roomy, {"name": "q", "nodes": "2"})
        plan = screen.query_one("#plan")
        await wait_for(pilot, lambda: "Quota:" in str(plan.render()))
        assert "of 100,000 node-hours in use" in str(plan.render())
    tight = with_sharing(cluster, default=Quota(concurrent_nodes=1))
    app = demo_app(tight)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, tight, {"name": "q", "nodes": "2"})
        plan = screen.query_one("#plan")
        await wait_for(pilot, lambda: "✗ quota: alice may hold 1 node at once" in str(plan.render()))
        await pilot.press("enter")
        error = screen.query_one("#form-error")
        await wait_for(pilot, lambda: "quota: alice may hold 1 node at once" in str(error.render()))
        assert isinstance(app.screen, SubmitScreen), "refused: the form stays open"


async def test_form_description_is_checked_and_booked(cluster: DemoCluster) -> None:
    """The form's Description field (`-desc`): a control character is refused under the field, and the
    booking carries the text the detail and `igor show` print."""
    app = demo_app(cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, cluster, {"name": "described", "nodes": "2", "desc": "bad\ttab"})
        error = screen.query_one("#e-desc")
        await wait_for(pilot, lambda: "control character" in str(error.render()))
        screen.query_one("#f-desc", Input).value = "bisecting the e1000 hang"
        await book_planned(pilot)
    booked = next(r for r in cluster.service("ops").view().reservations if r.name == "described")
    assert booked.desc == "bisecting the e1000 hang"
