"""Liveness probes against real sockets on loopback, and inside network namespaces the tests create.

How a node that "never answers" is made without leaving this machine:
- Always available: a listener with a full accept queue (listen(0) plus one connection nobody accepts).
  Linux silently drops further SYNs to it, so a connect genuinely times out, exactly like a silent host.
- `real` tests: a fresh network namespace (`ip netns add`) whose loopback has a `blackhole` qdisc, so every
  packet to any 127.x address in it is dropped; and one whose loopback is down (network unreachable).
  The probe runs in a subprocess started with `ip netns exec`, so no packet can leave the namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from igor_tui.backends.base import NodeAddress
from igor_tui.backends.liveness import NoLiveness, PingLiveness, TcpLiveness
from igor_tui.errors import BackendError
from igor_tui.model import NodeState

UP, DOWN, UNKNOWN = NodeState.UP, NodeState.DOWN, NodeState.UNKNOWN


@contextmanager
def listener(host: str = "127.0.0.1") -> Iterator[int]:
    """A listening TCP socket (an "sshd"); yields its port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind((host, 0))
        srv.listen(64)
        yield srv.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting is actively refused (RST)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose SYNs are dropped: a listener whose accept queue is full.

    listen(0) queues one connection; once it is there (proved by a filler connect completing), the
    kernel drops every later SYN instead of answering, so a probe sees a genuine timeout.
    """
    fillers: list[socket.socket] = []
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        port = srv.getsockname()[1]
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except TimeoutError:
                    filler.close()
                    break  # this SYN was dropped: the queue is full
                fillers.append(filler)
            else:
                pytest.fail("could not fill the accept queue of a listen(0) socket")
            yield port
        finally:
            for filler in fillers:
                filler.close()


# --------------------------------------------------------------------------------------------- TCP


def test_a_listening_port_is_up() -> None:
    with listener() as port:
        assert TcpLiveness(port=port, timeout=2.0).probe([NodeAddress("kn1", ip="127.0.0.1")]) == {"kn1": UP}


def test_a_refused_port_is_up_because_the_host_answered() -> None:
    port = closed_port()
    assert TcpLiveness(port=port, timeout=2.0).probe([NodeAddress("kn1", ip="127.0.0.1")]) == {"kn1": UP}


def test_a_host_that_never_answers_is_down() -> None:
    with silent_port() as port:
        got = TcpLiveness(port=port, timeout=0.3).probe([NodeAddress("kn1", ip="127.0.0.1")])
    assert got == {"kn1": DOWN}


def test_no_or_invalid_address_is_unknown_and_never_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> object:
        raise AssertionError("a liveness probe must never resolve a name")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    nodes = [NodeAddress("kn1"), NodeAddress("kn2", ip="kn2"), NodeAddress("kn3", ip="127.0.0.300")]
    assert TcpLiveness(port=closed_port()).probe(nodes) == {"kn1": UNKNOWN, "kn2": UNKNOWN, "kn3": UNKNOWN}


def test_many_nodes_with_a_small_concurrency_all_get_the_right_state() -> None:
    """More nodes than sockets allowed in flight: later probes start as earlier ones finish."""
    with listener("127.0.0.1") as port, silent_port() as silent:
        # The same port is a listener on 127.0.0.1 and nothing on 127.0.0.2..: up, then refused (= up).
        nodes = [NodeAddress(f"kn{i}", ip="127.0.0.1" if i % 2 else "127.0.0.2") for i in range(1, 101)]
        nodes.append(NodeAddress("kn101"))
        got = TcpLiveness(port=port, timeout=2.0, concurrency=7).probe(nodes)
        assert got == {**{f"kn{i}": UP for i in range(1, 101)}, "kn101": UNKNOWN}
        down = TcpLiveness(port=silent, timeout=0.3, concurrency=3)
        assert down.probe([NodeAddress(f"d{i}", ip="127.0.0.1") for i in range(5)]) == {
            f"d{i}": DOWN for i in range(5)
        }


def test_ipv6_loopback() -> None:
    try:
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        srv.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 on the loopback interface")
    with srv:
        srv.listen(8)
        port = srv.getsockname()[1]
        assert TcpLiveness(port=port, timeout=2.0).probe([NodeAddress("kn1", ip="::1")]) == {"kn1": UP}


RUN_OUT_OF_FDS = """
import json, resource, sys
import igor_tui.backends.liveness as liveness
from igor_tui.backends.base import NodeAddress
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
liveness._fd_budget = lambda: 100_000  # pretend there are descriptors to spare: socket() will hit EMFILE
nodes = [NodeAddress(f"kn{i}", ip="127.0.0.1") for i in range(300)]
states = liveness.TcpLiveness(port=int(sys.argv[1]), timeout=5.0).probe(nodes)
print(json.dumps(sorted({s.value for s in states.values()})), len(states))
"""


def test_running_out_of_file_descriptors_slows_the_probe_but_loses_no_node() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1024)  # room for all 300 handshakes: nobody accepts, the queue keeps them
        port = srv.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", RUN_OUT_OF_FDS, str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['["up"]', "300"]


def test_an_empty_probe_is_empty() -> None:
    assert TcpLiveness().probe([]) == {}


def test_port_is_validated() -> None:
    with pytest.raises(ValueError, match="port"):
        TcpLiveness(port=0)


# ------------------------------------------------------------------------ real: network namespaces


def _netns_unavailable() -> str:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "network namespaces need root on Linux"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "`ip`/`tc` not installed (Debian package iproute2)"
    return ""


@contextmanager
def netns(*, lo_up: bool, blackhole: bool) -> Iterator[str]:
    """A throw-away network namespace: loopback up or down, optionally dropping every packet on it."""
    why = _netns_unavailable()
    if why:
        pytest.skip(why)
    name = f"igortest-{uuid.uuid4().hex[:10]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"`ip netns add` failed: {made.stderr.strip()}")
    try:
        if lo_up:
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        if blackhole:
            qdisc = subprocess.run(
                ["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "blackhole"],
                capture_output=True,
                text=True,
                check=False,
            )
            if qdisc.returncode != 0:
                pytest.skip(f"the blackhole qdisc is unavailable: {qdisc.stderr.strip()}")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


PROBE_IN_NETNS = """
import json, sys
from igor_tui.backends.base import NodeAddress
from igor_tui.backends.liveness import TcpLiveness
nodes = [NodeAddress(f"kn{i}", ip=ip) for i, ip in enumerate(sys.argv[1:], start=1)]
states = TcpLiveness(port=22, timeout=0.3).probe(nodes)
print(json.dumps({name: state.value for name, state in states.items()}))
"""


def probe_in(ns: str, *ips: str) -> dict[str, str]:
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE_IN_NETNS, *ips],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, str] = json.loads(proc.stdout)
    return result


@pytest.mark.real
def test_addresses_that_drop_every_packet_are_down() -> None:
    with netns(lo_up=True, blackhole=True) as ns:
        got = probe_in(ns, "127.0.0.1", "127.0.0.2", "127.1.2.3")
    assert got == {"kn1": "down", "kn2": "down", "kn3": "down"}


@pytest.mark.real
def test_an_unreachable_network_is_down() -> None:
    with netns(lo_up=False, blackhole=False) as ns:
        got = probe_in(ns, "127.0.0.1", "127.0.0.2")
    assert got == {"kn1": "down", "kn2": "down"}


@pytest.mark.real
def test_the_namespace_itself_is_sound_without_the_blackhole() -> None:
    """Control for the two tests above: the same namespace without the drop answers (refused = up)."""
    with netns(lo_up=True, blackhole=False) as ns:
        got = probe_in(ns, "127.0.0.1", "127.0.0.2")
    assert got == {"kn1": "up", "kn2": "up"}


# -------------------------------------------------------------------------------------------- ping


def _need_ping() -> str:
    path = shutil.which("ping")
    if path is None:
        pytest.skip("ping not installed (Debian package iputils-ping)")
    return path


@pytest.mark.real
def test_ping_of_loopback_is_up() -> None:
    _need_ping()
    nodes = [NodeAddress("kn1", ip="127.0.0.1"), NodeAddress("kn2", ip="127.0.0.2"), NodeAddress("kn3")]
    assert PingLiveness(timeout=1.0).probe(nodes) == {"kn1": UP, "kn2": UP, "kn3": UNKNOWN}


@pytest.mark.real
def test_ping_of_a_silent_address_is_down(tmp_path: Path) -> None:
    ping = _need_ping()
    with netns(lo_up=True, blackhole=True) as ns:
        wrapper = tmp_path / "ping-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns} {ping} "$@"\n')
        wrapper.chmod(0o755)
        got = PingLiveness(timeout=0.3, ping=str(wrapper)).probe([NodeAddress("kn1", ip="127.0.0.1")])
    assert got == {"kn1": DOWN}


def fake_ping(tmp_path: Path, body: str) -> str:
    """A stand-in ping executable (a real program run as a subprocess) that logs its argv."""
    script = tmp_path / "ping"
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "argv.log"}\n{body}\n')
    script.chmod(0o755)
    return str(script)


def test_ping_argv_is_one_echo_with_a_timeout_and_numeric_output(tmp_path: Path) -> None:
    ping = fake_ping(tmp_path, "exit 0")
    got = PingLiveness(timeout=0.5, ping=ping).probe([NodeAddress("kn1", ip="127.0.0.1")])
    assert got == {"kn1": UP}
    assert (tmp_path / "argv.log").read_text() == "-c 1 -W 0.5 -n 127.0.0.1\n"


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ("exit 1", DOWN),
        ("echo 'ping: connect: Network is unreachable' >&2; exit 2", DOWN),
        ("echo 'ping: socket: Operation not permitted' >&2; exit 2", UNKNOWN),
    ],
)
def test_ping_exit_status_meaning(tmp_path: Path, body: str, state: NodeState) -> None:
    got = PingLiveness(ping=fake_ping(tmp_path, body)).probe([NodeAddress("kn1", ip="127.0.0.1")])
    assert got == {"kn1": state}


def test_a_missing_ping_command_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="ping"):
        PingLiveness(ping=str(tmp_path / "no-such-ping")).probe([NodeAddress("kn1", ip="127.0.0.1")])


def test_ping_never_runs_for_nodes_without_an_address(tmp_path: Path) -> None:
    ping = fake_ping(tmp_path, "exit 0")
    assert PingLiveness(ping=ping).probe([NodeAddress("kn1"), NodeAddress("kn2", ip="kn2")]) == {
        "kn1": UNKNOWN,
        "kn2": UNKNOWN,
    }
    assert not (tmp_path / "argv.log").exists()


# -------------------------------------------------------------------------------------------- none


def test_no_liveness_says_unknown_for_everyone() -> None:
    nodes = [NodeAddress("kn1", ip="127.0.0.1"), NodeAddress("kn2")]
    assert NoLiveness().probe(nodes) == {"kn1": UNKNOWN, "kn2": UNKNOWN}
