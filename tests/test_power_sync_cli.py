"""`igor power` and `igor sync arista` through the real console script, against the power script and FakeEapi.

Who may power what (owner, other user, admin with and without --force), what a failing outlet looks like,
and how `sync` shows and repairs a switch port changed behind igor's back.
"""

from __future__ import annotations

import json

import pytest
from conftest import ClusterFactory
from fake_eapi import SWITCH_PASSWORD, FaultySwitch
from test_tick_e2e import VLAN_MIN, Rig, build_rig


@pytest.fixture
def rig(make_cluster: ClusterFactory) -> Rig:
    """alice owns `ra` (kn1-2, active) and `rf` (kn5, in two hours); bob owns `rb` (kn3-4, active)."""
    rig = build_rig(make_cluster, network=False)
    rig.sub("ra", "kn[1-2]")
    rig.sub("rb", "kn[3-4]", user="bob")
    rig.sub("rf", "kn5", "-a", "+2h")
    return rig


def offs_then_ons(log: list[str], nodes: list[str]) -> bool:
    """A cycle: every node switched off, and only then every node switched on again."""
    offs = sorted(f"off {n} 2" for n in nodes)
    ons = sorted(f"on {n} 2" for n in nodes)
    return sorted(log[: len(nodes)]) == offs and sorted(log[len(nodes) :]) == ons


# ------------------------------------------------------------------------------------------------ power


@pytest.mark.parametrize("action", ["on", "off", "cycle"])
def test_owner_powers_their_reservation(rig: Rig, action: str) -> None:
    out = rig.igor("power", "-r", "ra", action).stdout
    assert out == f"Powered {action} kn[1-2]\n"
    log = rig.power_log()
    if action == "cycle":
        assert offs_then_ons(log, ["kn1", "kn2"]), log
    else:
        assert sorted(log) == [f"{action} kn1 2", f"{action} kn2 2"]
    event = [e for e in rig.cluster.log_events() if e.get("event") == "power"][-1]
    assert event["by"] == "alice" and event["action"] == action and event["nodes"] == "kn[1-2]"


def test_power_json_shape(rig: Rig) -> None:
    doc = json.loads(rig.igor("power", "-r", "ra", "off", "--json").stdout)
    assert doc == {"action": "off", "nodes": ["kn1", "kn2"]}


def test_other_users_are_refused(rig: Rig) -> None:
    proc = rig.igor("power", "-r", "ra", "off", user="bob", check=1)
    assert proc.stderr == "igor: permission denied: ra belongs to alice\n"
    proc = rig.igor("power", "-n", "kn[2-3]", "off", check=1)
    assert proc.stderr == "igor: permission denied: kn3 is in rb, which belongs to bob\n"
    assert rig.power_log() == []


def test_inactive_reservations_are_refused(rig: Rig) -> None:
    proc = rig.igor("power", "-r", "rf", "on", check=1)
    assert proc.stderr == "igor: rf is not active, so its nodes are not yours to power\n"
    proc = rig.igor("power", "-r", "nosuch", "on", check=1)
    assert proc.stderr == "igor: no reservation named nosuch\n"
    assert rig.power_log() == []


def test_listed_nodes_the_caller_holds(rig: Rig) -> None:
    assert rig.igor("power", "-n", "kn[1-2]", "cycle").stdout == "Powered cycle kn[1-2]\n"
    assert offs_then_ons(rig.power_log(), ["kn1", "kn2"])
    rig.clear_power_log()
    rig.igor("power", "-n", "kn[1-4]", "on", user=None)  # an admin may power anyone's active nodes
    assert sorted(rig.power_log()) == ["on kn1 2", "on kn2 2", "on kn3 2", "on kn4 2"]


def test_unreserved_nodes_need_an_admin_and_force(rig: Rig) -> None:
    proc = rig.igor("power", "-n", "kn10", "off", check=1)
    assert proc.stderr == "igor: kn10 is not in an active reservation of yours\n"
    proc = rig.igor("power", "-n", "kn10", "off", "--force", check=1)  # --force does not make alice an admin
    assert proc.stderr == "igor: kn10 is not in an active reservation of yours\n"
    proc = rig.igor("power", "-n", "kn[9-10]", "off", user=None, check=1)
    assert proc.stderr == "igor: kn9 is not in any active reservation; add --force to power it\n"
    proc = rig.igor("power", "-n", "kn5", "off", user=None, check=1)  # rf has not started: kn5 is free now
    assert "add --force" in proc.stderr
    assert rig.power_log() == []
    assert rig.igor("power", "-n", "kn[9-10]", "off", "--force", user=None).stdout == "Powered off kn[9-10]\n"
    assert sorted(rig.power_log()) == ["off kn10 2", "off kn9 2"]


def test_power_not_configured_is_a_clear_error(make_cluster: ClusterFactory) -> None:
    rig = build_rig(make_cluster, network=False, power=False)
    rig.sub("ra", "kn1")
    proc = rig.igor("power", "-r", "ra", "on", check=1)
    assert (
        proc.stderr == "igor: power is not configured: set poweroncommand and poweroffcommand in igor.conf\n"
    )


def test_a_failing_node_names_node_command_and_status(rig: Rig) -> None:
    rig.fail_power("kn2")
    proc = rig.igor("power", "-r", "ra", "off", check=1)
    script = rig.tooldir / "power.sh"
    last = proc.stderr.splitlines()[-1]
    assert last == f"igor: power off failed on kn2 ({script} off kn2: exit 1: PDU outlet of kn2 is jammed)"
    assert rig.power_log() == ["off kn1 2"]  # the other node was done
    rig.clear_power_log()
    proc = rig.igor("power", "-r", "ra", "cycle", check=1)
    assert proc.stderr.splitlines()[-1].endswith("; power cycle stopped, no node was switched back on")
    assert rig.power_log() == ["off kn1 2"]


def test_a_power_failure_is_reported_once(rig: Rig) -> None:
    """The CLI's contract: a failure is one `igor: <message>` line on stderr."""
    rig.fail_power("kn2")
    proc = rig.igor("power", "-r", "ra", "off", check=1)
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("igor: power off failed on kn2 ("), (
        proc.stderr
    )


def test_usage_errors(rig: Rig) -> None:
    assert rig.igor("power", "-r", "ra", "blink", check=2).stderr.startswith("igor: argument ACTION")
    proc = rig.igor("power", "on", check=1)
    assert proc.stderr == "igor: give either -r NAME or -n NODES\n"
    proc = rig.igor("power", "-r", "ra", "-n", "kn1", "on", check=1)
    assert proc.stderr == "igor: give either -r NAME or -n NODES\n"


# ------------------------------------------------------------------------------------------------- sync


@pytest.fixture
def net(make_cluster: ClusterFactory, switch: FaultySwitch) -> Rig:
    """ra (alice, kn1-2) installed by a tick: Et1, Et2 in VLAN_MIN."""
    rig = build_rig(make_cluster, switch=switch, power=False)
    rig.sub("ra", "kn[1-2]")
    rig.tick()
    assert rig.port("kn1") == ("dot1qTunnel", VLAN_MIN)
    return rig


def test_sync_shows_then_repairs_changes_made_behind_igors_back(net: Rig, switch: FaultySwitch) -> None:
    assert net.igor("sync", "arista", "-d", user=None).stdout == "switch matches igor's state\n"
    switch.set_port("Ethernet1", "access", 1)  # someone cleared a reserved port
    switch.set_port("Ethernet5", "dot1qTunnel", 150)  # and put a free one into a VLAN
    shown = net.igor("sync", "arista", "-d", user=None).stdout
    assert shown == (
        f"differs: Et1 (kn1) should have VLAN {VLAN_MIN} (ra), switch has no VLAN\n"
        "differs: Et5 (kn5) should have no VLAN, switch has VLAN 150\n"
    )
    assert switch.vlan_of("Ethernet1") == ("access", 1) and switch.vlan_of("Ethernet5") == (
        "dot1qTunnel",
        150,
    )
    doc = json.loads(net.igor("sync", "arista", "-d", "--json", user=None).stdout)
    assert doc == {
        "repaired": False,
        "differences": [
            {"port": "Et1", "node": "kn1", "expected": VLAN_MIN, "actual": None, "reservation": "ra"},
            {"port": "Et5", "node": "kn5", "expected": None, "actual": 150, "reservation": ""},
        ],
    }
    fixed = net.igor("sync", "arista", "-f", user=None).stdout
    assert fixed == (
        f"fixed: Et1 (kn1) should have VLAN {VLAN_MIN} (ra), switch has no VLAN\n"
        "fixed: Et5 (kn5) should have no VLAN, switch has VLAN 150\n"
    )
    net.assert_ports_exactly([net.res("ra")])
    assert net.igor("sync", "arista", "-d", user=None).stdout == "switch matches igor's state\n"
    events = [e for e in net.cluster.log_events() if e.get("event") == "sync"]
    assert [(e["by"], e["repaired"]) for e in events] == [("root", 2)]


def test_sync_force_json_and_quiet(net: Rig, switch: FaultySwitch) -> None:
    switch.set_port("Ethernet2", "dot1qTunnel", 180)
    doc = json.loads(net.igor("sync", "arista", "-f", "--json", user=None).stdout)
    assert doc["repaired"] is True and [d["port"] for d in doc["differences"]] == ["Et2"]
    assert doc["differences"][0]["expected"] == VLAN_MIN and doc["differences"][0]["actual"] == 180
    switch.set_port("Ethernet2", "access", 1)
    assert net.igor("sync", "arista", "-f", "-q", user=None).stdout == ""
    assert switch.vlan_of("Ethernet2") == ("dot1qTunnel", VLAN_MIN)


def test_sync_is_for_admins_only(net: Rig, switch: FaultySwitch) -> None:
    switch.set_port("Ethernet5", "dot1qTunnel", 150)
    proc = net.igor("sync", "arista", "-f", check=1)
    assert proc.stderr == "igor: only admins may sync the switch\n"
    assert switch.vlan_of("Ethernet5") == ("dot1qTunnel", 150)


@pytest.mark.parametrize("flags", [(), ("-d", "-f")])
def test_sync_needs_exactly_one_of_dry_run_and_force(net: Rig, flags: tuple[str, ...]) -> None:
    proc = net.igor("sync", "arista", *flags, user=None, check=2)
    assert proc.stderr == "igor: give exactly one of -d (dry run) or -f (force) (see 'igor sync -h')\n"


def test_sync_without_a_switch_is_a_clear_error(make_cluster: ClusterFactory) -> None:
    rig = build_rig(make_cluster, network=False, power=False)
    proc = rig.igor("sync", "arista", "-d", user=None, check=1)
    assert proc.stderr == "igor: network isolation is not configured (network is not 'arista')\n"


def test_sync_with_the_switch_down_names_the_switch(net: Rig, switch: FaultySwitch) -> None:
    switch.stop()
    proc = net.igor("sync", "arista", "-d", user=None, check=1)
    assert proc.stderr.startswith("igor: switch 127.0.0.1:") and "unreachable" in proc.stderr
    assert SWITCH_PASSWORD not in proc.stderr
