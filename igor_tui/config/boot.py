"""The boot section: how each node netboots (BIOS or UEFI) and its fixed addresses on the boot network."""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Mapping

from igor_tui.values import dataclass, field

from ..typenames import TYPE_CHECKING
from .keys import HOST_KEYS
from .network import canonical, no_entries
from .reader import Reader, json_type, show

if TYPE_CHECKING:
    from typing import Self

    from igor_tui.hostlist import NodeNaming

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"


@functools.cache
def dotted_quad() -> re.Pattern[str]:
    """A dotted quad already in ipaddress's own form (no leading zeros, each part <= 255): kept as written,
    so a site listing 520 hosts does not build 520 IPv4Address objects (~5 ms) nor import ipaddress.
    Compiled on first use, once: compiling it cost every command ~3 M instructions, hosts listed or not.
    Also what names a PXE file (backends/resolve.pxe_hex): no other text can become a file name."""
    return re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


_MAC = r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}"  # compiled only for a config with MACs
_HOST_KEYS = {key.name: key for key in HOST_KEYS}


@dataclass(frozen=True, slots=True)
class HostAddress:
    """Where a node lives on the boot network, so PXE/DHCP files need no DNS lookup (classic bug §11.9)."""

    ip: str = ""
    mac: str = ""


@dataclass(frozen=True)
class BootSettings:
    """Per-node boot facts: which nodes boot UEFI, and the addresses PXE and DHCP files name."""

    hosts: Mapping[str, HostAddress] = field(default_factory=no_entries)
    # `bootmode` as the set of nodes that boot UEFI (see bootmode.py); every other node boots legacy BIOS.
    bootmode: frozenset[str] = frozenset()

    def boot_mode(self, node: str) -> str:
        """'bios' or 'uefi': which netboot files igor writes for `node` and what show/--json report."""
        return "uefi" if node in self.bootmode else "bios"

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Both name nodes, so both are checked against the cluster's node list."""
        hosts = _hosts(sec, naming)
        bootmode: dict[str, str] = {}
        if sec.given("bootmode"):
            from igor_tui.bootmode import parse_bootmode

            bootmode, bad_modes = parse_bootmode(sec.raw("bootmode"), naming, sec.name("bootmode"))
            sec.problems.extend(bad_modes)
        uefi = frozenset(node for node, mode in bootmode.items() if mode == "uefi")
        return cls(hosts=types.MappingProxyType(hosts), bootmode=uefi)


def _hosts(sec: Reader, naming: NodeNaming | None) -> dict[str, HostAddress]:
    """Fixed addresses per node; each must be a cluster node and each address must be unique."""
    raw = sec.raw("hosts")
    if not sec.given("hosts") or not isinstance(raw, Mapping):
        return {}
    key = sec.name("hosts")
    problems = sec.problems
    result: dict[str, HostAddress] = {}
    seen: dict[str, dict[str, str]] = {"ip": {}, "mac": {}}
    for node, entry in raw.items():
        where = f"{key}[{node!r}]"
        if naming is not None and (not isinstance(node, str) or naming.number(node) is None):
            problems.append(f"{where}: {node!r} is not a node of the cluster {naming.describe()}")
        name = canonical(naming, str(node))
        if name in result:
            problems.append(f"{key}: {node!r} and another entry name the same node {name}: keep one")
            continue
        if not isinstance(entry, Mapping):
            problems.append(
                f"{where}: expected an object, for example {{'ip': '10.0.0.1', 'mac': '52:54:00:00:00:01'}}, "
                f"got {show('hosts', entry)} ({json_type(entry)})"
            )
            continue
        address = _plain_address(entry) or _address(
            Reader(entry, _HOST_KEYS, problems, where, "expected only 'ip' and 'mac'")
        )
        for what, value in (("ip", address.ip), ("mac", address.mac)):
            if value and value in seen[what]:
                problems.append(
                    f"{key}: {what} {value!r} is given for both {seen[what][value]!r} and {node!r}"
                )
            elif value:
                seen[what][value] = str(node)
        result[name] = address
    return result


def _plain_address(entry: Mapping[object, object]) -> HostAddress | None:
    """What `_address` makes of an entry that has only lower-case 'ip' and 'mac' strings, each empty or
    already well formed, without a Reader (~10 us each: a cluster lists hundreds of hosts, and every
    command reads the config); None sends anything else to `_address` and its messages."""
    if not entry.keys() <= _HOST_KEYS.keys():
        return None
    ip, mac = entry.get("ip", ""), entry.get("mac", "")
    if not (isinstance(ip, str) and isinstance(mac, str)):
        return None
    if (ip and not dotted_quad().fullmatch(ip)) or (mac and not re.fullmatch(_MAC, mac)):
        return None
    return HostAddress(ip=ip, mac=mac.lower().replace("-", ":"))


def _address(sub: Reader) -> HostAddress:
    """One hosts entry, normalised: the dotted quad without leading zeros, the MAC in lower case with ':'."""
    ip, mac = sub.text("ip"), sub.text("mac")
    if ip and not dotted_quad().fullmatch(ip):
        import ipaddress  # only sites that list their hosts pay for it

        try:
            ip = str(ipaddress.IPv4Address(ip))
        except ValueError:
            sub.add(
                f"{sub.name('ip')}: {ip!r} is not an IPv4 address; "
                "expected a dotted quad, for example '10.0.0.1'"
            )
            ip = ""
    if mac:
        if re.fullmatch(_MAC, mac):
            mac = mac.lower().replace("-", ":")
        else:
            sub.add(
                f"{sub.name('mac')}: {mac!r} is not a MAC address; "
                "expected six hex pairs like '52:54:00:00:00:01'"
            )
            mac = ""
    return HostAddress(ip=ip, mac=mac)
