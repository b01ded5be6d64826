"""Recording fakes of every backend role: for tests, the TUI demo and `igor-tick --dry-run`.

They keep the state a real system would have (which nodes boot what, port VLANs, power) so tests can
assert on outcomes, and they can be told to fail for fault-injection tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import BackendError
from ..model import NodeState
from .base import BootRecord, BootSpec, NodeAddress, PowerAction


@dataclass
class FakeBoot:
    """Per node, the key of the install it boots; `fail` makes the next calls raise."""

    booting: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: str = ""

    def install(self, spec: BootSpec) -> BootRecord:
        self.calls.append(("install", spec.key))
        if self.fail:
            raise BackendError(f"boot install of {spec.label} failed: {self.fail}")
        for node in spec.nodes:
            self.booting[node.name] = spec.key
        return {"key": spec.key, "nodes": [n.name for n in spec.nodes]}

    def record_for(self, spec: BootSpec) -> BootRecord:
        return {"key": spec.key, "nodes": [n.name for n in spec.nodes]}

    def uninstall(self, record: BootRecord) -> None:
        self.calls.append(("uninstall", str(record.get("key", ""))))
        if self.fail:
            raise BackendError(f"boot uninstall failed: {self.fail}")
        for name in record.get("nodes", []):
            if self.booting.get(name) == record.get("key"):
                del self.booting[name]


@dataclass
class FakePower:
    """Per node, on or off, and every call made."""

    state: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    fail: str = ""

    def power(self, nodes: Sequence[str], action: PowerAction) -> None:
        self.calls.append((action, tuple(nodes)))
        if self.fail:
            raise BackendError(f"power {action} failed on {nodes[0] if nodes else '?'}: {self.fail}")
        for node in nodes:
            self.state[node] = "off" if action == "off" else "on"


@dataclass
class FakeSwitch:
    """Per port, its VLAN (absent = cleared)."""

    vlans: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, tuple[str, ...], int | None]] = field(default_factory=list)
    fail: str = ""

    def set_vlan(self, ports: Sequence[str], vlan: int) -> None:
        self.calls.append(("set", tuple(ports), vlan))
        if self.fail:
            raise BackendError(f"switch refused VLAN {vlan}: {self.fail}")
        for port in ports:
            self.vlans[port] = vlan

    def clear(self, ports: Sequence[str]) -> None:
        self.calls.append(("clear", tuple(ports), None))
        if self.fail:
            raise BackendError(f"switch refused to clear ports: {self.fail}")
        for port in ports:
            self.vlans.pop(port, None)

    def port_vlans(self, ports: Sequence[str]) -> Mapping[str, int | None]:
        return {port: self.vlans.get(port) for port in ports}


@dataclass
class FakeLiveness:
    """Nodes listed in `down` are down, every other node is up."""

    down: set[str] = field(default_factory=set)

    def probe(self, nodes: Sequence[NodeAddress]) -> Mapping[str, NodeState]:
        return {n.name: NodeState.DOWN if n.name in self.down else NodeState.UP for n in nodes}
