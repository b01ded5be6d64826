"""One JSON shape per value type, shared by every verb that prints that value (and later by the tick
report and an HTTP API): times ISO 8601 with the display zone's offset, node lists as lists of names.
README documents these shapes; tests/golden holds their bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, tzinfo

from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import IO, Any

    from ..archive import ArchivedReservation
    from ..model import Block, Policy, Reservation, Slot
    from ..service import ImportItem, InventoryHost, NotifyReport, PortDiff
    from ..service.like import Like
    from ..service.quota import QuotaUse
    from ..stats import Stats, UsageRecord


def dump_json(data: Any, out: IO[str]) -> None:
    out.write(json.dumps(data, indent=2) + "\n")


def reservation_json(res: Reservation, tz: tzinfo, **extra: Any) -> dict[str, Any]:
    """The stable JSON shape of a reservation (README documents it); times ISO 8601 with offset."""
    out: dict[str, Any] = {
        "id": res.id,
        "name": res.name,
        "owner": res.owner,
        "group": res.group,
        "start": res.start.astimezone(tz).isoformat(),
        "end": res.end.astimezone(tz).isoformat(),
        "nodes": list(res.nodes),
        "kernel": res.kernel,
        "initrd": res.initrd,
        "profile": res.profile,
        "kernel_args": res.kernel_args,
        "vlan": res.vlan,
        "desc": res.desc,
    }
    out.update(extra)
    return out


def like_json(like: Like) -> dict[str, Any]:
    """`sub --like --json`: which reservation lent what (the text line's facts)."""
    return {
        "source": like.source.name,
        "id": like.source.id,
        "archived": like.archived,
        "reused": list(like.reused),
        "kernel_hash": like.kernel_hash,
        "initrd_hash": like.initrd_hash,
    }


def slots_json(slots: Sequence[Slot], tz: tzinfo) -> dict[str, Any]:
    return {
        "slots": [
            {
                "start": s.start.astimezone(tz).isoformat(),
                "end": s.end.astimezone(tz).isoformat(),
                "nodes": list(s.nodes),
                "free": s.free,
            }
            for s in slots
        ]
    }


def marked_slots_json(slots: Sequence[Slot], tz: tzinfo, refusals: Sequence[str]) -> dict[str, Any]:
    """`igor sub -s --json` with a quota: each option the caller's quota would refuse gets "quota" (the
    refusal's sentence); options it allows look exactly as without a quota."""
    data = slots_json(slots, tz)
    for shape, why in zip(data["slots"], refusals, strict=True):
        if why:
            shape["quota"] = why
    return data


def quota_json(use: QuotaUse) -> dict[str, Any]:
    """The stable JSON shape of `igor quota`: per measure the limit (null: unlimited), the igor.conf entry
    that sets it and the use."""
    return {
        "user": use.user,
        "reservations": use.reservations,
        "exempt": use.exempt,
        "node_hours": {
            "limit": use.limit.node_hours,
            "from": use.source[0] or None,
            "used": round(use.node_minutes / 60, 2),
        },
        "concurrent_nodes": {
            "limit": use.limit.concurrent_nodes,
            "from": use.source[1] or None,
            "peak": use.peak_nodes,
        },
    }


def block_json(block: Block, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """The stable JSON shape of a maintenance block (README documents it)."""
    return {
        "id": block.id,
        "nodes": list(block.nodes),
        "start": block.start.astimezone(tz).isoformat(),
        "end": block.end.astimezone(tz).isoformat() if block.end else None,
        "reason": block.reason,
        "by": block.by,
        "active": block.start <= now and (block.end is None or now < block.end),
    }


def policy_json(
    policy: Policy, tz: tzinfo, window: tuple[datetime, datetime] | None, now: datetime
) -> dict[str, Any]:
    """The stable JSON shape of a host policy (README documents it): `maxtime` in minutes (0 = no cap),
    `unavailable` as typed, `next_window` the window in force now or the next within a year (or null)."""
    from ..store.codec import policy_to_record

    return {
        **policy_to_record(policy),
        "next_window": None
        if window is None
        else {"start": window[0].astimezone(tz).isoformat(), "end": window[1].astimezone(tz).isoformat()},
        "active": window is not None and window[0] <= now < window[1],
    }


def archived_json(entries: Sequence[ArchivedReservation], tz: tzinfo) -> list[dict[str, Any]]:
    return [
        {
            "archived": e.archived.astimezone(tz).isoformat(),
            "why": e.why,
            "by": e.by,
            "reservation": reservation_json(e.reservation, tz),
        }
        for e in entries
    ]


def record_json(rec: UsageRecord, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": rec.id,
        "name": rec.name,
        "nodes": rec.nodes,
        "count": rec.count,
        "start": rec.start.astimezone(tz).isoformat(),
        "end": rec.end.astimezone(tz).isoformat(),
        "actual_end": rec.actual_end.astimezone(tz).isoformat() if rec.actual_end else None,
        "extensions": rec.extensions,
        "cancelled_early": rec.cancelled_early,
    }


def stats_json(stats: Stats, tz: tzinfo, verbose: bool) -> dict[str, Any]:
    """`igor stats --json` (README documents the shape); node_hours is node-count x hours in the window."""
    out: dict[str, Any] = {
        "since": stats.since.astimezone(tz).isoformat(),
        "until": stats.until.astimezone(tz).isoformat(),
        "users": len(stats.users),
        "nodes": len(stats.nodes),
        "reservations": stats.reservations,
        "early_cancels": stats.early_cancels,
        "extensions": stats.extensions,
        "node_hours": round(stats.node_seconds / 3600, 2),
    }
    if verbose:
        out["per_user"] = {
            user: {
                "reservations": [record_json(r, tz) for r in u.reservations],
                "early_cancels": u.early_cancels,
                "extensions": u.extensions,
                "node_hours": round(u.node_seconds / 3600, 2),
            }
            for user, u in sorted(stats.users.items())
        }
    return out


def power_json(action: str, nodes: Sequence[str]) -> dict[str, Any]:
    return {"action": action, "nodes": list(nodes)}


def sync_json(diffs: Sequence[PortDiff], repaired: bool) -> dict[str, Any]:
    """`igor sync --json`: each port whose VLAN differs from igor's state (and whether it was fixed)."""
    return {
        "repaired": repaired,
        "differences": [
            {
                "port": d.port,
                "node": d.node,
                "expected": d.expected,
                "actual": d.actual,
                "reservation": d.reservation,
            }
            for d in diffs
        ],
    }


def notify_json(report: NotifyReport) -> dict[str, Any]:
    """`igor notify --json`: each mail, the reminders it carries, and whether it went out."""
    return {
        "dry_run": report.dry_run,
        "mails": [
            {
                "to": m.to,
                "reminders": [{"name": r.res.name, "id": r.res.id, "why": r.kind} for r in m.reminders],
                "ok": m.ok,
                "error": m.error,
            }
            for m in report.mails
        ],
    }


def import_json(items: Sequence[ImportItem], applied: bool, tz: tzinfo) -> dict[str, Any]:
    """`igor import-classic --json`: what each classic reservation became (or why it was skipped)."""
    return {
        "applied": applied,
        "items": [
            {
                "classic_id": i.classic_id,
                "name": i.name,
                "action": i.action,
                "reasons": list(i.reasons),
                "reservation": reservation_json(i.reservation, tz) if i.reservation else None,
            }
            for i in items
        ],
    }


def inventory_json(name: str, hosts: Sequence[InventoryHost]) -> dict[str, Any]:
    return {
        "name": name,
        "hosts": [{"alias": h.alias, "node": h.node, "ip": h.ip, "mac": h.mac} for h in hosts],
    }


def install_errors_json(rows: Sequence[Reservation]) -> dict[str, Any]:
    """`igor show -e --json`: the reservations whose install failed, with igor-tick's message."""
    return {"errors": [{"name": r.name, "error": r.error} for r in rows if r.error]}
