"""igor-tui in a real pseudo-terminal: 520 nodes, 1,000 reservations, 120×40.

Measures what a user feels, from outside the process: the time from spawning `igor-tui` until the first
full paint (racks and the filled reservation table on the terminal), the keypress-to-repaint latency
(key bytes written → the terminal update finished arriving) while moving the rack cursor and while
scrolling the timeline and stepping the time cursor, and the resident memory afterwards.
Prints medians; asserts nothing.

    .venv/bin/python bench/tui_bench.py [--reservations 1000] [--presses 30]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import build_cluster

ROOT = Path(__file__).resolve().parent.parent
QUIET = 0.04
"""An update is over when the terminal has been silent this long (subtracted from the figures)."""
TARGETS = {"paint": 500.0, "grid": 16.0, "timeline": 16.0, "cursor": 16.0, "rss": 80.0}
"""Issue 12's targets (a quiet machine): first paint <= 0.5 s, each keypress repainted within a 60 Hz frame,
<= 80 MB resident. Printed beside the figures, never asserted."""


class Pty:
    """One igor-tui process on a pseudo-terminal of a given size."""

    def __init__(self, argv: list[str], env: dict[str, str], cols: int, rows: int) -> None:
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.execve(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.seen = b""

    def read_until_quiet(self, quiet: float = QUIET, limit: float = 10.0) -> tuple[float | None, float]:
        """(time of the first byte, time of the last byte) of the next burst of output."""
        first: float | None = None
        last = time.perf_counter()
        end = last + limit
        while time.perf_counter() < end:
            ready, _, _ = select.select([self.fd], [], [], quiet if first is not None else limit)
            if not ready:
                if first is not None:
                    break
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            now = time.perf_counter()
            first = first if first is not None else now
            last = now
            self.seen += chunk
        return first, last

    def wait_for(self, *needles: bytes, limit: float = 15.0) -> float:
        """Read until every needle has appeared; the time the last needed chunk arrived."""
        end = time.perf_counter() + limit
        while time.perf_counter() < end:
            if all(n in self.seen for n in needles):
                return time.perf_counter()
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                self.seen += os.read(self.fd, 65536)
        raise SystemExit(f"tui_bench: {needles} never appeared on the terminal")

    def press(self, data: bytes) -> float:
        """Milliseconds from writing the key to the end of the repaint it caused."""
        self.read_until_quiet(quiet=0.1, limit=0.3)  # drain anything pending (clock ticks)
        sent = time.perf_counter()
        os.write(self.fd, data)
        first, last = self.read_until_quiet()
        if first is None:
            raise SystemExit(f"tui_bench: no repaint after {data!r}")
        return (last - sent) * 1000

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        try:
            os.write(self.fd, b"q")
            deadline = time.perf_counter() + 3
            while time.perf_counter() < deadline:
                if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                    break
                self.read_until_quiet(quiet=0.05, limit=0.1)
            else:
                os.kill(self.pid, signal.SIGTERM)
                os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        os.close(self.fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reservations", type=int, default=1000)
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="process starts for the first-paint median")
    args = parser.parse_args(argv)
    tui = Path(sys.executable).with_name("igor-tui")
    if not tui.exists():
        sys.exit("tui_bench: igor-tui is not installed in this interpreter's environment (make test first)")
    with tempfile.TemporaryDirectory(prefix="igor-tui-bench-") as tmp:
        cluster = build_cluster(Path(tmp), args.reservations, seed=7)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "IGOR_CONFIG": str(cluster.config),
            "SUDO_USER": "alice",
            "TZ": "UTC",
        }
        paints = []
        for _ in range(args.runs):
            proc = Pty([str(tui)], env, 120, 40)
            painted = proc.wait_for(b"rack 1", b"Reservations (")
            _, settled = proc.read_until_quiet(quiet=0.2)
            paints.append(((painted - proc.started) * 1000, (settled - proc.started - 0.2) * 1000))
            proc.stop()
        proc = Pty([str(tui)], env, 120, 40)
        proc.wait_for(b"rack 1")
        proc.read_until_quiet(quiet=0.3)
        # right, down, left, down: every key really moves the cursor (so every key repaints)
        moves = (b"\x1b[C", b"\x1b[B", b"\x1b[D", b"\x1b[B")
        grid = [proc.press(moves[i % 4]) for i in range(args.presses)]
        proc.press(b"3")  # focus the timeline
        timeline = [proc.press(b"\x1b[C" if i % 2 == 0 else b"j") for i in range(args.presses)]
        proc.press(b"t")  # the time cursor on: each step redraws the cursor, the racks and the header
        cursor = [proc.press(b"\x1b[C" if i % 2 == 0 else b"\x1b[D") for i in range(args.presses)]
        rss = proc.rss_mb()
        proc.stop()
    paint = statistics.median(p[0] for p in paints)
    rows = [
        ("first full paint (racks + table on screen)", paint, TARGETS["paint"], "ms"),
        ("keypress → repaint, rack cursor (median)", statistics.median(grid), TARGETS["grid"], "ms"),
        (
            "keypress → repaint, timeline scroll (median)",
            statistics.median(timeline),
            TARGETS["timeline"],
            "ms",
        ),
        ("keypress → repaint, time cursor (median)", statistics.median(cursor), TARGETS["cursor"], "ms"),
        ("resident memory after the session", rss, TARGETS["rss"], "MB"),
    ]
    print(f"igor-tui, 520 nodes, {args.reservations} reservations, 120x40 pty; load {os.getloadavg()[0]:.2f}")
    for label, value, target, unit in rows:
        verdict = "PASS" if value <= target else "MISS"
        print(f"  {label:<46} {value:8.1f} {unit}   target <= {target:.0f} {verdict}")
    print(f"  paint runs (first / settled ms): {', '.join(f'{a:.0f}/{b:.0f}' for a, b in paints)}")
    spread = (
        f"rack cursor {min(grid):.1f}-{max(grid):.1f} ms, timeline {min(timeline):.1f}-{max(timeline):.1f}"
        f" ms, time cursor {min(cursor):.1f}-{max(cursor):.1f}"
    )
    print(f"  spread: {spread} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
