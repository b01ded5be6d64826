"""PXE boot backend: exact pxelinux files, ownership by hash, rollback, and refusal of hostile input."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from igor_tui.backends.base import BootSpec, NodeAddress
from igor_tui.backends.pxe import PxeBoot
from igor_tui.errors import BackendError

KN1 = NodeAddress("kn1", ip="192.168.2.91", mac="52:54:00:00:00:01")  # spec §10.3 example (file names only)
KN2 = NodeAddress("kn2", ip="127.0.0.1", mac="52:54:00:00:00:02")
KN1_FILES = ("pxelinux.cfg/01-52-54-00-00-00-01", "pxelinux.cfg/C0A8025B")
DEFAULT_TEXT = "DEFAULT local\nLABEL local\n  LOCALBOOT 0\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A TFTP root with igor's content-addressed kernel/initrd copies and an admin's `default` file."""
    tftp = tmp_path / "tftp"
    content = tftp / "igor" / "content"
    content.mkdir(parents=True)
    (content / ("a" * 64)).write_bytes(b"kernel")
    (content / ("b" * 64)).write_bytes(b"initrd")
    (tftp / "pxelinux.cfg").mkdir()
    (tftp / "pxelinux.cfg" / "default").write_text(DEFAULT_TEXT)
    return tftp


def spec(root: Path, key: str = "r1", nodes: tuple[NodeAddress, ...] = (KN1,), **kw: str) -> BootSpec:
    values = {
        "label": "alice-test",
        "kernel_path": str(root / "igor" / "content" / ("a" * 64)),
        "initrd_path": str(root / "igor" / "content" / ("b" * 64)),
        "kernel_args": "console=ttyS0 quiet",
        **kw,
    }
    return BootSpec(key=key, nodes=nodes, **values)


def tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` (relative name -> bytes): the whole observable state of a test."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def expected_text(key: str = "r1", label: str = "alice-test", args: str = "console=ttyS0 quiet") -> str:
    append = f"initrd=/igor/content/{'b' * 64}" + (f" {args}" if args else "")
    return (
        f"# written by igor for reservation {label} ({key}); removed when it ends\n"
        f"DEFAULT {key}\n"
        f"LABEL {key}\n"
        f"  KERNEL /igor/content/{'a' * 64}\n"
        f"  APPEND {append}\n"
    )


@pytest.fixture
def everything(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, asserting afterwards that no temp file was left anywhere."""
    yield tmp_path
    assert not [p for p in tmp_path.rglob("*.tmp")], "temp files left behind"


# ---------------------------------------------------------------------------------------- content


def test_content_is_exactly_the_pxelinux_config(root: Path) -> None:
    PxeBoot(str(root)).install(spec(root))
    for rel in KN1_FILES:
        assert (root / rel).read_text() == expected_text()


def test_no_trailing_space_without_kernel_args(root: Path) -> None:
    PxeBoot(str(root)).install(spec(root, kernel_args=""))
    text = (root / KN1_FILES[0]).read_text()
    assert text == expected_text(args="")
    assert f"APPEND initrd=/igor/content/{'b' * 64}\n" in text


def test_mac_and_hex_ip_files_are_written_and_recorded_with_their_hash(root: Path) -> None:
    record = PxeBoot(str(root)).install(spec(root, nodes=(KN1, KN2)))
    digest = hashlib.sha256(expected_text().encode()).hexdigest()
    assert record == {
        "files": {
            "pxelinux.cfg/01-52-54-00-00-00-01": digest,
            "pxelinux.cfg/C0A8025B": digest,
            "pxelinux.cfg/01-52-54-00-00-00-02": digest,
            "pxelinux.cfg/7F000001": digest,
        }
    }
    assert json.loads(json.dumps(record)) == record  # it goes into the store as JSON
    for rel in record["files"]:
        assert stat.S_IMODE((root / rel).stat().st_mode) == 0o644


def test_mac_only_and_ip_only_nodes_get_one_file_each(root: Path) -> None:
    nodes = (NodeAddress("kn1", mac="52:54:00:00:00:01"), NodeAddress("kn2", ip="127.0.0.1"))
    record = PxeBoot(str(root)).install(spec(root, nodes=nodes))
    assert sorted(record["files"]) == ["pxelinux.cfg/01-52-54-00-00-00-01", "pxelinux.cfg/7F000001"]


def test_pxelinux_cfg_is_created_0755_when_missing(root: Path) -> None:
    (root / "pxelinux.cfg" / "default").unlink()
    (root / "pxelinux.cfg").rmdir()
    old = os.umask(0o077)
    try:
        PxeBoot(str(root)).install(spec(root))
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "pxelinux.cfg").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / KN1_FILES[0]).stat().st_mode) == 0o644


def test_reinstalling_the_same_spec_is_idempotent(root: Path) -> None:
    boot = PxeBoot(str(root))
    first = boot.install(spec(root))
    before = tree(root)
    assert boot.install(spec(root)) == first
    assert tree(root) == before


# ---------------------------------------------------------------------------------- ownership


def test_back_to_back_uninstall_of_a_never_removes_b(root: Path) -> None:
    boot = PxeBoot(str(root))
    rec_a = boot.install(spec(root, key="r1", label="a"))
    rec_b = boot.install(spec(root, key="r2", label="b"))
    boot.uninstall(rec_a)
    for rel in KN1_FILES:
        assert (root / rel).read_text() == expected_text(key="r2", label="b")
    boot.uninstall(rec_a)  # twice is fine
    boot.uninstall(rec_b)
    for rel in KN1_FILES:
        assert not (root / rel).exists()
    boot.uninstall(rec_b)  # and again: missing files are fine
    assert (root / "pxelinux.cfg" / "default").read_text() == DEFAULT_TEXT


def test_uninstall_leaves_a_file_someone_edited(root: Path) -> None:
    boot = PxeBoot(str(root))
    record = boot.install(spec(root))
    (root / KN1_FILES[1]).write_text("# the admin's own override\n")
    boot.uninstall(record)
    assert not (root / KN1_FILES[0]).exists()
    assert (root / KN1_FILES[1]).read_text() == "# the admin's own override\n"


def test_default_is_never_touched(root: Path) -> None:
    boot = PxeBoot(str(root))
    record = boot.install(spec(root, nodes=(KN1, KN2)))
    boot.uninstall(record)
    assert tree(root / "pxelinux.cfg") == {"default": DEFAULT_TEXT.encode()}


@pytest.mark.parametrize(
    "rel", ["pxelinux.cfg/default", "pxelinux.cfg/../igor/content/" + "a" * 64, "../outside", "/etc/passwd"]
)
def test_uninstall_refuses_a_record_naming_a_file_igor_never_writes(
    root: Path, tmp_path: Path, rel: str
) -> None:
    (tmp_path / "outside").write_text("keep")
    before = tree(tmp_path)
    digest = hashlib.sha256(DEFAULT_TEXT.encode()).hexdigest()
    with pytest.raises(BackendError, match="not a file igor writes"):
        PxeBoot(str(root)).uninstall({"files": {rel: digest}})
    assert tree(tmp_path) == before


# ------------------------------------------------------------------------------------- security


@pytest.mark.parametrize(
    ("key", "label", "args", "match"),
    [
        ("r1", "x", "quiet\nLABEL evil\n  KERNEL /evil", "control character"),
        ("r1", "x", "quiet\r\nDEFAULT evil", "control character"),
        ("r1", "x", "quiet\x00", "control character"),
        ("r1", "x", "quiet\u2028LABEL evil", "control character"),
        ("r1", "x\rDEFAULT evil", "", "control character"),
        ("r1", "x\nLABEL evil", "", "control character"),
        ("../../etc/cron.d/evil", "x", "", "boot key"),
        ("../x", "x", "", "boot key"),
        ("r1/../../x", "x", "", "boot key"),
        ("r1 evil", "x", "", "boot key"),
        ("", "x", "", "boot key"),
        ("r1\nLABEL", "x", "", "boot key"),
    ],
)
def test_hostile_input_is_refused_and_nothing_is_written(
    root: Path, everything: Path, key: str, label: str, args: str, match: str
) -> None:
    before = tree(everything)
    with pytest.raises(BackendError, match=match):
        PxeBoot(str(root)).install(spec(root, key=key, label=label, kernel_args=args))
    assert tree(everything) == before


def test_printable_unicode_in_label_and_args_is_fine(root: Path) -> None:
    PxeBoot(str(root)).install(spec(root, label="café-test", kernel_args="msg=héllo"))
    assert (root / KN1_FILES[0]).read_text(encoding="utf-8") == expected_text(
        label="café-test", args="msg=héllo"
    )


def test_kernel_outside_the_tftp_root_is_refused(root: Path, everything: Path) -> None:
    elsewhere = everything / "state"
    elsewhere.mkdir()
    (elsewhere / "kernel").write_bytes(b"k")
    before = tree(everything)
    with pytest.raises(
        BackendError, match=r"contentdir \(the copies nodes fetch\) must be under the TFTP root"
    ):
        PxeBoot(str(root)).install(spec(root, kernel_path=str(elsewhere / "kernel")))
    dotdot = str(root / "igor" / ".." / ".." / "state" / "kernel")
    with pytest.raises(BackendError, match="outside the TFTP root"):
        PxeBoot(str(root)).install(spec(root, kernel_path=dotdot))
    with pytest.raises(BackendError, match=r"initrd .* outside the TFTP root"):
        PxeBoot(str(root)).install(spec(root, initrd_path="/etc/passwd"))
    assert tree(everything) == before


def test_a_symlink_out_of_the_tftp_root_is_refused(root: Path, everything: Path) -> None:
    (everything / "secret").write_bytes(b"s")
    (root / "igor" / "content" / "link").symlink_to(everything / "secret")
    with pytest.raises(BackendError, match="outside the TFTP root"):
        PxeBoot(str(root)).install(spec(root, kernel_path=str(root / "igor" / "content" / "link")))
    assert not (root / KN1_FILES[0]).exists()


def test_a_missing_kernel_is_an_error(root: Path) -> None:
    with pytest.raises(BackendError, match=r"kernel .* is missing"):
        PxeBoot(str(root)).install(spec(root, kernel_path=str(root / "igor" / "content" / ("c" * 64))))
    assert not (root / KN1_FILES[0]).exists()


def test_a_cobbler_profile_cannot_be_booted_by_pxe(root: Path) -> None:
    with pytest.raises(BackendError, match="PXE boot cannot boot Cobbler profile centos7; set usecobbler"):
        PxeBoot(str(root)).install(spec(root, profile="centos7", kernel_path="", initrd_path=""))


# ------------------------------------------------------------------------------------ addresses


def test_a_node_without_any_address_is_an_error_before_anything_is_written(root: Path) -> None:
    before = tree(root)
    with pytest.raises(BackendError) as err:
        PxeBoot(str(root)).install(spec(root, nodes=(KN1, KN2, NodeAddress("kn3"))))
    assert str(err.value) == "kn3: no MAC or IP known (add it to the hosts map or DNS)"
    assert tree(root) == before


@pytest.mark.parametrize(
    ("node", "match"),
    [
        (NodeAddress("kn3", mac="52:54:00:00:00"), "kn3: MAC address"),
        (NodeAddress("kn3", mac="../../../../etc/x"), "kn3: MAC address"),
        (NodeAddress("kn3", ip="127.0.0.300"), "kn3: IP address"),
        (NodeAddress("kn3", ip="../default"), "kn3: IP address"),
        (NodeAddress("kn3", ip="fe80::1"), "kn3: IP address"),
    ],
)
def test_a_malformed_address_is_an_error_naming_the_node(root: Path, node: NodeAddress, match: str) -> None:
    before = tree(root)
    with pytest.raises(BackendError, match=match):
        PxeBoot(str(root)).install(spec(root, nodes=(KN1, node)))
    assert tree(root) == before


def test_a_missing_tftp_root_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "tftp"
    (root / "igor" / "content").mkdir(parents=True)
    (root / "igor" / "content" / ("a" * 64)).write_bytes(b"k")
    (root / "igor" / "content" / ("b" * 64)).write_bytes(b"i")
    with pytest.raises(BackendError, match="does not exist"):
        PxeBoot(str(tmp_path / "nowhere")).install(spec(root))


# ------------------------------------------------------------------------------------- rollback


def test_a_failure_half_way_removes_the_files_this_call_wrote(root: Path, everything: Path) -> None:
    (root / "pxelinux.cfg" / "7F000001").mkdir()  # kn2's hex-IP file cannot be written
    with pytest.raises(BackendError, match=r"kn2: writing pxelinux.cfg/7F000001 .* failed"):
        PxeBoot(str(root)).install(spec(root, nodes=(KN1, KN2)))
    cfg = root / "pxelinux.cfg"
    assert sorted(p.name for p in cfg.iterdir()) == ["7F000001", "default"]
    assert (cfg / "7F000001").is_dir()


def test_a_failure_half_way_puts_back_what_it_replaced(root: Path) -> None:
    boot = PxeBoot(str(root))
    boot.install(spec(root, key="r1", label="a"))
    before = tree(root)
    (root / "pxelinux.cfg" / "7F000001").mkdir()
    with pytest.raises(BackendError, match="kn2"):
        boot.install(spec(root, key="r2", label="b", nodes=(KN1, KN2)))
    (root / "pxelinux.cfg" / "7F000001").rmdir()
    assert tree(root) == before  # r1's files for kn1 are back, byte for byte


def many(count: int) -> tuple[NodeAddress, ...]:
    """`count` nodes with a MAC and an IP each: twice as many files, enough for every writer thread."""
    return tuple(
        NodeAddress(f"kn{i}", ip=f"127.0.3.{i}", mac=f"52:54:00:00:03:{i:02x}") for i in range(1, count + 1)
    )


def fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_a_write_failing_mid_batch_publishes_nothing_and_removes_the_others(
    root: Path, everything: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file's fsync fails (EIO) while the others are being written: no file of the batch is
    published, every temp is removed, what was there stays, and the error names that file's node."""
    boot = PxeBoot(str(root))
    boot.install(spec(root, key="r1", label="a", nodes=many(3)))
    before = tree(root)
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if ".7F000317." in fd_path(fd):  # kn23's hex-IP file, in the middle of the batch
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(BackendError, match=r"^kn23: writing pxelinux.cfg/7F000317 for reservation b failed"):
        boot.install(spec(root, key="r2", label="b", nodes=many(40)))
    assert tree(root) == before


def test_a_rename_failing_half_way_puts_back_what_the_earlier_ones_replaced(
    root: Path, everything: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boot = PxeBoot(str(root))
    boot.install(spec(root, key="r1", label="a", nodes=many(8)))
    before = tree(root)
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if dst.endswith("/pxelinux.cfg/01-52-54-00-00-03-05"):  # kn5's first file: 8 renamed before it
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(BackendError, match=r"^kn5: writing pxelinux.cfg/01-52-54-00-00-03-05 .* failed"):
        boot.install(spec(root, key="r2", label="b", nodes=many(8)))
    assert tree(root) == before  # r1's files are back, byte for byte, and no temp is left


def test_every_file_is_fsynced_before_its_rename_and_the_directory_after_all_of_them(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The durability the tick's crash tests rely on: a name is only ever switched to a file whose bytes
    are on disk, and the renames themselves are made durable before install returns."""
    events: list[tuple[str, int]] = []  # ("fsync", inode) / ("replace", inode) / ("dir", inode)
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        real_fsync(fd)
        events.append(("dir" if stat.S_ISDIR(info.st_mode) else "fsync", info.st_ino))

    def replace(src: str, dst: str) -> None:
        events.append(("replace", os.stat(src).st_ino))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    record = PxeBoot(str(root)).install(spec(root, nodes=many(20)))
    renamed = [i for i, (kind, _) in enumerate(events) if kind == "replace"]
    assert len(renamed) == len(record["files"]) == 40
    for at in renamed:
        assert ("fsync", events[at][1]) in events[:at], "a file was renamed before its fsync"
    cfg_dir = (root / "pxelinux.cfg").stat().st_ino
    assert ("dir", cfg_dir) in events[renamed[-1] :]
    assert {os.stat(root / rel).st_ino for rel in record["files"]} == {events[i][1] for i in renamed}


def test_a_big_install_writes_every_file_from_a_bounded_number_of_threads(
    root: Path, everything: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most eight temp files are open (and fsyncing) at once, however many nodes: a 520-node
    reservation must not run the tick out of descriptors."""
    real_fsync = os.fsync
    lock = threading.Lock()
    busy = [0, 0]  # in flight now, most at once

    def fsync(fd: int) -> None:
        with lock:
            busy[0] += 1
            busy[1] = max(busy)
        try:
            time.sleep(0.002)  # long enough for the writers to overlap
            real_fsync(fd)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(os, "fsync", fsync)
    nodes = many(60)
    record = PxeBoot(str(root)).install(spec(root, nodes=nodes))
    assert 1 < busy[1] <= 8
    assert len(record["files"]) == 120
    files = tree(root / "pxelinux.cfg")
    assert sorted(files) == sorted([*(rel.split("/")[1] for rel in record["files"]), "default"])
    assert all(files[rel.split("/")[1]] == expected_text().encode() for rel in record["files"])


def test_digests_are_sha256_without_loading_hashlib() -> None:
    """The record's digests are SHA-256 (what uninstall compares files against), made by CPython's own
    module: hashlib would load OpenSSL for them (~4.6% of a 64-node install's tick)."""
    probe = (
        "import sys; from igor_tui.backends import pxe; "
        "print(pxe._SHA256(b'igor').hexdigest(), 'hashlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == [hashlib.sha256(b"igor").hexdigest(), "False"]
