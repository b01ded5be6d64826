"""The IGOR_REQUIRE_REAL switch really turns missing-peer skips into failures (and only for `real`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = """
import pytest

@pytest.mark.real
def test_needs_qemu():
    pytest.skip("qemu-system-x86_64 not installed")

def test_ordinary_skip():
    pytest.skip("not relevant here")
"""


@pytest.mark.parametrize(("require", "expected"), [("1", "1 failed, 1 skipped"), ("", "2 skipped")])
def test_require_real_turns_skips_into_failures(tmp_path: Path, require: str, expected: str) -> None:
    (tmp_path / "conftest.py").write_text("from real_peers import pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    real: needs a real peer\n")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {**os.environ, "IGOR_REQUIRE_REAL": require, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert expected in proc.stdout, proc.stdout
    if require:
        assert "IGOR_REQUIRE_REAL=1 but this real-peer test was skipped: qemu-system-x86_64" in proc.stdout
