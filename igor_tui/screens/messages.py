"""Messages that carry worker results back to the UI thread (errors travel as messages too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.message import Message

from ..errors import IgorError
from ..model import ClusterView, Reservation


class ViewLoaded(Message):
    """A fresh snapshot of the cluster; bursts coalesce so a slow screen only draws the newest."""

    def __init__(self, view: ClusterView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ViewLoaded)


class PastLoaded(Message):
    """Ended reservations overlapping [since, now), for the timeline and the racks at past moments."""

    def __init__(self, reservations: tuple[Reservation, ...], since: datetime) -> None:
        super().__init__()
        self.reservations = reservations
        self.since = since


class ActionDone(Message):
    """A store or backend action finished: say so, and refresh the view at once."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ActionFailed(Message):
    """A store or backend action was refused or failed: the text is what the CLI would print."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def outcome(call: Callable[[], str]) -> ActionDone | ActionFailed:
    """Run one service call (in a worker thread) and say how it went: a refusal (IgorError) or the
    system's error (OSError) comes back as its text, the words the CLI would print; anything else is a bug
    and propagates."""
    try:
        return ActionDone(call())
    except (IgorError, OSError) as err:
        return ActionFailed(str(err))


class ViewFailed(Message):
    """Reading the store failed (unreadable, corrupt, permissions): the text says why."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
