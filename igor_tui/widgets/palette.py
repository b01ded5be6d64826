"""One colour per reservation, the same in rack cells, table rows and timeline bars; glyphs for states.

Colour is never the only signal (a down node also shows a glyph), and the palette uses only the 16 ANSI
colours so it reads the same over SSH in a basic terminal. Colours follow the reservation's id, not its
position in a list, so a reservation keeps its colour when others start, end or are filtered away.
"""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style

# Background colours with a readable foreground each (ANSI 16 only).
_COLOURS: tuple[tuple[str, str], ...] = (
    ("black", "green"),
    ("white", "blue"),
    ("white", "magenta"),
    ("black", "cyan"),
    ("black", "yellow"),
    ("black", "bright_green"),
    ("black", "bright_blue"),
    ("black", "bright_magenta"),
    ("black", "bright_cyan"),
    ("black", "bright_yellow"),
)

DOWN_GLYPH = "✗"
BLOCKED_GLYPH = "▒"
MARKED_GLYPH = "•"
MINE_GLYPH = "*"
HELD_GLYPH = "·"
PREVIEW_GLYPH = "░"

DOWN_STYLE = Style(color="bright_white", bgcolor="red", bold=True)
BLOCKED_STYLE = Style(dim=True)
PREVIEW_STYLE = Style(color="black", bgcolor="white")


@lru_cache(maxsize=512)
def reservation_style(res_id: int, mine: bool = False) -> Style:
    """The reservation's colour; the caller's own reservations are also bold and underlined."""
    fg, bg = _COLOURS[res_id % len(_COLOURS)]
    return Style(color=fg, bgcolor=bg, bold=mine, underline=mine)
