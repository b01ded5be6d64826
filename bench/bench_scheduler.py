"""Scheduler at scale: 10,000 nodes and 50,000 reservations; prints medians, asserts nothing."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from igor_tui.model import Request, Reservation
from igor_tui.scheduler import find_slot, speculate

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def build(nodes: int, count: int, seed: int = 1) -> tuple[tuple[str, ...], list[Reservation]]:
    """Reservations tiled over the nodes back to back (no overlaps), random sizes 1-16 and 1-8 h."""
    rng = random.Random(seed)
    names = tuple(f"kn{i}" for i in range(1, nodes + 1))
    free_at = [NOW - timedelta(hours=1)] * nodes
    out: list[Reservation] = []
    i = 0
    while len(out) < count:
        size = rng.randint(1, 16)
        first = i % (nodes - size)
        i += size + rng.randint(0, 3)
        start = max(free_at[first : first + size])
        end = start + timedelta(hours=rng.randint(1, 8))
        for k in range(first, first + size):
            free_at[k] = end
        out.append(Reservation(len(out) + 1, f"r{len(out)}", "u", start, end, names[first : first + size]))
    return names, out


def median_ms(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    print(
        f"{'nodes':>6} {'reservations':>12} {'find -n 8':>10} {'contig -n 8':>12} {'spec -n 64':>11}"
        "  (median ms)"
    )
    for nodes, count in ((520, 5_000), (10_000, 50_000)):
        names, existing = build(nodes, count)
        requests = (
            Request(minutes=60, earliest=NOW, count=8),
            Request(minutes=60, earliest=NOW, count=8, contiguous=True),
        )
        a, b = (median_ms(partial(find_slot, names, existing, req)) for req in requests)
        c = median_ms(partial(speculate, names, existing, Request(minutes=240, earliest=NOW, count=64)))
        print(f"{nodes:>6} {count:>12} {a:>10.1f} {b:>12.1f} {c:>11.1f}")


if __name__ == "__main__":
    main()
