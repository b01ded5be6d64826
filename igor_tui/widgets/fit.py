"""Fitting text into table columns without cutting a word or a node range in half.

Pure functions shared by the reservation table and the speculation list: column widths are computed
from what is shown, and a node list that does not fit loses whole ranges (`kn[259-320,…]`), never half a
number (`kn[259-320,337-398,400-47`). The full list is always on the summary line.
"""

from __future__ import annotations

from collections.abc import Sequence

ELLIPSIS = "…"


def fit_nodes(text: str, width: int, count: int) -> str:
    """`text` (a compressed node list) in at most `width` cells, cut only after a whole range.

    Falls back to `N nodes` when not even the first range fits, and to `…` when nothing does."""
    if len(text) <= width:
        return text
    depth = 0
    best = ""
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == ",":
            candidate = text[:i] + "," + ELLIPSIS + ("]" if depth > 0 else "")
            if len(candidate) <= width:
                best = candidate
            else:
                break
    if best:
        return best
    short = f"{count} node{'s' if count != 1 else ''}"
    return short if len(short) <= width else ELLIPSIS[:width]


def column_widths(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, flexible: int, total: int, gap: int = 1
) -> list[int]:
    """Widths (each including a `gap` to the next column) that fit every header and cell, except the
    `flexible` column, which gets what is left of `total` (at least its header)."""
    widths = [len(h) + gap for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if i != flexible and len(cell) + gap > widths[i]:
                widths[i] = len(cell) + gap
    fixed = sum(w for i, w in enumerate(widths) if i != flexible)
    widths[flexible] = max(len(headers[flexible]) + gap, total - fixed)
    return widths
