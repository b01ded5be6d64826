"""The exact bytes `igor` prints over the demo cluster, frozen: a refactor of the CLI or its renderers must
not change one of them (issue 13 asks for output byte-identical before and after).

The demo cluster (520 nodes, 15 live and 4 archived reservations, a maintenance block, down nodes) is
built on a frozen clock; `igor_tui.cli.run` runs in-process with the service factory swapped for the
demo's, so the caller, the clock and the fake backends are the demo's. Each case's exit code, stdout and
stderr go to tests/golden/NAME.txt, with the throw-away directory's path written as <demo> and the
measured duration of logged tick steps as <ms> (a mail's Message-ID as <id>).

A changed golden file is a changed output: regenerate with IGOR_GOLDEN_UPDATE=1 only when the change is
meant, and say in the commit what changed and why.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from igor_tui import cli, service
from igor_tui.demo import DemoCluster, build_demo

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 12, 3, 7, 23, tzinfo=UTC)
MILLISECONDS = re.compile(r'("ms": )[0-9.]+')
MESSAGE_ID = re.compile(r"Message-ID: <[^>]*>")
"""How long a logged tick step took and a mail's unique id: what the frozen demo cannot fix."""
UPDATE = os.environ.get("IGOR_GOLDEN_UPDATE") == "1"

READ_ONLY: dict[str, Sequence[str]] = {
    "show": ["show"],
    "show-json": ["show", "--json"],
    "show-sorted": ["show", "-o", "-r", "-t=false"],
    "show-filtered": ["show", "-owner", "alice", "-future"],
    "show-errors-json": ["show", "-e", "-json"],
    "show-at-past": ["show", "-at", "2026-Dec-03-02:00"],
    "show-at-json": ["show", "-at", "+3h", "--json"],
    "show-color": ["show", "-c"],
    "sub-s": ["sub", "-s", "-n", "8", "-t", "4h"],
    "sub-s-json": ["sub", "-s", "-n", "8", "-t", "4h", "--json"],
    "sub-s-nodes": ["sub", "-s", "-w", "kn[41-44]", "-t", "1h"],
    "stats": ["stats", "-d", "7"],
    "stats-verbose": ["stats", "-d", "7", "-v"],
    "stats-json": ["stats", "-d", "7", "-v", "--json"],
    "history": ["history", "mpi-old"],
    "history-json": ["history", "kernel-ci", "--json"],
    "history-archived-json": ["history", "mpi-old", "--json"],
    "hosts": ["hosts", "net-test"],
    "hosts-ssh": ["hosts", "net-test", "--format", "ssh-config"],
    "hosts-ansible": ["hosts", "net-test", "-format", "ansible"],
    "hosts-json": ["hosts", "net-test", "--json"],
    "tick-refused": ["tick", "--dry-run"],
    "version": ["version"],
    "version-json": ["version", "-json"],
    "usage": ["help"],
    "no-verb": [],
    "unknown-verb": ["frobnicate"],
    "bad-flag": ["show", "-jso"],
    "bad-bool": ["show", "-t=maybe"],
    "missing-value": ["sub", "-s", "-n"],
}
AS_ADMIN: dict[str, Sequence[str]] = {
    "tick-dry-run": ["tick", "--dry-run"],
    "tick-dry-run-json": ["--json", "tick", "--dry-run"],
    "notify-dry-run": ["notify", "--dry-run"],
    "notify-dry-run-json": ["notify", "-dry-run", "--json"],
}
"""Read-only verbs only admins may run; the demo's config gets a mail domain so notify has work."""
HELP_VERBS = (
    "sub",
    "del",
    "show",
    "extend",
    "edit",
    "power",
    "sync",
    "tick",
    "block",
    "unblock",
    "history",
    "restore",
    "stats",
    "notify",
    "hosts",
    "import-classic",
    "help",
    "version",
    "setup",
    "doctor",
)

SESSION: tuple[tuple[str, Sequence[str]], ...] = (
    ("alice", ["sub", "-r", "golden", "-k", "<demo>/vmlinuz", "-i", "<demo>/initrd.img", "-n", "4"]),
    (
        "alice",
        ["sub", "-r", "golden2", "-k", "<demo>/vmlinuz", "-i", "<demo>/initrd.img", "-n", "2", "-json"],
    ),
    ("alice", ["extend", "-r", "golden", "-t", "2h"]),
    ("alice", ["extend", "-r", "golden2", "-json"]),
    ("alice", ["edit", "-r", "golden", "-c", "console=ttyS1"]),
    ("alice", ["edit", "-r", "golden2", "-g", "", "--json"]),
    ("alice", ["power", "cycle", "-r", "kernel-ci"]),
    ("alice", ["power", "off", "-r", "kernel-ci", "--json"]),
    ("alice", ["del", "golden"]),
    ("alice", ["del", "golden2", "--json"]),
    ("alice", ["history", "golden"]),
    ("ops", ["restore", "golden"]),
    ("ops", ["block", "kn[1-3]", "--reason", "disk swap"]),
    ("ops", ["block", "kn[5-6]", "-reason", "BIOS", "-a", "+1h", "-t", "2h", "--json"]),
    ("ops", ["block", "kn[41-42]", "--reason", "fan", "-t", "1h"]),
    ("ops", ["unblock", "kn2"]),
    ("ops", ["unblock", "kn[5-6]", "--json"]),
    ("ops", ["show"]),
    ("ops", ["sync", "arista", "-d"]),
    ("ops", ["notify", "--dry-run"]),
    ("alice", ["del", "nope"]),
    ("alice", ["extend"]),
    ("alice", ["sub", "-s", "-n", "0"]),
    ("alice", ["show", "-active", "-future"]),
    ("alice", ["stats"]),
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoCluster:
    return build_demo(tmp_path_factory.mktemp("golden") / "demo", now=NOW, timezone="Europe/Berlin")


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fixed terminal, no NO_COLOR: what the renderers read from the process environment."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield


def run(demo: DemoCluster, argv: Sequence[str], user: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """One `igor ARGV` as `user` over the demo; its exit code and both streams as one text."""

    def demo_service(config: str | None = None, env: Mapping[str, str] | None = None, **_: object) -> object:
        return demo.service(user)

    monkeypatch.setattr(service, "build_service", demo_service)
    root = str(demo.root)
    out, err = io.StringIO(), io.StringIO()
    env = {"IGOR_CONFIG": str(demo.root / "igor.conf"), "SUDO_USER": user, "COLUMNS": "100"}
    code = cli.run([a.replace("<demo>", root) for a in argv], out, err, env)
    text = f"$ igor {' '.join(argv)}  (as {user})\nexit {code}\n--- stdout\n{out.getvalue()}--- stderr\n"
    text = MILLISECONDS.sub(r"\1<ms>", (text + err.getvalue()).replace(root, "<demo>"))
    return MESSAGE_ID.sub("Message-ID: <id>", text)


def check(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with IGOR_GOLDEN_UPDATE=1 once"
    assert text == path.read_text(), f"{path.name} changed"


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_read_only_output_is_unchanged(
    name: str, demo: DemoCluster, wired: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    check(name, run(demo, READ_ONLY[name], "alice", monkeypatch))


@pytest.mark.parametrize("name", sorted(AS_ADMIN))
def test_admin_output_is_unchanged(
    name: str, demo: DemoCluster, wired: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        demo, "config", replace(demo.config, domain="example.org", mailcommand=("/bin/false",))
    )
    check(name, run(demo, AS_ADMIN[name], "ops", monkeypatch))


def test_help_is_unchanged(demo: DemoCluster, wired: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every verb's `-h` and `igor --help`: the registry must build the same parsers."""
    texts = [run(demo, ["--help"], "alice", monkeypatch)]
    texts += [run(demo, [verb, "-h"], "alice", monkeypatch) for verb in HELP_VERBS]
    texts += [run(demo, ["help", verb], "alice", monkeypatch) for verb in ("sub", "show")]
    check("help", "\n".join(texts))


def test_session_output_is_unchanged(tmp_path: Path, wired: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verbs that change the store, in one fixed order on a fresh demo (each sees the previous ones)."""
    demo = build_demo(tmp_path / "demo", now=NOW, timezone="Europe/Berlin")
    check("session", "\n".join(run(demo, argv, user, monkeypatch) for user, argv in SESSION))
