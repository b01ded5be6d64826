"""Handlers of the operations verbs (power, sync, tick, block, unblock, history, restore, stats, notify,
hosts, import-classic): ask the service, print its values through igor_tui.output.ops and .shapes."""

from __future__ import annotations

from ..errors import UsageError
from ..output import shapes as js
from ..output.shapes import dump_json, reservation_json
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from typing import IO

    from ..service import IgorService


def power(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    nodes = svc.power(ns.action, name=ns.r, nodes=ns.n, force=ns.force)
    if ns.json:
        dump_json(js.power_json(ns.action, nodes), out)
    else:
        out.write(f"Powered {ns.action} {svc.naming.compress(nodes)}\n")
    return 0


def sync(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.ops import render_sync

    if ns.dry_run == ns.force:
        raise UsageError("give exactly one of -d (dry run) or -f (force) (see 'igor sync -h')")
    diffs = svc.sync(repair=ns.force)
    if ns.json:
        dump_json(js.sync_json(diffs, ns.force), out)
    elif not ns.quiet:
        render_sync(diffs, ns.force, out)
    return 0


def tick(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.tick import dump

    report = svc.tick(dry_run=ns.dry_run, probe=not ns.no_probe, accept_clock_step=ns.accept_clock_step)
    if not ns.quiet or report.failed:
        dump(report, svc.naming, out, ns.json)
    return 1 if report.failed else 0


def block(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.ops import conflicts_text, describe_block

    result = svc.block(ns.nodes, reason=ns.reason, start=ns.a, duration=ns.t)
    tz = svc.config.tz
    if ns.json:
        overlapping = [reservation_json(r, tz) for r in result.conflicts]
        dump_json({"block": js.block_json(result.block, tz, svc.now()), "overlapping": overlapping}, out)
        return 0
    out.write(f"Blocked {describe_block(result.block, svc.naming, tz)}\n")
    if result.conflicts:
        out.write(f"{len(result.conflicts)} reservation(s) already hold these nodes then (left untouched):\n")
        out.write("".join(line + "\n" for line in conflicts_text(result.conflicts, svc.naming, tz)))
    return 0


def unblock(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output import nodes_text

    before = svc.unblock(ns.nodes)
    names = svc.naming.expand(ns.nodes)
    if ns.json:
        blocks = [js.block_json(b, svc.config.tz, svc.now()) for b in before]
        dump_json({"unblocked": list(names), "blocks": blocks}, out)
    else:
        out.write(f"Unblocked {nodes_text(svc.naming, names)}\n")
    return 0


def history(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..errors import NotFound, ValidationError
    from ..output.ops import history_json, render_archived, render_history

    archived = svc.archived(ns.name)
    try:
        events = svc.history(ns.name)
    except (NotFound, ValidationError):
        if not archived:
            raise
        events = []
    tz = svc.config.tz
    if ns.json:
        dump_json({**history_json(ns.name, events, tz), "archived": js.archived_json(archived, tz)}, out)
        return 0
    if events:
        render_history(ns.name, events, tz, out)
    if archived:
        out.write("\n" if events else "")
        render_archived(ns.name, archived, svc.naming, tz, out)
    return 0


def restore(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..timeparse import format_time_zone

    res = svc.restore(ns.name)
    tz = svc.config.tz
    if ns.json:
        dump_json({"restored": reservation_json(res, tz)}, out)
    else:
        out.write(
            f"Reservation {res.name} restored for {format_time_zone(res.start, tz)} - "
            f"{format_time_zone(res.end, tz)}\nNodes: {svc.naming.compress(res.nodes)}\n"
        )
    return 0


def stats(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.ops import render_stats

    if ns.d is None:
        raise UsageError("stats needs -d DAYS (see 'igor stats -h')")
    result = svc.stats(ns.d)
    if ns.json:
        dump_json(js.stats_json(result, svc.config.tz, ns.v), out)
    else:
        render_stats(result, svc.config.tz, ns.v, out)
    return 0


def notify(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..errors import BackendError
    from ..output.ops import render_notify

    report = svc.notify(dry_run=ns.dry_run)
    if ns.json:
        dump_json(js.notify_json(report), out)
    else:
        render_notify(report, out)
    if report.failed:
        first = next(m.error for m in report.mails if not m.ok)
        raise BackendError(f"{report.failed} of {len(report.mails)} mail(s) failed: {first}")
    return 0


def hosts(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.ops import render_inventory

    out.write(render_inventory(ns.name, svc.inventory(ns.name), "json" if ns.json else ns.format))
    return 0


def import_classic(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.ops import render_import

    items = svc.import_classic(ns.path, apply=ns.apply)
    if ns.json:
        dump_json(js.import_json(items, ns.apply, svc.config.tz), out)
    else:
        render_import(items, ns.apply, svc.naming, svc.config.tz, out)
    return 0
