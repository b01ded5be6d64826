"""igor-tick's per-reservation install records (`Install`), kept in the store's key/value area.

Apart from the executor because the service's reports (`igor show -e`, operations) and the tests read
them too, and they are plain data: a record is what a killed tick leaves for the next one to finish.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..model import Install, InstallStage
from ..typenames import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store import Transaction

INSTALLS_KEY = "installs"


def install_to_record(inst: Install) -> dict[str, Any]:
    return {
        "res_id": inst.res_id,
        "name": inst.name,
        "revision": inst.revision,
        "nodes": list(inst.nodes),
        "vlan": inst.vlan,
        "ports": list(inst.ports),
        "network": inst.network,
        "boot": inst.boot,
        "powered": inst.powered,
        "complete": inst.complete,
        "pending": inst.pending.value,
        "error": inst.error,
        "failures": inst.failures,
        "retry_at": inst.retry_at.isoformat() if inst.retry_at else None,
        "growing": list(inst.growing),
        "boot_key": inst.boot_key,
    }


def install_from_record(d: Mapping[str, Any]) -> Install:
    retry = d.get("retry_at")
    return Install(
        res_id=int(d["res_id"]),
        name=str(d.get("name", "")),
        revision=int(d.get("revision", 0)),
        nodes=tuple(d.get("nodes", ())),
        vlan=d.get("vlan"),
        ports=tuple(d.get("ports", ())),
        network=bool(d.get("network", False)),
        boot=d.get("boot"),
        powered=bool(d.get("powered", False)),
        complete=bool(d.get("complete", False)),
        pending=InstallStage(str(d.get("pending", ""))),
        error=str(d.get("error", "")),
        failures=int(d.get("failures", 0)),
        retry_at=datetime.fromisoformat(retry) if retry else None,
        growing=tuple(d.get("growing", ())),
        boot_key=str(d.get("boot_key", "")),
    )


def read_installs(tx: Transaction) -> dict[int, Install]:
    raw = tx.get_value(INSTALLS_KEY, {}) or {}
    return {int(k): install_from_record(v) for k, v in raw.items()}


def write_installs(tx: Transaction, installs: Mapping[int, Install]) -> None:
    tx.set_value(INSTALLS_KEY, {str(k): install_to_record(v) for k, v in sorted(installs.items())})
