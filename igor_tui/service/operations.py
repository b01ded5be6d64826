"""Operations on real systems and on the cluster's availability: `igor power`, `sync`, `block`, `unblock`.

Each checks the caller's rights against a fresh view first, then acts; the store lock is never held while
a backend (power, switch) works.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..dates import when_zone
from ..errors import NotFound, PermissionDenied, ValidationError
from ..model import Block, Reservation
from ..timeparse import parse_start
from ..values import dataclass, replace
from . import checks

if TYPE_CHECKING:
    from ..backends.base import PowerAction
    from .facade import IgorService


@dataclass(frozen=True, slots=True)
class PortDiff:
    """`igor sync`: a switch port whose VLAN differs from what the store says it should be."""

    port: str
    node: str
    expected: int | None
    actual: int | None
    reservation: str = ""


@dataclass(frozen=True, slots=True)
class BlockResult:
    """`igor block`: the stored block and the reservations that already overlap it (left untouched)."""

    block: Block
    conflicts: tuple[Reservation, ...]


def power(
    svc: IgorService, action: str, *, name: str = "", nodes: str = "", force: bool = False
) -> tuple[str, ...]:
    """Power a reservation's nodes, or listed nodes that are all in reservations the caller may write.
    Admins may power unreserved nodes too, but only with `force` (a deliberate confirmation)."""
    if action not in ("on", "off", "cycle"):
        raise ValidationError(f"power action must be on, off or cycle, got '{action}'")
    if bool(name) == bool(nodes):
        raise ValidationError("give either -r NAME or -n NODES")
    live, now = svc.live_reservations(), svc.now()
    if name:
        res = checks.find(live, name)
        if not svc.can_write(res):
            raise PermissionDenied(f"permission denied: {name} belongs to {res.owner}")
        if not res.is_active(now):
            raise ValidationError(f"{name} is not active, so its nodes are not yours to power")
        targets = res.nodes
    else:
        targets = svc.naming.expand(nodes)
        holder = {n: r for r in live if r.is_active(now) for n in r.nodes}
        for node in targets:
            held = holder.get(node)
            if held is None:
                if not svc.caller.is_admin:
                    raise PermissionDenied(f"{node} is not in an active reservation of yours")
                if not force:
                    raise ValidationError(f"{node} is not in any active reservation; add --force to power it")
            elif not svc.can_write(held):
                raise PermissionDenied(
                    f"permission denied: {node} is in {held.name}, which belongs to {held.owner}"
                )
    backend = svc.backends().power
    if backend is None:
        raise ValidationError("power is not configured: set poweroncommand and poweroffcommand in igor.conf")
    power_action: PowerAction = "on" if action == "on" else "off" if action == "off" else "cycle"
    held_by = sorted({r.name for r in live if r.is_active(now) and set(r.nodes) & set(targets)})
    try:
        backend.power(targets, power_action)
    finally:
        svc.events.append(
            svc.clock.now(),
            "power",
            by=svc.caller.user,
            action=action,
            nodes=svc._nodes_text(targets),
            reservations=held_by,  # so `igor history NAME` finds it
        )
    return targets


def sync(svc: IgorService, *, repair: bool = False) -> list[PortDiff]:
    """Compare the switch's real port VLANs with the store's installs; with `repair`, fix the switch."""
    if not svc.caller.is_admin:
        raise PermissionDenied("only admins may sync the switch")
    switch = svc.backends().switch
    if switch is None:
        raise ValidationError("network isolation is not configured (network is not 'arista')")
    from .installs import read_installs

    with svc.store.transaction() as tx:
        installs = read_installs(tx)
    now = svc.now()
    live = {r.id for r in svc.live_reservations() if not r.has_ended(now)}
    expected: dict[str, tuple[int, str]] = {}
    for inst in installs.values():
        if inst.network and inst.vlan is not None and inst.res_id in live:
            for port in inst.ports:
                expected[port] = (inst.vlan, inst.name)
    port_node = {port: node for node, port in svc.config.node_map.items()}
    ports = sorted(port_node, key=lambda p: svc.naming.number(port_node[p]) or 0)
    actual = switch.port_vlans(ports)
    diffs: list[PortDiff] = []
    for port in ports:
        want, owner = expected.get(port, (None, ""))
        if want != actual.get(port):
            diffs.append(PortDiff(port, port_node[port], want, actual.get(port), owner))
    if repair and diffs:
        stray = [d.port for d in diffs if d.expected is None]
        if stray:
            switch.clear(stray)
        by_vlan: dict[int, list[str]] = {}
        for d in diffs:
            if d.expected is not None:
                by_vlan.setdefault(d.expected, []).append(d.port)
        for vlan, group in sorted(by_vlan.items()):
            switch.set_vlan(group, vlan)
        svc.events.append(svc.clock.now(), "sync", by=svc.caller.user, repaired=len(diffs))
    return diffs


def block(svc: IgorService, nodes: str, *, reason: str, start: str = "", duration: str = "") -> BlockResult:
    """Take nodes out of service for maintenance (admins). The scheduler never places anything on them
    inside the window; reservations that already overlap it are returned so the admin can act on them
    (they are not silently broken). Without a duration the block lasts until `unblock`."""
    svc._require_admin("block nodes")
    reason = reason.strip()
    if not reason:
        raise ValidationError("give a reason for the block (--reason TEXT): users see it in igor show")
    checks.check_kernel_args(reason)  # one line of printable text, like kernel arguments
    names = svc.naming.expand(nodes)
    now = svc.now()
    begin = parse_start(start, now, svc.config.tz) if start else now
    end: datetime | None = None
    if duration:
        end = begin + timedelta(minutes=checks.duration_minutes(duration))
        if end <= now:
            raise ValidationError(
                f"a block from {when_zone(begin, svc.config.tz, now)} for {duration} would already have ended"
            )
    with svc.store.transaction() as tx:
        live = svc._housekeep(tx, now)
        block = tx.add_block(
            Block(id=0, nodes=names, start=begin, end=end, reason=reason, by=svc.caller.user)
        )
    wanted = set(names)
    conflicts = tuple(
        r
        for r in live
        if not r.has_ended(now) and block.overlaps(r.start, r.end) and wanted.intersection(r.nodes)
    )
    svc.events.append(
        svc.clock.now(),
        "blocked",
        by=svc.caller.user,
        block=block.id,
        nodes=svc._nodes_text(names),
        start=begin.isoformat(),
        end=end.isoformat() if end else None,
        reason=reason,
        overlapping=[r.name for r in conflicts],
    )
    return BlockResult(block=block, conflicts=conflicts)


def unblock(svc: IgorService, nodes: str) -> list[Block]:
    """Return nodes to service (admins): they leave every block that holds them; a block covering
    other nodes too keeps those. Returns the blocks as they were before."""
    svc._require_admin("unblock nodes")
    names = set(svc.naming.expand(nodes))
    touched: list[Block] = []
    with svc.store.transaction() as tx:
        for block in tx.blocks():
            if not names.intersection(block.nodes):
                continue
            touched.append(block)
            tx.remove_block(block.id)
            rest = tuple(n for n in block.nodes if n not in names)
            if rest:
                tx.add_block(replace(block, id=0, nodes=rest))
    if not touched:
        raise NotFound(f"{svc._nodes_text(tuple(n for n in svc.nodes if n in names))} is not blocked")
    svc.events.append(
        svc.clock.now(),
        "unblocked",
        by=svc.caller.user,
        nodes=svc._nodes_text(tuple(n for n in svc.nodes if n in names)),
        blocks=[b.id for b in touched],
    )
    return touched
