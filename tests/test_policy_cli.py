"""`igor policy add|show|edit|del|apply` (text and JSON), its refusals, and sub/extend under policies.

The default test cluster is kn1..kn20 in Europe/Berlin; `ops` is an admin, alice is in no group.
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Cluster, ClusterFactory
from test_cli import error, ok

from igor_tui.model import floor_minute


@pytest.fixture
def ops(make_cluster: ClusterFactory) -> Cluster:
    return make_cluster(admins=["ops"])


def _json(c: Cluster, *args: str, user: str = "ops") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(c.run(*args, "--json", user=user)))
    return data


def test_add_show_edit_apply_del_in_text(ops: Cluster) -> None:
    out = ok(
        ops.run(
            "policy",
            "add",
            "gpu-maint",
            "-w",
            "kn[3-4]",
            "-groups",
            "disk",
            "-maxtime",
            "12h",
            "-unavailable",
            "0 17 24 12 *:8d15h",
            user="ops",
        )
    )
    assert (
        out == 'Policy gpu-maint added: kn[3-4]; groups disk; at most 12h; unavailable "0 17 24 12 *:8d15h"\n'
    )
    shown = ok(ops.run("policy", "show", user="alice"))  # anyone may read
    header, row, window = shown.splitlines()
    assert header.split() == ["POLICY", "NODES", "GROUPS", "MAXTIME", "NEXT", "WINDOW"]
    assert row.split()[:4] == ["gpu-maint", "kn[3-4]", "disk", "12h"]
    assert "Dec 24 17:00" in row and "Jan 02" in row and "08:00" in row
    assert window == '  gpu-maint: unavailable "0 17 24 12 *:8d15h"'
    out = ok(ops.run("policy", "add", "short", "-w", "kn[4-5]", "-maxtime", "2h", user="ops"))
    assert out == 'Policy short added: kn[4-5]; at most 2h\n  kn4 left policy "gpu-maint"\n'
    out = ok(ops.run("policy", "edit", "gpu-maint", "-unavailable", "", "-groups", "", user="ops"))
    assert out == "Policy gpu-maint changed: kn3; at most 12h\n"
    out = ok(ops.run("policy", "apply", "gpu-maint", "-w", "kn5,kn9", user="ops"))
    assert out == 'Policy gpu-maint applied: kn[3,5,9]; at most 12h\n  kn5 left policy "short"\n'
    out = ok(ops.run("policy", "apply", "default", "-w", "kn9", user="ops"))
    assert 'kn9 left policy "gpu-maint"' in out
    out = ok(ops.run("policy", "del", "short", user="ops"))
    assert out == "Policy short deleted; kn4 now under no policy\n"
    events = [(e["event"], e["name"]) for e in ops.log_events()]
    assert events == [
        ("policy-added", "gpu-maint"),
        ("policy-added", "short"),
        ("policy-edited", "gpu-maint"),
        ("policy-applied", "gpu-maint"),
        ("policy-applied", "default"),
        ("policy-deleted", "short"),
    ]
    history = ok(ops.run("history", "gpu-maint", user="ops"))
    assert "policy-added" in history and "policy-applied" in history


def test_json_shapes(ops: Cluster) -> None:
    added = _json(ops, "policy", "add", "nightly", "-w", "kn1", "-unavailable", "0 2 * * *:4h")
    policy = added["added"]
    assert set(policy) == {
        "id",
        "name",
        "nodes",
        "groups",
        "maxtime",
        "unavailable",
        "by",
        "next_window",
        "active",
    }
    assert policy["nodes"] == ["kn1"] and policy["unavailable"] == ["0 2 * * *:4h"] and policy["by"] == "ops"
    start = datetime.fromisoformat(policy["next_window"]["start"])
    assert start.utcoffset() in (timedelta(hours=1), timedelta(hours=2))  # Berlin
    assert (start.hour, start.minute) == (2, 0)
    assert added["moved"] == {}
    shown = _json(ops, "policy", "show", user="alice")
    assert [p["name"] for p in shown["policies"]] == ["nightly"]
    assert _json(ops, "policy", "show", "nightly")["policies"][0]["id"] == policy["id"]
    edited = _json(ops, "policy", "edit", "nightly", "-maxtime", "90m")
    assert edited["changed"]["maxtime"] == 90
    assert _json(ops, "policy", "del", "nightly")["deleted"]["name"] == "nightly"
    assert _json(ops, "policy", "show")["policies"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("add", "x", "-w", "kn1", "-unavailable", "0 25 * * *:1h"),
            "-unavailable: cron '0 25 * * *': bad hour field '25'",
        ),
        (
            ("add", "x", "-w", "kn1", "-unavailable", "0 1 * * *"),
            "-unavailable: window '0 1 * * *' needs the form \"CRON:DURATION\"",
        ),
        (("add", "x", "-w", "kn1", "-maxtime", "soon"), "-maxtime: cannot parse duration"),
        (("add", "x", "-w", "kn1", "-groups", "no-such-group"), "-groups: no such group: no-such-group"),
        (("add", "default", "-w", "kn1"), '"default" is the name of no policy'),
        (("add", "x"), "give the nodes of the policy with -w NODES"),
        (("edit", "nope", "-maxtime", "1h"), 'no policy named "nope"'),
        (("edit", "x"), "nothing to change"),
        (("apply", "x"), "needs -w NODES"),
        (("del",), "needs the NAME of a policy"),
    ],
)
def test_refusals_are_one_line(ops: Cluster, args: tuple[str, ...], message: str) -> None:
    if args[0] in ("edit", "apply") and args[1] == "x":
        ok(ops.run("policy", "add", "x", "-w", "kn1", user="ops"))
    proc = ops.run("policy", *args, user="ops")
    error(proc, proc.returncode or 1, message, exact=False)
    assert proc.returncode != 0


def test_only_admins_change_policies(ops: Cluster) -> None:
    error(ops.run("policy", "add", "x", "-w", "kn1"), 1, "only admins may change host policies")
    ok(ops.run("policy", "add", "x", "-w", "kn1", user="ops"))
    for args in (("edit", "x", "-maxtime", "1h"), ("apply", "x", "-w", "kn2"), ("del", "x")):
        error(ops.run("policy", *args), 1, "only admins may change host policies")


def test_sub_and_extend_honour_groups_maxtime_and_windows(ops: Cluster) -> None:
    ok(ops.run("policy", "add", "gpu", "-w", "kn[1-2]", "-groups", "disk", user="ops"))
    ok(ops.run("policy", "add", "short", "-w", "kn3", "-maxtime", "2h", user="ops"))
    error(
        ops.run("sub", "-r", "a", *ops.boot, "-w", "kn1"),
        1,
        'kn1 is not yours to book: policy "gpu" keeps them for group disk',
        exact=False,
    )
    counted = _json(ops, "sub", "-r", "b", *ops.boot, "-n", "2", user="alice")
    assert counted["nodes"] == ["kn3", "kn4"]  # kn1-2 are kept for disk; kn3 allows 2h, -t is 60m
    error(
        ops.run("sub", "-r", "c", *ops.boot, "-w", "kn3", "-t", "3h"),
        1,
        'policy "short" allows at most 2h on them',
        exact=False,
    )
    ok(ops.run("sub", "-r", "d", *ops.boot, "-w", "kn3", "-t", "90m"))
    error(
        ops.run("extend", "-r", "d", "-t", "1h"),
        1,
        'policy "short" allows at most 2h on its nodes',
        exact=False,
    )
    ok(ops.run("extend", "-r", "d", "-t", "30m"))
    admin = _json(ops, "sub", "-r", "e", *ops.boot, "-w", "kn1", user="ops")
    assert admin["nodes"] == ["kn1"]  # admins are exempt from groups


def test_a_window_delays_a_listed_booking_and_the_why_names_the_policy(ops: Cluster) -> None:
    now = floor_minute(datetime.now(UTC))
    soon = now + timedelta(hours=2)
    berlin = soon.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    cron = f"{berlin.minute} {berlin.hour} * * *:3h"
    ok(ops.run("policy", "add", "maint", "-w", "kn7", "-unavailable", cron, user="ops"))
    out = ok(ops.run("sub", "-r", "w", *ops.boot, "-w", "kn7", "-t", "4h"))
    assert 'policy "maint" takes kn7' in out
    booked = _json(ops, "show")["reservations"][0]
    assert datetime.fromisoformat(booked["start"]) >= soon + timedelta(hours=3)
    options = _json(ops, "sub", "-s", "-w", "kn7", "-t", "4h", user="alice")
    assert options["slots"]
    for option in options["slots"]:
        start = datetime.fromisoformat(option["start"])
        end = datetime.fromisoformat(option["end"])
        assert not (start < soon + timedelta(hours=3) and soon < end)


def test_show_lists_policies_and_marks_nodes_inside_a_window(ops: Cluster) -> None:
    ok(ops.run("policy", "add", "always", "-w", "kn7", "-unavailable", "* * * * *:1h", user="ops"))
    ok(ops.run("policy", "add", "gpu", "-w", "kn8", "-groups", "disk", user="ops"))
    out = ok(ops.run("show", "-c=false"))
    assert " 7#|" in out and " 8#|" not in out
    section = out.split("HOST POLICIES (# in the racks while a window is in force)\n", 1)[1]
    rows = section.splitlines()
    assert rows[1].split()[:4] == ["always", "kn7", "anyone", "-"] and " NOW " in rows[1]
    assert rows[2].split() == ["gpu", "kn8", "disk", "-", "-"]
    shown = _json(ops, "show", user="alice")
    assert [p["name"] for p in shown["policies"]] == ["always", "gpu"]
    assert shown["policies"][0]["active"] is True and shown["policies"][1]["next_window"] is None
    states = {n["name"]: n["state"] for n in shown["nodes"]}
    assert states["kn7"] == "blocked" and states["kn8"] != "blocked"
    assert "blocks" not in shown  # a window is not a maintenance block


def test_show_at_a_time_inside_a_window_marks_the_node(ops: Cluster) -> None:
    ok(ops.run("policy", "add", "xmas", "-w", "kn2", "-unavailable", "0 17 24 12 *:8d15h", user="ops"))
    year = datetime.now(UTC).year + 1  # far beyond the windows a view of now carries
    inside = _json(ops, "show", "-at", f"{year}-Dec-25-12:00")
    assert {n["name"]: n["state"] for n in inside["nodes"]}["kn2"] == "blocked"
    outside = _json(ops, "show", "-at", f"{year}-Dec-20-12:00")
    assert {n["name"]: n["state"] for n in outside["nodes"]}["kn2"] != "blocked"
