"""`-desc TEXT` on sub and edit (show, JSON, history, TUI, input limits) and `igor sub --like NAME`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, ClusterFactory
from test_cli import as_json, book, error, ok

from igor_tui.model import Reservation
from igor_tui.service.booking import DESC_MAX
from igor_tui.store.codec import reservation_from_record, reservation_to_record

# ------------------------------------------------------------------------------------------ -desc


def stored(cluster: Cluster, name: str) -> Reservation:
    data = as_json(cluster.run("show", "--json"))
    assert any(r["name"] == name for r in data["reservations"])
    from igor_tui.store import TinyStore

    return next(r for r in TinyStore(cluster.statedir).snapshot().reservations if r.name == name)


def test_desc_is_booked_shown_in_json_show_and_history(cluster: Cluster) -> None:
    data = book(cluster, "bisect", "-n", "2", "-desc", "bisecting the e1000 hang")
    assert data["desc"] == "bisecting the e1000 hang"
    shown = as_json(cluster.run("show", "--json"))
    assert [r["desc"] for r in shown["reservations"] if r["name"] == "bisect"] == ["bisecting the e1000 hang"]
    text = ok(cluster.run("show", "-t=false"))
    header = next(line for line in text.splitlines() if line.startswith("K "))
    assert header.split()[-1] == "DESC"
    row = next(line for line in text.splitlines() if " bisect " in line)
    assert row.endswith("   bisecting the e1000 hang")
    history = ok(cluster.run("history", "bisect"))
    assert "created" in history and ": bisecting the e1000 hang" in history


def test_show_has_no_desc_column_without_descriptions(cluster: Cluster) -> None:
    book(cluster, "plain", "-n", "1")
    header = next(line for line in ok(cluster.run("show", "-t=false")).splitlines() if line.startswith("K "))
    assert "DESC" not in header


def test_edit_desc_changes_only_the_description(cluster: Cluster) -> None:
    book(cluster, "e1", "-n", "1", "-desc", "first")
    before = stored(cluster, "e1")
    data = as_json(cluster.run("edit", "-r", "e1", "-desc", "second", "--json"))
    assert data["desc"] == "second"
    after = stored(cluster, "e1")
    assert after.desc == "second"
    assert after.revision == before.revision  # a note boots nothing: igor-tick does not re-install
    ok(cluster.run("edit", "-r", "e1", "-desc", ""))
    assert stored(cluster, "e1").desc == ""
    ok(cluster.run("edit", "-r", "e1", "-desc", "third", "-c", "quiet"))
    both = stored(cluster, "e1")
    assert (both.desc, both.kernel_args, both.revision) == ("third", "quiet", before.revision + 1)
    events = [e for e in cluster.log_events() if e.get("event") == "edited"]
    assert [(e["changed"], e.get("desc")) for e in events] == [
        (["desc"], "second"),
        (["desc"], ""),
        (["desc", "kernel_args"], "third"),
    ]


@pytest.mark.parametrize("verb", ["sub", "edit"])
def test_desc_input_limits(cluster: Cluster, verb: str) -> None:
    if verb == "edit":
        book(cluster, "lim", "-n", "1")
        start: tuple[str, ...] = ("edit", "-r", "lim")
    else:
        start = ("sub", "-r", "lim2", "-n", "1", *cluster.boot)
    error(
        cluster.run(*start, "-desc", "x" * (DESC_MAX + 1)),
        1,
        f"the description is {DESC_MAX + 1} characters long; the limit is {DESC_MAX}",
    )
    error(
        cluster.run(*start, "-desc", "two\nlines"),
        1,
        "the description contains a control character ('\\n'); it must be one line of printable text",
    )
    error(
        cluster.run(*start, "-desc", "bell\x07"),
        1,
        "the description contains a control character",
        exact=False,
    )
    ok(cluster.run(*start, "-desc", "y" * DESC_MAX))


def test_an_old_document_without_desc_still_loads() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    res = Reservation(1, "old", "alice", start, start + timedelta(hours=1), ("kn1",), kernel_hash="a" * 64)
    record = reservation_to_record(res)
    del record["desc"]
    assert reservation_from_record(record) == res and reservation_from_record(record).desc == ""


# ------------------------------------------------------------------------------------------ --like


def test_like_a_live_reservation_reuses_boot_args_size_and_duration(cluster: Cluster, tmp_path: Path) -> None:
    kernel = cluster.file("vmlinuz-like", b"a kernel only run-42 used\n")
    initrd = cluster.file("initrd-like", b"its initrd\n")
    src = as_json(
        cluster.run(
            "sub",
            "-r",
            "run-42",
            "-k",
            str(kernel),
            "-i",
            str(initrd),
            "-n",
            "3",
            "-t",
            "2h",
            "-c",
            "console=ttyS0",
            "--json",
        )
    )
    kernel.unlink()  # the files need not exist at their paths any more: the copies are booted
    initrd.unlink()
    proc = cluster.run("sub", "-r", "run-43", "--like", "run-42")
    out = ok(proc)
    first = out.splitlines()[0]
    source = stored(cluster, "run-42")
    assert first == (
        f"like run-42 (live): 3 nodes, 2h, kernel sha256:{source.kernel_hash[:12]}…, "
        f'initrd sha256:{source.initrd_hash[:12]}…, args "console=ttyS0"'
    )
    new = stored(cluster, "run-43")
    assert (new.kernel_hash, new.initrd_hash) == (source.kernel_hash, source.initrd_hash)
    assert (new.kernel, new.initrd) == (src["kernel"], src["initrd"])
    assert new.kernel_args == "console=ttyS0" and len(new.nodes) == 3
    assert new.end - new.start == source.end - source.start
    assert not set(new.nodes) & set(source.nodes) or new.start >= source.end


def test_like_with_overrides(cluster: Cluster) -> None:
    book(cluster, "base", "-n", "2", "-t", "3h", "-c", "quiet")
    out = ok(cluster.run("sub", "-r", "over", "--like", "base", "-n", "1", "-c", "", "-t", "30m"))
    source = stored(cluster, "base")
    kernel, initrd = source.kernel_hash[:12], source.initrd_hash[:12]
    assert out.splitlines()[0] == f"like base (live): kernel sha256:{kernel}…, initrd sha256:{initrd}…"
    new = stored(cluster, "over")
    assert (len(new.nodes), new.kernel_args, int((new.end - new.start).total_seconds())) == (1, "", 30 * 60)
    other = cluster.file("vmlinuz-other", b"another kernel\n")
    ok(cluster.run("sub", "-r", "own-k", "--like", "base", "-k", str(other), "-i", str(cluster.initrd)))
    own = stored(cluster, "own-k")
    assert own.kernel_hash != source.kernel_hash and own.kernel_args == "quiet" and len(own.nodes) == 2


def test_like_an_archived_reservation_and_speculation(cluster: Cluster) -> None:
    book(cluster, "keeper", "-n", "1")  # keeps the shared boot files in the content area
    book(cluster, "gone", "-n", "4", "-t", "90m", "-c", "console=ttyS1")
    ok(cluster.run("del", "gone"))
    spec = ok(cluster.run("sub", "-r", "again", "--like", "gone", "-s"))
    assert spec.splitlines()[0].startswith("like gone (archived): 4 nodes, 1h30m, kernel sha256:")
    speculated = as_json(cluster.run("sub", "-r", "again", "--like", "gone", "-s", "--json"))
    slots = speculated["slots"]
    assert slots and all(len(s["nodes"]) == 4 for s in slots)
    assert speculated["like"]["source"] == "gone" and speculated["like"]["archived"] is True
    data = as_json(cluster.run("sub", "-r", "again", "--like", "gone", "--json"))
    assert (len(data["nodes"]), data["kernel_args"]) == (4, "console=ttyS1")
    keeper = stored(cluster, "keeper")
    assert data["like"] == {
        "source": "gone",
        "id": data["like"]["id"],
        "archived": True,
        "reused": [
            "4 nodes",
            "1h30m",
            f"kernel sha256:{keeper.kernel_hash[:12]}…",
            f"initrd sha256:{keeper.initrd_hash[:12]}…",
            'args "console=ttyS1"',
        ],
        "kernel_hash": keeper.kernel_hash,
        "initrd_hash": keeper.initrd_hash,
    }
    assert data["like"]["id"] not in (keeper.id, data["id"])


def test_like_is_resolved_once_per_command(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """`igor sub --like` prints what it reuses, then plans, then books: one resolution (one read of the
    archive for an archived source), not one per step; a changed store is resolved again."""
    from igor_tui.service import like
    from igor_tui.store import TinyStore

    book(cluster, "keeper", "-n", "1")
    book(cluster, "gone", "-n", "2")
    ok(cluster.run("del", "gone"))
    resolved: list[str] = []
    archive_reads: list[int] = []
    resolve, read_archive = like._resolve, TinyStore._read_archive

    def counted_resolve(*args: Any) -> Any:
        resolved.append(args[1].like)
        return resolve(*args)

    def counted_read(self: TinyStore) -> bytes:
        archive_reads.append(1)
        return read_archive(self)

    monkeypatch.setattr(like, "_resolve", counted_resolve)
    monkeypatch.setattr(TinyStore, "_read_archive", counted_read)
    ok(cluster.run("sub", "-r", "again", "--like", "gone"))
    assert (resolved, len(archive_reads)) == (["gone"], 1)
    ok(cluster.run("sub", "-r", "again2", "--like", "gone", "-s"))
    assert resolved == ["gone", "gone"]  # another process, another store: resolved afresh


def test_like_refuses_when_the_content_is_gone(cluster: Cluster) -> None:
    kernel = cluster.file("vmlinuz-once", b"used once\n")
    initrd = cluster.file("initrd-once", b"used once too\n")
    ok(cluster.run("sub", "-r", "once", "-k", str(kernel), "-i", str(initrd), "-n", "1"))
    digest = stored(cluster, "once").kernel_hash
    ok(cluster.run("del", "once"))  # nothing else uses those copies: collected
    before = cluster.content_files()
    error(
        cluster.run("sub", "-r", "twice", "--like", "once"),
        1,
        f"--like once: its kernel (sha256:{digest[:12]}…) is no longer in the content area (igor keeps "
        "copies only while a reservation uses them); give -k and -i",
    )
    assert cluster.content_files() == before
    ok(cluster.run("sub", "-r", "twice", "--like", "once", *cluster.boot))  # new files: fine


def test_like_refusals(cluster: Cluster) -> None:
    error(
        cluster.run("sub", "-r", "x", "--like", "nosuch"),
        1,
        "--like nosuch: no live or archived reservation is called nosuch",
        exact=False,
    )
    book(cluster, "bobs", "-n", "1", user="bob")
    proc = cluster.run("sub", "-r", "x", "--like", "bobs")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().endswith(
        "--like bobs: it belongs to bob; only its owner, its group's members and admins may book like it"
    )
    assert json.loads(ok(cluster.run("show", "--json")))["reservations"][0]["name"] == "bobs"


def test_like_shares_the_vlan_the_source_shared(make_cluster: ClusterFactory) -> None:
    c = make_cluster(
        network="arista",
        vlan_min=100,
        vlan_max=200,
        network_url="switch:443/command-api",
        node_map={f"kn{i}": f"Et{i}" for i in range(1, 21)},
    )
    book(c, "net", "-n", "1", "-vlan", "150", "-t", "1d")
    book(c, "member", "-n", "1", "-vlan", "net")
    book(c, "alone", "-n", "1", "-vlan", "160")
    out = ok(c.run("sub", "-r", "member2", "--like", "member"))
    assert out.splitlines()[0].endswith(", VLAN of net")
    assert stored(c, "member2").vlan == 150
    ok(c.run("sub", "-r", "alone2", "--like", "alone"))  # its own VLAN: the copy gets its own
    assert stored(c, "alone2").vlan is None
    ok(c.run("sub", "-r", "member3", "--like", "member", "-vlan", "170"))  # -vlan wins
    assert stored(c, "member3").vlan == 170


# --------------------------------------------------------------------------------------------- TUI


async def test_tui_detail_and_table_tooltip_show_the_description(tmp_path: Path) -> None:
    from test_tui_findings import open_on
    from textual.widgets import Static
    from tui_rig import dashboard, demo_app, demo_cluster, settle

    from igor_tui.screens.details import ReservationScreen
    from igor_tui.service import EditRequest
    from igor_tui.widgets.reservation_table import ReservationTable

    demo = demo_cluster(tmp_path / "demo")
    demo.service("ops").edit("kernel-ci", EditRequest(desc="nightly CI of the e1000 driver"))
    app = demo_app(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_on(pilot, "kernel-ci", "enter", ReservationScreen)
        lines = str(app.screen.query_one("#res-lines", Static).render())
        assert lines.splitlines()[0] == "desc    nightly CI of the e1000 driver"
        await pilot.press("escape")
        await settle(pilot)
        table = dashboard(app).query_one(ReservationTable)
        assert table.current is not None and table.current.name == "kernel-ci"
        assert table.tooltip == "nightly CI of the e1000 driver"
        table.set_filter("e1000")  # the / filter finds it by its description
        await settle(pilot)
        assert [r.name for r in table.listed] == ["kernel-ci"]
