"""Build a throw-away demo cluster in .demo/ (config, store, a few users' reservations) and show it.

Run by `make demo`. Everything lives under .demo/ (git-ignored) and is rebuilt on every run, so the demo
never touches /etc/igor.conf or a real cluster; no network traffic at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from igor_tui.config import load_config
from igor_tui.demo import USERS  # the same users and groups as igor-tui --demo
from igor_tui.identity import resolve_caller
from igor_tui.model import Block, NodeState, NodeStatus
from igor_tui.service import IgorService, SubmitRequest
from igor_tui.store import TinyStore

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BOOKINGS = [
    # user, name, nodes or count, duration, start, args
    ("alice", "kernel-ci", 6, "3h", "", "console=ttyS0 quiet"),
    ("bob", "mpi-bench", "kn[9-24]", "8h", "", "console=ttyS0 hugepages=512"),
    ("carol", "fw-test", 2, "45m", "", "console=ttyS0"),
    ("dave", "ceph-lab", 12, "20h", "+2h", "console=ttyS0 net.ifnames=0"),
    ("alice", "nightly", 24, "6h", "+10h", "console=ttyS0"),
    ("bob", "sriov", "kn[41-44]", "2h", "+30m", "intel_iommu=on"),
    ("carol", "long-soak", 8, "1d", "+1d", ""),
]


def main() -> int:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    (DEMO / "tftp" / "pxelinux.cfg").mkdir(parents=True)
    (DEMO / "vmlinuz").write_bytes(b"demo kernel\n" * 64)
    (DEMO / "initrd.img").write_bytes(b"demo initrd\n" * 64)
    config_path = DEMO / "igor.conf"
    config_path.write_text(
        json.dumps(
            {
                "tftproot": str(DEMO / "tftp"),
                "statedir": str(DEMO / "state"),
                "prefix": "kn",
                "start": 1,
                "end": 64,
                "rackwidth": 8,
                "rackheight": 4,
                "logfile": str(DEMO / "igor.log"),
                "timelimit": 4320,
                "nodelimit": 32,
                "admins": ["%wheel"],
            },
            indent=2,
        )
        + "\n"
    )
    config_path.chmod(0o600)
    config = load_config(str(config_path))
    store = TinyStore(config.statedir)
    for user, name, nodes, duration, after, args in BOOKINGS:
        svc = IgorService(config, store, resolve_caller(user, config.admins, USERS), directory=USERS)
        svc.submit(
            SubmitRequest(
                name=name,
                kernel=str(DEMO / "vmlinuz"),
                initrd=str(DEMO / "initrd.img"),
                count=nodes if isinstance(nodes, int) else 0,
                nodes=nodes if isinstance(nodes, str) else "",
                duration=duration,
                after=after,
                kernel_args=args,
                group="lab" if user in ("alice", "bob") else "",
            )
        )
    now = svc.now()
    with store.transaction() as tx:
        # What igor-tick will record once it runs: one node down, one rack slot in maintenance,
        # one reservation installed and one whose install failed.
        tx.put_node_status(NodeStatus("kn30", NodeState.DOWN, now, "no answer on port 22"))
        tx.add_block(Block(0, ("kn63", "kn64"), now, now + timedelta(days=1), "PSU swap", "ops"))
        for res in tx.reservations():
            if res.name == "kernel-ci":
                tx.put_reservation(replace(res, installed=True))
            if res.name == "fw-test":
                tx.put_reservation(replace(res, error="kn8: power cycle failed (exit 1)"))
    env = {**os.environ, "IGOR_CONFIG": str(config_path), "SUDO_USER": "alice"}
    print(f"Demo cluster in {DEMO} (64 nodes, 7 reservations). You are 'alice' here.\n")
    subprocess.run([sys.executable, "-m", "igor_tui.cli", "show"], env=env, check=False)
    print(
        "\nTry it yourself:\n"
        f"  export IGOR_CONFIG={config_path} SUDO_USER=alice\n"
        "  .venv/bin/igor sub -s -n 8 -t 2h\n"
        "  .venv/bin/igor sub -r mine -k .demo/vmlinuz -i .demo/initrd.img -n 4 -t 1h\n"
        "  .venv/bin/igor show -owner alice"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
