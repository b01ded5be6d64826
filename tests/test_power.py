"""Power backends against real peers: a power script written by the test, and an SSH server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
import pytest
from ssh_server import SshTestServer

from igor_tui.backends.base import PowerBackend
from igor_tui.backends.power import CommandPower, SshPower, template_argv
from igor_tui.errors import BackendError

# ----------------------------------------------------------------------------------------- the power script

# A stand-in for a site's `powerbot`: logs every call (argv, start/end, monotonic time) as JSON lines and
# keeps a concurrency counter under an flock; behaviour.json next to it says which nodes fail, hang, etc.
POWERBOT = """#!{python} -IS
import fcntl, json, os, signal, subprocess, sys, time

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "behaviour.json")) as f:
    cfg = json.load(f)
args = sys.argv[1:]
node = args[-1] if args else ""


def locked(update):
    with open(os.path.join(here, "state.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(here, "state.json")
        state = json.load(open(path)) if os.path.exists(path) else {{"active": 0, "max": 0, "attempts": {{}}}}
        result = update(state)
        with open(path, "w") as f:
            json.dump(state, f)
        return result


def log(event, **extra):
    with open(os.path.join(here, "calls.log"), "a") as f:
        f.write(json.dumps({{"t": time.monotonic(), "event": event, "argv": args, **extra}}) + "\\n")


def start(state):
    state["attempts"][node] = state["attempts"].get(node, 0) + 1
    state["active"] += 1
    state["max"] = max(state["max"], state["active"])
    log("start")
    return state["attempts"][node]


attempt = locked(start)
barrier = cfg.get("barrier", 0)
deadline = time.monotonic() + 20
while barrier and time.monotonic() < deadline and locked(lambda s: s["max"]) < barrier:
    time.sleep(0.005)
if node in cfg.get("hang", []):
    child = subprocess.Popen(["sleep", "60"])
    log("hang", child=child.pid)
    time.sleep(60)


def end(state):
    state["active"] -= 1
    log("end")


locked(end)
if node in cfg.get("signal", {{}}):
    os.kill(os.getpid(), cfg["signal"][node])
fail = cfg.get("fail", {{}}).get(node)
if fail and attempt <= fail.get("times", 1000):
    sys.stderr.write(fail.get("stderr", ""))
    sys.exit(fail["status"])
"""


@dataclass
class Bot:
    """The power script, its directory, and readers for what it recorded."""

    path: Path
    dir: Path

    def behave(self, **cfg: Any) -> None:
        (self.dir / "behaviour.json").write_text(json.dumps(cfg))

    def events(self, kind: str = "start") -> list[dict[str, Any]]:
        log = self.dir / "calls.log"
        if not log.exists():
            return []
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        return [row for row in rows if row["event"] == kind]

    def calls(self) -> list[tuple[str, ...]]:
        return [tuple(row["argv"]) for row in self.events("start")]

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.dir / "state.json").read_text())
        return result

    def template(self, rest: str) -> str:
        return f"{shlex.quote(str(self.path))} {rest}"


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    directory = tmp_path / "bot"
    directory.mkdir()
    path = directory / "powerbot"
    path.write_text(POWERBOT.format(python=sys.executable))
    path.chmod(0o755)
    made = Bot(path, directory)
    made.behave()
    return made


def command_power(bot: Bot, **kwargs: Any) -> CommandPower:
    kwargs.setdefault("cycle_delay", 0.0)
    kwargs.setdefault("retry_delay", 0.01)
    return CommandPower(bot.template("on %s"), bot.template("off %s"), **kwargs)


def error_of(backend: PowerBackend, nodes: list[str], action: Any) -> str:
    with pytest.raises(BackendError) as caught:
        backend.power(nodes, action)
    return str(caught.value)


NODES = [f"kn{i}" for i in range(1, 9)]

# ----------------------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("template", "argv"),
    [
        ("powerbot on %s", ["powerbot", "on", "kn1"]),
        ("/usr/local/bin/pdu --outlet %s off", ["/usr/local/bin/pdu", "--outlet", "kn1", "off"]),
        ('pdu --label "outlet %s" off', ["pdu", "--label", "outlet kn1", "off"]),
        ("ipmi --host=%s-bmc power on", ["ipmi", "--host=kn1-bmc", "power", "on"]),
        ("pdu  on   %s", ["pdu", "on", "kn1"]),  # classic split on single spaces: empty argv elements
        ("curl http://pdu/a%20b/%s", ["curl", "http://pdu/a%20b/kn1"]),  # only %s is special
    ],
)
def test_template_argv_splits_the_template_then_substitutes(template: str, argv: list[str]) -> None:
    assert template_argv(template, "kn1") == argv


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("powerbot on", "exactly one %s"),  # the classic README example
        ("pdu %s %s", "exactly one %s"),
        ('pdu "on %s', "cannot be split"),
        ("   ", "is empty"),
    ],
)
def test_template_argv_rejects_unusable_templates(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        template_argv(template, "kn1")


def test_node_name_is_always_one_argument() -> None:
    hostile = "kn1;rm -rf / --force"
    assert template_argv("pdu on %s", hostile) == ["pdu", "on", hostile]


# ----------------------------------------------------------------------------------------- CommandPower


def test_command_power_is_a_power_backend(bot: Bot) -> None:
    backend: PowerBackend = command_power(bot)
    assert isinstance(backend, CommandPower)


def test_on_runs_the_on_template_once_per_node(bot: Bot) -> None:
    command_power(bot).power(["kn1", "kn2", "kn3"], "on")
    assert sorted(bot.calls()) == [("on", "kn1"), ("on", "kn2"), ("on", "kn3")]


def test_off_runs_the_off_template(bot: Bot) -> None:
    command_power(bot).power(["kn4", "kn5"], "off")
    assert sorted(bot.calls()) == [("off", "kn4"), ("off", "kn5")]


def test_duplicate_nodes_run_once_and_no_nodes_run_nothing(bot: Bot) -> None:
    power = command_power(bot)
    power.power([], "cycle")
    assert bot.calls() == []
    power.power(["kn1", "kn1", "kn2"], "on")
    assert sorted(bot.calls()) == [("on", "kn1"), ("on", "kn2")]


def test_unlimited_concurrency_runs_every_node_at_once(bot: Bot) -> None:
    """Each call waits until all 8 have started, which only completes if they really run together."""
    bot.behave(barrier=8)
    command_power(bot, concurrency=0).power(NODES, "on")
    assert len(bot.calls()) == 8
    assert bot.state()["max"] == 8


def test_concurrency_limit_is_respected_and_used(bot: Bot) -> None:
    bot.behave(barrier=3)
    command_power(bot, concurrency=3).power([f"kn{i}" for i in range(1, 11)], "on")
    assert len(bot.calls()) == 10
    assert bot.state()["max"] == 3


def test_retries_until_success(bot: Bot) -> None:
    bot.behave(fail={"kn2": {"status": 1, "times": 2}})
    command_power(bot, retries=2).power(["kn1", "kn2", "kn3"], "on")
    assert bot.state()["attempts"] == {"kn1": 1, "kn2": 3, "kn3": 1}


def test_retries_exhausted_reports_the_node(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.behave(fail={"kn2": {"status": 3, "stderr": "busy\n"}})
    message = error_of(command_power(bot, retries=1), ["kn1", "kn2"], "on")
    assert message == f"power on failed on kn2 ({shlex.quote(str(bot.path))} on kn2: exit 3: busy)"
    assert bot.state()["attempts"] == {"kn1": 1, "kn2": 2}
    assert "power on attempt 1/2 on kn2 failed" in caplog.text


def test_every_failed_node_is_listed_with_command_and_status(bot: Bot) -> None:
    bot.behave(fail={"kn7": {"status": 4}, "kn3": {"status": 1, "stderr": "\noutlet jammed\nsecond line\n"}})
    message = error_of(command_power(bot), NODES, "off")
    exe = shlex.quote(str(bot.path))
    assert message == (
        f"power off failed on kn3 ({exe} off kn3: exit 1: outlet jammed), kn7 ({exe} off kn7: exit 4)"
    )
    assert len(bot.calls()) == 8  # one failure does not stop the others


def test_cycle_switches_all_off_then_waits_then_all_on(bot: Bot) -> None:
    command_power(bot, cycle_delay=0.2).power(NODES, "cycle")
    rows = [json.loads(line) for line in (bot.dir / "calls.log").read_text().splitlines()]
    offs = [i for i, row in enumerate(rows) if row["argv"][0] == "off"]
    ons = [i for i, row in enumerate(rows) if row["argv"][0] == "on"]
    assert len(offs) == len(ons) == 16  # a start and an end per node
    assert max(offs) < min(ons)
    last_off_end = max(row["t"] for row in rows if row["argv"][0] == "off")
    first_on_start = min(row["t"] for row in rows if row["argv"][0] == "on")
    assert first_on_start - last_off_end >= 0.2  # the delay is a lower bound: sleep never returns early
    assert sorted(bot.calls()) == sorted([("off", n) for n in NODES] + [("on", n) for n in NODES])


def test_cycle_stops_when_a_node_fails_to_switch_off(bot: Bot) -> None:
    bot.behave(fail={"kn2": {"status": 1}})
    message = error_of(command_power(bot), ["kn1", "kn2", "kn3"], "cycle")
    assert message.startswith("power off failed on kn2 (")
    assert message.endswith("; power cycle stopped, no node was switched back on")
    assert all(call[0] == "off" for call in bot.calls())


def test_timeout_is_reported_and_kills_the_whole_command(bot: Bot) -> None:
    bot.behave(hang=["kn2"])
    message = error_of(command_power(bot, timeout=0.5), ["kn1", "kn2", "kn3"], "on")
    assert message == f"power on failed on kn2 ({shlex.quote(str(bot.path))} on kn2: timed out after 0.5s)"
    assert sorted(bot.calls()) == [("on", "kn1"), ("on", "kn2"), ("on", "kn3")]
    child = bot.events("hang")[0]["child"]
    assert wait_until_gone(child), f"the hung command's child {child} survived the timeout"


def wait_until_gone(pid: int) -> bool:
    """True once `pid` has exited (gone, or a zombie waiting for init to reap it)."""
    for _ in range(500):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return True
        if fields[0] in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False


def test_missing_executable_is_reported_and_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-pdu"
    power = CommandPower(f"{missing} on %s", f"{missing} off %s", retries=3, retry_delay=5.0)
    assert error_of(power, ["kn1"], "on") == f"power on failed on kn1 ({missing} on kn1: not found)"
    assert caplog.text.count("attempt") == 1  # no retry, so no 15 s of pointless sleeping


def test_non_executable_is_reported(bot: Bot) -> None:
    bot.path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.access(bot.path, os.X_OK):
        pytest.skip("this user can execute a file without any x bit")
    message = error_of(command_power(bot), ["kn1"], "on")
    assert message.endswith("on kn1: not executable (permission denied))")


def test_killed_command_is_reported_with_its_signal(bot: Bot) -> None:
    bot.behave(signal={"kn1": 15})
    message = error_of(command_power(bot), ["kn1"], "off")
    assert message.endswith("off kn1: killed by SIGTERM)")


@pytest.mark.parametrize(
    "node",
    ["kn1;rm -rf /", "$(touch {tmp}/pwned)", "`touch {tmp}/pwned`", "kn1 --all", "kn1\nkn2", "-rf"],
)
def test_hostile_node_names_stay_one_argument(bot: Bot, tmp_path: Path, node: str) -> None:
    node = node.format(tmp=tmp_path)
    command_power(bot).power([node], "on")
    assert bot.calls() == [("on", node)]
    assert not (tmp_path / "pwned").exists()


def test_hostile_template_cannot_run_a_second_command(bot: Bot, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    template = bot.template(f"on %s; touch {pwned} && touch {pwned}")
    CommandPower(template, template).power(["kn1"], "on")
    assert bot.calls() == [("on", "kn1;", "touch", str(pwned), "&&", "touch", str(pwned))]
    assert not pwned.exists()


def test_quoted_template_arguments_survive(bot: Bot) -> None:
    template = bot.template('--label "outlet %s" --really=yes on')
    CommandPower(template, template).power(["kn9"], "on")
    assert bot.calls() == [("--label", "outlet kn9", "--really=yes", "on")]


def test_empty_template_means_power_is_not_configured(bot: Bot) -> None:
    assert (
        error_of(CommandPower("", ""), ["kn1"], "on") == "power is not configured (poweroncommand is empty)"
    )
    assert error_of(CommandPower("x %s", " "), ["kn1"], "off") == (
        "power is not configured (poweroffcommand is empty)"
    )


def test_cycle_without_an_on_template_switches_nothing_off(bot: Bot) -> None:
    power = CommandPower("", bot.template("off %s"))
    assert error_of(power, ["kn1"], "cycle") == "power is not configured (poweroncommand is empty)"
    assert bot.calls() == []


def test_template_without_placeholder_is_refused(bot: Bot) -> None:
    power = CommandPower(bot.template("on"), bot.template("off %s"))
    message = error_of(power, ["kn1"], "on")
    assert message.startswith("power on is misconfigured: poweroncommand ")
    assert "must contain exactly one %s" in message
    assert bot.calls() == []


def test_unknown_action_is_refused(bot: Bot) -> None:
    assert "unknown power action 'reboot'" in error_of(command_power(bot), ["kn1"], "reboot")
    assert bot.calls() == []


# ----------------------------------------------------------------------------------------- SshPower

PASSWORD = "pa55-W0rd-never-shown"


@pytest.fixture
def client_key() -> paramiko.ECDSAKey:
    return paramiko.ECDSAKey.generate()


@pytest.fixture
def server(client_key: paramiko.ECDSAKey) -> Iterator[SshTestServer]:
    with SshTestServer(username="igor", password=PASSWORD, authorized_keys=[client_key]) as running:
        yield running


@pytest.fixture
def known_hosts(server: SshTestServer, tmp_path: Path) -> Path:
    return server.write_known_hosts(tmp_path / "known_hosts")


def ssh_power(server: SshTestServer, known_hosts: Path, **kwargs: Any) -> SshPower:
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("cycle_delay", 0.0)
    kwargs.setdefault("retry_delay", 0.01)
    kwargs.setdefault("timeout", 10.0)
    return SshPower(
        server.host,
        "pdu on %s",
        "pdu off %s",
        port=server.port,
        username="igor",
        known_hosts=str(known_hosts),
        **kwargs,
    )


def shown(server: SshTestServer, remote: str) -> str:
    """How an error shows a remote command: the ssh command line that reproduces it."""
    return shlex.join(["ssh", "-p", str(server.port), f"igor@{server.host}", remote])


def test_ssh_on_with_password(server: SshTestServer, known_hosts: Path) -> None:
    backend: PowerBackend = ssh_power(server, known_hosts)
    backend.power(["kn1", "kn2", "kn3"], "on")
    assert sorted(server.commands) == ["pdu on kn1", "pdu on kn2", "pdu on kn3"]
    assert server.connections == 1


def test_ssh_cycle_with_key_auth_over_one_connection(
    server: SshTestServer, known_hosts: Path, client_key: paramiko.ECDSAKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "id_ecdsa"
    client_key.write_private_key_file(str(key_file))
    power = ssh_power(server, known_hosts, password="", key_filename=str(key_file), cycle_delay=0.1)
    power.power(NODES, "cycle")
    assert sorted(server.commands[:8]) == sorted(f"pdu off {n}" for n in NODES)
    assert sorted(server.commands[8:]) == sorted(f"pdu on {n}" for n in NODES)
    assert server.connections == 1
    assert server.auth_failures == 0


def test_ssh_key_not_authorized_is_refused(server: SshTestServer, known_hosts: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "id_other"
    paramiko.ECDSAKey.generate().write_private_key_file(str(key_file))
    power = ssh_power(server, known_hosts, password="", key_filename=str(key_file))
    message = error_of(power, ["kn1"], "on")
    assert message == (
        f"power on: ssh to igor@127.0.0.1:{server.port}: authentication as igor failed (key {key_file})"
    )
    assert server.commands == []


def test_ssh_failures_are_reported_per_node_with_exit_status(
    server: SshTestServer, known_hosts: Path
) -> None:
    server.add_rule(r"\bkn3$", status=2, stdout="trying outlet 3\n", stderr="outlet 3 jammed\n")
    server.add_rule(r"\bkn5$", status=7)
    message = error_of(ssh_power(server, known_hosts), NODES, "off")
    assert message == (
        f"power off failed on kn3 ({shown(server, 'pdu off kn3')}: exit 2: outlet 3 jammed), "
        f"kn5 ({shown(server, 'pdu off kn5')}: exit 7)"
    )
    assert len(server.commands) == 8


def test_ssh_concurrency_limit_is_respected_and_used(server: SshTestServer, known_hosts: Path) -> None:
    server.wait_for_active = 3
    ssh_power(server, known_hosts, concurrency=3).power(NODES, "on")
    assert len(server.commands) == 8
    assert server.max_active == 3
    assert server.connections == 1


def test_ssh_retries_on_the_same_connection(server: SshTestServer, known_hosts: Path) -> None:
    server.add_rule(r"kn2$", status=1, stderr="busy", times=1)
    ssh_power(server, known_hosts, retries=1).power(["kn1", "kn2"], "on")
    assert sorted(server.commands) == ["pdu on kn1", "pdu on kn2", "pdu on kn2"]
    assert server.connections == 1


def test_ssh_lost_connection_is_reestablished_for_the_retry(server: SshTestServer, known_hosts: Path) -> None:
    server.add_rule(r"kn2$", drop=True, times=1)
    ssh_power(server, known_hosts, retries=1, concurrency=1).power(["kn1", "kn2", "kn3"], "on")
    assert server.commands == ["pdu on kn1", "pdu on kn2", "pdu on kn2", "pdu on kn3"]
    assert server.connections == 2


def test_ssh_lost_connection_without_retries_is_reported(server: SshTestServer, known_hosts: Path) -> None:
    server.add_rule(r"kn1$", drop=True)
    message = error_of(ssh_power(server, known_hosts), ["kn1"], "off")
    assert message == f"power off failed on kn1 ({shown(server, 'pdu off kn1')}: connection lost)"


def test_ssh_hanging_command_times_out(server: SshTestServer, known_hosts: Path) -> None:
    server.add_rule(r"kn2$", hang=True)
    message = error_of(ssh_power(server, known_hosts, timeout=0.5), ["kn1", "kn2", "kn3"], "on")
    assert message == f"power on failed on kn2 ({shown(server, 'pdu on kn2')}: timed out after 0.5s)"
    assert sorted(server.commands) == ["pdu on kn1", "pdu on kn2", "pdu on kn3"]


def test_ssh_unknown_host_key_is_refused(server: SshTestServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    message = error_of(ssh_power(server, empty), ["kn1"], "on")
    assert f"host key of [127.0.0.1]:{server.port} (ecdsa-sha2-nistp256 SHA256:" in message
    assert f"is not in {empty}; refusing to connect" in message
    assert server.commands == []


def test_ssh_changed_host_key_is_refused(server: SshTestServer, tmp_path: Path) -> None:
    impostor = server.write_known_hosts(tmp_path / "known_hosts", key=paramiko.ECDSAKey.generate())
    message = error_of(ssh_power(server, impostor), ["kn1"], "on")
    assert "host key MISMATCH" in message
    assert server.host_key.fingerprint in message
    assert server.commands == []


def test_ssh_wrong_password_is_refused_without_showing_it(
    server: SshTestServer, known_hosts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-" + PASSWORD
    power = ssh_power(server, known_hosts, password=wrong)
    message = error_of(power, ["kn1"], "on")
    assert (
        message == f"power on: ssh to igor@127.0.0.1:{server.port}: authentication as igor failed (password)"
    )
    assert server.auth_failures >= 1
    assert server.commands == []
    for text in (message, caplog.text, repr(power)):
        assert wrong not in text
        assert PASSWORD not in text


def test_ssh_connection_refused_is_reported(tmp_path: Path) -> None:
    with SshTestServer() as closed:
        port = closed.port
    known = tmp_path / "known_hosts"
    known.write_text("")
    power = SshPower(
        "127.0.0.1",
        "pdu on %s",
        "pdu off %s",
        port=port,
        username="igor",
        password="x",
        known_hosts=str(known),
        timeout=5.0,
    )
    message = error_of(power, ["kn1"], "on")
    assert message.startswith(f"power on: ssh to igor@127.0.0.1:{port}: cannot connect: ")


def test_ssh_needs_a_readable_known_hosts_file(server: SshTestServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert "cannot read known_hosts" in error_of(ssh_power(server, missing), ["kn1"], "on")
    power = SshPower(
        "127.0.0.1",
        "pdu on %s",
        "pdu off %s",
        port=server.port,
        username="igor",
        password=PASSWORD,
        known_hosts="",
    )
    assert "no known_hosts file is configured" in error_of(power, ["kn1"], "on")
    assert server.connections == 0


def test_ssh_hostile_node_name_reaches_the_remote_shell_quoted(
    server: SshTestServer, known_hosts: Path
) -> None:
    hostile = "kn1;touch /tmp/pwned $(id)"
    ssh_power(server, known_hosts).power([hostile], "on")
    assert server.commands == ["pdu on 'kn1;touch /tmp/pwned $(id)'"]
    assert shlex.split(server.commands[0]) == ["pdu", "on", hostile]


def test_ssh_quoted_placeholder_stays_one_word(server: SshTestServer, known_hosts: Path) -> None:
    """Substituting a quoted name into `"outlet %s"` would let a `"` in the name escape the quotes."""
    power = SshPower(
        server.host,
        'pdu --label "outlet %s" on',
        "x %s",
        port=server.port,
        username="igor",
        password=PASSWORD,
        known_hosts=str(known_hosts),
    )
    hostile = 'kn1"; reboot; "'
    power.power([hostile], "on")
    assert shlex.split(server.commands[0]) == ["pdu", "--label", f"outlet {hostile}", "on"]


def test_paramiko_is_not_imported_with_the_module() -> None:
    code = "import sys, igor_tui.backends.power; sys.exit('paramiko' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
