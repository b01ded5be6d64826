"""Shared fixtures.

`cluster` / `make_cluster`: a throw-away 20-node igor cluster (kn1..kn20) under tmp_path, driven by running
the installed `igor` console script as a subprocess, the way users run it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from real_peers import pytest_runtest_makereport

__all__ = ["pytest_runtest_makereport"]  # the IGOR_REQUIRE_REAL hook, see real_peers.py

# ----------------------------------------------------------------------------------------- igor CLI


@functools.cache
def igor_executable() -> str:
    """The `igor` console script of the interpreter running the tests (the project's venv)."""
    beside = Path(sys.executable).parent / "igor"
    if beside.exists():
        return str(beside)
    found = shutil.which("igor")
    if found is None:
        raise RuntimeError("the igor console script is not installed (pip install -e .)")
    return found


def igor_env(config: Path | str, user: str | None = "alice") -> dict[str, str]:
    """A minimal, explicit environment: our config, a fixed TZ and terminal width, and the sudo user.

    Tests run as root, and as root igor takes the caller from SUDO_USER (the documented sudo model).
    Nothing else is inherited, so NO_COLOR, COLUMNS or a real IGOR_CONFIG cannot leak in.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IGOR_CONFIG": str(config),
        "TZ": "UTC",
        "LANG": "C.UTF-8",
        "COLUMNS": "100",
    }
    if user is not None:
        env["SUDO_USER"] = user
    return env


def run_igor(
    *args: str,
    env: Mapping[str, str],
    check: int | None = None,
    timeout: float = 30.0,
    executable: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run `igor ARGS` (or another console script); with `check`, assert the exit code (showing
    stdout/stderr when it differs)."""
    program = executable or igor_executable()
    proc = subprocess.run(
        [program, *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"{Path(program).name} {' '.join(args)}: exit {proc.returncode}, expected {check}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


# ------------------------------------------------------------------------------------------ cluster


@dataclass(frozen=True)
class Cluster:
    """One test cluster: its files, and `run` to call igor against it as some user."""

    root: Path
    config_path: Path
    config: Mapping[str, Any]
    kernel: Path
    initrd: Path

    @property
    def tftproot(self) -> Path:
        return Path(self.config["tftproot"])

    @property
    def statedir(self) -> Path:
        return Path(self.config["statedir"])

    @property
    def content_dir(self) -> Path:
        """Where kernel/initrd copies go: inside the TFTP root, unlike the private statedir."""
        return Path(self.config.get("contentdir") or self.tftproot / "igor" / "content")

    @property
    def logfile(self) -> Path:
        return Path(self.config["logfile"])

    @property
    def boot(self) -> tuple[str, str, str, str]:
        """`-k KERNEL -i INITRD` with this cluster's boot files."""
        return ("-k", str(self.kernel), "-i", str(self.initrd))

    def env(self, user: str | None = "alice") -> dict[str, str]:
        return igor_env(self.config_path, user)

    def run(
        self, *args: str, user: str = "alice", check: int | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`igor ARGS` as `user` (via SUDO_USER); with `check`, assert the exit code."""
        return run_igor(*args, env=self.env(user), check=check)

    def file(self, name: str, content: bytes) -> Path:
        """A file (e.g. another kernel) in this cluster's directory."""
        path = self.root / name
        path.write_bytes(content)
        return path

    def content_files(self) -> set[str]:
        """Names in the content-addressed store (empty when it does not exist yet)."""
        if not self.content_dir.exists():
            return set()
        return {p.name for p in self.content_dir.iterdir() if p.name != ".copying.lock"}  # copiers' lock

    def log_events(self) -> list[dict[str, Any]]:
        """The structured action log, one dict per line."""
        if not self.logfile.exists():
            return []
        return [json.loads(line) for line in self.logfile.read_text().splitlines() if line.strip()]


def new_cluster(root: Path, **overrides: Any) -> Cluster:
    """Write a 20-node cluster's config (mode 0600), TFTP root and boot files under `root` (created).

    `overrides` replace config keys (`admins`, `pause`, `usecobbler`, `network`, ...); a key overridden to
    None is left out of the config.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "tftp").mkdir()
    config: dict[str, Any] = {
        "tftproot": str(root / "tftp"),
        "statedir": str(root / "state"),  # never the real /var/lib/igor (the tests run as root)
        "prefix": "kn",
        "start": 1,
        "end": 20,
        "rackwidth": 8,
        "rackheight": 2,
        "logfile": str(root / "igor.log"),
        "timelimit": 4320,
        "nodelimit": 10,
        "timezone": "Europe/Berlin",
    }
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    config_path = root / "igor.conf"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    config_path.chmod(0o600)
    kernel = root / "vmlinuz"
    kernel.write_bytes(b"kernel image 1\n")
    initrd = root / "initrd.img"
    initrd.write_bytes(b"initrd image 1\n")
    return Cluster(root=root, config_path=config_path, config=config, kernel=kernel, initrd=initrd)


class ClusterFactory(Protocol):
    def __call__(self, **overrides: Any) -> Cluster: ...


@pytest.fixture
def make_cluster(tmp_path: Path) -> ClusterFactory:
    """Build clusters with config keys overridden (see `new_cluster`); each call gets its own directory."""
    made = 0

    def factory(**overrides: Any) -> Cluster:
        nonlocal made
        made += 1
        return new_cluster(tmp_path / f"cluster{made}", **overrides)

    return factory


@pytest.fixture
def cluster(make_cluster: ClusterFactory) -> Cluster:
    """The default 20-node cluster (kn1..kn20, Europe/Berlin, nodelimit 10, timelimit 4320)."""
    return make_cluster()
