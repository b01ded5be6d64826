"""Proof on a real UEFI boot path: reservations netboot OVMF qemu nodes through GRUB into the user's kernel.

The BIOS proof (test_netboot_e2e.py) boots PXELINUX files; these boot the GRUB files igor writes for
nodes whose `bootmode` is "uefi". Each UEFI node is a qemu process with OVMF firmware (its own copy of the
VARS store) that fetches igor's GRUB image (built by the same code `igor setup --uefi` uses) over qemu's
user-mode TFTP; GRUB then reads grub/grub.cfg-01-<mac> or grub/grub.cfg-<HEXIP>. igor runs as users and
cron run it, and powers the nodes through its ordinary command backend; nothing in igor knows the nodes
are virtual. The nodes' /init prints the whole /proc/cmdline, so the tests compare the kernel's command line
with the reservation's arguments character for character.

Network: as in the BIOS proof, DHCP and TFTP live inside each qemu process (slirp, `restrict=on`); igor's
own traffic goes only to a stub DNS server on 127.0.0.1. Boot times are printed at the end of the module.
The machine has 2 shared cores, so at most two qemu nodes run at once here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_netboot_e2e import (
    SITE_DEFAULT_ARG,
    BootFiles,
    Netboot,
    NetbootFactory,
    boot_files,
    dns,
    make_netboot,
    run_dir,
    timings,
)
from test_tick_e2e import back_to_back
from vcluster import BootFailed, VNode, missing_uefi_prerequisite

from igor_tui.backends import grub

__all__ = ["boot_files", "dns", "make_netboot", "run_dir", "timings"]  # fixtures shared with the BIOS proof

pytestmark = [pytest.mark.real, pytest.mark.slow]

KN1 = VNode("kn1", "52:54:00:12:34:01", subnet=2, firmware="uefi")  # known to igor by MAC only
KN2 = VNode("kn2", "52:54:00:12:34:02", subnet=3, firmware="uefi")  # known to igor by IP only
KN1_BIOS = VNode("kn1", "52:54:00:12:34:01", subnet=2)  # the mixed test's legacy-BIOS node
KN1_FILE = "grub.cfg-01-52-54-00-12-34-01"  # GRUB's name for kn1's MAC
KN2_IP = "10.0.3.15"  # the address qemu's slirp DHCP gives kn2
KN2_FILE = "grub.cfg-0A00030F"  # GRUB's hex name for kn2's slirp address
HOSTS = {"kn1": {"mac": KN1.mac}, "kn2": {"ip": KN2_IP}}
# A quoted argument with spaces, and characters GRUB's script language would otherwise act on.
NASTY_ARGS = 'igor_host_check=xyz "spaced=a b c" dollar=$HOME;semi=1 brace={x} hash=#1 amp=a&&b'


@pytest.fixture(scope="module")
def uefi_ready(boot_files: BootFiles) -> BootFiles:
    """The BIOS proof's boot files, after checking OVMF and GRUB are here (skip naming the package
    otherwise; IGOR_REQUIRE_REAL=1 makes that a failure)."""
    missing = missing_uefi_prerequisite() or grub.missing_tools()
    if missing:
        pytest.skip(missing)
    return boot_files


@pytest.fixture
def make_uefi(make_netboot: NetbootFactory, uefi_ready: BootFiles) -> Iterator[NetbootFactory]:
    """make_netboot, plus the GRUB image `igor setup --uefi` lays out, in the nodes' TFTP root."""
    image = grub.build_image()

    def factory(nodes: Any, *, tftproot: Path | None = None, **config: Any) -> Netboot:
        netboot = make_netboot(nodes, tftproot=tftproot, **config)
        (netboot.vc.tftproot / grub.GRUB_IMAGE).write_bytes(image)
        return netboot

    yield factory


@pytest.fixture
def uefi(make_uefi: NetbootFactory) -> Netboot:
    """kn1 (known by its MAC only) and kn2 (by its IP only), both UEFI."""
    return make_uefi([KN1, KN2], hosts=HOSTS, bootmode="uefi")


def grub_files(netboot: Netboot) -> set[str]:
    path = netboot.vc.tftproot / grub.GRUB_DIR
    return {p.name for p in path.iterdir()} if path.exists() else set()


def site_grub_default(netboot: Netboot) -> str:
    """The site's own grub/grub.cfg (igor never touches it): the same kernel with a marker argument."""
    site = netboot.vc.tftproot / "site"
    site.mkdir(exist_ok=True)
    shutil.copyfile(netboot.rig.cluster.kernel, site / "vmlinuz")
    shutil.copyfile(netboot.rig.cluster.initrd, site / "initrd.gz")
    text = f"# the site's fallback boot; not igor's\nset timeout=0\nlinux /site/vmlinuz {SITE_DEFAULT_ARG}\n"
    text += "initrd /site/initrd.gz\nboot\n"
    (netboot.vc.tftproot / grub.GRUB_DIR).mkdir(exist_ok=True)
    (netboot.vc.tftproot / grub.GRUB_DIR / "grub.cfg").write_text(text)
    return text


def test_a_reservation_boots_its_kernel_and_exact_arguments_on_uefi_nodes(uefi: Netboot) -> None:
    """`igor sub -n 2 -c ARGS` then one `igor-tick`: both UEFI nodes power-cycle, GRUB boots the
    reservation's kernel and initrd, and /proc/cmdline is exactly GRUB's BOOT_IMAGE plus the user's
    arguments -- the quoted argument with spaces, `$`, `;`, `{}`, `#` and `&&` all as typed. kn1 boots
    through its MAC file, kn2 through its hex-IP file."""
    rig = uefi.rig
    rig.igor("sub", "-r", "e2e", *rig.cluster.boot, "-n", "2", "-c", NASTY_ARGS)
    res = rig.res("e2e")
    assert res.nodes == ("kn1", "kn2") and KN2.guest_ip == KN2_IP
    out = rig.tick().stdout
    assert "0 failed" in out and "power-cycle kn[1-2]" in out, out
    assert grub_files(uefi) == {KN1_FILE, KN2_FILE}
    assert uefi.pxe_names() == set()  # no PXELINUX file for UEFI nodes
    for node in ("kn1", "kn2"):
        boot = uefi.boot(node)
        assert boot.host == node
        assert boot.cmdline == f"BOOT_IMAGE=/igor/content/{res.kernel_hash} {NASTY_ARGS}", boot.cmdline
        assert rig.res("e2e").installed


def test_back_to_back_reboots_a_uefi_node_into_the_next_reservation(uefi: Netboot) -> None:
    """A ends exactly when B starts on kn1; the one tick that tears A down and installs B power-cycles
    kn1, which then runs B's kernel arguments: not A's, and not the site's grub.cfg."""
    rig = uefi.rig
    default = site_grub_default(uefi)
    rig.igor("sub", "-r", "a", *rig.cluster.boot, "-w", "kn1", "-c", "igor_round=a")
    rig.tick()
    first = uefi.boot("kn1")
    assert "igor_round=a" in first.args and SITE_DEFAULT_ARG not in first.args, first.cmdline

    back_to_back(rig, rig.res("a"), "b", "kn1", "igor_round=b", *rig.cluster.boot)
    out = rig.tick().stdout
    assert "remove boot config of kn1" in out and "power-cycle kn1" in out, out
    second = uefi.boot("kn1")
    assert second.host == "kn1"
    assert second.cmdline == f"BOOT_IMAGE=/igor/content/{rig.res('b').kernel_hash} igor_round=b", (
        second.cmdline
    )
    assert list(rig.reservations()) == ["b"]
    assert (uefi.vc.tftproot / grub.GRUB_DIR / "grub.cfg").read_text() == default


def test_after_the_end_a_uefi_node_boots_the_site_default(uefi: Netboot) -> None:
    """When the reservation ends the tick removes igor's GRUB file (poweroffatend off: kn1 keeps running);
    an admin's forced power cycle then boots the site's own grub/grub.cfg."""
    rig = uefi.rig
    default = site_grub_default(uefi)
    rig.igor("sub", "-r", "last", *rig.cluster.boot, "-w", "kn1", "-c", "igor_round=last")
    rig.tick()
    assert "igor_round=last" in uefi.boot("kn1").args

    rig.igor("del", "last")
    out = rig.tick().stdout
    assert "remove boot config of kn1" in out and "power off" not in out, out
    assert grub_files(uefi) == {"grub.cfg"}
    assert (uefi.vc.tftproot / grub.GRUB_DIR / "grub.cfg").read_text() == default
    rig.igor("power", "-n", "kn1", "--force", "cycle", user=None)
    fallback = uefi.boot("kn1")
    assert fallback.host == "kn1"
    assert SITE_DEFAULT_ARG in fallback.args and "igor_round=last" not in fallback.args, fallback.cmdline


def test_a_mixed_reservation_boots_a_bios_and_a_uefi_node(make_uefi: NetbootFactory) -> None:
    """bootmode maps kn1 to BIOS and kn2 to UEFI: one reservation on both gets a PXELINUX file for kn1
    and a GRUB file for kn2, and each node boots the reservation's kernel with its arguments."""
    netboot = make_uefi([KN1_BIOS, KN2], hosts=HOSTS, bootmode={"kn1": "bios", "kn2": "uefi"})
    rig = netboot.rig
    rig.igor("sub", "-r", "mix", *rig.cluster.boot, "-n", "2", "-c", "igor_mixed=1 x=$y;z")
    res = rig.res("mix")
    out = rig.tick().stdout
    assert "0 failed" in out, out
    assert netboot.pxe_names() == {"01-52-54-00-12-34-01"} and grub_files(netboot) == {KN2_FILE}
    bios, efi = netboot.boot("kn1"), netboot.boot("kn2")
    assert (bios.host, efi.host) == ("kn1", "kn2")
    kernel = f"BOOT_IMAGE=/igor/content/{res.kernel_hash}"
    assert bios.cmdline == f"{kernel} initrd=/igor/content/{res.initrd_hash} igor_mixed=1 x=$y;z", (
        bios.cmdline
    )
    assert efi.cmdline == f"{kernel} igor_mixed=1 x=$y;z", efi.cmdline


def test_a_uefi_node_without_a_grub_file_fails_fast(uefi: Netboot) -> None:
    """The harness's own guard: with no igor file and no grub.cfg, GRUB stops at its prompt and the wait
    says so at once (instead of running into its timeout), so a broken install cannot hide."""
    uefi.rig.igor("power", "-n", "kn1", "--force", "on", user=None)
    with pytest.raises(BootFailed, match=r"GRUB found no grub\.cfg file"):
        uefi.vc.wait_for_boot("kn1", timeout=90)
