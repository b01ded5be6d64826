"""Many A queries to one DNS server at once, over dnspython's packets (imported only when DNS is asked).

resolve.py imports this module lazily: dnspython costs 53-79 ms of imports (-X importtime on the shared
2-core machine, on top of what igor has loaded), which `igor show` and every other path that resolves no
node must not pay.
"""

from __future__ import annotations

import collections
import contextlib
import secrets
import select
import socket
import time
from collections.abc import Sequence

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

_DNS_TIMEOUT = 1.0  # seconds per try
_DNS_TRIES = 2
_DNS_WINDOW = 128  # queries in flight at once; a burst of 1,000 would overflow socket buffers


def query_batch(server: tuple[int, tuple[str, int]], names: Sequence[str]) -> dict[str, str]:
    """One A query per name on one connected UDP socket: two 1 s tries each, `_DNS_WINDOW` in flight.

    dnspython builds and parses the packets; the scheduling is ours because dnspython has no batch of
    queries on one socket. The window keeps a burst of hundreds of queries from overflowing the server's
    (or our) socket buffer. Connecting the socket makes the kernel drop datagrams from any other source,
    and each reply must carry an outstanding random id and echo our question, so a stray or spoofed
    datagram is ignored. A server that has answered nothing by the time a query used up its tries is
    taken as dead: the rest are not asked, so a dead server costs two timeouts per call, not two per
    window. Names that cannot be encoded, get NXDOMAIN or have no A record are simply absent from the result.
    """
    family, address = server
    pending: collections.deque[tuple[str, dns.message.QueryMessage, int]] = collections.deque()
    for name in names:
        query = _make_query(name)
        if query is not None:
            pending.append((name, query, 0))
    result: dict[str, str] = {}
    # id -> (name, query, tries so far, deadline); insertion order is deadline order
    outstanding: dict[int, tuple[str, dns.message.QueryMessage, int, float]] = {}
    heard_back = False
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
        except OSError:
            return result
        while pending or outstanding:
            while pending and len(outstanding) < _DNS_WINDOW:
                name, query, tries = pending.popleft()
                query.id = secrets.randbelow(65536)
                while query.id in outstanding:
                    query.id = secrets.randbelow(65536)
                outstanding[query.id] = (name, query, tries + 1, time.monotonic() + _DNS_TIMEOUT)
                with contextlib.suppress(OSError):  # e.g. an earlier ICMP error surfacing: the retry resends
                    sock.send(query.to_wire())
            remaining = next(iter(outstanding.values()))[3] - time.monotonic()
            ready, _, _ = select.select([sock], [], [], max(0.0, remaining))
            if ready:
                try:
                    packet = sock.recv(65535)
                except OSError:
                    packet = b""  # ECONNREFUSED from an ICMP error: nobody listens there
                reply = parse_reply(packet)
                entry = outstanding.get(reply.id) if reply is not None else None
                if reply is not None and entry is not None and entry[1].is_response(reply):
                    heard_back = True
                    del outstanding[reply.id]
                    ip, final = address_in(reply)
                    if ip:
                        result[entry[0]] = ip
                    elif not final and entry[2] < _DNS_TRIES:
                        pending.appendleft((entry[0], entry[1], entry[2]))
            now = time.monotonic()
            for qid, (name, query, tries, deadline) in list(outstanding.items()):
                if deadline > now:
                    break
                del outstanding[qid]
                if tries < _DNS_TRIES:
                    pending.appendleft((name, query, tries))
                elif not heard_back:
                    return result  # the server is dead or silent: do not wait out every other name
    return result


def _make_query(name: str) -> dns.message.QueryMessage | None:
    """An A query (RD set) for `name`, or None unless it is a valid ASCII host name.

    ASCII only: dnspython would turn "knö" into its IDNA form and ask for a node nobody named.
    """
    name = name.rstrip(".")
    if not name or not name.isascii():
        return None
    try:  # labels as they are: no "@" or backslash escapes as dns.name.from_text would read them
        qname = dns.name.Name([*(label.encode() for label in name.split(".")), b""])
    except dns.exception.DNSException:  # an empty label, a label over 63 or a name over 255 bytes
        return None
    return dns.message.make_query(qname, dns.rdatatype.A)


def parse_reply(packet: bytes) -> dns.message.QueryMessage | None:
    """`packet` as a DNS query message, or None if it is not one (any datagram can arrive: never raises)."""
    try:
        message = dns.message.from_wire(packet)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return None
    return message if isinstance(message, dns.message.QueryMessage) else None  # not an UPDATE and such


def address_in(reply: dns.message.QueryMessage) -> tuple[str, bool]:
    """(first IPv4 address of the queried name, or "", final?), following CNAME chains in the answer.

    `final` says the answer is authoritative for our purposes (NOERROR or NXDOMAIN), so it is not asked
    again; SERVFAIL and friends are retried.
    """
    final = reply.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
    try:
        rrset = reply.resolve_chaining().answer
    except dns.exception.DNSException:  # a CNAME loop or chain too long, an answer with NXDOMAIN
        return "", final
    return (str(rrset[0]) if rrset else ""), final
