"""`igor edit -add N | -add NODES | -drop NODES`: the reservation's nodes change for the rest of its window,
through the installed CLI, in text and JSON, with each refusal's one line (issue 15, part 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import Cluster, ClusterFactory
from test_cli import RESERVATION_KEYS, as_json, book, error, iso, minute_now, ok, policy, reservation

MINUTE = timedelta(minutes=1)


@pytest.fixture
def ops(make_cluster: ClusterFactory) -> Cluster:
    """The default 20-node cluster (nodelimit 10) with `ops` as an admin."""
    return make_cluster(admins=["ops"])


def test_add_a_number_of_nodes_text_and_json(cluster: Cluster) -> None:
    book(cluster, "demo", "-w", "kn[1-2]", "-t", "2h")
    book(cluster, "other", "-w", "kn3", "-t", "3h", user="bob")
    out = ok(cluster.run("edit", "-r", "demo", "-add", "2"))
    assert out == "Reservation demo updated\ndemo now holds kn[1-2,4-5] (4 nodes)\n"  # kn3 is bob's
    data = as_json(cluster.run("edit", "-r", "demo", "-add", "1", "--json"))
    assert set(data) == RESERVATION_KEYS
    assert data["nodes"] == ["kn1", "kn2", "kn4", "kn5", "kn6"]
    assert reservation(cluster, "demo")["nodes"] == data["nodes"]


def test_add_named_nodes_and_drop_them_again(cluster: Cluster) -> None:
    before = book(cluster, "demo", "-w", "kn[1-2]", "-t", "2h")
    data = as_json(cluster.run("edit", "-r", "demo", "-add", "kn[7-8]", "--json"))
    assert data["nodes"] == ["kn1", "kn2", "kn7", "kn8"]
    assert (data["start"], data["end"]) == (before["start"], before["end"])  # the window never moves
    out = ok(cluster.run("edit", "-r", "demo", "-drop", "kn[1,7]"))
    assert out == "Reservation demo updated\ndemo now holds kn[2,8] (2 nodes)\n"
    data = as_json(cluster.run("edit", "-r", "demo", "-drop", "kn8", "-add", "kn9", "--json"))
    assert data["nodes"] == ["kn2", "kn9"]  # drop first, then add: one edit swaps a node


def test_every_edit_bumps_the_revision_and_is_in_history(cluster: Cluster) -> None:
    book(cluster, "demo", "-w", "kn[1-2]", "-t", "2h")
    ok(cluster.run("edit", "-r", "demo", "-add", "kn[3-4]"))
    ok(cluster.run("edit", "-r", "demo", "-drop", "kn1"))
    edits = [e for e in cluster.log_events() if e.get("event") == "edited"]
    assert [(e["added"], e["dropped"], e["nodes"]) for e in edits] == [
        ("kn[3-4]", "", "kn[1-4]"),
        ("", "kn1", "kn[2-4]"),
    ]
    history = ok(cluster.run("history", "demo"))
    assert "changed add: added kn[3-4]" in history
    assert "changed drop: dropped kn1" in history
    from igor_tui.service import build_service

    svc = build_service(str(cluster.config_path), cluster.env("root"))
    (res,) = [r for r in svc.view().reservations if r.name == "demo"]
    assert res.revision == 3


def test_named_nodes_refused_with_the_why_not_sentence_of_sub(ops: Cluster) -> None:
    book(ops, "demo", "-w", "kn[1-2]", "-t", "2h")
    held = book(ops, "held", "-w", "kn5", "-t", "3h", user="bob")
    soon = minute_now() + 30 * MINUTE
    book(ops, "later", "-w", "kn6", "-t", "1h", "-a", iso(soon), user="bob")
    ok(ops.run("block", "kn9", "--reason", "fan", "-t", "3h", user="ops"))
    end = reservation(ops, "held")["end"]
    assert end == held["end"]
    from datetime import datetime

    held_end = datetime.fromisoformat(end)
    error(
        ops.run("edit", "-r", "demo", "-add", "kn[4-5]"),
        1,
        f"cannot add to demo: kn5 is held by held (bob) until {policy(held_end, zone=False)}",
    )
    error(
        ops.run("edit", "-r", "demo", "-add", "kn6"),
        1,
        f"cannot add to demo: kn6 is free now but later takes kn6 at {policy(soon, zone=False)}",
    )
    error(
        ops.run("edit", "-r", "demo", "-add", "kn9"),
        1,
        "cannot add to demo: kn9 is blocked for maintenance now",
    )
    error(ops.run("edit", "-r", "demo", "-add", "kn2"), 1, "kn2 already in demo")
    assert reservation(ops, "demo")["nodes"] == ["kn1", "kn2"]  # nothing changed by a refusal


def test_a_number_of_nodes_refused_when_too_few_are_free_and_by_the_node_limit(ops: Cluster) -> None:
    book(ops, "demo", "-w", "kn[1-2]", "-t", "2h")
    error(ops.run("edit", "-r", "demo", "-add", "9"), 1, "at most 10 nodes per reservation, you asked for 11")
    assert as_json(ops.run("edit", "-r", "demo", "-add", "9", "--json", user="ops"))["nodes"] == [
        f"kn{i}" for i in range(1, 12)
    ]  # admins have no node limit
    ok(ops.run("block", "kn[12-20]", "--reason", "rewiring", "-t", "3h", user="ops"))
    error(
        ops.run("edit", "-r", "demo", "-add", "1"),
        1,
        "cannot add to demo: only 0 nodes are free now (you asked for 1)",
    )


def test_drop_refusals_name_the_nodes(cluster: Cluster) -> None:
    book(cluster, "demo", "-w", "kn[1-2]", "-t", "2h")
    error(
        cluster.run("edit", "-r", "demo", "-drop", "kn[1-2]"),
        1,
        "cannot drop every node of demo: use igor del -r demo",
    )
    error(cluster.run("edit", "-r", "demo", "-drop", "kn[2-4]"), 1, "kn[3-4] not in demo: cannot drop")
    error(cluster.run("edit", "-r", "demo", "-add", "0"), 1, "-add must be a positive number of nodes, got 0")
    error(
        cluster.run("edit", "-r", "demo", "-add", "kn99"),
        1,
        "bad node list 'kn99': kn99 is not a node of this cluster (kn[1-20])",
    )
    error(
        cluster.run("edit", "-r", "demo", "-add", ""),
        1,
        "-add needs a number of nodes or a list of nodes, e.g. -add 2 or -add kn[3-4]",
    )
    error(
        cluster.run("edit", "-r", "demo", "-add", "1", user="bob"),
        1,
        "permission denied: demo belongs to alice",
    )
    assert reservation(cluster, "demo")["nodes"] == ["kn1", "kn2"]


def test_a_future_reservation_grows_for_its_own_window(cluster: Cluster) -> None:
    start = minute_now() + 120 * MINUTE
    book(cluster, "future", "-w", "kn1", "-t", "1h", "-a", iso(start))
    book(cluster, "now", "-w", "kn2", "-t", "1h", user="bob")  # ends before `future` starts
    data = as_json(cluster.run("edit", "-r", "future", "-add", "kn2", "--json"))
    assert data["nodes"] == ["kn1", "kn2"]


def test_a_pause_stops_adding_but_not_dropping(cluster: Cluster) -> None:
    import json

    book(cluster, "demo", "-w", "kn[1-2]", "-t", "2h")
    config = json.loads(cluster.config_path.read_text())
    cluster.config_path.write_text(json.dumps({**config, "pause": "switch upgrade"}))
    error(cluster.run("edit", "-r", "demo", "-add", "1"), 1, "igor is paused: switch upgrade")
    assert as_json(cluster.run("edit", "-r", "demo", "-drop", "kn2", "--json"))["nodes"] == ["kn1"]


# ------------------------------------------------- adding meets the quota and host policies (merged)


def test_adding_counts_against_the_owners_quota(make_cluster: ClusterFactory) -> None:
    quota = make_cluster(quota={"default": {"node_hours": 10}})
    book(quota, "demo", "-w", "kn[1-2]", "-t", "2h")  # 4 node-hours
    ok(quota.run("edit", "-r", "demo", "-add", "1"))  # 6
    error(
        quota.run("edit", "-r", "demo", "-add", "3"),
        1,
        "quota: alice may hold 10 node-hours; 6 in use, this addition needs 6 (3 nodes × 2 h); "
        "at most 2 nodes × 2 h would fit",
    )
    assert len(reservation(quota, "demo")["nodes"]) == 3


def test_a_node_inside_a_policy_window_cannot_be_added(ops: Cluster) -> None:
    ok(ops.run("policy", "add", "always", "-w", "kn3", "-unavailable", "0 0 * * *:1d", user="ops"))
    book(ops, "demo", "-w", "kn[1-2]", "-t", "2h")
    out = ops.run("edit", "-r", "demo", "-add", "kn3")
    assert out.returncode == 1 and 'policy "always"' in out.stderr, out.stderr
    data = as_json(ops.run("edit", "-r", "demo", "-add", "1", "--json"))
    assert data["nodes"] == ["kn1", "kn2", "kn4"]  # the free count skips the node under the window
