"""`igor stats -d 365` as a whole process over a year of a busy 520-node cluster's log (~100,000 events).

The log is generated the way igor writes it: per reservation a `created` event, igor-tick's install steps
(install-boot, power-cycle, complete) and teardown steps (uninstall-boot, forget), sometimes extensions,
an edit, a power cycle, and a deletion before the scheduled end. Reservations start every ~6 minutes over
the year, 1-16 nodes each. Target: under 2 s for the whole process. Prints the timings, asserts nothing.

    .venv/bin/python bench/bench_stats.py [--events 100000] [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
NODES = 520
USERS = [f"user{i}" for i in range(60)]


def _tick(when: datetime, step: str, res_id: int, name: str, nodes: str) -> dict[str, Any]:
    return {
        "time": when.isoformat(),
        "event": "tick",
        "step": step,
        "id": res_id,
        "name": name,
        "nodes": nodes,
        "ports": [],
        "ok": True,
        "error": "",
        "ms": 3.1,
    }


def generate(path: Path, events: int, now: datetime, seed: int = 6) -> int:
    """Write about `events` log lines ending at `now`; returns how many were written."""
    rng = random.Random(seed)
    begin = now - timedelta(days=365)
    step = timedelta(days=365) / max(1, events // 8)
    lines: list[str] = []
    res_id = 0
    when = begin
    while len(lines) < events:
        res_id += 1
        when += step
        owner = rng.choice(USERS)
        count = rng.randint(1, 16)
        first = rng.randint(1, NODES - count + 1)
        nodes = f"kn[{first}-{first + count - 1}]" if count > 1 else f"kn{first}"
        start = when.replace(second=0, microsecond=0)
        end = start + timedelta(minutes=rng.choice((60, 120, 240, 720, 1440, 2880)))
        base = {
            "by": owner,
            "id": res_id,
            "name": f"r{res_id}",
            "owner": owner,
            "group": "",
            "nodes": nodes,
            "count": count,
        }
        out: list[dict[str, Any]] = [
            {
                "time": start.isoformat(),
                "event": "created",
                **base,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
            _tick(start + timedelta(seconds=40), "install-boot", res_id, f"r{res_id}", nodes),
            _tick(start + timedelta(seconds=41), "power-cycle", res_id, f"r{res_id}", nodes),
            _tick(start + timedelta(seconds=42), "complete", res_id, f"r{res_id}", nodes),
        ]
        if rng.random() < 0.3:
            end += timedelta(hours=1)
            out.append(
                {
                    "time": (start + timedelta(minutes=30)).isoformat(),
                    "event": "extended",
                    **base,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "minutes": 60,
                }
            )
        if rng.random() < 0.2:
            out.append(
                {
                    "time": (start + timedelta(minutes=5)).isoformat(),
                    "event": "power",
                    "by": owner,
                    "action": "cycle",
                    "nodes": nodes,
                    "reservations": [f"r{res_id}"],
                }
            )
        stop = end
        if rng.random() < 0.25:
            stop = start + (end - start) / 2
            out.append(
                {
                    "time": stop.isoformat(),
                    "event": "deleted",
                    **base,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "actual_end": stop.isoformat(),
                }
            )
        out.append(_tick(stop + timedelta(seconds=50), "uninstall-boot", res_id, f"r{res_id}", nodes))
        out.append(_tick(stop + timedelta(seconds=51), "forget", res_id, f"r{res_id}", nodes))
        lines.extend(json.dumps(e, separators=(",", ":")) for e in out)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="igor-bench-stats-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "tftp").mkdir(exist_ok=True)
    log = work / "igor.log"
    written = generate(log, args.events, datetime.now(UTC))
    config = work / "igor.conf"
    config.write_text(
        json.dumps(
            {
                "tftproot": str(work / "tftp"),
                "statedir": str(work / "state"),
                "prefix": "kn",
                "start": 1,
                "end": NODES,
                "logfile": str(log),
                "timezone": "Europe/Berlin",
            }
        )
    )
    config.chmod(0o600)
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "bench"}
    times: list[float] = []
    result: dict[str, Any] = {}
    for _ in range(args.runs):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(BIN / "igor"), "stats", "-d", "365", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        result = json.loads(proc.stdout)
    size = log.stat().st_size / 1e6
    print(f"log: {written} events, {size:.1f} MB")
    print(
        f"igor stats -d 365: median {statistics.median(times) * 1000:.0f} ms, "
        f"best {min(times) * 1000:.0f} ms over {args.runs} runs (target < 2000 ms)"
    )
    print(
        f"  {result['reservations']} reservations, {result['users']} users, {result['nodes']} nodes, "
        f"{result['node_hours']:.0f} node-hours"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
