"""Text renderers for the operations verbs: block, history, stats, notify, sync, hosts, import-classic,
and the one-line answers of the booking verbs.

Kept apart from show.py (the hot `igor show` path) so neither file pays for the other at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import IO, TYPE_CHECKING, Any

from ..timeparse import format_duration, format_input_time, format_time_zone
from . import columns, nodes_text, printable
from .shapes import inventory_json

if TYPE_CHECKING:
    from ..archive import ArchivedReservation
    from ..hostlist import NodeNaming
    from ..model import Block, Reservation
    from ..service import HistoryEvent, ImportItem, InventoryHost, NotifyReport, PortDiff
    from ..stats import Stats


def _when(value: object, tz: tzinfo) -> str:
    """A logged ISO time in the display zone, in the form -a accepts; foreign text is shown as it is."""
    if not isinstance(value, str):
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return printable(value)
    if when.tzinfo is None:
        return printable(value)
    return format_input_time(when, tz)


# ------------------------------------------------------------------------------------------ blocks


def describe_block(block: Block, naming: NodeNaming, tz: tzinfo) -> str:
    until = format_time_zone(block.end, tz) if block.end else "until unblocked"
    span = (
        f"{format_time_zone(block.start, tz)} - {until}"
        if block.end
        else f"from {format_time_zone(block.start, tz)}, {until}"
    )
    return f"{nodes_text(naming, block.nodes)}  {span}: {printable(block.reason)} (by {block.by})"


def render_blocks(blocks: Sequence[Block], naming: NodeNaming, tz: tzinfo, out: IO[str]) -> None:
    """`igor show`'s maintenance section: which nodes, when, and why (the `#` cells say only that)."""
    if not blocks:
        return
    out.write("\nMAINTENANCE (# in the racks)\n")
    out.writelines(f"  {describe_block(b, naming, tz)}\n" for b in blocks)


# ----------------------------------------------------------------------------------------- history

_STEP_EVENT = {
    "expire": "expired",
    "clear-vlan": "teardown",
    "uninstall-boot": "teardown",
    "power-off": "teardown",
    "forget": "released",
    "release-nodes": "teardown",
    "set-vlan": "install",
    "install-boot": "install",
    "power-cycle": "install",
    "complete": "installed",
}


def history_row(event: HistoryEvent, tz: tzinfo) -> dict[str, Any]:
    """One event as (time, what, who, id, details): tick steps get the words users know (installed,
    teardown, error) and the step itself in the details."""
    ev = event.record  # each kind's own details
    kind = event.kind
    nodes = str(ev.get("nodes", ""))
    window = f"{_when(ev.get('start'), tz)} - {_when(ev.get('end'), tz)}"
    detail = ""
    if kind in ("created", "imported"):
        detail = f"{nodes}, {window}"
        if ev.get("desc"):
            detail += f": {ev.get('desc')}"
    elif kind == "extended":
        minutes = ev.get("minutes")
        extra = f"+{format_duration(minutes)}, " if isinstance(minutes, int) else ""
        detail = f"{extra}now ends {_when(ev.get('end'), tz)}"
    elif kind == "edited":
        changed = ev.get("changed") or []
        detail = "changed " + ", ".join(str(c) for c in changed) if changed else "edited"
        moved = [
            f"{word} {ev[key]}" for key, word in (("added", "added"), ("dropped", "dropped")) if ev.get(key)
        ]
        if moved:
            detail += ": " + ", ".join(moved)
    elif kind == "healed":
        detail = f"healed: {ev.get('swap', '')}"
    elif kind == "deleted":
        detail = f"released at {_when(ev.get('actual_end'), tz)} (was {window})"
    elif kind == "expired":
        detail = f"ended before it was installed ({window})"
    elif kind == "power":
        detail = f"{ev.get('action', '')} {nodes}".strip()
        kind = "powered"
    elif kind == "tick":
        step = str(ev.get("step", ""))
        ok = ev.get("ok", True)
        detail = f"{step} {nodes}".strip()
        if not ok:
            detail += f": {printable(str(ev.get('error', '')))}"
            kind = "error"
        else:
            kind = _STEP_EVENT.get(step, step)
    elif kind == "hook":
        detail = f"on_{ev.get('hook', '')} {ev.get('result', '')}"
        kind = "hook" if ev.get("ok", True) else "hook-failed"
    elif kind == "notified":
        detail = f"mailed {ev.get('to', '')}: {ev.get('why', '')}"
    return {
        "time": _when(event.time, tz),
        "event": kind,
        "by": event.by,
        "id": event.res_id,
        "details": printable(detail),
    }


def render_history(name: str, events: Sequence[HistoryEvent], tz: tzinfo, out: IO[str]) -> None:
    rows = [history_row(ev, tz) for ev in events]
    key = getattr(tz, "key", None) or "the configured zone"
    out.write(f"HISTORY OF {name} (times in {key})\n")
    table = [("TIME", "EVENT", "BY", "ID", "DETAILS")]
    table.extend((r["time"], r["event"], r["by"], str(r["id"] or ""), r["details"]) for r in rows)
    out.write("".join(line + "\n" for line in columns(table)))


def render_archived(
    name: str, entries: Sequence[ArchivedReservation], naming: NodeNaming, tz: tzinfo, out: IO[str]
) -> None:
    """`igor history`: the archived copies of reservations called `name`, oldest first."""
    key = getattr(tz, "key", None) or "the configured zone"
    out.write(f"ARCHIVED {name} (times in {key})\n")
    table = [("ARCHIVED", "WHY", "ID", "OWNER", "NODES", "START", "END")]
    for e in entries:
        r = e.reservation
        table.append(
            (
                format_input_time(e.archived, tz),
                f"{e.why} by {e.by}",
                str(r.id),
                r.owner,
                nodes_text(naming, r.nodes),
                format_input_time(r.start, tz),
                format_input_time(r.end, tz),
            )
        )
    out.write("".join(line + "\n" for line in columns(table)))


def history_json(name: str, events: Sequence[HistoryEvent], tz: tzinfo) -> dict[str, Any]:
    """`igor history --json`: the summarised rows plus each raw log record, for scripts."""
    return {
        "name": name,
        "events": [{**history_row(ev, tz), "record": dict(ev.record)} for ev in events],
    }


# ------------------------------------------------------------------------------------------- stats


def render_stats(stats: Stats, tz: tzinfo, verbose: bool, out: IO[str]) -> None:
    """Classic igor's report (spec §1.11), with the window named and node-hours added."""
    from ..stats import weeks_text

    dash = "-" * 18
    lines: list[str] = [
        f"Statistics from {format_time_zone(stats.since, tz)} to {format_time_zone(stats.until, tz)}",
        "",
    ]
    if verbose:
        for user, u in sorted(stats.users.items()):
            lines.append(f"{dash}User Summary for {user} {dash}")
            for r in sorted(u.reservations, key=lambda rec: rec.start):
                actual = format_input_time(r.actual_end, tz) if r.actual_end else "ran to its end"
                lines += [
                    f"Reservation Name: {r.name}\tReservation ID: {r.id}",
                    f"Nodes: {r.nodes} ({r.count})",
                    f"Reservation Start: {format_input_time(r.start, tz)}\t"
                    f"Reservation End: {format_input_time(r.end, tz)}",
                    f"Actual End: {actual}",
                    f"Number of Extensions: {r.extensions}",
                    "",
                ]
            lines += [
                f"Total Number of Reservations: {len(u.reservations)}",
                f"Total Early Cancel: {u.early_cancels}",
                f"Number of Extensions: {u.extensions}",
                f"Total user duration: {weeks_text(u.node_seconds)}",
                "",
            ]
    lines += [
        f"{dash}Global Statistics for all nodes{dash}",
        f"Total Users: {len(stats.users)}",
        f"Number of Nodes used: {len(stats.nodes)}",
        f"Total Number of Reservations: {stats.reservations}",
        f"Total Number of Reservations Cancelled Early: {stats.early_cancels}",
        f"Total Number of Extensions: {stats.extensions}",
        f"Total Reservation Time: {weeks_text(stats.node_seconds)}",
        f"Total Node-Hours: {stats.node_seconds / 3600:.1f}",
    ]
    out.write("".join(line + "\n" for line in lines))


def conflicts_text(conflicts: Sequence[Reservation], naming: NodeNaming, tz: tzinfo) -> list[str]:
    """The reservations a new block overlaps, for the admin to move or warn (igor does not break them)."""
    return [
        f"  {r.name} ({r.owner}) {format_time_zone(r.start, tz)} - {format_time_zone(r.end, tz)} "
        f"on {nodes_text(naming, r.nodes)}"
        for r in conflicts
    ]


# --------------------------------------------------------------------------------------- inventory


def render_inventory(name: str, hosts: Sequence[InventoryHost], fmt: str) -> str:
    """A reservation's nodes for /etc/hosts, ~/.ssh/config, an Ansible INI inventory or JSON.

    Nodes without a configured address are given by name (hosts format: a comment), never resolved."""
    if fmt == "json":
        return json.dumps(inventory_json(name, hosts), indent=2) + "\n"
    lines: list[str] = []
    if fmt == "hosts":
        for h in hosts:
            lines.append(
                f"{h.ip}\t{h.alias} {h.node}" if h.ip else f"# {h.alias} {h.node}: no address in igor.conf"
            )
    elif fmt == "ssh-config":
        for h in hosts:
            lines += [f"Host {h.alias}", f"    HostName {h.ip or h.node}", ""]
        lines = lines[:-1]
    else:  # ansible
        lines.append(f"[{name}]")
        lines += [f"{h.alias} ansible_host={h.ip or h.node} igor_node={h.node}" for h in hosts]
    return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------- sync, notify, import


def render_sync(diffs: Sequence[PortDiff], repaired: bool, out: IO[str]) -> None:
    """Each port whose VLAN differs from igor's state: what it should have, what the switch has."""
    if not diffs:
        out.write("switch matches igor's state\n")
    for d in diffs:
        want = f"VLAN {d.expected} ({d.reservation})" if d.expected is not None else "no VLAN"
        have = f"VLAN {d.actual}" if d.actual is not None else "no VLAN"
        verb = "fixed" if repaired else "differs"
        out.write(f"{verb}: {d.port} ({d.node}) should have {want}, switch has {have}\n")


def render_notify(report: NotifyReport, out: IO[str]) -> None:
    """A dry run prints each mail whole; a real run one line per mail sent (failures are the error)."""
    if report.dry_run:
        out.write("".join(f"--- would mail {m.to}\n{m.text}\n" for m in report.mails) or "nothing is due\n")
        return
    for m in report.mails:
        if m.ok:
            what = ", ".join(f"{r.res.name} ({r.kind})" for r in m.reminders)
            out.write(f"mailed {m.to}: {what}\n")


def render_import(
    items: Sequence[ImportItem], applied: bool, naming: NodeNaming, tz: tzinfo, out: IO[str]
) -> None:
    """What each classic reservation becomes (or became), and every reason one is skipped."""
    if not applied:
        out.write("dry run: nothing is written; add --apply to import\n")
    verb = "imported" if applied else "import"
    for i in items:
        if i.action == "import" and i.reservation is not None:
            r = i.reservation
            line = (
                f"{verb:<9}{r.name} (classic id {i.classic_id}): {r.owner}, "
                f"{nodes_text(naming, r.nodes)}, "
                f"{format_time_zone(r.start, tz)} - {format_time_zone(r.end, tz)}"
            )
        else:
            line = f"{'skipped' if applied else 'skip':<9}{i.name} (classic id {i.classic_id})"
        out.write(line + "".join(f"\n         - {why}" for why in i.reasons) + "\n")
