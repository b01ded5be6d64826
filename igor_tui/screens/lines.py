"""The dashboard's one-line texts: the top status line and the selected reservation's summary.

Pure functions of model values (no widgets), so the dashboard stays about coordinating its panels and
these texts can be read and changed on their own.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.markup import escape
from rich.text import Text

from ..dates import relative_text, span_text, when_text, zone_name
from ..model import ClusterView, Reservation
from ..viewstate import Moment
from ..widgets.reservation_table import res_flags, time_left


def status_text(
    view: ClusterView, m: Moment, *, at: datetime | None, tz: tzinfo, title: str, width: int
) -> str:
    """The top line, fitted to `width`: the viewed moment is the last thing to go (finding 4), then
    the clock and the caller; the cluster name and the counts go first on a narrow terminal."""
    now = view.now
    past = " (past)" if at is not None and at < now else ""
    viewing = "NOW" if at is None else when_text(at, tz, now, dated=True) + past
    look = f"viewing: [b reverse] {viewing} [/]"
    clock = f"{when_text(now, tz, now, dated=True)} {zone_name(tz, now)}"
    short_clock = f"{when_text(now, tz, now)} {zone_name(tz, now)}"
    who = f"[b]{view.user}[/]" + (" (admin)" if view.is_admin else "")
    down, blocked = len(m.down), len(set(m.blocked))
    counts = f"{down} down · {blocked} blocked · {len(m.holder)}/{len(view.nodes)} held"
    for text in (
        f"[b]igor[/] · {escape(title)} · you: {who} · {clock}   {look}   {counts}",
        f"{look} · {clock} · you: {who} · {counts}",
        f"{look} · {short_clock} · {who} · {down} down · {blocked} blocked",
        f"{look} · {short_clock} · {who}",
    ):
        if Text.from_markup(text).cell_len <= width:
            return text
    return look


def summary_text(res: Reservation, now: datetime, tz: tzinfo, nodes: str, writable: bool) -> str:
    """The selected reservation in full: what a table cell or a narrow column had to leave out."""
    state = "installed" if res.installed else "not installed yet"
    if res.error:
        state = f"[red]install error: {escape(res.error)}[/]"
    left = f"starts {relative_text(res.start, now)}" if res.start > now else time_left(res, now)
    flags = res_flags(res, now, writable)
    return (
        f"[b]{escape(res.name)}[/] ({res.owner}) {escape(nodes)} · "
        f"{span_text(res.start, res.end, tz, now)} · {left} · {flags or '-'} · {state}"
    )
