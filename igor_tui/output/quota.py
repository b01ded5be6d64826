"""`igor quota` as text and the speculation table's quota marks: use against limits in the words the
refusals use (node-hours, nodes at once), so a user can see how close they are before they are refused."""

from __future__ import annotations

from collections.abc import Sequence

from ..typenames import TYPE_CHECKING
from .show import QUOTA_MARK

if TYPE_CHECKING:
    from typing import IO

    from ..service.quota import QuotaUse


def render_quota(use: QuotaUse, out: IO[str]) -> None:
    """Two lines, one per measure: the use, the limit (or unlimited) and the igor.conf entry that sets it."""
    hours_limit, nodes_limit = use.limit.node_hours, use.limit.concurrent_nodes
    hours_from, nodes_from = use.source
    plural = "" if use.reservations == 1 else "s"
    exempt = ", an admin: exempt" if use.exempt else ""
    out.write(f"Quota of {use.user} ({use.reservations} live or future reservation{plural}{exempt}):\n")
    hours = f"{hours_limit:,} (quota {hours_from!r})" if hours_limit is not None else "unlimited"
    nodes = f"{nodes_limit} (quota {nodes_from!r})" if nodes_limit is not None else "unlimited"
    out.write(f"  node-hours:        {use.used_text} of {hours}\n")
    out.write(f"  concurrent nodes:  {use.peak_nodes} at the peak, of {nodes}\n")


def render_refusals(refusals: Sequence[str], out: IO[str]) -> None:
    """Under the speculation table: what the marked rows mean, said once (the first refusal's sentence;
    the others differ only in the peak they meet)."""
    marked = [why for why in refusals if why]
    if not marked:
        return
    which = "every option" if len(marked) == len(refusals) else f"options marked {QUOTA_MARK}"
    out.write(f"Your quota refuses {which}: {marked[0]}\n")
