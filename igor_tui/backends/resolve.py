"""Where each node is on the boot network: the `hosts` map first, then DNS; plus pxelinux file names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from ..config import HostAddress
from ..config.boot import dotted_quad
from ..errors import BackendError
from .base import NodeAddress

Resolver = Callable[[str], str | None]

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_RESOLVER_THREADS = 32


def pxe_hex(ip: str) -> str:
    """The upper-case hex name pxelinux tries for a client.

    Classic spec §3.2 example: 192.168.2.91 -> C0A8025B.

    Raises ValueError for anything but a dotted IPv4 address, so no other text can become a file name.
    """
    if dotted_quad().fullmatch(ip) is None:  # what ipaddress accepts, without importing it (~2 ms)
        raise ValueError(f"not an IPv4 address: {ip!r}")
    return "".join(f"{int(part):02X}" for part in ip.split("."))


def pxe_mac(mac: str) -> str:
    """pxelinux's per-client file name: ARP type 01, then the MAC in lower-case hex with dashes.

    Raises ValueError unless `mac` is six hex octets (':' or '-' separated), so the name is always safe.
    """
    norm = mac.strip().lower().replace("-", ":")
    if not _MAC.fullmatch(norm):
        raise ValueError(f"not a MAC address: {mac!r}")
    return "01-" + norm.replace(":", "-")


def resolve_nodes(
    names: Sequence[str],
    hosts: Mapping[str, HostAddress],
    *,
    dnsserver: str = "",
    domain: str = "",
    resolver: Resolver | None = None,
) -> list[NodeAddress]:
    """Each node's IP and MAC, in the order of `names`; "" where nothing is known.

    The `hosts` map wins because it needs no network and is what PXE files should be built from (classic
    igor ignored DNS failures and silently wrote no boot file, §11.9); DNS only fills in missing IPs. With
    `dnsserver` set, that server is asked directly (many queries in flight on one socket, so 520 unknown
    nodes cost well under a second from a live server, and a dead one about two seconds, not 520 times
    that); otherwise the system resolver (or the injected `resolver`) is used.
    Unknown stays "": whether that is an error is the caller's decision (PXE install makes it one).
    """
    missing: list[str] = []
    for name in names:
        known = hosts.get(name)
        if known is None or not known.ip:
            missing.append(name)
    found: dict[str, str] = {}
    if missing:
        unique = list(dict.fromkeys(missing))
        if dnsserver:
            found = _lookup_dns(unique, dnsserver, domain)
        else:
            found = _lookup_resolver(unique, domain, resolver or system_resolver)
    out: list[NodeAddress] = []
    for name in names:
        known = hosts.get(name, HostAddress())
        mac = known.mac.strip().lower().replace("-", ":")
        out.append(NodeAddress(name=name, ip=known.ip or found.get(name, ""), mac=mac))
    return out


def system_resolver(name: str) -> str | None:
    """The first IPv4 address the system resolver gives for `name`, or None (never raises)."""
    import socket  # lookups only: pxe.py imports this module for pxe_hex/pxe_mac

    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        addr = info[4][0]
        if isinstance(addr, str):
            return addr
    return None


def _candidates(name: str, domain: str) -> list[str]:
    """The names to try, in order: the bare name, then name.domain (the classic DNS search list)."""
    domain = domain.strip().strip(".")
    out = [name]
    if domain and not name.lower().endswith("." + domain.lower()):
        out.append(f"{name}.{domain}")
    return out


def _lookup_resolver(names: Sequence[str], domain: str, resolver: Resolver) -> dict[str, str]:
    """Ask `resolver` for every name in parallel (each system lookup can block for seconds)."""

    def one(name: str) -> str:
        for candidate in _candidates(name, domain):
            try:
                ip = resolver(candidate)
            except (OSError, UnicodeError):
                ip = None
            if ip:
                return ip
        return ""

    from concurrent.futures import ThreadPoolExecutor  # ~5 ms with logging: only where names are looked up

    with ThreadPoolExecutor(max_workers=max(1, min(_RESOLVER_THREADS, len(names)))) as pool:
        return {name: ip for name, ip in zip(names, pool.map(one, names), strict=True) if ip}


def _lookup_dns(names: Sequence[str], dnsserver: str, domain: str) -> dict[str, str]:
    """Ask `dnsserver` for the A record of every candidate name together, then pick per node in order."""
    server = _server_address(dnsserver)
    wanted = list(dict.fromkeys(c for name in names for c in _candidates(name, domain)))
    from .dnsquery import query_batch  # dnspython: 53-79 ms of imports, only where DNS is asked

    answers = query_batch(server, wanted)
    out: dict[str, str] = {}
    for name in names:
        for candidate in _candidates(name, domain):
            if answers.get(candidate):
                out[name] = answers[candidate]
                break
    return out


def _server_address(dnsserver: str) -> tuple[int, tuple[str, int]]:
    """Parse "ip", "ip:port", "[v6]:port" or a bare IPv6 address into (family, sockaddr)."""
    text = dnsserver.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], dnsserver)
    elif text.count(":") == 1:
        host, _, raw = text.partition(":")
        port = _port(raw, dnsserver)
    import ipaddress  # a configured dnsserver only

    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise BackendError(
            f"dnsserver {dnsserver!r}: expected an IP address, optionally with :port (e.g. 10.0.0.2:53)"
        ) from None
    import socket

    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    return family, (str(addr), port)


def _port(raw: str, dnsserver: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise BackendError(f"dnsserver {dnsserver!r}: the port must be a number from 1 to 65535")
    return int(raw)
