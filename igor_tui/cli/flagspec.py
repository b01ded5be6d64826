"""A verb's flags parsed without argparse when the words are ordinary (issue 14).

Why: importing argparse, building a verb's parser and the gettext/locale look-up its messages trigger
cost ~3-4 ms of every `igor` command, more than `igor show` spends on its work at 100 reservations. The
verb's argument function (verbs.py) is replayed into a `Recorder`, which keeps what the Go flag rules
(goflags.py) need; `fast_parse` builds the namespace argparse would build, or returns None for anything it
does not model exactly: an unknown, misspelt or incomplete flag, `--`, a bad value (type or choices), a
missing or extra positional, an argparse feature the recorder does not know. The caller then parses with
argparse under the Go rules as before, which gives the same answer or the same one-line error, and `-h`
always goes to argparse (the help text is argparse's). tests/test_flagspec.py checks that the two agree
on every verb.
"""

from __future__ import annotations

from types import SimpleNamespace

from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Callable, Sequence
    from typing import Any

BOOL_WORDS = {
    "true": True,
    "1": True,
    "t": True,
    "yes": True,
    "false": False,
    "0": False,
    "f": False,
    "no": False,
}
"""The words Go's strconv.ParseBool takes (and yes/no), for `-flag=value` on a bool flag."""

BOOL_FLAG = "go_bool"
"""`action=BOOL_FLAG`: a classic Go bool flag (`-c` sets it, `-c=false` clears it). A name, not the
argparse Action class (goflags.BoolFlag, which IgorParser substitutes), so verbs.py needs no argparse."""

_SIMPLE_KEYS = frozenset({"dest", "action", "default", "help", "metavar", "type", "choices"})
_BOOL_ACTIONS = ("store_true", BOOL_FLAG)


def whole_number(flag: str) -> Callable[[str], int]:
    """An argparse type that names the flag when the value is not a whole number."""

    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            import argparse  # only to say so: argparse turns this into `argument -n: ...`

            raise argparse.ArgumentTypeError(f"{flag} wants a whole number, got '{text}'") from None

    parse.__name__ = "number"
    return parse


class _Flag:
    """One add_argument call, reduced to what parsing needs."""

    __slots__ = ("choices", "default", "dest", "is_bool", "names", "type")

    def __init__(self, names: Sequence[str], kwargs: dict[str, Any]) -> None:
        action = kwargs.get("action")
        self.names = tuple(names)
        self.is_bool = action in _BOOL_ACTIONS
        self.default = kwargs.get("default", False if action == "store_true" else None)
        self.type: Callable[[str], object] | None = kwargs.get("type")
        self.choices: Sequence[object] | None = kwargs.get("choices")
        self.dest: str = kwargs.get("dest") or _dest(self.names)

    def value(self, text: str) -> tuple[bool, object]:
        """(True, the converted value), or (False, None) when argparse would refuse it."""
        try:
            value = text if self.type is None else self.type(text)
        except Exception:  # noqa: BLE001  # argparse's message (ArgumentTypeError, ValueError, ...): let it say it
            return False, None
        if self.choices is not None and value not in self.choices:
            return False, None
        return True, value


def _dest(names: Sequence[str]) -> str:
    """argparse's dest: a positional's name; an option's first long (`--x` or `-xy`) spelling, else its
    first, without the dashes, `-` made `_`."""
    if not names[0].startswith("-"):
        return names[0]
    long = [n for n in names if len(n) > 1 and n[1] == "-"]
    return (long or list(names))[0].lstrip("-").replace("-", "_")


class Recorder:
    """Takes a verb's add_argument calls in place of IgorParser. Any other parser method, and any
    add_argument it does not model exactly (nargs, required, const, other actions, a dest shared by two
    calls), marks the verb `unsupported`: fast_parse then leaves every parse of it to argparse."""

    def __init__(self) -> None:
        self.options: dict[str, _Flag] = {}
        self.positionals: list[_Flag] = []
        self.flags: list[_Flag] = []
        self.unsupported = False

    def add_argument(self, *names: str, **kwargs: Any) -> Recorder:
        flag = _Flag(names, kwargs)
        action = kwargs.get("action", "store")
        if (
            not names
            or not _SIMPLE_KEYS.issuperset(kwargs)
            or action not in ("store", *_BOOL_ACTIONS)
            or any(f.dest == flag.dest for f in self.flags)
            or (flag.is_bool and ("type" in kwargs or "choices" in kwargs))
        ):
            self.unsupported = True
        self.flags.append(flag)
        if names[0].startswith("-"):
            self.options.update(dict.fromkeys(names, flag))
        else:
            self.positionals.append(flag)
        return self

    def __getattr__(self, name: str) -> Callable[..., Recorder]:
        def unsupported(*args: object, **kwargs: object) -> Recorder:
            self.unsupported = True
            return self

        return unsupported


def fast_parse(flags: Recorder, args: Sequence[str]) -> Namespace | None:
    """The namespace goflags.parse would return for `args`, or None: ask argparse (see the module). The
    same two passes as goflags: `-flag=bool` words first (even one that a value flag will then take),
    then flags and their values left to right."""
    if flags.unsupported:
        return None
    kept: list[str] = []
    cleared: list[str] = []
    for arg in args:
        name, eq, text = arg.partition("=")
        flag = flags.options.get(name) if eq else None
        if flag is None or not flag.is_bool:
            kept.append(arg)
            continue
        truth = BOOL_WORDS.get(text.lower())
        if truth is None:
            return None
        if truth:
            kept.append(name)
        else:
            cleared.append(flag.dest)
    given = _given(flags, kept)
    return None if given is None else _namespace(flags.flags, given, cleared)


def _given(flags: Recorder, args: Sequence[str]) -> dict[str, object] | None:
    """dest -> value of every flag and positional in `args` (bool flags already bare), or None."""
    given: dict[str, object] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if len(arg) < 2 or not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, text = arg.partition("=")
        flag = flags.options.get(name)
        if flag is None or (flag.is_bool and eq):
            return None
        if flag.is_bool:
            given[flag.dest] = True
            continue
        if not eq:
            if i >= len(args):
                return None
            text = args[i]
            i += 1
        ok, given[flag.dest] = flag.value(text)
        if not ok or text == "--":  # argparse drops a "--" value: leave that corner to it
            return None
    if len(words) != len(flags.positionals):
        return None
    for flag, word in zip(flags.positionals, words, strict=True):
        ok, given[flag.dest] = flag.value(word)
        if not ok:
            return None
    return given


def _namespace(flags: Sequence[_Flag], given: dict[str, object], cleared: Sequence[str]) -> Namespace | None:
    """Defaults where nothing was given (a string default through its type, as argparse does), then the
    `-flag=false` clears, applied last as goflags applies them."""
    ns = SimpleNamespace()
    for flag in flags:
        if flag.dest in given:
            setattr(ns, flag.dest, given[flag.dest])
        elif isinstance(flag.default, str) and flag.type is not None:
            ok, value = flag.value(flag.default)
            if not ok:
                return None
            setattr(ns, flag.dest, value)
        else:
            setattr(ns, flag.dest, flag.default)
    for dest in cleared:
        setattr(ns, dest, False)
    return ns  # type: ignore[return-value]  # an argparse.Namespace to every reader of it
