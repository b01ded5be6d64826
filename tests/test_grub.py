"""UEFI nodes: the GRUB files the PXE backend writes, GRUB's quoting of kernel arguments, the image.

What the booted kernel really shows is proven in test_netboot_uefi_e2e.py; these pin the exact files,
the ownership rules shared with the PXELINUX files, and the escaping of hostile arguments.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest
from test_pxe import DEFAULT_TEXT, KN1, KN1_FILES, KN2, expected_text, spec, tree

from igor_tui.backends import grub
from igor_tui.backends.pxe import PxeBoot
from igor_tui.errors import BackendError

KN1_GRUB = ("grub/grub.cfg-01-52-54-00-00-00-01", "grub/grub.cfg-C0A8025B")
KN2_GRUB = ("grub/grub.cfg-01-52-54-00-00-00-02", "grub/grub.cfg-7F000001")
SITE_GRUB = "set timeout=0\nlinux /site/vmlinuz\nboot\n"  # the site's own grub/grub.cfg


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """test_pxe's TFTP root (content copies, the site's pxelinux.cfg/default) plus the site's own
    grub/grub.cfg: the UEFI fallback igor never touches."""
    root = tmp_path / "tftp"
    content = root / "igor" / "content"
    content.mkdir(parents=True)
    (content / ("a" * 64)).write_bytes(b"kernel")
    (content / ("b" * 64)).write_bytes(b"initrd")
    (root / "pxelinux.cfg").mkdir()
    (root / "pxelinux.cfg" / "default").write_text(DEFAULT_TEXT)
    (root / "grub").mkdir()
    (root / "grub" / "grub.cfg").write_text(SITE_GRUB)
    return root


def grub_text(key: str = "r1", label: str = "alice-test", linux_args: str = "'console=ttyS0' 'quiet'") -> str:
    return (
        f"# written by igor for reservation {label} ({key}); removed when it ends\n"
        "set timeout=0\n"
        f"linux '/igor/content/{'a' * 64}' {linux_args}\n".replace(" \n", "\n")
        + f"initrd '/igor/content/{'b' * 64}'\n"
        "boot\n"
    )


def boot(root: Path, *uefi_nodes: str) -> PxeBoot:
    return PxeBoot(str(root), uefi_nodes=frozenset(uefi_nodes))


# ---------------------------------------------------------------------------------------- files


def test_a_uefi_node_gets_grub_files_by_mac_and_hex_ip_and_no_pxelinux_file(root: Path) -> None:
    record = boot(root, "kn1").install(spec(root))
    for rel in KN1_GRUB:
        assert (root / rel).read_text() == grub_text()
    digest = hashlib.sha256(grub_text().encode()).hexdigest()
    assert record == {"files": dict.fromkeys(KN1_GRUB, digest)}
    assert sorted(p.name for p in (root / "pxelinux.cfg").iterdir()) == ["default"]


def test_a_mixed_reservation_writes_each_node_its_own_loaders_file(root: Path) -> None:
    record = boot(root, "kn2").install(spec(root, nodes=(KN1, KN2)))
    assert set(record["files"]) == {*KN1_FILES, *KN2_GRUB}
    assert (root / KN1_FILES[0]).read_text() == expected_text()
    assert (root / KN2_GRUB[0]).read_text() == grub_text()
    assert record["files"][KN1_FILES[0]] == hashlib.sha256(expected_text().encode()).hexdigest()
    assert record["files"][KN2_GRUB[0]] == hashlib.sha256(grub_text().encode()).hexdigest()


def test_record_for_equals_what_install_returns(root: Path) -> None:
    backend = boot(root, "kn2")
    planned = backend.record_for(spec(root, nodes=(KN1, KN2)))
    assert backend.install(spec(root, nodes=(KN1, KN2))) == planned


def test_uninstall_falls_back_to_the_sites_grub_cfg(root: Path) -> None:
    backend = boot(root, "kn1")
    backend.uninstall(backend.install(spec(root)))
    assert tree(root / "grub") == {"grub.cfg": SITE_GRUB.encode()}
    assert tree(root / "pxelinux.cfg") == {"default": DEFAULT_TEXT.encode()}


def test_back_to_back_uninstall_of_a_never_removes_b(root: Path) -> None:
    backend = boot(root, "kn1")
    a = backend.install(spec(root, key="r1", label="a", kernel_args="round=a"))
    backend.install(spec(root, key="r2", label="b", kernel_args="round=b"))
    backend.uninstall(a)
    for rel in KN1_GRUB:
        assert "'round=b'" in (root / rel).read_text()


def test_reinstalling_and_uninstalling_twice_is_idempotent(root: Path) -> None:
    backend = boot(root, "kn1")
    first = backend.install(spec(root))
    assert backend.install(spec(root)) == first
    backend.uninstall(first)
    backend.uninstall(first)
    assert tree(root / "grub") == {"grub.cfg": SITE_GRUB.encode()}


def test_grub_dir_is_created_0755_when_missing(root: Path) -> None:
    shutil.rmtree(root / "grub")
    boot(root, "kn1").install(spec(root))
    assert (root / "grub").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    "rel", ["grub/grub.cfg", "grub/x86_64-efi/grub.cfg", "grub/../grubx64.efi", "grubx64.efi"]
)
def test_uninstall_refuses_grub_files_igor_never_writes(root: Path, rel: str) -> None:
    before = tree(root)
    with pytest.raises(BackendError, match="not a file igor writes"):
        boot(root, "kn1").uninstall({"files": {rel: hashlib.sha256(SITE_GRUB.encode()).hexdigest()}})
    assert tree(root) == before


def test_a_failure_half_way_undoes_the_grub_and_pxelinux_writes(root: Path) -> None:
    (root / KN2_GRUB[1]).mkdir()  # kn2's hex-IP GRUB file cannot be written
    before = tree(root)
    with pytest.raises(BackendError, match=r"kn2: writing grub/grub.cfg-7F000001 .* failed"):
        boot(root, "kn2").install(spec(root, nodes=(KN1, KN2)))
    assert tree(root) == before


# ---------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("args", "linux_args", "cmdline"),
    [
        # user's arguments -> the words of GRUB's linux line -> what GRUB hands the kernel
        ("console=ttyS0 quiet", "'console=ttyS0' 'quiet'", "console=ttyS0 quiet"),
        ('"spaced=a b c" x=1', "'spaced=a b c' 'x=1'", '"spaced=a b c" x=1'),
        ('k="a b"', "'k=a b'", '"k=a b"'),  # same parameter for the kernel, GRUB's spelling
        ("x=$y y=${z} $(id)", "'x=$y' 'y=${z}' '$(id)'", "x=$y y=${z} $(id)"),
        ("a;b c&&d e|f", "'a;b' 'c&&d' 'e|f'", "a;b c&&d e|f"),
        ("#hash {brace} [t]", "'#hash' '{brace}' '[t]'", "#hash {brace} [t]"),
        ("  lots   of  space ", "'lots' 'of' 'space'", "lots of space"),
        ('"" x', "'x'", "x"),
        ("", "", ""),
        ("ünïcødé=✓", "'ünïcødé=✓'", "ünïcødé=✓"),
    ],
)
def test_kernel_args_are_single_quoted_words_grub_passes_on_unchanged(
    root: Path, args: str, linux_args: str, cmdline: str
) -> None:
    boot(root, "kn1").install(spec(root, kernel_args=args))
    linux = next(line for line in (root / KN1_GRUB[0]).read_text().splitlines() if line.startswith("linux "))
    assert linux == f"linux '/igor/content/{'a' * 64}' {linux_args}".rstrip()
    assert grub_cmdline(grub.kernel_words(args)) == cmdline


def grub_cmdline(words: list[str]) -> str:
    """GRUB 2.06's grub_create_loader_cmdline, re-stated: a word with a space is double-quoted and
    `"`, `'`, `\\` get a backslash. The real GRUB's output is checked in the UEFI e2e test."""
    out = []
    for word in words:
        escaped = "".join("\\" + ch if ch in "\"'\\" else ch for ch in word)
        out.append(f'"{escaped}"' if " " in word else escaped)
    return " ".join(out)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ("apos=it's", "single quote"),
        ("x='; linux /evil; boot; '", "single quote"),
        ("path=C:\\x", "backslash"),
        ('open="a b', "not closed"),
        ("quiet\nlinux /evil", "control character"),
        ("quiet\rboot", "control character"),
        ("quiet\u2028x", "control character"),
    ],
)
def test_arguments_grub_would_change_are_refused_and_nothing_is_written(
    root: Path, args: str, match: str
) -> None:
    before = tree(root)
    with pytest.raises(BackendError, match=match) as err:
        boot(root, "kn1", "kn2").install(spec(root, nodes=(KN1, KN2), kernel_args=args))
    assert tree(root) == before
    assert "kn1, kn2 (UEFI)" in str(err.value) or "control character" in str(err.value)


def test_the_same_arguments_still_boot_bios_nodes_verbatim(root: Path) -> None:
    """Only GRUB mangles quotes and backslashes: PXELINUX's APPEND passes them through, so BIOS nodes keep
    accepting them."""
    boot(root).install(spec(root, kernel_args="apos=it's path=C:\\x"))
    assert "APPEND initrd=" in (root / KN1_FILES[0]).read_text()
    assert "apos=it's path=C:\\x" in (root / KN1_FILES[0]).read_text()


def test_a_quote_in_the_content_path_is_refused(root: Path) -> None:
    odd = root / "igor" / "it's"
    odd.mkdir()
    (odd / "vmlinuz").write_bytes(b"k")
    with pytest.raises(BackendError, match="space, quote or control"):
        boot(root, "kn1").install(spec(root, kernel_path=str(odd / "vmlinuz")))


def test_quote_refuses_what_single_quotes_cannot_hold() -> None:
    assert grub.quote("a b$c;d") == "'a b$c;d'"
    for bad in ("it's", "a\nb"):
        with pytest.raises(ValueError, match="cannot be quoted"):
            grub.quote(bad)


# ---------------------------------------------------------------------------------------- image


@pytest.mark.real
def test_the_image_is_built_reproducibly_with_the_per_node_prefix() -> None:
    missing = grub.missing_tools()
    if missing:
        pytest.skip(missing)
    image = grub.build_image()
    assert image[:2] == b"MZ"  # a PE/COFF EFI application
    assert image == grub.build_image()  # so setup can tell an installed image is current
    assert b"/grub" in image  # the prefix GRUB searches grub.cfg-<node> under


def test_a_missing_module_dir_is_an_error_naming_the_package(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="grub-efi-amd64-bin"):
        grub.build_image(str(tmp_path))


def test_an_old_temp_file_of_a_killed_grub_write_is_removed_and_a_fresh_one_kept(root: Path) -> None:
    """A tick killed inside an atomic write leaves `.grub.cfg-<name>.<random>.tmp` in grub/; the next
    install or teardown removes it once it is a minute old (a younger one may be a running write's)."""
    old = root / "grub" / ".grub.cfg-7F000001.k9x2_a1b.tmp"
    young = root / "grub" / ".grub.cfg-C0A8025B.zz1.tmp"
    for path in (old, young):
        path.write_text("set timeout=0\n")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    backend = boot(root, "kn2")
    backend.uninstall({"files": {}})
    assert not old.exists() and young.exists()
