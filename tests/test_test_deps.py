"""scripts/test-deps: silent when every package is there; otherwise one line naming what is missing and
which tests that skips, and `make test` goes on (exit 0). Run with a dpkg-query stand-in and a PATH
without apt-get, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test-deps"


def run_deps(tmp_path: Path, *args: str, absent: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The script on a PATH holding only the shell tools it uses and a dpkg-query that reports every
    package it is asked about installed, except `absent`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "sed", "tr", "id"):
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, bindir / tool)
    dpkg_query = bindir / "dpkg-query"
    dpkg_query.write_text(
        '#!/bin/sh\nshift 3  # -W -f FORMAT\nfor pkg in "$@"; do\n    case " $ABSENT " in\n'
        '        *" $pkg "*) ;;\n        *) printf \'ii %s\\n\' "$pkg" ;;\n    esac\ndone\n'
    )
    dpkg_query.chmod(0o755)
    env = {"PATH": str(bindir), "ABSENT": " ".join(absent)}
    return subprocess.run(
        [str(bindir / "bash"), str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False
    )


def test_nothing_missing_says_nothing(tmp_path: Path) -> None:
    proc = run_deps(tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_missing_packages_are_one_line_naming_them_and_the_tests_that_skip(tmp_path: Path) -> None:
    proc = run_deps(tmp_path, absent=("rsync", "zsh", "libmagic1"))
    assert proc.returncode == 0, "make test must go on"
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    why = "not root" if os.geteuid() else "no apt-get"
    assert lines[0].startswith(
        f"test-deps: missing Debian packages rsync libmagic1 zsh ({why}, so not installed)"
    )
    skips = lines[0].split("these skip: ", 1)[1]
    assert skips.split("; ") == [
        "Cobbler tests (test_cobbler, test_cli, test_tick_e2e, test_tick_crash, test_netboot_e2e)",
        "test_completion (zsh)",
    ], "each skipped test once, in list order"


def test_a_missing_package_no_test_needs_says_so(tmp_path: Path) -> None:
    proc = run_deps(tmp_path, "screenshots", absent=("librsvg2-bin",))
    assert proc.returncode == 0
    assert "missing Debian packages librsvg2-bin" in proc.stderr
    assert "nothing skips" in proc.stderr


def test_an_unknown_list_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_deps(tmp_path, "everything")
    assert proc.returncode == 2
    assert proc.stderr == "test-deps: unknown list 'everything' (expected suite or screenshots)\n"
