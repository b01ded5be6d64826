"""PXE boot backend: per-node boot files under the TFTP root, written atomically and owned by hash.

Legacy-BIOS nodes get pxelinux.cfg files; UEFI nodes (config `bootmode`) get the GRUB files that grub.py
describes. Both kinds follow the same rules: per-client names only, the site's default never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence

from ..errors import BackendError
from ..tempfiles import is_dot_tmp, make_temp, remove_files
from ..typenames import Any
from ..values import dataclass, replace
from . import grub
from .base import BootRecord, BootSpec, NodeAddress
from .resolve import pxe_hex, pxe_mac


def _builtin_sha256() -> Callable[[bytes], Any]:
    """hashlib.sha256 without importing hashlib, which loads OpenSSL's libcrypto for it: ~10 M
    instructions, 4.6% of the 64-node install's tick. CPython's own SHA-256 module (`_sha2` from 3.12,
    `_sha256` in 3.11) makes the same digests; hashlib is the fallback where neither is built in."""
    name = "_sha256" if sys.version_info < (3, 12) else "_sha2"  # one try: a miss searches sys.path
    with contextlib.suppress(ImportError):
        return __import__(name).sha256  # type: ignore[no-any-return]
    import hashlib

    return hashlib.sha256


_SHA256 = _builtin_sha256()
CFG_DIR = "pxelinux.cfg"
_KEY = re.compile(r"[A-Za-z0-9_-]+")
# The only names igor ever creates or removes in pxelinux.cfg (so never `default`, never a path).
_OWNED_NAME = re.compile(r"01-[0-9a-f]{2}(?:-[0-9a-f]{2}){5}|[0-9A-F]{8}")
# Each directory igor writes boot files into, with the names it may own there.
_OWNED_DIRS = {CFG_DIR: _OWNED_NAME, grub.GRUB_DIR: grub.OWNED_NAME}


@dataclass(frozen=True, slots=True)
class _Target:
    """One file to write: its path relative to the TFTP root, the node it serves (for error messages)
    and the boot loader reading it ("bios": PXELINUX, "uefi": GRUB)."""

    rel: str
    node: str
    mode: str


@dataclass(frozen=True, slots=True)
class _Written:
    """A file this call replaced: what was there before (None = nothing), to undo exactly this call."""

    rel: str
    previous: bytes | None
    digest: str


class PxeBoot:
    """Makes nodes boot a reservation through the boot loader's per-client config files.

    For each BIOS node it writes `pxelinux.cfg/01-<mac>` (MAC known) and `pxelinux.cfg/<HEXIP>` (IP
    known), for each UEFI node `grub/grub.cfg-01-<mac>` and `grub/grub.cfg-<HEXIP>`: the loaders try those
    before the admin's `default` / `grub.cfg`, which igor never touches. The record remembers the sha256
    of every file, and uninstall removes a file only while it still has that content, so tearing down
    reservation A never removes the file reservation B wrote for the same node (classic §11.1).
    """

    def __init__(self, tftproot: str, uefi_nodes: frozenset[str] = frozenset()) -> None:
        self.tftproot = tftproot
        self.uefi_nodes = uefi_nodes

    # -- BootBackend

    def record_for(self, spec: BootSpec) -> BootRecord:
        """The record `install(spec)` would return, computed without writing anything. igor-tick uses it to
        undo an install whose outcome a crash or a failure kept from being recorded: uninstall then removes
        only files that really hold this content, never another reservation's."""
        # Nodes without an address got no file (install refuses them before writing anything).
        spec = replace(spec, nodes=tuple(n for n in spec.nodes if n.ip or n.mac))
        contents = self._contents(spec, check_files=False)
        digests = {mode: _SHA256(data).hexdigest() for mode, data in contents.items()}
        return {"files": {t.rel: digests[t.mode] for t in self._targets(spec)}}

    def install(self, spec: BootSpec) -> BootRecord:
        """Validate everything, then write every file; on a failure undo this call's writes and raise.

        The files go out in three steps, so one journal commit serves them all: every file's temp copy
        is written and fsynced (from a few threads, `_write_temps`), only then is each renamed over its
        name, and the directories are fsynced last. A crash at any instant leaves each name with its old
        file or the complete new one, never a half-written one (stray temps are swept later)."""
        if not os.path.isdir(self.tftproot):
            raise BackendError(f"PXE install: the TFTP root {self.tftproot} does not exist")
        contents = self._contents(spec)
        targets = self._targets(spec)
        digests = {mode: _SHA256(data).hexdigest() for mode, data in contents.items()}
        dirs = {os.path.dirname(t.rel) for t in targets}
        for directory in sorted(dirs):
            self._cfg_dir(directory)
        for directory in _OWNED_DIRS:  # a killed tick's temp file may sit in either
            _remove_stale_temps(os.path.join(self.tftproot, directory))
        paths = [os.path.join(self.tftproot, t.rel) for t in targets]
        previous: list[bytes | None] = []
        for target, path in zip(targets, paths, strict=True):
            try:
                previous.append(_read_or_none(path))
            except OSError as exc:
                raise _write_error(spec, target, exc) from exc
        temps = _written_temps(
            spec, targets, [(p, contents[t.mode]) for t, p in zip(targets, paths, strict=True)]
        )
        written: list[_Written] = []
        for i, (target, path, tmp) in enumerate(zip(targets, paths, temps, strict=True)):
            try:
                os.replace(tmp, path)
            except BaseException as exc:
                _discard(temps[i:])
                self._undo(written)
                if isinstance(exc, OSError):
                    raise _write_error(spec, target, exc) from exc
                raise
            written.append(_Written(target.rel, previous[i], digests[target.mode]))
        for directory in sorted(dirs):
            _fsync_dir(os.path.join(self.tftproot, directory))
        return {"files": {t.rel: digests[t.mode] for t in targets}}

    def uninstall(self, record: BootRecord) -> None:
        """Remove each recorded file that still holds the recorded content; anything else is left alone."""
        files = record.get("files", {})
        if not isinstance(files, dict):
            raise BackendError(f"PXE uninstall: malformed boot record {record!r}")
        owned: list[tuple[str, str]] = []
        for rel, digest in files.items():
            if not _is_owned(rel) or not isinstance(digest, str):
                raise BackendError(f"PXE uninstall: refusing to remove {rel!r}: not a file igor writes")
            owned.append((rel, digest))
        for directory in _OWNED_DIRS:
            _remove_stale_temps(os.path.join(self.tftproot, directory))
        dirs = {os.path.join(self.tftproot, os.path.dirname(rel)) for rel, _ in owned}
        for rel, digest in owned:
            path = os.path.join(self.tftproot, rel)
            try:
                current = _read_or_none(path)
            except IsADirectoryError:
                continue  # somebody else's directory: not ours to remove
            except OSError as exc:
                raise BackendError(f"PXE uninstall: reading {rel} failed: {exc.strerror or exc}") from exc
            if current is None or _SHA256(current).hexdigest() != digest:
                continue  # already gone, or rewritten by a later reservation
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise BackendError(f"PXE uninstall: removing {rel} failed: {exc.strerror or exc}") from exc
        for directory in sorted(dirs):
            with contextlib.suppress(OSError):
                _fsync_dir(directory)

    # -- helpers

    def _contents(self, spec: BootSpec, *, check_files: bool = True) -> dict[str, bytes]:
        """The file text per boot mode the spec's nodes need, after refusing anything that could escape
        the root or add a line."""
        if spec.profile:
            raise BackendError(f"PXE boot cannot boot Cobbler profile {spec.profile}; set usecobbler")
        if not _KEY.fullmatch(spec.key):
            raise BackendError(
                f"reservation {spec.label!r}: boot key {spec.key!r} may only contain letters, digits, _ and -"
            )
        for what, value in (("name", spec.label), ("kernel arguments", spec.kernel_args)):
            if not value.isprintable():
                raise BackendError(
                    f"reservation {spec.key}: refusing a control character (e.g. a line break) in the "
                    f"{what}: it would inject lines into the PXE file"
                )
        if not spec.kernel_path:
            raise BackendError(f"reservation {spec.label}: no kernel to boot")
        kernel = self._tftp_path(spec, "kernel", spec.kernel_path, check_files)
        initrd = self._tftp_path(spec, "initrd", spec.initrd_path, check_files) if spec.initrd_path else ""
        out: dict[str, bytes] = {}
        if any(n.name not in self.uefi_nodes for n in spec.nodes):
            out["bios"] = _pxelinux_text(spec, kernel, initrd).encode("utf-8")
        uefi = [n.name for n in spec.nodes if n.name in self.uefi_nodes]
        if uefi:
            try:
                text = grub.render(spec.label, spec.key, kernel, initrd, spec.kernel_args)
            except ValueError as err:
                raise BackendError(f"{', '.join(uefi)} (UEFI): reservation {spec.label}: {err}") from None
            out["uefi"] = text.encode("utf-8")
        return out

    def _tftp_path(self, spec: BootSpec, what: str, path: str, check_file: bool = True) -> str:
        """`path` as the TFTP client sees it ("/igor/content/…"); it must really be inside the root.

        Symlinks are resolved first: a TFTP server confined to its root cannot follow one out of it, and a
        link must not let a crafted path point pxelinux at an arbitrary file.
        """
        root = os.path.realpath(self.tftproot)
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root or real == root:
            raise BackendError(
                f"reservation {spec.label}: the {what} {path} is outside the TFTP root {self.tftproot}; "
                "for PXE boot contentdir (the copies nodes fetch) must be under the TFTP root"
            )
        rel = "/" + os.path.relpath(real, root).replace(os.sep, "/")
        if not rel.isprintable() or any(ch.isspace() or ch in "'\\" for ch in rel):
            raise BackendError(
                f"reservation {spec.label}: the {what} path {rel!r} contains a space, quote or control"
            )
        if check_file and not os.path.isfile(real):
            raise BackendError(f"reservation {spec.label}: the {what} {path} is missing; it cannot be booted")
        return rel

    def _targets(self, spec: BootSpec) -> list[_Target]:
        """Every file to write, derived only from MAC/IP; all nodes are checked before any write."""
        unknown = [n.name for n in spec.nodes if not n.ip and not n.mac]
        if unknown:
            raise BackendError(f"{', '.join(unknown)}: no MAC or IP known (add it to the hosts map or DNS)")
        seen: set[str] = set()
        out: list[_Target] = []
        for node in spec.nodes:
            mode = "uefi" if node.name in self.uefi_nodes else "bios"
            for rel in _node_files(node, mode):
                if rel not in seen:
                    seen.add(rel)
                    out.append(_Target(rel, node.name, mode))
        return out

    def _cfg_dir(self, directory: str) -> str:
        """pxelinux.cfg or grub/, created (0755) if the TFTP root has none yet."""
        cfg = os.path.join(self.tftproot, directory)
        try:
            os.mkdir(cfg, 0o755)
            os.chmod(cfg, 0o755)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            pass
        except OSError as exc:
            raise BackendError(f"PXE install: creating {cfg} failed: {exc.strerror or exc}") from exc
        return cfg

    def _undo(self, written: list[_Written]) -> None:
        """Put back what each written file replaced, but only where the file still holds our content."""
        for item in reversed(written):
            path = os.path.join(self.tftproot, item.rel)
            with contextlib.suppress(OSError):
                current = _read_or_none(path)
                if current is None or _SHA256(current).hexdigest() != item.digest:
                    continue
                if item.previous is None:
                    os.unlink(path)
                else:
                    _atomic_write(path, item.previous)


def _pxelinux_text(spec: BootSpec, kernel: str, initrd: str) -> str:
    """The pxelinux config: APPEND carries the arguments verbatim (pxelinux does no parsing of them)."""
    append = []
    if initrd:
        append.append(f"initrd={initrd}")
    if spec.kernel_args:
        append.append(spec.kernel_args)
    lines = [
        f"# written by igor for reservation {spec.label} ({spec.key}); removed when it ends",
        f"DEFAULT {spec.key}",
        f"LABEL {spec.key}",
        f"  KERNEL {kernel}",
    ]
    if append:
        lines.append("  APPEND " + " ".join(append))
    return "\n".join(lines) + "\n"


def _node_files(node: NodeAddress, mode: str) -> list[str]:
    """The files (relative to the TFTP root) the node's boot loader looks for; GRUB's image uses
    PXELINUX's per-client names behind a `grub.cfg-` prefix (grub.node_names)."""
    names = _node_names(node)
    if mode == "uefi":
        return [f"{grub.GRUB_DIR}/grub.cfg-{name}" for name in names]
    return [f"{CFG_DIR}/{name}" for name in names]


def _node_names(node: NodeAddress) -> list[str]:
    """The pxelinux.cfg names of one node; a malformed MAC or IP is an error naming the node."""
    names = []
    if node.mac:
        try:
            names.append(pxe_mac(node.mac))
        except ValueError:
            raise BackendError(f"{node.name}: MAC address {node.mac!r} is not valid") from None
    if node.ip:
        try:
            names.append(pxe_hex(node.ip))
        except ValueError:
            raise BackendError(f"{node.name}: IP address {node.ip!r} is not a valid IPv4 address") from None
    return names


def _is_owned(rel: object) -> bool:
    """True if `rel` is a file igor could have written: a per-client name in pxelinux.cfg or grub/."""
    if not isinstance(rel, str) or rel.count("/") != 1:
        return False
    directory, name = rel.split("/")
    pattern = _OWNED_DIRS.get(directory)
    return pattern is not None and pattern.fullmatch(name) is not None


def _read_or_none(path: str) -> bytes | None:
    """The file's bytes, or None if there is no such file."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _write_error(spec: BootSpec, target: _Target, exc: OSError) -> BackendError:
    """The one line a failed file becomes: the node first, so the admin knows which one to look at."""
    return BackendError(
        f"{target.node}: writing {target.rel} for reservation {spec.label} failed: {exc.strerror or exc}"
    )


def _write_temp(path: str, data: bytes) -> str:
    """`data` in a new temp file beside `path` (0644), fsynced before this returns its name: the caller's
    rename can then never publish a file whose bytes are not on disk. On any failure nothing is left."""
    directory, base = os.path.split(path)
    fd, tmp = make_temp(directory, f".{base}.", suffix=".tmp")  # not tempfile: ~3 ms of the tick's imports
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


# Threads writing (and fsyncing) temp files at once. Each fsync still waits for its own file, but ext4
# commits the journal once for all the fsyncs in flight instead of once per file: 128 files took 95-114 ms
# one after another and 54-67 ms from 8 threads on this disk (PROFILE.md, fifth pass); 16 or 32 were no
# faster. It also bounds the open descriptors to 8 however many nodes a reservation has.
_WRITERS = 8


def _write_temps(jobs: Sequence[tuple[str, bytes]]) -> list[str | BaseException]:
    """`_write_temp` for every (path, data), from up to `_WRITERS` threads; per job, in order, the temp
    file's name or the exception it met (its own temp already removed). Nothing is renamed here."""
    results: list[str | BaseException] = [RuntimeError("not written")] * len(jobs)
    queue = list(reversed(range(len(jobs))))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            try:
                results[i] = _write_temp(*jobs[i])
            except BaseException as exc:  # noqa: BLE001 (the caller reports or re-raises it, in job order)
                results[i] = exc

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(_WRITERS, len(jobs)) - 1)]
    for thread in threads:
        thread.start()
    work()  # the calling thread is one of the writers
    for thread in threads:
        thread.join()
    return results


def _written_temps(
    spec: BootSpec, targets: Sequence[_Target], jobs: Sequence[tuple[str, bytes]]
) -> list[str]:
    """Every target's fsynced temp file, or none at all: if one failed, the others are removed before
    anything was renamed, and the first failure (in target order) is raised naming its node."""
    temps = _write_temps(jobs)
    names = [t for t in temps if isinstance(t, str)]
    if len(names) == len(temps):
        return names
    _discard(names)
    target, exc = next((t, e) for t, e in zip(targets, temps, strict=True) if not isinstance(e, str))
    if isinstance(exc, OSError):
        raise _write_error(spec, target, exc) from exc
    raise exc


def _discard(temps: Sequence[str]) -> None:
    """Remove the temp files of a batch that will not be published (best effort: a leftover is swept)."""
    for tmp in temps:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _atomic_write(path: str, data: bytes) -> None:
    """Temp file in the same directory, 0644, fsync, rename: pxelinux never reads a half-written file."""
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(directory: str) -> None:
    """Make the renames durable, so a crash right after install cannot lose a boot file."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STALE_TEMP_SECONDS = 60


def _remove_stale_temps(cfg: str) -> None:
    """A tick killed inside an atomic write leaves `.<name>.<random>.tmp`; only one tick runs at a time,
    so a temp file older than a minute belongs to nobody and is removed."""
    remove_files(cfg, is_dot_tmp, older_than=STALE_TEMP_SECONDS)
