"""Liveness probes for igor-tick: TCP connect (classic nmap -PS22 semantics), ping, or none."""

from __future__ import annotations

import collections
import contextlib
import errno
import ipaddress
import os
import resource
import selectors
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from ..errors import BackendError
from ..model import NodeState
from .base import NodeAddress

# connect() outcomes that prove the host itself answered (a SYN-ACK, or a RST from a closed port).
_ANSWERED = frozenset({0, errno.ECONNREFUSED, errno.ECONNRESET})
_FD_HEADROOM = 64  # descriptors left for everything else the tick has open


def _address(ip: str) -> tuple[socket.AddressFamily, str] | None:
    """(family, canonical text) for an IP literal; None for "" or anything else, which is never looked up."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    return (socket.AF_INET6 if addr.version == 6 else socket.AF_INET), str(addr)


def _fd_budget() -> int:
    """How many more sockets may be open at once without running out of file descriptors.

    A cron job often gets the common soft limit of 1,024; 520 probes fit in it in one wave, while the
    EMFILE handling in `TcpLiveness.probe` copes with whatever this estimate misses.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = soft // 4  # no /proc: assume a quarter is taken
    return max(1, soft - in_use - _FD_HEADROOM)


class TcpLiveness:
    """UP if a TCP connect to ip:port succeeds or is actively refused, DOWN on timeout or unreachable.

    A refusal counts as up because it is the host's own kernel answering (nmap -PS22, which classic igor
    ran, says the same): a node whose sshd is not running is still alive. All probes run at once as
    non-blocking sockets on one selector, so 520 down nodes cost about one `timeout`, not 520 of them,
    and no thread per node. `concurrency` caps the sockets in flight (and is further capped by the file
    descriptor limit); with more nodes than that, probes start as earlier ones finish.
    """

    def __init__(self, port: int = 22, timeout: float = 0.5, concurrency: int = 1024) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"TCP liveness port {port} is not 1-65535")
        self.port = port
        self.timeout = timeout
        self.concurrency = max(1, concurrency)

    def probe(self, nodes: Sequence[NodeAddress]) -> Mapping[str, NodeState]:
        """Each node's state; UNKNOWN where the node has no (valid) IP address."""
        states: dict[str, NodeState] = {}
        queue: collections.deque[tuple[str, socket.AddressFamily, str]] = collections.deque()
        for node in nodes:
            addr = _address(node.ip)
            if addr is None:
                states[node.name] = NodeState.UNKNOWN
            else:
                queue.append((node.name, addr[0], addr[1]))
        limit = min(self.concurrency, _fd_budget())
        # Insertion order == deadline order (same timeout for all), so the first entry expires first.
        inflight: dict[socket.socket, tuple[str, float]] = {}
        with selectors.DefaultSelector() as sel:
            try:
                while queue or inflight:
                    while queue and len(inflight) < limit:
                        name, family, ip = queue[0]
                        try:
                            sock = socket.socket(family, socket.SOCK_STREAM)
                        except OSError as exc:
                            if exc.errno in (errno.EMFILE, errno.ENFILE) and inflight:
                                limit = len(inflight)  # wait for sockets to free up, then go on
                                break
                            raise BackendError(
                                f"{name}: TCP liveness probe could not open a socket: {exc.strerror or exc}"
                            ) from exc
                        queue.popleft()
                        state = self._start(sock, ip)
                        if state is None:
                            sel.register(sock, selectors.EVENT_WRITE)
                            inflight[sock] = (name, time.monotonic() + self.timeout)
                        else:
                            states[name] = state
                            _close(sock, state)
                    if not inflight:
                        continue
                    wait = next(iter(inflight.values()))[1] - time.monotonic()
                    for key, _ in sel.select(timeout=max(0.0, wait)):
                        sock = key.fileobj  # type: ignore[assignment]
                        name, _ = inflight.pop(sock)
                        sel.unregister(sock)
                        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        state = NodeState.UP if err in _ANSWERED else NodeState.DOWN
                        states[name] = state
                        _close(sock, state)
                    now = time.monotonic()
                    for sock, (name, deadline) in list(inflight.items()):
                        if deadline > now:
                            break
                        del inflight[sock]
                        sel.unregister(sock)
                        states[name] = NodeState.DOWN
                        sock.close()
            finally:
                for sock in inflight:
                    sock.close()
        return states

    def _start(self, sock: socket.socket, ip: str) -> NodeState | None:
        """Begin a non-blocking connect: a state if it is already decided, None while it is in progress."""
        sock.setblocking(False)
        err = sock.connect_ex((ip, self.port))
        if err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
            return None
        return NodeState.UP if err in _ANSWERED else NodeState.DOWN


def _close(sock: socket.socket, state: NodeState) -> None:
    """Close a probe socket; a connected one with a RST (linger 0), as nmap does, leaving no TIME_WAIT."""
    if state is NodeState.UP:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class PingLiveness:
    """UP if one ICMP echo (`ping -c 1 -W <s> -n <ip>`) is answered within `timeout`, DOWN if not.

    For sites where port 22 is filtered but ICMP is not. Runs the system ping (no shell, numeric output so
    ping itself never does DNS), at most `concurrency` at once. A ping that fails for another reason (for
    example no permission to open an ICMP socket) says nothing about the node: UNKNOWN, not DOWN.
    """

    def __init__(self, timeout: float = 1.0, concurrency: int = 64, ping: str = "ping") -> None:
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.ping = ping

    def probe(self, nodes: Sequence[NodeAddress]) -> Mapping[str, NodeState]:
        """Each node's state; raises BackendError if the ping command itself is missing."""
        states: dict[str, NodeState] = {}
        todo: list[tuple[str, str]] = []
        for node in nodes:
            addr = _address(node.ip)
            if addr is None:
                states[node.name] = NodeState.UNKNOWN
            else:
                todo.append((node.name, addr[1]))
        if not todo:
            return states
        exe = shutil.which(self.ping)
        if exe is None:
            raise BackendError(
                f"ping liveness: the command {self.ping!r} was not found (install iputils-ping, or use tcp)"
            )
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
            results = pool.map(lambda item: self._one(exe, item[1]), todo)
            for (name, _), state in zip(todo, results, strict=True):
                states[name] = state
        return states

    def _one(self, exe: str, ip: str) -> NodeState:
        argv = [exe, "-c", "1", "-W", f"{self.timeout:g}", "-n", ip]
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self.timeout + 5.0,
                check=False,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            )
        except subprocess.TimeoutExpired:
            return NodeState.DOWN
        except OSError:
            return NodeState.UNKNOWN
        if proc.returncode == 0:
            return NodeState.UP
        if proc.returncode == 1:
            return NodeState.DOWN
        if b"unreachable" in proc.stderr.lower():
            return NodeState.DOWN
        return NodeState.UNKNOWN


class NoLiveness:
    """No probing at all (`liveness: none`): every node is UNKNOWN, which the scheduler treats as usable."""

    def probe(self, nodes: Sequence[NodeAddress]) -> Mapping[str, NodeState]:
        """UNKNOWN for every node, without touching the network."""
        return {node.name: NodeState.UNKNOWN for node in nodes}
