"""`igor setup --uefi` lays out what UEFI nodes fetch; `igor doctor` checks it is there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_igor
from test_setup_doctor import (
    HOSTS,
    UID,
    doctor,
    edit_config,
    failures,
    make_root,
    mode_owner,
    move_state_out_of_tftp,
    setup,
    setup_env,
    write_tick_last,
)

from igor_tui.backends import grub


def need_grub() -> None:
    """grub-mkimage is a real peer: tests needing it are marked `real`, so IGOR_REQUIRE_REAL=1 turns
    this skip into a failure (real_peers.py)."""
    if grub.missing_tools():
        pytest.skip(grub.missing_tools())


@pytest.mark.real
def test_setup_uefi_lays_out_the_grub_image_and_dir_and_says_what_dhcp_must_do(tmp_path: Path) -> None:
    need_grub()
    root = make_root(tmp_path)
    proc = setup(root, "--nodes", "kn[1-4]", "--uefi", "--yes", IGOR_SETUP_VISUDO="/bin/true")
    assert mode_owner(root / "srv/tftp/grub") == (0o755, UID, UID)  # igor-tick writes grub.cfg-<node>
    image = root / "srv/tftp/grubx64.efi"
    assert image.read_bytes() == grub.build_image()
    assert image.stat().st_mode & 0o777 == 0o644 and image.stat().st_uid == 0
    assert "option 93 client-arch 7 or 9) the boot file grubx64.efi" in proc.stdout
    assert (root / "srv/tftp/pxelinux.0").exists()  # BIOS nodes of a mixed cluster still boot
    assert json.loads((root / "etc/igor.conf").read_text())["bootmode"] == "uefi"
    again = setup(root, "--nodes", "kn[1-4]", "--uefi", "--yes", IGOR_SETUP_VISUDO="/bin/true")
    assert "Nothing to change" in again.stdout  # the image build is reproducible


def test_setup_without_uefi_has_no_grub_files(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    setup(root, "--nodes", "kn[1-4]", "--yes", IGOR_SETUP_VISUDO="/bin/true")
    assert not (root / "srv/tftp/grub").exists() and not (root / "srv/tftp/grubx64.efi").exists()
    assert json.loads((root / "etc/igor.conf").read_text())["bootmode"] == "bios"


def test_setup_uefi_with_cobbler_is_a_usage_error(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    proc = setup(root, "--cobbler", "--cobbler-profile", "p", "--uefi", "--yes", check=2)
    assert "setup: --uefi is for plain PXE" in proc.stderr


@pytest.fixture
def uefi_installed(tmp_path: Path) -> Path:
    """test_setup_doctor's `installed`, set up with --uefi and given the site's grub/grub.cfg."""
    need_grub()
    root = make_root(tmp_path)
    setup(root, "--nodes", "kn[1-4]", "--uefi", "--yes", IGOR_SETUP_VISUDO="/bin/true")
    edit_config(root, hosts=HOSTS, bootmode={"kn[1-2]": "uefi"})
    (root / "srv/tftp/pxelinux.cfg/default").write_text("DEFAULT local\nLABEL local\n  LOCALBOOT 0\n")
    (root / "srv/tftp/grub/grub.cfg").write_text("exit\n")
    move_state_out_of_tftp(root)
    write_tick_last(root, 1)
    return root


@pytest.mark.real  # needs grub-mkimage (uefi_installed skips without it)
def test_doctor_passes_with_the_uefi_files_in_place(uefi_installed: Path) -> None:
    result = doctor(uefi_installed, check=0)
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["grub"]["status"] == "ok" and "UEFI nodes kn[1-2]" in checks["grub"]["message"]
    assert "grub-default" not in checks


@pytest.mark.real  # needs grub-mkimage (uefi_installed skips without it)
def test_doctor_fails_without_the_grub_image_and_dir(uefi_installed: Path) -> None:
    (uefi_installed / "srv/tftp/grubx64.efi").unlink()
    shutil.rmtree(uefi_installed / "srv/tftp/grub")
    (failed,) = failures(doctor(uefi_installed, check=1))
    assert failed["name"] == "grub"
    assert "grubx64.efi is missing" in failed["message"] and "grub is missing" in failed["message"]
    assert "igor setup --uefi" in failed["fix"] and "install -d -o igor -g igor" in failed["fix"]
    text = run_igor("doctor", "--root", str(uefi_installed), env=setup_env(uefi_installed.parent), check=1)
    assert "FAIL  grub" in text.stdout


@pytest.mark.real  # needs grub-mkimage (uefi_installed skips without it)
def test_doctor_warns_without_the_sites_grub_cfg(uefi_installed: Path) -> None:
    (uefi_installed / "srv/tftp/grub/grub.cfg").unlink()
    checks = {c["name"]: c for c in doctor(uefi_installed, check=0)["checks"]}
    assert checks["grub-default"]["status"] == "warn"
    assert "stop at the grub> prompt" in checks["grub-default"]["message"]


@pytest.mark.real  # needs grub-mkimage (uefi_installed skips without it)
def test_doctor_has_no_grub_check_on_an_all_bios_cluster(uefi_installed: Path) -> None:
    edit_config(uefi_installed, bootmode="bios")
    names = {c["name"] for c in doctor(uefi_installed, check=0)["checks"]}
    assert not names & {"grub", "grub-default"}
