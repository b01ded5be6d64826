"""Shared fixtures.

`cluster` / `make_cluster`: a throw-away 20-node igor cluster (kn1..kn20) under tmp_path, driven by `igor`.

`run_igor` calls `igor_tui.cli.run` in this process by default: a fresh interpreter per call costs 0.1-0.2 s
(`igor version` on the 2-core machine, more under load) and the suite makes hundreds of calls, and `run` is
exactly what the console script calls. Tests whose point is the process itself (exit codes through the
console script, libfaketime, igor-tick, the TUI) ask for a subprocess with `process=True` or another
executable.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

import pytest
from cobbler_server import cobbler_server
from fake_eapi import SWITCH_PASSWORD, FaultySwitch
from real_peers import pytest_runtest_makereport

# The IGOR_REQUIRE_REAL hook (real_peers.py) and the session's one Cobbler server (cobbler_server.py):
# registered here once. A session fixture imported into several test modules is a separate fixture in
# each, and the session started one cobblerd per importing module.
__all__ = ["cobbler_server", "pytest_runtest_makereport"]

# ----------------------------------------------------------------------------------- xdist groups

# With pytest-xdist (`make test` runs `-n 3 --dist loadgroup`), tests that share one machine-wide resource
# run on one worker, one after another: the sudo rig's real users and sudoers file, the tmux server.
# The qemu netboot modules are one group each (BIOS, UEFI): their boots are the suite's critical path
# (~160 s each, serial within a module), and run side by side on the 2-core machine they still boot in
# 11-20 s, far inside the 60-90 s deadlines (measured: 4 min 28 s for the suite with three workers, 5 min
# 14 s with one qemu group on four). Cobbler tests share the session's cobblerd, which is started once per
# worker, so one group also starts it only once.
XDIST_GROUPS_BY_MODULE = {
    "test_sudo_boundary": "sudo",
    "test_sudo_faults": "sudo",
    "test_tui_tmux": "tmux",
    "test_netboot_e2e": "qemu-bios",
    "test_netboot_uefi_e2e": "qemu-uefi",
}
XDIST_GROUPS_BY_FIXTURE = {"cobbler_server": "cobbler"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test of a shared resource with its `xdist_group` (see XDIST_GROUPS_BY_MODULE).

    tryfirst: xdist's worker reads the marks in its own collection hook (it appends `@group` to each
    node id); run after it, the marks came too late and the groups were spread over every worker."""
    for item in items:
        module = item.module.__name__ if isinstance(item, pytest.Function) else ""
        group = XDIST_GROUPS_BY_MODULE.get(module) or next(
            (g for f, g in XDIST_GROUPS_BY_FIXTURE.items() if f in getattr(item, "fixturenames", ())), None
        )
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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


def tick_executable() -> str:
    """The `igor-tick` console script beside the interpreter running the tests (the project's venv)."""
    return str(Path(sys.executable).parent / "igor-tick")


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
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `igor ARGS` (or another console script); with `check`, assert the exit code (showing
    stdout/stderr when it differs).

    `igor` runs in this process (see `run_in_process`) unless `process` is set, another console script is
    named, the environment preloads a library (libfaketime steps the clock of a process, not of a call),
    or the verb starts the full-screen TUI."""
    program = executable or igor_executable()
    if process or executable or "LD_PRELOAD" in env or "tui" in args:
        proc = subprocess.run(
            [program, *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    else:
        proc = run_in_process(args, env)
    if check is not None:
        assert proc.returncode == check, (
            f"{Path(program).name} {' '.join(args)}: exit {proc.returncode}, expected {check}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@contextlib.contextmanager
def process_like(env: Mapping[str, str], out: io.StringIO, err: io.StringIO) -> Iterator[None]:
    """What a fresh `igor` process would see, for the length of one call: exactly `env` as os.environ (rich
    and the terminal width read it there), an empty stdin that is no terminal (like stdin=DEVNULL), and
    stdout/stderr (also `sys.__stdout__`, which the width fallback asks) going to `out`/`err`, so a stray
    write lands where a subprocess would have put it. Everything is restored afterwards."""
    with (
        mock.patch.dict(os.environ, env, clear=True),
        mock.patch.object(sys, "stdin", io.StringIO()),
        mock.patch.object(sys, "stdout", out),
        mock.patch.object(sys, "stderr", err),
        mock.patch.object(sys, "__stdout__", out),
    ):
        yield


_IN_PROCESS = threading.Lock()
"""One in-process igor at a time: os.environ and sys.std* are the process's, so calls from several threads
(test_tick_crash books four at a time) would see each other's environment and output and restore the
wrong one. A subprocess needs no lock; these calls are short, so queueing them costs little."""


def run_in_process(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`igor ARGS` through `igor_tui.cli.run`, the function the console script calls, with the observable
    result a subprocess gives: the exit code (an escaping exception is exit 1 with its traceback on
    stderr, SystemExit its code, as the interpreter would do), stdout and stderr with newlines read as
    `text=True` reads them. igor changes no cwd, umask, signal handler or logging handler on this path;
    its module caches are keyed by value (parsed times, node names), so nothing carries over between calls."""
    from igor_tui import cli

    out, err = io.StringIO(), io.StringIO()
    with _IN_PROCESS, process_like(env, out, err):
        try:
            code = cli.run(list(args), out, err, dict(env))
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int | None):
                err.write(f"{exc.code}\n")
        except Exception:  # noqa: BLE001 - the interpreter's own handling, so "no traceback" stays checkable
            err.write(traceback.format_exc())
            code = 1
    return subprocess.CompletedProcess(
        [igor_executable(), *args], code, _universal(out.getvalue()), _universal(err.getvalue())
    )


def _universal(text: str) -> str:
    """Newlines as `subprocess.run(text=True)` hands them back (universal newlines mode)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
        self, *args: str, user: str = "alice", check: int | None = None, process: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`igor ARGS` as `user` (via SUDO_USER); with `check`, assert the exit code; with `process`, through
        the installed console script in a subprocess instead of in this process."""
        return run_igor(*args, env=self.env(user), check=check, process=process)

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


# ------------------------------------------------------------------------------------------- switch


@pytest.fixture
def switch() -> Iterator[FaultySwitch]:
    """A started test switch with Ethernet1..Ethernet64 (user admin, password SWITCH_PASSWORD)."""
    fake = FaultySwitch(password=SWITCH_PASSWORD).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def public() -> Iterator[Path]:
    """A world-searchable directory, for reads as a made-up principal (test_trust, test_content_digests):
    pytest's tmp_path lives under a 0700 directory of root's."""
    path = Path(tempfile.mkdtemp(prefix="igor-trust-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cache_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many reservations each build from the snapshot cache's columns made (store/cache.py): what
    igor-tick's subset read must keep small."""
    from igor_tui.store import cache
    from igor_tui.store.codec import reservations_from_plain as build  # what cache.py calls

    sizes: list[int] = []

    def counting(columns: Any) -> tuple[Any, ...]:
        made = build(columns)
        sizes.append(len(made))
        return made

    monkeypatch.setattr(cache, "reservations_from_plain", counting)
    return sizes
