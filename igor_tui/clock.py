"""Where "now" comes from: the system clock in production, a settable one in tests and demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .typenames import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, always UTC so nothing downstream ever sees a naive or local time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to, so tests and snapshots are reproducible."""

    def __init__(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta
