"""Ended reservations rebuilt from the action log, until the store keeps an archive of its own.

"What ran on kn12 last Tuesday?" is answered by scrolling the timeline back; the store forgets a
reservation once it has ended and been torn down, but the JSON-lines log remembers its life (created,
extended, deleted early). This is the stand-in behind `IgorService.past_reservations`; the store's
archive (issue 11) replaces it with the same signature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .model import ClusterView, Reservation
from .stats import collect_usage

if TYPE_CHECKING:  # type checkers see the standard function; values.py has a faster one for the CLI
    from dataclasses import replace
else:
    from .values import replace


def past_from_events(
    events: Iterable[dict[str, Any]],
    start: datetime,
    end: datetime,
    now: datetime,
    expand: Callable[[str], tuple[str, ...]],
) -> list[Reservation]:
    """Reservations that had ended by `now` and whose window overlaps [start, end), in start order.

    A reservation deleted early ends at its actual end, so the past shows what really held the nodes."""
    out: list[Reservation] = []
    for rec in collect_usage(events).values():
        finished = rec.actual_end if rec.actual_end is not None and rec.actual_end < rec.end else rec.end
        if finished > now or not (rec.start < end and start < finished) or finished <= rec.start:
            continue
        try:
            nodes = expand(rec.nodes)
        except Exception:  # noqa: BLE001 - a node list the config no longer knows: skip, never fail a view
            continue
        out.append(
            Reservation(id=rec.id, name=rec.name, owner=rec.owner, start=rec.start, end=finished, nodes=nodes)
        )
    out.sort(key=lambda r: (r.start, r.id))
    return out


def view_at(view: ClusterView, past: Iterable[Reservation], at: datetime) -> ClusterView:
    """The cluster as it was (or is booked to be) at `at`: the view's clock set to `at`, holding the
    reservations that had not ended by then, live ones and ended ones alike (`igor show -at`, the TUI's
    time cursor before now). Node health stays the last observation: igor has no other."""
    known = {r.id: r for r in past}
    known.update((r.id, r) for r in view.reservations)
    kept = tuple(sorted((r for r in known.values() if r.end > at), key=lambda r: (r.start, r.id)))
    return replace(view, now=at, reservations=kept)
