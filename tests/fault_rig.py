"""Helpers for the fault tests (empty store, clock steps, archive, leftovers), kept reusable so the real-sudo
rig can run the same attacks: make a site with N reservations, step the wall clock of one igor process.

The wall clock is stepped with libfaketime (LD_PRELOAD) and nothing else: CLOCK_MONOTONIC and
CLOCK_BOOTTIME stay real (`FAKETIME_DONT_FAKE_MONOTONIC`, spelled `DONT_FAKE_MONOTONIC` by older
releases), which is exactly what a clock stepped by a bad NTP server or an admin's `date -s` looks like.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, ClusterFactory, run_igor, tick_executable

LIBFAKETIME = next(
    (
        p
        for p in (
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
            "/usr/lib/faketime/libfaketime.so.1",
        )
        if os.path.exists(p)
    ),
    "",
)


def stepped(env: Mapping[str, str], offset: str) -> dict[str, str]:
    """`env` for a process whose wall clock reads `offset` ("+1d", "-2h", ...) from the real time, with
    CLOCK_MONOTONIC and CLOCK_BOOTTIME left real. Skips when libfaketime is missing (a real-peer test:
    IGOR_REQUIRE_REAL=1 fails it instead)."""
    if not LIBFAKETIME:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    return {
        **env,
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }


def clocks(env: Mapping[str, str]) -> tuple[float, float]:
    """(wall, CLOCK_BOOTTIME) as a process started with `env` sees them."""
    code = "import time; print(time.time(), time.clock_gettime(time.CLOCK_BOOTTIME))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=dict(env), capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    return float(out[0]), float(out[1])


def check_only_wall_clock_steps(env: Mapping[str, str], seconds: float) -> None:
    """Fail loudly if this libfaketime also fakes CLOCK_BOOTTIME: the test would prove nothing."""
    import time

    wall, boot = clocks(env)
    assert abs(wall - time.time() - seconds) < 120, "libfaketime did not step the wall clock"
    assert abs(boot - time.clock_gettime(time.CLOCK_BOOTTIME)) < 60, "libfaketime faked CLOCK_BOOTTIME too"


def tick(
    cluster: Cluster, *args: str, env: Mapping[str, str] | None = None, check: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real igor-tick (as the service user would: no SUDO_USER) with the cluster's config."""
    return run_igor(*args, env=env or cluster.env(None), executable=tick_executable(), check=check)


def tick_site(make_cluster: ClusterFactory, **overrides: Any) -> Cluster:
    """A 20-node cluster igor-tick can work on for real: PXE files for fixed loopback addresses, no
    liveness probe (nothing answers there), no power."""
    hosts = {f"kn{i}": {"ip": f"127.0.9.{i}", "mac": f"52:54:00:00:09:{i:02x}"} for i in range(1, 21)}
    cluster = make_cluster(hosts=hosts, liveness="none", **overrides)
    (cluster.tftproot / "pxelinux.cfg").mkdir(exist_ok=True)
    return cluster


def book(
    cluster: Cluster, running: int, future: int, *, user: str = "alice", after: str = "+26h"
) -> list[str]:
    """A site with `running` reservations that start now and `future` ones that start `after` (default
    tomorrow), one node each, two hours long, for `user`; returns their names (running ones first)."""
    names: list[str] = []
    for i in range(running):
        names.append(f"run{i}")
        cluster.run("sub", "-r", f"run{i}", *cluster.boot, "-n", "1", "-t", "2h", user=user, check=0)
    for i in range(future):
        names.append(f"later{i}")
        cluster.run(
            "sub", "-r", f"later{i}", *cluster.boot, "-n", "1", "-t", "2h", "-a", after, user=user, check=0
        )
    return names


def listed(cluster: Cluster, user: str = "alice") -> set[str]:
    """Names `igor show --json` lists."""
    proc = cluster.run("show", "--json", user=user, check=0)
    return {r["name"] for r in json.loads(proc.stdout)["reservations"]}


def store_path(cluster: Cluster) -> Path:
    return cluster.statedir / "igor.json"
