"""Option combinations argparse cannot refuse by itself, refused in one line before igor reads anything.

Each of these used to be quietly odd: `show -active -future` printed nothing (nothing is both running
and not yet started), `-a ''` meant "now" and `-n 0` meant "no count given". A typo should say what
is wrong instead of doing something the user did not ask for.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import UsageError
from .typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def _sub(ns: argparse.Namespace) -> None:
    if ns.n is not None and ns.n < 1:
        raise UsageError("-n must be at least 1")
    _start(ns)
    ns.n = ns.n or 0
    ns.a = ns.a or ""


def _start(ns: argparse.Namespace) -> None:
    if ns.a is not None and not ns.a.strip():
        raise UsageError("-a needs a start time, e.g. 2026-Dec-01-09:00 or +2h (omit -a for now)")


def _block(ns: argparse.Namespace) -> None:
    _start(ns)
    ns.a = ns.a or ""


def _show(ns: argparse.Namespace) -> None:
    if ns.active and ns.future:
        raise UsageError(
            "-active and -future exclude each other: a reservation is either running or not started yet"
        )


CHECKS: dict[str, Callable[[argparse.Namespace], None]] = {"sub": _sub, "block": _block, "show": _show}
"""Per verb: refuse what makes no sense, then turn the None defaults into the values the service takes."""


def check(verb: str, ns: argparse.Namespace) -> None:
    """Raise UsageError for a combination of options that makes no sense for `verb`."""
    if verb in CHECKS:
        CHECKS[verb](ns)
