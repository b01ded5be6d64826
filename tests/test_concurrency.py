"""Many igor processes booking at once never double-book a node and never lose a write."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from igor_tui.store import TinyStore

pytestmark = pytest.mark.slow

CHILD = """
import os, random, sys
from igor_tui.service import SubmitRequest, build_service
worker, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(worker)
kernel, initrd = sys.argv[3], sys.argv[4]
svc = build_service()
for i in range(count):
    after = rng.choice(["", f"+{rng.randint(1, 240)}m"])
    req = SubmitRequest(name=f"w{worker}-{i}", kernel=kernel, initrd=initrd, count=rng.randint(1, 6),
                        duration=f"{rng.randint(10, 120)}m", after=after)
    svc.submit(req)
    print(f"w{worker}-{i}", flush=True)
"""


def test_eight_processes_book_two_hundred_without_double_booking(tmp_path: Path) -> None:
    config = tmp_path / "igor.conf"
    config.write_text(
        json.dumps(
            {
                "tftproot": str(tmp_path / "tftp"),
                "statedir": str(tmp_path / "state"),
                "prefix": "kn",
                "start": 1,
                "end": 40,
                "timezone": "UTC",
            }
        )
    )
    config.chmod(0o600)
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd"
    kernel.write_bytes(b"k" * 4096)
    initrd.write_bytes(b"i" * 4096)
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "root"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(w), "25", str(kernel), str(initrd)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(8)
    ]
    acknowledged: set[str] = set()
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        acknowledged.update(out.split())
    assert len(acknowledged) == 200

    stored = TinyStore(tmp_path / "state").snapshot().reservations
    assert len(stored) == 200
    assert {r.name for r in stored} == acknowledged
    assert sorted(r.id for r in stored) == list(range(1, 201))
    for a, b in itertools.combinations(stored, 2):
        if set(a.nodes) & set(b.nodes):
            assert not a.overlaps(b.start, b.end), f"{a.name} and {b.name} share a node at the same time"
    json.loads((tmp_path / "state" / "igor.json").read_text())  # the file itself parses
