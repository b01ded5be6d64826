"""`igor setup --root` into a temporary tree, then `igor doctor` on it, whole and with one thing broken.

Only the `useradd` boundary is replaced (IGOR_SETUP_USERADD points at a script that records its arguments
and adds the user to <root>/etc/passwd); everything else is the real installed `igor`, writing real files
with real owners and modes into the temporary root. Nothing outside that root is touched, and the only
network peer is a DNS stub on 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import run_igor
from test_import_hygiene import PROBE
from test_resolve import DnsServer

from igor_tui.config import load_config

REPO = Path(__file__).resolve().parent.parent
CONTRIB = REPO / "contrib"
UID = 4242
NODES = ("kn1", "kn2", "kn3", "kn4")
FAKE_USERADD = """#!/bin/sh
# useradd stand-in: record the arguments, add the user (uid/gid 4242) to the --root tree's databases.
root=/
prev=
for a in "$@"; do
    if [ "$prev" = --root ]; then root=$a; fi
    prev=$a
    user=$a
done
printf '%s\\n' "$*" >> "$root/useradd.log"
printf '%s:x:4242:4242::/nonexistent:/usr/sbin/nologin\\n' "$user" >> "$root/etc/passwd"
printf '%s:x:4242:\\n' "$user" >> "$root/etc/group"
"""

HAVE_VISUDO = shutil.which("visudo", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
"""Where setup and doctor find visudo with the test environment's PATH (both add the sbin dirs)."""

needs_visudo = pytest.mark.skipif(
    HAVE_VISUDO is None,
    reason="visudo not installed (Debian package sudo): setup refuses the sudo rule without it",
)


def make_root(base: Path) -> Path:
    """An almost empty system tree: a passwd with root, the syslinux files setup copies, and the
    virtualenv's programs (stubs) that `pip install igor-tui` would have put in /usr/local/lib/igor-tui."""
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    pxe = root / "usr/lib/PXELINUX"
    pxe.mkdir(parents=True)
    (pxe / "pxelinux.0").write_bytes(b"fake pxelinux.0\n")
    bios = root / "usr/lib/syslinux/modules/bios"
    bios.mkdir(parents=True)
    (bios / "ldlinux.c32").write_bytes(b"fake ldlinux.c32\n")
    venv_bin = root / "usr/local/lib/igor-tui/bin"
    venv_bin.mkdir(parents=True)
    for program in ("igor", "igor-tick", "igor-tui"):
        (venv_bin / program).write_text("#!/bin/sh\n")
        (venv_bin / program).chmod(0o755)
    return root


def setup_env(base: Path, **extra: str) -> dict[str, str]:
    """No IGOR_CONFIG that exists (setup must not need one), the fake useradd, the real visudo."""
    useradd = base / "useradd"
    if not useradd.exists():
        useradd.write_text(FAKE_USERADD)
        useradd.chmod(0o755)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "IGOR_CONFIG": str(base / "no-such.conf"),
        "IGOR_SETUP_USERADD": str(useradd),
        **extra,
    }


def setup(root: Path, *args: str, check: int | None = 0, **env: str) -> subprocess.CompletedProcess[str]:
    return run_igor(
        "setup", "--root", str(root), "--tftproot", "/srv/tftp", *args,
        env=setup_env(root.parent, **env), check=check,
    )  # fmt: skip


def mode_owner(path: Path) -> tuple[int, int, int]:
    st = path.lstat()
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def tree_state(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every path under root with its mode, owner and mtime: equal before and after means untouched."""
    return {
        str(p.relative_to(root)): (*mode_owner(p), p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))
    }


# ------------------------------------------------------------------------------------------- setup


@needs_visudo
def test_setup_installs_everything_with_owners_modes_and_contents(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    proc = setup(root, "--nodes", "kn[1-4]", "--yes")
    assert "15 change(s) made" in proc.stdout, proc.stdout

    log = (root / "useradd.log").read_text().splitlines()
    assert log == [
        f"--system --user-group --home-dir /var/lib/igor --no-create-home --shell /usr/sbin/nologin "
        f"--root {root} igor"
    ]
    for directory in ("srv/tftp/pxelinux.cfg", "srv/tftp/igor", "srv/tftp/igor/content", "var/log/igor"):
        assert mode_owner(root / directory) == (0o755, UID, UID), directory
    assert mode_owner(root / "var/lib/igor") == (0o755, UID, UID), "private state: only igor writes it"
    assert (root / "srv/tftp").is_dir()

    conf = root / "etc/igor.conf"
    assert mode_owner(conf) == (0o600, UID, UID)
    data = json.loads(conf.read_text())
    assert (data["tftproot"], data["statedir"], data["logfile"]) == (
        "/srv/tftp",
        "/var/lib/igor",
        "/var/log/igor/log",
    )
    assert data["contentdir"] == "/srv/tftp/igor/content"
    assert (data["prefix"], data["start"], data["end"], data["padlen"]) == ("kn", 1, 4, 0)
    assert data["poweroncommand"] == "" and data["hosts"] == {} and data["admins"] == []
    assert data["#tftproot"].startswith("Required."), "the example's comments stay beside their keys"
    load_config(str(conf))  # what setup writes is a valid config

    for name, source in (("pxelinux.0", "usr/lib/PXELINUX/pxelinux.0"),
                         ("ldlinux.c32", "usr/lib/syslinux/modules/bios/ldlinux.c32")):  # fmt: skip
        assert (root / "srv/tftp" / name).read_bytes() == (root / source).read_bytes()
        assert mode_owner(root / "srv/tftp" / name) == (0o644, 0, 0)

    cron = root / "etc/cron.d/igor"
    assert cron.read_text() == (CONTRIB / "igor.cron").read_text()
    assert "* * * * * igor /usr/local/bin/igor-tick --quiet" in cron.read_text()
    assert mode_owner(cron) == (0o644, 0, 0)
    sudoers = root / "etc/sudoers.d/igor"
    assert sudoers.read_text() == (CONTRIB / "igor.sudoers").read_text()
    assert mode_owner(sudoers) == (0o440, 0, 0)
    assert not list((root / "etc/sudoers.d").glob(".*")), "no temp file left where sudo could read it"
    for wrapper in ("usr/local/bin/igor", "usr/local/bin/igor-tui"):
        assert (root / wrapper).read_text() == (CONTRIB / "igor-wrapper.sh").read_text()
        assert mode_owner(root / wrapper) == (0o755, 0, 0)
    assert os.readlink(root / "usr/local/bin/igor-tick") == "/usr/local/lib/igor-tui/bin/igor-tick"


@needs_visudo
def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    setup(root, "--yes")
    before = tree_state(root)
    proc = setup(root, "--yes")
    assert "Nothing to change: 15 of 15 steps already in place." in proc.stdout
    assert "todo" not in proc.stdout and "made" not in proc.stdout
    assert "differs" not in proc.stdout, "its own config must not show up as a difference"
    assert tree_state(root) == before
    assert len((root / "useradd.log").read_text().splitlines()) == 1


def test_without_a_terminal_or_yes_it_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = tree_state(root)
    # A visudo stand-in, so the plan has its sudo-rule step with or without sudo installed; a plan that
    # is only printed never runs it.
    proc = setup(root, check=1, IGOR_SETUP_VISUDO="/bin/false")
    assert "todo    service user igor: useradd --system" in proc.stdout
    assert "todo    directory /srv/tftp/pxelinux.cfg, owner igor:igor, mode 0755" in proc.stdout
    assert proc.stderr == (
        "igor: setup: nothing changed: there is no terminal to confirm on; run again with --yes to make "
        "these 15 change(s)\n"
    )
    assert tree_state(root) == before


@needs_visudo
def test_an_existing_config_is_kept_and_its_difference_shown_without_secrets(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    mine = '{\n  "tftproot": "/tftpboot",\n  "networkpassword": "s3cret-pw"\n}\n'
    (root / "etc/igor.conf").write_text(mine)
    proc = setup(root, "--yes")
    assert (root / "etc/igor.conf").read_text() == mine
    assert "config /etc/igor.conf: exists, kept as it is" in proc.stdout
    assert '-  "tftproot": "/tftpboot",' in proc.stdout
    assert '+  "tftproot": "/srv/tftp",' in proc.stdout
    assert "s3cret-pw" not in proc.stdout
    assert '"networkpassword": "<hidden>"' in proc.stdout


@needs_visudo
def test_systemd_timer_another_user_and_prefix(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "opt/igor/lib/igor-tui/bin").mkdir(parents=True)
    setup(root, "--timer", "systemd", "--user", "resv", "--prefix", "/opt/igor", "--yes")
    units = root / "etc/systemd/system"
    service = (units / "igor-tick.service").read_text()
    assert "User=resv\nGroup=resv\n" in service
    assert "ExecStart=/opt/igor/bin/igor-tick --quiet" in service
    assert (units / "igor-tick.timer").read_text() == (CONTRIB / "igor-tick.timer").read_text()
    assert os.readlink(units / "timers.target.wants/igor-tick.timer") == "/etc/systemd/system/igor-tick.timer"
    assert not (root / "etc/cron.d/igor").exists()
    sudoers = (root / "etc/sudoers.d/igor").read_text()
    assert (
        "ALL ALL=(resv) NOPASSWD: /opt/igor/lib/igor-tui/bin/igor, /opt/igor/lib/igor-tui/bin/igor-tui"
        in sudoers
    )
    wrapper = (root / "opt/igor/bin/igor").read_text()
    assert 'exec sudo -u resv "$real" "$@"' in wrapper
    assert "real=/opt/igor/lib/igor-tui/bin/igor ;;" in wrapper
    assert '[ "$(id -un)" = resv ]' in wrapper
    assert (root / "useradd.log").read_text().split()[-1] == "resv"
    assert setup(root, "--timer", "systemd", "--user", "resv", "--prefix", "/opt/igor").returncode == 0


def test_without_visudo_the_sudo_rule_is_refused_and_the_rest_installed(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    proc = setup(root, "--yes", check=1, IGOR_SETUP_VISUDO=str(tmp_path / "no-visudo"))
    assert "CANNOT  file /etc/sudoers.d/igor" in proc.stdout
    assert "visudo not found (Debian package sudo)" in proc.stdout
    assert "1 step(s) could not be taken" in proc.stdout
    assert not (root / "etc/sudoers.d/igor").exists()
    assert (root / "etc/cron.d/igor").exists() and (root / "usr/local/bin/igor").exists()


def test_a_sudo_rule_visudo_rejects_never_goes_live(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    rejecting = tmp_path / "visudo"
    rejecting.write_text('#!/bin/sh\necho "$3: syntax error near line 7" >&2\nexit 1\n')
    rejecting.chmod(0o755)
    proc = setup(root, "--yes", check=1, IGOR_SETUP_VISUDO=str(rejecting))
    assert proc.stderr.startswith("igor: setup: visudo rejects the sudo rule: ")
    assert len(proc.stderr.splitlines()) == 1
    assert not (root / "etc/sudoers.d/igor").exists()
    assert not list((root / "etc/sudoers.d").iterdir()), "the rejected temp file is removed"


def old_layout(root: Path) -> dict[str, bytes]:
    """An install made before statedir left the TFTP root: the config names <tftproot>/igor and the store,
    its lock and igor-tick's state are there, beside the content copies."""
    setup(root, "--yes")
    conf = root / "etc/igor.conf"
    data = json.loads(conf.read_text())
    data.pop("contentdir")
    data["statedir"] = "/srv/tftp/igor"
    conf.write_text(json.dumps(data, indent=2) + "\n")
    old = root / "srv/tftp/igor"
    files = {
        "igor.json": b'{"meta": {"1": {"schema_version": 1, "next_id": 2, "next_block_id": 1}}}',
        "igor.lock": b"",
        "tick.last": b"2026-12-01T10:00:00+00:00\n",
        "archive.jsonl": b"",
    }
    for name, data_bytes in files.items():
        (old / name).write_bytes(data_bytes)
        os.chown(old / name, UID, UID)
    (old / "content" / ("a" * 64)).write_bytes(b"kernel")
    return files


@needs_visudo
def test_setup_moves_the_store_out_of_the_tftp_root_once(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    files = old_layout(root)
    dry = setup(root, check=1)
    assert "todo    move the store and igor-tick's state from /srv/tftp/igor to /var/lib/igor" in dry.stdout
    assert "todo    config /etc/igor.conf: statedir /srv/tftp/igor -> /var/lib/igor" in dry.stdout
    assert (root / "srv/tftp/igor/igor.json").exists(), "a dry run moves nothing"
    # Until setup has run, igor refuses to start a second, empty store in the new place.
    env = {**setup_env(tmp_path), "IGOR_CONFIG": str(root / "etc/igor.conf")}
    conf = json.loads((root / "etc/igor.conf").read_text())
    conf["tftproot"] = str(root / "srv/tftp")
    conf["statedir"] = str(root / "var/lib/igor")
    (tmp_path / "rooted.conf").write_text(json.dumps(conf))
    refused = run_igor("show", env={**env, "IGOR_CONFIG": str(tmp_path / "rooted.conf")}, check=1)
    assert refused.stderr == (
        f"igor: the igor store is still at {root}/srv/tftp/igor/igor.json, inside the TFTP root; run "
        f"'igor setup' as root to move it to {root}/var/lib/igor\n"
    )
    assert not (root / "var/lib/igor/igor.json").exists()

    proc = setup(root, "--yes")
    assert "made    move the store and igor-tick's state from /srv/tftp/igor to /var/lib/igor" in proc.stdout
    for name, content in files.items():
        assert (root / "var/lib/igor" / name).read_bytes() == content, name
        assert mode_owner(root / "var/lib/igor" / name)[1:] == (UID, UID), name
        assert not (root / "srv/tftp/igor" / name).exists(), name
    assert (root / "srv/tftp/igor/content" / ("a" * 64)).read_bytes() == b"kernel", "copies stay served"
    data = json.loads((root / "etc/igor.conf").read_text())
    assert data["statedir"] == "/var/lib/igor"
    assert mode_owner(root / "etc/igor.conf") == (0o600, UID, UID)
    load_config(str(root / "etc/igor.conf"))
    assert run_igor("show", env={**env, "IGOR_CONFIG": str(tmp_path / "rooted.conf")}).returncode == 0

    before = tree_state(root)
    again = setup(root, "--yes")
    assert "Nothing to change" in again.stdout and "move the store" not in again.stdout
    assert tree_state(root) == before


@needs_visudo
def test_setup_never_moves_a_store_over_another(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    files = old_layout(root)
    (root / "var/lib/igor/igor.json").write_bytes(b"{}")
    proc = setup(root, "--yes", check=1)
    assert "both /srv/tftp/igor/igor.json and /var/lib/igor/igor.json exist" in proc.stdout
    assert (root / "var/lib/igor/igor.json").read_bytes() == b"{}"
    assert (root / "srv/tftp/igor/igor.json").read_bytes() == files["igor.json"]


@needs_visudo
def test_cobbler_install_has_no_pxelinux(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    setup(root, "--cobbler", "--cobbler-profile", "centos9", "--yes")
    data = json.loads((root / "etc/igor.conf").read_text())
    assert data["usecobbler"] is True and data["cobblerdefaultprofile"] == "centos9"
    assert not (root / "srv/tftp/pxelinux.cfg").exists()
    assert not (root / "srv/tftp/pxelinux.0").exists()
    assert mode_owner(root / "srv/tftp/igor") == (0o755, UID, UID)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cobbler",), "setup: --cobbler needs --cobbler-profile PROFILE"),
        (("--timer", "anacron"), "argument --timer: invalid choice"),
        (("--nodes", "kn1-4"), "setup: --nodes 'kn1-4': expected PREFIX[FIRST-LAST]"),
        (("--user", "Bad User"), "setup: --user 'Bad User' is not a valid user name"),
    ],
)
def test_bad_answers_are_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    root = make_root(tmp_path)
    proc = setup(root, *args, "--yes", check=2)
    assert proc.stderr.startswith("igor: ") and message in proc.stderr, proc.stderr
    assert not (root / "useradd.log").exists()


def test_setup_refuses_a_pip_installed_igor_in_the_prefix(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/igor").write_text("#!/usr/bin/python3\nfrom igor_tui.cli import main\n")
    proc = setup(root, "--yes", check=1, IGOR_SETUP_VISUDO=str(tmp_path / "no-visudo"))
    assert "/usr/local/bin/igor exists and is not igor's wrapper" in proc.stdout
    assert "from igor_tui.cli" in (root / "usr/local/bin/igor").read_text()


# ------------------------------------------------------------------------------------------ doctor


def edit_config(root: Path, **changes: Any) -> None:
    """Change keys the way an admin would, keeping the file's owner and mode."""
    conf = root / "etc/igor.conf"
    data = json.loads(conf.read_text())
    data.update(changes)
    with conf.open("w") as handle:
        handle.write(json.dumps(data, indent=2) + "\n")


def write_tick_last(root: Path, minutes_ago: int) -> None:
    when = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    (root / STATE / "tick.last").write_text(when.isoformat() + "\n")


HOSTS = {f"kn{i}": {"ip": f"127.0.1.{i}", "mac": f"52:54:00:00:01:0{i}"} for i in range(1, 5)}


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A root after `igor setup`, with the admin's follow-up done: node addresses, a default boot
    config, and a tick that ran a minute ago."""
    root = make_root(tmp_path)
    setup(root, "--nodes", "kn[1-4]", "--yes", IGOR_SETUP_VISUDO="/bin/true")
    edit_config(root, hosts=HOSTS)
    (root / "srv/tftp/pxelinux.cfg/default").write_text("DEFAULT local\nLABEL local\n  LOCALBOOT 0\n")
    move_state_out_of_tftp(root)
    write_tick_last(root, 1)
    return root


STATE = "var/lib/igor"
"""Where `installed` keeps the store: outside the TFTP root, as the security model requires."""


def move_state_out_of_tftp(root: Path) -> None:
    """The store out of the TFTP root (owner and mode kept), unless setup already put it elsewhere."""
    statedir = json.loads((root / "etc/igor.conf").read_text())["statedir"]
    if statedir.startswith("/srv/tftp/"):
        (root / STATE).parent.mkdir(parents=True, exist_ok=True)
        os.rename(root / statedir.lstrip("/"), root / STATE)
        edit_config(root, statedir="/" + STATE)


def doctor(root: Path, *args: str, check: int | None = None) -> dict[str, Any]:
    proc = run_igor("doctor", "--root", str(root), "--json", *args, env=setup_env(root.parent), check=check)
    assert proc.stderr == "" and "Traceback" not in proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == (0 if result["ok"] else 1)
    return result


def failures(result: dict[str, Any]) -> list[dict[str, str]]:
    return [c for c in result["checks"] if c["status"] == "fail"]


def test_doctor_passes_on_a_fresh_install(installed: Path) -> None:
    result = doctor(installed, check=0)
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    # visudo checks the rule where it is installed; without it (no sudo package) doctor can only warn.
    # The check is absent when the rule is unreadable (root-only): the admin's run does it.
    assert statuses.pop("sudo", None) in (None, "ok" if HAVE_VISUDO else "warn"), result
    assert set(statuses.values()) == {"ok"}, result
    expected = {"user", "config", "config-mode", "programs", "deployment", "directories", "pxelinux", "nodes"}
    expected |= {"power", "store", "lock", "tick", "sudo-rule", "store-location", "tftp-secrets"}
    assert set(statuses) == expected  # "sudo" was popped above


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    server = DnsServer(a={"kn1": "127.0.1.1"})  # knows one node; every other name is NXDOMAIN
    yield server
    server.close()


def _config_0644(root: Path, dns: DnsServer) -> None:
    (root / "etc/igor.conf").chmod(0o644)


def _no_pxelinux(root: Path, dns: DnsServer) -> None:
    (root / "srv/tftp/pxelinux.0").unlink()


def _unresolvable_node(root: Path, dns: DnsServer) -> None:
    hosts = {name: addr for name, addr in HOSTS.items() if name not in ("kn1", "kn4")}
    edit_config(root, hosts=hosts, dnsserver=dns.address)


def _pxelinux_cfg_root_owned(root: Path, dns: DnsServer) -> None:
    os.chown(root / "srv/tftp/pxelinux.cfg", 0, 0)  # classic setup.sh's gap


def _stale_tick(root: Path, dns: DnsServer) -> None:
    write_tick_last(root, 10)


@pytest.mark.parametrize(
    ("breakage", "name", "message", "fix"),
    [
        (_config_0644, "config-mode", "mode 0644: others can read it", "chmod 600 {root}/etc/igor.conf"),
        (_no_pxelinux, "pxelinux", "pxelinux.0 missing from {root}/srv/tftp",
         "apt-get install pxelinux syslinux-common && cp /usr/lib/PXELINUX/pxelinux.0 {root}/srv/tftp/"),
        (_unresolvable_node, "nodes", "no address for kn4: not in hosts and not in DNS",
         'add them to "hosts" in {root}/etc/igor.conf'),
        (_pxelinux_cfg_root_owned, "directories", "{root}/srv/tftp/pxelinux.cfg is owned by root (mode 0755)",
         "chown igor: {root}/srv/tftp/pxelinux.cfg && chmod u+rwx {root}/srv/tftp/pxelinux.cfg"),
        (_stale_tick, "tick", "igor-tick last ran 10 minutes ago", "run 'igor-tick' by hand to see errors"),
    ],
)  # fmt: skip
def test_doctor_reports_exactly_what_is_broken_and_the_fix(
    installed: Path,
    dns: DnsServer,
    breakage: Callable[[Path, DnsServer], None],
    name: str,
    message: str,
    fix: str,
) -> None:
    breakage(installed, dns)
    result = doctor(installed, check=1)
    (failed,) = failures(result)
    assert failed["name"] == name
    assert message.format(root=installed) in failed["message"], failed
    assert fix.format(root=installed) in failed["fix"], failed

    text = run_igor("doctor", "--root", str(installed), env=setup_env(installed.parent), check=1).stdout
    assert f"FAIL  {name}" in text
    assert f"fix: {fix.format(root=installed)}" in text
    assert text.endswith("1 failure(s)\n")


def test_doctor_without_a_config_says_how_to_get_one(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    result = doctor(root, check=1)
    names = [c["name"] for c in failures(result)]
    assert names == ["user", "config", "deployment"]
    config = next(c for c in result["checks"] if c["name"] == "config")
    assert config["message"] == f"{root}/etc/igor.conf does not exist"
    assert "igor setup --tftproot DIR" in config["fix"]


def test_doctor_reports_an_invalid_config_with_every_problem(installed: Path) -> None:
    edit_config(installed, end=0, rackwidth=0)
    (failed,) = failures(doctor(installed, check=1))
    assert failed["name"] == "config"
    assert "end: 0 is less than start 1" in failed["message"]
    assert "rackwidth: 0 is not positive" in failed["message"]


def test_doctor_finds_a_stuck_store_lock(installed: Path) -> None:
    lock = installed / STATE / "igor.lock"
    lock.touch()
    with lock.open() as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        (failed,) = failures(doctor(installed, check=1))
    assert failed["name"] == "lock"
    assert f"fuser -v {lock}" in failed["fix"]


def test_doctor_checks_power_commands_are_executable(installed: Path) -> None:
    tool = installed / "usr/local/sbin/powerbot"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    edit_config(installed, poweroncommand="/usr/local/sbin/powerbot on %s", poweroffcommand="pdu-off %s")
    (failed,) = failures(doctor(installed, check=1))
    assert failed["name"] == "power"
    assert failed["message"] == "poweroffcommand: pdu-off is not an executable file"


def test_doctor_asks_cobbler_for_the_default_profile(installed: Path, tmp_path: Path) -> None:
    cobbler = tmp_path / "cobbler"
    cobbler.write_text('#!/bin/sh\n[ "$1 $2" = "profile list" ] && printf "  centos9\\n  debian12\\n"\n')
    cobbler.chmod(0o755)
    edit_config(installed, usecobbler=True, cobblerdefaultprofile="debian12", cobblercommand=str(cobbler))
    checks = {c["name"]: c for c in doctor(installed, check=0)["checks"]}
    assert checks["cobbler"]["status"] == "ok"
    assert "pxelinux" not in checks, "plain-PXE files are not needed with Cobbler"
    edit_config(installed, cobblerdefaultprofile="rocky9")
    (failed,) = failures(doctor(installed, check=1))
    assert failed["name"] == "cobbler"
    assert "Cobbler has no profile 'rocky9'" in failed["message"]


def test_doctor_reports_reservations_the_tick_could_not_install(installed: Path) -> None:
    from igor_tui.model import Reservation
    from igor_tui.store import TinyStore

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store = TinyStore(installed / STATE)
    hour = timedelta(hours=1)
    failed_install = Reservation(
        id=0,
        name="demo",
        owner="alice",
        start=now,
        end=now + hour,
        nodes=("kn1",),
        error="kn1: no MAC or IP known",
    )
    with store.transaction() as tx:
        tx.add_reservation(failed_install)
    (failed,) = failures(doctor(installed, check=1))
    assert failed["name"] == "tick-errors"
    assert "demo: kn1: no MAC or IP known" in failed["message"]


def test_doctor_loads_no_heavy_library(installed: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "doctor", "--root", str(installed)],
        env=setup_env(installed.parent),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, result["err"]
    assert result["heavy"] == []


def test_doctor_fails_a_store_inside_the_tftp_root(tmp_path: Path) -> None:
    """setup's layout before the store moved out: the TFTP server would hand out the store and locks."""
    root = make_root(tmp_path)
    setup(root, "--nodes", "kn[1-4]", "--yes", IGOR_SETUP_VISUDO="/bin/true")
    edit_config(root, hosts=HOSTS, statedir="/srv/tftp/igor")
    (root / "srv/tftp/pxelinux.cfg/default").write_text("DEFAULT local\nLABEL local\n  LOCALBOOT 0\n")
    (root / "srv/tftp/igor").mkdir(exist_ok=True)
    when = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    (root / "srv/tftp/igor/tick.last").write_text(when.isoformat() + "\n")
    result = doctor(root, check=1)
    failed = {c["name"]: c for c in failures(result)}
    assert set(failed) >= {"store-location", "tftp-secrets"}, result
    assert failed["store-location"]["message"].startswith(
        "statedir /srv/tftp/igor is inside the TFTP root /srv/tftp: anyone on the boot network can fetch"
    )
    assert f"{root}/srv/tftp/igor/tick.last" in failed["tftp-secrets"]["message"]


def test_doctor_reports_each_unsafe_setting(installed: Path) -> None:
    """A deliberately unsafe install: a sudo rule that hands out more than igor, a secret on TFTP, a config
    another account owns. Each is its own failure, naming what is wrong."""
    sudoers = installed / "etc/sudoers.d/igor"
    sudoers.write_text(
        sudoers.read_text()
        + "alice ALL=(root) NOPASSWD: /bin/sh\n"
        + "ALL ALL=(igor) SETENV: NOPASSWD: /usr/local/lib/igor-tui/bin/igor\n"
        + "Defaults!/usr/local/lib/igor-tui/bin/igor !env_reset\n"
    )
    leaked = installed / "srv/tftp/igor.conf.bak"
    leaked.write_bytes((installed / "etc/igor.conf").read_bytes())
    leaked.chmod(0o600)
    os.chown(installed / "etc/igor.conf", 0, 0)
    result = doctor(installed, check=1)
    failed = {c["name"]: c["message"] for c in failures(result)}
    assert set(failed) == {"sudo-rule", "tftp-secrets", "config-mode"}, result
    rule = failed["sudo-rule"]
    assert "'alice ALL=(root) NOPASSWD: /bin/sh' runs commands as (root), not as igor alone" in rule
    assert "allows '/bin/sh', which is not one of igor's programs" in rule
    assert "uses SETENV: (SETENV lets a caller set PYTHONPATH for igor)" in rule
    assert "'Defaults!/usr/local/lib/igor-tui/bin/igor !env_reset' changes sudo's defaults" in rule
    assert f"{leaked} (mode 0600)" in failed["tftp-secrets"]
    assert "owned by root, not igor" in failed["config-mode"]


def test_the_shipped_sudo_rule_passes_the_content_check() -> None:
    from igor_tui.install.deploy import render_contrib
    from igor_tui.install.doctor_security import sudoers_problems

    for user, prefix in (("igor", "/usr/local"), ("svc", "/opt")):
        assert sudoers_problems(render_contrib("igor.sudoers", user=user, prefix=prefix), user, prefix) == []
