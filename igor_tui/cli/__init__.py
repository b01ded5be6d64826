"""The classic `igor` command line (single-dash flags as in classic igor, plus --json everywhere).

`run` parses the global options, finds the verb in the registry (verbs.py), parses its flags under the
Go rules (goflags.py) and calls its handler, mapping IgorError to `igor: <message>` and its exit code.
Only the standard library and igor's own light modules are imported at start-up; the store, rich and
the TUI are imported by the verbs that need them, so `igor show` and cron stay fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping, Sequence

from .. import argcheck
from ..errors import IgorError, UsageError
from ..typenames import TYPE_CHECKING
from .flagspec import fast_parse
from .verbs import VERBS, Verb

if TYPE_CHECKING:
    from typing import IO, Any, NoReturn

HELP_FLAGS = ("-h", "--help", "-help")


def usage_text() -> str:
    lines = [
        "igor: reserve, boot and release nodes of a bare-metal cluster",
        "",
        "usage: igor [--config PATH] COMMAND [options]",
        "",
        "commands:",
        *(f"  {verb.name:<10} {verb.help}" for verb in VERBS.values()),
        f"  {'tui':<10} the full-screen app: live racks, timeline, forms (same as igor-tui)",
        f'  {"completion":<10} print a bash or zsh completion script: eval "$(igor completion bash)"',
        "",
        "Run 'igor help COMMAND' or 'igor COMMAND -h' for a command's options and examples.",
        "The config is read from --config, else $IGOR_CONFIG, else /etc/igor.conf.",
    ]
    return "\n".join(lines) + "\n"


def _split_global(argv: list[str]) -> tuple[str | None, bool, list[str]]:
    """Global options before the verb: --config PATH (classic -config), --json."""
    config: str | None = None
    json_out = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config", "-config"):
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a path")
            config = argv[i + 1]
            i += 2
        elif arg.startswith(("--config=", "-config=")):
            config = arg.split("=", 1)[1]
            i += 1
        elif arg in ("--json", "-json"):
            json_out = True
            i += 1
        elif arg in HELP_FLAGS:
            return config, json_out, ["help"]
        elif arg in ("--version", "-version"):
            return config, json_out, ["version"]
        else:
            break
    return config, json_out, argv[i:]


def _completion(verb: str, args: list[str], out: IO[str], env: Mapping[str, str]) -> int:
    """`igor completion bash|zsh` and the scripts' `igor __complete ...`: no config needed, like help."""
    from . import completion

    if verb == "__complete":
        out.write("".join(f"{word}\n" for word in completion.run(args, env)))
    elif len(args) != 1 or args[0] in HELP_FLAGS:
        out.write('usage: igor completion bash|zsh\n  eval "$(igor completion bash)"  # in ~/.bashrc\n')
        return 0 if args else 2
    else:
        out.write(completion.script(args[0]))
    return 0


def _handler(verb: Verb) -> Any:
    """The verb's handler function, importing only its own module."""
    module, _, function = verb.handler.partition(":")
    # __import__ rather than importlib.import_module: importlib is not loaded yet on igor's path.
    return getattr(__import__(f"{__name__}.{module}", fromlist=[function]), function)


def _dispatch(
    verb: Verb,
    args: list[str],
    config: str | None,
    json_out: bool,
    *,
    io: tuple[IO[str], IO[str]],
    env: Mapping[str, str],
) -> int:
    out, err = io
    if any(a in HELP_FLAGS for a in args):
        out.write(verb.parser().format_help())
        return 0
    ns = fast_parse(verb.flags(), args)
    if ns is None:  # anything unusual, every usage error included: argparse under the Go rules
        from .goflags import parse

        ns = parse(verb.parser(), args)
    ns.json = ns.json or json_out
    argcheck.check(verb.name, ns)
    handler = _handler(verb)
    if not verb.needs_service:
        code: int = handler(ns, config, out, env)
        return code
    from ..service import build_service

    svc = build_service(config, env)
    code = handler(svc, ns, out)
    if svc.events.error:
        err.write(f"igor: warning: {svc.events.error}\n")
    return code


def run(argv: Sequence[str], out: IO[str], err: IO[str], env: Mapping[str, str]) -> int:
    """Parse, dispatch and map errors to `igor: <message>` plus the error's exit code."""
    try:
        config, json_out, rest = _split_global(list(argv))
        if not rest:
            err.write(usage_text())
            return 2
        name, args = rest[0], rest[1:]
        if name in ("completion", "__complete"):
            return _completion(name, args, out, env)
        if name == "tui":  # the full-screen app; Textual is imported only now
            from ..tui_main import main as tui_main

            return tui_main([*(["--config", config] if config else []), *args], env)
        verb = VERBS.get(name)
        if verb is None:
            raise UsageError(f"unknown command '{name}' (run 'igor help' for the list)")
        return _dispatch(verb, args, config, json_out, io=(out, err), env=env)
    except IgorError as exc:
        err.write(f"igor: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("igor: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


def main() -> NoReturn:
    """Console-script entry point."""
    # One command and exit: the cyclic garbage collector would only walk the ever-growing heap of the
    # store's records again and again (~6% of `igor show` at 5,000 reservations) to find nothing to free.
    gc.disable()
    try:
        code = run(sys.argv[1:], sys.stdout, sys.stderr, os.environ)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    sys.stderr.flush()
    # Everything igor writes is written and closed by now (the store, the log, the copies; stdout and
    # stderr just flushed), so skip tearing the heap down object by object: ~7 ms at 5,000 reservations.
    os._exit(code)
