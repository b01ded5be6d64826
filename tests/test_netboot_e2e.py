"""Proof on a real boot path: reservations netboot qemu nodes into the user's kernel and arguments.

The other tick tests show that igor writes the right pxelinux.cfg files; these boot them. Each test builds
an igor cluster whose nodes are qemu processes (tests/vcluster.py), runs the installed `igor` and
`igor-tick` as users and cron do, and reads what each node's /init printed on its serial port: its host
name and its /proc/cmdline. igor drives the nodes through its ordinary `command` power backend with
`vcluster.py on|off %s` as poweroncommand/poweroffcommand, so nothing in igor knows the nodes are virtual.

Network: each node's DHCP and TFTP come from qemu's user-mode (slirp) network, private to that qemu
process (and `restrict=on`); the 10.0.x addresses below are slirp's and appear only as strings in the
hosts map and PXE file names. igor's own traffic goes only to 127.0.0.1: node kn1 is known by its MAC
alone, so igor-tick asks `dnsserver` for its IP, which is a stub DNS server on 127.0.0.1 answering
NXDOMAIN. Liveness is off (`liveness: none`), so nothing is probed.

Boot times (power-on to marker, per node) and the module's wall time are printed at the end of the module.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import pytest
from cobbler_server import CobblerServer
from conftest import ClusterFactory
from test_resolve import DnsServer
from test_tick_e2e import Rig, back_to_back, cobbler_cleanup
from vcluster import Boot, BootFailed, VCluster, VNode, build_initramfs, ensure_kernel, missing_prerequisite

pytestmark = [pytest.mark.real, pytest.mark.slow]

KN1 = VNode("kn1", "52:54:00:12:34:01", subnet=2)  # known to igor by MAC only
KN2 = VNode("kn2", "52:54:00:12:34:02", subnet=3)  # known to igor by IP only
KN1_FILE = "01-52-54-00-12-34-01"  # pxelinux's name for kn1's MAC
KN2_IP = "10.0.3.15"  # the address qemu's slirp DHCP gives kn2
KN2_FILE = "0A00030F"  # pxelinux's hex name for kn2's slirp address 10.0.3.15
SITE_DEFAULT_ARG = "igor_site_default=1"  # what the site's own pxelinux.cfg/default boots with


@dataclass(frozen=True)
class BootFiles:
    """A real kernel (cached Debian cloud kernel) and the reporting initramfs."""

    kernel: Path
    initrd: Path


@dataclass
class Timings:
    """Boot times and the module's wall time, printed when the module ends."""

    started: float
    boots: list[tuple[str, Boot]]

    def add(self, test: str, boot: Boot) -> Boot:
        self.boots.append((test, boot))
        return boot


@pytest.fixture(scope="module")
def timings(request: pytest.FixtureRequest) -> Iterator[Timings]:
    """Collects every boot; at module end writes them (and the wall time) to the terminal, -s or not."""
    record = Timings(started=time.monotonic(), boots=[])
    yield record
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not record.boots:
        return
    lines = ["", "netboot e2e: boot times, power-on to IGOR-BOOT-OK (qemu -accel tcg)"]
    lines += [f"  {boot.seconds:5.1f} s  {boot.node:<4} {test}" for test, boot in record.boots]
    lines.append(f"netboot e2e: module wall time {time.monotonic() - record.started:.1f} s")
    with capture.global_and_fixture_disabled():  # straight to the terminal, without -s
        for line in lines:
            reporter.write_line(line)


@pytest.fixture(scope="module")
def boot_files(tmp_path_factory: pytest.TempPathFactory) -> BootFiles:
    """Built once per module; skips, naming the missing Debian package, where qemu nodes cannot boot
    (IGOR_REQUIRE_REAL=1 makes that a failure)."""
    missing = missing_prerequisite()
    if missing:
        pytest.skip(missing)
    try:
        kernel = ensure_kernel()
    except RuntimeError as err:
        pytest.skip(f"no kernel to boot: {err}")
    initrd = build_initramfs(tmp_path_factory.mktemp("initramfs") / "initrd.gz")
    return BootFiles(kernel=kernel, initrd=initrd)


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    """A DNS server on 127.0.0.1 that knows no names: igor-tick asks it for kn1's IP, never a real one."""
    server = DnsServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A short directory for the nodes' run files (QMP socket paths must fit in 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="igor-vc-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Netboot:
    """An igor cluster (Rig from the tick tests, with the real boot files) and its virtual nodes."""

    rig: Rig
    vc: VCluster
    timings: Timings
    test: str

    def boot(self, node: str) -> Boot:
        """Wait for the node's current boot and record its time."""
        return self.timings.add(self.test, self.vc.wait_for_boot(node))

    def pxe_names(self) -> set[str]:
        return set(self.rig.pxe_files())

    def site_default(self) -> bytes:
        """The site's own pxelinux.cfg/default (igor never touches it): the same kernel with a marker
        argument, from a directory of the site's own in the TFTP root."""
        site = self.vc.tftproot / "site"
        site.mkdir(exist_ok=True)
        shutil.copyfile(self.rig.cluster.kernel, site / "vmlinuz")
        shutil.copyfile(self.rig.cluster.initrd, site / "initrd.gz")
        text = (
            "# the site's fallback boot; not igor's\n"
            "DEFAULT site\nLABEL site\n  KERNEL /site/vmlinuz\n"
            f"  APPEND initrd=/site/initrd.gz {SITE_DEFAULT_ARG}\n"
        ).encode()
        (self.vc.tftproot / "pxelinux.cfg" / "default").write_bytes(text)
        return text


class NetbootFactory(Protocol):
    def __call__(self, nodes: Sequence[VNode], *, tftproot: Path | None = None, **config: Any) -> Netboot: ...


@pytest.fixture
def make_netboot(
    make_cluster: ClusterFactory,
    boot_files: BootFiles,
    dns: DnsServer,
    run_dir: Path,
    timings: Timings,
    request: pytest.FixtureRequest,
) -> Iterator[NetbootFactory]:
    """Build an igor cluster whose `nodes` are qemu nodes powered by igor's command backend; `config`
    overrides igor.conf keys, `tftproot` is where the nodes fetch PXELINUX and their files (default: the
    cluster's own TFTP root). Every qemu is killed at the end, whatever the test left running."""
    made: list[VCluster] = []

    def factory(nodes: Sequence[VNode], *, tftproot: Path | None = None, **config: Any) -> Netboot:
        cluster = make_cluster(end=len(nodes), rackwidth=len(nodes), rackheight=1, liveness="none", **config)
        vc = VCluster.create(run_dir / str(len(made)), tftproot or cluster.tftproot, nodes)
        made.append(vc)
        settings: dict[str, Any] = {
            "autoreboot": True,
            "poweroffatend": False,
            "powercycledelay": 0,
            "poweroncommand": vc.power_template("on"),
            "poweroffcommand": vc.power_template("off"),
            "dnsserver": dns.address,
            **cluster.config,
        }
        cluster.config_path.write_text(json.dumps(settings, indent=2) + "\n")
        cluster = replace(cluster, config=settings, kernel=boot_files.kernel, initrd=boot_files.initrd)
        prefix = str(settings["prefix"])
        rig = Rig(cluster=cluster, nodes=len(nodes), prefix=prefix, switch=None, tooldir=cluster.root)
        return Netboot(rig=rig, vc=vc, timings=timings, test=request.node.name)

    try:
        yield factory
    finally:
        for vc in made:
            vc.kill_all()
    # Only nodes the hosts map gives no IP were looked up, and only on the stub server.
    assert set(dns.queries) <= {"kn1", "vn1"}, dns.queries


@pytest.fixture
def netboot(make_netboot: NetbootFactory) -> Netboot:
    """kn1 (known to igor by its MAC only) and kn2 (by its IP only), booting by igor's PXE files."""
    return make_netboot([KN1, KN2], hosts={"kn1": {"mac": KN1.mac}, "kn2": {"ip": KN2_IP}})


def test_a_reservation_boots_its_kernel_and_arguments_on_both_nodes(netboot: Netboot) -> None:
    """`igor sub -n 2 -c ...` then one `igor-tick`: both nodes power-cycle, boot the reservation's kernel
    and initrd, and their /proc/cmdline holds the reservation's arguments. kn1 boots through its MAC
    file (igor knows only its MAC), kn2 through its hex-IP file (igor knows only its IP)."""
    rig = netboot.rig
    rig.igor("sub", "-r", "e2e", *rig.cluster.boot, "-n", "2", "-c", "igor_host_check=xyz")
    res = rig.res("e2e")
    assert res.nodes == ("kn1", "kn2") and KN2.guest_ip == KN2_IP
    out = rig.tick().stdout
    assert "0 failed" in out and "power-cycle kn[1-2]" in out, out
    assert netboot.pxe_names() == {KN1_FILE, KN2_FILE}
    for node in ("kn1", "kn2"):
        boot = netboot.boot(node)
        assert boot.host == node
        assert "igor_host_check=xyz" in boot.args, boot.cmdline
        assert f"BOOT_IMAGE=/igor/content/{res.kernel_hash}" in boot.args, boot.cmdline
        assert f"initrd=/igor/content/{res.initrd_hash}" in boot.args, boot.cmdline
    assert rig.res("e2e").installed


def test_back_to_back_reboots_into_the_next_reservations_arguments(netboot: Netboot) -> None:
    """A ends exactly when B starts on kn1; the one tick that tears A down and installs B power-cycles
    kn1, which then runs B's arguments: not A's, and not the site default igor must leave alone."""
    rig = netboot.rig
    default = netboot.site_default()
    rig.igor("sub", "-r", "a", *rig.cluster.boot, "-w", "kn1", "-c", "igor_round=a")
    rig.tick()
    first = netboot.boot("kn1")
    assert "igor_round=a" in first.args and SITE_DEFAULT_ARG not in first.args, first.cmdline

    back_to_back(rig, rig.res("a"), "b", "kn1", "igor_round=b", *rig.cluster.boot)
    out = rig.tick().stdout
    assert "remove boot config of kn1" in out and "power-cycle kn1" in out, out
    second = netboot.boot("kn1")
    assert second.host == "kn1"
    assert "igor_round=b" in second.args, second.cmdline
    assert "igor_round=a" not in second.args and SITE_DEFAULT_ARG not in second.args, second.cmdline
    assert list(rig.reservations()) == ["b"]
    assert (rig.cfg_dir / "default").read_bytes() == default


def test_after_the_end_the_node_boots_the_site_default(netboot: Netboot) -> None:
    """When the last reservation ends, the tick removes igor's file and (poweroffatend off) leaves kn1
    running; an admin's forced power cycle then boots the site's own pxelinux.cfg/default."""
    rig = netboot.rig
    default = netboot.site_default()
    rig.igor("sub", "-r", "last", *rig.cluster.boot, "-w", "kn1", "-c", "igor_round=last")
    rig.tick()
    assert "igor_round=last" in netboot.boot("kn1").args

    rig.igor("del", "last")
    out = rig.tick().stdout
    assert "remove boot config of kn1" in out and "power off" not in out, out
    assert netboot.pxe_names() == {"default"}
    assert (rig.cfg_dir / "default").read_bytes() == default
    assert netboot.vc.pid("kn1") is not None  # poweroffatend is off: still up, on the old kernel

    refused = rig.igor("power", "-n", "kn1", "cycle", user=None, check=1)
    assert "add --force" in refused.stderr  # an unreserved node needs a deliberate --force
    rig.igor("power", "-n", "kn1", "--force", "cycle", user=None)
    fallback = netboot.boot("kn1")
    assert fallback.host == "kn1"
    assert SITE_DEFAULT_ARG in fallback.args and "igor_round=last" not in fallback.args, fallback.cmdline


def test_a_node_without_a_boot_file_fails_fast(netboot: Netboot) -> None:
    """The harness's own guard: with no igor file and no site default, PXELINUX gives up and the wait
    says so within seconds (instead of running into its timeout), so a broken install cannot hide."""
    netboot.rig.igor("power", "-n", "kn1", "--force", "on", user=None)
    started = time.monotonic()
    with pytest.raises(BootFailed, match=r"PXELINUX found no pxelinux\.cfg file") as failed:
        netboot.vc.wait_for_boot("kn1", timeout=60)
    assert time.monotonic() - started < 30
    assert "Unable to locate configuration file" in str(failed.value)  # the serial log's tail is shown


def test_cobbler_written_files_boot_the_reservation(
    make_netboot: NetbootFactory, cobbler_server: CobblerServer
) -> None:
    """The same proof through a real Cobbler 3.3: igor-tick creates the reservation's distro and profile
    and moves the node's system onto it; Cobbler itself copies the kernel into its TFTP root and writes
    the node's pxelinux file, and vn1 boots that file with the reservation's arguments. When the
    reservation ends, Cobbler's file for vn1 goes back to the site's default profile."""
    server = cobbler_server
    node = VNode("vn1", "52:54:00:12:34:11", subnet=4)
    netboot = make_netboot(
        [node],
        tftproot=server.tftp_root,
        prefix="vn",
        hosts={"vn1": {"mac": node.mac}},
        usecobbler=True,
        cobblerdefaultprofile=server.default_profile,
        cobblerurl=server.url,
        cobbleruser="cobbler",
        cobblerpassword="cobbler",
        cobblertimeout=10,
    )
    rig = netboot.rig
    server.remove_system("vn1")
    server.add_system("vn1", node.mac)
    try:
        rig.igor("sub", "-r", "cob", *rig.cluster.boot, "-w", "vn1", "-c", "igor_host_check=cobbler")
        rig.tick()
        res = rig.res("cob")
        image = f"/images/igor-igor-{res.id}"
        written = server.pxe_file(node.mac).read_text()
        assert f"kernel {image}/vmlinuz" in written, written  # Cobbler's template, not igor's PXE file
        boot = netboot.boot("vn1")
        assert boot.host == "vn1"
        assert f"BOOT_IMAGE={image}/vmlinuz" in boot.args and f"initrd={image}/initrd.img" in boot.args
        assert "igor_host_check=cobbler" in boot.args, boot.cmdline

        rig.igor("del", "cob")
        rig.tick()
        reverted = server.pxe_file(node.mac).read_text()
        assert image not in reverted and f"/images/{server.default_profile}/" in reverted, reverted
    finally:
        cobbler_cleanup(server, "vn", 1)
