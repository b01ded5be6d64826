"""Handlers of the booking verbs (sub, del, extend, edit) and `igor show`: parse nothing, ask the service,
hand the values to igor_tui.output to print as text or JSON."""

from __future__ import annotations

import contextlib
import os

from ..errors import IgorError, UsageError
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from typing import IO

    from ..model import ClusterView, Reservation
    from ..output.show import ShowOptions
    from ..service import IgorService


def _print_reservation(svc: IgorService, res: Reservation, ns: argparse.Namespace, out: IO[str]) -> bool:
    """`--json`: the reservation's shape, and True; otherwise False and the caller says it in words."""
    if not ns.json:
        return False
    from ..output.shapes import dump_json, reservation_json

    dump_json(reservation_json(res, svc.config.tz), out)
    return True


def sub(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..service import SubmitRequest

    req = SubmitRequest(
        name=ns.r,
        kernel=ns.k,
        initrd=ns.i,
        profile=ns.profile,
        count=ns.n,
        nodes=ns.w,
        duration=ns.t,
        after=ns.a,
        kernel_args=ns.c,
        group=ns.g,
        vlan=ns.vlan,
        contiguous=ns.contiguous,
    )
    tz = svc.config.tz
    if ns.s:
        slots = svc.speculate(req)
        if ns.json:
            from ..output.shapes import dump_json, slots_json

            dump_json(slots_json(slots, tz), out)
        else:
            from ..output.show import render_slots

            render_slots(slots, svc.naming, tz, svc.now(), out)
        return 0
    plan = None
    if not ns.json:
        # The plan first (errors are left to submit, which words them), so a late start can say why.
        with contextlib.suppress(IgorError):
            plan = svc.plan(req)
    res = svc.submit(req)
    if not _print_reservation(svc, res, ns, out):
        from ..dates import span_text

        out.write(
            f"Reservation {res.name} created for {span_text(res.start, res.end, tz, svc.now())}\n"
            f"Nodes: {svc.naming.compress(res.nodes)}\n"
        )
        if plan is not None and plan.why_not and res.start > plan.asked:
            out.write(f"Not at the time asked: {plan.why_not}\n")
    return 0


def delete(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    res = svc.delete(ns.name)
    if ns.json:
        from ..output.shapes import dump_json, reservation_json  # JSON only: ~1.5 M instructions

        dump_json({"deleted": reservation_json(res, svc.config.tz)}, out)
    else:
        out.write(f"Reservation {res.name} deleted ({svc.naming.compress(res.nodes)} released)\n")
    return 0


def extend(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    if not ns.r:
        raise UsageError("extend needs -r NAME (see 'igor extend -h')")
    res = svc.extend(ns.r, ns.t)
    if not _print_reservation(svc, res, ns, out):
        from ..dates import when_zone

        out.write(
            f"Reservation {res.name} extended to {when_zone(res.end, svc.config.tz, svc.now())}\n"
            f"Nodes: {svc.naming.compress(res.nodes)}\n"
        )
    return 0


def edit(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..service import EditRequest

    if not ns.r:
        raise UsageError("edit needs -r NAME (see 'igor edit -h')")
    res = svc.edit(
        ns.r,
        EditRequest(
            kernel=ns.k,
            initrd=ns.i,
            profile=ns.profile,
            kernel_args=ns.c,
            vlan=ns.vlan,
            owner=ns.owner,
            group=ns.g,
        ),
    )
    if not _print_reservation(svc, res, ns, out):
        out.write(f"Reservation {res.name} updated\n")
    return 0


def _view_at(svc: IgorService, view: ClusterView, text: str, out: IO[str], *, json: bool) -> ClusterView:
    """`show -at TIME`: the view as of TIME (a moment in the past also draws reservations that ended)."""
    from ..dates import when_zone
    from ..past import view_at
    from ..timeparse import parse_start

    at = parse_start(text, view.now, svc.config.tz)
    past = svc.past_reservations(at, view.now) if at < view.now else []
    if not json:
        tense = "past" if at < view.now else "booked so far" if at > view.now else "now"
        out.write(f"At {when_zone(at, svc.config.tz, view.now, dated=True)} ({tense}):\n")
    return view_at(view, past, at)


def _show_options(ns: argparse.Namespace) -> ShowOptions:
    from ..output.show import ShowOptions

    return ShowOptions(
        by_owner=ns.o,
        by_name=ns.n,
        reverse=ns.r,
        owner=ns.owner,
        group=ns.group,
        name=ns.name,
        active=ns.active,
        future=ns.future,
        installed=ns.installed,
        errored=ns.errored,
        writable=ns.writable,
        diagram=ns.diagram,
    )


def show(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..output.show import render_errors, render_show, select, show_json

    view = svc.view()
    if ns.at:
        view = _view_at(svc, view, ns.at, out, json=ns.json)
    opts = _show_options(ns)
    tz = svc.config.tz
    if ns.e:
        rows = select(view, opts, svc.can_write)
        if ns.json:
            from ..output.shapes import dump_json, install_errors_json

            dump_json(install_errors_json(rows), out)
        else:
            render_errors(rows, out)
        return 0
    blocks = [b for b in view.blocks if b.end is None or b.end > view.now]  # maintenance now or later
    if ns.json:
        from ..output.shapes import block_json, dump_json

        data = show_json(view, select(view, opts, svc.can_write), tz, svc.can_write, svc.config.bootmode)
        if blocks:
            data["blocks"] = [block_json(b, tz, view.now) for b in blocks]
        dump_json(data, out)
        return 0
    color = ns.color if ns.color is not None else (out.isatty() and "NO_COLOR" not in os.environ)
    render_show(
        view,
        opts,
        naming=svc.naming,
        rackwidth=svc.config.rackwidth,
        rackheight=svc.config.rackheight,
        tz=tz,
        can_write=svc.can_write,
        color=color,
        out=out,
        uefi=svc.config.bootmode,
    )
    if blocks and ns.diagram:
        from ..output.ops import render_blocks

        render_blocks(blocks, svc.naming, tz, out)
    return 0
