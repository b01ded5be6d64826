"""Ended reservations are archived, never destroyed: `igor del`, expiry (by any writer or igor-tick) and
igor-tick's release after a teardown move the reservation to statedir/archive.jsonl with when, why and by
whom; `igor history` shows it, `IgorService.past_reservations` finds it by window, and an admin can
`igor restore` it while its window has not passed and its nodes are free. A SIGKILL between the archive
append and the store commit loses nothing and shows nothing twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from conftest import Cluster, ClusterFactory
from fault_rig import tick, tick_site
from test_service import NOW, ServiceFactory, files, make, sub

from igor_tui.model import floor_minute
from igor_tui.store import TinyStore

__all__ = ["files", "make"]  # fixtures

# ------------------------------------------------------------------------------------------ in-process


def test_delete_archives_with_when_why_and_who(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make("alice")
    res = svc.submit(sub(svc, files, "demo", count=2))
    svc.delete("demo")
    (entry,) = svc.archived("demo")
    assert entry.reservation == res
    assert (entry.why, entry.by, entry.archived) == ("deleted", "alice", floor_minute(NOW))
    assert svc.view().reservations == ()


def test_expiry_archives_and_past_reservations_finds_it_by_window(
    make: ServiceFactory, files: dict[str, str]
) -> None:
    svc = make("alice")
    res = svc.submit(sub(svc, files, "short", count=1, duration="30m"))
    svc.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    svc.submit(sub(svc, files, "next", count=1))  # housekeeping drops (archives) the ended one
    (entry,) = svc.archived("short")
    assert (entry.reservation, entry.why, entry.by) == (res, "expired", "igor")
    hour = timedelta(hours=1)
    assert svc.past_reservations(res.start - hour, res.start + hour) == [res]
    assert svc.past_reservations(res.end, res.end + hour) == []  # half-open windows
    assert svc.past_reservations(res.start - 2 * hour, res.start) == []


def test_the_past_shows_what_really_held_the_nodes(make: ServiceFactory, files: dict[str, str]) -> None:
    """Deleted early: the past ends it at the deletion. Deleted before it started: it never held a node,
    so the past leaves it out (the archive still has it for `igor history` and `igor restore`)."""
    svc = make("alice")
    cut = svc.submit(sub(svc, files, "cut", count=1, duration="3h"))
    never = svc.submit(sub(svc, files, "never", count=1, duration="1h", after="+5h"))
    svc.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    svc.delete("cut")
    svc.delete("never")
    day = timedelta(days=1)
    past = svc.past_reservations(cut.start - day, cut.start + day)
    assert [(r.name, r.start, r.end) for r in past] == [("cut", cut.start, cut.start + timedelta(hours=1))]
    assert [e.reservation for e in svc.archived("never")] == [never]


def test_restore_puts_it_back_for_admins_only(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make("alice")
    res = alice.submit(sub(alice, files, "demo", nodes="kn3", duration="2h"))
    alice.delete("demo")
    refused = make("bob")
    try:
        refused.restore("demo")
    except Exception as err:  # noqa: BLE001 - the exact type and words are asserted below
        assert type(err).__name__ == "PermissionDenied"
        assert str(err) == "only admins may restore a reservation"
    else:
        raise AssertionError("a non-admin restored a reservation")
    back = make("olga").restore("demo")
    assert back == res and alice.get("demo") == res
    assert alice.archived("demo") == [], "a restored reservation is live again, not archived"


def test_restore_refuses_a_passed_window_and_taken_nodes(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make("alice")
    admin = make("olga")
    alice.submit(sub(alice, files, "gone", nodes="kn1", duration="30m"))
    alice.submit(sub(alice, files, "taken", nodes="kn2", duration="2h"))
    alice.delete("gone")
    alice.delete("taken")
    alice.submit(sub(alice, files, "other", nodes="kn2", duration="1h"))
    alice.clock.advance(timedelta(minutes=45))  # type: ignore[attr-defined]
    for name, words in (
        ("gone", "cannot restore gone: its window ended 11:30 CET"),  # today: the one date policy
        ("taken", "cannot restore taken: kn2 reserved by other (11:00 - 12:00 CET)"),
        ("never", "no archived reservation named never (see 'igor history never')"),
    ):
        try:
            admin.restore(name)
        except Exception as err:  # noqa: BLE001
            assert str(err) == words
        else:
            raise AssertionError(f"{name} was restored")


# ---------------------------------------------------------------------------------------- the real CLI


def test_cli_del_history_restore(cluster: Cluster) -> None:
    cluster.run("sub", "-r", "demo", *cluster.boot, "-w", "kn4", "-t", "2h", check=0)
    cluster.run("del", "demo", check=0)
    hist = cluster.run("history", "demo", check=0).stdout
    assert "ARCHIVED demo" in hist and "deleted by alice" in hist and "kn4" in hist
    data = json.loads(cluster.run("history", "demo", "--json", check=0).stdout)
    (archived,) = data["archived"]
    assert (archived["why"], archived["by"], archived["reservation"]["nodes"]) == (
        "deleted",
        "alice",
        ["kn4"],
    )
    denied = cluster.run("restore", "demo", user="bob")
    assert (denied.returncode, denied.stderr) == (1, "igor: only admins may restore a reservation\n")
    back = cluster.run("restore", "demo", "--json", user="root", check=0)
    assert json.loads(back.stdout)["restored"]["name"] == "demo"
    assert "demo" in cluster.run("show", check=0).stdout
    again = cluster.run("restore", "demo", user="root")
    assert again.returncode != 0
    assert again.stderr == "igor: no archived reservation named demo (see 'igor history demo')\n"


def test_tick_release_archives_who_deleted_an_installed_reservation(make_cluster: ClusterFactory) -> None:
    cluster = tick_site(make_cluster)
    cluster.run("sub", "-r", "inst", *cluster.boot, "-w", "kn5", "-t", "2h", check=0)
    tick(cluster, check=0)
    cluster.run("del", "inst", check=0)  # installed: stays until igor-tick has torn it down
    assert "ARCHIVED" not in cluster.run("history", "inst", check=0).stdout
    tick(cluster, check=0)
    entry = json.loads(cluster.run("history", "inst", "--json", check=0).stdout)["archived"][0]
    assert (entry["why"], entry["by"]) == ("deleted", "alice")


KILL_AT_COMMIT = """
import os, signal, sys
from igor_tui import store
def die(self, payload):
    os.kill(os.getpid(), signal.SIGKILL)
store.TinyStore._write_payload = die
from igor_tui.cli import run
sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr, os.environ))
"""


def test_a_kill_between_archive_and_commit_loses_nothing(cluster: Cluster) -> None:
    cluster.run("sub", "-r", "keep", *cluster.boot, "-w", "kn6", "-t", "2h", check=0)
    store_file = cluster.statedir / "igor.json"
    before = store_file.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILL_AT_COMMIT), "del", "keep"],
        env=cluster.env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert store_file.read_bytes() == before, "the removal never committed"
    lines = (cluster.statedir / "archive.jsonl").read_bytes().splitlines()
    assert len(lines) == 1, "the archive line was written (and fsynced) before the commit"
    assert [r.name for r in TinyStore(cluster.statedir).snapshot().reservations] == ["keep"]
    hist = cluster.run("history", "keep", "--json", check=0)
    assert json.loads(hist.stdout)["archived"] == [], "live in the store: not shown as archived"
    cluster.run("del", "keep", check=0)  # archived a second time: one entry all the same
    assert len(json.loads(cluster.run("history", "keep", "--json", check=0).stdout)["archived"]) == 1
    cluster.run("restore", "keep", user="root", check=0)
    assert "keep" in cluster.run("show", check=0).stdout


def test_a_torn_archive_line_hides_nothing_after_it(tmp_path: Path, cluster: Cluster) -> None:
    cluster.run("sub", "-r", "a", *cluster.boot, "-w", "kn7", check=0)
    cluster.run("sub", "-r", "b", *cluster.boot, "-w", "kn8", check=0)
    cluster.run("del", "a", check=0)
    with (cluster.statedir / "archive.jsonl").open("ab") as handle:
        handle.write(b'{"archived": "2026-')  # a crash mid-append
    cluster.run("del", "b", check=0)
    assert "ARCHIVED b" in cluster.run("history", "b", check=0).stdout
    assert "ARCHIVED a" in cluster.run("history", "a", check=0).stdout
