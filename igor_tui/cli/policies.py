"""Handler of `igor policy add|show|edit|del|apply`: ask service/policies.py, print text or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import UsageError
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:  # `igor show` imports this module on a cluster with policies: no argparse or typing
    import argparse
    from typing import IO, Any

    from ..model import Policy
    from ..service import IgorService
    from ..service.policies import PolicyChange

_VERBS = {"add": "added", "edit": "changed", "del": "deleted", "apply": "applied"}


def policy(svc: IgorService, ns: argparse.Namespace, out: IO[str]) -> int:
    from ..service import policies as ops

    if ns.action == "show":
        _refuse_flags(ns, "show")
        return _show(svc, ops.show(svc, ns.name), ns.json, out)
    if not ns.name:
        raise UsageError(f"igor policy {ns.action} needs the NAME of a policy (see 'igor policy -h')")
    windows = tuple(w for w in (ns.unavailable or ()) if w.strip())
    if ns.action == "add":
        change = ops.add(
            svc, ns.name, ns.w or "", groups=ns.groups or "", maxtime=ns.maxtime or "", unavailable=windows
        )
    elif ns.action == "edit":
        edit = ops.PolicyEdit(
            nodes=ns.w,
            groups=ns.groups,
            maxtime=ns.maxtime,
            unavailable=None if ns.unavailable is None else windows,
        )
        change = ops.edit(svc, ns.name, edit)
    elif ns.action == "del":
        _refuse_flags(ns, "del")
        change = ops.delete(svc, ns.name)
    else:
        if ns.groups is not None or ns.maxtime is not None or ns.unavailable is not None:
            raise UsageError("igor policy apply takes only -w NODES: change rules with igor policy edit")
        if not ns.w:
            raise UsageError("igor policy apply needs -w NODES (see 'igor policy -h')")
        change = ops.apply(svc, ns.name, ns.w)
    return _changed(svc, _VERBS[ns.action], change, ns.json, out)


def _refuse_flags(ns: argparse.Namespace, action: str) -> None:
    if any(v is not None for v in (ns.w, ns.groups, ns.maxtime, ns.unavailable)):
        raise UsageError(f"igor policy {action} takes only a NAME (see 'igor policy -h')")


def _show(
    svc: IgorService, policies: list[Policy], as_json: bool, out: IO[str], now: datetime | None = None
) -> int:
    from ..output.policies import render_policies
    from ..service.policies import next_window_of

    now = now or svc.now()
    if as_json:
        from ..output.shapes import dump_json

        dump_json({"policies": policies_json(svc, policies, now)}, out)
    elif not policies:
        out.write("No host policies: every node is open to everyone, any time (igor policy add -h)\n")
    else:
        windows = {p.id: next_window_of(svc, p, now) for p in policies}
        render_policies(
            policies, svc._nodes_text, lambda p: windows[p.id], tz=svc.config.tz, now=now, out=out
        )
    return 0


def policies_json(svc: IgorService, policies: Sequence[Policy], now: datetime) -> list[dict[str, Any]]:
    """`igor show --json`'s "policies" (and `igor policy show --json`'s): each with its next window."""
    from ..output.shapes import policy_json
    from ..service.policies import next_window_of

    tz = svc.config.tz
    return [policy_json(p, tz, next_window_of(svc, p, now), now) for p in policies]


def render_section(svc: IgorService, policies: Sequence[Policy], now: datetime, out: IO[str]) -> None:
    """`igor show`'s host-policy section (nodes inside a window now are # in the racks)."""
    out.write("\nHOST POLICIES (# in the racks while a window is in force)\n")
    _show(svc, list(policies), False, out, now=now)


def _changed(svc: IgorService, verb: str, change: PolicyChange, as_json: bool, out: IO[str]) -> int:
    from ..output.policies import change_text
    from ..output.shapes import dump_json, policy_json
    from ..service.policies import next_window_of

    now = svc.now()
    if as_json:
        window = next_window_of(svc, change.policy, now)
        data = {verb: policy_json(change.policy, svc.config.tz, window, now), "moved": change.moved}
        dump_json(data, out)
    else:
        out.write(change_text(verb, change.policy, change.moved, svc._nodes_text))
    return 0
