"""A simulated 520-node cluster for `igor-tui --demo`, the screenshots, the snapshot tests and the bench.

Everything lives in a throw-away directory: config, store, log, boot-file copies. igor-tick runs
in-process on the recording fake backends (no files outside the directory, no network, no power), so
reservations visibly start, get installed and end while the demo runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .backends.base import Backends
from .backends.fake import FakeBoot, FakeLiveness, FakePower
from .clock import Clock, FrozenClock, SystemClock
from .config import Config, load_config
from .identity import StaticDirectory, resolve_caller
from .model import Block, floor_minute
from .service import IgorService, SubmitRequest
from .store import TinyStore

NODES = 520
RACKWIDTH, RACKHEIGHT = 8, 5
DOWN = frozenset({"kn30", "kn257", "kn258", "kn399"})
USERS = StaticDirectory(
    users={
        "alice": frozenset({"alice", "lab"}),
        "bob": frozenset({"bob", "lab"}),
        "carol": frozenset({"carol"}),
        "dave": frozenset({"dave"}),
        "erin": frozenset({"erin"}),
        "ops": frozenset({"ops", "wheel"}),
    }
)

# (owner, name, count or node list, duration, start in minutes from now, kernel args)
BOOKINGS: tuple[tuple[str, str, int | str, str, int, str], ...] = (
    ("bob", "mpi-bench", "kn[41-120]", "8h", -180, "console=ttyS0 hugepages=512"),
    ("carol", "hpl", "kn[121-160]", "5h", -120, "console=ttyS0"),
    ("dave", "storage", "kn[201-240]", "5h", -60, "console=ttyS0 net.ifnames=0"),
    ("alice", "kernel-ci", 24, "2h", -50, "console=ttyS0 quiet"),
    ("carol", "fw-test", "kn[25-29,31]", "42m", -40, "console=ttyS0"),
    ("erin", "gpu-burn", "kn[321-336]", "23m", -20, "nomodeset"),
    ("ops", "firmware", "kn[481-488]", "1h", -10, "console=ttyS0"),
    ("erin", "kvm-test", 8, "1h", 1, "intel_iommu=on"),
    ("dave", "ceph-lab", 40, "12h", 2, "console=ttyS0"),
    ("bob", "sriov", "kn[249-256]", "2h", 30, "intel_iommu=on"),
    ("erin", "io-bench", 12, "3h", 180, ""),
    ("alice", "net-test", 4, "2h", 240, "console=ttyS0"),
    ("alice", "nightly", 64, "6h", 600, "console=ttyS0"),
    ("carol", "long-soak", 32, "12h", 1440, ""),
    ("bob", "scale-400", 400, "4h", 2880, "console=ttyS0"),
)

HISTORY: tuple[tuple[str, str, int | str, str, int, str], ...] = (
    ("dave", "ceph-prep", 40, "10h", -1800, "console=ttyS0"),
    ("bob", "mpi-old", "kn[41-120]", "6h", -720, "console=ttyS0"),
    ("carol", "hpl-warmup", "kn[121-160]", "2h", -480, "console=ttyS0"),
    ("erin", "gpu-old", "kn[321-336]", "3h", -360, "nomodeset"),
)
"""Bookings that ended before the demo starts: the first tick archives them, so the time cursor looks back."""


def write_config(root: Path, *, timezone: str = "", nodes: int = NODES) -> Path:
    """The demo's igor.conf: every path under `root`, a hosts map on loopback (never contacted)."""
    (root / "tftp" / "pxelinux.cfg").mkdir(parents=True, exist_ok=True)
    hosts = {
        f"kn{i}": {"ip": f"127.1.{i // 256}.{i % 256}", "mac": f"52:54:00:00:{i // 256:02x}:{i % 256:02x}"}
        for i in range(1, nodes + 1)
    }
    data: dict[str, object] = {
        "tftproot": str(root / "tftp"),
        "statedir": str(root / "state"),
        "prefix": "kn",
        "start": 1,
        "end": nodes,
        "rackwidth": RACKWIDTH,
        "rackheight": RACKHEIGHT,
        "logfile": str(root / "igor.log"),
        "timelimit": 4320,
        "nodelimit": 0,
        "admins": ["%wheel"],
        "hosts": hosts,
        "liveness": "none",
        # The demo's power backend is the recording FakePower (DemoCluster.backends), so these templates
        # are never run; they only tell igor that power is configured, so the power dialog is reachable.
        "poweroncommand": "demo-fake-power on %s",
        "poweroffcommand": "demo-fake-power off %s",
    }
    if timezone:
        data["timezone"] = timezone
    path = root / "igor.conf"
    path.write_text(json.dumps(data, indent=1) + "\n")
    path.chmod(0o600)
    for name in ("vmlinuz", "initrd.img"):
        (root / name).write_bytes(f"demo {name}\n".encode() * 4096)
    return path


@dataclass
class DemoCluster:
    """A built demo: its config, a clock shared by every service, and the fake systems igor-tick drives."""

    root: Path
    config: Config
    clock: Clock
    boot: FakeBoot
    power: FakePower
    liveness: FakeLiveness

    def service(self, user: str = "alice") -> IgorService:
        caller = resolve_caller(user, self.config.admins, USERS)
        return IgorService(
            self.config,
            TinyStore(self.config.statedir),
            caller,
            clock=self.clock,
            directory=USERS,
            backends=self.backends,
        )

    def backends(self) -> Backends:
        return Backends(boot=self.boot, power=self.power, liveness=self.liveness)

    def tick(self) -> None:
        """One in-process igor-tick on the fake backends (the demo's background job)."""
        self.service("ops").tick(probe=True)


def build_demo(
    root: Path,
    *,
    now: datetime | None = None,
    timezone: str = "",
    bookings: tuple[tuple[str, str, int | str, str, int, str], ...] = BOOKINGS,
    history: tuple[tuple[str, str, int | str, str, int, str], ...] = HISTORY,
) -> DemoCluster:
    """Create the demo cluster under `root` (which must be empty or missing).

    Bookings are made through the service, each at its own start time on a settable clock, so their
    placement is exactly what igor would have done; `now` freezes the clock (tests, screenshots),
    otherwise the demo runs on the real clock.
    """
    root.mkdir(parents=True, exist_ok=True)
    config = load_config(str(write_config(root, timezone=timezone)))
    start = floor_minute(now) if now is not None else floor_minute(SystemClock().now())
    build_clock = FrozenClock(start)
    cluster = DemoCluster(root, config, build_clock, FakeBoot(), FakePower(), FakeLiveness(down=set(DOWN)))
    kernel, initrd = str(root / "vmlinuz"), str(root / "initrd.img")
    for owner, name, nodes, duration, offset, args in sorted(bookings + history, key=lambda b: b[4]):
        build_clock.set(start + timedelta(minutes=min(offset, 0)))
        cluster.service(owner).submit(
            SubmitRequest(
                name=name,
                kernel=kernel,
                initrd=initrd,
                count=nodes if isinstance(nodes, int) else 0,
                nodes=nodes if isinstance(nodes, str) else "",
                duration=duration,
                after=f"+{offset}m" if offset > 0 else "",
                kernel_args=args,
                group="lab" if owner in ("alice", "bob") else "",
            )
        )
    build_clock.set(start)
    with TinyStore(config.statedir).transaction() as tx:
        tx.add_block(
            Block(
                0,
                tuple(f"kn{i}" for i in range(505, 513)),
                start,
                start + timedelta(days=1),
                "PSU swap",
                "ops",
            )
        )
    cluster.tick()
    if now is None:
        cluster.clock = SystemClock()
    return cluster


def demo_root() -> Path:
    """A fresh throw-away directory for one demo run."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="igor-tui-demo-"))
