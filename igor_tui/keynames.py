"""Key names spelled one way everywhere (footer, help, legend, dialogs): `Ctrl+P`, `Esc`, `Space`, `?`.

Textual's own footer writes `^p` and `esc` while the help wrote `Ctrl+r`; users read both side by side,
so the app formats every key through this one function. Pure, free of Textual.
"""

from __future__ import annotations

_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "escape": "Esc",
    "enter": "Enter",
    "space": "Space",
    "tab": "Tab",
    "plus": "+",
    "minus": "-",
    "equals_sign": "=",
    "equal": "=",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "left": "←",
    "right": "→",
    "up": "↑",
    "down": "↓",
}


def key_name(key: str) -> str:
    """One key as users read it: `ctrl+p` -> `Ctrl+P`, `escape` -> `Esc`, `shift+left` -> `Shift+←`."""
    *mods, base = key.split("+") if key != "+" else [key]
    name = _NAMES.get(base, base.upper() if mods and len(base) == 1 else base)
    return "+".join([*(m.capitalize() for m in mods), name])


def keys_name(keys: str) -> str:
    """A binding's comma-separated keys: `left,h` -> `←, h`."""
    return ", ".join(key_name(k) for k in keys.split(","))
