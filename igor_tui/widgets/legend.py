"""The legend: what every glyph, flag and mark on the dashboard means, laid out in the width there is.

Toggled with `L` (and shown in `?`); the text is built by a pure function so the help screen, the
legend panel and the tests read the same words.
"""

from __future__ import annotations

from .palette import BLOCKED_GLYPH, DOWN_GLYPH, MINE_GLYPH, PREVIEW_GLYPH

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "racks",
        (
            "12· held",
            f"12{MINE_GLYPH} yours",
            "12• marked (Space)",
            f"12{DOWN_GLYPH} down",
            f"12{BLOCKED_GLYPH} blocked",
            f"12{PREVIEW_GLYPH} option being previewed",
        ),
    ),
    ("timeline", ("┊ now", "│ time cursor", "◀ ▶ continues", "▐name▌ selected", "dim = ended")),
    ("flags", ("A active", "W you may change it", "I installed", "E install error", "H healed")),
    ("left", ("2h = time left", "+2h = starts in 2h", "▲ ▼ sorted column")),
)
"""(title, entries): the rows of the legend."""


def legend_text(width: int) -> str:
    """The legend as markup lines of at most `width` cells: each group's entries wrap under its title."""
    lines: list[str] = []
    indent = 10
    for title, entries in GROUPS:
        line = f"[b]{title:<{indent - 1}}[/] "
        used = indent
        for entry in entries:
            need = len(entry) + 3
            if used + need > width and used > indent:
                lines.append(line.rstrip())
                line, used = " " * indent, indent
            line += entry + "   "
            used += need
        lines.append(line.rstrip())
    return "\n".join(lines)
