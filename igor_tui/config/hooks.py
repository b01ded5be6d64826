"""The hooks section: the commands igor-tick runs when a reservation starts and ends, and their timeout."""

from __future__ import annotations

from igor_tui.values import dataclass

from ..typenames import TYPE_CHECKING
from .keys import default
from .reader import Reader, argv_words

if TYPE_CHECKING:
    from typing import Self

    from igor_tui.hostlist import NodeNaming

PLACEHOLDERS = ("name", "owner", "group", "nodes", "node_list", "start", "end", "vlan", "id", "event")
"""What a hook's words may name, each a fact of the reservation (service/hooks.py fills them in)."""


@dataclass(frozen=True)
class HookSettings:
    """Site actions at a reservation's start and end (Slurm's ResvProlog/ResvEpilog): argv templates,
    never a shell, so a reservation name can never become a command."""

    on_start: tuple[str, ...] = default("on_start")
    on_end: tuple[str, ...] = default("on_end")
    hook_timeout: int = default("hook_timeout")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Each template checked at load, so a typo in a placeholder fails `igor doctor`, not a tick."""
        start = argv_words(sec, "on_start")
        end = argv_words(sec, "on_end")
        for key, argv in (("on_start", start), ("on_end", end)):
            for i, word in enumerate(argv):
                why = template_problem(word)
                if why:
                    sec.add(f"{sec.name(key)}[{i}]: {word!r} {why}")
                    sec.bad.add(key)
        return sec.build(cls, on_start=start, on_end=end)


def template_problem(word: str) -> str:
    """Why `word` is not a valid hook template word ('' if it is): only the fixed placeholders, plain."""
    import string  # only for a config with hooks: ~2 M instructions of every command otherwise (issue 14)

    try:
        parts = list(string.Formatter().parse(word))
    except ValueError as err:
        return f"is not a valid template ({err}); write a literal brace as {{{{ or }}}}"
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for _text, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            return f"names an unknown placeholder {{{field}}}; expected one of {allowed}"
    return ""
