"""igor-tick on a cluster with UEFI nodes: GRUB files follow the PXELINUX files' rules exactly.

The boot proof is test_netboot_uefi_e2e.py; these run the real `igor` and `igor-tick` against a mixed
cluster (every pair of nodes one UEFI, one BIOS) with the FakeEapi switch and the power script, and check
the files in grub/ and pxelinux.cfg: idempotent ticks, teardown before install on back-to-back
reservations, and SIGKILLed ticks that leave exactly the active reservations' files.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence

import pytest
from conftest import ClusterFactory
from fake_eapi import FaultySwitch
from test_tick_crash import SEED, crash_rounds
from test_tick_e2e import PXE_TEMP, Rig, back_to_back, build_rig, pxe_names

from igor_tui.backends import grub
from igor_tui.model import Reservation

pytestmark = pytest.mark.slow

NODES = 40
ODD = ",".join(f"kn{i}" for i in range(1, NODES + 1, 2))  # kn1, kn3, ...: every pair is mixed
SITE_GRUB = "exit\n"  # the site's grub/grub.cfg: igor never touches it
GRUB_TEMP = re.compile(r"\.grub\.cfg-" + PXE_TEMP.pattern.removeprefix(r"\."))
MIN_KILLS = 6  # the PXELINUX-only crash test (test_tick_crash.py) does the bulk of the kills


class MixedRig(Rig):
    """The tick tests' Rig whose file check knows the mixed cluster's GRUB and PXELINUX files, so the
    crash rounds of test_tick_crash.py check both."""

    def assert_pxe_exactly(
        self, active: Sequence[Reservation], *, leaked_temps: list[str] | None = None
    ) -> None:
        assert_files_exactly(self, active, [] if leaked_temps is None else leaked_temps)


def mixed_rig(make_cluster: ClusterFactory, switch: FaultySwitch) -> MixedRig:
    rig = build_rig(
        make_cluster, nodes=NODES, switch=switch, autoreboot=True, poweroffatend=True, bootmode={ODD: "uefi"}
    )
    (rig.cluster.tftproot / "grub").mkdir(parents=True, exist_ok=True)
    (rig.cluster.tftproot / "grub" / "grub.cfg").write_text(SITE_GRUB)
    return MixedRig(**{f.name: getattr(rig, f.name) for f in dataclasses.fields(rig)})


def grub_files(rig: Rig) -> dict[str, str]:
    path = rig.cluster.tftproot / grub.GRUB_DIR
    return {p.name: p.read_text() for p in path.iterdir()} if path.exists() else {}


def expected(rig: Rig, active: Sequence[Reservation]) -> tuple[dict[str, str], set[str]]:
    """The grub/ files (name -> text) and the pxelinux.cfg names the active reservations must have."""
    uefi: dict[str, str] = {}
    bios: set[str] = set()
    for res in active:
        text = grub.render(
            res.name,
            f"igor-{res.id}",
            f"/igor/content/{res.kernel_hash}",
            f"/igor/content/{res.initrd_hash}",
            res.kernel_args,
        )
        for node in res.nodes:
            names = pxe_names(rig.index(node))
            if rig.index(node) % 2:
                uefi.update({f"grub.cfg-{n}": text for n in names})
            else:
                bios.update(names)
    return uefi, bios


def assert_files_exactly(rig: Rig, active: Sequence[Reservation], leaked: list[str]) -> None:
    """grub/ holds the site's grub.cfg plus exactly the UEFI nodes' files of `active`; pxelinux.cfg exactly
    the BIOS nodes' files. Temp files of killed writes are collected, as test_tick_crash does."""
    uefi, bios = expected(rig, active)
    files = grub_files(rig)
    assert files.pop("grub.cfg") == SITE_GRUB
    for name in [n for n in files if GRUB_TEMP.fullmatch(n)]:
        leaked.append(name)
        del files[name]
    assert files == uefi
    pxe = {n for n in rig.pxe_files() if not PXE_TEMP.fullmatch(n)}
    assert pxe == bios


def test_a_mixed_reservation_installs_each_nodes_files_and_a_second_tick_does_nothing(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    rig = mixed_rig(make_cluster, switch)
    rig.igor("sub", "-r", "mix", *rig.cluster.boot, "-w", "kn[1-4]", "-c", '"spaced=a b" x=$y;z')
    first = rig.tick().stdout
    assert "0 failed" in first, first
    res = rig.res("mix")
    assert_files_exactly(rig, [res], [])
    assert "'spaced=a b' 'x=$y;z'" in grub_files(rig)["grub.cfg-" + pxe_names(1)[0]]
    again = rig.tick().stdout
    assert ": 0 action(s), 0 failed" in again, again


def test_back_to_back_on_a_uefi_node_leaves_only_the_second_reservations_file(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    rig = mixed_rig(make_cluster, switch)
    rig.igor("sub", "-r", "a", *rig.cluster.boot, "-w", "kn[1-2]", "-c", "round=a")
    rig.tick()
    b = back_to_back(rig, rig.res("a"), "b", "kn[1-2]", "round=b", *rig.cluster.boot)
    out = rig.tick().stdout
    assert "remove boot config of kn[1-2]" in out and "0 failed" in out, out
    assert_files_exactly(rig, [rig.res("b")], [])
    assert all("round=a" not in text for text in grub_files(rig).values())
    assert b.name == "b"


def test_sigkilled_ticks_on_a_mixed_cluster_leave_exactly_the_active_files(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """test_tick_crash's rounds (20 reservations end, 20 start, half back to back, random SIGKILLs) on the
    mixed cluster; after each round the GRUB and PXELINUX files match the store exactly."""
    stats = crash_rounds(mixed_rig(make_cluster, switch), random.Random(SEED + 1), MIN_KILLS)
    assert stats.kills >= MIN_KILLS
