"""`IGOR_REQUIRE_REAL=1` (set by .ci/run) turns the skip of a `real`-marked test into a failure.

Tests that need a real peer (Cobbler, an SSH server, qemu) skip with a reason when it is missing, which is
right on a laptop but would let CI pass without ever exercising the real thing.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    required = os.environ.get("IGOR_REQUIRE_REAL") == "1"
    if not (report.skipped and required and item.get_closest_marker("real")):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"IGOR_REQUIRE_REAL=1 but this real-peer test was skipped: {reason}"
