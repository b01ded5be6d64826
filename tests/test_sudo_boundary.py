"""Issue 11's attacks, run the way a user on a head node runs igor: real accounts, real sudo, the project's
own sudoers rule and wrapper (tests/sudo_rig.py). Each refusal is checked for its sentence, a non-zero
exit, and nothing changed on disk (every file of the state dir and the TFTP root hashed before and after).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sudo_rig
from sudo_rig import ALICE, BOB, SECRET, SERVICE, SudoRig

pytestmark = pytest.mark.real

EVIL = {
    "tftproot": "/tmp",
    "prefix": "kn",
    "start": 1,
    "end": 20,
    "admins": [ALICE],
    "poweroncommand": "sh -c 'id > /tmp/igor-rig-pwned' %s",
    "poweroffcommand": "sh -c 'id > /tmp/igor-rig-pwned' %s",
}


@pytest.fixture(scope="module")
def rig() -> Iterator[SudoRig]:
    why = sudo_rig.missing()
    if why:
        pytest.skip(why)
    with sudo_rig.build() as built:
        yield built


def refused(proc: subprocess.CompletedProcess[str], line: str, code: int | None = None) -> None:
    """One line on stderr, exactly `line`; nothing on stdout; a non-zero exit (`code` if given)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 0 and (code is None or proc.returncode == code), (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [line], proc.stderr


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def evil_config(rig: SudoRig, name: str = "evil.conf", mode: int = 0o644) -> Path:
    return rig.write_as(ALICE, rig.home(ALICE) / name, json.dumps(EVIL).encode(), mode)


def foreign(path: Path, owner: str, mode: str) -> str:
    return (
        f"config {path} refused: igor acts for {ALICE} here, so its config must be owned by root or igor "
        f"with mode 0600 or 0400 (it is owned by {owner}, mode {mode})"
    )


def book(rig: SudoRig, user: str, name: str) -> None:
    ok(rig.run_as(user, "igor", "sub", "-r", name, "-n", "1", "-t", "10m", *rig.boot(user)))


PREFIX = {"igor": "igor", "igor-tui": "igor-tui", "igor-tick": "igor"}
VERB = {"igor": ("del", "bobs"), "igor-tui": (), "igor-tick": ()}


@pytest.fixture(scope="module")
def bobs(rig: SudoRig) -> str:
    """A reservation of bob's, the target of alice's attacks."""
    book(rig, BOB, "bobs")
    return "bobs"


# ---------------------------------------------------------------------------------- item 1: config


@pytest.mark.parametrize("program", ["igor", "igor-tui", "igor-tick"])
def test_a_foreign_config_by_option_is_refused(rig: SudoRig, bobs: str, program: str) -> None:
    evil = evil_config(rig)
    before = rig.disk()
    proc = rig.run_as(ALICE, program, "--config", str(evil), *VERB[program])
    refused(proc, f"{PREFIX[program]}: {foreign(evil, ALICE, '0644')}", 2)
    assert rig.disk() == before
    assert not Path("/tmp/igor-rig-pwned").exists()


@pytest.mark.parametrize("program", ["igor", "igor-tui", "igor-tick"])
def test_a_foreign_config_by_environment_is_refused(rig: SudoRig, bobs: str, program: str) -> None:
    evil = evil_config(rig)
    before = rig.disk()
    proc = rig.run_as(ALICE, program, *VERB[program], env={"IGOR_CONFIG": str(evil)})
    refused(proc, f"{PREFIX[program]}: {foreign(evil, ALICE, '0644')}", 2)
    assert rig.disk() == before


def test_a_world_readable_root_config_is_refused(rig: SudoRig, bobs: str) -> None:
    """Owner alone is not enough: a root-owned config others can read (an old copy left at 0644) may hold
    secrets a caller could read, or be a file some other process of theirs wrote through."""
    old = rig.write_as("root", rig.base / "etc" / "old.conf", json.dumps(EVIL).encode(), 0o644)
    before = rig.disk()
    refused(
        rig.run_as(ALICE, "igor", "--config", str(old), "del", bobs), f"igor: {foreign(old, 'root', '0644')}"
    )
    assert rig.disk() == before


def test_a_published_kernel_never_passes_as_a_config(rig: SudoRig, bobs: str) -> None:
    """The laundering: alice's "kernel" is a valid evil config; once published, the copy is owned by igor,
    but world-readable (0644), so the mode rule refuses it."""
    evil = evil_config(rig, "kernel-that-is-a-config")
    ok(
        rig.run_as(
            ALICE,
            "igor",
            "sub",
            "-r",
            "launder",
            "-n",
            "1",
            "-t",
            "10m",
            "-k",
            str(evil),
            "-i",
            rig.boot(ALICE)[3],
        )
    )
    copies = [
        p
        for top in (rig.statedir, rig.tftproot)
        for p in top.rglob("*")
        if p.is_file() and p.read_bytes() == evil.read_bytes()
    ]
    assert copies, "the kernel was not published"
    before = rig.disk()
    for copy in copies:
        refused(
            rig.run_as(ALICE, "igor", "--config", str(copy), "del", bobs),
            f"igor: {foreign(copy, SERVICE, '0644')}",
        )
    assert rig.disk() == before
    ok(rig.run_as(ALICE, "igor", "del", "launder"))


def test_a_group_writable_config_is_refused_for_the_service_too(rig: SudoRig) -> None:
    loose = rig.base / "etc" / "loose.conf"
    rig.write_as(SERVICE, loose, rig.config.read_bytes(), 0o660)
    before = rig.disk()
    line = (
        f"config {loose} refused: it is group-writable (mode 0660), so others could change poweroncommand "
        f"and run commands as igor; run chmod 600 {loose}"
    )
    refused(rig.run_as(ALICE, "igor", "--config", str(loose), "show"), f"igor: {line}", 2)
    refused(rig.run_service("igor-tick", "--config", str(loose)), f"igor: {line}", 2)
    assert rig.disk() == before


def test_a_power_template_with_an_unbalanced_quote_is_a_config_error(rig: SudoRig) -> None:
    bad = rig.base / "etc" / "bad-template.conf"
    data = json.loads(rig.config.read_text())
    data["poweroncommand"] = "ipmitool -H '%s chassis power on"
    rig.write_as(SERVICE, bad, json.dumps(data).encode(), 0o600)
    before = rig.disk()
    proc = rig.run_as(ALICE, "igor", "--config", str(bad), "show")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"igor: {bad}: 1 problem(s) in config",
        '  - poweroncommand: "ipmitool -H \'%s chassis power on" cannot be split into a command '
        "(No closing quotation); check its quotes",
    ]
    assert rig.disk() == before


# ---------------------------------------------------------------------------- item 2: boot files


def denied(path: Path | str, what: str = "kernel") -> str:
    return f"igor: {what} {path}: permission denied: {ALICE} cannot read it"


def test_the_service_users_secret_file_is_not_published(rig: SudoRig) -> None:
    before = rig.disk()
    proc = rig.run_as(
        ALICE, "igor", "sub", "-r", "steal", "-n", "1", "-k", str(rig.config), "-i", str(rig.config)
    )
    refused(proc, denied(rig.config), 1)
    assert rig.disk() == before
    proc = rig.run_as(
        ALICE, "igor", "sub", "-r", "steal", "-n", "1", *rig.boot(ALICE)[:2], "-i", str(rig.config)
    )
    refused(proc, denied(rig.config, "initrd"), 1)
    assert rig.disk() == before
    assert not any(SECRET.encode() in data for data in rig.content_bytes())


def test_a_file_in_a_directory_the_caller_cannot_enter_is_not_published(rig: SudoRig) -> None:
    hidden = rig.base / "igor-only" / "vmlinuz"
    before = rig.disk()
    proc = rig.run_as(
        ALICE, "igor", "sub", "-r", "steal", "-n", "1", "-k", str(hidden), "-i", rig.boot(ALICE)[3]
    )
    refused(proc, denied(hidden), 1)
    assert rig.disk() == before


def test_a_symlink_the_caller_owns_does_not_help(rig: SudoRig) -> None:
    link = rig.link_as(ALICE, rig.home(ALICE) / "innocent-kernel", rig.config)
    before = rig.disk()
    proc = rig.run_as(
        ALICE, "igor", "sub", "-r", "steal", "-n", "1", "-k", str(link), "-i", rig.boot(ALICE)[3]
    )
    refused(proc, denied(link), 1)
    edit = rig.run_as(ALICE, "igor", "edit", "-r", "bobs", "-k", str(link))  # not even as a probe
    assert edit.returncode != 0 and SECRET not in edit.stderr
    assert rig.disk() == before


def test_edit_reads_the_new_kernel_with_the_callers_rights(rig: SudoRig) -> None:
    book(rig, ALICE, "mine")
    before = rig.disk()
    refused(rig.run_as(ALICE, "igor", "edit", "-r", "mine", "-k", str(rig.config)), denied(rig.config), 1)
    assert rig.disk() == before
    ok(rig.run_as(ALICE, "igor", "del", "mine"))


def test_a_symlink_swapped_in_a_loop_never_publishes_the_secret(rig: SudoRig) -> None:
    """200 subs (4 at a time) of a symlink a thread keeps swapping between alice's kernel and igor's 0600
    config: each sub either publishes alice's kernel or is refused with the sentence; never the config."""
    home = rig.home(ALICE)
    link = home / "swap"
    link.unlink(missing_ok=True)
    link.symlink_to(home / "vmlinuz")
    stop = threading.Event()
    swaps = 0

    def swap() -> None:
        nonlocal swaps
        while not stop.is_set():
            tmp = home / f".swap.{swaps}"
            tmp.symlink_to(rig.config if swaps % 2 == 0 else home / "vmlinuz")
            os.replace(tmp, link)
            swaps += 1

    def sub(i: int) -> subprocess.CompletedProcess[str]:
        return rig.run_as(
            ALICE,
            "igor",
            "sub",
            "-r",
            f"race{i}",
            "-n",
            "1",
            "-t",
            "1m",
            "-k",
            str(link),
            "-i",
            rig.boot(ALICE)[3],
        )

    swapper = threading.Thread(target=swap)
    swapper.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(sub, range(200)))
    finally:
        stop.set()
        swapper.join()
    published = sum(1 for p in results if p.returncode == 0)
    refusals = [p for p in results if p.returncode != 0]
    for proc in refusals:
        assert proc.stderr.splitlines() == [denied(link)], proc.stderr
    assert not any(SECRET.encode() in data for data in rig.content_bytes())
    print(
        f"symlink race: {published} published, {len(refusals)} refused, {swaps} swaps, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert published > 0 and refusals, "the swap never raced a sub: the test proved nothing"


# ---------------------------------------------------------------------------- item 6: input limits


def test_a_name_with_a_trailing_newline_is_refused(rig: SudoRig) -> None:
    before = rig.disk()
    proc = rig.run_as(ALICE, "igor", "sub", "-r", "foo\n", "-n", "1", *rig.boot(ALICE))
    refused(
        proc,
        "igor: invalid reservation name 'foo\\n': use only letters, digits, '-' and '_' "
        "(and do not start with '-')",
        1,
    )
    assert rig.disk() == before


def test_oversized_kernel_args_are_refused(rig: SudoRig) -> None:
    before = rig.disk()
    proc = rig.run_as(ALICE, "igor", "sub", "-r", "big", "-n", "1", "-c", "x" * 120_000, *rig.boot(ALICE))
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert re.fullmatch(
        r"igor: kernel arguments are 120000 bytes long; the limit is \d+, so that with the kernel and initrd "
        r"paths they fit PXELINUX's 2047-character kernel command line\n",
        proc.stderr,
    )
    assert rig.disk() == before


# ------------------------------------------------------------------------ regressions that hold today


def test_exported_sudo_user_user_and_logname_impersonate_nobody(rig: SudoRig) -> None:
    fake = {"SUDO_USER": BOB, "USER": BOB, "LOGNAME": BOB}
    out = ok(
        rig.run_as(
            ALICE, "igor", "sub", "-r", "whoami", "-n", "1", "-t", "10m", *rig.boot(ALICE), "--json", env=fake
        )
    )
    assert json.loads(out)["owner"] == ALICE
    before = rig.disk()
    proc = rig.run_as(ALICE, "igor", "del", "bobs", env=fake)
    assert proc.returncode != 0 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert rig.disk() == before
    ok(rig.run_as(ALICE, "igor", "del", "whoami"))


@pytest.mark.parametrize(
    "argv",
    [
        ("del", "bobs"),
        ("edit", "-r", "bobs", "-c", "quiet"),
        ("edit", "-r", "bobs", "-owner", ALICE),
        ("extend", "-r", "bobs", "-t", "10m"),
    ],
)
def test_cross_user_actions_are_refused(rig: SudoRig, bobs: str, argv: tuple[str, ...]) -> None:
    before = rig.disk()
    proc = rig.run_as(ALICE, "igor", *argv)
    assert proc.returncode != 0 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("igor: "), proc.stderr
    assert rig.disk() == before


def test_the_switch_password_appears_in_no_output(rig: SudoRig, bobs: str) -> None:
    runs = [
        rig.run_as(ALICE, "igor", "show"),
        rig.run_as(ALICE, "igor", "show", "--json"),
        rig.run_as(ALICE, "igor", "sub", "-r", "pw", "-n", "1", "-t", "10m", *rig.boot(ALICE), "--json"),
        rig.run_as(ALICE, "igor", "del", "bobs"),
        rig.run_as(ALICE, "igor", "sub", "-r", "x", "-n", "1", "-k", str(rig.config), "-i", str(rig.config)),
        rig.run_as(ALICE, "igor", "doctor"),
        rig.run_as(ALICE, "igor", "doctor", "--json"),
        rig.run_as(ALICE, "igor", "del", "pw"),
        rig.run_service("igor-tick"),
        rig.run_service("igor", "tick", "--json"),
    ]
    for proc in runs:
        assert SECRET not in proc.stdout + proc.stderr, proc.args
    if rig.logfile.exists():
        assert SECRET not in rig.logfile.read_text()
