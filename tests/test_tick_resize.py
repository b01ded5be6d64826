"""igor-tick follows `igor edit -add/-drop` on a running reservation: dropped nodes are torn down (boot
files, switch port, power per config), added ones installed, the kept ones left alone (issue 15, part 1).

Planning rules on plain values, the executor on the recording fakes, then the real thing through `igor`
and `igor-tick` with PXE files, the eAPI test switch and the power script."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ClusterFactory
from fake_eapi import FaultySwitch
from test_tick import NODE_MAP, T0, Harness, at, res, steps
from test_tick_e2e import build_rig

from igor_tui.model import Install
from igor_tui.tickplan import TickPolicy, boot_key, plan_actions

POLICY = TickPolicy(network=True, node_map=NODE_MAP, autoreboot=True, poweroffatend=True, power=True)


def installed(r: object, nodes: tuple[str, ...], **kw: object) -> Install:
    """A complete install of `r` on `nodes`, as igor-tick records it."""
    return Install(
        1,
        "r1",
        revision=1,
        nodes=nodes,
        vlan=100,
        ports=tuple(NODE_MAP[n] for n in nodes),
        network=True,
        boot={"key": "igor-1", "nodes": list(nodes)},
        powered=True,
        complete=True,
        boot_key=boot_key(r),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------------------- planning


def test_a_dropped_node_is_torn_down_alone() -> None:
    before = res(1, -5, 60, ["kn1", "kn2"], installed=True)
    after = replace(before, nodes=("kn1",), revision=2)
    plan = plan_actions(T0, [after], {1: installed(before, ("kn1", "kn2"))}, POLICY)
    assert steps(plan) == [
        ("clear-vlan", 1),
        ("uninstall-boot", 1),
        ("power-off", 1),
        ("release-nodes", 1),
        ("complete", 1),
    ]
    assert [(a.nodes, a.ports, a.partial) for a in plan[:4]] == [
        (("kn2",), ("Et2",), True),
        (("kn2",), (), True),
        (("kn2",), (), True),
        (("kn2",), (), True),
    ]


def test_an_added_node_is_installed_alone() -> None:
    before = res(1, -5, 60, ["kn1"], installed=True)
    after = replace(before, nodes=("kn1", "kn3"), revision=2)
    plan = plan_actions(T0, [after], {1: installed(before, ("kn1",))}, POLICY)
    assert steps(plan) == [("set-vlan", 1), ("install-boot", 1), ("power-cycle", 1), ("complete", 1)]
    assert [(a.nodes, a.ports, a.partial) for a in plan[:3]] == [
        (("kn3",), ("Et3",), True),
        (("kn3",), (), True),
        (("kn3",), (), True),
    ]


def test_an_owner_change_leaves_the_boot_files_alone_but_a_new_kernel_refreshes_them() -> None:
    before = res(1, -5, 60, ["kn1"], installed=True)
    inst = {1: installed(before, ("kn1",))}
    assert steps(plan_actions(T0, [replace(before, owner="bob", revision=2)], inst, POLICY)) == [
        ("complete", 1)
    ]
    new_kernel = replace(before, kernel_hash="abc", revision=2)
    assert steps(plan_actions(T0, [new_kernel], inst, POLICY))[:2] == [
        ("uninstall-boot", 1),
        ("install-boot", 1),
    ]


def test_a_drop_never_touches_what_another_running_install_holds() -> None:
    mine = replace(res(1, -5, 60, ["kn1"], installed=True), revision=2)
    other = res(2, -5, 60, ["kn2"], installed=True)
    installs = {
        1: installed(mine, ("kn1", "kn2")),
        2: replace(installed(other, ("kn2",)), res_id=2, name="r2"),
    }
    plan = plan_actions(T0, [mine, other], installs, POLICY)
    assert steps(plan) == [("release-nodes", 1), ("complete", 1)]


# -------------------------------------------------------------------------------------- executing


def test_fakes_follow_add_and_drop_and_the_kept_node_is_not_disturbed(tmp_path: Path) -> None:
    h = Harness(tmp_path, autoreboot=True)
    r = h.add(-5, 60, ["kn1", "kn2"])
    assert h.ticker.run().failed == 0
    h.power.calls.clear()
    with h.store.transaction() as tx:
        tx.put_reservation(replace(r, nodes=("kn1", "kn3"), revision=2, installed=True, vlan=100))
    report = h.ticker.run()
    assert report.failed == 0
    assert [o.action.step.value for o in report.outcomes] == [
        "clear-vlan",
        "uninstall-boot",
        "power-off",
        "release-nodes",
        "set-vlan",
        "install-boot",
        "power-cycle",
        "complete",
    ]
    assert h.boot.booting == {"kn1": "igor-1", "kn3": "igor-1"}
    assert h.switch.vlans == {"Et1": 100, "Et3": 100}
    assert h.power.calls == [("off", ("kn2",)), ("cycle", ("kn3",))]  # kn1 never power-cycled
    inst = h.installs()[r.id]
    assert (inst.nodes, inst.ports, inst.growing, inst.boot) == (
        ("kn1", "kn3"),
        ("Et1", "Et3"),
        (),
        {"key": "igor-1", "nodes": ["kn1", "kn3"]},
    )
    assert h.ticker.run().outcomes == []
    with h.store.transaction() as tx:  # and at its end everything goes, the added node included
        tx.put_reservation(replace(r, nodes=("kn1", "kn3"), revision=2, installed=True, vlan=100, end=T0))
    assert h.ticker.run().failed == 0
    assert h.boot.booting == {} and h.switch.vlans == {}


def test_a_tick_killed_mid_add_leaves_the_node_on_the_record(tmp_path: Path) -> None:
    """The boot install of the added node dies before its outcome is recorded: the node is `growing`,
    so the next tick installs it, and a reservation ending first would still remove its files."""
    h = Harness(tmp_path)
    r = h.add(-5, 60, ["kn1"])
    h.ticker.run()
    with h.store.transaction() as tx:
        tx.put_reservation(replace(r, nodes=("kn1", "kn2"), revision=2, installed=True, vlan=100))
    real = h.boot.install

    def killed(spec: object) -> dict[str, object]:
        real(spec)  # type: ignore[arg-type]
        raise KeyboardInterrupt  # the process dies after writing, before recording

    h.boot.install = killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        h.ticker.run()
    inst = h.installs()[r.id]
    assert inst.nodes == ("kn1",) and inst.growing == ("kn2",)
    with h.store.transaction() as tx:
        tx.put_reservation(replace(r, nodes=("kn1", "kn2"), revision=2, installed=True, vlan=100, end=T0))
    h.boot.install = real  # type: ignore[method-assign]
    assert h.ticker.run().failed == 0
    assert h.boot.booting == {} and h.switch.vlans == {}


# ----------------------------------------------------------------------------- igor and igor-tick


def test_edit_add_and_drop_through_igor_tick_on_the_eapi_switch(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    rig = build_rig(make_cluster, switch=switch, autoreboot=True, poweroffatend=True)
    rig.sub("r", "kn[1-2]")
    rig.sub("other", "kn4", user="bob")
    rig.tick()
    rig.clear_power_log()
    rig.igor("edit", "-r", "r", "-drop", "kn2", "-add", "kn3")
    out = rig.tick().stdout
    assert "r: kn2 dropped from it" in out
    res = rig.res("r")
    assert res.nodes == ("kn1", "kn3")
    rig.assert_pxe_exactly([res, rig.res("other")])
    rig.assert_ports_exactly([res, rig.res("other")])
    assert [line.split()[:2] for line in rig.power_log()] == [["off", "kn2"], ["off", "kn3"], ["on", "kn3"]]
    assert ": 0 action(s), 0 failed" in rig.tick().stdout
    rig.igor("edit", "-r", "r", "-add", "2")
    rig.tick()
    res = rig.res("r")
    assert res.nodes == ("kn1", "kn3", "kn5", "kn6")
    rig.assert_pxe_exactly([res, rig.res("other")])
    rig.assert_ports_exactly([res, rig.res("other")])
    history = rig.igor("history", "r").stdout
    assert "changed add: added kn[5-6]" in history
    assert "release-nodes kn2" in history


def test_heal_swaps_a_blocked_node_on_the_eapi_switch(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    rig = build_rig(make_cluster, switch=switch, autoreboot=True, poweroffatend=True, heal=True)
    rig.sub("r", "kn[1-2]")
    rig.sub("other", "kn3", user="bob")
    rig.tick()
    rig.igor("block", "kn2", "--reason", "fan", "-t", "3h", user=None)
    out = rig.tick().stdout
    assert "healed    r: kn2 (blocked) -> kn4" in out
    res = rig.res("r")
    assert res.nodes == ("kn1", "kn4") and res.healed == ("kn2 (blocked) -> kn4",)
    rig.assert_pxe_exactly([res, rig.res("other")])
    rig.assert_ports_exactly([res, rig.res("other")])
    assert "healed: kn2 (blocked) -> kn4" in rig.igor("history", "r").stdout
    assert "AWIH" in rig.igor("show").stdout
    shown = next(r for r in json.loads(rig.igor("show", "--json").stdout)["reservations"] if r["name"] == "r")
    assert shown["healed"] == ["kn2 (blocked) -> kn4"]
    assert ": 0 action(s), 0 failed" in rig.tick().stdout


def test_a_failed_power_off_of_a_dropped_node_does_not_hold_up_the_rest(tmp_path: Path) -> None:
    """Heal drops nodes that are down; their power may be gone too. The failure is reported, the node is
    released, and the added node is installed in the same tick."""
    h = Harness(tmp_path)
    r = h.add(-5, 60, ["kn1", "kn2"])
    h.ticker.run()
    with h.store.transaction() as tx:
        tx.put_reservation(replace(r, nodes=("kn1", "kn3"), revision=2, installed=True, vlan=100))
    h.power.fail = "PDU outlet unreachable"
    report = h.ticker.run()
    assert [(o.action.step.value, o.ok) for o in report.outcomes] == [
        ("clear-vlan", True),
        ("uninstall-boot", True),
        ("power-off", False),
        ("release-nodes", True),
        ("set-vlan", True),
        ("install-boot", True),
        ("complete", True),
    ]
    assert report.failed == 1  # reported (cron mails it) ...
    inst = h.installs()[r.id]
    assert inst.complete and inst.nodes == ("kn1", "kn3") and inst.retry_at is None  # ... but not retried
    assert h.boot.booting == {"kn1": "igor-1", "kn3": "igor-1"}
    assert h.ticker.run().outcomes == []


def test_a_failed_install_on_an_added_node_is_retried_as_a_full_refresh(tmp_path: Path) -> None:
    """A backend's rollback of a failed install may undo more than the added node (Cobbler reverts every
    system on the profile): the retry reinstalls the whole reservation rather than trust the record."""
    h = Harness(tmp_path)
    r = h.add(-5, 60, ["kn1"])
    h.ticker.run()
    with h.store.transaction() as tx:
        tx.put_reservation(replace(r, nodes=("kn1", "kn2"), revision=2, installed=True, vlan=100))
    h.boot.fail = "cobblerd said no"
    assert h.ticker.run().failed == 1
    assert h.installs()[r.id].growing == ("kn2",)
    h.boot.fail = ""
    h.clock.set(at(2))  # the backoff has run out
    report = h.ticker.run()
    assert report.failed == 0
    assert [(o.action.step.value, o.action.nodes, o.action.refresh) for o in report.outcomes] == [
        ("uninstall-boot", ("kn1", "kn2"), True),
        ("set-vlan", ("kn2",), False),  # its port again (idempotent): kn2 stays `growing` until complete
        ("install-boot", ("kn1", "kn2"), False),
        ("complete", ("kn1", "kn2"), False),
    ]
    assert h.boot.booting == {"kn1": "igor-1", "kn2": "igor-1"}
    inst = h.installs()[r.id]
    assert inst.nodes == ("kn1", "kn2") and inst.growing == () and inst.boot_key
