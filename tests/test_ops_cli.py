"""The operations verbs through the installed `igor`: block/unblock, history, stats (and their refusals).

Each call runs the console script as a subprocess as some user (SUDO_USER), like test_cli.py. `ops` is an
admin in every cluster here; alice and bob are not.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, ClusterFactory
from test_cli import error, ok

from igor_tui.model import floor_minute

DAY = timedelta(days=1)


@pytest.fixture
def ops(make_cluster: ClusterFactory) -> Cluster:
    """The default 20-node cluster with `ops` as an admin."""
    return make_cluster(admins=["ops"])


def _sub(c: Cluster, name: str, nodes: str, *extra: str, user: str = "alice") -> dict[str, Any]:
    out = ok(c.run("sub", "-r", name, *c.boot, "-w", nodes, *extra, "--json", user=user))
    data: dict[str, Any] = json.loads(out)
    return data


# ------------------------------------------------------------------------------------ maintenance


def test_block_reports_overlapping_reservations_and_keeps_them(ops: Cluster) -> None:
    _sub(ops, "demo", "kn[3-6]", "-t", "2h")
    out = ok(ops.run("block", "kn[3-5]", "--reason", "disk swap", "-t", "3h", user="ops"))
    assert out.startswith("Blocked kn[3-5]  ")
    assert ": disk swap (by ops)" in out
    assert "1 reservation(s) already hold these nodes then (left untouched):" in out
    assert "  demo (alice) " in out
    # The reservation is still there, unchanged.
    shown = json.loads(ok(ops.run("show", "--json")))
    assert [r["name"] for r in shown["reservations"]] == ["demo"]
    assert shown["reservations"][0]["nodes"] == ["kn3", "kn4", "kn5", "kn6"]
    states = {n["name"]: n["state"] for n in shown["nodes"]}
    assert [n for n, s in states.items() if s == "blocked"] == ["kn3", "kn4", "kn5"]
    (block,) = shown["blocks"]
    assert block["nodes"] == ["kn3", "kn4", "kn5"]
    assert block["reason"] == "disk swap"
    assert block["by"] == "ops"
    assert block["active"] is True
    assert set(block) == {"id", "nodes", "start", "end", "reason", "by", "active"}
    assert datetime.fromisoformat(block["end"]) - datetime.fromisoformat(block["start"]) == timedelta(hours=3)


def test_blocked_nodes_are_never_scheduled_in_the_window(ops: Cluster) -> None:
    ok(ops.run("block", "kn[1-18]", "--reason", "rewiring", user="ops"))  # until unblocked
    out = ok(ops.run("sub", "-r", "a", *ops.boot, "-n", "2", "--json"))
    assert json.loads(out)["nodes"] == ["kn19", "kn20"]
    error(ops.run("sub", "-r", "b", *ops.boot, "-w", "kn5"), 1, "", exact=False)
    # A block in the future: a booking now may end before it, not run into it.
    start = floor_minute(datetime.now(UTC)) + timedelta(hours=2)
    ok(ops.run("block", "kn20", "--reason", "fan", "-a", start.isoformat(), "-t", "1h", user="ops"))
    late = json.loads(ok(ops.run("sub", "-r", "c", *ops.boot, "-w", "kn20", "-t", "3h", "--json")))
    assert datetime.fromisoformat(late["start"]) >= start + timedelta(hours=1)


def test_show_text_lists_maintenance_with_reason(ops: Cluster) -> None:
    ok(ops.run("block", "kn7", "--reason", "BIOS update", user="ops"))
    out = ok(ops.run("show", "-c=false"))
    assert " 7#|" in out
    assert "BLOCKED" in out
    tail = out.split("MAINTENANCE (# in the racks)\n", 1)[1]
    assert tail.startswith("  kn7  from ")
    assert "until unblocked: BIOS update (by ops)" in tail


def test_unblock_splits_blocks_and_refuses_what_is_not_blocked(ops: Cluster) -> None:
    ok(ops.run("block", "kn[3-5]", "--reason", "disk swap", user="ops"))
    assert ok(ops.run("unblock", "kn4", user="ops")) == "Unblocked kn4\n"
    shown = json.loads(ok(ops.run("show", "--json")))
    assert [b["nodes"] for b in shown["blocks"]] == [["kn3", "kn5"]]
    assert shown["blocks"][0]["reason"] == "disk swap"
    error(ops.run("unblock", "kn4", user="ops"), 1, "kn4 is not blocked")
    data = json.loads(ok(ops.run("unblock", "kn[1-20]", "--json", user="ops")))
    assert data["unblocked"] == [f"kn{i}" for i in range(1, 21)]
    assert "blocks" not in json.loads(ok(ops.run("show", "--json")))
    events = [e["event"] for e in ops.log_events()]
    assert events == ["blocked", "unblocked", "unblocked"]


@pytest.mark.parametrize(
    ("args", "user", "code", "message"),
    [
        (("block", "kn1", "--reason", "x"), "alice", 1, "only admins may block nodes"),
        (("unblock", "kn1"), "bob", 1, "only admins may unblock nodes"),
        (
            ("block", "kn1"),
            "ops",
            1,
            "give a reason for the block (--reason TEXT): users see it in igor show",
        ),
        (("block", "kn99", "--reason", "x"), "ops", 1, "bad node list 'kn99'"),
        (("block", "kn1", "--reason", "x", "-t", "soon"), "ops", 1, "cannot parse duration 'soon'"),
        (("block", "kn1", "--reason", "x", "-a", "tomorrow"), "ops", 1, "cannot parse start time"),
        (("block", "--reason", "x"), "ops", 2, "the following arguments are required: NODES"),
        (("block", "kn1", "--reason", "a\nb"), "ops", 1, "control character"),
    ],
)
def test_block_refusals(ops: Cluster, args: tuple[str, ...], user: str, code: int, message: str) -> None:
    error(ops.run(*args, user=user), code, message, exact=False)
    assert ops.log_events() == []


# ---------------------------------------------------------------------------------------- history


def test_history_shows_every_event_with_who_and_when(ops: Cluster) -> None:
    _sub(ops, "demo", "kn[1-2]", "-t", "2h")
    ok(ops.run("extend", "-r", "demo", "-t", "30m"))
    ok(ops.run("edit", "-r", "demo", "-c", "console=ttyS0"))
    ok(ops.run("edit", "-r", "demo", "-owner", "daemon", user="ops"))  # a real system user
    _sub(ops, "other", "kn5")
    ok(ops.run("del", "demo", user="daemon"))
    out = ok(ops.run("history", "demo", user="carol"))  # anyone may read it, as anyone may `show`
    lines = out.splitlines()
    assert lines[0] == "HISTORY OF demo (times in Europe/Berlin)"
    assert lines[1].split() == ["TIME", "EVENT", "BY", "ID", "DETAILS"]
    blank = lines.index("")  # the archived copy follows the events
    assert lines[blank + 1] == "ARCHIVED demo (times in Europe/Berlin)"
    assert lines[blank + 3].split()[1:6] == ["deleted", "by", "daemon", "1", "daemon"]
    rows = [line.split(None, 4) for line in lines[2:blank]]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("created", "alice", "1"),
        ("extended", "alice", "1"),
        ("edited", "alice", "1"),
        ("edited", "ops", "1"),
        ("deleted", "daemon", "1"),
    ]
    assert rows[0][4].startswith("kn[1-2], ")
    assert rows[1][4].startswith("+30m, now ends ")
    assert rows[2][4] == "changed kernel_args"
    assert rows[3][4] == "changed owner"
    data = json.loads(ok(ops.run("history", "demo", "--json")))
    assert data["name"] == "demo"
    assert [e["event"] for e in data["events"]] == ["created", "extended", "edited", "edited", "deleted"]
    first = data["events"][0]
    assert set(first) == {"time", "event", "by", "id", "details", "record"}
    assert first["record"]["event"] == "created"
    assert first["record"]["nodes"] == "kn[1-2]"


def test_history_includes_tick_steps_and_errors(ops: Cluster) -> None:
    """igor-tick's per-action lines carry the reservation's name: installs, teardown and failures."""
    log = ops.logfile
    lines = [
        {"time": "2026-11-24T04:44:00+00:00", "event": "created", "by": "alice", "id": 3, "name": "t",
         "owner": "alice", "group": "", "nodes": "kn1", "count": 1,
         "start": "2026-11-24T04:44:00+00:00", "end": "2026-11-24T06:44:00+00:00"},
        {"time": "2026-11-24T04:45:01+00:00", "event": "tick", "step": "install-boot", "id": 3, "name": "t",
         "nodes": "kn1", "ports": [], "ok": False, "error": "TFTP root is read-only", "ms": 1.0},
        {"time": "2026-11-24T04:46:01+00:00", "event": "tick", "step": "install-boot", "id": 3, "name": "t",
         "nodes": "kn1", "ports": [], "ok": True, "error": "", "ms": 1.0},
        {"time": "2026-11-24T04:46:02+00:00", "event": "tick", "step": "complete", "id": 3, "name": "t",
         "nodes": "kn1", "ports": [], "ok": True, "error": "", "ms": 1.0},
        {"time": "2026-11-24T05:00:00+00:00", "event": "power", "by": "alice", "action": "cycle",
         "nodes": "kn1", "reservations": ["t"]},
        {"time": "2026-11-24T05:10:00+00:00", "event": "created", "by": "bob", "id": 4, "name": "u",
         "owner": "bob", "group": "", "nodes": "kn2", "count": 1,
         "start": "2026-11-24T05:10:00+00:00", "end": "2026-11-24T06:10:00+00:00"},
    ]  # fmt: skip
    log.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{torn line\n")
    data = json.loads(ok(ops.run("history", "t", "--json")))
    summary = [(e["event"], e["by"], e["details"]) for e in data["events"]]
    assert summary == [
        ("created", "alice", "kn1, 2026-Nov-24-05:44 - 2026-Nov-24-07:44"),
        ("error", "igor-tick", "install-boot kn1: TFTP root is read-only"),
        ("install", "igor-tick", "install-boot kn1"),
        ("installed", "igor-tick", "complete kn1"),
        ("powered", "alice", "cycle kn1"),
    ]
    assert data["events"][0]["time"] == "2026-Nov-24-05:44"  # Europe/Berlin, the configured zone


def test_history_of_an_actual_power_call_names_the_reservation(ops: Cluster, tmp_path: Path) -> None:
    tool = tmp_path / "power.sh"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    c = ops
    cfg = dict(c.config, poweroncommand=f"{tool} on %s", poweroffcommand=f"{tool} off %s")
    c.config_path.write_text(json.dumps(cfg))
    _sub(c, "pw", "kn[1-2]")
    ok(c.run("power", "-n", "kn1", "on"))
    events = json.loads(ok(c.run("history", "pw", "--json")))["events"]
    assert [(e["event"], e["details"]) for e in events][-1] == ("powered", "on kn1")


def test_history_refusals(make_cluster: ClusterFactory) -> None:
    c = make_cluster()
    error(c.run("history", "nope"), 1, f"no events for a reservation named nope in {c.logfile}")
    error(c.run("history"), 2, "", exact=False)
    quiet = make_cluster(logfile="")
    error(
        quiet.run("history", "x"),
        1,
        "no logfile is configured in igor.conf, so igor has no history to read",
    )


# ------------------------------------------------------------------------------------------ stats


def _event(kind: str, when: datetime, res_id: int, owner: str, nodes: int, start: datetime, end: datetime,
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    names = f"kn[1-{nodes}]" if nodes > 1 else "kn1"
    return {
        "time": when.isoformat(),
        "event": kind,
        "by": owner,
        "id": res_id,
        "name": owner,
        "owner": owner,
        "group": "",
        "nodes": names,
        "count": nodes,
        "start": start.isoformat(),
        "end": end.isoformat(),
        **extra,
    }


def spec_10_4_log(now: datetime) -> list[dict[str, Any]]:
    """Classic igor's stats scenario (spec §10.4) in igor-tui's log format: per user, a created event,
    one extended event per extension and a deleted event with the actual end when it was cut short."""
    s = now - 5 * DAY
    table = [  # user, scheduled start, scheduled end, actual end, nodes, extensions
        ("userA", s, s + 6 * DAY, s + 4 * DAY, 1, 0),
        ("userB", s, s + 6 * DAY, None, 2, 0),
        ("userC", s - 5 * DAY, s + DAY, s - 4 * DAY, 3, 0),
        ("userD", s, s + 10 * DAY, None, 4, 3),
        ("userE", s - DAY, s + 6 * DAY, s + 4 * DAY, 5, 2),
    ]
    events: list[dict[str, Any]] = []
    for i, (user, start, end, actual, nodes, ext) in enumerate(table, 1):
        first_end = end - ext * timedelta(hours=1)
        events.append(_event("created", start, i, user, nodes, start, first_end))
        for k in range(1, ext + 1):
            events.append(
                _event(
                    "extended",
                    start + k * timedelta(hours=1),
                    i,
                    user,
                    nodes,
                    start,
                    first_end + k * timedelta(hours=1),
                    minutes=60,
                )
            )
        events.append({"time": start.isoformat(), "event": "tick", "step": "complete", "id": i, "name": user,
                       "nodes": "kn1", "ports": [], "ok": True, "error": "", "ms": 1.0})  # fmt: skip
        if actual is not None:
            events.append(
                _event("deleted", actual, i, user, nodes, start, end, actual_end=actual.isoformat())
            )
    events.sort(key=lambda e: e["time"])
    return events


def _stats_at_this_minute(c: Cluster, *args: str) -> tuple[datetime, subprocess.CompletedProcess[str]]:
    """Write the §10.4 log for this minute and run `igor stats`; again if the minute turned meanwhile
    (the installed igor reads the real clock, and stats works on whole minutes)."""
    for _ in range(3):
        now = floor_minute(datetime.now(UTC))
        c.logfile.write_text("".join(json.dumps(e) + "\n" for e in spec_10_4_log(now)))
        proc = c.run("stats", *args)
        if floor_minute(datetime.now(UTC)) == now:
            return now, proc
    raise AssertionError("the minute kept turning")


def test_stats_spec_scenario_text(ops: Cluster) -> None:
    _, proc = _stats_at_this_minute(ops, "-d", "5")
    lines = ok(proc).splitlines()
    assert lines[0].startswith("Statistics from ")
    assert lines[2:] == [
        "------------------Global Statistics for all nodes------------------",
        "Total Users: 4",
        "Number of Nodes used: 5",
        "Total Number of Reservations: 4",
        "Total Number of Reservations Cancelled Early: 2",
        "Total Number of Extensions: 5",
        "Total Reservation Time: 07 Weeks 05 days 00 hours 00 minutes",
        "Total Node-Hours: 1296.0",
    ]


def test_stats_spec_scenario_json_and_verbose(ops: Cluster) -> None:
    now, proc = _stats_at_this_minute(ops, "-d", "5", "-v", "--json")
    data = json.loads(ok(proc))
    assert datetime.fromisoformat(data["until"]) == now
    assert datetime.fromisoformat(data["since"]) == now - 5 * DAY
    assert {k: data[k] for k in ("users", "nodes", "reservations", "early_cancels", "extensions")} == {
        "users": 4,
        "nodes": 5,
        "reservations": 4,
        "early_cancels": 2,
        "extensions": 5,
    }
    assert data["node_hours"] == 54 * 24
    per_user = data["per_user"]
    assert sorted(per_user) == ["userA", "userB", "userD", "userE"]
    assert per_user["userD"]["extensions"] == 3
    assert per_user["userD"]["node_hours"] == 4 * 5 * 24
    (e,) = per_user["userE"]["reservations"]
    assert e["cancelled_early"] is True
    assert e["count"] == 5
    text = ok(_stats_at_this_minute(ops, "-d", "5", "-v")[1])
    assert "------------------User Summary for userA ------------------" in text
    assert "Reservation Name: userA\tReservation ID: 1" in text
    assert "Total user duration: 00 Weeks 04 days 00 hours 00 minutes" in text


def test_stats_reads_logged_offsets_across_dst_and_zones(ops: Cluster) -> None:
    """Classic igor read local wall times as UTC. Every logged time carries its offset here: a night
    across the spring DST change in Berlin is 3 hours, and a reservation logged in -07:00 is 2 hours."""
    rows = [
        _event("created", datetime.fromisoformat("2025-03-30T00:00:00+01:00"), 1, "dst", 1,
               datetime.fromisoformat("2025-03-30T00:00:00+01:00"),
               datetime.fromisoformat("2025-03-30T04:00:00+02:00")),
        _event("created", datetime.fromisoformat("2025-06-01T10:00:00-07:00"), 2, "denver", 2,
               datetime.fromisoformat("2025-06-01T10:00:00-07:00"),
               datetime.fromisoformat("2025-06-01T19:00:00+00:00")),
    ]  # fmt: skip
    ops.logfile.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = json.loads(ok(ops.run("stats", "-d", "3650", "-v", "--json")))
    assert data["per_user"]["dst"]["node_hours"] == 3.0
    assert data["per_user"]["denver"]["node_hours"] == 2 * 2.0
    assert data["nodes"] == 2


def test_stats_without_log_and_refusals(make_cluster: ClusterFactory) -> None:
    c = make_cluster()
    data = json.loads(ok(c.run("stats", "-d", "7", "--json")))  # no log yet: nothing happened
    assert (data["users"], data["reservations"], data["node_hours"]) == (0, 0, 0)
    error(c.run("stats"), 2, "stats needs -d DAYS (see 'igor stats -h')")
    error(c.run("stats", "-d", "x"), 2, "argument -d: -d wants a whole number, got 'x' (see 'igor stats -h')")
    error(c.run("stats", "-d", "0"), 1, "-d wants a positive number of days, got 0")
    error(c.run("stats", "-d", "-3"), 1, "-d wants a positive number of days, got -3")
    quiet = make_cluster(logfile="")
    error(
        quiet.run("stats", "-d", "1"),
        1,
        "no logfile is configured in igor.conf, so igor has no history to read",
    )


def test_stats_counts_what_igor_itself_logged(ops: Cluster) -> None:
    """Round trip through the real verbs: a booking, an extension, a deletion in the same minute
    (deleted before it started: not counted) and one still running."""
    _sub(ops, "run", "kn[1-3]", "-t", "2h")
    ok(ops.run("extend", "-r", "run", "-t", "1h"))
    _sub(ops, "gone", "kn9", "-a", "+1h", user="bob")
    ok(ops.run("del", "gone", user="bob"))
    data = json.loads(ok(ops.run("stats", "-d", "1", "--json")))
    assert (data["users"], data["nodes"], data["reservations"], data["extensions"]) == (1, 3, 1, 1)


# -------------------------------------------------------------------------------------- inventory


def test_hosts_exports_aliases_and_configured_addresses(make_cluster: ClusterFactory) -> None:
    c = make_cluster(
        hosts={"kn3": {"ip": "127.0.3.3", "mac": "52:54:00:00:03:03"}, "kn4": {"ip": "127.0.3.4"}}
    )
    _sub(c, "demo", "kn[3-5]")
    assert ok(c.run("hosts", "demo", user="bob")) == (
        "127.0.3.3\tdemo-0 kn3\n127.0.3.4\tdemo-1 kn4\n# demo-2 kn5: no address in igor.conf\n"
    )
    assert ok(c.run("hosts", "demo", "--format", "ssh-config")) == (
        "Host demo-0\n    HostName 127.0.3.3\n\nHost demo-1\n    HostName 127.0.3.4\n\n"
        "Host demo-2\n    HostName kn5\n"
    )
    assert ok(c.run("hosts", "demo", "-format", "ansible")) == (
        "[demo]\n"
        "demo-0 ansible_host=127.0.3.3 igor_node=kn3\n"
        "demo-1 ansible_host=127.0.3.4 igor_node=kn4\n"
        "demo-2 ansible_host=kn5 igor_node=kn5\n"
    )
    data = json.loads(ok(c.run("hosts", "demo", "--format", "json")))
    assert data == json.loads(ok(c.run("hosts", "demo", "--json")))
    assert data == {
        "name": "demo",
        "hosts": [
            {"alias": "demo-0", "node": "kn3", "ip": "127.0.3.3", "mac": "52:54:00:00:03:03"},
            {"alias": "demo-1", "node": "kn4", "ip": "127.0.3.4", "mac": ""},
            {"alias": "demo-2", "node": "kn5", "ip": "", "mac": ""},
        ],
    }


def test_hosts_refusals(cluster: Cluster) -> None:
    error(cluster.run("hosts", "nope"), 1, "no reservation named nope")
    error(
        cluster.run("hosts", "x", "--format", "yaml"),
        2,
        "argument -format/--format: invalid choice: 'yaml' (choose from 'hosts', 'ssh-config', 'ansible', "
        "'json') (see 'igor hosts -h')",
    )
    error(cluster.run("hosts"), 2, "the following arguments are required: NAME (see 'igor hosts -h')")


# ------------------------------------------------------------------------------------ classic import


def _classic_file(c: Cluster, now: datetime) -> tuple[Path, dict[str, Any]]:
    """A classic igor state directory: reservations.json (one active, one future, one expired, one whose
    kernel copy is gone) and the SHA-1 named copies beside it, times in RFC 3339 with nanoseconds."""
    import hashlib

    state = c.root / "classic-igor"
    state.mkdir()
    kernel, initrd = b"classic kernel\n", b"classic initrd\n"
    k_sha, i_sha = hashlib.sha1(kernel).hexdigest(), hashlib.sha1(initrd).hexdigest()
    (state / f"{k_sha}-kernel").write_bytes(kernel)
    (state / f"{i_sha}-initrd").write_bytes(initrd)

    def entry(
        rid: int, name: str, owner: str, start: datetime, hours: int, hosts: list[str], **kw: Any
    ) -> Any:
        end = start + timedelta(hours=hours)
        return {
            "ID": rid, "Name": name, "Owner": owner, "Group": "", "GroupID": "",
            "Start": start.astimezone(timezone(timedelta(hours=-7))).isoformat().replace("+00:00", "Z"),
            "End": end.strftime("%Y-%m-%dT%H:%M:%S.000000000Z"),
            "Duration": hours * 3600 * 10**9, "Hosts": hosts, "PXENames": None, "CobblerProfile": "",
            "KernelArgs": "console=ttyS0", "Kernel": "/home/x/vmlinuz", "Initrd": "/home/x/initrd.img",
            "KernelHash": k_sha, "InitrdHash": i_sha, "Vlan": 1000, "Installed": True, "InstallError": "",
            **kw,
        }  # fmt: skip

    data = {
        "5673568784021613103": entry(5673568784021613103, "active", "alice", now - timedelta(hours=1), 3,
                                     ["kn1", "kn2", "kn3"]),
        "17": entry(17, "future", "bob", now + timedelta(days=1), 2, ["kn7"], Installed=False),
        "23": entry(23, "expired", "carol", now - timedelta(days=2), 4, ["kn4"]),
        "42": entry(42, "nokernel", "dave", now + timedelta(hours=5), 1, ["kn9"], KernelHash="0" * 40),
    }  # fmt: skip
    path = state / "reservations.json"
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    return path, data


def test_import_classic_dry_run_then_apply(ops: Cluster) -> None:
    now = floor_minute(datetime.now(UTC))
    path, data = _classic_file(ops, now)
    dry = ok(ops.run("import-classic", str(path), user="ops"))
    lines = dry.splitlines()
    assert lines[0] == "dry run: nothing is written; add --apply to import"
    # In start order: the expired one, the active one, the one without its kernel, the future one.
    assert lines[1] == "skip     expired (classic id 23)"
    assert lines[2].startswith("         - it ended ")
    assert lines[3].startswith("import   active (classic id 5673568784021613103): alice, kn[1-3], ")
    assert lines[4] == "skip     nokernel (classic id 42)"
    assert "its kernel (" + "0" * 40 + "-kernel) is neither beside" in lines[5]
    assert lines[6].startswith("import   future (classic id 17): bob, kn7, ")
    assert len(lines) == 7
    assert json.loads(ok(ops.run("show", "--json")))["reservations"] == []  # nothing written

    out = json.loads(ok(ops.run("import-classic", str(path), "--apply", "--json", user="ops")))
    assert out["applied"] is True
    imported = {i["name"]: i["reservation"] for i in out["items"] if i["action"] == "import"}
    assert sorted(imported) == ["active", "future"]
    shown = {r["name"]: r for r in json.loads(ok(ops.run("show", "--json")))["reservations"]}
    assert sorted(shown) == ["active", "future"]
    for name in ("active", "future"):
        classic = next(v for v in data.values() if v["Name"] == name)
        res = shown[name]
        assert res["owner"] == classic["Owner"]
        assert res["nodes"] == classic["Hosts"]
        assert datetime.fromisoformat(res["start"]) == datetime.fromisoformat(classic["Start"])
        assert datetime.fromisoformat(res["end"]) == datetime.fromisoformat(
            classic["End"].replace(".000000000", "")
        )
        assert res["kernel_args"] == "console=ttyS0"
        assert res["installed"] is False  # igor-tick installs it on its next run
    assert shown["active"]["active"] is True
    assert len(ops.content_files()) == 2  # the kernel and initrd, copied once (sha256-named)
    assert [e["event"] for e in ops.log_events()] == ["imported", "imported"]
    # Importing again carries nothing over twice.
    again = json.loads(ok(ops.run("import-classic", str(path), "--apply", "--json", user="ops")))
    assert [i["action"] for i in again["items"]] == ["skip"] * 4
    assert "its name is taken by active (alice)" in again["items"][1]["reasons"]


def test_import_classic_refusals(ops: Cluster) -> None:
    now = floor_minute(datetime.now(UTC))
    path, _ = _classic_file(ops, now)
    error(ops.run("import-classic", str(path)), 1, "only admins may import reservations")
    error(ops.run("import-classic", str(ops.root / "missing.json"), user="ops"), 1,
          f"classic store {ops.root / 'missing.json'}: no such file")  # fmt: skip
    bad = ops.file("bad.json", b"[1, 2]")
    error(
        ops.run("import-classic", str(bad), user="ops"),
        1,
        f"{bad} is not classic igor's reservations.json: expected a JSON object of reservations",
    )
    broken = ops.file("broken.json", b"{not json")
    error(
        ops.run("import-classic", str(broken), user="ops"),
        1,
        "is not classic igor's reservations.json",
        exact=False,
    )
    error(ops.run("import-classic", user="ops"), 2, "the following arguments are required: PATH", exact=False)
    empty = ops.file("empty.json", b"")
    assert (
        ok(ops.run("import-classic", str(empty), user="ops"))
        == "dry run: nothing is written; add --apply to import\n"
    )


def test_import_classic_skips_kernel_args_that_would_not_fit_an_append_line(ops: Cluster) -> None:
    """Classic igor wrote any -c into the PXE file; here an import meets the limits `igor sub` has."""
    now = floor_minute(datetime.now(UTC))
    path, data = _classic_file(ops, now)
    for entry in data.values():
        entry["KernelArgs"] = "x" * 5000
    path.write_text(json.dumps(data))
    out = json.loads(ok(ops.run("import-classic", str(path), "--json", user="ops")))
    assert [i["action"] for i in out["items"]] == ["skip"] * 4
    assert all(any("kernel arguments are 5000 bytes long" in r for r in i["reasons"]) for i in out["items"])
