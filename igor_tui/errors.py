"""One exception family so every front end can turn a failure into the same sentence and exit code."""

from __future__ import annotations

from .typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Slot


class IgorError(Exception):
    """Base of every failure igor reports to a user; `str(err)` is the sentence to show."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(IgorError):
    """The command line itself is wrong (unknown flag, missing argument)."""

    exit_code = 2


class ConfigError(IgorError):
    """igor.conf is missing, unreadable, unsafe or invalid; carries every problem found, not the first."""

    exit_code = 2

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        if problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(message)
        self.problems = problems


class ValidationError(IgorError):
    """A request is malformed: bad name, unparseable time, missing file, control characters ..."""


class ScheduleError(IgorError):
    """The request is well formed but cannot be placed (too big, nodes unknown, cannot extend)."""


class LimitError(ScheduleError):
    """The request exceeds a site limit (nodelimit, timelimit, extendwithin) for a non-admin."""


class PermissionDenied(IgorError):
    """The caller may not touch this reservation or use this option."""


class NotFound(IgorError):
    """No reservation (or node) by that name."""


class Conflict(IgorError):
    """The request clashes with existing state, e.g. a duplicate reservation name."""


class PlanChanged(Conflict):
    """A front end asked to book the plan it showed, and the schedule moved in between (another booking,
    an end, a block): nothing was booked. `slot` is what the booking would get now."""

    def __init__(self, message: str, slot: Slot) -> None:
        super().__init__(message)
        self.slot = slot


class StoreError(IgorError):
    """The state store is locked too long, unreadable, or from a newer igor."""


class BackendError(IgorError):
    """An external system (PXE files, Cobbler, power, switch) failed; names the node and command."""
