"""How igor prints its values: one JSON shape per value type (shapes), the text of `igor show` and
`igor sub -s` (show) and of the operations verbs (ops); here, the text pieces they all use: foreign text
made printable, node lists, aligned columns, the zone note.

The submodules are imported by the verbs that print with them, not from here: each module a command
loads costs it ~0.1 ms (300,000 instructions), and `igor show` has no use for the operations renderers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from ..hostlist import NodeNaming


def printable(text: str) -> str:
    """Backend messages and other foreign text, with control characters escaped: never a raw newline or
    a terminal escape sequence in igor's output."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def nodes_text(naming: NodeNaming, names: Sequence[str]) -> str:
    """Compressed node list that survives nodes the config no longer has (e.g. after shrinking it)."""
    try:
        return naming.compress(names)  # all of them are nodes of this cluster (the usual case)
    except ValueError:
        pass
    known = [n for n in names if naming.number(n) is not None]
    unknown = [printable(n) for n in names if naming.number(n) is None]
    return ",".join(filter(None, [naming.compress(known), *unknown]))


def zone_note(now: datetime, tz: tzinfo) -> str:
    """Name the zone, not today's abbreviation: rows on the other side of a DST change are in CEST
    while today is CET, and "Europe/Berlin" is right for both."""
    key = getattr(tz, "key", None)
    return f"times in {key}" if key else f"times in {now.astimezone(tz).tzname()}"


def columns(rows: Sequence[tuple[str, ...]], right: Iterable[int] = ()) -> list[str]:
    """Plain aligned columns (fast even for thousands of rows, unlike a rich Table): one format string
    pads a whole row in C, 3x faster than ljust/rjust per cell at 5,000 rows; %-formatting a tuple is
    another ~30% faster than str.format(*row) (no argument unpacking, no format-spec parsing per call)."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    right_set = set(right)
    line = "   ".join(f"%{'' if i in right_set else '-'}{w}s" for i, w in enumerate(widths))
    return [(line % row).rstrip() for row in rows]
