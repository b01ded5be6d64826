"""The store survives writers killed at random moments and never loses an update between processes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from igor_tui.store import TEMP_PREFIX, TinyStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

CHILD_CODE = """
import sys
from datetime import UTC, datetime, timedelta
from igor_tui.model import Reservation
from igor_tui.store import TinyStore

store = TinyStore(sys.argv[1])
start = datetime(2030, 1, 1, tzinfo=UTC)
n = 0
while True:
    n += 1
    with store.transaction() as tx:
        res = tx.add_reservation(
            Reservation(id=0, name=f"crash-{n}", owner="test", start=start, end=start + timedelta(hours=1),
                        nodes=tuple(f"kn{i}" for i in range(n % 8 + 1)), kernel_hash="a" * 64)
        )
    sys.stdout.write(f"{res.id}\\n")  # only after the commit: an acknowledgement
    sys.stdout.flush()
"""

COUNTER_CODE = """
import os, sys, time
from igor_tui import locks
from igor_tui.store import TinyStore

locks.LOCKING = sys.argv[4]  # flock or portalocker: either must exclude the other
store, go = TinyStore(sys.argv[1], lock_timeout=60), sys.argv[3]
print("ready", flush=True)
while not os.path.exists(go):  # start all workers together so they really contend
    time.sleep(0.001)
for _ in range(int(sys.argv[2])):
    with store.transaction() as tx:
        count = tx.get_value("counter", 0)
        time.sleep(0.0005)  # widen the window a lost update would need
        tx.set_value("counter", count + 1)
"""


def test_writers_killed_at_random_never_corrupt_or_lose_acknowledged_ids(tmp_path: Path) -> None:
    rng = random.Random(20300504)
    directory = tmp_path / "state"
    acknowledged: set[int] = set()
    highest = 0
    for _ in range(50):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_CODE, str(directory)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        watchdog = threading.Timer(20, child.kill)  # never hang the suite on a stuck child
        watchdog.start()
        try:
            assert child.stdout is not None and child.stderr is not None
            first = child.stdout.readline()
            assert first.endswith(b"\n"), child.stderr.read().decode()
            time.sleep(rng.uniform(0.0, 0.150))
            child.kill()  # SIGKILL: no cleanup, no atexit, no flush
            rest = child.stdout.read()
            child.wait()
        finally:
            watchdog.cancel()
            if child.stdout:
                child.stdout.close()
            if child.stderr:
                child.stderr.close()
        lines = (first + rest).split(b"\n")[:-1]  # the last piece may be a torn, unacknowledged line
        ids = [int(line) for line in lines]
        assert ids == sorted(ids) and ids[0] > highest, "ids must keep growing across crashed writers"
        assert not acknowledged & set(ids), "an id was reused"
        acknowledged.update(ids)

        store = TinyStore(directory, lock_timeout=5)
        snap = store.snapshot()  # must load: no torn or half-written document
        stored = [r.id for r in snap.reservations]
        assert len(stored) == len(set(stored))
        assert acknowledged <= set(stored), "an acknowledged reservation was lost"
        highest = max([highest, *stored, *ids])
        with store.transaction() as tx:  # the dead writer's lock is gone
            assert [r.id for r in tx.reservations()] == stored
    leftovers = [p for p in directory.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(leftovers) <= 50  # at most one orphaned temp file per kill; writers remove them after 1 h


def test_concurrent_processes_never_lose_an_update(tmp_path: Path) -> None:
    """Two processes lock with flock and two with portalocker, as igors of both kinds would."""
    directory, go = tmp_path / "state", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER_CODE, str(directory), "50", str(go), locking],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        for locking in ("flock", "portalocker", "flock", "portalocker")
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
    go.touch()
    reader = TinyStore(directory)
    while any(proc.poll() is None for proc in procs):
        reader.snapshot()  # lock-free readers never see a torn document meanwhile
        time.sleep(0.002)
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with TinyStore(directory).transaction() as tx:
        assert tx.get_value("counter") == 200
