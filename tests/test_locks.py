"""igor_tui.locks, the one lock helper: exclusive and shared, timeouts with a clear error, one-shot tries,
and flock and portalocker excluding each other."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from igor_tui import locks


@pytest.fixture(params=["flock", "portalocker"])
def locking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(locks, "LOCKING", request.param)
    return str(request.param)


def test_an_exclusive_lock_excludes_everyone_until_released(tmp_path: Path, locking: str) -> None:
    path = str(tmp_path / "x.lock")
    with locks.hold(path):
        with pytest.raises(locks.LockBusy) as caught, locks.hold(path):
            pass
        assert caught.value.path == path
        with pytest.raises(locks.LockBusy), locks.hold(path, shared=True):
            pass
    with locks.hold(path):  # released on leaving the block
        pass


def test_shared_locks_coexist_and_keep_out_an_exclusive_one(tmp_path: Path, locking: str) -> None:
    path = str(tmp_path / "x.lock")
    with (
        locks.hold(path, shared=True),
        locks.hold(path, shared=True),
        pytest.raises(locks.LockBusy),
        locks.hold(path),
    ):
        pass


def test_a_timeout_waits_that_long_and_names_the_file(tmp_path: Path, locking: str) -> None:
    path = str(tmp_path / "x.lock")
    with locks.hold(path):
        started = time.monotonic()
        with pytest.raises(locks.LockBusy) as caught, locks.hold(path, timeout=0.2):
            pass
        assert 0.2 <= time.monotonic() - started < 2.0
    assert str(caught.value) == f"{path} is locked by another process (waited 0.2s)"
    assert isinstance(caught.value, OSError)  # "did I get it?" callers may catch OSError alone


def test_a_waiter_gets_the_lock_once_the_holder_lets_go(tmp_path: Path, locking: str) -> None:
    path = str(tmp_path / "x.lock")
    got = threading.Event()
    with locks.hold(path):

        def wait() -> None:
            with locks.hold(path, timeout=5):
                got.set()

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.05)
        assert not got.is_set()
    thread.join(5)
    assert got.is_set()


def test_flock_and_portalocker_exclude_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "x.lock")
    for holder, waiter in (("flock", "portalocker"), ("portalocker", "flock")):
        monkeypatch.setattr(locks, "LOCKING", holder)
        with locks.hold(path):
            monkeypatch.setattr(locks, "LOCKING", waiter)
            with pytest.raises(locks.LockBusy), locks.hold(path):
                pass


def test_the_lock_file_is_created_never_truncated_and_errors_are_oserrors(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with locks.hold(str(path)):
        pass
    path.write_bytes(b"keep")
    with locks.hold(str(path)):
        pass
    assert path.read_bytes() == b"keep"
    with pytest.raises(FileNotFoundError), locks.hold(str(tmp_path / "missing"), flags=os.O_RDONLY):
        pass
    with pytest.raises(FileNotFoundError), locks.hold(str(tmp_path / "no" / "dir.lock")):
        pass


def test_errors_inside_the_block_pass_through_and_release_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "x.lock")
    with pytest.raises(ValueError, match="inside"), locks.hold(path):
        raise ValueError("inside")
    with locks.hold(path):
        pass
