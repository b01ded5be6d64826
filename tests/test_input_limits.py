"""Input that used to be accepted and then hurt later: each is now one line, a non-zero exit, no change.

(Issue 11, items 6 and 7: a name ending in a newline the tick then refused forever; a 120 KB -c written
into every pxelinux file; option combinations that quietly did something else.)
"""

from __future__ import annotations

import pytest
from conftest import Cluster
from test_cli import error, ok

from igor_tui.service import KERNEL_ARGS_MAX, PXE_CMDLINE_MAX


def snapshot(cluster: Cluster) -> tuple[bytes, set[str]]:
    store = cluster.statedir / "store.json"
    return (store.read_bytes() if store.exists() else b"", cluster.content_files())


def test_a_name_with_a_trailing_newline_is_refused(cluster: Cluster) -> None:
    before = snapshot(cluster)
    error(  # one line: the newline is shown escaped, not echoed raw
        cluster.run("sub", "-r", "foo\n", "-n", "1", *cluster.boot),
        1,
        "invalid reservation name 'foo\\n': use only letters, digits, '-' and '_' "
        "(and do not start with '-')",
    )
    assert snapshot(cluster) == before


def test_kernel_args_longer_than_a_pxelinux_command_line_are_refused(cluster: Cluster) -> None:
    before = snapshot(cluster)
    args = "x" * 120_000
    error(
        cluster.run("sub", "-r", "big", "-n", "1", "-c", args, *cluster.boot),
        1,
        f"kernel arguments are 120000 bytes long; the limit is {KERNEL_ARGS_MAX}, so that with the kernel "
        f"and initrd paths they fit PXELINUX's {PXE_CMDLINE_MAX}-character kernel command line",
    )
    assert snapshot(cluster) == before
    ok(cluster.run("sub", "-r", "fits", "-n", "1", "-c", "y" * KERNEL_ARGS_MAX, *cluster.boot))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("show", "-active", "-future"), "-active and -future exclude each other"),
        (("sub", "-r", "x", "-n", "0"), "-n must be at least 1"),
        (("sub", "-r", "x", "-n", "-3"), "-n must be at least 1"),
        (("sub", "-r", "x", "-n", "1", "-a", ""), "-a needs a start time"),
        (("block", "kn1", "--reason", "r", "-a", " "), "-a needs a start time"),
    ],
)
def test_quietly_odd_options_say_what_is_wrong(cluster: Cluster, argv: tuple[str, ...], message: str) -> None:
    before = snapshot(cluster)
    error(cluster.run(*argv, *(cluster.boot if argv[0] == "sub" else ())), 2, message, exact=False)
    assert snapshot(cluster) == before
