"""flagspec.fast_parse, the CLI's argparse-free parse of ordinary words, against argparse under the Go
rules (goflags.parse): on every verb, whenever the fast parse answers, its namespace is argparse's, and
whenever argparse refuses, the fast parse answers None (so the refusal and its message stay argparse's)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igor_tui.cli.flagspec import fast_parse
from igor_tui.cli.goflags import parse
from igor_tui.cli.verbs import VERBS, Verb
from igor_tui.errors import UsageError

VALUES = ("", "a", "5", "-5", "-1h", "90m", "-", "--", "x=y", "true", "false", "kn[1-2]", "on", "arista")
"""Words and `=values` a verb meets: names, numbers, negative durations, choices, bool words."""


def _words(verb: Verb) -> st.SearchStrategy[list[str]]:
    options = [name for action in verb.parser().arguments for name in action.option_strings]
    options = [name for name in options if name not in ("-h", "--help")]
    glued = [f"{name}={value}" for name in options for value in VALUES]
    token = st.sampled_from([*options, *glued, *VALUES, "-zz", "-zz=1"])
    return st.lists(token, max_size=7)


def _argparse(verb: Verb, args: list[str]) -> dict[str, object] | None:
    try:
        return vars(parse(verb.parser(), args))
    except UsageError:
        return None


@pytest.mark.parametrize("name", sorted(VERBS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_parse_agrees_with_argparse(name: str, data: st.DataObject) -> None:
    verb = VERBS[name]
    args = data.draw(_words(verb))
    fast = fast_parse(verb.flags(), args)
    expected = _argparse(verb, args)
    if fast is not None:
        assert vars(fast) == expected
    elif expected is not None:
        # argparse accepts it, the fast parse declined: allowed (it is only slower), but only for the
        # corners flagspec documents: a verb using what the recorder does not model, a "--" value.
        assert verb.flags().unsupported or any(a == "--" or a.endswith("=--") for a in args)


@pytest.mark.parametrize(
    "args",
    [
        ["show"],
        ["show", "-json"],
        ["show", "-c=false", "-t=false", "-o"],
        ["sub", "-s", "-n", "8", "-t", "60"],
        ["sub", "-n", "8", "-t", "60", "-k", "/boot/vmlinuz", "-i", "/boot/initrd", "-r", "bench1"],
        ["sub", "-r", "x", "-w", "kn[1-4]", "-a", "-1h", "-c", "console=ttyS0 quiet"],
        ["extend", "-r", "ext1", "-t", "30m"],
        ["del", "bench1"],
        ["del", "-json", "bench1"],
        ["power", "cycle", "-r", "x"],
    ],
)
def test_hot_commands_take_the_fast_parse(args: list[str]) -> None:
    """The commands people run most never build an argparse parser, and read the same values."""
    verb = VERBS[args[0]]
    fast = fast_parse(verb.flags(), args[1:])
    assert fast is not None
    assert vars(fast) == vars(parse(verb.parser(), args[1:]))


@pytest.mark.parametrize(
    "args",
    [
        ["sub", "-n", "x"],
        ["sub", "-bogus"],
        ["sub", "-n"],
        ["show", "-c=maybe"],
        ["del"],
        ["del", "a", "b"],
        ["power", "sideways"],
        ["sub", "--", "-s"],
    ],
)
def test_refusals_are_left_to_argparse(args: list[str]) -> None:
    """Every usage error keeps argparse's (or goflags') one line: the fast parse declines them all."""
    verb = VERBS[args[0]]
    assert fast_parse(verb.flags(), args[1:]) is None
    with pytest.raises(UsageError):
        parse(verb.parser(), args[1:])
