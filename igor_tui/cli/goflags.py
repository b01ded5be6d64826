"""Classic igor's Go flag rules on top of argparse, through public API only (the parser's own record of
the arguments it was given, IgorParser.arguments).

What argparse does not do on its own: a flag must be spelled out (argparse would take `-jso` for
`-json`); a flag that takes a value takes the next word even when it starts with '-' (`-c -quiet` and
`-t -1h` reach the validation that explains them); and a bool flag takes `=true`/`=false` (`-t=false`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import UsageError
from .parser import IgorParser

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
