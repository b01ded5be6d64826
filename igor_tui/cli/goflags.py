"""Classic igor's Go flag rules on top of argparse, through public API only: the parser every verb gets
(IgorParser, which records the arguments it is given instead of reading argparse's private list), the Go
bool flag, and `parse`.

What argparse does not do on its own: a flag must be spelled out (argparse would take `-jso` for
`-json`); a flag that takes a value takes the next word even when it starts with '-' (`-c -quiet` and
`-t -1h` reach the validation that explains them); and a bool flag takes `=true`/`=false` (`-t=false`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..errors import UsageError
from ..terminal import terminal_columns
from .flagspec import BOOL_FLAG, BOOL_WORDS, whole_number

__all__ = ["BOOL_WORDS", "BoolFlag", "IgorParser", "parse", "whole_number"]


class IgorParser(argparse.ArgumentParser):
    """argparse for one verb: usage errors as one `igor <verb>: ...` line instead of a usage dump, and a
    record of every argument added (`arguments`), which the Go-flag rules and completion read instead of
    argparse's private action list."""

    def __init__(self, verb: str, description: str, epilog: str | None) -> None:
        self.arguments: list[argparse.Action] = []
        super().__init__(
            prog=f"igor {verb}",
            description=description,
            epilog=epilog,
            formatter_class=_formatter(terminal_columns() - 2),
            allow_abbrev=False,
            add_help=False,
        )
        # argparse's own -h, with its words: added by argparse they cost a gettext look-up for a
        # translation igor does not ship (a path search, ~0.1 ms) on every run.
        self.add_argument("-h", "--help", action="help", help="show this help message and exit")

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        if kwargs.get("action") == BOOL_FLAG:  # verbs.py names it, to import no argparse (flagspec)
            kwargs["action"] = BoolFlag
        action = super().add_argument(*args, **kwargs)
        self.arguments.append(action)
        return action

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see 'igor {self.prog.removeprefix('igor ')} -h')")


def _formatter(width: int) -> Callable[..., argparse.HelpFormatter]:
    """argparse's own formatter, given the width argparse would compute: without one it imports shutil to
    ask (once per add_argument), and nothing else on igor's CLI path needs shutil."""

    def make(*, prog: str) -> argparse.HelpFormatter:
        return argparse.RawDescriptionHelpFormatter(prog, width=width)

    return make


class BoolFlag(argparse.Action):
    """A classic Go bool flag: `-c` sets it, `-c=false` clears it (goflags turns `=false` into a clear)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        default = kwargs.pop("default", None)
        help_text = kwargs.pop("help", None)
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=default,
            help=help_text if isinstance(help_text, str) else None,
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True)


def parse(parser: IgorParser, args: Sequence[str]) -> argparse.Namespace:
    """`parser.parse_args(args)` under the Go flag rules."""
    kept, cleared = _split_bool_values(args, parser.arguments)
    ns = parser.parse_args(_go_style(kept, parser))
    for dest in cleared:
        setattr(ns, dest, False)
    return ns


def _is_bool(action: argparse.Action) -> bool:
    """A flag that takes no value and is not -h: store_true or a BoolFlag."""
    return action.nargs == 0 and action.dest != "help"


def _split_bool_values(
    args: Sequence[str], arguments: Sequence[argparse.Action]
) -> tuple[list[str], list[str]]:
    """Go-style `-c=false` bool flags: return the args argparse understands and the dests to clear."""
    bools = {opt: action.dest for action in arguments if _is_bool(action) for opt in action.option_strings}
    kept: list[str] = []
    cleared: list[str] = []
    for arg in args:
        flag, eq, value = arg.partition("=")
        if eq and flag in bools:
            truth = BOOL_WORDS.get(value.lower())
            if truth is None:
                raise UsageError(f"{flag} wants true or false, got '{value}'")
            if truth:
                kept.append(flag)
            else:
                cleared.append(bools[flag])
        else:
            kept.append(arg)
    return kept, cleared


def _go_style(args: list[str], parser: IgorParser) -> list[str]:
    """Flags spelled out in full, and a value-taking flag glued to its value (`-t=-1h`), so argparse
    neither guesses an abbreviation nor reads a value starting with '-' as another flag."""
    takes_value = {opt: action.nargs != 0 for action in parser.arguments for opt in action.option_strings}
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        flag, eq, _ = arg.partition("=")
        if len(arg) > 1 and arg.startswith("-"):
            if flag not in takes_value:
                raise UsageError(f"unknown flag {flag} (see '{parser.prog} -h')")
            if takes_value[flag] and not eq:
                if i + 1 >= len(args):
                    raise UsageError(f"{flag} needs a value (see '{parser.prog} -h')")
                out.append(f"{flag}={args[i + 1]}")
                i += 2
                continue
        out.append(arg)
        i += 1
    return out
