"""How igor prints its values: one JSON shape per value type (shapes), the text of `igor show` and
`igor sub -s` (show), of the operations verbs (ops), and the pieces they share (text).

The names modules imported from the old output.py are re-exported here, so `from igor_tui.output import
nodes_text` keeps working; the operations renderers are imported from igor_tui.output.ops by the verbs
that print them, so `igor show` does not load them.
"""

from __future__ import annotations

from .shapes import dump_json, reservation_json, slots_json
from .show import (
    BLOCKED_GLYPH,
    BLOCKED_STYLE,
    DOWN_GLYPH,
    DOWN_STYLE,
    KEYS,
    OVERFLOW_KEY,
    PALETTE,
    ShowOptions,
    boot_modes_text,
    flags,
    node_states,
    render_errors,
    render_show,
    render_slots,
    select,
    show_json,
)
from .text import columns, nodes_text, printable, zone_note

__all__ = [
    "BLOCKED_GLYPH",
    "BLOCKED_STYLE",
    "DOWN_GLYPH",
    "DOWN_STYLE",
    "KEYS",
    "OVERFLOW_KEY",
    "PALETTE",
    "ShowOptions",
    "boot_modes_text",
    "columns",
    "dump_json",
    "flags",
    "node_states",
    "nodes_text",
    "printable",
    "render_errors",
    "render_show",
    "render_slots",
    "reservation_json",
    "select",
    "show_json",
    "slots_json",
    "zone_note",
]
