"""Where each node is on the boot network: the `hosts` map first, then DNS; plus pxelinux file names."""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import re
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from ..config import HostAddress
from ..errors import BackendError
from .base import NodeAddress

Resolver = Callable[[str], str | None]

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_DNS_TIMEOUT = 1.0  # seconds per try
_DNS_TRIES = 2
_DNS_WINDOW = 128  # queries in flight at once; a burst of 1,000 would overflow socket buffers
_RESOLVER_THREADS = 32
_TYPE_A = 1
_TYPE_CNAME = 5
_CLASS_IN = 1


def pxe_hex(ip: str) -> str:
    """The upper-case hex name pxelinux tries for a client.

    Classic spec §3.2 example: 192.168.2.91 -> C0A8025B.

    Raises ValueError for anything but a dotted IPv4 address, so no other text can become a file name.
    """
    return f"{int(ipaddress.IPv4Address(ip)):08X}"


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

    with ThreadPoolExecutor(max_workers=max(1, min(_RESOLVER_THREADS, len(names)))) as pool:
        return {name: ip for name, ip in zip(names, pool.map(one, names), strict=True) if ip}


def _lookup_dns(names: Sequence[str], dnsserver: str, domain: str) -> dict[str, str]:
    """Ask `dnsserver` for the A record of every candidate name together, then pick per node in order."""
    server = _server_address(dnsserver)
    wanted = list(dict.fromkeys(c for name in names for c in _candidates(name, domain)))
    answers = _query_batch(server, wanted)
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
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise BackendError(
            f"dnsserver {dnsserver!r}: expected an IP address, optionally with :port (e.g. 10.0.0.2:53)"
        ) from None
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    return family, (str(addr), port)


def _port(raw: str, dnsserver: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise BackendError(f"dnsserver {dnsserver!r}: the port must be a number from 1 to 65535")
    return int(raw)


def _query_batch(server: tuple[int, tuple[str, int]], names: Sequence[str]) -> dict[str, str]:
    """One A query per name on one connected UDP socket: two 1 s tries each, `_DNS_WINDOW` in flight.

    The window keeps a burst of hundreds of queries from overflowing the server's (or our) socket buffer.
    Connecting the socket makes the kernel drop datagrams from any other source, and each reply must carry
    an outstanding random id and echo our question, so a stray or spoofed datagram is ignored. A server
    that has answered nothing by the time a query used up its tries is taken as dead: the rest are not
    asked, so a dead server costs two timeouts per call, not two per window. Names that cannot be encoded,
    get NXDOMAIN or have no A record are simply absent from the result.
    """
    family, address = server
    pending: collections.deque[tuple[str, bytes, int]] = collections.deque()
    for name in names:
        qname = _encode_name(name)
        if qname is not None:
            pending.append((name, qname, 0))
    result: dict[str, str] = {}
    # id -> (name, wire name, tries so far, deadline); insertion order is deadline order
    outstanding: dict[int, tuple[str, bytes, int, float]] = {}
    heard_back = False
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
        except OSError:
            return result
        while pending or outstanding:
            while pending and len(outstanding) < _DNS_WINDOW:
                name, qname, tries = pending.popleft()
                qid = secrets.randbelow(65536)
                while qid in outstanding:
                    qid = secrets.randbelow(65536)
                outstanding[qid] = (name, qname, tries + 1, time.monotonic() + _DNS_TIMEOUT)
                with contextlib.suppress(OSError):  # e.g. an earlier ICMP error surfacing: the retry resends
                    sock.send(_build_query(qid, qname))
            remaining = next(iter(outstanding.values()))[3] - time.monotonic()
            ready, _, _ = select.select([sock], [], [], max(0.0, remaining))
            if ready:
                try:
                    packet = sock.recv(65535)
                except OSError:
                    packet = b""  # ECONNREFUSED from an ICMP error: nobody listens there
                parsed = _parse_response(packet)
                if parsed is not None:
                    qid, wire, ip, final = parsed
                    entry = outstanding.get(qid)
                    if entry is not None and wire == entry[1].lower():
                        heard_back = True
                        del outstanding[qid]
                        if ip:
                            result[entry[0]] = ip
                        elif not final and entry[2] < _DNS_TRIES:
                            pending.appendleft((entry[0], entry[1], entry[2]))
            now = time.monotonic()
            for qid, (name, qname, tries, deadline) in list(outstanding.items()):
                if deadline > now:
                    break
                del outstanding[qid]
                if tries < _DNS_TRIES:
                    pending.appendleft((name, qname, tries))
                elif not heard_back:
                    return result  # the server is dead or silent: do not wait out every other name
    return result


def _encode_name(name: str) -> bytes | None:
    """`name` in DNS wire format, or None if it is not a valid ASCII host name."""
    name = name.rstrip(".")
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        return None
    labels = raw.split(b".")
    if not name or any(not 0 < len(label) < 64 for label in labels):
        return None
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return wire if len(wire) <= 255 else None


def _build_query(qid: int, qname: bytes) -> bytes:
    """A standard query (RD set) with one question: qname, type A, class IN."""
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", _TYPE_A, _CLASS_IN)


def _parse_response(packet: bytes) -> tuple[int, bytes, str, bool] | None:
    """(id, lower-cased wire question name, first IPv4 address or "", final?) or None if unusable.

    `final` says the answer is authoritative for our purposes (NOERROR or NXDOMAIN), so it is not asked
    again; SERVFAIL and friends are retried. CNAME chains inside the answer are followed.
    """
    try:
        qid, flags, qdcount, ancount, _, _ = struct.unpack_from("!HHHHHH", packet, 0)
        if not flags & 0x8000 or qdcount != 1:
            return None
        rcode = flags & 0x000F
        qname, offset = _read_name(packet, 12)
        offset += 4  # qtype, qclass
        cnames: dict[bytes, bytes] = {}
        addresses: dict[bytes, str] = {}
        for _ in range(ancount):
            owner, offset = _read_name(packet, offset)
            rtype, rclass, _ttl, rdlength = struct.unpack_from("!HHIH", packet, offset)
            offset += 10
            rdata_at = offset
            offset += rdlength
            if offset > len(packet):
                return None
            if rclass != _CLASS_IN:
                continue
            if rtype == _TYPE_A and rdlength == 4:
                addresses.setdefault(owner, socket.inet_ntoa(packet[rdata_at:offset]))
            elif rtype == _TYPE_CNAME:
                cnames[owner], _ = _read_name(packet, rdata_at)
    except (struct.error, ValueError, IndexError):
        return None
    wire = _to_wire(qname)
    target = qname
    for _ in range(16):  # CNAME hops, bounded against loops
        if target in addresses or target not in cnames:
            break
        target = cnames[target]
    return qid, wire, addresses.get(target, ""), rcode in (0, 3)


def _read_name(packet: bytes, offset: int) -> tuple[bytes, int]:
    """Decode a (possibly compressed) name at `offset`: (lower-cased dotted name, offset after it).

    Compression pointers must point strictly backwards, which rules out loops.
    """
    labels: list[bytes] = []
    end = -1
    position = offset
    while True:
        length = packet[position]
        if length & 0xC0 == 0xC0:
            pointer = ((length & 0x3F) << 8) | packet[position + 1]
            if pointer >= position:
                raise ValueError("forward or looping compression pointer")
            if end < 0:
                end = position + 2
            position = pointer
            continue
        if length & 0xC0:
            raise ValueError("reserved label type")
        if length == 0:
            if end < 0:
                end = position + 1
            break
        label = packet[position + 1 : position + 1 + length]
        if len(label) != length:
            raise ValueError("truncated label")
        labels.append(label.lower())
        position += 1 + length
        if sum(len(x) + 1 for x in labels) > 255:
            raise ValueError("name too long")
    return b".".join(labels), end


def _to_wire(dotted: bytes) -> bytes:
    """A decoded dotted name back in wire form, to compare with the question we sent."""
    return b"".join(bytes([len(label)]) + label for label in dotted.split(b".") if label) + b"\x00"
