"""The network section: segmentation (none or an Arista switch), its VLAN pool and the node -> port map."""

from __future__ import annotations

import types
from collections.abc import Mapping

from igor_tui.values import dataclass, field

from ..typenames import TYPE_CHECKING
from .keys import default
from .reader import Reader, json_type

if TYPE_CHECKING:
    from typing import Self

    from igor_tui.hostlist import NodeNaming

HIGHEST_VLAN = 4094
SUPPORTED_NETWORKS = ("", "arista")


def no_entries() -> Mapping[str, str]:
    """The default of a per-node map: empty and read-only, like the maps read from a file."""
    return types.MappingProxyType({})


def canonical(naming: NodeNaming | None, node: str) -> str:
    """The stored spelling of a node name when it is a node of the cluster, else the name unchanged."""
    number = naming.number(node) if naming is not None else None
    return node if naming is None or number is None else naming.name(number)


@dataclass(frozen=True)
class NetworkSettings:
    """Network segmentation: '' for none, or 'arista' with a VLAN pool, eAPI access and every node's port."""

    network: str = default("network")
    vlan_min: int = default("vlan_min")
    vlan_max: int = default("vlan_max")
    networkuser: str = default("networkuser")
    networkpassword: str = default("networkpassword")
    network_url: str = default("network_url")
    node_map: Mapping[str, str] = field(default_factory=no_entries)
    network_timeout: int = default("network_timeout")
    network_verify_tls: bool = default("network_verify_tls")
    network_ca_file: str = default("network_ca_file")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """A supported network, a usable VLAN pool, and for Arista an address and a port for every node."""
        network = sec.text("network")
        if network == "cumulus":
            why = "is not supported (Cumulus never left classic igor's PR branch); expected '' or 'arista'"
            sec.add_bad("network", network, why)
        elif network not in SUPPORTED_NETWORKS:
            why = "is not a supported network; expected '' (no segmentation) or 'arista'"
            sec.add_bad("network", network, why)
        _check_pool(sec, network)
        node_map = _node_map(sec, naming)
        if network == "arista":
            if not sec.text("network_url") and sec.ok("network_url"):
                sec.add(
                    f"{sec.name('network_url')}: {sec.text('network_url')!r} is empty but network is "
                    f"'arista'; expected {sec.known['network_url'].expect}"
                )
            if naming is not None and sec.ok("node_map"):
                missing = naming.compress(node for node in naming.all() if node not in node_map)
                if missing:
                    sec.add(
                        f"{sec.name('node_map')}: no switch port for {missing}; network 'arista' needs "
                        f"every node of {naming.describe()} mapped"
                    )
        return sec.build(cls, node_map=types.MappingProxyType(node_map))


def _check_pool(sec: Reader, network: str) -> None:
    """1 <= vlan_min <= vlan_max <= 4094, unless there is no network and no pool at all."""
    vlan_min, vlan_max = sec.number("vlan_min"), sec.number("vlan_max")
    no_pool = network == "" and vlan_min == vlan_max == 0
    if not sec.ok("vlan_min", "vlan_max", "network") or no_pool:
        return
    pool = f"vlan pool {vlan_min}..{vlan_max}"
    usable = f"expected 1 <= vlan_min <= vlan_max <= {HIGHEST_VLAN}"
    if vlan_min <= 0 <= vlan_max:
        needs = f" (network {network!r} needs a pool)" if network else ""
        sec.add(f"vlan_min/vlan_max: {pool} contains 0, which is not a usable VLAN{needs}; {usable}")
    elif vlan_min < 1:
        sec.add(f"vlan_min: {pool} starts at {vlan_min}, below 1; {usable}")
    elif vlan_min > vlan_max:
        sec.add(f"vlan_min: {pool} is empty, vlan_min {vlan_min} > vlan_max {vlan_max}; {usable}")
    elif vlan_max > HIGHEST_VLAN:
        sec.add(f"vlan_max: {pool} ends at {vlan_max}, above {HIGHEST_VLAN}; {usable}")


def _node_map(sec: Reader, naming: NodeNaming | None) -> dict[str, str]:
    """node -> switch port, keyed by canonical node name (kn7 and kn007 are one node on a padded cluster)."""
    raw = sec.raw("node_map")
    if not sec.given("node_map") or not isinstance(raw, Mapping):
        return {}
    key = sec.name("node_map")
    result: dict[str, str] = {}
    written: dict[str, str] = {}
    for node, port in raw.items():
        if not isinstance(port, str) or not port:
            shown = f"{port!r} ({json_type(port)})"
            sec.add(f"{key}[{node!r}]: expected a switch port name such as 'Et1/1', got {shown}")
            sec.bad.add("node_map")
            continue
        name = canonical(naming, str(node))
        if name in written:
            sec.add(f"{key}: {written[name]!r} and {node!r} are the same node {name}: keep one")
            sec.bad.add("node_map")
            continue
        written[name] = str(node)
        result[name] = port
    return result
