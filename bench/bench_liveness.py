"""TCP liveness of 520 nodes that are all down (200 ms timeout); prints medians of 5, asserts nothing.

The down nodes are 520 distinct 127.x addresses that genuinely never answer: the bench creates a network
namespace whose loopback has a `blackhole` qdisc (every packet dropped) and re-runs itself inside it with
`ip netns exec`, so no packet can leave the namespace. Without root or iproute2 it falls back to one
listener on 127.0.0.1 with a full accept queue (SYNs to it are dropped too) and says so.
Target (issue 3): <= 1.5 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

from igor_tui.backends.base import NodeAddress
from igor_tui.backends.liveness import TcpLiveness
from igor_tui.model import NodeState

NODES = 520
TIMEOUT = 0.2
RUNS = 5


def measure(nodes: list[NodeAddress], port: int, label: str) -> None:
    """Print the median wall time of RUNS probes, per concurrency setting, and how many came out down."""
    for concurrency in (None, 64):
        probe = (
            TcpLiveness(port=port, timeout=TIMEOUT)
            if concurrency is None
            else TcpLiveness(port=port, timeout=TIMEOUT, concurrency=concurrency)
        )
        times = []
        down = 0
        for _ in range(RUNS):
            start = time.perf_counter()
            states = probe.probe(nodes)
            times.append(time.perf_counter() - start)
            down = sum(1 for s in states.values() if s is NodeState.DOWN)
        what = "default concurrency" if concurrency is None else f"concurrency={concurrency}"
        print(
            f"liveness tcp, {len(nodes)} nodes all down, timeout {TIMEOUT * 1000:.0f} ms, {what} ({label}): "
            f"median {statistics.median(times) * 1000:.0f} ms of {RUNS} "
            f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); {down}/{len(nodes)} down; "
            "target <= 1500 ms"
        )


def inner() -> None:
    """Runs inside the blackholed namespace: every 127.x address drops every packet."""
    nodes = [NodeAddress(f"kn{i}", ip=f"127.1.{i // 256}.{i % 256}") for i in range(1, NODES + 1)]
    measure(nodes, 22, "127.x in a namespace with a blackhole qdisc on lo")


@contextlib.contextmanager
def full_queue_listener() -> Iterator[int]:
    """A 127.0.0.1 listener whose accept queue is full, so the kernel drops further SYNs (no answer)."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        port = srv.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except TimeoutError:
                    filler.close()
                    break
                fillers.append(filler)
            yield port
        finally:
            for filler in fillers:
                filler.close()


def fallback(why: str) -> None:
    print(f"no network namespace ({why}); falling back to a full accept queue on 127.0.0.1")
    with full_queue_listener() as port:
        check = TcpLiveness(port=port, timeout=TIMEOUT).probe([NodeAddress("probe", ip="127.0.0.1")])
        if check.get("probe") is not NodeState.DOWN:
            print("cannot measure: could not make 127.0.0.1 drop SYNs either")
            return
        nodes = [NodeAddress(f"kn{i}", ip="127.0.0.1") for i in range(1, NODES + 1)]
        measure(nodes, port, "one silent 127.0.0.1 listener")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner()
        return
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        fallback("needs root and iproute2")
        return
    name = f"igorbench-{uuid.uuid4().hex[:10]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        fallback(f"ip netns add: {made.stderr.strip()}")
        return
    try:
        setup = [
            ["ip", "-n", name, "link", "set", "lo", "up"],
            ["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "blackhole"],
        ]
        for argv in setup:
            step = subprocess.run(argv, capture_output=True, text=True, check=False)
            if step.returncode != 0:
                fallback(f"{' '.join(argv[3:])}: {step.stderr.strip()}")
                return
        subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__), "--inner"],
            check=False,
            timeout=120,
        )
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    main()
