"""The CLI (and later igor-tick) must not pay for Textual, plain output not for rich, and nothing that
resolves no node for dnspython."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

PROBE = """
import io, json, os, sys
from igor_tui.cli import run
out, err = io.StringIO(), io.StringIO()
code = run(sys.argv[1:], out, err, os.environ)
top = {m.split(".")[0] for m in sys.modules}
heavy = sorted(top & {"textual", "rich", "paramiko", "requests", "dns"})
slow = sorted(top & {"dataclasses", "inspect", "orjson", "uuid"})
print(json.dumps({"code": code, "heavy": heavy, "slow": slow, "err": err.getvalue()}))
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "igor.conf"
    path.write_text(
        json.dumps(
            {
                "tftproot": str(tmp_path / "tftp"),
                "statedir": str(tmp_path / "state"),
                "prefix": "kn",
                "start": 1,
                "end": 8,
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["version"], set()),
        (["help", "sub"], set()),
        (["show"], set()),
        (["show", "-json"], set()),
        (["sub", "-s", "-n", "2"], set()),
        (["show", "-c"], {"rich"}),
    ],
)
def test_headless_paths_do_not_import_heavy_libraries(
    config: Path, args: list[str], allowed: set[str]
) -> None:
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, result["err"]
    assert set(result["heavy"]) == allowed


@pytest.mark.parametrize("args", [["version"], ["show"], ["show", "-json"], ["sub", "-s", "-n", "2"]])
def test_read_only_paths_do_not_import_start_up_costs(config: Path, args: list[str]) -> None:
    """`dataclasses` (which imports `inspect`) and orjson (which imports dataclasses and uuid) cost ~11 ms
    of every run: igor's value classes come from igor_tui.values, and only writers import orjson."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, result["err"]
    assert result["slow"] == []


def test_booking_paths_do_not_import_start_up_costs(config: Path, tmp_path: Path) -> None:
    """A real booking, an extension and a delete (the commands users run most) load neither
    `dataclasses`/`inspect` (booking_plan's Plan comes from igor_tui.values) nor `tempfile`, `shutil` or
    `threading` (the store and the content area name their temps themselves): ~10 ms of every run."""
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"kernel")
    initrd.write_bytes(b"initrd")
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "alice"}
    probe = PROBE.replace('{"dataclasses",', '{"tempfile", "shutil", "threading", "dataclasses",')
    assert probe != PROBE
    for args in (
        ["sub", "-r", "hygiene", "-k", str(kernel), "-i", str(initrd), "-n", "2", "-t", "60"],
        ["extend", "-r", "hygiene", "-t", "30m"],
        ["del", "hygiene"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, check=True
        )
        result = json.loads(proc.stdout.splitlines()[-1])
        assert result["code"] == 0, (args, result["err"])
        assert result["slow"] == [], args


@pytest.mark.parametrize(
    "args", [["show"], ["show", "-json"], ["sub", "-s", "-n", "2"], ["sub", "-s", "-n", "2", "-json"]]
)
def test_a_cluster_without_host_policies_never_loads_their_code(config: Path, args: list[str]) -> None:
    """Host policies (policy.py, service/, cli/ and output/policies.py) load only where a policy exists,
    and quotas (service/quota.py, output/quota.py) only where igor.conf sets one."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    result = _run_probe(
        args,
        env,
        '"policy": sorted(m for m in sys.modules if m.endswith("policies") or m == "igor_tui.policy"),'
        ' "quota": sorted(m for m in sys.modules if m.endswith(".quota"))',
    )
    assert result["policy"] == []
    assert result["quota"] == []


def _run_probe(args: list[str], env: dict[str, str], extra: str) -> dict[str, Any]:
    """PROBE's JSON line for `igor ARGS`, with `extra` ('"key": expression' pairs evaluated after the
    command) added to it; the command must succeed."""
    probe = PROBE.replace('"err": err.getvalue()}', '"err": err.getvalue(), ' + extra + "}")
    assert probe != PROBE
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, (args, result["err"])
    return result


def _loaded(args: list[str], env: dict[str, str], watched: set[str]) -> list[str]:
    """Which of the `watched` top-level modules `igor ARGS` loads (the command must succeed)."""
    probe = PROBE.replace('{"dataclasses", "inspect", "orjson", "uuid"}', repr(watched))
    assert probe != PROBE
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, (args, result["err"])
    return list(result["slow"])


def test_hot_commands_parse_without_argparse(config: Path, tmp_path: Path) -> None:
    """The hot commands' flags are parsed by cli.flagspec, not argparse: argparse, gettext and the locale
    look-up its messages make cost ~15 M instructions (~3 ms) of every run (issue 14). `-h` and usage
    errors still go to argparse."""
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "alice"}
    watched = {"argparse", "gettext", "locale"}
    for args in _hot_commands(tmp_path, "fast"):
        assert _loaded(args, env, watched) == [], args
    assert _loaded(["sub", "-h"], env, watched) != []  # the probe sees argparse when it is used


def _hot_commands(tmp_path: Path, name: str) -> list[list[str]]:
    """The hot commands in an order that succeeds: version, show, sub -s, a real sub, extend, del."""
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"kernel")
    initrd.write_bytes(b"initrd")
    return [
        ["version"],
        ["show"],
        ["show", "-json", "-c=false"],
        ["sub", "-s", "-n", "2", "-t", "60"],
        ["sub", "-r", name, "-k", str(kernel), "-i", str(initrd), "-n", "2", "-t", "60"],
        ["extend", "-r", name, "-t", "30m"],
        ["del", name],
    ]


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC"])
def test_hot_commands_in_utc_do_not_import_zoneinfo(config: Path, tmp_path: Path, zone: str) -> None:
    """A UTC cluster shows times in datetime.UTC: zoneinfo (which imports sysconfig and its data module
    to find TZPATH, struct and weakref) costs ~8 M instructions (~2 ms) of every command. Another zone
    still loads it, which the probe must see."""
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "timezone": zone}))
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "alice"}
    watched = {"zoneinfo", "_zoneinfo", "sysconfig"}
    for args in _hot_commands(tmp_path, "utc"):
        assert _loaded(args, env, watched) == [], args
    config.write_text(json.dumps({**settings, "timezone": "Europe/Berlin"}))
    assert _loaded(["show"], env, watched) == sorted(watched)


@pytest.mark.parametrize(
    "args",
    [["version"], ["show"], ["show", "-json"], ["sub", "-s", "-n", "2"], ["sub", "-s", "-n", "2", "-json"]],
)
def test_read_only_commands_do_not_import_typing(config: Path, args: list[str]) -> None:
    """igor's modules take typing's names from igor_tui.typenames (annotations stay unevaluated), so the
    read-only commands skip typing: ~16 M instructions (~3.5 ms). A booking loads it through tinydb."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    assert _loaded(args, env, {"typing"}) == []


def test_durations_with_units_do_not_import_fractions(config: Path) -> None:
    """`-t 1h30m` is parsed in integers: fractions (with decimal and numbers) cost ~10 M instructions
    (~2.3 ms) of every command given a duration with units."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    assert _loaded(["sub", "-s", "-n", "2", "-t", "1h30m"], env, {"fractions", "decimal"}) == []


@pytest.mark.parametrize("args", [["show"], ["show", "-json"]])
def test_show_does_not_load_the_booking_code(config: Path, args: list[str]) -> None:
    """The facade imports booking, checks and housekeeping in the methods that use them (and the service
    package re-exports their names lazily): `igor show` books nothing (~4 M instructions), nor parses a
    time (timeparse, ~1 M)."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    result = _run_probe(
        args,
        env,
        '"service": sorted(m for m in sys.modules if m.startswith("igor_tui.service.")),'
        ' "timeparse": "igor_tui.timeparse" in sys.modules',
    )
    assert result["timeparse"] is False  # show parses no time: dates and output.show import it lazily
    assert result["service"] == ["igor_tui.service.facade"]


def test_booking_the_same_boot_files_again_does_not_load_hashlib(config: Path, tmp_path: Path) -> None:
    """A file booked before and unchanged since is found in the content store's digest cache: no read,
    no hashlib (OpenSSL's libcrypto, ~11 M instructions). The first booking of it hashes."""
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"kernel")
    initrd.write_bytes(b"initrd")
    time.sleep(1.1)  # a file changed within the last second is never recorded (content.RACY_NS)
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "alice"}
    boot = ["-k", str(kernel), "-i", str(initrd), "-n", "2", "-t", "60"]
    assert _loaded(["sub", "-r", "first", *boot], env, {"hashlib", "_hashlib"}) == ["_hashlib", "hashlib"]
    assert _loaded(["sub", "-r", "again", *boot], env, {"hashlib", "_hashlib"}) == []


def test_a_config_without_power_templates_does_not_load_shlex(config: Path) -> None:
    """shlex checks poweroncommand/poweroffcommand split like the power backend splits them; a config
    that sets neither (most) does not load it (~1 M instructions of every command)."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    assert _loaded(["show"], env, {"shlex"}) == []
    assert _loaded(["sub", "-s", "-n", "2"], env, {"shlex"}) == []
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "poweroncommand": "powerman -1 %s"}))
    assert _loaded(["show"], env, {"shlex"}) == ["shlex"]


def test_an_idle_tick_reads_the_store_without_tinydb(config: Path, tmp_path: Path) -> None:
    """An idle igor-tick only reads (its install records included): building TinyDB and a query for
    that was ~5% of its instructions at 5,000 reservations. A booking waiting to start is not work,
    and without a hook to run `signal` (which the hook runner needs) is not loaded either."""
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"kernel")
    initrd.write_bytes(b"initrd")
    env = {**os.environ, "IGOR_CONFIG": str(config), "SUDO_USER": "alice"}
    booking = ["sub", "-r", "later", "-k", str(kernel), "-i", str(initrd), "-n", "2", "-t", "60", "-a", "+1d"]
    assert _loaded(booking, env, {"tinydb"}) == ["tinydb"]  # a write does use it
    del env["SUDO_USER"]  # the tick runs as the service account
    for _ in range(2):  # the first run also creates the tick's own files
        assert _loaded(["tick", "--no-probe"], env, {"tinydb", "threading", "signal", "typing"}) == []


def test_show_with_a_host_policy_loads_no_argparse_or_typing(config: Path) -> None:
    """`igor show` draws a cluster's host policies through cli/policies.py: that module must not bring
    back what flagspec and typenames took off the read-only path."""
    env = {**os.environ, "IGOR_CONFIG": str(config)}
    env.pop("SUDO_USER", None)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "igor_tui",
            "policy",
            "add",
            "night",
            "-w",
            "kn[1-2]",
            "-unavailable",
            "0 22 * * *:8h",
        ],
        env=env,
        capture_output=True,
        check=True,
    )
    watched = {"argparse", "gettext", "typing"}
    for args in (["show"], ["show", "-json"]):
        assert _loaded(args, env, watched) == [], args
