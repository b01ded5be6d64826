"""Smoke test in a real terminal: `igor-tui --demo` inside a tmux pane, driven with send-keys and read
with capture-pane, the way a user over SSH sees it (80×24 and 120×40)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import igor_executable

pytestmark = [pytest.mark.real, pytest.mark.slow]


def _tui() -> str:
    return str(Path(igor_executable()).with_name("igor-tui"))


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=10).stdout


def _wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} did not appear within {timeout} s; the pane shows:\n{screen}")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_demo_in_tmux(size: tuple[int, int], tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (Debian package tmux)")
    width, height = size
    session = f"igor-{uuid.uuid4().hex[:8]}"
    env = f"env -i PATH=/usr/bin:/bin HOME={tmp_path} TERM=xterm-256color LANG=C.UTF-8 TZ=UTC"
    _tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), f"{env} {_tui()} --demo")
    try:
        screen = _wait_for(session, "rack 1")
        assert "rack 2" in screen  # two racks side by side even at 80 columns
        assert " 41" in screen  # rack numbers
        assert "Help" in screen and "Quit" in screen  # the footer keeps its most needed keys at 80 columns
        assert "alice" in screen
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "right")
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "Enter")
        screen = _wait_for(session, "Node kn2")  # the node detail dialog opened for the cursor's node
        assert "state now" in screen
        _tmux("send-keys", "-t", session, "Escape")
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "?")
        screen = _wait_for(session, "igor-tui keys")
        _tmux("send-keys", "-t", session, "Escape")
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "q")
        end = time.monotonic() + 10
        while time.monotonic() < end:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True, check=False)
            if alive.returncode != 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("igor-tui did not quit on q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
