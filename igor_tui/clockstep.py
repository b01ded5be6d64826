"""Noticing a wall clock that jumped ahead, so a bad clock cannot end reservations before their time.

igor-tick decides teardowns and expiry from the wall clock, which NTP, an admin's `date -s` or a broken
RTC can step by hours in an instant. CLOCK_BOOTTIME cannot be stepped: it counts seconds since boot,
suspend included. Each tick that trusts the clock records a baseline (wall, boottime, boot id) in
statedir; the next one expects the wall clock to have moved by what boottime moved. A jump ahead beyond
`clockstepminutes` holds every destructive transition until an admin accepts the new time
(`igor tick --accept-clock-step`) or the clock comes back; after a reboot (a new boot id) boottime
restarts, so there is nothing to compare with and the tick proceeds and records a fresh baseline.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from .typenames import TYPE_CHECKING
from .values import dataclass

if TYPE_CHECKING:
    from .model import Install
    from .tickplan import Action


BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
STATE_NAME = "tick.clock"


def read_boot_id() -> str:
    """This boot's random id from the kernel ('' where there is none: then every run looks like a new
    boot and nothing is ever held, which is what igor did before)."""
    try:
        with open(BOOT_ID_PATH, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def read_boottime() -> float:
    """Seconds since boot, suspend included; libfaketime and `date -s` leave it alone."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the last trusting tick saw: the wall clock and CLOCK_BOOTTIME at the same instant."""

    wall: datetime
    boottime: float
    boot_id: str


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """The verdict for one run: `held` when the wall clock is `step` ahead of `trusted` (the baseline's
    wall time plus the boottime elapsed since), with the sentence saying so."""

    held: bool = False
    step: timedelta = timedelta(0)
    trusted: datetime | None = None
    reason: str = ""

    @property
    def step_minutes(self) -> int:
        """Whole minutes, towards zero (a few seconds either way are 0)."""
        return int(self.step.total_seconds() / 60)


class ClockGuard:
    """The baseline file and the comparison. The boot id and boottime sources are injectable for tests
    through the service factory only (never through the environment, which a sudo caller controls)."""

    def __init__(
        self,
        path: str,
        threshold_minutes: int,
        *,
        boot_id: Callable[[], str] = read_boot_id,
        boottime: Callable[[], float] = read_boottime,
    ) -> None:
        self.path = path
        self.threshold = timedelta(minutes=threshold_minutes)
        self._boot_id = boot_id
        self._boottime = boottime

    def baseline(self) -> Baseline | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            return Baseline(
                wall=datetime.fromisoformat(data["wall"]),
                boottime=float(data["boottime"]),
                boot_id=str(data["boot_id"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none yet, or unreadable: nothing to compare with, as after a reboot

    def check(self, wall: datetime) -> ClockCheck:
        """Compare `wall` with the baseline; read-only."""
        base = self.baseline()
        if base is None or not base.boot_id or base.boot_id != self._boot_id():
            return ClockCheck()
        trusted = base.wall + timedelta(seconds=self._boottime() - base.boottime)
        step = wall - trusted
        if step <= self.threshold:
            return ClockCheck(step=step, trusted=trusted)
        minutes = int(step.total_seconds() / 60)
        limit = int(self.threshold.total_seconds() // 60)
        reason = (
            f"the wall clock jumped {minutes} minutes ahead since the last tick (more than clockstepminutes "
            f"{limit}): teardowns and expiry are held until an admin runs 'igor tick --accept-clock-step' "
            "or the clock comes back"
        )
        return ClockCheck(held=True, step=step, trusted=trusted, reason=reason)

    def settle(self, wall: datetime, check: ClockCheck) -> None:
        """After a run that was not held: `wall` becomes the baseline. A held run keeps the old one, so
        every later run still compares with a time that was trusted; `accept` is how an admin moves it
        on. (A jump back is re-baselined: it ends nothing early, and should the clock later jump forward
        again, holding once too often is the safe mistake.)"""
        if not check.held:
            self.accept(wall)

    def accept(self, wall: datetime) -> None:
        """Trust `wall` from now on: write the baseline atomically."""
        data = {"wall": wall.isoformat(), "boottime": self._boottime(), "boot_id": self._boot_id()}
        tmp = f"{self.path}.tmp"
        with contextlib.suppress(OSError):
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.write("\n")
            os.replace(tmp, self.path)


def hold_destructive(
    actions: Sequence[Action], installs: Mapping[int, Install]
) -> tuple[list[Action], list[Action]]:
    """Split a plan made at the trusted time into (what may run, what is held) while a step is held.

    Every teardown step is held. Installs of reservations whose start has come *by the trusted time*
    (baseline plus CLOCK_BOOTTIME elapsed, which no one can step) may run: such a reservation really has
    started, and the scheduler never gave its nodes to anyone else for that window. The one exception is
    a node still held by another reservation's install record whose teardown is being held: installing
    over it would clobber that reservation's boot config, so that reservation's whole setup waits too."""
    held = [a for a in actions if a.step.teardown]
    held_ids = {a.res_id for a in held}
    busy = {n for res_id, inst in installs.items() if res_id in held_ids for n in inst.nodes}
    waiting = {a.res_id for a in actions if not a.step.teardown and busy.intersection(a.nodes)}
    keep = [a for a in actions if not a.step.teardown and a.res_id not in waiting]
    held += [a for a in actions if not a.step.teardown and a.res_id in waiting]
    return keep, held
