"""Issue 11's two faults, run the way a head node runs igor (tests/sudo_rig.py): users through real sudo, the
tick as the service user the way cron starts it.

- An empty store is damage, not a new store: users and the tick are refused in one line, the file is left
  exactly as it is, and once it is restored every reservation is back.
- A wall clock stepped a day ahead (libfaketime, CLOCK_BOOTTIME left real) makes the tick hold every
  teardown and expiry; when the clock comes back every reservation is still listed and its boot files are
  still in place.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from fault_rig import stepped
from sudo_rig import ALICE, BOB, SudoRig
from test_sudo_boundary import ok, refused, rig

__all__ = ["rig"]  # the module-scoped fixture

pytestmark = pytest.mark.real


def listed(rig: SudoRig, user: str = ALICE) -> set[str]:
    shown = json.loads(ok(rig.run_as(user, "igor", "show", "--json")))
    return {r["name"] for r in shown["reservations"]}


def boot_files(rig: SudoRig) -> dict[str, bytes]:
    cfg = rig.tftproot / "pxelinux.cfg"
    return (
        {p.name: p.read_bytes() for p in cfg.iterdir() if not p.name.startswith(".")} if cfg.is_dir() else {}
    )


def test_an_empty_store_is_refused_and_left_as_it_is(rig: SudoRig) -> None:
    ok(rig.run_as(ALICE, "igor", "sub", "-r", "before-empty", "-n", "1", "-t", "1h", *rig.boot(ALICE)))
    ok(rig.run_service("igor-tick"))  # a working site: boot files installed, the tick's own files in place
    store = rig.statedir / "igor.json"
    saved, stat = store.read_bytes(), store.stat()
    expected = (
        f"igor: the igor store {store} is corrupt (the file is empty); igor will not start over from an "
        "empty store: restore the file from a backup or move it aside"
    )
    try:
        for blank in (b"", b"  \n\t\n"):
            store.write_bytes(blank)  # root truncates it in place: owner and mode stay the service user's
            before = rig.disk()
            for user, argv in (
                (ALICE, ("igor", "show")),
                (BOB, ("igor", "sub", "-r", "after-empty", "-n", "1", "-t", "1h", *rig.boot(BOB))),
                (ALICE, ("igor", "del", "before-empty")),
            ):
                why = "the file is empty" if not blank else "the file holds only whitespace"
                refused(rig.run_as(user, *argv), expected.replace("the file is empty", why))
            tick = rig.run_service("igor-tick")
            assert tick.returncode != 0 and "Traceback" not in tick.stderr, tick.stderr
            assert "is corrupt" in tick.stderr
            assert store.read_bytes() == blank and rig.disk() == before
            assert (store.stat().st_uid, store.stat().st_mode) == (stat.st_uid, stat.st_mode)
    finally:
        store.write_bytes(saved)
    assert "before-empty" in listed(rig)  # restored from the "backup": nothing was lost
    ok(rig.run_as(ALICE, "igor", "del", "before-empty"))
    ok(rig.run_service("igor-tick"))  # tears its boot files down
    assert boot_files(rig) == {}


def test_a_day_ahead_then_the_real_clock_loses_nothing(rig: SudoRig) -> None:
    names = ["step-run0", "step-run1", "step-later0"]
    for name in names[:2]:
        ok(rig.run_as(ALICE, "igor", "sub", "-r", name, "-n", "1", "-t", "2h", *rig.boot(ALICE)))
    ok(rig.run_as(BOB, "igor", "sub", "-r", names[2], "-n", "1", "-t", "2h", "-a", "+3h", *rig.boot(BOB)))
    first = rig.run_service("igor-tick")  # at the real time: installs the running ones, sets the baseline
    assert first.returncode == 0, first.stdout + first.stderr
    installed = boot_files(rig)
    assert len(installed) == 4, installed  # by MAC and by IP for each running node

    ahead = stepped(os.environ, "+1d")
    ahead = {
        k: ahead[k] for k in ("LD_PRELOAD", "FAKETIME", "DONT_FAKE_MONOTONIC", "FAKETIME_DONT_FAKE_MONOTONIC")
    }
    for _ in range(2):  # held, and said, on every run
        held = rig.run_service("igor-tick", env=ahead)
        assert held.returncode != 0 and "Traceback" not in held.stderr, held.stderr
        assert "the wall clock jumped" in held.stdout and "--accept-clock-step" in held.stdout, held.stdout
        assert boot_files(rig) == installed
    # a user cannot accept the step: only admins (and the service user itself) may
    refused_accept = rig.run_as(ALICE, "igor", "tick", "--accept-clock-step")
    assert refused_accept.returncode != 0 and "Traceback" not in refused_accept.stderr

    time.sleep(0.1)
    back = rig.run_service("igor-tick")  # the clock came back
    assert back.returncode == 0 and "jumped" not in back.stdout, back.stdout + back.stderr
    assert set(names) <= listed(rig) and boot_files(rig) == installed
    for name in names:
        ok(rig.run_as(ALICE if name != names[2] else BOB, "igor", "del", name))
    ok(rig.run_service("igor-tick"))
    assert boot_files(rig) == {}
