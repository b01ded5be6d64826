"""A virtual cluster of qemu nodes that netboot through PXELINUX or GRUB, to prove reservations really boot.

Unit tests show that igor writes the right pxelinux.cfg files; only a real boot shows that a node then
runs the user's kernel with the user's arguments. Each virtual node is a qemu process (always `-accel tcg`:
the nested KVM of these machines crashes in the iPXE firmware) with its own MAC and its own user-mode
(slirp) network, whose built-in DHCP and TFTP servers are private to that qemu process: nothing leaves it.
Every node boots a Debian cloud kernel with a busybox initramfs whose /init prints `/proc/cmdline` and
`IGOR-BOOT-OK <host>` on the serial port, then idles. The host name comes from the node's SMBIOS serial,
not from the kernel arguments, because igor gives every node of a reservation the same arguments.

Power is this file run as a command, so igor's ordinary `command` power backend drives the nodes through
`poweroncommand` / `poweroffcommand` exactly as it drives `powerbot on %s` on real hardware:

    python tests/vcluster.py --cluster DIR on NODE    start the node's qemu in the background
    python tests/vcluster.py --cluster DIR off NODE   quit it over QMP (already off: nothing to do)

igor's `cycle` is off, `powercycledelay`, on: a fresh qemu process, as a real power cycle is a cold boot.

A node is legacy BIOS (SeaBIOS, iPXE, PXELINUX) or UEFI (`firmware="uefi"`: OVMF, its own PXE driver and
the GRUB image igor setup builds, which reads grub/grub.cfg-<node>); UEFI nodes keep a private copy of
OVMF's variable store, as a real machine keeps its NVRAM. See ../shared/notes/netboot-uefi.md.

Stdlib only, so a power command costs a Python start-up and nothing more. Also runnable as
`python tests/vcluster.py fetch-kernel` (for .ci/run) and `python tests/vcluster.py check`.
See ../shared/notes/netboot.md for the measurements behind the choices here.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

QEMU = "qemu-system-x86_64"
PXELINUX = Path("/usr/lib/PXELINUX/pxelinux.0")
LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")  # the only module KERNEL/INITRD/APPEND need
BUSYBOX = Path("/bin/busybox")
E1000_ROM = Path("/usr/lib/ipxe/qemu/efi-e1000.rom")  # the NIC's iPXE boot ROM qemu loads
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"  # serial console, gzip initrd and devtmpfs built in
# UEFI nodes: OVMF without Secure Boot (4 MB layout); the code is shared read-only, the VARS file is a
# template every node copies (qemu does not lock pflash files, so two nodes on one copy would corrupt it).
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
GRUB_IMAGE = "grubx64.efi"  # igor_tui.backends.grub.GRUB_IMAGE: what the UEFI nodes' DHCP hands out

MARKER = "IGOR-BOOT-OK"
CMDLINE = "IGOR-CMDLINE:"
# What PXELINUX prints when no pxelinux.cfg file matches, and what SeaBIOS prints when the boot then
# gives up; PXELINUX waits a long time in between, so either one stops the wait at once.
NO_CONFIG = "Unable to locate configuration file"
BOOT_FAILED = "Boot failed:"
# UEFI: GRUB with no grub.cfg-<node> and no grub.cfg waits at its prompt forever; OVMF without a boot
# file retries PXE over IPv6, HTTP boot ... forever. Either one stops the wait at once.
GRUB_PROMPT = "grub>"
PXE_TFTP_ERROR = "PXE-E23"
# SeaBIOS's serial console redraws the screen with cursor moves (ESC [ row ; col H), which can land in
# the middle of a word when the screen scrolls: they are removed before the log is searched.
_ESCAPES = re.compile(r"\x1b\[[0-9;?=]*[A-Za-z]")  # OVMF also writes ESC [=3h

# /init of the initramfs: report on the serial port directly (the user's arguments need not say
# console=ttyS0), name the host from the SMBIOS serial qemu was given, then idle until powered off.
INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
host=$(/bin/busybox cat /sys/class/dmi/id/product_serial 2>/dev/null)
echo "IGOR-CMDLINE: $(/bin/busybox cat /proc/cmdline)" > /dev/ttyS0
echo "IGOR-BOOT-OK ${host:-unknown}" > /dev/ttyS0
while :; do /bin/busybox sleep 3600; done
"""


class BootFailed(AssertionError):
    """A node did not reach its boot marker; the message carries the tail of its serial log."""


# --------------------------------------------------------------------------------- prerequisites


def cache_dir() -> Path:
    """Where the downloaded kernel lives between runs, outside the repo: IGOR_NETBOOT_CACHE, else
    ${XDG_CACHE_HOME:-~/.cache}/igor-tui-tests/netboot (beside the Cobbler venv of cobbler_server.py)."""
    override = os.environ.get("IGOR_NETBOOT_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "igor-tui-tests" / "netboot"


def _has_interpreter(path: Path) -> bool:
    """True if the ELF file asks for a dynamic loader (PT_INTERP): such a busybox cannot run alone in an
    initramfs, which is why busybox-static is needed rather than Debian's plain busybox."""
    data = path.read_bytes()[:65536]
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only; the kernel is amd64 too
        return True
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return any(
        struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3  # PT_INTERP
        for i in range(phnum)
    )


def missing_prerequisite() -> str:
    """Why virtual nodes cannot boot here ("" when they can), naming the Debian package to install."""
    if sys.platform != "linux":
        return "virtual nodes need Linux (qemu, PXELINUX from Debian)"
    if shutil.which(QEMU) is None:
        return f"{QEMU} not installed (Debian packages qemu-system-x86 ipxe-qemu)"
    if not E1000_ROM.exists():
        return f"{E1000_ROM} missing: the e1000 NIC cannot netboot (Debian package ipxe-qemu)"
    for path, package in ((PXELINUX, "pxelinux"), (LDLINUX, "syslinux-common"), (BUSYBOX, "busybox-static")):
        if not path.exists():
            return f"{path} not installed (Debian package {package})"
    if _has_interpreter(BUSYBOX):
        return f"{BUSYBOX} is dynamically linked (install Debian package busybox-static)"
    if shutil.which("cpio") is None:
        return "cpio not installed (Debian package cpio)"
    return ""


def missing_uefi_prerequisite() -> str:
    """Why UEFI virtual nodes cannot boot here ("" when they can), naming the Debian package."""
    missing = missing_prerequisite()
    if missing:
        return missing
    for path in (OVMF_CODE, OVMF_VARS):
        if not path.exists():
            return f"{path} not installed (Debian package ovmf)"
    if shutil.which("grub-mkimage") is None:
        return "grub-mkimage not installed (Debian package grub-common)"
    if not Path("/usr/lib/grub/x86_64-efi/linux.mod").exists():
        return "GRUB's x86_64-efi modules not installed (Debian package grub-efi-amd64-bin)"
    return ""


def _apt(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=600, check=False)


def kernel_package() -> str:
    """The versioned cloud kernel package Debian currently ships, e.g. linux-image-6.1.0-57-cloud-amd64.

    Asked each time because Debian replaces the ABI number with security updates and removes the old
    package from the mirror."""
    proc = _apt("apt-cache", "depends", KERNEL_METAPACKAGE)
    found = re.search(r"Depends:\s*(linux-image-\S+-cloud-amd64)", proc.stdout)
    if not found:
        raise RuntimeError(f"apt-cache depends {KERNEL_METAPACKAGE} names no kernel: {proc.stderr.strip()}")
    return found.group(1)


def _cached_kernels(cache: Path) -> list[Path]:
    return sorted(cache.glob("linux-image-*/vmlinuz"), key=lambda p: p.stat().st_mtime)


def ensure_kernel(cache: Path | None = None) -> Path:
    """The kernel image to boot, downloaded once per package version with `apt-get download` into the
    cache (never into the repo: it is 14 MB of someone else's binary).

    Missing or stale package lists (a package the mirror no longer has) get one `apt-get update` (as
    root) and a second try. When apt still cannot help, a kernel cached earlier is used, so a machine
    without a mirror keeps working. Raises RuntimeError when there is neither."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    problem = ""
    for attempt in range(2):
        if attempt and os.geteuid() == 0:
            _apt("apt-get", "update", "-qq")
        try:
            target = cache / kernel_package() / "vmlinuz"
            if not target.exists():
                _download(target)
            return target
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            problem = str(err)
    cached = _cached_kernels(cache)
    if cached:
        return cached[-1]
    raise RuntimeError(f"no kernel cached in {cache} and none could be downloaded: {problem}")


def _download(target: Path) -> None:
    """`apt-get download` the package named by target's directory and keep only its boot/vmlinuz-*."""
    package = target.parent.name
    with open(target.parent.parent / "download.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions at once download only once
        if target.exists():
            return
        with tempfile.TemporaryDirectory(dir=target.parent.parent, prefix=".download-") as tmp:
            proc = subprocess.run(
                ["apt-get", "download", "-q", package],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            debs = list(Path(tmp).glob("*.deb"))
            if proc.returncode != 0 or not debs:
                raise RuntimeError(f"apt-get download {package} failed: {proc.stderr.strip()[-1000:]}")
            unpacked = Path(tmp) / "root"
            subprocess.run(["dpkg", "-x", str(debs[0]), str(unpacked)], check=True, timeout=300)
            images = list((unpacked / "boot").glob("vmlinuz-*"))
            if len(images) != 1:
                raise RuntimeError(f"{debs[0].name} holds {len(images)} kernel images, expected one")
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(images[0], target.with_suffix(".tmp"))
            os.replace(target.with_suffix(".tmp"), target)


def build_initramfs(path: Path) -> Path:
    """A gzip'd newc cpio (~1 MB) holding busybox-static and the reporting /init."""
    with tempfile.TemporaryDirectory(prefix="igor-initramfs-") as tmp:
        root = Path(tmp)
        for name in ("bin", "proc", "sys", "dev"):
            (root / name).mkdir()
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        (root / "init").write_text(INIT)
        (root / "init").chmod(0o755)
        names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        proc = subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet"],
            cwd=root,
            input=("\n".join([".", *names]) + "\n").encode(),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"cpio failed: {proc.stderr.decode(errors='replace')}")
        path.write_bytes(gzip.compress(proc.stdout, compresslevel=1))
    return path


# ------------------------------------------------------------------------------------------ nodes


@dataclass(frozen=True, slots=True)
class VNode:
    """One virtual node: its MAC and its own slirp network, so its DHCP address (and so its hex-IP
    pxelinux file name) differs from every other node's even though all share one TFTP root."""

    name: str
    mac: str
    subnet: int  # third octet of the slirp network 10.0.<subnet>.0/24 (qemu user-mode, private)
    firmware: str = "bios"  # or "uefi": OVMF netbooting igor's GRUB image

    @property
    def net(self) -> str:
        return f"10.0.{self.subnet}.0/24"  # qemu slirp network, never leaves the qemu process

    @property
    def guest_ip(self) -> str:
        """The address slirp's DHCP hands the first (only) client: .15 of its network."""
        return f"10.0.{self.subnet}.15"  # qemu slirp guest address


@dataclass(frozen=True, slots=True)
class Boot:
    """One boot seen on a node's serial port: the host it reported, its kernel command line and how long
    it took from power-on to the marker."""

    node: str
    host: str
    cmdline: str
    seconds: float

    @property
    def args(self) -> list[str]:
        return self.cmdline.split()


@dataclass(frozen=True)
class VCluster:
    """The nodes of one test, with their run files (pids, QMP sockets, serial logs) under `root`.

    `root` should be short: a QMP socket path must fit in 108 bytes. Everything the power commands need
    is in `root/cluster.json`, so they can run as separate processes started by igor."""

    root: Path
    tftproot: Path
    nodes: dict[str, VNode]

    # -- set-up

    @classmethod
    def create(cls, root: Path, tftproot: Path, nodes: Sequence[VNode]) -> VCluster:
        """Write the cluster description and give the TFTP root what PXELINUX needs to start."""
        for path in (root, tftproot):
            if "," in str(path):
                raise ValueError(f"{path}: qemu option values cannot contain a comma")
        root.mkdir(parents=True, exist_ok=True)
        tftproot.mkdir(parents=True, exist_ok=True)
        for source in (PXELINUX, LDLINUX):
            shutil.copyfile(source, tftproot / source.name)
        (tftproot / "pxelinux.cfg").mkdir(exist_ok=True)
        # SeaBIOS copies the firmware's screen (iPXE, PXELINUX) to this serial port: without it, PXELINUX's
        # "Unable to locate configuration file" would only be drawn on a VGA nobody sees.
        (root / "sercon-port").write_bytes(struct.pack("<H", 0x3F8))
        doc = {"tftproot": str(tftproot), "nodes": [asdict(n) for n in nodes]}
        (root / "cluster.json").write_text(json.dumps(doc, indent=2) + "\n")
        return cls(root=root, tftproot=tftproot, nodes={n.name: n for n in nodes})

    @classmethod
    def load(cls, root: Path) -> VCluster:
        doc = json.loads((root / "cluster.json").read_text())
        nodes = [VNode(**n) for n in doc["nodes"]]
        return cls(root=root, tftproot=Path(doc["tftproot"]), nodes={n.name: n for n in nodes})

    def power_template(self, action: str) -> str:
        """igor's poweroncommand / poweroffcommand for these nodes (`%s` = node name)."""
        argv = [sys.executable, str(Path(__file__).resolve()), "--cluster", str(self.root), action]
        return shlex.join(argv) + " %s"

    # -- files of one node

    def _file(self, node: str, suffix: str) -> Path:
        if node not in self.nodes:
            raise KeyError(f"{node} is not a node of this virtual cluster ({', '.join(self.nodes)})")
        return self.root / f"{node}.{suffix}"

    def serial_log(self, node: str) -> Path:
        return self._file(node, "serial")

    def pid(self, node: str) -> int | None:
        """The pid of the node's running qemu, or None when it is off. The pid must still be the qemu
        started with this node's pidfile, so a recycled pid is never mistaken for the node."""
        pidfile = self._file(node, "pid")
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if str(pidfile).encode() in cmdline else None

    # -- power

    def power_on(self, node: str) -> None:
        """Start the node's qemu in the background; a node that is already on stays as it is (like a PDU
        outlet switched on twice). Each power-on gets a fresh serial log; older ones are kept numbered."""
        if self.pid(node) is not None:
            return
        spec = self.nodes[node]
        log = self.serial_log(node)
        if log.exists():
            number = len(list(self.root.glob(f"{node}.serial.*"))) + 1
            log.rename(log.with_name(f"{log.name}.{number}"))
        self._file(node, "on").write_text(f"{time.time():.6f}\n")
        argv = [
            QEMU,
            "-name", f"igor-vnode-{node}",
            "-accel", "tcg",
            "-m", "256",
            "-display", "none",
            "-vga", "none",
            "-daemonize",
            "-pidfile", str(self._file(node, "pid")),
            "-serial", f"file:{log}",
            "-qmp", f"unix:{self._file(node, 'qmp')},server=on,wait=off",
            "-smbios", f"type=1,serial={node}",
            *(self._uefi_argv(spec) if spec.firmware == "uefi" else self._bios_argv(spec)),
        ]  # fmt: skip
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{node}: qemu failed to start (exit {proc.returncode}): {proc.stderr.strip()}"
            )

    def _bios_argv(self, spec: VNode) -> list[str]:
        """SeaBIOS, the e1000's iPXE ROM, PXELINUX from the TFTP root."""
        return [
            "-fw_cfg", f"name=etc/sercon-port,file={self.root / 'sercon-port'}",
            # user-mode (slirp) network: DHCP and TFTP served inside this qemu process; restrict=on keeps
            # the guest from reaching the host or anything beyond it. (ipv6=off looked tidier but made
            # iPXE wait 13 s longer before booting.)
            "-netdev",
            f"user,id=n0,net={spec.net},restrict=on,tftp={self.tftproot},bootfile=pxelinux.0",
            "-device", f"e1000,netdev=n0,mac={spec.mac}",
            "-boot", "n",
        ]  # fmt: skip

    def _uefi_argv(self, spec: VNode) -> list[str]:
        """OVMF with the node's own VARS copy (made on first power-on and kept, like NVRAM), OVMF's own
        PXE driver (`romfile=` skips iPXE's ROM: 0.7 s faster, less output) as the first boot entry
        (`bootindex=1`; OVMF ignores `-boot n`), and igor's GRUB image as the DHCP boot file."""
        vars_copy = self._file(spec.name, "vars.fd")
        if not vars_copy.exists():
            shutil.copyfile(OVMF_VARS, vars_copy.with_suffix(".tmp"))
            os.replace(vars_copy.with_suffix(".tmp"), vars_copy)
        return [
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={vars_copy}",
            "-netdev",
            f"user,id=n0,net={spec.net},restrict=on,tftp={self.tftproot},bootfile={GRUB_IMAGE}",
            "-device", f"virtio-net-pci,netdev=n0,mac={spec.mac},romfile=,bootindex=1",
        ]  # fmt: skip

    def power_off(self, node: str) -> None:
        """Quit the node's qemu over QMP (a hard power-off: the guest is not asked); kill it if QMP does
        not answer. A node that is off stays off."""
        pid = self.pid(node)
        if pid is None:
            return
        with contextlib.suppress(OSError, ValueError):
            _qmp(self._file(node, "qmp"), "quit")
        if not _wait_gone(pid, 10.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10.0)

    def kill_all(self) -> None:
        """Stop every node at once (SIGKILL by pidfile): teardown must leave no qemu behind, whatever
        state a failed test left the nodes in."""
        pids = [pid for pid in (self.pid(n) for n in self.nodes) if pid is not None]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            _wait_gone(pid, 10.0)

    # -- observing boots

    def wait_for_boot(self, node: str, timeout: float = 90.0) -> Boot:
        """The boot of the node's current power-on, once its /init has reported.

        Fails fast, with the serial log's tail, when PXELINUX finds no config file for the node or the
        qemu process is gone. The time is taken from the serial log's mtime at the marker (the marker is
        the last thing /init writes), so waiting for several nodes in turn does not skew their times."""
        log = self.serial_log(node)
        deadline = time.monotonic() + timeout
        while True:
            text = _ESCAPES.sub("", log.read_text(errors="replace")) if log.exists() else ""
            marker = re.search(rf"{MARKER} (\S+)", text)
            cmdline = re.search(rf"{CMDLINE} ([^\r\n]*)", text)
            if marker and cmdline:
                started = float(self._file(node, "on").read_text())
                return Boot(node, marker.group(1), cmdline.group(1), log.stat().st_mtime - started)
            if NO_CONFIG in text or BOOT_FAILED in text:
                raise BootFailed(f"{node}: PXELINUX found no pxelinux.cfg file for it\n{_tail(text)}")
            if GRUB_PROMPT in text:
                raise BootFailed(
                    f"{node}: GRUB found no grub.cfg file for it (stopped at grub>)\n{_tail(text)}"
                )
            if PXE_TFTP_ERROR in text:
                raise BootFailed(f"{node}: the UEFI firmware could not fetch {GRUB_IMAGE}\n{_tail(text)}")
            if self.pid(node) is None:
                raise BootFailed(f"{node}: qemu is not running (was it powered on?)\n{_tail(text)}")
            if time.monotonic() > deadline:
                raise BootFailed(f"{node}: no {MARKER} within {timeout:g}s\n{_tail(text)}")
            time.sleep(0.1)


def _tail(text: str, lines: int = 25) -> str:
    shown = text.replace("\r", "").splitlines()[-lines:]
    return "serial log (last lines):\n" + "\n".join(f"  | {line}" for line in shown)


def _wait_gone(pid: int, timeout: float) -> bool:
    """True once process `pid` has exited (qemu is a daemon, not our child: poll /proc)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _qmp(path: Path, command: str, timeout: float = 5.0) -> None:
    """Run one QMP command: greeting, qmp_capabilities, the command. A `quit` may close the socket before
    its reply arrives, which is success too."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        stream = sock.makefile("rwb")
        stream.readline()  # {"QMP": {...}} greeting
        for execute in ("qmp_capabilities", command):
            stream.write(json.dumps({"execute": execute}).encode() + b"\n")
            stream.flush()
            while line := stream.readline():  # events may come first; the reply has return or error
                reply = json.loads(line)
                if "error" in reply:
                    raise ValueError(f"QMP {execute}: {reply['error']}")
                if "return" in reply:
                    break


# -------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="vcluster.py", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--cluster", type=Path, help="the virtual cluster's run directory")
    parser.add_argument("command", choices=["on", "off", "fetch-kernel", "check"])
    parser.add_argument("node", nargs="?")
    ns = parser.parse_args(argv)
    try:
        if ns.command == "fetch-kernel":
            print(ensure_kernel())
            return 0
        if ns.command == "check":
            missing = missing_prerequisite()
            print(missing or "ok")
            return 1 if missing else 0
        if ns.cluster is None or ns.node is None:
            parser.error(f"{ns.command} needs --cluster DIR and a NODE")
        cluster = VCluster.load(ns.cluster)
        if ns.command == "on":
            cluster.power_on(ns.node)
        else:
            cluster.power_off(ns.node)
    except (RuntimeError, KeyError, ValueError, OSError, subprocess.SubprocessError) as err:
        what = " ".join(word for word in (ns.command, ns.node) if word)
        print(f"vcluster {what}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
