"""The tick's plan: (now, reservations, install records, policy) -> ordered actions, teardowns first.

Pure: no I/O, no clock, no store. Every teardown is ordered before any install, so a reservation ending at
10:00 can never wipe the boot files or switch ports of the next one starting at 10:00 on the same nodes
(classic igor's worst bug). The executor that carries a plan out is `service.tick_executor`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from .model import Install, InstallStage, Reservation


class Step(enum.Enum):
    """One unit of work on a real system; teardown steps come first in every plan."""

    EXPIRE = "expire"  # ended, never installed: just drop it
    CLEAR_VLAN = "clear-vlan"
    UNINSTALL_BOOT = "uninstall-boot"
    POWER_OFF = "power-off"
    FORGET = "forget"  # teardown done: drop the install record (and the reservation if it ended)
    SET_VLAN = "set-vlan"
    INSTALL_BOOT = "install-boot"
    POWER_CYCLE = "power-cycle"
    COMPLETE = "complete"

    @property
    def teardown(self) -> bool:
        return self in _TEARDOWN


_TEARDOWN = frozenset({Step.EXPIRE, Step.CLEAR_VLAN, Step.UNINSTALL_BOOT, Step.POWER_OFF, Step.FORGET})


@dataclass(frozen=True, slots=True)
class Action:
    """A planned step for one reservation; `nodes`/`ports` are already narrowed to what it may touch."""

    step: Step
    res_id: int
    name: str
    nodes: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    refresh: bool = False  # undoing a stale install of a reservation that is still active (after an edit)


@dataclass(frozen=True, slots=True)
class TickPolicy:
    """The parts of the config the planner needs (pure data, so the planner stays pure)."""

    network: bool = False
    node_map: Mapping[str, str] = field(default_factory=dict)
    autoreboot: bool = False
    poweroffatend: bool = False
    power: bool = False


def _other_owned(
    installs: Mapping[int, Install], live: Mapping[int, Reservation], now: datetime, exclude: int
) -> tuple[set[str], set[str]]:
    """Nodes and ports held by other installs whose reservations are still running: never torn down."""
    nodes: set[str] = set()
    ports: set[str] = set()
    for inst in installs.values():
        res = live.get(inst.res_id)
        if inst.res_id != exclude and res is not None and not res.has_ended(now):
            nodes.update(inst.nodes)
            ports.update(inst.ports)
    return nodes, ports


def _waiting(inst: Install | None, now: datetime) -> bool:
    return inst is not None and inst.retry_at is not None and now < inst.retry_at


def plan_actions(
    now: datetime,
    reservations: Sequence[Reservation],
    installs: Mapping[int, Install],
    policy: TickPolicy,
) -> list[Action]:
    """Every action this tick should take, teardowns first. Pure: same inputs, same plan; a plan whose
    actions were all carried out yields an empty plan on the next call at the same instant."""
    live = {r.id: r for r in reservations}
    teardown: list[Action] = []
    refreshed: dict[int, Install] = {}
    for inst in sorted(installs.values(), key=lambda i: i.res_id):
        res = live.get(inst.res_id)
        ended = res is None or res.has_ended(now)
        stale_boot = (
            res is not None
            and res.revision != inst.revision
            and (inst.boot or inst.pending is InstallStage.BOOT)
        )
        if not ended and not stale_boot:
            continue
        if _waiting(inst, now):
            continue
        other_nodes, other_ports = _other_owned(installs, live, now, inst.res_id)
        if ended:
            ports = tuple(p for p in inst.ports if p not in other_ports)
            if inst.network or inst.pending is InstallStage.VLAN:
                teardown.append(Action(Step.CLEAR_VLAN, inst.res_id, inst.name, ports=ports))
            if inst.boot is not None or inst.pending is InstallStage.BOOT:
                mine = tuple(n for n in inst.nodes if n not in other_nodes)
                teardown.append(Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=mine))
            if policy.poweroffatend and policy.power:
                nodes = tuple(n for n in inst.nodes if n not in other_nodes)
                if nodes:
                    teardown.append(Action(Step.POWER_OFF, inst.res_id, inst.name, nodes=nodes))
            teardown.append(Action(Step.FORGET, inst.res_id, inst.name))
        else:
            assert res is not None
            teardown.append(
                Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=inst.nodes, refresh=True)
            )
            refreshed[inst.res_id] = replace(inst, boot=None, pending=InstallStage.NONE, complete=False)
    for res in reservations:
        if res.has_ended(now) and not res.installed and res.id not in installs:
            teardown.append(Action(Step.EXPIRE, res.id, res.name))

    setup: list[Action] = []
    for res in sorted(reservations, key=lambda r: (r.start, r.id)):
        if not res.is_active(now):
            continue
        current = refreshed.get(res.id) or installs.get(res.id)
        if current is not None and current.complete and current.revision == res.revision:
            continue
        if _waiting(current, now):
            continue
        ports = tuple(policy.node_map[n] for n in res.nodes if n in policy.node_map)
        vlan_ok = current is not None and current.network and (res.vlan is None or res.vlan == current.vlan)
        if policy.network and not vlan_ok:
            setup.append(Action(Step.SET_VLAN, res.id, res.name, nodes=res.nodes, ports=ports))
        if current is None or current.boot is None:
            setup.append(Action(Step.INSTALL_BOOT, res.id, res.name, nodes=res.nodes))
        if policy.autoreboot and policy.power and not (current is not None and current.powered):
            setup.append(Action(Step.POWER_CYCLE, res.id, res.name, nodes=res.nodes))
        setup.append(Action(Step.COMPLETE, res.id, res.name, nodes=res.nodes))
    return teardown + setup
