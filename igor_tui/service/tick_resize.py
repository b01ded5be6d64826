"""igor-tick's record of a running install whose nodes change (edit -add/-drop, heal): what each partial
step did to the Install record, and removing the boot files of some nodes only.

Split from tick_executor.py, which calls these at its begin/act/finish points; the plan that emits the
partial steps is tickplan._drop_actions/_setup_actions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from ..errors import BackendError
from ..model import Install, InstallStage, Reservation
from ..tickplan import Action, Step
from ..typenames import TYPE_CHECKING, Any
from ..values import replace

if TYPE_CHECKING:
    from ..backends.base import BootBackend, BootRecord, BootSpec


def grown(inst: Install | None, res: Reservation) -> Install:
    """The install about to set `res` up: a first one holds all its nodes; on a running one the nodes not
    yet on the record join `growing` before anything touches them (see Install)."""
    if inst is None:
        return Install(res_id=res.id, name=res.name, nodes=res.nodes)
    new = tuple(n for n in res.nodes if n not in inst.nodes and n not in inst.growing)
    return replace(inst, growing=(*inst.growing, *new)) if new else inst


def record_nodes(record: BootRecord | None, part: BootRecord | None, *, add: bool) -> BootRecord | None:
    """A boot record with one part's per-node entries added or taken away: PXE keeps one file per node
    ("files"), Cobbler and the fake one name per node ("nodes"); everything else (a Cobbler profile, its
    links) belongs to the whole install and stays."""
    if record is None or part is None:
        return part if add else record
    out = dict(record)
    files, more = record.get("files"), part.get("files")
    if isinstance(files, dict) and isinstance(more, dict):
        out["files"] = {**files, **more} if add else {k: v for k, v in files.items() if k not in more}
    names, extra = record.get("nodes"), part.get("nodes")
    if isinstance(names, list) and isinstance(extra, list):
        out["nodes"] = list(dict.fromkeys(names + extra)) if add else [n for n in names if n not in extra]
    return out


def finish_part(inst: Install, action: Action, result: Any) -> Install:
    """The record after one step on some nodes of a running install (see tickplan._drop_actions and
    _setup_actions): the switch ports, boot record and node lists follow exactly what was done."""
    step = action.step
    if step is Step.CLEAR_VLAN:
        return replace(inst, ports=tuple(p for p in inst.ports if p not in action.ports))
    if step is Step.UNINSTALL_BOOT:
        return replace(inst, boot=record_nodes(inst.boot, result, add=False))
    if step is Step.RELEASE_NODES:
        gone = set(action.nodes)
        return replace(
            inst,
            nodes=tuple(n for n in inst.nodes if n not in gone),
            growing=tuple(n for n in inst.growing if n not in gone),
        )
    if step is Step.SET_VLAN:
        return replace(inst, network=True, pending=InstallStage.NONE)
    if step is Step.INSTALL_BOOT:
        return replace(inst, boot=record_nodes(inst.boot, result, add=True), pending=InstallStage.NONE)
    if step is Step.POWER_CYCLE:
        return replace(inst, pending=InstallStage.NONE)
    return inst  # POWER_OFF of dropped nodes: nothing on the record changes


def failed_part(inst: Install, action: Action) -> Install:
    """After a failed boot install for added nodes, the kept nodes' boot config is in doubt: a backend
    rolls back what its call touched, and Cobbler's rollback reverts every system on the reservation's
    profile. Forgetting the boot key makes the retry a full refresh (uninstall all, install all)."""
    if action.partial and action.step is Step.INSTALL_BOOT:
        return replace(inst, boot_key="")
    return inst


def best_effort(action: Action) -> bool:
    """Powering off a dropped node may fail (heal drops nodes that are down, and their outlet may be too):
    the failure is reported, but it neither holds up installing the reservation's other nodes nor
    retries; the node is released as it is."""
    return action.partial and action.step is Step.POWER_OFF


def uninstall_part(
    boot: BootBackend,
    action: Action,
    inst: Install,
    res: Reservation | None,
    spec: Callable[[Reservation, Sequence[str]], BootSpec],
) -> BootRecord | None:
    """Remove the boot files of some nodes only: those dropped (`partial`), or, when the whole install
    goes, also those whose setup a crash left `growing` (not yet on the record), then the record's own.
    The part is what `install` wrote for just these nodes, never a shared object (a Cobbler profile
    stays); it is returned so the record can be narrowed by exactly that."""
    part: BootRecord | None = None
    nodes = action.nodes if action.partial else inst.growing
    if res is not None and nodes:
        try:
            part = dict(boot.record_for(spec(res, nodes)))
        except BackendError:
            part = None
    if part is not None:
        if "created_profile" in part:
            part["created_profile"] = False
        boot.uninstall(part)
    if not action.partial:
        record = inst.boot
        if record is None and res is not None and action.nodes:
            # The install's outcome was never recorded (killed, or failed half-way, possibly without a
            # rollback if its server went away): compute what it would have written, for these nodes
            # only; uninstall removes only what still matches. A spec the backend refuses (say, a node
            # without an address) was refused by install too, before writing anything.
            with contextlib.suppress(BackendError):
                record = boot.record_for(spec(res, action.nodes))
        if record is not None:
            boot.uninstall(record)
    return part
