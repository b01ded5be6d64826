"""igor-tick end to end: the real console scripts against PXE files, a test switch, a power script, Cobbler.

Every tick runs the installed `igor-tick` as a subprocess, the way cron runs it, as root (= the service
account, so an admin); users' `igor` calls go through `cli.run` in this process (conftest.run_igor), as
SUDO_USER. The systems are real peers on loopback: pxelinux.cfg in a temp TFTP root, the eAPI-speaking
FakeEapi switch, a shell script as the power tool (it logs "<action> <node> <argument count>" and can be
told to fail or to be slow), TCP liveness against 127.x addresses and, for `real`-marked tests, a real
Cobbler 3.3 server. Node addresses
come only from the `hosts` map (kn<i> -> 127.0.3.<i>, MAC 52:54:00:00:03:<i>); the one test about a
missing address points `dnsserver` at its own silent socket on 127.0.0.1, so no real DNS is ever asked.

The helpers (Rig, build_rig ...) are also used by test_tick_crash.py and test_power_sync_cli.py; the
faulty switch is fake_eapi.FaultySwitch, the `switch` fixture lives in conftest.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cobbler_server import CobblerServer
from conftest import Cluster, ClusterFactory, igor_env, run_igor, tick_executable
from fake_eapi import SWITCH_PASSWORD, FaultySwitch

from igor_tui.model import Install, InstallStage, Reservation, floor_minute
from igor_tui.service.installs import read_installs, write_installs
from igor_tui.store import TinyStore

TICK_TIMEOUT = 120.0
VLAN_MIN, VLAN_MAX = 100, 199

# The power tool igor runs: `power.sh on|off NODE`. Files next to it steer it: power.fail (node names,
# one a line: exit 1 for those), power.sleep (seconds to sleep, after touching power.started).
POWER_SCRIPT = """#!/bin/sh
# test power tool for igor's poweroncommand/poweroffcommand templates: $1 = on|off, $2 = node
dir=$(dirname "$0")
if [ -f "$dir/power.sleep" ]; then
    touch "$dir/power.started"
    sleep "$(cat "$dir/power.sleep")"
fi
if [ -f "$dir/power.fail" ] && grep -qx -- "$2" "$dir/power.fail"; then
    echo "PDU outlet of $2 is jammed" >&2
    exit 1
fi
echo "$1 $2 $#" >> "$dir/power.log"
"""


# What PxeBoot's atomic write leaves behind when killed between mkstemp and rename.
PXE_TEMP = re.compile(r"\.(01-[0-9a-f]{2}(-[0-9a-f]{2}){5}|[0-9A-F]{8})\.[A-Za-z0-9_]+\.tmp")


def node_ip(i: int) -> str:
    return f"127.0.{3 + i // 256}.{i % 256}"


def node_mac(i: int) -> str:
    return f"52:54:00:00:{3 + i // 256:02x}:{i % 256:02x}"


def pxe_names(i: int) -> tuple[str, str]:
    """The two pxelinux.cfg names of node i: 01-<mac> and the upper-case hex IP (computed independently)."""
    mac = "01-" + node_mac(i).replace(":", "-")
    hexip = "".join(f"{int(octet):02X}" for octet in node_ip(i).split("."))
    return mac, hexip


# ---------------------------------------------------------------------------------------------- rig


@dataclass
class Rig:
    """A test cluster wired to real peers, with the calls and the observations the tests need."""

    cluster: Cluster
    nodes: int
    prefix: str
    switch: FaultySwitch | None
    tooldir: Path

    # -- running igor

    def tick(
        self, *args: str, check: int | None = 0, timeout: float = TICK_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """`igor-tick ARGS` as root without SUDO_USER (cron's service account: an admin)."""
        env = igor_env(self.cluster.config_path, None)
        return run_igor(*args, env=env, check=check, timeout=timeout, executable=tick_executable())

    def igor(
        self, *args: str, user: str | None = "alice", check: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """`igor ARGS` as `user` (None: root itself, an admin)."""
        return run_igor(*args, env=igor_env(self.cluster.config_path, user), check=check)

    def sub(self, name: str, nodes: str, *extra: str, user: str | None = "alice", args: str = "") -> None:
        self.igor("sub", "-r", name, *self.cluster.boot, "-w", nodes, "-c", args, *extra, user=user)

    # -- the store

    @property
    def statedir(self) -> Path:
        return self.cluster.statedir

    @property
    def store(self) -> TinyStore:
        return TinyStore(self.statedir)

    def reservations(self) -> dict[str, Reservation]:
        return {r.name: r for r in self.store.snapshot().reservations}

    def res(self, name: str) -> Reservation:
        found = self.reservations().get(name)
        assert found is not None, f"{name} is not in the store: {sorted(self.reservations())}"
        return found

    def installs(self) -> dict[int, Install]:
        with self.store.transaction() as tx:
            return read_installs(tx)

    def expire_backoff(self) -> None:
        """After a failure the tick waits 1 minute before retrying (2, 4 ... 60 after further failures).
        Rather than wait for the clock, move every stored retry time to the previous minute: exactly the
        state the store is in once the backoff has run out."""
        past = floor_minute(datetime.now(UTC)) - timedelta(minutes=1)
        with self.store.transaction() as tx:
            installs = read_installs(tx)
            write_installs(
                tx, {k: replace(v, retry_at=past) if v.retry_at else v for k, v in installs.items()}
            )

    def index(self, node: str) -> int:
        return int(node.removeprefix(self.prefix))

    # -- what the real systems hold

    @property
    def cfg_dir(self) -> Path:
        return self.cluster.tftproot / "pxelinux.cfg"

    def pxe_files(self) -> dict[str, str]:
        """Every entry of pxelinux.cfg (dot files included) with its text."""
        if not self.cfg_dir.exists():
            return {}
        return {p.name: p.read_text() for p in self.cfg_dir.iterdir()}

    def expected_pxe(self, res: Reservation) -> dict[str, list[str]]:
        """The files `res` must have in pxelinux.cfg, each as the list of its lines (5: no injection)."""
        key = f"igor-{res.id}"
        append = f"  APPEND initrd=/igor/content/{res.initrd_hash}"
        if res.kernel_args:
            append += " " + res.kernel_args
        lines = [
            "",  # the comment line, compared by prefix below
            f"DEFAULT {key}",
            f"LABEL {key}",
            f"  KERNEL /igor/content/{res.kernel_hash}",
            append,
        ]
        return {name: lines for n in res.nodes for name in pxe_names(self.index(n))}

    def assert_pxe_exactly(
        self, active: Sequence[Reservation], *, leaked_temps: list[str] | None = None
    ) -> None:
        """pxelinux.cfg holds exactly the files of `active` (plus an admin's `default`), each with the
        right content, and every KERNEL/initrd it names exists in the TFTP root.

        With `leaked_temps` (a list), temp files of interrupted atomic writes are moved from the check into
        that list instead of failing it (see test_temp_file_of_a_killed_pxe_write_is_cleaned_up)."""
        files = self.pxe_files()
        files.pop("default", None)
        if leaked_temps is not None:
            for name in [n for n in files if PXE_TEMP.fullmatch(n)]:
                leaked_temps.append(name)
                del files[name]
        want: dict[str, list[str]] = {}
        for res in active:
            want.update(self.expected_pxe(res))
        assert sorted(files) == sorted(want)
        for name, lines in want.items():
            got = files[name].split("\n")
            assert got[-1] == "", f"{name} does not end with a newline"
            got = got[:-1]
            assert got[0].startswith("# written by igor"), got
            assert got[1:] == lines[1:], f"{name}:\n{files[name]}"
        for res in active:
            for digest in (res.kernel_hash, res.initrd_hash):
                assert (self.cluster.tftproot / "igor" / "content" / digest).is_file()

    def port(self, node: str) -> tuple[str, int]:
        assert self.switch is not None
        return self.switch.vlan_of(f"Ethernet{self.index(node)}")

    def assert_ports_exactly(self, active: Sequence[Reservation]) -> None:
        """Every port of an active reservation is a dot1q-tunnel port in its VLAN; every other port is a
        plain access port in VLAN 1; active reservations never share a VLAN."""
        assert self.switch is not None
        vlans = [r.vlan for r in active]
        assert None not in vlans and len(set(vlans)) == len(vlans), vlans
        want = {n: ("dot1qTunnel", r.vlan) for r in active for n in r.nodes}
        for i in range(1, self.nodes + 1):
            node = f"{self.prefix}{i}"
            assert self.port(node) == want.get(node, ("access", 1)), node

    def power_log(self) -> list[str]:
        log = self.tooldir / "power.log"
        return log.read_text().splitlines() if log.exists() else []

    def clear_power_log(self) -> None:
        (self.tooldir / "power.log").unlink(missing_ok=True)

    def fail_power(self, *nodes: str) -> None:
        path = self.tooldir / "power.fail"
        if nodes:
            path.write_text("".join(f"{n}\n" for n in nodes))
        else:
            path.unlink(missing_ok=True)

    def show_flags(self, name: str, user: str | None = None) -> str:
        """The FLAGS column of `igor show` for reservation `name`."""
        out = self.igor("show", user=user).stdout
        lines = out.splitlines()
        header = next((line for line in lines if line.split()[:2] == ["K", "NAME"]), "")
        assert header.split() == ["K", "NAME", "OWNER", "START", "END", "FLAGS", "SIZE", "NODES"], out
        name_end, flags, size = header.index("NAME") + 4, header.index("FLAGS"), header.index("SIZE")
        for line in lines:
            if line[1:name_end].strip() == name:  # the cells under FLAGS (times may hold spaces)
                return line[flags:size].strip()
        raise AssertionError(f"{name} not in igor show:\n{out}")

    def show_errors(self) -> str:
        return self.igor("show", "-e", user=None).stdout


def build_rig(
    make_cluster: ClusterFactory,
    *,
    nodes: int = 20,
    prefix: str = "kn",
    network: bool = True,
    power: bool = True,
    switch: FaultySwitch | None = None,
    **overrides: Any,
) -> Rig:
    """A cluster of `nodes` nodes with hosts map, optional switch (started by the caller) and power script."""
    hosts = {f"{prefix}{i}": {"ip": node_ip(i), "mac": node_mac(i)} for i in range(1, nodes + 1)}
    config: dict[str, Any] = {
        "prefix": prefix,
        "end": nodes,
        "hosts": hosts,
        "liveness": "none",
        "powercycledelay": 0,
        "nodelimit": 0,
        **overrides,
    }
    if network:
        assert switch is not None
        config.update(
            network="arista",
            network_url=switch.classic_url,
            networkuser="admin",
            networkpassword=SWITCH_PASSWORD,
            network_timeout=config.get("network_timeout", 5),
            vlan_min=VLAN_MIN,
            vlan_max=VLAN_MAX,
            node_map={f"{prefix}{i}": f"Et{i}" for i in range(1, nodes + 1)},
        )
    cluster = make_cluster(**config)
    tooldir = cluster.root / "tools"
    tooldir.mkdir()
    script = tooldir / "power.sh"
    script.write_text(POWER_SCRIPT)
    script.chmod(0o755)
    if power:
        cfg = dict(cluster.config)
        cfg.setdefault("poweroncommand", f"{script} on %s")
        cfg.setdefault("poweroffcommand", f"{script} off %s")
        cluster.config_path.write_text(json.dumps(cfg, indent=2) + "\n")
        cluster = replace(cluster, config=cfg)
    return Rig(
        cluster=cluster, nodes=nodes, prefix=prefix, switch=switch if network else None, tooldir=tooldir
    )


@contextlib.contextmanager
def listeners(up: Sequence[str], down: Sequence[str]) -> Iterator[int]:
    """One TCP port on 127.x addresses: listening on each of `up`, and on each of `down` a listener whose
    accept queue is full, so the kernel drops further SYNs: no answer at all, as from a dead node. (A
    closed port would not do: its RST is the node's own kernel answering, which TCP liveness rightly
    counts as up, like nmap -PS22.)"""
    socks: list[socket.socket] = []
    try:
        first = socket.socket()
        socks.append(first)
        first.bind((up[0], 0))
        first.listen()
        port = int(first.getsockname()[1])
        for ip in up[1:]:
            sock = socket.socket()
            socks.append(sock)
            sock.bind((ip, port))
            sock.listen()
        for ip in down:
            silent = socket.socket()
            socks.append(silent)
            silent.bind((ip, port))
            silent.listen(0)
            for _ in range(8):
                filler = socket.socket()
                socks.append(filler)
                filler.settimeout(0.2)
                try:
                    filler.connect((ip, port))
                except TimeoutError:
                    break
            else:
                raise AssertionError(f"could not fill the accept queue of {ip}:{port}")
        yield port
    finally:
        for sock in socks:
            sock.close()


def tree(root: Path, skip: Callable[[Path], bool]) -> dict[str, str]:
    """Every path under `root` (relative) -> sha256 of its content ("dir" for directories)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if skip(path):
            continue
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# ------------------------------------------------------------------------------- install / teardown


def test_install_and_teardown_through_igor_tick(make_cluster: ClusterFactory, switch: FaultySwitch) -> None:
    """The whole life of a reservation on real peers: dry run, install (PXE, VLAN, power cycle, liveness),
    idempotent second run, --json and --quiet, then delete and teardown (files gone, ports back, off)."""
    # kn20 never answers: it is down
    with listeners([node_ip(i) for i in range(1, 20)], [node_ip(20)]) as port:
        rig = build_rig(
            make_cluster,
            switch=switch,
            autoreboot=True,
            poweroffatend=True,
            liveness="tcp",
            livenessport=port,
            livenesstimeout=300,
        )
        rig.sub("r1", "kn[1-2]", args="console=ttyS0,115200 quiet")

        # --dry-run prints the plan and changes nothing: not the store, the files, the switch or power.
        before = (rig.statedir / "igor.json").read_bytes()
        dry = rig.tick("--dry-run")
        assert "(dry run): 4 action(s) planned" in dry.stdout
        assert "plan  install   r1: isolate kn[1-2] on its VLAN" in dry.stdout
        assert (rig.statedir / "igor.json").read_bytes() == before
        assert rig.pxe_files() == {}
        assert rig.port("kn1") == ("access", 1) and rig.power_log() == []
        assert switch.run_cmds_requests() == []

        done = rig.tick()
        assert "4 action(s), 0 failed; 20 nodes probed, 1 down" in done.stdout
        r1 = rig.res("r1")
        assert r1.installed and not r1.error and r1.vlan == VLAN_MIN
        rig.assert_pxe_exactly([r1])
        assert set(rig.pxe_files()) == {
            "01-52-54-00-00-03-01",
            "01-52-54-00-00-03-02",
            "7F000301",
            "7F000302",
        }
        assert rig.port("kn1") == rig.port("kn2") == ("dot1qTunnel", VLAN_MIN)
        assert rig.port("kn3") == ("access", 1)
        log = rig.power_log()
        assert sorted(log[:2]) == ["off kn1 2", "off kn2 2"] and sorted(log[2:]) == ["on kn1 2", "on kn2 2"]
        assert rig.show_flags("r1", user="alice") == "AWI"
        states = {n["name"]: n["state"] for n in json.loads(rig.igor("show", "-json").stdout)["nodes"]}
        assert states["kn20"] == "down" and states["kn1"] == "up" and states["kn19"] == "up"

        again = rig.tick()
        assert "igor-tick" in again.stdout and ": 0 action(s), 0 failed" in again.stdout
        assert len(rig.power_log()) == 4  # nothing was power-cycled twice

        # --json: the report's shape, for a run that installs r2.
        rig.sub("r2", "kn[3-4]")
        report = json.loads(rig.tick("--json").stdout)
        assert set(report) == {
            "time", "dry_run", "caught_up_minutes", "planned", "actions", "failed", "probed", "down",
            "probe_error", "clock", "swept", "sweep_error", "hooks",
        }  # fmt: skip
        assert report["hooks"] == []  # none configured
        assert report["clock"] == {
            "held": False, "accepted": False, "step_minutes": 0, "reason": "", "held_actions": []
        }  # fmt: skip
        r2 = rig.res("r2")
        assert report["dry_run"] is False and report["failed"] == 0 and report["probe_error"] == ""
        assert report["probed"] == 20 and report["down"] == ["kn20"]
        assert datetime.fromisoformat(report["time"]) == floor_minute(datetime.fromisoformat(report["time"]))
        assert [a["step"] for a in report["actions"]] == [
            "set-vlan",
            "install-boot",
            "power-cycle",
            "complete",
        ]
        for action in report["actions"]:
            assert set(action) == {"step", "id", "reservation", "nodes", "ok", "error", "ms"}
            assert action["id"] == r2.id and action["reservation"] == "r2" and action["ok"] is True
            assert action["nodes"] == ["kn3", "kn4"] and action["error"] == ""
            assert isinstance(action["ms"], float | int) and action["ms"] >= 0
        assert [p["step"] for p in report["planned"]] == [a["step"] for a in report["actions"]]
        assert rig.port("kn3") == ("dot1qTunnel", VLAN_MIN + 1)

        # --quiet: nothing at all on success.
        rig.sub("r3", "kn5")
        quiet = rig.tick("--quiet")
        assert quiet.stdout == "" and quiet.stderr == ""
        assert rig.res("r3").installed and "7F000305" in rig.pxe_files()

        # Teardown: deleting an installed reservation ends it now; the next tick undoes everything.
        rig.igor("del", "r1")
        rig.clear_power_log()
        down = rig.tick()
        assert "4 action(s), 0 failed" in down.stdout, down.stdout  # clear-vlan, uninstall, off, forget
        assert "r1" not in rig.reservations()
        rig.assert_pxe_exactly([rig.res("r2"), rig.res("r3")])
        assert rig.port("kn1") == rig.port("kn2") == ("access", 1)
        assert sorted(rig.power_log()) == ["off kn1 2", "off kn2 2"]
        assert "r1" not in rig.igor("show").stdout

    # Every action went to the log file as a structured line.
    events = [e for e in rig.cluster.log_events() if e.get("event") == "tick"]
    assert [(e["name"], e["step"]) for e in events if e["name"] == "r1"] == [
        ("r1", "set-vlan"),
        ("r1", "install-boot"),
        ("r1", "power-cycle"),
        ("r1", "complete"),
        ("r1", "clear-vlan"),
        ("r1", "uninstall-boot"),
        ("r1", "power-off"),
        ("r1", "forget"),
    ]
    assert all(e["ok"] is True and e["error"] == "" for e in events)


# ------------------------------------------------------------------------------------- back to back


def back_to_back(
    rig: Rig, previous: Reservation, name: str, nodes: str, args: str, *extra: str
) -> Reservation:
    """End `previous` now (`igor del` on an installed reservation) and book `name` on the same nodes
    starting exactly at that end (an admin's -a may name the current minute even once it has begun)."""
    rig.igor("del", previous.name, user=None)
    ended = rig.res(previous.name)
    rig.igor(
        "sub", "-r", name, *extra, "-w", nodes, "-c", args, "-t", "60", "-a", ended.end.isoformat(), user=None
    )
    new = rig.res(name)
    assert new.start == ended.end, (ended, new)
    return new


def test_back_to_back_on_the_same_nodes_twenty_times(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """r1 ends exactly when r2 starts on the same nodes; after one tick r2's PXE files (with r2's args and
    kernel), VLAN and power cycle are in place and nothing of r1 is left. A chain of 20 such handovers,
    alternating between two kernels so the content store's clean-up is exercised too."""
    rig = build_rig(make_cluster, switch=switch, autoreboot=True, poweroffatend=True)
    kernels = [rig.cluster.boot, ("-k", str(rig.cluster.file("vmlinuz2", b"kernel two\n")), "-i",
               str(rig.cluster.file("initrd2", b"initrd two\n")))]  # fmt: skip
    nodes = "kn[3-5]"
    rig.igor("sub", "-r", "b2b0", *kernels[0], "-w", nodes, "-c", "round=0", user=None)
    rig.tick()
    current = rig.res("b2b0")
    for k in range(1, 21):
        old_vlan = current.vlan
        new = back_to_back(rig, current, f"b2b{k}", nodes, f"round={k} console=ttyS{k % 2}", *kernels[k % 2])
        rig.clear_power_log()
        rig.tick()
        stored = rig.reservations()
        assert current.name not in stored, f"round {k}: {current.name} is still in the store"
        new = stored[new.name]
        assert new.installed and not new.error
        rig.assert_pxe_exactly([new])
        assert all(f"DEFAULT igor-{current.id}\n" not in text for text in rig.pxe_files().values())
        rig.assert_ports_exactly([new])
        assert new.vlan == old_vlan  # r1's VLAN was released first, and it is the lowest free one
        log = rig.power_log()
        assert log[-3:] and all(line.startswith("on ") for line in log[-3:]), log  # r2 cycled last
        assert {line.split()[1] for line in log} == {"kn3", "kn4", "kn5"}
        assert rig.installs().keys() == {new.id}
        assert rig.cluster.content_files() == {new.kernel_hash, new.initrd_hash}
        current = new


def test_teardown_of_a_failed_install_keeps_the_next_reservations_files(make_cluster: ClusterFactory) -> None:
    """r1's install fails (its kernel copy is briefly unreadable) just before it ends; r2 starts on the
    same nodes; the failure's backoff delays r1's teardown past r2's install. r2 must keep its files.

    Regression (found here): UNINSTALL_BOOT without a boot record used to re-install r1 over r2's files to
    learn what r1 wrote, then removed them.
    """
    rig = build_rig(make_cluster, network=False, power=False)
    rig.igor("sub", "-r", "r1", *rig.cluster.boot, "-w", "kn[1-2]", user=None)
    r1 = rig.res("r1")
    kernel = rig.cluster.content_dir / r1.kernel_hash
    kernel.rename(kernel.with_suffix(".away"))
    try:
        assert "FAIL  install   r1: write boot config" in rig.tick(check=1).stdout
    finally:
        kernel.with_suffix(".away").rename(kernel)
    other = (
        "-k",
        str(rig.cluster.file("vmlinuz2", b"kernel two\n")),
        "-i",
        str(rig.cluster.file("initrd2", b"i\n")),
    )
    r2 = back_to_back(rig, r1, "r2", "kn[1-2]", "quiet", *other)
    rig.tick()  # r1's teardown is in its backoff minute; r2 is installed
    rig.assert_pxe_exactly([rig.res("r2")])
    rig.expire_backoff()
    rig.tick()  # r1's teardown
    assert list(rig.reservations()) == ["r2"]
    rig.assert_pxe_exactly([rig.res(r2.name)])


def cobbler_rig(
    make_cluster: ClusterFactory, server: CobblerServer, prefix: str, nodes: int, **overrides: Any
) -> Rig:
    """A rig booting through the real Cobbler (XML-RPC), with a Cobbler system per node on the default."""
    rig = build_rig(
        make_cluster,
        nodes=nodes,
        prefix=prefix,
        usecobbler=True,
        cobblerdefaultprofile=server.default_profile,
        cobblerurl=server.url,
        cobbleruser="cobbler",
        cobblerpassword="cobbler",
        cobblertimeout=10,
        **overrides,
    )
    for i in range(1, nodes + 1):
        server.remove_system(f"{prefix}{i}")
        server.add_system(f"{prefix}{i}", node_mac(i))
    return rig


def cobbler_cleanup(server: CobblerServer, prefix: str, nodes: int) -> None:
    """Leave the shared server as we found it: our systems and any igor-igor-* objects of ours gone."""
    for i in range(1, nodes + 1):
        server.remove_system(f"{prefix}{i}")
    used = {str(server.system(s).get("profile")) for s in server.names("system")}
    for kind in ("profile", "distro"):
        for name in server.names(kind):
            if name.startswith("igor-igor-") and name not in used:
                with contextlib.suppress(Exception):
                    server.xapi(kind, name, "remove")


@pytest.mark.real
def test_back_to_back_with_real_cobbler(
    make_cluster: ClusterFactory, switch: FaultySwitch, cobbler_server: CobblerServer
) -> None:
    """The same handover through a real Cobbler 3.3: after each tick the nodes' systems are on r2's own
    profile (whose distro carries r2's kernel args), r1's profile and distro are gone, VLANs follow."""
    server = cobbler_server
    prefix, count = "bb", 3
    rig = cobbler_rig(make_cluster, server, prefix, count, switch=switch)
    try:
        rig.igor("sub", "-r", "cb0", *rig.cluster.boot, "-w", "bb[1-3]", "-c", "round=0", user=None)
        rig.tick()
        current = rig.res("cb0")
        for k in range(1, 21):
            new = back_to_back(rig, current, f"cb{k}", "bb[1-3]", f"round={k} quiet", *rig.cluster.boot)
            rig.tick()
            assert current.name not in rig.reservations()
            new = rig.res(new.name)
            profile = f"igor-igor-{new.id}"
            for i in range(1, count + 1):
                system = server.system(f"{prefix}{i}")
                assert system["profile"] == profile and system["netboot_enabled"] in (True, "True", 1)
            old = f"igor-igor-{current.id}"
            assert old not in server.names("profile") and old not in server.names("distro")
            assert profile in server.names("profile")
            distro = server.proxy().get_distro(profile)
            assert isinstance(distro, dict)
            options = distro["kernel_options"]
            assert f"round={k}" in options and "quiet" in options, options
            rig.assert_ports_exactly([new])
            current = new
        rig.igor("del", current.name, user=None)
        rig.tick()
        assert all(
            server.system(f"{prefix}{i}")["profile"] == server.default_profile for i in range(1, count + 1)
        )
        assert not [p for p in server.names("profile") if p == f"igor-igor-{current.id}"]
    finally:
        cobbler_cleanup(server, prefix, count)


def interrupt_install(rig: Rig, res: Reservation) -> None:
    """Put the store in the state a tick killed right after the boot backend's install returned leaves:
    the install record's `pending` is "boot" and its `boot` record was never written (files are there)."""
    with rig.store.transaction() as tx:
        installs = read_installs(tx)
        installs[res.id] = replace(installs[res.id], boot=None, pending=InstallStage.BOOT, complete=False)
        write_installs(tx, installs)


def test_teardown_after_an_interrupted_install_needs_no_reinstall(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """An install cut short by a kill, then the reservation ends. The teardown computes what the install
    wrote (BootBackend.record_for) instead of re-installing it, so it succeeds at once even while the
    kernel copy is unreadable, and removes the files the interrupted install wrote.
    (The pending-marker regression of CLEAR_VLAN is covered in test_tick.py with a failing fake.)
    """
    rig = build_rig(make_cluster, switch=switch, power=False)
    rig.sub("r", "kn[1-2]")
    rig.tick()
    res = rig.res("r")
    interrupt_install(rig, res)
    rig.igor("del", "r")
    kernel = rig.cluster.content_dir / res.kernel_hash
    kernel.rename(kernel.with_suffix(".away"))
    try:
        done = rig.tick()
    finally:
        kernel.with_suffix(".away").rename(kernel)
    assert "ok    tear down r: clear switch ports Et1, Et2" in done.stdout
    assert "ok    tear down r: remove boot config of kn[1-2]" in done.stdout
    assert "r" not in rig.reservations()
    assert rig.pxe_files() == {}


@pytest.mark.real
def test_cobbler_reinstall_leaves_no_temp_links(
    make_cluster: ClusterFactory, cobbler_server: CobblerServer
) -> None:
    """The tick re-installs a boot config whose install was cut short (a kill after CobblerBoot.install
    returned, before the tick recorded it), reproduced exactly by `interrupt_install`.

    Regression (found here): rename() of two links to one inode is a no-op, so _make_links left
    vmlinuz.<pid>.tmp and initrd.img.<pid>.tmp and the link directory outlived the teardown.
    """
    server = cobbler_server
    rig = cobbler_rig(make_cluster, server, "ck", 2, network=False, power=False)
    try:
        rig.igor("sub", "-r", "r", *rig.cluster.boot, "-w", "ck[1-2]", user=None)
        rig.tick()
        res = rig.res("r")
        interrupt_install(rig, res)
        rig.tick()  # completes the install: the same key is installed a second time
        link_dir = rig.cluster.content_dir / f"igor-igor-{res.id}"
        assert sorted(p.name for p in link_dir.iterdir()) == ["initrd.img", "vmlinuz"]
        rig.igor("del", "r", user=None)
        rig.tick()
        assert not link_dir.exists()
    finally:
        cobbler_cleanup(server, "ck", 2)


@pytest.mark.real
def test_cobbler_unreachable_mid_install_is_cleaned_up_at_the_end(
    make_cluster: ClusterFactory, cobbler_server: CobblerServer
) -> None:
    """cobblerd goes away after the distro and profile were added but before the systems were switched
    (the `cobbler` CLI, through a wrapper, answers the system edits as a stopped cobblerd does). The
    install cannot be rolled back then; once the reservation ends, its teardown must remove all of it."""
    server = cobbler_server
    rig = cobbler_rig(make_cluster, server, "cu", 2, network=False, power=False)
    wrapper = rig.tooldir / "cobbler"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# the real cobbler CLI, except that with cobbler.down present system edits meet a stopped cobblerd\n"
        f'if [ -f "{rig.tooldir}/cobbler.down" ] && [ "$1" = system ] && [ "$2" = edit ]; then\n'
        '    echo "cobblerd does not appear to be running/accessible: '
        "ConnectionRefusedError(111, 'Connection refused')\"\n"
        "    exit 1\n"
        "fi\n"
        f'exec {server.cobbler} "$@"\n'
    )
    wrapper.chmod(0o755)
    cfg = dict(rig.cluster.config)
    cfg.pop("cobblerurl")
    cfg["cobblercommand"] = str(wrapper)
    rig.cluster.config_path.write_text(json.dumps(cfg))
    try:
        rig.igor("sub", "-r", "r", *rig.cluster.boot, "-w", "cu[1-2]", user=None)
        res = rig.res("r")
        profile = f"igor-igor-{res.id}"
        (rig.tooldir / "cobbler.down").touch()
        failed = rig.tick(check=1)
        assert "cannot reach cobblerd" in failed.stdout and "not rolled back" in failed.stdout
        assert profile in server.names("profile")  # what the cut-short install left in Cobbler
        (rig.tooldir / "cobbler.down").unlink()
        rig.igor("del", "r", user=None)
        rig.expire_backoff()
        rig.tick()
        assert rig.reservations() == {}
        assert profile not in server.names("profile") and profile not in server.names("distro")
        assert not (rig.cluster.content_dir / profile).exists()
        assert all(server.system(f"cu{i}")["profile"] == server.default_profile for i in (1, 2))
    finally:
        cobbler_cleanup(server, "cu", 2)


# -------------------------------------------------------------------------------- edits and sharing


def test_edit_of_an_installed_reservation_is_applied_by_the_next_tick(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """New kernel args, a new kernel and a new VLAN on an installed reservation: the next tick rewrites
    its boot files and moves its ports, and leaves nothing of the old configuration behind."""
    rig = build_rig(make_cluster, switch=switch, power=False)
    rig.sub("r", "kn[1-2]", args="old=1")
    rig.tick()
    kernel = rig.cluster.file("vmlinuz-new", b"new kernel\n")
    rig.igor("edit", "-r", "r", "-c", "new=2 console=ttyS1", "-k", str(kernel), "-vlan", "150")
    rig.tick()
    res = rig.res("r")
    assert res.kernel_args == "new=2 console=ttyS1" and res.vlan == 150 and not res.error
    rig.assert_pxe_exactly([res])
    rig.assert_ports_exactly([res])
    assert rig.cluster.content_files() == {res.kernel_hash, res.initrd_hash}  # the old kernel's copy is gone
    assert ": 0 action(s), 0 failed" in rig.tick().stdout


def test_shared_vlan_outlives_the_reservation_it_came_from(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """`-vlan NAME` puts a second reservation into the first one's segment; when the first ends only its
    own ports leave the VLAN."""
    rig = build_rig(make_cluster, switch=switch, power=False)
    rig.sub("first", "kn[1-2]")
    rig.tick()
    rig.sub("second", "kn[3-4]", "-vlan", "first")
    rig.tick()
    vlan = rig.res("first").vlan
    assert rig.res("second").vlan == vlan
    assert {rig.port(f"kn{i}") for i in range(1, 5)} == {("dot1qTunnel", vlan)}
    rig.igor("del", "first")
    rig.tick()
    assert rig.port("kn1") == rig.port("kn2") == ("access", 1)
    assert rig.port("kn3") == rig.port("kn4") == ("dot1qTunnel", vlan)
    rig.assert_pxe_exactly([rig.res("second")])


def test_a_node_without_an_address_is_an_error_not_a_silent_skip(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """kn3 has no hosts entry and the DNS server (our own silent socket on 127.0.0.1) never answers: its
    reservation fails naming kn3 and writes no file at all; another reservation is installed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dns:
        dns.bind(("127.0.0.1", 0))  # receives the queries, never answers them
        rig = build_rig(
            make_cluster, switch=switch, power=False, dnsserver=f"127.0.0.1:{dns.getsockname()[1]}"
        )
        cfg = dict(rig.cluster.config)
        cfg["hosts"] = {k: v for k, v in cfg["hosts"].items() if k != "kn3"}
        rig.cluster.config_path.write_text(json.dumps(cfg))
        rig.sub("bad", "kn[3-4]")
        rig.sub("good", "kn5")
        first = rig.tick(check=1)
    assert "FAIL  install   bad: write boot config for kn[3-4]: kn3: no MAC or IP known" in first.stdout
    rig.assert_pxe_exactly([rig.res("good")])  # nothing for kn4 either: all nodes are checked first
    assert "E" in rig.show_flags("bad")


def test_an_ended_reservation_whose_install_never_succeeded_is_released(make_cluster: ClusterFactory) -> None:
    """kn3 has no address, so `bad` never installs (and PXE writes nothing); deleted, it must go away.

    Regression (found here): the failed install kept `pending` "boot", and the teardown re-installed it
    to learn what it wrote, failing the same way every minute: never released.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dns:
        dns.bind(("127.0.0.1", 0))  # our own DNS server that never answers
        rig = build_rig(
            make_cluster, network=False, power=False, dnsserver=f"127.0.0.1:{dns.getsockname()[1]}"
        )
        cfg = dict(rig.cluster.config)
        cfg["hosts"] = {k: v for k, v in cfg["hosts"].items() if k != "kn3"}
        rig.cluster.config_path.write_text(json.dumps(cfg))
        rig.sub("bad", "kn[3-4]")
        rig.tick(check=1)
        assert rig.pxe_files() == {}
        rig.igor("del", "bad")
        rig.expire_backoff()
        rig.tick()
    assert rig.reservations() == {} and rig.installs() == {}


# --------------------------------------------------------------------------------------------- faults


def tick_minute(proc: subprocess.CompletedProcess[str]) -> str:
    """The minute a tick ran in, from its summary line."""
    found = re.search(r"igor-tick (\S+ \S+) UTC", proc.stdout)
    assert found is not None, proc.stdout
    return found.group(1)


def assert_failed_then_recovered(
    rig: Rig, bad: str, good: str, first: subprocess.CompletedProcess[str], fix: Callable[[], None]
) -> None:
    """What every fault must look like: non-zero exit, the error on `bad` (flag E, `show -e`), `good`
    installed anyway; after the fault is removed and the backoff has passed, the next run recovers."""
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"FAIL  install   {bad}:" in first.stdout, first.stdout
    assert "E" in rig.show_flags(bad) and "E" not in rig.show_flags(good)
    errors = rig.show_errors()
    assert bad in errors and good not in errors
    assert "I" in rig.show_flags(good) and not rig.res(good).error
    assert rig.installs()[rig.res(good).id].complete

    fix()
    # Within the backoff minute the failed reservation is left alone (and nothing fails).
    waiting = rig.tick()
    if tick_minute(waiting) == tick_minute(first):  # (a new minute would have ended the backoff already)
        assert ": 0 action(s), 0 failed" in waiting.stdout, waiting.stdout
    rig.expire_backoff()
    recovered = rig.tick()
    assert ", 0 failed" in recovered.stdout and "FAIL" not in recovered.stdout
    assert rig.show_errors() == ""
    flags = rig.show_flags(bad)
    assert "E" not in flags and "I" in flags
    assert rig.installs()[rig.res(bad).id].complete
    assert rig.installs()[rig.res(bad).id].failures == 0


@pytest.mark.parametrize("fault", ["rpc", "hang", "http500"])
def test_switch_fault_is_recorded_others_proceed_and_next_run_recovers(
    make_cluster: ClusterFactory, switch: FaultySwitch, fault: str
) -> None:
    """A JSON-RPC error, a switch hanging past network_timeout (1 s) and an HTTP 500, each only for the
    ports of `bad`: the tick fails, `good` on the same switch is installed, and the next run recovers."""
    rig = build_rig(make_cluster, switch=switch, network_timeout=1)
    rig.sub("bad", "kn[3-4]", args="quiet")
    rig.sub("good", "kn[5-6]", args="quiet")
    switch.fault, switch.fault_ports, switch.hang_seconds = fault, {"Ethernet3"}, 4.0
    first = rig.tick(check=None)
    assert switch.faults_served == 1
    bad = rig.res("bad")
    words = {"rpc": "ASIC programming failed", "hang": "did not answer within 1s", "http500": "HTTP 500"}
    assert words[fault] in bad.error and "switch 127.0.0.1:" in bad.error, bad.error
    assert SWITCH_PASSWORD not in first.stdout + first.stderr + rig.show_errors()
    # The failed reservation got no further than its VLAN step: no boot files were written for it.
    assert not any(name in rig.pxe_files() for name in pxe_names(3))
    rig.assert_pxe_exactly([rig.res("good")])
    assert rig.port("kn5") == ("dot1qTunnel", rig.res("good").vlan)

    def fix() -> None:
        switch.fault = ""

    assert_failed_then_recovered(rig, "bad", "good", first, fix)
    rig.assert_pxe_exactly([rig.res("bad"), rig.res("good")])
    rig.assert_ports_exactly([rig.res("bad"), rig.res("good")])


def test_failing_power_command_for_one_node(make_cluster: ClusterFactory, switch: FaultySwitch) -> None:
    """autoreboot with a power tool that fails for kn3: the error names kn3, the command and the exit
    status; `good` is cycled anyway; once the outlet works again the next run finishes `bad`."""
    rig = build_rig(make_cluster, switch=switch, autoreboot=True)
    rig.sub("bad", "kn[3-4]")
    rig.sub("good", "kn[5-6]")
    rig.fail_power("kn3")
    first = rig.tick(check=None)
    error = rig.res("bad").error
    script = str(rig.tooldir / "power.sh")
    assert f"kn3 ({script} off kn3: exit 1: PDU outlet of kn3 is jammed)" in error, error
    assert "no node was switched back on" in error
    assert sorted(line for line in rig.power_log() if "kn5" in line or "kn6" in line) == [
        "off kn5 2", "off kn6 2", "on kn5 2", "on kn6 2",
    ]  # fmt: skip
    assert "on kn3 2" not in rig.power_log() and "on kn4 2" not in rig.power_log()

    def fix() -> None:
        rig.fail_power()
        rig.clear_power_log()

    assert_failed_then_recovered(rig, "bad", "good", first, fix)
    assert sorted(rig.power_log()) == ["off kn3 2", "off kn4 2", "on kn3 2", "on kn4 2"]


@pytest.mark.real
def test_cobbler_down_is_recorded_and_the_next_run_recovers(
    make_cluster: ClusterFactory, switch: FaultySwitch, cobbler_server: CobblerServer
) -> None:
    """cobblerd stopped: every boot step fails with one clear error per reservation (each is tried on its
    own, and their switch steps still happen); once cobblerd is back and the backoff has passed the next
    run installs both. Nothing can boot without Cobbler, so "others proceed" here means the VLAN steps
    and the independent attempts, not a successful boot."""
    server = cobbler_server
    prefix, count = "cd", 4
    rig = cobbler_rig(make_cluster, server, prefix, count, switch=switch)
    try:
        rig.igor("sub", "-r", "c1", *rig.cluster.boot, "-w", "cd[1-2]", "-c", "quiet", user=None)
        rig.igor("sub", "-r", "c2", *rig.cluster.boot, "-w", "cd[3-4]", "-c", "quiet", user=None)
        server.stop_daemon()
        try:
            first = rig.tick(check=None)
        finally:
            server.start_daemon()
        assert first.returncode == 1
        assert "FAIL  install   c1:" in first.stdout and "FAIL  install   c2:" in first.stdout
        for name in ("c1", "c2"):
            res = rig.res(name)
            assert "cobbler" in res.error.lower() and res.error, res.error
            assert rig.port(res.nodes[0]) == ("dot1qTunnel", res.vlan)
        assert "c1" in rig.show_errors() and "E" in rig.show_flags("c1")
        rig.expire_backoff()
        rig.tick()
        assert rig.show_errors() == ""
        for name in ("c1", "c2"):
            res = rig.res(name)
            for node in res.nodes:
                assert server.system(node)["profile"] == f"igor-igor-{res.id}"
        rig.igor("del", "c1", user=None)
        rig.igor("del", "c2", user=None)
        rig.tick()
        assert all(
            server.system(f"{prefix}{i}")["profile"] == server.default_profile for i in range(1, count + 1)
        )
    finally:
        if server.daemon is None:
            server.start_daemon()
        cobbler_cleanup(server, prefix, count)


# ------------------------------------------------------------------------------------------- security


@pytest.mark.parametrize(
    "args",
    [
        "quiet\nKERNEL /etc/shadow",
        "quiet\rLABEL evil",
        "console=ttyS0\x0bx",
        "a\tb",
        "\x1b[31mred",
        "x\u2028DEFAULT evil",
    ],
)
def test_hostile_kernel_args_cannot_be_booked_or_edited_in(make_cluster: ClusterFactory, args: str) -> None:
    """A line break (or any control character) in kernel args would add lines to the PXE file: refused
    when booking and when editing, so the tick never sees one."""
    rig = build_rig(make_cluster, network=False, power=False)
    refused = rig.igor("sub", "-r", "evil", *rig.cluster.boot, "-w", "kn1", "-c", args, check=1)
    assert "control character" in refused.stderr
    assert rig.reservations() == {}
    rig.sub("fine", "kn2", args="quiet")
    edit = rig.igor("edit", "-r", "fine", "-c", args, check=1)
    assert "control character" in edit.stderr
    assert rig.res("fine").kernel_args == "quiet"


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "a/b", "-rf", "x y", "x;touch", "$(id)", "a\nb", "..", ".", "kn1/../x", "a" * 65],
)
def test_hostile_reservation_names_are_refused(make_cluster: ClusterFactory, name: str) -> None:
    rig = build_rig(make_cluster, network=False, power=False)
    refused = rig.igor("sub", "-r", name, *rig.cluster.boot, "-w", "kn1", check=1)
    assert "reservation name" in refused.stderr, refused.stderr
    assert rig.reservations() == {}


def test_tick_writes_nothing_outside_pxelinux_cfg(make_cluster: ClusterFactory, tmp_path: Path) -> None:
    """Printable but hostile args and a reservation named like pxelinux's `default`: the tick writes only
    per-node files in pxelinux.cfg (besides its own store in the state directory), never the admin's
    `default`, and the args stay one APPEND line, verbatim, with no shell ever seeing them."""
    rig = build_rig(make_cluster, network=False, autoreboot=True)
    rig.cfg_dir.mkdir()
    (rig.cfg_dir / "default").write_text("DEFAULT local\nLABEL local\n  LOCALBOOT 0\n")
    marker = tmp_path / "pwned"
    hostile = (
        f'../../../../etc/passwd $(touch {marker}) `touch {marker}`; rm -rf / "APPEND x" && echo >{marker}'
    )
    rig.sub("default", "kn[1-2]", args=hostile)
    state = rig.statedir

    def ours(path: Path) -> bool:
        """The tick's own bookkeeping: the store, its locks and temp files, and the action log."""
        return (path.parent == state and path.name != "content") or path == rig.cluster.logfile

    before = tree(rig.cluster.root, ours)
    rig.tick()
    after = tree(rig.cluster.root, ours)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert changed == {f"tftp/pxelinux.cfg/{n}" for i in (1, 2) for n in pxe_names(i)} | {"tools/power.log"}
    assert (rig.cfg_dir / "default").read_text() == "DEFAULT local\nLABEL local\n  LOCALBOOT 0\n"
    res = rig.res("default")
    rig.assert_pxe_exactly([res])  # 5 lines each, APPEND carries the args verbatim
    assert not marker.exists()
    assert sorted(rig.power_log()) == ["off kn1 2", "off kn2 2", "on kn1 2", "on kn2 2"]

    rig.igor("del", "default")
    rig.tick()
    assert rig.pxe_files() == {"default": "DEFAULT local\nLABEL local\n  LOCALBOOT 0\n"}
    assert not marker.exists()


def test_power_template_words_never_reach_a_shell(make_cluster: ClusterFactory, tmp_path: Path) -> None:
    """Shell syntax in a power template is passed as literal words (argv, no shell): `;` runs nothing."""
    marker = tmp_path / "pwned"
    rig = build_rig(make_cluster, network=False, power=False, autoreboot=True)
    script = rig.tooldir / "power.sh"
    cfg = dict(rig.cluster.config)
    cfg["poweroncommand"] = f"{script} on %s ;touch {marker}"
    cfg["poweroffcommand"] = f"{script} off %s | touch {marker}"
    rig.cluster.config_path.write_text(json.dumps(cfg))
    rig.sub("r", "kn1")
    rig.tick()
    assert not marker.exists()
    assert rig.power_log() == ["off kn1 5", "on kn1 4"]  # the extra words arrive as arguments


# ---------------------------------------------------------------------------------------- concurrency


def test_two_ticks_at_once_one_leaves_and_the_store_stays_consistent(
    make_cluster: ClusterFactory, switch: FaultySwitch
) -> None:
    """While one tick is stuck in a slow power cycle a second one leaves at once with a clear message
    (exit 1), and `igor sub` / `igor show` still work because the store lock is not held meanwhile."""
    rig = build_rig(make_cluster, switch=switch, autoreboot=True)
    rig.sub("r1", "kn[1-2]")
    (rig.tooldir / "power.sleep").write_text("2\n")
    first = subprocess.Popen(
        [tick_executable()],
        env=igor_env(rig.cluster.config_path, None),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (rig.tooldir / "power.started").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first tick never reached its power cycle"
            time.sleep(0.02)
        second = rig.tick(check=1)
        assert second.stderr == "igor: another igor-tick is still running; this one leaves the work to it\n"
        assert second.stdout == ""
        rig.sub("r2", "kn[3-4]")  # the store is free while the first tick waits for the power tool
        assert "r2" in rig.igor("show").stdout
        (rig.tooldir / "power.sleep").unlink()
        out, err = first.communicate(timeout=TICK_TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out + err
    assert "4 action(s), 0 failed" in out
    r1 = rig.res("r1")
    assert r1.installed and rig.installs()[r1.id].complete
    assert rig.installs().keys() == {r1.id}  # r2 was booked after the first tick planned
    rig.tick()
    rig.assert_pxe_exactly([rig.res("r1"), rig.res("r2")])
    rig.assert_ports_exactly([rig.res("r1"), rig.res("r2")])
    assert ": 0 action(s), 0 failed" in rig.tick().stdout


def test_temp_file_of_a_killed_pxe_write_is_cleaned_up(make_cluster: ClusterFactory) -> None:
    """The aftermath of a tick killed between mkstemp and rename in pxe._atomic_write, reproduced exactly
    (same name shape, an hour old): later installs and teardowns in pxelinux.cfg must not keep it forever,
    as the store already does for its own temp files (`_remove_stale_temps`).

    Regression (found by test_tick_crash.py): nothing used to remove these.
    """
    rig = build_rig(make_cluster, network=False, power=False)
    rig.cfg_dir.mkdir()
    leftover = rig.cfg_dir / ".7F000301.k9x2_a1b.tmp"  # tempfile.mkstemp(prefix=".7F000301.", suffix=".tmp")
    leftover.write_text(
        "# written by igor for reservation r (igor-1); removed when it ends\nDEFAULT igor-1\n"
    )
    hour_ago = time.time() - 3600
    os.utime(leftover, (hour_ago, hour_ago))
    rig.sub("r", "kn1")
    rig.tick()
    rig.igor("del", "r")
    rig.tick()
    assert rig.pxe_files() == {}


def test_only_admins_and_the_service_account_may_tick(make_cluster: ClusterFactory) -> None:
    rig = build_rig(make_cluster, network=False, power=False)
    rig.sub("r", "kn1")
    proc = run_igor("tick", env=igor_env(rig.cluster.config_path, "alice"), check=1)
    assert proc.stderr == "igor: only admins and the igor service user may run igor-tick\n"
    assert not rig.res("r").installed and rig.pxe_files() == {}


def test_catch_up_after_downtime_is_reported(make_cluster: ClusterFactory) -> None:
    """A tick after 10 minutes of downtime says so, drops what ended meanwhile without ever being
    installed, and installs what is active."""
    rig = build_rig(make_cluster, network=False, power=False)
    rig.tick()
    rig.sub("missed", "kn1")
    rig.sub("late", "kn2")
    now = floor_minute(datetime.now(UTC))
    with rig.store.transaction() as tx:
        # A real clock jump: `missed` ran its course while no tick ran (its end set to this minute),
        # and the last tick is 10 minutes ago.
        missed = next(r for r in tx.reservations() if r.name == "missed")
        tx.put_reservation(replace(missed, start=now - timedelta(minutes=5), end=now))
    # igor-tick keeps the time of its last run in statedir/tick.last (not in the store: an idle tick
    # must not rewrite the whole store every minute)
    (Path(rig.store.directory) / "tick.last").write_text((now - timedelta(minutes=10)).isoformat() + "\n")
    proc = rig.tick()
    # 10 minutes, or 11 if the clock's minute turned since the edit
    assert re.match(r"catching up: the last tick ran 1[01] minutes ago\n", proc.stdout), proc.stdout
    assert "expire    missed: ended before it was installed" in proc.stdout
    assert set(rig.reservations()) == {"late"}
    rig.assert_pxe_exactly([rig.res("late")])


def test_helpers_compute_pxe_names_independently() -> None:
    """The helpers compute pxelinux names independently of igor; pin them so a typo cannot hide a bug."""
    assert pxe_names(1) == ("01-52-54-00-00-03-01", "7F000301")
    assert pxe_names(20) == ("01-52-54-00-00-03-14", "7F000314")
    assert node_ip(64) == "127.0.3.64" and re.fullmatch(r"127\.0\.3\.\d+", node_ip(254))
