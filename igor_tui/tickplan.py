"""The tick's plan: (now, reservations, install records, policy) -> ordered actions, teardowns first.

Pure: no I/O, no clock, no store. Every teardown is ordered before any install, so a reservation ending at
10:00 can never wipe the boot files or switch ports of the next one starting at 10:00 on the same nodes
(classic igor's worst bug). The executor that carries a plan out is `service.tick_executor`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime

from .model import Install, InstallStage, Reservation
from .values import dataclass, field, replace


class Step(enum.Enum):
    """One unit of work on a real system; teardown steps come first in every plan."""

    EXPIRE = "expire"  # ended, never installed: just drop it
    CLEAR_VLAN = "clear-vlan"
    UNINSTALL_BOOT = "uninstall-boot"
    POWER_OFF = "power-off"
    FORGET = "forget"  # teardown done: drop the install record (and the reservation if it ended)
    RELEASE_NODES = "release-nodes"  # dropped nodes torn down: take them off the install record
    SET_VLAN = "set-vlan"
    INSTALL_BOOT = "install-boot"
    POWER_CYCLE = "power-cycle"
    COMPLETE = "complete"

    @property
    def teardown(self) -> bool:
        return self in _TEARDOWN


_TEARDOWN = frozenset(
    {Step.EXPIRE, Step.CLEAR_VLAN, Step.UNINSTALL_BOOT, Step.POWER_OFF, Step.FORGET, Step.RELEASE_NODES}
)


@dataclass(frozen=True, slots=True)
class Action:
    """A planned step for one reservation; `nodes`/`ports` are already narrowed to what it may touch."""

    step: Step
    res_id: int
    name: str
    nodes: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    refresh: bool = False  # undoing a stale install of a reservation that is still active (after an edit)
    partial: bool = False  # only `nodes` of a running install: nodes added or dropped by `igor edit`/heal


@dataclass(frozen=True, slots=True)
class TickPolicy:
    """The parts of the config the planner needs (pure data, so the planner stays pure)."""

    network: bool = False
    node_map: Mapping[str, str] = field(default_factory=dict)
    autoreboot: bool = False
    poweroffatend: bool = False
    power: bool = False


def boot_key(res: Reservation) -> str:
    """What a reservation's boot files are made of: an edit that changes none of it (owner, group, nodes)
    leaves the kept nodes' boot files alone."""
    return "\0".join((res.kernel_hash, res.initrd_hash, res.profile, res.kernel_args))


def touched(inst: Install) -> tuple[str, ...]:
    """Every node the install may have set up: its nodes and those still `growing`."""
    return tuple(dict.fromkeys((*inst.nodes, *inst.growing)))


def _boot_stale(res: Reservation, inst: Install) -> bool:
    """The installed boot files are not what `res` boots now (records before `boot_key`: any edit)."""
    if not (inst.boot or inst.pending is InstallStage.BOOT):
        return False
    if inst.boot_key:
        return inst.boot_key != boot_key(res)
    return res.revision != inst.revision


def _other_owned(
    installs: Mapping[int, Install], live: Mapping[int, Reservation], now: datetime, exclude: int
) -> tuple[set[str], set[str]]:
    """Nodes and ports held by other installs whose reservations are still running: never torn down."""
    nodes: set[str] = set()
    ports: set[str] = set()
    for inst in installs.values():
        res = live.get(inst.res_id)
        if inst.res_id != exclude and res is not None and not res.has_ended(now):
            nodes.update(touched(inst))
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
        stale_boot = res is not None and _boot_stale(res, inst)
        gone = () if ended or res is None else tuple(n for n in touched(inst) if n not in res.nodes)
        if not ended and not stale_boot and not gone:
            continue
        if _waiting(inst, now):
            continue
        other_nodes, other_ports = _other_owned(installs, live, now, inst.res_id)
        if ended:
            mine = tuple(n for n in touched(inst) if n not in other_nodes)
            ports = tuple(p for p in inst.ports if p not in other_ports)
            if inst.network or inst.pending is InstallStage.VLAN:
                teardown.append(Action(Step.CLEAR_VLAN, inst.res_id, inst.name, ports=ports))
            if inst.boot is not None or inst.pending is InstallStage.BOOT:
                teardown.append(Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=mine))
            if policy.poweroffatend and policy.power and mine:
                teardown.append(Action(Step.POWER_OFF, inst.res_id, inst.name, nodes=mine))
            teardown.append(Action(Step.FORGET, inst.res_id, inst.name))
            continue
        if stale_boot:
            teardown.append(
                Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=touched(inst), refresh=True)
            )
            refreshed[inst.res_id] = replace(inst, boot=None, pending=InstallStage.NONE, complete=False)
        if gone:
            held = (other_nodes, other_ports)
            teardown += _drop_actions(inst, gone, policy, held, boot=not stale_boot)
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
        setup += _setup_actions(res, current, policy)
    return teardown + setup


def _ports(policy: TickPolicy, nodes: Sequence[str]) -> tuple[str, ...]:
    return tuple(policy.node_map[n] for n in nodes if n in policy.node_map)


def _drop_actions(
    inst: Install,
    gone: tuple[str, ...],
    policy: TickPolicy,
    held: tuple[set[str], set[str]],
    *,
    boot: bool,
) -> list[Action]:
    """Tear down the nodes a running reservation no longer has (edit -drop, heal), never the kept ones nor
    what another running install holds; `boot=False` when a refresh already removes all boot files.
    Each step is idempotent and the nodes stay on the record until RELEASE_NODES, so a crash half-way
    replans the same steps."""
    mine = tuple(n for n in gone if n not in held[0])
    ports = tuple(p for p in _ports(policy, mine) if p in inst.ports and p not in held[1])
    out: list[Action] = []
    if ports and (inst.network or inst.pending is InstallStage.VLAN):
        out.append(Action(Step.CLEAR_VLAN, inst.res_id, inst.name, nodes=mine, ports=ports, partial=True))
    if boot and mine and (inst.boot is not None or inst.pending is InstallStage.BOOT):
        out.append(Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=mine, partial=True))
    if policy.poweroffatend and policy.power and mine:
        out.append(Action(Step.POWER_OFF, inst.res_id, inst.name, nodes=mine, partial=True))
    out.append(Action(Step.RELEASE_NODES, inst.res_id, inst.name, nodes=gone, partial=True))
    return out


def _setup_actions(res: Reservation, current: Install | None, policy: TickPolicy) -> list[Action]:
    """Install an active reservation: everything on a first install (or after a refresh), and only the
    nodes it gained (edit -add, heal) on a running one, so the kept nodes are not disturbed."""
    added = () if current is None else tuple(n for n in res.nodes if n not in current.nodes)
    out: list[Action] = []
    vlan_ok = current is not None and current.network and (res.vlan is None or res.vlan == current.vlan)
    if policy.network and not vlan_ok:
        out.append(Action(Step.SET_VLAN, res.id, res.name, nodes=res.nodes, ports=_ports(policy, res.nodes)))
    elif policy.network and added:
        out.append(
            Action(Step.SET_VLAN, res.id, res.name, nodes=added, ports=_ports(policy, added), partial=True)
        )
    if current is None or current.boot is None:
        out.append(Action(Step.INSTALL_BOOT, res.id, res.name, nodes=res.nodes))
    elif added:
        out.append(Action(Step.INSTALL_BOOT, res.id, res.name, nodes=added, partial=True))
    if policy.autoreboot and policy.power:
        if not (current is not None and current.powered):
            out.append(Action(Step.POWER_CYCLE, res.id, res.name, nodes=res.nodes))
        elif added:
            out.append(Action(Step.POWER_CYCLE, res.id, res.name, nodes=added, partial=True))
    out.append(Action(Step.COMPLETE, res.id, res.name, nodes=res.nodes))
    return out
