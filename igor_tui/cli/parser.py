"""The argparse parser every verb gets, and the option helpers verbs share (one definition of `-r`, `-t`,
`-a`, `-n`, dry-run, --json, with classic igor's single-dash spellings).

A verb's options are added through these helpers so that the same flag reads and behaves the same in
every verb; the help texts stay the verb's own where the flag means something slightly different there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..errors import UsageError
from ..terminal import terminal_columns


class IgorParser(argparse.ArgumentParser):
    """argparse for one verb: usage errors as one `igor <verb>: ...` line instead of a usage dump, and a
    record of every argument added (`arguments`), which the Go-flag rules and completion read instead of
    argparse's private action list."""

    def __init__(self, verb: str, description: str, epilog: str | None) -> None:
        self.arguments: list[argparse.Action] = []  # before argparse's __init__, which adds -h
        super().__init__(
            prog=f"igor {verb}",
            description=description,
            epilog=epilog,
            formatter_class=_formatter(terminal_columns() - 2),
            allow_abbrev=False,
        )

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
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


def whole_number(flag: str) -> Callable[[str], int]:
    """An argparse type that names the flag when the value is not a whole number."""

    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} wants a whole number, got '{text}'") from None

    parse.__name__ = "number"
    return parse


# ------------------------------------------------------------------------------------ shared options


def json_option(p: IgorParser) -> None:
    """Every verb takes --json (classic -json), also accepted before the verb."""
    p.add_argument("-json", "--json", dest="json", action="store_true", help="print JSON instead of text")


def dry_run_option(p: IgorParser, text: str, spellings: Sequence[str] = ("--dry-run",)) -> None:
    """Dry run is `ns.dry_run` in every verb, whichever of the classic spellings the verb accepts."""
    p.add_argument(*spellings, dest="dry_run", action="store_true", help=text)


def reservation_option(p: IgorParser, text: str) -> None:
    """`-r NAME`: the reservation a verb acts on (classic igor names it with -r)."""
    p.add_argument("-r", metavar="NAME", default="", help=text)


def duration_option(p: IgorParser, text: str, default: str = "60m") -> None:
    """`-t DURATION` in the forms timeparse reads (90, 1h30m, 2d)."""
    p.add_argument("-t", metavar="DURATION", default=default, help=text)


def start_option(p: IgorParser, text: str) -> None:
    """`-a START`: None when not given, so argcheck can refuse an empty `-a ''`."""
    p.add_argument("-a", metavar="START", default=None, help=text)


def name_argument(p: IgorParser, text: str, metavar: str = "NAME") -> None:
    """The reservation NAME as a positional (completion offers live names for NAME, archived for
    ARCHIVED)."""
    p.add_argument("name", metavar=metavar, help=text)


def nodes_argument(p: IgorParser, text: str) -> None:
    p.add_argument("nodes", metavar="NODES", help=text)


def user_option(p: IgorParser) -> None:
    p.add_argument("--user", metavar="USER", default="igor", help="the service user (default igor)")


def prefix_option(p: IgorParser) -> None:
    p.add_argument("--prefix", metavar="DIR", default="/usr/local", help="install prefix (/usr/local)")


def root_option(p: IgorParser, text: str) -> None:
    p.add_argument("--root", metavar="ALTROOT", default="/", help=text)
