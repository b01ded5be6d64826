"""The `igor` command: every verb, every refusal, JSON shapes, exit codes.

Calls go through `igor_tui.cli.run` in this process (conftest.run_igor), which is what the console script
runs; the tests marked "through the console script" spawn the installed `igor` to check the process itself.

Each call acts as a user through SUDO_USER (the tests run as root, and as root igor trusts SUDO_USER: the
documented sudo model). alice, bob and carol are not system users, which is fine for ownership; group
tests use the Debian system user and group `daemon`.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cobbler_server import CobblerServer
from conftest import Cluster, ClusterFactory, igor_env, new_cluster, run_igor

from igor_tui import __version__

BERLIN = ZoneInfo("Europe/Berlin")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RESERVATION_KEYS = {
    "id",
    "name",
    "owner",
    "group",
    "start",
    "end",
    "nodes",
    "kernel",
    "initrd",
    "profile",
    "kernel_args",
    "vlan",
    "desc",
}
SHOW_RESERVATION_KEYS = RESERVATION_KEYS | {"active", "installed", "error", "writable", "healed"}
COLUMNS = ("K", "NAME", "OWNER", "START", "END", "FLAGS", "SIZE", "NODES")
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
NODES = [f"kn{i}" for i in range(1, 21)]
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

# ------------------------------------------------------------------------------------------ helpers


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit 0 and nothing on stderr; returns stdout."""
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stderr == ""
    return proc.stdout


def error(proc: subprocess.CompletedProcess[str], code: int, message: str, *, exact: bool = True) -> str:
    """Exit `code`, nothing on stdout, exactly one `igor: ...` line on stderr, no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}\nstderr:\n{proc.stderr}"
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("igor: ")
    if exact:
        assert line == f"igor: {message}"
    else:
        assert message in line
    return line


def config_error(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """Exit 2; the first stderr line is `igor: ...`, any further lines list problems as `  - ...`."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines
    assert lines[0].startswith("igor: ")
    assert all(line.startswith("  - ") for line in lines[1:]), proc.stderr
    return lines


def as_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data = json.loads(ok(proc))
    assert isinstance(data, dict)
    return data


def book(c: Cluster, name: str, *args: str, user: str = "alice") -> dict[str, Any]:
    """`igor sub -r NAME -k .. -i .. ARGS --json` that must succeed; returns the reservation."""
    return as_json(c.run("sub", "-r", name, *c.boot, *args, "--json", user=user))


def public_boot(c: Cluster) -> tuple[str, str, str, str]:
    """`-k .. -i ..` copies a real account such as daemon can read: tests run as root, so igor reads
    boot files with the rights of the SUDO_USER when that user exists (the cluster's own are under
    pytest's 0700 directory). The copies go in a fresh world-searchable directory under /tmp."""
    import atexit
    import shutil
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="igor-public-boot-"))
    atexit.register(shutil.rmtree, where, True)
    where.chmod(0o755)
    kernel, initrd = where / "vmlinuz", where / "initrd.img"
    kernel.write_bytes(c.kernel.read_bytes())
    initrd.write_bytes(c.initrd.read_bytes())
    kernel.chmod(0o644)
    initrd.chmod(0o644)
    return ("-k", str(kernel), "-i", str(initrd))


def show(c: Cluster, *args: str, user: str = "alice") -> dict[str, Any]:
    return as_json(c.run("show", "--json", *args, user=user))


def reservation(c: Cluster, name: str) -> dict[str, Any]:
    """One reservation as root sees it in `show --json`."""
    found = [r for r in show(c, user="root")["reservations"] if r["name"] == name]
    assert len(found) == 1, f"no single reservation {name}"
    res: dict[str, Any] = found[0]
    return res


def when(text: str) -> datetime:
    """An ISO 8601 time from igor's JSON, which must carry an offset."""
    assert ISO_WITH_OFFSET.fullmatch(text), text
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    return parsed


def minute_now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def iso(moment: datetime) -> str:
    """A -a value naming `moment` exactly (UTC, to the minute)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def wall(moment: datetime, *, zone: bool = True) -> str:
    """How igor prints a time in Europe/Berlin: `Nov 24 05:51 CET` (without the zone in tables)."""
    local = moment.astimezone(BERLIN)
    text = f"{MONTHS[local.month - 1]} {local.day} {local.hour:02d}:{local.minute:02d}"
    return f"{text} {local.tzname()}" if zone else text


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def policy(moment: datetime, *, zone: bool = True) -> str:
    """The one date policy in Europe/Berlin, spelled out independently of igor's code: `08:54` today,
    `Thu Dec 03 08:54` this year, `Thu Dec 03 2025 08:54` another year; the zone after it."""
    local = moment.astimezone(BERLIN)
    today = datetime.now(UTC).astimezone(BERLIN)
    text = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() != today.date():
        day = f"{WEEKDAYS[local.weekday()]} {MONTHS[local.month - 1]} {local.day:02d}"
        if local.year != today.year:
            day += f" {local.year}"
        text = f"{day} {text}"
    return f"{text} {local.tzname()}" if zone else text


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def key_table(out: str) -> list[dict[str, str]]:
    """The rows of `igor show`'s key table (DOWN/BLOCKED/UNRESERVED included), cut at the header's columns."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["K", "NAME"])
    header = lines[at]
    assert header.split() == list(COLUMNS)
    starts: list[int] = []
    for col in COLUMNS[2:]:
        found = re.search(rf"\b{col}\b", header)
        assert found is not None
        starts.append(found.start())
    name_end = header.index("NAME") + len("NAME")
    rows = []
    for line in lines[at + 1 :]:
        if line.startswith("(times in "):
            break
        row = {"K": line[:1].strip(), "NAME": line[1:name_end].strip()}
        bounds: list[int | None] = [*starts, None]
        for col, lo, hi in zip(COLUMNS[2:], starts, bounds[1:], strict=True):
            row[col] = line[lo:hi].strip()
        rows.append(row)
    return rows


def reservation_rows(out: str) -> list[dict[str, str]]:
    return [row for row in key_table(out) if row["OWNER"] != "N/A"]


def names_in(out: str) -> list[str]:
    return [row["NAME"] for row in reservation_rows(out)]


_CELL = re.compile(r"\|([ \d]{2})(.)(?=\|)")


def rack_cells(out: str) -> dict[int, str]:
    """Node number -> mark (key letter, `!`, `#` or blank) from the rack diagram."""
    cells: dict[int, str] = {}
    for line in out.splitlines():
        if not line.startswith("|"):
            continue
        for match in _CELL.finditer(line):
            if match.group(1).strip():
                number = int(match.group(1))
                assert number not in cells, f"node {number} drawn twice"
                cells[number] = match.group(2)
    return cells


def slot_rows(out: str) -> list[list[str]]:
    """The rows of `igor sub -s`'s table, each [START, END, FREE, NODES]."""
    lines = out.splitlines()
    assert re.fullmatch(
        r"AVAILABLE RESERVATIONS \(times in Europe/Berlin; book one with -a START\)", lines[0]
    )
    assert lines[1].split() == ["START", "END", "FREE", "NODES"]
    rows = [line.split() for line in lines[2:]]
    assert all(len(row) == 4 for row in rows), out
    return rows


# --------------------------------------------------------------------------------- help and usage


def test_help_and_version_work_without_a_config(tmp_path: Path) -> None:
    env = igor_env(tmp_path / "no-such-igor.conf")

    usage = ok(run_igor("help", env=env))
    assert usage.startswith("igor: reserve, boot and release nodes of a bare-metal cluster\n")
    assert "usage: igor [--config PATH] COMMAND [options]" in usage
    for verb in ("sub", "del", "show", "extend", "edit", "help", "version"):
        assert re.search(rf"^  {verb} +\S", usage, re.MULTILINE), verb
    assert ok(run_igor("--help", env=env)) == usage

    sub_help = ok(run_igor("help", "sub", env=env))
    assert sub_help.startswith("usage: igor sub ")
    for flag in (
        "-r NAME",
        "-k KERNEL",
        "-i INITRD",
        "-profile PROFILE",
        "-n N",
        "-w NODES",
        "-c ARGS",
        "-t DURATION",
        "-a START",
        "-s",
        "-g GROUP",
        "-vlan VLAN",
        "--contiguous",
        "-json, --json",
        "examples:",
    ):
        assert flag in sub_help, flag
    assert ok(run_igor("sub", "-h", env=env)) == sub_help

    show_help = ok(run_igor("show", "-h", env=env))
    assert show_help.startswith("usage: igor show ")
    for flag in ("-owner S", "-group S", "-name S", "-active", "-future", "-errored", "-writable", "-e"):
        assert flag in show_help, flag

    version = ok(run_igor("version", env=env, process=True))  # through the console script
    assert version == f"igor {__version__}\n"
    assert ok(run_igor("--version", env=env)) == version
    assert json.loads(ok(run_igor("version", "--json", env=env))) == {"version": __version__}


def test_no_arguments_prints_usage_on_stderr_and_exits_2(tmp_path: Path) -> None:
    proc = run_igor(env=igor_env(tmp_path / "no-such-igor.conf"), process=True)  # through the console script
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("igor: reserve, boot and release nodes")
    assert "usage: igor [--config PATH] COMMAND [options]" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("frob",), "unknown command 'frob' (run 'igor help' for the list)"),
        (
            ("help", "frob"),
            "no help for 'frob': commands are sub, del, show, extend, edit, quota, power, sync, tick, block, "
            "unblock, history, restore, stats, notify, hosts, import-classic, policy, help, version, setup, "
            "doctor",
        ),
        (
            ("power", "blink", "-r", "x"),
            "argument ACTION: invalid choice: 'blink' (choose from 'on', 'off', 'cycle') "
            "(see 'igor power -h')",
        ),
        (("sub", "-bogus"), "unknown flag -bogus (see 'igor sub -h')"),
        (("show", "--owner", "x"), "unknown flag --owner (see 'igor show -h')"),
        (("del",), "the following arguments are required: NAME (see 'igor del -h')"),
        (("del", "a", "b"), "unrecognized arguments: b (see 'igor del -h')"),
        (("show", "-t=maybe"), "-t wants true or false, got 'maybe'"),
        (("sub", "-n", "three"), "argument -n: -n wants a whole number, got 'three' (see 'igor sub -h')"),
        (("sub", "-r"), "-r needs a value (see 'igor sub -h')"),
        (("show", "-jso"), "unknown flag -jso (see 'igor show -h')"),  # argparse would take a prefix
        (("sub", "-n5"), "unknown flag -n5 (see 'igor sub -h')"),
        (("--config",), "--config needs a path"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_usage_errors_exit_2_before_reading_the_config(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    error(run_igor(*args, env=igor_env(tmp_path / "no-such-igor.conf")), 2, message)


# ------------------------------------------------------------------------------------------- config


def test_missing_config_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "no-such-igor.conf"
    error(
        run_igor("show", env=igor_env(path), process=True),  # through the console script
        2,
        f"config file {path} not found (use --config PATH or IGOR_CONFIG)",
    )


def test_invalid_json_config(tmp_path: Path) -> None:
    path = tmp_path / "igor.conf"
    path.write_text('{"tftproot": "/srv/tftp", "end": 5,\n')
    path.chmod(0o600)
    lines = config_error(run_igor("sub", "-s", "-n", "1", env=igor_env(path)))
    assert lines[0] == f"igor: {path}: 1 problem(s) in config"
    assert len(lines) == 2
    assert lines[1].startswith("  - invalid JSON at line 2 column 1: ")


def test_config_with_two_problems_lists_both(make_cluster: ClusterFactory) -> None:
    c = make_cluster(rackwidth=0, timzone="UTC")
    lines = config_error(c.run("show"))
    assert lines[0] == f"igor: {c.config_path}: 2 problem(s) in config"
    problems = sorted(lines[1:])
    assert len(problems) == 2
    assert problems[0].startswith("  - rackwidth: 0 is not positive")
    assert problems[1] == "  - unknown key 'timzone': did you mean 'timezone'?"


def test_world_writable_config_is_refused(cluster: Cluster) -> None:
    cluster.config_path.chmod(0o646)
    lines = config_error(cluster.run("show"))
    assert lines == [
        f"igor: config {cluster.config_path} refused: it is world-writable (mode 0646), so others could "
        f"change poweroncommand and run commands as igor; run chmod 600 {cluster.config_path}"
    ]


def test_group_writable_config_is_refused(cluster: Cluster) -> None:
    cluster.config_path.chmod(0o660)
    lines = config_error(cluster.run("show"))
    assert lines == [
        f"igor: config {cluster.config_path} refused: it is group-writable (mode 0660), so others could "
        f"change poweroncommand and run commands as igor; run chmod 600 {cluster.config_path}"
    ]


def test_config_option_wins_over_the_environment(cluster: Cluster, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-igor.conf"
    env = igor_env(missing)
    out = ok(run_igor("--config", str(cluster.config_path), "show", env=env))
    assert [row["NAME"] for row in key_table(out)] == ["DOWN", "UNRESERVED"]
    ok(run_igor(f"-config={cluster.config_path}", "show", "-t=false", env=env))
    error(
        run_igor("--config", str(missing), "show", env=cluster.env()),
        2,
        f"config file {missing} not found (use --config PATH or IGOR_CONFIG)",
    )


def test_pause_stops_bookings_and_extensions_for_non_admins(make_cluster: ClusterFactory) -> None:
    c = make_cluster(pause="maintenance until Monday")
    error(c.run("sub", "-r", "p1", *c.boot, "-n", "1"), 1, "igor is paused: maintenance until Monday")
    held = book(c, "held", "-n", "2", user="root")
    assert held["nodes"] == ["kn1", "kn2"]
    error(c.run("extend", "-r", "held", user="alice"), 1, "igor is paused: maintenance until Monday")
    assert names_in(ok(c.run("show"))) == ["held"]
    ok(c.run("del", "held", user="root"))


# ---------------------------------------------------------------------------------------------- sub


def test_sub_prints_the_window_and_the_nodes(cluster: Cluster) -> None:
    before = minute_now()
    out = ok(cluster.run("sub", "-r", "first", *cluster.boot, "-n", "3", "-t", "90", process=True))
    after = minute_now()
    lines = out.splitlines()
    assert len(lines) == 2
    match = re.fullmatch(r"Reservation first created for (.+) - (.+) (CES?T)", lines[0])
    assert match is not None, lines[0]
    assert lines[1] == "Nodes: kn[1-3]"
    res = reservation(cluster, "first")
    start, end = when(res["start"]), when(res["end"])
    assert before <= start <= after  # starts in the current minute, so it is active at once
    assert end - start == timedelta(minutes=90)
    assert match.group(1) == policy(start, zone=False)  # today: the time alone, the zone named once
    assert match.group(2) == policy(end, zone=False)
    assert match.group(3) == start.astimezone(BERLIN).tzname()

    out = ok(cluster.run("sub", "-r", "single", *cluster.boot, "-w", "kn7"))
    assert out.splitlines()[1] == "Nodes: kn7"


def test_sub_keeps_the_year_of_a_start_in_another_year(cluster: Cluster) -> None:
    """Finding 8: a confirmation never hides that the start is next year."""
    start = minute_now().replace(month=9, day=25, hour=11, minute=0) + timedelta(days=366)
    out = ok(cluster.run("sub", "-r", "later", *cluster.boot, "-n", "1", "-a", iso(start)))
    assert f"created for {policy(start, zone=False)} - " in out
    assert str(start.astimezone(BERLIN).year) in out.splitlines()[0]


def test_sub_says_why_the_start_is_later_than_asked(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 2: nodes free now but taken soon: the booking lands after the blocker, and sub says why
    in the sentence the TUI's form shows. Issue 14: from the booking itself, not a plan made first (the
    schedule searched twice)."""
    from igor_tui.service import IgorService

    def no_plan(*_: object) -> None:
        raise AssertionError("igor sub planned before booking")

    monkeypatch.setattr(IgorService, "plan", no_plan)
    soon = minute_now() + 30 * MINUTE
    book(cluster, "blocker", "-w", "kn[1-2]", "-t", "1h", "-a", iso(soon), user="bob")
    out = ok(cluster.run("sub", "-r", "wanted", *cluster.boot, "-w", "kn[1-2]", "-t", "1h"))
    assert out.splitlines()[2] == (
        f"Not at the time asked: kn[1-2] are free now but blocker takes kn1 at {policy(soon, zone=False)}; "
        f"earliest fit: {policy(soon + HOUR, zone=False)}"
    )
    on_time = ok(cluster.run("sub", "-r", "free", *cluster.boot, "-w", "kn[5-6]", "-t", "1h"))
    assert "Not at the time asked" not in on_time


def test_sub_json_shape(cluster: Cluster) -> None:
    data = book(cluster, "j1", "-w", "kn[4-5]", "-t", "2h", "-c", "console=ttyS0 quiet")
    assert set(data) == RESERVATION_KEYS
    assert isinstance(data["id"], int)
    assert data["name"] == "j1"
    assert data["owner"] == "alice"
    assert data["group"] == ""
    assert data["nodes"] == ["kn4", "kn5"]
    assert data["kernel"] == str(cluster.kernel)
    assert data["initrd"] == str(cluster.initrd)
    assert data["profile"] == ""
    assert data["kernel_args"] == "console=ttyS0 quiet"
    assert data["vlan"] is None
    start, end = when(data["start"]), when(data["end"])
    assert start.utcoffset() == start.astimezone(BERLIN).utcoffset()  # shown in the configured zone
    assert end - start == 2 * HOUR

    single_dash = as_json(cluster.run("sub", "-r", "j2", *cluster.boot, "-n", "1", "-json"))
    assert set(single_dash) == RESERVATION_KEYS
    assert single_dash["nodes"] == ["kn1"]
    assert single_dash["id"] > data["id"]

    global_flag = as_json(cluster.run("--json", "sub", "-r", "j3", *cluster.boot, "-n", "1"))
    assert set(global_flag) == RESERVATION_KEYS
    assert global_flag["nodes"] == ["kn2"]


BOOT = ("-k", "{kernel}", "-i", "{initrd}")
SUB_ERRORS: list[tuple[str, tuple[str, ...], str, int, str]] = [
    (
        "name-space",
        ("-r", "bad name", *BOOT, "-n", "1"),
        "alice",
        1,
        "invalid reservation name 'bad name': use only letters, digits, '-' and '_' "
        "(and do not start with '-')",
    ),
    (
        "name-path",
        ("-r", "../x", *BOOT, "-n", "1"),
        "alice",
        1,
        "invalid reservation name '../x': use only letters, digits, '-' and '_' (and do not start with '-')",
    ),
    (
        "name-accent",
        ("-r", "résa", *BOOT, "-n", "1"),
        "alice",
        1,
        "invalid reservation name 'résa': use only letters, digits, '-' and '_' (and do not start with '-')",
    ),
    ("no-name", (*BOOT, "-n", "1"), "alice", 1, "a reservation needs a name (-r NAME)"),
    (
        "n-and-w",
        ("-r", "x", *BOOT, "-n", "2", "-w", "kn[1-2]"),
        "alice",
        1,
        "give either -n (a number of nodes) or -w (a list of nodes), not both",
    ),
    ("neither", ("-r", "x", *BOOT), "alice", 1, "give -n (a number of nodes) or -w (a list of nodes)"),
    (
        "n-zero",
        ("-r", "x", *BOOT, "-n", "0"),
        "alice",
        2,
        "-n must be at least 1",
    ),
    (
        "n-negative",
        ("-r", "x", *BOOT, "-n", "-3"),
        "alice",
        2,
        "-n must be at least 1",
    ),
    (
        "n-too-big",
        ("-r", "x", *BOOT, "-n", "21"),
        "alice",
        1,
        "-n 21 is larger than the cluster (20 nodes, kn[1-20])",
    ),
    (
        "w-outside",
        ("-r", "x", *BOOT, "-w", "kn[19-25]"),
        "alice",
        1,
        "bad node list 'kn[19-25]': kn21 is not a node of this cluster (kn[1-20])",
    ),
    (
        "w-zero",
        ("-r", "x", *BOOT, "-w", "kn0"),
        "alice",
        1,
        "bad node list 'kn0': kn0 is not a node of this cluster (kn[1-20])",
    ),
    (
        "t-zero",
        ("-r", "x", *BOOT, "-n", "1", "-t", "0"),
        "alice",
        1,
        "duration must be positive, got '0' (0m)",
    ),
    (
        "t-negative",
        ("-r", "x", *BOOT, "-n", "1", "-t", "-30"),
        "alice",
        1,
        "duration must be positive, got '-30' (-30m)",
    ),
    (
        "t-garbage",
        ("-r", "x", *BOOT, "-n", "1", "-t", "soon"),
        "alice",
        1,
        "cannot parse duration 'soon': unexpected 's' where a number should be; "
        "use minutes (90) or units (1h30m, 2d, 2d12h)",
    ),
    (
        "a-garbage",
        ("-r", "x", *BOOT, "-n", "1", "-a", "tomorrow"),
        "alice",
        1,
        "cannot parse start time 'tomorrow': use 2017-Sep-25-13:00, 2017-09-25T13:00[+02:00] or +2h",
    ),
    (
        "a-past",
        ("-r", "x", *BOOT, "-n", "1", "-a", "2020-Jan-01-10:00"),
        "alice",
        1,
        "start time Wed Jan 01 2020 10:00 CET is in the past (now ",
    ),
    (
        "kernel-missing",
        ("-r", "x", "-k", "{root}/no-vmlinuz", "-i", "{initrd}", "-n", "1"),
        "alice",
        1,
        "kernel {root}/no-vmlinuz: no such file",
    ),
    (
        "initrd-missing",
        ("-r", "x", "-k", "{kernel}", "-i", "{root}/no-initrd", "-n", "1"),
        "alice",
        1,
        "initrd {root}/no-initrd: no such file",
    ),
    (
        "kernel-is-dir",
        ("-r", "x", "-k", "{root}", "-i", "{initrd}", "-n", "1"),
        "alice",
        1,
        "kernel {root}: a directory; give the path of the kernel file",
    ),
    (
        "no-boot-files",
        ("-r", "x", "-n", "1"),
        "alice",
        1,
        "give a kernel and an initrd (-k and -i), or a Cobbler profile (-profile)",
    ),
    (
        "args-newline",
        ("-r", "x", *BOOT, "-n", "1", "-c", "quiet\nroot=/dev/sda"),
        "alice",
        1,
        "kernel arguments contain a control character ('\\n'); they must be a single line of printable text",
    ),
    (
        "args-tab",
        ("-r", "x", *BOOT, "-n", "1", "-c", "quiet\tdebug"),
        "alice",
        1,
        "kernel arguments contain a control character ('\\t'); they must be a single line of printable text",
    ),
    (
        "args-escape",
        ("-r", "x", *BOOT, "-n", "1", "-c", "\x1b[2J"),
        "alice",
        1,
        "kernel arguments contain a control character ('\\x1b'); "
        "they must be a single line of printable text",
    ),
    (
        "profile-without-cobbler",
        ("-r", "x", "-profile", "centos9", "-n", "1"),
        "alice",
        1,
        "igor is not configured to use Cobbler, so -profile cannot be used",
    ),
    (
        "nodelimit-n",
        ("-r", "x", *BOOT, "-n", "11"),
        "alice",
        1,
        "at most 10 nodes per reservation, you asked for 11",
    ),
    (
        "nodelimit-w",
        ("-r", "x", *BOOT, "-w", "kn[1-11]"),
        "bob",
        1,
        "at most 10 nodes per reservation, you asked for 11",
    ),
    (
        "timelimit-8",
        ("-r", "x", *BOOT, "-n", "8", "-t", "30h"),
        "alice",
        1,
        "max 24h0m for 8 nodes, you asked 30h",
    ),
    (
        "timelimit-1",
        ("-r", "x", *BOOT, "-n", "1", "-t", "73h"),
        "alice",
        1,
        "max 72h0m for 1 node, you asked 73h",
    ),
    (
        "group-unknown",
        ("-r", "x", *BOOT, "-n", "1", "-g", "no-such-grp"),
        "alice",
        1,
        "no such group: no-such-grp",
    ),
    (
        "group-not-member",
        ("-r", "x", *BOOT, "-n", "1", "-g", "daemon"),
        "bob",
        1,
        "you are not a member of group daemon",
    ),
    (
        "vlan-without-network",
        ("-r", "x", *BOOT, "-n", "1", "-vlan", "5"),
        "alice",
        1,
        "this cluster has no network isolation configured, so -vlan cannot be used",
    ),
    (
        "unknown-flag",
        ("-r", "x", *BOOT, "-n", "1", "-bogus"),
        "alice",
        2,
        "unknown flag -bogus (see 'igor sub -h')",
    ),
]


@pytest.mark.parametrize(
    ("args", "user", "code", "message"),
    [case[1:] for case in SUB_ERRORS],
    ids=[case[0] for case in SUB_ERRORS],
)
def test_sub_refusals(cluster: Cluster, args: tuple[str, ...], user: str, code: int, message: str) -> None:
    """Each refusal is one exact `igor: MESSAGE` line ({kernel}, {initrd}, {root} are this cluster's paths;
    a message ending in a space is a prefix, for the one that goes on to name the current time)."""
    paths = {"kernel": str(cluster.kernel), "initrd": str(cluster.initrd), "root": str(cluster.root)}
    expected = message.format(**paths)
    line = error(
        cluster.run("sub", *(a.format(**paths) for a in args), user=user),
        code,
        expected,
        exact=not expected.endswith(" "),
    )
    assert line.startswith(f"igor: {expected}")


def test_duplicate_name_is_refused(cluster: Cluster) -> None:
    book(cluster, "dup", "-n", "1")
    error(
        cluster.run("sub", "-r", "dup", *cluster.boot, "-n", "1", user="bob"),
        1,
        "a reservation named dup already exists",
    )


def test_admins_skip_limits_and_may_start_in_the_past(make_cluster: ClusterFactory) -> None:
    c = make_cluster(admins=["carol", "%daemon"])
    past = minute_now() - 30 * MINUTE

    by_root = book(c, "root-past", "-w", "kn[1-2]", "-t", "2h", "-a", iso(past), user="root")
    assert when(by_root["start"]) == past
    big = book(c, "root-big", "-n", "12", "-t", "30h", user="root")  # over nodelimit and timelimit
    assert big["nodes"] == [f"kn{i}" for i in range(3, 15)]
    assert when(big["end"]) - when(big["start"]) == 30 * HOUR

    by_carol = book(c, "carol-past", "-w", "kn15", "-t", "2h", "-a", iso(past), user="carol")
    assert when(by_carol["start"]) == past
    by_group = book(  # admin via %daemon; daemon (a real account) must be able to read its boot files
        c, "daemon-long", *public_boot(c), "-w", "kn[16-20]", "-t", "100h", user="daemon"
    )
    assert by_group["owner"] == "daemon"
    # still refused for everyone else
    error(
        c.run("sub", "-r", "bob-past", *c.boot, "-n", "1", "-a", iso(past), user="bob"),
        1,
        f"start time {policy(past)} is in the past (now ",
        exact=False,
    )


def test_group_reservation_by_a_member(cluster: Cluster) -> None:
    data = book(cluster, "lab", *public_boot(cluster), "-n", "1", "-g", "daemon", user="daemon")
    assert data["owner"] == "daemon"
    assert data["group"] == "daemon"


@pytest.mark.real
def test_cobbler_profile_instead_of_kernel_and_initrd(
    make_cluster: ClusterFactory, cobbler_server: CobblerServer
) -> None:
    """-profile is checked against the real Cobbler server (only sub asks it; show never does)."""
    profile = cobbler_server.default_profile
    c = make_cluster(usecobbler=True, cobblerdefaultprofile=profile, cobblercommand=cobbler_server.cobbler)
    data = as_json(c.run("sub", "-r", "cob", "-profile", profile, "-n", "2", "--json"))
    assert (data["profile"], data["kernel"], data["initrd"]) == (profile, "", "")
    assert c.content_files() == set()
    error(
        c.run("sub", "-r", "nope", "-profile", "centos99", "-n", "1"),
        1,
        "Cobbler has no profile named centos99",
    )
    error(
        c.run("sub", "-r", "both", "-profile", profile, *c.boot, "-n", "1"),
        1,
        "give either a Cobbler profile or a kernel and initrd, not both",
    )


def test_vlan_numbers_and_sharing(make_cluster: ClusterFactory) -> None:
    c = make_cluster(
        network="arista",
        vlan_min=100,
        vlan_max=200,
        network_url="switch:443/command-api",
        node_map={node: f"Et{i}" for i, node in enumerate(NODES, start=1)},
    )
    assert book(c, "v1", "-n", "1", "-vlan", "150")["vlan"] == 150
    assert book(c, "v2", "-n", "1", "-vlan", "v1")["vlan"] == 150
    error(c.run("sub", "-r", "v3", *c.boot, "-n", "1", "-vlan", "5"), 1, "VLAN 5 is outside the pool 100-200")
    error(
        c.run("sub", "-r", "v3", *c.boot, "-n", "1", "-vlan", "v1", user="bob"),
        1,
        "cannot share the VLAN of v1: it belongs to alice",
    )
    error(
        c.run("sub", "-r", "v3", *c.boot, "-n", "1", "-vlan", "150", user="bob"),
        1,
        "VLAN 150 is used by v1, which belongs to alice",
    )


@pytest.mark.parametrize("char", ["\u0085", "\u009b"], ids=["NEL", "CSI"])
def test_sub_refuses_c1_control_characters_in_kernel_args(cluster: Cluster, char: str) -> None:
    error(
        cluster.run("sub", "-r", "c1", *cluster.boot, "-n", "1", "-c", f"quiet{char}31m"),
        1,
        "kernel arguments contain a control character",
        exact=False,
    )


# -------------------------------------------------------------------------------------- speculation


def test_speculation_needs_no_name_kernel_or_initrd_and_books_nothing(cluster: Cluster) -> None:
    before = minute_now()
    rows = slot_rows(ok(cluster.run("sub", "-s", "-n", "4", "-t", "2h")))
    assert 1 <= len(rows) <= 10
    assert rows[0][2:] == ["20", "kn[1-4]"]

    data = as_json(cluster.run("sub", "-s", "-n", "4", "-t", "2h", "--json"))
    assert set(data) == {"slots"}
    assert 1 <= len(data["slots"]) <= 10
    for slot in data["slots"]:
        assert set(slot) == {"start", "end", "nodes", "free"}
        assert when(slot["end"]) - when(slot["start"]) == 2 * HOUR
        assert isinstance(slot["free"], int)
    first = data["slots"][0]
    assert first["nodes"] == ["kn1", "kn2", "kn3", "kn4"]
    assert first["free"] == 20
    assert before <= when(first["start"]) <= minute_now()

    assert show(cluster)["reservations"] == []
    assert cluster.content_files() == set()
    error(cluster.run("sub", "-s", "-n", "11"), 1, "at most 10 nodes per reservation, you asked for 11")


def test_every_speculated_slot_is_bookable_at_its_printed_start(cluster: Cluster) -> None:
    base = minute_now() + 2 * HOUR
    for name, nodes, start, hours in (
        ("r1", "kn[1-6]", base, "1h"),
        ("r2", "kn[7-12]", base, "2h"),
        ("r3", "kn[13-20]", base, "3h"),
        ("r4", "kn[2-3]", base + 90 * MINUTE, "1h"),
    ):
        book(cluster, name, "-w", nodes, "-a", iso(start), "-t", hours, user="root")

    ask = ("sub", "-s", "-n", "4", "-t", "1h", "-a", iso(base))
    rows = slot_rows(ok(cluster.run(*ask)))
    slots = as_json(cluster.run(*ask, "--json"))["slots"]
    # distinct options, only at instants when nodes become free
    expected = [
        (base + 60 * MINUTE, ["kn1", "kn4", "kn5", "kn6"], 4, "kn[1,4-6]"),
        (base + 120 * MINUTE, ["kn4", "kn5", "kn6", "kn7"], 10, "kn[4-7]"),
        (base + 150 * MINUTE, ["kn1", "kn2", "kn3", "kn4"], 12, "kn[1-4]"),
        (base + 180 * MINUTE, ["kn1", "kn2", "kn3", "kn4"], 20, "kn[1-4]"),
    ]
    assert [(when(s["start"]), s["nodes"], s["free"]) for s in slots] == [e[:3] for e in expected]
    assert [row[2:] for row in rows] == [[str(e[2]), e[3]] for e in expected]

    for i, (row, slot) in enumerate(zip(rows, slots, strict=True)):
        booked = book(cluster, f"s{i}", "-n", "4", "-t", "1h", "-a", row[0])
        assert booked["start"] == slot["start"]
        assert booked["end"] == slot["end"]
        assert booked["nodes"] == slot["nodes"]
        ok(cluster.run("del", f"s{i}"))


def test_speculation_lists_at_most_ten_options(cluster: Cluster) -> None:
    for i in range(1, 12):  # eleven nodes becoming free at eleven different times
        book(cluster, f"h{i}", "-w", f"kn{i}", "-t", str(10 * i), user="root")
    rows = slot_rows(ok(cluster.run("sub", "-s", "-n", "10", "-t", "30")))
    assert len(rows) == 10
    assert len({row[0] for row in rows}) == 10


def test_contiguous_waits_for_one_block_where_the_default_takes_fewest_gaps_now(cluster: Cluster) -> None:
    hold = book(cluster, "hold2", "-w", "kn2", "-t", "1h", user="bob")
    for flags in ((), ("--contiguous",)):
        slot = as_json(cluster.run("sub", "-s", "-n", "3", "-t", "30", *flags, "--json"))["slots"][0]
        assert slot["nodes"] == ["kn3", "kn4", "kn5"], flags  # lowest-numbered free block, not kn[1,3-4]

    # now no three consecutive nodes are free until kn2 is released
    book(cluster, "every3", "-w", "kn[5,8,11,14,17,20]", "-t", "2h", user="root")
    block = book(cluster, "blocky", "-n", "3", "-t", "30", "--contiguous")
    assert block["nodes"] == ["kn1", "kn2", "kn3"]
    assert when(block["start"]) == when(hold["end"])
    gappy = book(cluster, "gappy", "-n", "3", "-t", "30")
    assert gappy["nodes"] == ["kn1", "kn3", "kn4"]
    assert when(gappy["start"]) < when(hold["end"])


# ---------------------------------------------------------------------------------------------- del


def test_del_by_owner_other_user_and_root(cluster: Cluster) -> None:
    book(cluster, "d1", "-n", "2")
    error(cluster.run("del", "d1", user="bob", process=True), 1, "permission denied: d1 belongs to alice")
    assert ok(cluster.run("del", "d1")) == "Reservation d1 deleted (kn[1-2] released)\n"
    error(cluster.run("del", "d1"), 1, "no reservation named d1")
    error(cluster.run("del", "x"), 1, "no reservation named x")

    again = book(cluster, "d1", "-n", "2", user="bob")  # the name and the nodes are free again
    assert (again["owner"], again["nodes"]) == ("bob", ["kn1", "kn2"])
    deleted = as_json(cluster.run("del", "--json", "d1", user="root", process=True))
    assert set(deleted) == {"deleted"}
    assert set(deleted["deleted"]) == RESERVATION_KEYS
    assert (deleted["deleted"]["name"], deleted["deleted"]["owner"]) == ("d1", "bob")
    assert show(cluster)["reservations"] == []


def test_del_builds_only_the_reservation_it_deletes(cluster: Cluster, cache_builds: list[int]) -> None:
    """Issue 14: a delete's cost grows with what it changes, not with the schedule: from the snapshot
    cache it builds the reservation it deletes (and any that has begun, which expiry looks at), not
    the others, and the cache it leaves is the document's."""
    later = minute_now() + 2 * HOUR
    for i in range(12):
        book(cluster, f"f{i}", "-w", f"kn{i + 1}", "-t", "1h", "-a", iso(later))
    book(cluster, "now", "-w", "kn20", "-t", "1h")
    cache_builds.clear()
    assert ok(cluster.run("del", "f7")) == "Reservation f7 deleted (kn8 released)\n"
    assert sum(cache_builds) <= 2  # f7 and the running one, not 13
    names = [r["name"] for r in show(cluster)["reservations"]]
    assert sorted(names) == sorted([*(f"f{i}" for i in range(12) if i != 7), "now"])
    error(cluster.run("del", "f7"), 1, "no reservation named f7")


def test_group_members_may_manage_but_not_regroup(cluster: Cluster) -> None:
    lab = book(cluster, "lab", "-n", "2", "-g", "daemon", user="root")
    assert (lab["owner"], lab["group"]) == ("root", "daemon")
    error(cluster.run("del", "lab", user="bob"), 1, "permission denied: lab belongs to root")
    ok(cluster.run("extend", "-r", "lab", "-t", "30", user="daemon"))
    ok(cluster.run("edit", "-r", "lab", "-c", "quiet", user="daemon"))
    error(
        cluster.run("edit", "-r", "lab", "-g", "", user="daemon"),
        1,
        "only the owner (root) or an admin can change the group of lab",
    )
    ok(cluster.run("del", "lab", user="daemon"))
    assert show(cluster)["reservations"] == []


# ------------------------------------------------------------------------------------------- extend


def test_extend_by_owner_until_the_next_reservation(cluster: Cluster) -> None:
    e1 = book(cluster, "e1", "-w", "kn[2-4]", "-t", "30")
    end = when(e1["end"])
    error(cluster.run("extend", "-r", "e1", user="bob"), 1, "permission denied: e1 belongs to alice")
    following = book(cluster, "next", "-w", "kn[1-3]", "-a", iso(end + 90 * MINUTE), user="bob")

    out = ok(cluster.run("extend", "-r", "e1", "-t", "1h"))
    assert out == f"Reservation e1 extended to {policy(end + HOUR)}\nNodes: kn[2-4]\n"
    error(
        cluster.run("extend", "-r", "e1", "-t", "1h"),
        1,
        f"cannot extend e1 by 1h: reservation next on kn2 starts {policy(when(following['start']))}; "
        "it can be extended by at most 30m",
    )
    data = as_json(cluster.run("extend", "-r", "e1", "-t", "30", "--json"))
    assert set(data) == RESERVATION_KEYS
    assert data["end"] == following["start"]  # half-open windows: back to back is fine
    error(cluster.run("extend", "-r", "e1", "-t", "1"), 1, "it cannot be extended", exact=False)

    error(
        cluster.run("extend", "-r", "e1", "-t", "garbage"),
        1,
        "cannot parse duration 'garbage': unexpected 'g' where a number should be; "
        "use minutes (90) or units (1h30m, 2d, 2d12h)",
    )
    error(cluster.run("extend", "-r", "e1", "-t", "0"), 1, "duration must be positive, got '0' (0m)")
    error(cluster.run("extend", "-t", "1h"), 2, "extend needs -r NAME (see 'igor extend -h')")
    error(cluster.run("extend", "-r", "nope"), 1, "no reservation named nope")


def test_extend_time_limit_applies_to_non_admins_only(cluster: Cluster) -> None:
    book(cluster, "big", "-n", "8", "-t", "1h")
    line = error(cluster.run("extend", "-r", "big", "-t", "24h"), 1, "max 24h0m for 8 nodes", exact=False)
    # 1h remains (59m if the minute turned meanwhile)
    assert re.fullmatch(
        r"igor: max 24h0m for 8 nodes, you asked (25h|24h59m) \((1h|59m) remaining \+ 24h extension\)", line
    ), line
    data = as_json(cluster.run("extend", "-r", "big", "-t", "24h", "--json", user="root"))
    assert when(data["end"]) - when(data["start"]) == 25 * HOUR


# --------------------------------------------------------------------------------------------- edit


def test_edit_changes_only_what_is_given_and_collects_unused_copies(cluster: Cluster) -> None:
    kernel2 = cluster.file("vmlinuz-2", b"kernel image 2\n")
    book(cluster, "ed", "-n", "2", "-c", "console=ttyS0")
    assert cluster.content_files() == {sha(cluster.kernel), sha(cluster.initrd)}

    assert ok(cluster.run("edit", "-r", "ed", "-c", "console=ttyS1 debug")) == "Reservation ed updated\n"
    res = reservation(cluster, "ed")
    assert (res["kernel"], res["initrd"], res["kernel_args"]) == (
        str(cluster.kernel),
        str(cluster.initrd),
        "console=ttyS1 debug",
    )
    # classic bug (spec §11.4): editing only -c deleted the copies the reservation still boots
    assert cluster.content_files() == {sha(cluster.kernel), sha(cluster.initrd)}

    data = as_json(cluster.run("edit", "-r", "ed", "-k", str(kernel2), "--json"))
    assert set(data) == RESERVATION_KEYS
    assert (data["kernel"], data["initrd"], data["kernel_args"]) == (
        str(kernel2),
        str(cluster.initrd),
        "console=ttyS1 debug",
    )
    assert cluster.content_files() == {sha(kernel2), sha(cluster.initrd)}  # the old kernel copy is gone

    ok(cluster.run("edit", "-r", "ed", "-c", ""))
    assert reservation(cluster, "ed")["kernel_args"] == ""
    ok(cluster.run("del", "ed"))
    assert cluster.content_files() == set()


def test_content_copies_are_shared_and_kept_while_referenced(cluster: Cluster) -> None:
    kernel2 = cluster.file("vmlinuz-2", b"kernel image 2\n")
    k1, i1, k2 = sha(cluster.kernel), sha(cluster.initrd), sha(kernel2)
    book(cluster, "a", "-n", "1")
    book(cluster, "b", "-n", "1", user="bob")
    assert cluster.content_files() == {k1, i1}  # one copy per distinct file
    cluster.kernel.write_bytes(b"rebuilt after submitting\n")
    assert (cluster.content_dir / k1).read_bytes() == b"kernel image 1\n"  # copied at submit time

    ok(cluster.run("edit", "-r", "a", "-k", str(kernel2)))
    assert cluster.content_files() == {k1, i1, k2}  # b still boots the first kernel
    ok(cluster.run("del", "b", user="bob"))
    assert cluster.content_files() == {i1, k2}
    ok(cluster.run("del", "a"))
    assert cluster.content_files() == set()


def test_edit_refusals_and_owner_change(cluster: Cluster) -> None:
    book(cluster, "own", "-n", "1")
    error(
        cluster.run("edit", "-r", "own"),
        1,
        "nothing to change: give at least one of -k, -i, -profile, -c, -vlan, -owner, -g, -desc, -add, -drop",
    )
    error(
        cluster.run("edit", "-r", "own", "-owner", "daemon"),
        1,
        "only an admin can change the owner of a reservation",
    )
    error(
        cluster.run("edit", "-r", "own", "-c", "x", user="bob"), 1, "permission denied: own belongs to alice"
    )
    error(cluster.run("edit", "-c", "x"), 2, "edit needs -r NAME (see 'igor edit -h')")
    error(cluster.run("edit", "-r", "nope", "-c", "x"), 1, "no reservation named nope")
    error(
        cluster.run("edit", "-r", "own", "-c", "a\nb"),
        1,
        "kernel arguments contain a control character ('\\n'); they must be a single line of printable text",
    )
    error(
        cluster.run("edit", "-r", "own", "-k", str(cluster.root / "no-vmlinuz")),
        1,
        f"kernel {cluster.root / 'no-vmlinuz'}: no such file",
    )
    error(
        cluster.run("edit", "-r", "own", "-profile", "centos9"),
        1,
        "igor is not configured to use Cobbler, so -profile cannot be used",
    )
    error(
        cluster.run("edit", "-r", "own", "-vlan", "5"),
        1,
        "this cluster has no network isolation configured, so -vlan cannot be used",
    )
    error(cluster.run("edit", "-r", "own", "-g", "daemon"), 1, "you are not a member of group daemon")
    error(
        cluster.run("edit", "-r", "own", "-owner", "no-such-user-x", user="root"),
        1,
        "no such user: no-such-user-x",
    )

    data = as_json(cluster.run("edit", "-r", "own", "-owner", "daemon", "--json", user="root"))
    assert data["owner"] == "daemon"
    error(cluster.run("edit", "-r", "own", "-c", "x"), 1, "permission denied: own belongs to daemon")


def test_refused_sub_leaves_no_copy_behind(cluster: Cluster) -> None:
    book(cluster, "taken", "-n", "1")
    kernel2 = cluster.file("vmlinuz-2", b"kernel image 2\n")
    error(
        cluster.run("sub", "-r", "taken", "-k", str(kernel2), "-i", str(cluster.initrd), "-n", "1"),
        1,
        "a reservation named taken already exists",
    )
    assert cluster.content_files() == {sha(cluster.kernel), sha(cluster.initrd)}


def test_refused_edit_leaves_no_copy_behind(cluster: Cluster) -> None:
    book(cluster, "mine", "-n", "1")
    kernel2 = cluster.file("vmlinuz-2", b"kernel image 2\n")
    error(
        cluster.run("edit", "-r", "mine", "-k", str(kernel2), user="bob"),
        1,
        "permission denied: mine belongs to alice",
    )
    assert cluster.content_files() == {sha(cluster.kernel), sha(cluster.initrd)}


# --------------------------------------------------------------------------------------------- show


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """A cluster shared by the read-only show tests: two active and two future reservations.

    zeta (bob, active, kn[1-3]), mango (alice, active, kn[9-12]), alpha (carol, in 1h, kn[4-5]),
    grp (root, group daemon, in 2h, kn20).
    """
    c = new_cluster(tmp_path_factory.mktemp("show"))
    book(c, "zeta", "-w", "kn[1-3]", user="bob")
    book(c, "mango", "-w", "kn[9-12]", user="alice")
    book(c, "alpha", "-w", "kn[4-5]", "-a", "+1h", user="carol")
    book(c, "grp", "-w", "kn20", "-a", "+2h", "-g", "daemon", user="root")
    return c


def test_show_draws_the_racks_and_the_key_table(busy: Cluster) -> None:
    out = ok(busy.run("show"))
    assert "\x1b[" not in out  # piped: no colour
    cells = rack_cells(out)
    assert sorted(cells) == list(range(1, 21))
    assert {n for n, mark in cells.items() if mark == "a"} == {1, 2, 3}
    assert {n for n, mark in cells.items() if mark == "b"} == {9, 10, 11, 12}
    assert {n for n, mark in cells.items() if mark == " "} == set(range(1, 21)) - {1, 2, 3, 9, 10, 11, 12}

    rows = key_table(out)
    assert rows[0] == dict(zip(COLUMNS, ("", "DOWN", "N/A", "N/A", "N/A", "N/A", "0", ""), strict=True))
    assert rows[1] == dict(
        zip(COLUMNS, ("", "UNRESERVED", "N/A", "N/A", "N/A", "N/A", "13", "kn[4-8,13-20]"), strict=True)
    )
    table = {row["NAME"]: row for row in rows[2:]}
    assert list(table) == ["zeta", "mango", "alpha", "grp"]
    assert [(r["K"], r["OWNER"], r["FLAGS"], r["SIZE"], r["NODES"]) for r in table.values()] == [
        ("a", "bob", "A", "3", "kn[1-3]"),
        ("b", "alice", "AW", "4", "kn[9-12]"),
        ("", "carol", "", "2", "kn[4-5]"),
        ("", "root", "", "1", "kn20"),
    ]
    zeta = reservation(busy, "zeta")
    assert table["zeta"]["START"] == policy(when(zeta["start"]), zone=False)
    assert table["zeta"]["END"] == policy(when(zeta["end"]), zone=False)
    assert re.fullmatch(r"\(times in Europe/Berlin\)", out.splitlines()[-1])


def test_show_writable_flag_is_per_caller(busy: Cluster) -> None:
    def flags(user: str) -> dict[str, str]:
        return {r["NAME"]: r["FLAGS"] for r in reservation_rows(ok(busy.run("show", "-t=false", user=user)))}

    assert flags("bob") == {"zeta": "AW", "mango": "A", "alpha": "", "grp": ""}
    assert flags("daemon") == {"zeta": "A", "mango": "A", "alpha": "", "grp": "W"}
    assert flags("root") == {"zeta": "AW", "mango": "AW", "alpha": "W", "grp": "W"}


def test_show_colour_only_when_asked_or_on_a_terminal(busy: Cluster) -> None:
    assert "\x1b[" in ok(busy.run("show", "-c"))
    assert "\x1b[" not in ok(busy.run("show", "-c=false"))


def test_show_without_diagram(busy: Cluster) -> None:
    out = ok(busy.run("show", "-t=false"))
    assert out.splitlines()[0].split() == list(COLUMNS)
    assert "+---" not in out
    assert rack_cells(out) == {}
    assert [row["NAME"] for row in key_table(out)] == ["UNRESERVED", "zeta", "mango", "alpha", "grp"]


@pytest.mark.parametrize(
    ("args", "user", "expected"),
    [
        ((), "alice", ["zeta", "mango", "alpha", "grp"]),
        (("-r",), "alice", ["grp", "alpha", "mango", "zeta"]),
        (("-n",), "alice", ["alpha", "grp", "mango", "zeta"]),
        (("-n", "-r"), "alice", ["zeta", "mango", "grp", "alpha"]),
        (("-o",), "alice", ["mango", "zeta", "alpha", "grp"]),
        (("-o", "-r"), "alice", ["grp", "alpha", "zeta", "mango"]),
        (("-owner", "o"), "alice", ["zeta", "alpha", "grp"]),
        (("-owner", "alice"), "alice", ["mango"]),
        (("-name", "an"), "alice", ["mango"]),
        (("-group", "daem"), "alice", ["grp"]),
        (("-active",), "alice", ["zeta", "mango"]),
        (("-future",), "alice", ["alpha", "grp"]),
        (("-writable",), "alice", ["mango"]),
        (("-writable",), "daemon", ["grp"]),
        (("-future", "-writable", "-n"), "root", ["alpha", "grp"]),
        (("-errored",), "root", []),
        (("-installed",), "root", []),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_show_filters_and_sorts(busy: Cluster, args: tuple[str, ...], user: str, expected: list[str]) -> None:
    assert names_in(ok(busy.run("show", *args, user=user))) == expected


def test_show_errors_only_prints_nothing_without_errors(busy: Cluster) -> None:
    assert ok(busy.run("show", "-e")) == ""


def test_show_json_shape(busy: Cluster) -> None:
    data = show(busy)
    assert set(data) == {"nodes", "reservations"}
    assert [n["name"] for n in data["nodes"]] == NODES
    for node in data["nodes"]:
        assert set(node) == {"name", "state", "reservation", "bootmode", "properties"}
        assert node["state"] in {"up", "down", "blocked", "unknown"}
        assert node["bootmode"] == "bios"  # no bootmode in the config
        assert node["properties"] == []  # no properties in the config
    holders = {n["name"]: n["reservation"] for n in data["nodes"]}
    assert holders["kn1"] == "zeta"
    assert holders["kn9"] == "mango"
    assert holders["kn4"] is None  # alpha has not started
    assert holders["kn20"] is None

    rows = data["reservations"]
    assert [r["name"] for r in rows] == ["zeta", "mango", "alpha", "grp"]
    for row in rows:
        assert set(row) == SHOW_RESERVATION_KEYS
        when(row["start"])
        when(row["end"])
        assert row["installed"] is False
        assert row["error"] == ""
    assert [r["active"] for r in rows] == [True, True, False, False]
    assert [r["writable"] for r in rows] == [False, True, False, False]
    assert rows[3]["group"] == "daemon"

    filtered = as_json(busy.run("--json", "show", "-name", "an"))
    assert [r["name"] for r in filtered["reservations"]] == ["mango"]
    assert len(filtered["nodes"]) == 20
    assert as_json(busy.run("show", "-json", "-future")) == show(busy, "-future")


def test_show_errors_as_json(busy: Cluster) -> None:
    json.loads(ok(busy.run("show", "-e", "--json")))


# ---------------------------------------------------------------------------------------------- log


def test_every_action_appends_one_log_line(cluster: Cluster) -> None:
    book(cluster, "logged", "-n", "2")
    ok(cluster.run("extend", "-r", "logged", "-t", "30"))
    ok(cluster.run("edit", "-r", "logged", "-c", "quiet"))
    ok(cluster.run("del", "logged", user="root"))
    events = cluster.log_events()
    assert [e["event"] for e in events] == ["created", "extended", "edited", "deleted"]
    assert [e["by"] for e in events] == ["alice", "alice", "alice", "root"]
    for event in events:
        assert event["name"] == "logged"
        assert event["owner"] == "alice"
        assert event["nodes"] == "kn[1-2]"
        assert event["count"] == 2
        assert datetime.fromisoformat(event["time"]).tzinfo is not None
    assert events[1]["minutes"] == 30
    assert events[2]["changed"] == ["kernel_args"]
    assert datetime.fromisoformat(events[1]["end"]) - datetime.fromisoformat(events[0]["end"]) == 30 * MINUTE


def test_values_may_start_with_a_dash_like_go_flags(cluster: Cluster) -> None:
    """Classic igor (Go flags) takes the next word as the value: `-c -quiet` sets the args to "-quiet"."""
    proc = cluster.run("sub", "-r", "dash", *cluster.boot, "-n", "1", "-c", "-quiet", "--json", check=0)
    assert json.loads(proc.stdout)["kernel_args"] == "-quiet"
    proc = cluster.run("extend", "-r", "dash", "-t", "-1h", check=1)
    assert proc.stderr == "igor: duration must be positive, got '-1h' (-1h)\n"


def test_far_future_bookings_cannot_break_show_for_everyone(cluster: Cluster) -> None:
    proc = cluster.run("sub", "-r", "far", *cluster.boot, "-w", "kn20", "-a", "9999-Dec-31-23:00", check=1)
    assert proc.stderr == "igor: igor books at most 10 years ahead: pick an earlier start or a shorter -t\n"
    cluster.run("show", user="bob", check=0)
    cluster.run("sub", "-s", "-n", "2", "-a", "9999-12-31T23:59+00:00", check=1)


def test_show_at_a_past_time_draws_what_held_the_nodes_then(cluster: Cluster) -> None:
    """Finding 11: `igor show -at TIME` answers "what ran then": a reservation deleted since is in the
    table (active, on its nodes) and in the racks at a time it held them; before it started it is not
    active; a future time shows what is booked to hold the nodes then."""
    now = minute_now()
    book(cluster, "gone", "-w", "kn[2-3]", "-t", "3h", "-a", iso(now - 2 * HOUR), user="root")
    ok(cluster.run("del", "gone", user="root"))
    assert "gone" not in names_in(ok(cluster.run("show", "-t=false")))
    then = ok(cluster.run("show", "-at", iso(now - HOUR)))
    local = (now - HOUR).astimezone(BERLIN)
    day = f"{WEEKDAYS[local.weekday()]} {MONTHS[local.month - 1]} {local.day:02d}"
    assert then.splitlines()[0] == f"At {day} {local:%H:%M} {local.tzname()} (past):"
    rows = {r["NAME"]: r for r in reservation_rows(then)}
    assert rows["gone"]["FLAGS"].startswith("A") and rows["gone"]["NODES"] == "kn[2-3]"
    key = rows["gone"]["K"]
    assert re.search(rf"\|\s*2{key}\|\s*3{key}\|", then)  # kn2 and kn3 carry its key letter in the racks
    before = {r["NAME"]: r for r in reservation_rows(ok(cluster.run("show", "-at", iso(now - 150 * MINUTE))))}
    assert not before["gone"]["FLAGS"].startswith("A")
    book(cluster, "later", "-w", "kn7", "-t", "1h", "-a", iso(now + 2 * HOUR))
    ahead = {r["NAME"]: r for r in reservation_rows(ok(cluster.run("show", "-at", iso(now + 150 * MINUTE))))}
    assert ahead["later"]["FLAGS"].startswith("A")
    error(cluster.run("show", "-at", "soonish"), 1, "cannot parse start time 'soonish'", exact=False)
