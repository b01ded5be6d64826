"""Shell completion for bash and zsh: `igor completion bash|zsh` prints a script; the script asks
`igor __complete CWORD WORDS...` for candidates.

Candidates come from the verb registry's own parsers (flags, choices, and metavars such as NAME and
NODES, as igor_tui.cli.goflags.IgorParser records them), so completion never drifts from what the parser
accepts. Reservation names come from a
lock-free read of the store; any failure (no config, unreadable store) just completes nothing.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence

FILES = "__files__"
"""Tells the shell script to complete file names itself."""

EXTRA_VERBS = ("tui", "completion")
FILE_METAVARS = frozenset({"KERNEL", "INITRD", "PATH", "FILE", "DIR", "ALTROOT"})

BASH = """\
# bash completion for igor (igor-tui): eval "$(igor completion bash)"
_igor() {
    local IFS=$'\\n' out
    out=$(igor __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null) || return 0
    if [[ "$out" == "__files__" ]]; then
        COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
    else
        COMPREPLY=($(compgen -W "$out" -- "${COMP_WORDS[COMP_CWORD]}"))
    fi
}
complete -o default -F _igor igor
"""

ZSH = """\
#compdef igor
# zsh completion for igor (igor-tui): eval "$(igor completion zsh)", or save as _igor in $fpath
_igor() {
    local -a candidates
    candidates=("${(@f)$(igor __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
    if [[ "${candidates[1]}" == "__files__" ]]; then
        _files
    else
        compadd -- "${candidates[@]}"
    fi
}
if [[ "$funcstack[1]" == "_igor" ]]; then _igor "$@"; else compdef _igor igor; fi
"""


def script(shell: str) -> str:
    scripts = {"bash": BASH, "zsh": ZSH}
    if shell not in scripts:
        from ..errors import UsageError

        raise UsageError(f"completion for '{shell}' is not available: choose bash or zsh")
    return scripts[shell]


def complete(
    cword: int,
    words: Sequence[str],
    *,
    commands: Sequence[str],
    arguments: Callable[[str], Sequence[argparse.Action]],
    names: Callable[[str | None], Sequence[str]],
    nodes: Callable[[str | None], Sequence[str]],
    archived: Callable[[str | None], Sequence[str]] = lambda config: (),
) -> list[str]:
    """The candidates for word `cword` of `words` (words[0] is igor itself).

    `names(config)` and `nodes(config)` list reservation and node names for the config the command
    line names (None: the default), so `igor --config x del <TAB>` completes from x."""
    config: str | None = None
    i = 1
    while i < len(words) and i < cword and words[i].startswith("-"):
        if words[i] in ("--config", "-config") and i + 1 < len(words):
            if i + 1 == cword:
                return [FILES]
            config = words[i + 1]
            i += 1
        i += 1
    if cword <= i:
        return [*commands, *EXTRA_VERBS, "--config", "--json"]
    verb = words[i]
    if verb == "completion":
        return ["bash", "zsh"]
    if verb == "help":
        return list(commands)
    if verb not in commands:
        return []
    options: dict[str, argparse.Action] = {}
    positionals: list[argparse.Action] = []
    for action in arguments(verb):
        if action.option_strings:
            options.update(dict.fromkeys(action.option_strings, action))
        elif action.dest != "help":
            positionals.append(action)
    previous = words[cword - 1] if cword - 1 > i else ""
    if previous in options and options[previous].nargs != 0:
        return _values(options[previous], config, names, nodes, archived)
    current = words[cword] if cword < len(words) else ""
    if current.startswith("-"):
        return sorted(flag for flag in options if flag not in ("-h", "-help"))
    # Which positional is this? Count the earlier words that are not flags or flag values.
    index = 0
    j = i + 1
    while j < cword:
        option = options.get(words[j])
        if option is not None:
            j += 1 if option.nargs == 0 else 2
            continue
        index += 1
        j += 1
    if index < len(positionals):
        return _values(positionals[index], config, names, nodes, archived)
    return sorted(flag for flag in options if flag.startswith("-") and flag not in ("-h", "-help"))


def _values(
    action: argparse.Action,
    config: str | None,
    names: Callable[[str | None], Sequence[str]],
    nodes: Callable[[str | None], Sequence[str]],
    archived: Callable[[str | None], Sequence[str]],
) -> list[str]:
    if action.choices is not None:
        return [str(c) for c in action.choices]
    metavar = str(action.metavar or "")
    if metavar in FILE_METAVARS:
        return [FILES]
    if metavar == "NAME":
        return list(names(config))
    if metavar == "ARCHIVED":
        return list(archived(config))
    if metavar == "NODES":
        return list(nodes(config))
    return []


def archived_names(config: str | None, env: Mapping[str, str]) -> list[str]:
    """Names `igor restore` can take: archived reservations; nothing when anything goes wrong."""
    try:
        from ..service import build_service

        return sorted({e.reservation.name for e in build_service(config, env).store.archived()})
    except Exception:  # noqa: BLE001 - completion must never print an error into the user's shell
        return []


def store_names(config: str | None, env: Mapping[str, str]) -> list[str]:
    """Live reservation names, read without the lock; nothing at all when anything goes wrong."""
    try:
        from ..service import build_service

        return sorted(r.name for r in build_service(config, env).live_reservations())
    except Exception:  # noqa: BLE001 - completion must never print an error into the user's shell
        return []


def node_names(config: str | None, env: Mapping[str, str]) -> list[str]:
    try:
        from ..config import config_path, load_config

        return list(load_config(config_path(config, env)).naming.all())
    except Exception:  # noqa: BLE001 - as above
        return []


def run(args: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """`igor __complete CWORD WORDS...`."""
    from .verbs import VERBS

    env = os.environ if env is None else env
    if not args or not args[0].isdigit():
        return []
    cword, words = int(args[0]), list(args[1:])
    return complete(
        cword,
        words,
        commands=list(VERBS),
        arguments=lambda verb: VERBS[verb].parser().arguments,
        names=lambda config: store_names(config, env),
        nodes=lambda config: node_names(config, env),
        archived=lambda config: archived_names(config, env),
    )
