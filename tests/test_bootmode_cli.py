"""`bootmode` through the CLI: show and --json name each node's boot mode; arguments GRUB cannot carry
are refused when a reservation is made, not when it starts."""

from __future__ import annotations

import json

import pytest
from conftest import ClusterFactory
from test_cli import error, ok

MIXED = {"kn[1-4]": "uefi", "kn[5-20]": "bios"}


def test_show_json_gives_every_node_its_boot_mode(make_cluster: ClusterFactory) -> None:
    cluster = make_cluster(bootmode=MIXED)
    nodes = json.loads(ok(cluster.run("show", "--json")))["nodes"]
    modes = {n["name"]: n["bootmode"] for n in nodes}
    assert modes == {f"kn{i}": "uefi" if i <= 4 else "bios" for i in range(1, 21)}


def test_show_says_which_nodes_boot_which_way(make_cluster: ClusterFactory) -> None:
    assert "boot mode: uefi kn[1-4], bios kn[5-20]" in ok(make_cluster(bootmode=MIXED).run("show"))
    assert "boot mode: uefi all nodes" in ok(make_cluster(bootmode="uefi").run("show"))
    assert "boot mode" not in ok(make_cluster().run("show"))  # an all-BIOS cluster looks as before


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ("apos=it's", "a single quote (') cannot be passed through GRUB unchanged"),
        ("path=C:\\x", "a backslash (\\) cannot be passed through GRUB unchanged"),
        ('open="a b', 'a double quote (") is not closed'),
    ],
)
def test_args_grub_would_change_are_refused_at_submit_on_a_cluster_with_uefi_nodes(
    make_cluster: ClusterFactory, args: str, why: str
) -> None:
    cluster = make_cluster(bootmode=MIXED)
    line = error(cluster.run("sub", "-r", "q", *cluster.boot, "-n", "1", "-c", args), 1, why, exact=False)
    assert "(bootmode)" in line
    assert json.loads(ok(cluster.run("show", "--json")))["reservations"] == []


def test_nasty_but_carriable_args_are_accepted_on_uefi_and_anything_printable_on_bios(
    make_cluster: ClusterFactory,
) -> None:
    uefi = make_cluster(bootmode="uefi")
    ok(uefi.run("sub", "-r", "q", *uefi.boot, "-n", "1", "-c", '"spaced=a b" x=$y;z {b} #c'))
    bios = make_cluster()
    ok(bios.run("sub", "-r", "q", *bios.boot, "-n", "1", "-c", "apos=it's path=C:\\x"))


def test_a_bad_bootmode_is_one_line_naming_key_and_value(make_cluster: ClusterFactory) -> None:
    cluster = make_cluster(bootmode={"kn[1-4]": "uefi", "kn[4-30]": "bios"})
    proc = cluster.run("show")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "bootmode['kn[4-30]']: bad node list 'kn[4-30]': kn21 is not a node of this cluster" in proc.stderr
