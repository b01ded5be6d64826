"""Read one JSON object of igor.conf against the key table, collecting every problem instead of stopping.

The generic rules (known key, JSON kind, range, choices, absolute path) are applied here from the table,
once for every key; the section classes then read typed values and add only their cross-field rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from igor_tui.values import field_names, from_fields

from ..typenames import TYPE_CHECKING
from .keys import BY_NAME, KIND_WORDS, Key

if TYPE_CHECKING:
    from typing import Any, TypeVar

    from .keys import Kind

    _T = TypeVar("_T")

_SHOW_LIMIT = 80


def json_type(value: object) -> str:
    """The JSON name of a value's type, because admins edit JSON, not Python."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__


def show(key: str, value: object) -> str:
    """repr of a bad value, shortened, and never the password itself."""
    if key in BY_NAME and BY_NAME[key].secret:
        return "<hidden>"
    text = repr(value)
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 3] + "..."
    return text


def _kind_ok(kind: Kind, value: object) -> bool:
    """Strict JSON typing: bool is not an integer and an integer is not a bool (classic Go agreed)."""
    if kind in ("str", "path"):
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("admins", "list"):
        return isinstance(value, list | tuple)
    if kind == "bootmode":
        return isinstance(value, str | Mapping)
    return isinstance(value, Mapping)


class Reader:
    """One JSON object matched case-insensitively against a known key set, collecting problems as it goes."""

    def __init__(
        self,
        raw: Mapping[object, object],
        known: Mapping[str, Key],
        problems: list[str],
        where: str = "",
        unknown_hint: str = "not an igor.conf key (see igor.conf.example)",
    ) -> None:
        self.known = known
        self.problems = problems
        self.where = where
        self.values: dict[str, object] = {}
        self.spelling: dict[str, str] = {}
        self.bad: set[str] = set()
        for key, value in raw.items():
            if not isinstance(key, str):
                self.add(f"key {key!r} is not a string; expected one of the names in igor.conf.example")
                continue
            if key.startswith("#"):
                continue  # a comment, see igor.conf.example
            canon = key.lower()
            if canon not in known:
                import difflib  # only for a config with mistakes: every igor command reads the config

                close = difflib.get_close_matches(canon, list(known), n=1)
                hint = f"did you mean {close[0]!r}?" if close else unknown_hint
                self.add(f"unknown key {key!r}: {hint}")
                continue
            if canon in self.values:
                self.add(
                    f"keys {self.spelling[canon]!r} and {key!r} are the same key (keys are matched "
                    "case-insensitively): keep one"
                )
                continue
            self.values[canon] = value
            self.spelling[canon] = key
            self._check(known[canon], value)

    def _check(self, key: Key, value: object) -> None:
        """The table's rules for one given value: kind, then range, choices or absolute path."""
        if not _kind_ok(key.kind, value):
            got = f"got {show(key.name, value)} ({json_type(value)})"
            self.add(f"{self.name(key.name)}: expected {KIND_WORDS[key.kind]} ({key.expect}), {got}")
            self.bad.add(key.name)
        elif isinstance(value, int) and not isinstance(value, bool) and key.out_of_range(value):
            self.add_bad(key.name, value, key.out_of_range(value))
        elif key.choices and value not in key.choices:
            self.add_bad(key.name, value, f"is not one of {', '.join(map(repr, key.choices))}")
        elif key.kind == "path" and value and not os.path.isabs(str(value)):
            self.add_bad(key.name, value, f"is not an absolute path; expected {key.expect}")

    def add(self, problem: str) -> None:
        """Prefix nested problems with where they are, e.g. hosts['kn1']."""
        self.problems.append(f"{self.where}: {problem}" if self.where else problem)

    def add_bad(self, key: str, value: object, why: str) -> None:
        """Record a key whose type is right but whose value is not, naming the key and the value."""
        self.add(f"{self.name(key)}: {show(key, value)} {why}")
        self.bad.add(key)

    def name(self, key: str) -> str:
        """The key as the admin wrote it, so they can find it in the file."""
        return self.spelling.get(key, key)

    def given(self, key: str) -> bool:
        """Present and valid by the table's rules."""
        return key in self.values and key not in self.bad

    def ok(self, *keys: str) -> bool:
        """None of `keys` already has a problem, so a cross-check will not pile a second one on."""
        return not any(key in self.bad for key in keys)

    def raw(self, key: str) -> object:
        """The value as written (any type), or None when absent."""
        return self.values.get(key)

    def text(self, key: str) -> str:
        """The string value of `key`, or the table's default when absent or invalid."""
        value = self.values.get(key)
        return value if self.given(key) and isinstance(value, str) else str(self.known[key].default)

    def number(self, key: str) -> int:
        """The integer value of `key`, or the table's default when absent or invalid."""
        value = self.values.get(key)
        default: int = self.known[key].default
        return value if self.given(key) and isinstance(value, int) else default

    def flag(self, key: str) -> bool:
        """The boolean value of `key`, or the table's default when absent or invalid."""
        value = self.values.get(key)
        return value if self.given(key) and isinstance(value, bool) else bool(self.known[key].default)

    def build(self, cls: type[_T], **computed: Any) -> _T:
        """A section `cls`: its plain fields (strings, integers, booleans) read by name from the table,
        the others (`computed`) given by the section's own code."""
        plain: dict[str, Any] = {}
        for name in field_names(cls):
            if name in computed:
                continue
            kind = self.known[name].kind
            plain[name] = (
                self.number(name) if kind == "int" else self.flag(name) if kind == "bool" else self.text(name)
            )
        return from_fields(cls, {**plain, **computed})


def argv_words(sec: Reader, key: str) -> tuple[str, ...]:
    """An argv list key: non-empty printable words, the first an absolute path, because igor runs it
    without a shell or a PATH lookup (mailcommand, on_start, on_end)."""
    raw = sec.raw(key)
    if not sec.given(key) or not isinstance(raw, list | tuple):
        return ()
    argv: list[str] = []
    for i, word in enumerate(raw):
        if not isinstance(word, str) or not word or not word.isprintable():
            where = f"{sec.name(key)}[{i}]"
            sec.add(f"{where}: expected a non-empty word of the command, got {word!r} ({json_type(word)})")
            sec.bad.add(key)
        else:
            argv.append(word)
    if argv and not os.path.isabs(argv[0]):
        sec.add_bad(key, raw, "must start with the command's absolute path (no PATH lookup)")
    return tuple(argv)
