"""Deployment files in contrib/: the wrapper keeps arguments intact; cron/systemd/sudo files are sane."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"


def run_wrapper(tmp_path: Path, name: str, *args: str) -> list[str]:
    """Run the wrapper under `name` with a fake sudo first on PATH that prints its argv, one per line."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    wrapper = bindir / name
    shutil.copy(CONTRIB / "igor-wrapper.sh", wrapper)
    wrapper.chmod(0o755)
    fake_sudo = bindir / "sudo"
    fake_sudo.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake_sudo.chmod(0o755)
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    for glob_bait in ("kn1", "kn2", "kn3"):
        (work / glob_bait).touch()  # an unquoted $@ would glob kn[1-3] into these
    env = {"PATH": f"{bindir}:/usr/bin:/bin"}
    proc = subprocess.run(
        [str(wrapper), *args], cwd=work, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def test_wrapper_passes_arguments_exactly(tmp_path: Path) -> None:
    args = ["sub", "-r", "x", "-c", "console=ttyS0 quiet", "-w", "kn[1-3]", "-a", "", "--json"]
    assert run_wrapper(tmp_path, "igor", *args) == ["-u", "igor", "/usr/local/lib/igor-tui/bin/igor", *args]


def test_wrapper_named_igor_tui_runs_the_tui(tmp_path: Path) -> None:
    assert run_wrapper(tmp_path, "igor-tui", "--config", "/etc/igor.conf")[2:] == [
        "/usr/local/lib/igor-tui/bin/igor-tui",
        "--config",
        "/etc/igor.conf",
    ]


def test_cron_and_systemd_run_the_tick_as_igor_every_minute() -> None:
    cron = [line for line in (CONTRIB / "igor.cron").read_text().splitlines() if line and line[0] != "#"]
    job = next(line for line in cron if line.startswith("* * * * *"))
    assert job.split()[5:7] == ["igor", "/usr/local/bin/igor-tick"]
    service = (CONTRIB / "igor-tick.service").read_text()
    assert "User=igor" in service and "ExecStart=/usr/local/bin/igor-tick" in service
    assert "Type=oneshot" in service
    timer = (CONTRIB / "igor-tick.timer").read_text()
    assert "OnCalendar=*-*-* *:*:00" in timer


@pytest.mark.real
def test_sudoers_rule_is_valid() -> None:
    visudo = shutil.which("visudo") or ("/usr/sbin/visudo" if os.path.exists("/usr/sbin/visudo") else None)
    if visudo is None:
        pytest.skip("visudo not installed (Debian package sudo)")
    proc = subprocess.run(
        [visudo, "-c", "-f", str(CONTRIB / "igor.sudoers")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
