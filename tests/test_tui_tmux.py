"""Smoke test in a real terminal: `igor-tui --demo` inside a tmux pane, driven with send-keys and read
with capture-pane, the way a user over SSH sees it (80×24 and 120×40)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
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


def test_time_cursor_at_80x24_shows_the_viewed_time(tmp_path: Path) -> None:
    """Finding 4 in a real terminal: at 80×24, t and → → put the viewed moment (day and time, about
    2 h ahead) whole on the top line, and Esc brings back NOW."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (Debian package tmux)")
    session = f"igor-{uuid.uuid4().hex[:8]}"
    env = f"env -i PATH=/usr/bin:/bin HOME={tmp_path} TERM=xterm-256color LANG=C.UTF-8 TZ=UTC"
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", f"{env} {_tui()} --demo")
    try:
        _wait_for(session, "rack 1")
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "t")
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "Right", "Right")
        now = datetime.now(UTC)
        top, ahead = "", timedelta(0)
        end = time.monotonic() + 10
        while time.monotonic() < end and ahead < timedelta(hours=1, minutes=29):
            top = _tmux("capture-pane", "-p", "-t", session).splitlines()[0]
            found = re.search(r"viewing: +(\w{3} \w{3} \d\d \d\d:\d\d) ", top)
            if found is not None:
                viewed = datetime.strptime(f"{now.year} {found.group(1)} +0000", "%Y %a %b %d %H:%M %z")
                ahead = viewed - now
            time.sleep(0.2)
        assert timedelta(hours=1, minutes=29) <= ahead <= timedelta(hours=2, minutes=31), top
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, "NOW")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
