"""Adding nodes to and dropping nodes from a booked reservation (`igor edit -add/-drop`, the TUI's dialog).

Runs inside `booking.edit`'s locked transaction, so the nodes it picks cannot be taken by another igor
process in between. Adding asks the scheduler the same question `igor sub` asks (the same `find_slot`,
busy intervals and node picks), limited to the rest of the reservation's window, and refuses with the
same "why not" sentence. The tick then tears down dropped nodes and installs added ones (tickplan.py).
"""

from __future__ import annotations

from datetime import datetime

from ..dates import when_text
from ..errors import ScheduleError, ValidationError
from ..model import Block, Limits, Request, Reservation, Slot
from ..typenames import TYPE_CHECKING
from ..values import replace
from . import checks, policy_gate
from .housekeeping import down_nodes

if TYPE_CHECKING:
    from ..store import Transaction
    from .facade import IgorService


def parse_add(svc: IgorService, text: str) -> tuple[int, tuple[str, ...]]:
    """`-add 2` (a number of nodes) or `-add kn[3-4]` (these nodes): (count, names), one of them empty."""
    text = text.strip()
    if not text:
        raise ValidationError("-add needs a number of nodes or a list of nodes, e.g. -add 2 or -add kn[3-4]")
    if text.isascii() and text.isdigit():
        count = int(text)
        if count <= 0:
            raise ValidationError(f"-add must be a positive number of nodes, got {count}")
        return count, ()
    return 0, svc.naming.expand(text)


def parse_drop(svc: IgorService, text: str) -> tuple[str, ...]:
    if not text.strip():
        raise ValidationError("-drop needs a list of nodes, e.g. -drop kn[3-4]")
    return svc.naming.expand(text)


def dropped(svc: IgorService, res: Reservation, names: tuple[str, ...]) -> Reservation:
    """`res` without `names`; a node it does not hold, or dropping all of them, is refused by name."""
    foreign = [n for n in names if n not in res.nodes]
    if foreign:
        raise ValidationError(f"{svc._nodes_text(tuple(foreign))} not in {res.name}: cannot drop")
    kept = tuple(n for n in res.nodes if n not in names)
    if not kept:
        raise ValidationError(f"cannot drop every node of {res.name}: use igor del -r {res.name}")
    return replace(res, nodes=kept)


def check_growth(svc: IgorService, res: Reservation, added: tuple[str, ...], live: list[Reservation]) -> None:
    """The site's rules on a reservation growing to `res.nodes + added`, called under the lock before an
    add commits. Admins are exempt, as for a new booking: the node limit, then the owner's quota over the
    rest of the window (the added nodes are held from now, or the start, to the end)."""
    if svc.caller.is_admin:
        return
    from ..scheduler import check_limits

    check_limits(Limits(nodelimit=svc.config.limits.nodelimit), len(res.nodes) + len(added), 1)
    checks.check_quota(svc, live, res.owner, [(added, max(svc.now(), res.start), res.end)], "addition")


def added(
    svc: IgorService, tx: Transaction, live: list[Reservation], res: Reservation, *, text: str, now: datetime
) -> Reservation:
    """`res` with the nodes `-add` asks for, each free for the whole rest of its window [max(now, start),
    end): no other reservation, block or down node in the way, else the "why not" sentence of `sub`."""
    checks.check_not_paused(svc)  # more nodes is more booking: a pause stops it as it stops `sub`
    count, names = parse_add(svc, text)
    inside = [n for n in names if n in res.nodes]
    if inside:
        raise ValidationError(f"{svc._nodes_text(tuple(inside))} already in {res.name}")
    start = max(now, res.start)
    minutes = int((res.end - start).total_seconds() // 60)
    request = Request(minutes=minutes, earliest=start, count=count, nodes=names)
    others = [r if r.id != res.id else res for r in live]  # the reservation as changed so far
    blocks, down = tx.blocks(), down_nodes(tx.node_status())
    policies = tx.policies()
    # The policies as they apply to the caller, as for a booking: their windows and group rules.
    rules = policy_gate.policy_rules(svc, policies)
    from ..scheduler import find_slot

    try:
        slot = find_slot(svc.nodes, others, request, blocks=blocks, down=down, rules=rules)
    except ScheduleError as err:
        raise ScheduleError(f"cannot add to {res.name}: {err}") from None
    if slot.start > start:  # the sentence names what is in the way, a policy's window included
        windows = policy_gate.window_blocks(svc, policies, start, slot.end)
        why = _why_not(svc, request, slot, others, held=((*blocks, *windows), down), now=now)
        raise ScheduleError(f"cannot add to {res.name}: {why}")
    check_growth(svc, res, slot.nodes, live)
    order = {name: i for i, name in enumerate(svc.nodes)}
    return replace(res, nodes=tuple(sorted((*res.nodes, *slot.nodes), key=lambda n: order.get(n, 0))))


def _why_not(
    svc: IgorService,
    request: Request,
    slot: Slot,
    live: list[Reservation],
    *,
    held: tuple[tuple[Block, ...], frozenset[str]],
    now: datetime,
) -> str:
    """`sub`'s sentence for why the nodes are not free from `request.earliest`, without its "earliest
    fit" tail: the window of a reservation being changed does not move."""
    from ..booking_plan import why_not

    text = why_not(
        request,
        slot,
        now=now,
        nodes=svc.nodes,
        reservations=live,
        blocks=held[0],
        down=held[1],
        compress=svc._nodes_text,
        when=lambda when: when_text(when, svc.config.tz, now),
    )
    return text.rpartition("; earliest fit: ")[0] or text


def resize(
    svc: IgorService,
    tx: Transaction,
    live: list[Reservation],
    res: Reservation,
    *,
    add: str | None,
    drop: str | None,
    now: datetime,
) -> Reservation:
    """Drop first, then add (so `-drop kn3 -add 1` swaps a node); nothing changes unless both succeed."""
    if drop is not None:
        res = dropped(svc, res, parse_drop(svc, drop))
    if add is not None:
        res = added(svc, tx, live, res, text=add, now=now)
    return res
