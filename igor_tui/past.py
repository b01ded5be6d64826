"""The cluster at any moment, past or future: live reservations plus the archived ones that held nodes then.

"What ran on kn12 last Tuesday?" is answered by `igor show -at` and by the TUI's time cursor; the ended
reservations come from the store's archive (`IgorService.past_reservations`, see archive.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .model import ClusterView, Reservation
from .values import replace


def view_at(view: ClusterView, past: Iterable[Reservation], at: datetime) -> ClusterView:
    """The cluster as it was (or is booked to be) at `at`: the view's clock set to `at`, holding the
    reservations that had not ended by then, live ones and ended ones alike (`igor show -at`, the TUI's
    time cursor before now). Node health stays the last observation: igor has no other."""
    known = {r.id: r for r in past}
    known.update((r.id, r) for r in view.reservations)
    kept = tuple(sorted((r for r in known.values() if r.end > at), key=lambda r: (r.start, r.id)))
    return replace(view, now=at, reservations=kept)
