"""Reports over what happened and what is booked: `igor history`, `igor stats`, `igor hosts`.

All read-only: the action log, the store's snapshot and the config's host table; nothing here takes the
store lock for writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, ValidationError
from ..values import dataclass

if TYPE_CHECKING:
    from ..stats import Stats
    from .facade import IgorService


@dataclass(frozen=True, slots=True)
class InventoryHost:
    """`igor hosts`: one node of a reservation, its stable alias and its configured addresses."""

    alias: str
    node: str
    ip: str = ""
    mac: str = ""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """`igor history`: one logged event of a reservation. The columns every event has are typed; what
    only some kinds carry (minutes, changed fields, a tick step's error …) stays in `record`, the log
    line as written, which `--json` also prints whole."""

    kind: str  # "created", "extended", "tick", "power", "notified" …
    time: str  # ISO 8601 as logged ("" if the line had none)
    by: str
    res_id: int | str | None  # an int as igor logs it; foreign text in an edited log is kept as it is
    record: Mapping[str, Any]


def history(svc: IgorService, name: str) -> list[HistoryEvent]:
    """Every logged event of reservations called `name` (names are reused, so ids tell them apart):
    created, extended, edited, powered, each igor-tick step with its error, deleted or expired."""
    from ..stats import read_events

    path = logfile(svc)
    found: list[HistoryEvent] = []
    try:
        for ev in read_events(path):
            if ev.get("name") == name or name in (ev.get("reservations") or ()):
                found.append(history_event(ev))
    except FileNotFoundError:
        pass
    except OSError as err:
        raise ValidationError(f"cannot read log {path}: {err.strerror}") from None
    if not found:
        raise NotFound(f"no events for a reservation named {name} in {path}")
    return found


def history_event(record: Mapping[str, Any]) -> HistoryEvent:
    """A log line as a history event; tick steps were logged without `by`: igor-tick did them."""
    kind = str(record.get("event", ""))
    res_id = record.get("id")
    return HistoryEvent(
        kind=kind,
        time=str(record["time"]) if isinstance(record.get("time"), str) else "",
        by=str(record.get("by", "igor-tick" if kind == "tick" else "")),
        res_id=res_id if isinstance(res_id, int | str) else None,
        record=record,
    )


def stats(svc: IgorService, days: int) -> Stats:
    """Usage over the last `days` days from the action log (anyone may ask, as in classic igor)."""
    from ..stats import collect_usage, compute_stats, read_events

    if days <= 0:
        raise ValidationError(f"-d wants a positive number of days, got {days}")
    if days > 36500:
        raise ValidationError(f"-d {days} is more than 100 years")
    path = logfile(svc)
    try:
        records = collect_usage(read_events(path))
    except FileNotFoundError:
        records = {}
    except OSError as err:
        raise ValidationError(f"cannot read log {path}: {err.strerror}") from None

    def expand(text: str) -> tuple[str, ...]:
        try:
            return svc.naming.expand(text)
        except ValidationError:  # nodes the config no longer has: count them by their logged names
            return tuple(n for n in text.split(",") if n)

    return compute_stats(records.values(), svc.now(), days, expand)


def inventory(svc: IgorService, name: str) -> list[InventoryHost]:
    """A reservation's nodes with stable aliases NAME-0 .. NAME-N (in node order) and the addresses the
    `hosts` map gives. igor never resolves names here: a node without a configured address is listed by
    its name, for the user's own resolver (and so no command ever waits on DNS)."""
    res = svc.get(name)
    return [
        InventoryHost(
            alias=f"{res.name}-{i}",
            node=node,
            ip=(addr.ip if (addr := svc.config.hosts.get(node)) else ""),
            mac=addr.mac if addr else "",
        )
        for i, node in enumerate(res.nodes)
    ]


def logfile(svc: IgorService) -> str:
    """The action log history and stats read; without one igor keeps no history."""
    if not svc.config.logfile:
        raise ValidationError("no logfile is configured in igor.conf, so igor has no history to read")
    return svc.config.logfile
