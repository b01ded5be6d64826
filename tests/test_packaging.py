"""The wheel installs into a fresh virtualenv and its console scripts, `python -m igor_tui` and
`igor setup` (which needs the packaged contrib/ files) work from there, with no development files."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from test_setup_doctor import make_root, setup_env

REPO = Path(__file__).resolve().parent.parent
# pip's words for "the package index cannot be reached", as opposed to a broken wheel or dependency.
UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
    "Could not find a version that satisfies",
)


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (wheel,) = out.glob("igor_tui-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_carries_the_package_data_and_no_development_files(tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    for required in (
        "igor_tui/__main__.py",
        "igor_tui/igor.tcss",
        "igor_tui/py.typed",
        "igor_tui/screens/dashboard.py",
        "igor_tui/widgets/rack_grid.py",
        "igor_tui/backends/pxe.py",
        "igor_tui/data/igor.conf.example",
        "igor_tui/data/contrib/igor.cron",
        "igor_tui/data/contrib/igor-tick.service",
        "igor_tui/data/contrib/igor-tick.timer",
        "igor_tui/data/contrib/igor.sudoers",
        "igor_tui/data/contrib/igor-wrapper.sh",
    ):
        assert required in names, required
    top = {name.split("/")[0] for name in names}
    assert top == {"igor_tui", "igor_tui-0.1.0.dist-info"}, top


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_its_commands_run(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bindir = env_dir / "bin"
    install = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if install.returncode != 0:
        if any(word in install.stderr for word in UNREACHABLE):
            pytest.skip(
                f"the package index is unreachable, dependencies cannot be installed: {install.stderr}"
            )
        pytest.fail(f"pip install {wheel.name} failed:\n{install.stderr}")

    for program, text in (
        ("igor", "usage: igor"),
        ("igor-tick", "usage: igor tick"),
        ("igor-tui", "igor-tui"),
    ):
        proc = subprocess.run([str(bindir / program), "--help"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert text in proc.stdout
    proc = subprocess.run(
        [str(bindir / "python"), "-m", "igor_tui", "version"], capture_output=True, text=True, check=False
    )
    assert proc.stdout == "igor 0.1.0\n", proc.stderr

    # setup reads contrib/ and igor.conf.example from the installed package, not from this checkout.
    root = make_root(tmp_path)
    proc = subprocess.run(
        [str(bindir / "igor"), "setup", "--root", str(root), "--tftproot", "/srv/tftp", "--yes"],
        env=setup_env(tmp_path, IGOR_SETUP_VISUDO="/bin/true"),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (root / "etc/cron.d/igor").read_text() == (REPO / "contrib/igor.cron").read_text()
    assert '"tftproot": "/srv/tftp"' in (root / "etc/igor.conf").read_text()
