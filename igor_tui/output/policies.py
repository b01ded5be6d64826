"""Text of the `igor policy` verbs and of the host-policy section of `igor show`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from ..dates import span_text
from ..model import Policy
from ..timeparse import format_duration
from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import IO

NextWindow = Callable[[Policy], "tuple[datetime, datetime] | None"]
"""The window in force now or the next one of a policy (the service expands it)."""


def rules_text(policy: Policy) -> str:
    """`groups gpu, hpc; at most 12h; unavailable 0 17 24 12 *:8d15h`, or `no rules`."""
    parts: list[str] = []
    if policy.groups:
        parts.append("groups " + ", ".join(policy.groups))
    if policy.maxtime:
        parts.append(f"at most {format_duration(policy.maxtime)}")
    if policy.unavailable:
        parts.append("unavailable " + ", ".join(f'"{w}"' for w in policy.unavailable))
    return "; ".join(parts) or "no rules"


def window_text(window: tuple[datetime, datetime] | None, tz: tzinfo, now: datetime) -> str:
    if window is None:
        return "-"
    prefix = "NOW " if window[0] <= now < window[1] else ""
    return prefix + span_text(window[0], window[1], tz, now)


def render_policies(
    policies: Sequence[Policy],
    compress: Callable[[tuple[str, ...]], str],
    next_window: NextWindow,
    *,
    tz: tzinfo,
    now: datetime,
    out: IO[str],
) -> None:
    """One row per policy: name, nodes, groups, maxtime, next window (NOW while one is in force)."""
    rows = [("POLICY", "NODES", "GROUPS", "MAXTIME", "NEXT WINDOW")]
    for p in policies:
        rows.append(
            (
                p.name,
                compress(p.nodes) if p.nodes else "-",
                ",".join(p.groups) or "anyone",
                format_duration(p.maxtime) if p.maxtime else "-",
                window_text(next_window(p), tz, now),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out.write(
            "".join(cell.ljust(width + 2) for cell, width in zip(row, widths, strict=False)) + row[4] + "\n"
        )
    for p in policies:
        for window in p.unavailable:
            out.write(f'  {p.name}: unavailable "{window}"\n')


def change_text(
    verb: str, policy: Policy, moved: dict[str, str], compress: Callable[[tuple[str, ...]], str]
) -> str:
    """The confirmation of add/edit/del/apply, with the nodes taken from other policies."""
    nodes = compress(policy.nodes) if policy.nodes else "no nodes"
    if verb == "deleted":
        lines = [f"Policy {policy.name} deleted; {nodes} now under no policy"]
    else:
        lines = [f"Policy {policy.name} {verb}: {nodes}; {rules_text(policy)}"]
    by_old: dict[str, list[str]] = {}
    for node, old in moved.items():
        by_old.setdefault(old, []).append(node)
    for old, names in sorted(by_old.items()):
        lines.append(f'  {compress(tuple(names))} left policy "{old}"')
    return "\n".join(lines) + "\n"
