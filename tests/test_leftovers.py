"""Crash leftovers are removed by the next igor-tick that holds the lock, whatever their age: temp store
files, `.tmp` PXE files, `.incoming.` copies and kernel/initrd copies no reservation uses. Never a temp
file a concurrent writer is still writing: store temps exist only while their writer holds the store lock
(which the sweeping tick holds), PXE temps only while a tick holds tick.lock, and a copy in progress holds
a shared lock on `statedir/.copying.lock` (private state, so not in the TFTP root) that the sweep must take
exclusively first."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import time
from pathlib import Path

from conftest import Cluster, ClusterFactory, igor_executable
from fault_rig import tick, tick_site


def leftovers(cluster: Cluster) -> dict[str, Path]:
    """One of each kind, written just now (so no age rule can be what removes them)."""
    cluster.content_dir.mkdir(parents=True, exist_ok=True)
    cfg = cluster.tftproot / "pxelinux.cfg"
    paths = {
        "store temp": cluster.statedir / ".igor.json.k1ll3d",
        "tick.last temp": cluster.statedir / "tick.last.tmp",
        "pxe temp": cfg / ".01-52-54-00-00-09-01.x7y8z9.tmp",
        "incoming copy": cluster.content_dir / ".incoming.half",
        "unused copy": cluster.content_dir / hashlib.sha256(b"nobody boots this").hexdigest(),
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"nobody boots this")
    return paths


def test_the_next_tick_removes_every_kind_of_leftover(make_cluster: ClusterFactory) -> None:
    cluster = tick_site(make_cluster)
    cluster.run("sub", "-r", "keep", *cluster.boot, "-w", "kn3", check=0)
    used = cluster.content_files()
    assert len(used) == 2
    paths = leftovers(cluster)
    tick(cluster, check=0)
    assert [name for name, path in paths.items() if path.exists()] == []
    assert used <= cluster.content_files(), "copies a reservation uses stay"
    assert not any(p.name.startswith(".incoming.") for p in cluster.content_dir.iterdir())


def test_a_copy_in_progress_is_left_alone(make_cluster: ClusterFactory) -> None:
    """A writer mid-copy (here: the test, holding the shared lock as ContentStore does) keeps its temp."""
    cluster = tick_site(make_cluster)
    paths = leftovers(cluster)
    lock = os.open(cluster.statedir / ".copying.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
        tick(cluster, check=0)
        assert paths["incoming copy"].exists(), "removed a copy that was still being written"
        assert not paths["store temp"].exists() and not paths["pxe temp"].exists()
    finally:
        os.close(lock)
    tick(cluster, check=0)
    assert not paths["incoming copy"].exists(), "once the writer is gone, the next tick removes it"


def test_subs_copying_big_kernels_survive_ticks_sweeping_alongside(make_cluster: ClusterFactory) -> None:
    cluster = tick_site(make_cluster)
    big = cluster.root / "big-vmlinuz"
    with big.open("wb") as handle:
        for i in range(96):
            handle.write(bytes([i]) * (1 << 20))  # 96 MiB: each copy takes a while
    deadline = time.monotonic() + 60
    subs = []
    for i in range(3):
        subs.append(
            subprocess.Popen(
                [
                    igor_executable(),
                    "sub",
                    "-r",
                    f"big{i}",
                    "-k",
                    str(big),
                    "-i",
                    str(cluster.initrd),
                    "-n",
                    "1",
                ],
                env=cluster.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        while subs[-1].poll() is None and time.monotonic() < deadline:
            tick(cluster)  # sweeps while the copy runs
    for proc in subs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    assert digest in cluster.content_files()
