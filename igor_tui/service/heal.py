"""Heal (`heal: true`): igor-tick swaps a down or blocked node of a running reservation for a free one.

The choice is the scheduler's (`heal_swaps`: free for the rest of the window, never another reservation's
node); this module applies it under the tick's store lock, as an edit would (new nodes, next revision),
so the same tick's plan tears the old node down and installs the new one (tickplan.py). A reservation
for which no node is free is left as it is, and said once in the log, not every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from ..errors import IgorError
from ..model import Reservation
from ..typenames import TYPE_CHECKING
from ..values import dataclass, replace
from .housekeeping import down_nodes

if TYPE_CHECKING:
    from ..eventlog import EventLog
    from ..node_swaps import Swap
    from ..store import Transaction
    from .facade import IgorService

STUCK_KEY = "heal.stuck"
"""`"<res id>:<node>"` -> why, for the nodes no free node could replace at the last tick (logged once)."""


@dataclass(frozen=True, slots=True)
class Healed:
    """A reservation as the heal left it, and what was swapped (or could not be: `Swap.new` empty)."""

    res: Reservation
    swaps: tuple[Swap, ...]


def heal(tx: Transaction, now: datetime, nodes: Sequence[str], tz: tzinfo = UTC) -> list[Healed]:
    """Swap the down or blocked nodes of the reservations active at `now`; each changed one is stored
    with its new nodes, the next revision and the swap in `healed`. Returns every reservation with a
    swap or a newly stuck node (stuck nodes already reported at an earlier tick are not returned).
    A node inside a host policy's window (read in the site's zone `tz`) is never swapped in."""
    from ..node_swaps import heal_swaps

    down = down_nodes(tx.node_status())
    blocks = list(tx.blocks())
    policies = tx.policies()
    before: dict[str, str] = tx.get_value(STUCK_KEY) or {}
    active = [r for r in tx.reservations_started_by(now, ()) if r.is_active(now)]
    if policies and active:
        from ..policy import window_blocks  # only as far as the last active reservation's end

        blocks += window_blocks(policies, tz, now, max(r.end for r in active))
    bad = down | {n for b in blocks if b.start <= now and (b.end is None or now < b.end) for n in b.nodes}
    if not any(n in bad for r in active for n in r.nodes):  # the usual minute: nothing to heal
        if before:
            tx.set_value(STUCK_KEY, {})
        return []
    live = [r for r in tx.reservations() if not r.has_ended(now)]  # all: a swap must be free till the end
    swaps = heal_swaps(nodes, live, now, blocks=blocks, down=down)
    stuck = {f"{s.res_id}:{s.old}": s.why for s in swaps if not s.new}
    if stuck != before:
        tx.set_value(STUCK_KEY, stuck)
    order = {name: i for i, name in enumerate(nodes)}
    out: list[Healed] = []
    for res in live:
        mine = [s for s in swaps if s.res_id == res.id]
        done = [s for s in mine if s.new]
        new_stuck = [s for s in mine if not s.new and f"{s.res_id}:{s.old}" not in before]
        if done:
            gone = {s.old for s in done}
            kept = [n for n in res.nodes if n not in gone]
            res = replace(
                res,
                nodes=tuple(sorted((*kept, *(s.new for s in done)), key=lambda n: order.get(n, 0))),
                revision=res.revision + 1,
                healed=(*res.healed, *(s.text() for s in done)),
            )
            tx.put_reservation(res)
        if done or new_stuck:
            out.append(Healed(res, (*done, *new_stuck)))
    return out


def log_heals(events: EventLog, when: datetime, healed: Sequence[Healed]) -> None:
    """One history line per swap ("healed: kn7 (down) -> kn12"), or per node nothing could replace."""
    for h in healed:
        for s in h.swaps:
            events.append(
                when,
                "healed" if s.new else "unhealed",
                by="igor-tick",
                id=h.res.id,
                name=h.res.name,
                owner=h.res.owner,
                swap=s.text(),
            )


def mail_heals(svc: IgorService, healed: Sequence[Healed], sent: list[str], errors: list[str]) -> None:
    """Tell each owner what was swapped, when mail is set up (domain and a mail server or command),
    adding to the tick report's `sent` and `errors` lists. A failed mail never fails the heal."""
    cfg = svc.config
    if not (cfg.domain and (cfg.mailhost or cfg.mailcommand)):
        return
    from email.message import EmailMessage

    from .notify import mailer_for

    mailer = mailer_for(svc)
    for h in healed:
        swapped = [s for s in h.swaps if s.new]
        if not swapped:
            continue
        to = f"{h.res.owner}@{cfg.domain}"
        msg = EmailMessage()
        msg["From"] = cfg.mailfrom or f"igor@{cfg.domain}"
        msg["To"] = to
        msg["Subject"] = f"igor: reservation {h.res.name} healed"
        lines = [f"igor-tick replaced nodes of your reservation {h.res.name}:", ""]
        lines += [f"  healed: {s.text()}" for s in swapped]
        lines += ["", f"It now holds {svc._nodes_text(h.res.nodes)}; the new nodes are being installed."]
        msg.set_content("\n".join(lines) + "\n")
        try:
            mailer.send(msg)
        except IgorError as err:
            errors.append(f"{to}: {err}")
        else:
            sent.append(f"{to}: {h.res.name} healed")
