"""Handlers of the booking verbs (sub, del, extend, edit) and `igor show`: parse nothing, ask the service,
hand the values to igor_tui.output to print as text or JSON."""

from __future__ import annotations

import os

from ..errors import UsageError
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from typing import IO, Any

    from ..model import ClusterView, Reservation
    from ..output.show import ShowOptions
    from ..service import IgorService, SubmitRequest


def _print_reservation(
    svc: IgorService, res: Reservation, ns: argparse.Namespace, out: IO[str], **extra: Any
) -> bool:
    """`--json`: the reservation's shape, and True; otherwise False and the caller says it in words."""
    if not ns.json:
        return False
    from ..output.shapes import dump_json, reservation_json

    dump_json(reservation_json(res, svc.config.tz, **extra), out)
    return True


def _like(svc: IgorService, req: SubmitRequest, ns: argparse.Namespace, out: IO[str]) -> dict[str, Any]:
    """`--like`: what it reuses, first (a refusal, say the copies are gone, comes from here too): one line
    of text, or a "like" object added to the JSON."""
    if not req.like:
        return {}
    from ..service.like import resolve_like

    like = resolve_like(svc, req)
    if not ns.json:
        out.write(like.sentence + "\n")
        return {}
    from ..output.shapes import like_json

    return {"like": like_json(like)}


def sub(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..service.booking import SubmitRequest

    req = SubmitRequest(
        name=ns.r,
        kernel=ns.k,
        initrd=ns.i,
        profile=ns.profile,
        count=ns.n,
        nodes=ns.w,
        duration=ns.t if ns.t is not None else ("" if ns.like else "60m"),
        after=ns.a,
        kernel_args=ns.c if ns.c is not None or ns.like else "",
        group=ns.g,
        vlan=ns.vlan,
        contiguous=ns.contiguous,
        desc=ns.desc,
        like=ns.like,
        properties=ns.p,
    )
    like = _like(svc, req, ns, out)
    if ns.s:
        return _speculate(svc, req, ns, out, like)
    tz = svc.config.tz
    res, late = svc.book(req)
    if not _print_reservation(svc, res, ns, out, **like):
        from ..dates import span_text

        out.write(
            f"Reservation {res.name} created for {span_text(res.start, res.end, tz, svc.now())}\n"
            f"Nodes: {svc.naming.compress(res.nodes)}\n"
        )
        if late:
            out.write(f"Not at the time asked: {late}\n")
    return 0


def _speculate(
    svc: IgorService, req: SubmitRequest, ns: argparse.Namespace, out: IO[str], like: dict[str, object]
) -> int:
    """`igor sub -s`: the options, each the quota would refuse marked (and the reason said once); `like`
    is the `--like` object JSON carries beside them (the text line is already printed)."""
    tz = svc.config.tz
    slots = svc.speculate(req)
    refusals: list[str] = []
    if svc.config.quota:  # without a quota nothing is marked, and the quota modules stay unloaded
        from ..service.quota import slot_refusals

        refusals = slot_refusals(svc, slots)
    if ns.json:
        from ..output.shapes import dump_json, marked_slots_json, slots_json

        data = marked_slots_json(slots, tz, refusals) if refusals else slots_json(slots, tz)
        dump_json({**data, **like}, out)
        return 0
    from ..output.show import render_slots

    render_slots(slots, svc.naming, tz, svc.now(), out, refusals=refusals)
    if refusals:
        from ..output.quota import render_refusals

        render_refusals(refusals, out)
    return 0


def quota(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    """`igor quota [USER]`: use against limits, for yourself or (admins) anyone."""
    from ..service.quota import report

    use = report(svc, ns.user)
    if ns.json:
        from ..output.shapes import dump_json, quota_json

        dump_json(quota_json(use), out)
    else:
        from ..output.quota import render_quota

        render_quota(use, out)
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
    from ..service.booking import EditRequest

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
            desc=ns.desc,
            add=ns.add,
            drop=ns.drop,
        ),
    )
    if not _print_reservation(svc, res, ns, out):
        out.write(f"Reservation {res.name} updated\n")
        if ns.add is not None or ns.drop is not None:
            out.write(f"{res.name} now holds {svc.naming.compress(res.nodes)} ({len(res.nodes)} nodes)\n")
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
    moved = view_at(view, past, at)
    if not view.policies:
        return moved
    from ..service.policies import windows_around
    from ..values import replace

    return replace(moved, windows=windows_around(svc, view.policies, at))


def _with_properties(svc: IgorService, view: ClusterView, text: str) -> ClusterView:
    """`show -p PROPS`: the view of only the nodes having them, and the reservations and blocks on those."""
    from ..output.show import only_nodes
    from ..service.checks import property_nodes, wanted_properties

    return only_nodes(view, property_nodes(svc, wanted_properties(svc, text)))


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
    if ns.p:
        view = _with_properties(svc, view, ns.p)
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

        data = show_json(
            view,
            select(view, opts, svc.can_write),
            tz,
            svc.can_write,
            svc.config.bootmode,
            properties=svc.config.properties,
        )
        if blocks:
            data["blocks"] = [block_json(b, tz, view.now) for b in blocks]
        if view.policies:
            from .policies import policies_json

            data["policies"] = policies_json(svc, view.policies, view.now)
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
    if view.policies and ns.diagram:
        from .policies import render_section

        render_section(svc, view.policies, view.now, out)
    return 0
