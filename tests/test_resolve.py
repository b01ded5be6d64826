"""Node address resolution: hosts map first, then DNS (a real UDP DNS server on 127.0.0.1), pxelinux names."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from igor_tui.backends.base import NodeAddress
from igor_tui.backends.dnsquery import address_in, parse_reply
from igor_tui.backends.resolve import pxe_hex, pxe_mac, resolve_nodes, system_resolver
from igor_tui.config import HostAddress
from igor_tui.errors import BackendError

# ------------------------------------------------------------------------------------ a tiny DNS server


def _wire(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"


@dataclass
class DnsServer:
    """An authoritative-ish UDP DNS server on 127.0.0.1 for the tests, speaking real RFC 1035 packets.

    `a` maps names to IPv4 addresses, `cname` names to other names (answered as a CNAME chain with
    compression pointers into the middle of the packet); anything else is NXDOMAIN. `drop_first` ignores
    that many queries (to exercise the retry), `spoof_first` answers that many queries first with a
    packet carrying the wrong id and a wrong address, then the true answer (the first must be ignored).
    """

    a: dict[str, str] = field(default_factory=dict)
    cname: dict[str, str] = field(default_factory=dict)
    servfail: set[str] = field(default_factory=set)
    drop_first: int = 0
    spoof_first: int = 0
    queries: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            for reply in self._answer(packet):
                self._sock.sendto(reply, peer)

    def _answer(self, packet: bytes) -> list[bytes]:
        qid, _flags, qdcount = struct.unpack_from("!HHH", packet)
        assert qdcount == 1
        labels: list[str] = []
        pos = 12
        while packet[pos]:
            labels.append(packet[pos + 1 : pos + 1 + packet[pos]].decode())
            pos += 1 + packet[pos]
        question = packet[12 : pos + 5]
        qtype = struct.unpack_from("!H", packet, pos + 1)[0]
        assert qtype == 1, "igor asks for A records only"
        name = ".".join(labels).lower()
        self.queries.append(name)
        out: list[bytes] = []
        if self.drop_first > 0:
            self.drop_first -= 1
            return out
        if self.spoof_first > 0:
            self.spoof_first -= 1
            out.append(
                self._reply((qid + 1) % 65536, question, 0, [(0xC00C, 1, socket.inet_aton("6.6.6.6"))])
            )
        if name in self.servfail:
            return [*out, self._reply(qid, question, 2, [])]
        records: list[tuple[int | bytes, int, bytes]] = []
        owner: int | bytes = 0xC00C  # pointer to the question name
        offset = 12 + len(question)
        target = name
        hops = 0
        while target in self.cname and hops < 8:
            nxt = self.cname[target]
            records.append((owner, 5, _wire(nxt)))
            # the CNAME's rdata sits after this record's 2-byte pointer + 10-byte fixed part
            owner = 0xC000 | (offset + 12)
            offset += 12 + len(_wire(nxt))
            target = nxt
            hops += 1
        if target in self.a:
            records.append((owner, 1, socket.inet_aton(self.a[target])))
        rcode = 0 if records or target in self.a else 3
        return [*out, self._reply(qid, question, rcode, records)]

    @staticmethod
    def _reply(qid: int, question: bytes, rcode: int, records: list[tuple[int | bytes, int, bytes]]) -> bytes:
        out = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0) + question
        for owner, rtype, rdata in records:
            head = struct.pack("!H", owner) if isinstance(owner, int) else owner
            out += head + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata
        return out


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    server = DnsServer()
    yield server
    server.close()


def no_system_dns(name: str) -> str | None:
    raise AssertionError(f"the test must not resolve {name!r} through the system resolver")


# ----------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.168.2.91", "C0A8025B"),  # the spec §10.3 example: a conversion, never contacted
        ("127.0.0.1", "7F000001"),
        ("127.0.0.1", "7F000001"),
        ("0.0.0.0", "00000000"),
    ],
)
def test_pxe_hex_is_the_classic_upper_case_form(ip: str, expected: str) -> None:
    assert pxe_hex(ip) == expected


@pytest.mark.parametrize("bad", ["", "kn1", "127.0.0.256", "1.2.3", "::1", "127.0.0.1/24", "../etc"])
def test_pxe_hex_refuses_anything_but_ipv4(bad: str) -> None:
    with pytest.raises(ValueError):
        pxe_hex(bad)


_PARTS = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["00", "01", "007", "1e2", " 1", "1 ", "\u0661", "+1", "-1", "", "0x1", "1\n"]),
)


@given(st.lists(_PARTS, min_size=3, max_size=5).map(".".join) | st.text(max_size=16))
@example("10.01.0.1")
@example("10.0.0.256")
@example("10.0.0.1\n")
@example("10.0.0.\u0661")
def test_pxe_hex_accepts_exactly_what_ipaddress_accepts(text: str) -> None:
    """pxe_hex matches dotted quads itself (no ipaddress import on the install path): the same texts
    must pass and fail as ipaddress.IPv4Address's, with the same number."""
    import ipaddress

    try:
        want: str | None = f"{int(ipaddress.IPv4Address(text)):08X}"
    except ValueError:
        want = None
    try:
        got: str | None = pxe_hex(text)
    except ValueError:
        got = None
    assert got == want


@pytest.mark.parametrize("mac", ["52:54:00:00:00:01", "52-54-00-00-00-01", "52:54:00:00:00:01"])
def test_pxe_mac_is_arp_type_prefixed_lower_case(mac: str) -> None:
    assert pxe_mac(mac) == "01-52-54-00-00-00-01"
    assert pxe_mac("AA:BB:CC:DD:EE:FF") == "01-aa-bb-cc-dd-ee-ff"


@pytest.mark.parametrize(
    "bad", ["", "52:54:00:00:00", "52:54:00:00:00:01:02", "zz:54:00:00:00:01", "../../x"]
)
def test_pxe_mac_refuses_malformed_addresses(bad: str) -> None:
    with pytest.raises(ValueError):
        pxe_mac(bad)


# ---------------------------------------------------------------------------- hosts map and resolver


def test_hosts_map_wins_and_only_missing_ips_are_looked_up() -> None:
    asked: list[str] = []

    def resolver(name: str) -> str | None:
        asked.append(name)
        return {"kn2": "127.9.9.2", "kn3": "127.9.9.3"}.get(name)

    hosts = {
        "kn1": HostAddress(ip="127.0.0.1", mac="52:54:00:00:00:01"),
        "kn2": HostAddress(mac="52:54:00:00:00:02"),  # MAC only: the IP still comes from DNS
    }
    got = resolve_nodes(["kn1", "kn2", "kn3", "kn4"], hosts, resolver=resolver)
    assert got == [
        NodeAddress("kn1", "127.0.0.1", "52:54:00:00:00:01"),
        NodeAddress("kn2", "127.9.9.2", "52:54:00:00:00:02"),
        NodeAddress("kn3", "127.9.9.3", ""),
        NodeAddress("kn4", "", ""),  # unknown stays "": the caller decides
    ]
    assert sorted(asked) == ["kn2", "kn3", "kn4"]


def test_everything_in_the_hosts_map_needs_no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", no_system_dns)
    hosts = {f"kn{i}": HostAddress(ip=f"127.0.0.{i}") for i in range(1, 6)}
    got = resolve_nodes([f"kn{i}" for i in range(1, 6)], hosts)
    assert [n.ip for n in got] == [f"127.0.0.{i}" for i in range(1, 6)]


def test_domain_is_searched_after_the_bare_name() -> None:
    known = {"kn1": "127.0.0.1", "kn1.lab.example": "127.1.0.1", "kn2.lab.example": "127.1.0.2"}
    got = resolve_nodes(["kn1", "kn2", "kn3"], {}, domain="lab.example", resolver=known.get)
    assert [n.ip for n in got] == ["127.0.0.1", "127.1.0.2", ""]


def test_a_failing_resolver_means_unknown() -> None:
    def broken(name: str) -> str | None:
        raise OSError("resolver exploded")

    assert resolve_nodes(["kn1"], {}, resolver=broken) == [NodeAddress("kn1")]


def test_mac_from_the_hosts_map_is_normalised() -> None:
    got = resolve_nodes(
        ["kn1"], {"kn1": HostAddress(ip="127.0.0.1", mac="52-54-00-AA-00-01")}, resolver=no_system_dns
    )
    assert got[0].mac == "52:54:00:aa:00:01"


def test_system_resolver_on_a_numeric_literal() -> None:
    # A literal address never leaves the process (getaddrinfo parses it); node names are never used here.
    assert system_resolver("127.0.0.1") == "127.0.0.1"


# -------------------------------------------------------------------------------- real DNS server


def test_dns_server_answers_a_records(dns: DnsServer) -> None:
    dns.a.update({"kn1": "127.0.0.1", "kn2": "127.0.0.2"})
    got = resolve_nodes(["kn1", "kn2", "kn3"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert [n.ip for n in got] == ["127.0.0.1", "127.0.0.2", ""]


def test_dns_follows_cname_chains_through_compression_pointers(dns: DnsServer) -> None:
    dns.cname.update({"kn1": "node-one.lab", "node-one.lab": "rack1-u7.lab"})
    dns.a["rack1-u7.lab"] = "127.0.7.1"
    got = resolve_nodes(["kn1"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert got[0].ip == "127.0.7.1"


def test_dns_searches_name_then_name_dot_domain(dns: DnsServer) -> None:
    dns.a.update({"kn1": "127.0.0.1", "kn1.lab.example": "127.1.0.1", "kn2.lab.example": "127.1.0.2"})
    got = resolve_nodes(
        ["kn1", "kn2"], {}, dnsserver=dns.address, domain="lab.example", resolver=no_system_dns
    )
    assert [n.ip for n in got] == ["127.0.0.1", "127.1.0.2"]
    assert set(dns.queries) == {"kn1", "kn1.lab.example", "kn2", "kn2.lab.example"}


def test_dns_is_only_asked_for_nodes_the_hosts_map_lacks(dns: DnsServer) -> None:
    dns.a.update({"kn1": "127.9.9.9", "kn2": "127.0.0.2"})
    got = resolve_nodes(["kn1", "kn2"], {"kn1": HostAddress(ip="127.0.0.1")}, dnsserver=dns.address)
    assert [n.ip for n in got] == ["127.0.0.1", "127.0.0.2"]
    assert dns.queries == ["kn2"]


def test_dns_retries_a_lost_query(dns: DnsServer) -> None:
    dns.a["kn1"] = "127.0.0.1"
    dns.drop_first = 1
    got = resolve_nodes(["kn1"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert got[0].ip == "127.0.0.1"
    assert dns.queries == ["kn1", "kn1"]


def test_dns_gives_up_after_two_tries(dns: DnsServer) -> None:
    dns.a["kn1"] = "127.0.0.1"
    dns.drop_first = 2
    got = resolve_nodes(["kn1"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert got[0].ip == ""
    assert dns.queries == ["kn1", "kn1"]


def test_dns_ignores_a_reply_with_the_wrong_id(dns: DnsServer) -> None:
    dns.a["kn1"] = "127.0.0.1"
    dns.spoof_first = 1
    got = resolve_nodes(["kn1"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert got[0].ip == "127.0.0.1"


def test_dns_servfail_is_retried_then_unknown(dns: DnsServer) -> None:
    dns.servfail.add("kn1")
    got = resolve_nodes(["kn1"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert got[0].ip == ""
    assert dns.queries == ["kn1", "kn1"]


def test_nxdomain_is_not_asked_again(dns: DnsServer) -> None:
    got = resolve_nodes(["kn1"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert got[0].ip == ""
    assert dns.queries == ["kn1"]


def test_many_names_are_each_asked_once(dns: DnsServer) -> None:
    names = [f"kn{i}" for i in range(1, 521)]
    dns.a.update({name: f"10.0.{i // 256}.{i % 256}" for i, name in enumerate(names, start=1)})
    got = resolve_nodes(names, {}, dnsserver=dns.address, resolver=no_system_dns)
    assert [n.ip for n in got] == [dns.a[name] for name in names]
    assert sorted(dns.queries) == sorted(names)


def test_a_silent_dns_server_means_unknown_and_is_not_asked_about_every_name() -> None:
    # A bound socket that never answers: the client waits out two one-second tries of its first window,
    # then takes the server as dead instead of waiting out every window of 300 names.
    names = [f"kn{i}" for i in range(1, 301)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        got = resolve_nodes(names, {}, dnsserver=f"127.0.0.1:{port}", resolver=no_system_dns)
        silent.setblocking(False)
        received = 0
        while True:
            try:
                silent.recv(4096)
            except BlockingIOError:
                break
            received += 1
    assert got == [NodeAddress(name) for name in names]
    assert 0 < received < len(names)


def test_names_that_cannot_be_dns_names_are_unknown(dns: DnsServer) -> None:
    got = resolve_nodes(["kn..1", "x" * 70, "knö"], {}, dnsserver=dns.address, resolver=no_system_dns)
    assert [n.ip for n in got] == ["", "", ""]
    assert dns.queries == []


@pytest.mark.parametrize("bad", ["dns.example", "127.0.0.1:0", "127.0.0.1:http", "[::1]:99999"])
def test_a_bad_dnsserver_setting_is_a_clear_error(bad: str) -> None:
    with pytest.raises(BackendError, match="dnsserver"):
        resolve_nodes(["kn1"], {}, dnsserver=bad, resolver=no_system_dns)


# ------------------------------------------------------------------------- any datagram that arrives


def _cname_reply() -> bytes:
    """A true reply for kn1: a CNAME to node-one.lab (compression pointer), then its A record."""
    question = _wire("kn1") + struct.pack("!HH", 1, 1)
    records: list[tuple[int | bytes, int, bytes]] = [(0xC00C, 5, _wire("node-one.lab"))]
    records.append((0xC000 | (12 + len(question) + 12), 1, socket.inet_aton("127.0.7.1")))
    return DnsServer._reply(4242, question, 0, records)


def test_the_reply_the_fuzzing_starts_from_is_understood() -> None:
    reply = parse_reply(_cname_reply())
    assert reply is not None and reply.id == 4242
    assert address_in(reply) == ("127.0.7.1", True)


@given(st.binary(max_size=600))
def test_any_datagram_is_parsed_or_ignored_never_raised(packet: bytes) -> None:
    reply = parse_reply(packet)
    if reply is not None:
        ip, _ = address_in(reply)
        assert ip == "" or socket.inet_aton(ip)


@given(st.integers(min_value=0, max_value=200), st.binary(min_size=1, max_size=6))
def test_a_damaged_true_reply_is_parsed_or_ignored_never_raised(at: int, junk: bytes) -> None:
    packet = bytearray(_cname_reply())
    packet[at : at + len(junk)] = junk
    reply = parse_reply(bytes(packet))
    if reply is not None:
        ip, _ = address_in(reply)
        assert ip == "" or socket.inet_aton(ip)
