"""igor.conf.example and the README's key table, written from the key table so neither can drift from it.

`scripts/config_docs.py` writes both files; tests/test_config_docs.py fails when either differs from what
this module renders. Of igor's commands only `igor setup` imports it, to write igor.conf in the same layout.
"""

from __future__ import annotations

import json

from .keys import KEYS, Key

HEADER = (
    "igor.conf: JSON read by igor and igor-tui (default /etc/igor.conf; override with --config PATH or "
    "IGOR_CONFIG). Keys are matched case-insensitively, so classic files keep working; unknown keys are "
    "errors; keys starting with '#' are comments. Install it owned by the igor service user with mode 0600 "
    "(it may hold the switch password). The classic PR-branch key 'advanced' is accepted and ignored."
)
"""The example's opening comment."""

SECTION_TITLES = {
    "paths": "Paths",
    "naming": "Node names",
    "rack": "Rack diagram",
    "policy": "Policy",
    "power": "Power",
    "cobbler": "Cobbler",
    "network": "Network segmentation",
    "boot": "Booting",
    "liveness": "Liveness and DNS",
    "tick": "igor-tick",
    "mail": "Reminders",
    "classic": "Classic",
}
"""README headings of the sections, in the order the README lists them."""

README_START = "<!-- config-keys: written by scripts/config_docs.py from igor_tui/config/keys.py -->"
README_END = "<!-- /config-keys -->"
_KIND_NAMES = {
    "str": "string",
    "path": "absolute path",
    "int": "integer",
    "bool": "boolean",
    "node_map": "object",
    "hosts": "object",
    "admins": "list",
    "object": "object",
    "list": "list",
    "bootmode": "string or object",
}


def _value(value: object) -> str:
    """One example value as JSON; a non-empty object of objects gets a line per entry, as admins write it."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        entries = ",\n".join(
            f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()
        )
        return "{\n" + entries + "\n  }"
    return json.dumps(value, ensure_ascii=False)


def render_example() -> str:
    """igor.conf.example: the header, then each documented key with its comment right above it."""
    pairs: list[tuple[str, object]] = [("#", HEADER)]
    for key in KEYS:
        if key.doc:
            pairs += [(f"#{key.name}", key.doc), (key.name, key.example)]
    return commented_json(pairs)


def commented_json(pairs: list[tuple[str, object]]) -> str:
    """A JSON object in igor.conf.example's layout: a line per key, a blank line before each comment key
    ('#...'), so `igor setup` writes a config that reads like the example it came from."""
    lines: list[str] = []
    for i, (name, value) in enumerate(pairs):
        if name.startswith("#") and i:
            lines.append("")
        comma = "," if i < len(pairs) - 1 else ""
        lines.append(f"  {json.dumps(name)}: {_value(value)}{comma}")
    return "{\n" + "\n".join(lines) + "\n}\n"


def _kind(key: Key) -> str:
    """The type column: the JSON kind plus its range or choices."""
    text = _KIND_NAMES[key.kind]
    if key.low is not None and key.high is not None:
        text += f", {key.low}–{key.high}"
    elif key.low is not None:
        text += f", ≥ {key.low}"
    if key.choices:
        text += ": " + ", ".join(f"`{choice}`" for choice in key.choices)
    return text


def _default(key: Key) -> str:
    if key.kind == "object" or key.default in ("", None):
        return ""
    value = list(key.default) if isinstance(key.default, tuple) else key.default
    return f"`{json.dumps(value)}`"


def render_readme_table() -> str:
    """The README's configuration table, one row per key, grouped by section, between its markers."""
    lines = [README_START, "", "| key | type | default | meaning |", "|-----|------|---------|---------|"]
    for section, title in SECTION_TITLES.items():
        lines.append(f"| **{title}** | | | |")
        for key in KEYS:
            if key.section == section:
                meaning = (key.doc or key.expect[:1].upper() + key.expect[1:] + ".").replace("|", "\\|")
                lines.append(f"| `{key.name}` | {_kind(key)} | {_default(key)} | {meaning} |")
    return "\n".join([*lines, "", README_END])


def with_readme_table(readme: str) -> str:
    """`readme` with the text between the markers replaced by the rendered table."""
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    return readme[:start] + render_readme_table() + readme[end:]
