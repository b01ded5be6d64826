"""Reminder mails against a real SMTP server on 127.0.0.1 (tests/smtp_server.py).

In-process tests drive IgorService with a frozen clock (the installed igor reads the real clock), through
igor-tick's own entry (`IgorService.tick`) with fake boot backends: minute by minute, exactly the expected
mails arrive, each once. CLI tests run the installed `igor notify` for refusals, --dry-run, the JSON shape,
the sendmail-style command and a real-clock reminder.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, ClusterFactory
from smtp_server import Received, SmtpServer
from test_cli import error, ok

from igor_tui.backends.base import Backends
from igor_tui.backends.fake import FakeBoot
from igor_tui.clock import FrozenClock
from igor_tui.config import parse_config
from igor_tui.content import ContentStore
from igor_tui.errors import ConfigError
from igor_tui.eventlog import EventLog
from igor_tui.identity import StaticDirectory, resolve_caller
from igor_tui.model import Reservation
from igor_tui.service import IgorService, SubmitRequest
from igor_tui.service.notify import due_reminders
from igor_tui.store import MemoryStore

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DIRECTORY = StaticDirectory(
    users={"alice": frozenset({"alice"}), "bob": frozenset({"bob"}), "root": frozenset({"root"})}
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


Factory = Callable[..., IgorService]


@pytest.fixture
def make(tmp_path: Path, smtp: SmtpServer) -> tuple[Factory, FrozenClock]:
    """Services for different users over one store and one frozen clock, mailing through `smtp`."""
    store = MemoryStore()
    clock = FrozenClock(NOW)
    log = str(tmp_path / "log")
    for name in ("k", "i"):
        (tmp_path / name).write_bytes(name.encode())
    content = ContentStore(str(tmp_path / "state" / "content"))

    def factory(user: str = "root", **overrides: Any) -> IgorService:
        raw: dict[str, Any] = {
            "tftproot": str(tmp_path / "tftp"),
            "statedir": str(tmp_path / "state"),
            "prefix": "kn",
            "start": 1,
            "end": 10,
            "logfile": log,
            "timezone": "Europe/Berlin",
            "domain": "example.com",
            "notify": True,
            "notifyleadtimes": [1440, 60],
            "mailhost": "127.0.0.1",
            "mailport": smtp.port,
            "mailtimeout": 5,
            "hosts": {f"kn{i}": {"ip": f"127.0.3.{i}"} for i in range(1, 11)},  # no DNS
        }
        raw.update(overrides)
        config = parse_config(raw)
        caller = resolve_caller(user, config.admins, DIRECTORY)
        return IgorService(
            config,
            store,
            caller,
            clock=clock,
            directory=DIRECTORY,
            content=content,
            events=EventLog(log),
            backends=lambda: Backends(FakeBoot()),
        )

    return factory, clock


def book(svc: IgorService, tmp_path: Path, name: str, nodes: str, after: str, duration: str) -> Reservation:
    return svc.submit(
        SubmitRequest(
            name=name,
            kernel=str(tmp_path / "k"),
            initrd=str(tmp_path / "i"),
            nodes=nodes,
            after=after,
            duration=duration,
        )
    )


def summary(mails: list[Received]) -> list[tuple[str, str]]:
    return sorted((m.message["To"], m.message["Subject"]) for m in mails)


def test_tick_mails_each_reminder_once_with_a_frozen_clock(
    make: tuple[Factory, FrozenClock], smtp: SmtpServer, tmp_path: Path
) -> None:
    factory, clock = make
    alice, bob, tick = factory("alice"), factory("bob"), factory("root")
    book(alice, tmp_path, "soon", "kn1", "+30m", "2h")  # 09:30-11:30: "starting" now, 60 min before end
    book(bob, tmp_path, "long", "kn[2-3]", "", "3d")  # ends in 3 days: 1440 and 60 minutes before
    book(alice, tmp_path, "short", "kn4", "", "2h")  # booked for now: no "starting"; 60 min before its end
    book(alice, tmp_path, "tiny", "kn5", "", "30m")  # shorter than every lead time: nothing

    got: dict[datetime, list[tuple[str, str]]] = {}
    end = NOW + timedelta(days=3) + MINUTE
    while clock.now() < end:
        for _ in range(2):  # a second run in the same minute sends nothing
            report = tick.tick(probe=False)
            assert report.mail_errors == []
        mails = smtp.take()
        if mails:
            got[clock.now()] = summary(mails)
        clock.advance(MINUTE if clock.now() < NOW + 2 * HOUR else 30 * MINUTE)

    expected = {
        NOW: [("alice@example.com", "igor: reservation starting: soon")],
        NOW + HOUR: [("alice@example.com", "igor: reservation ending: short")],
        NOW + 90 * MINUTE: [("alice@example.com", "igor: reservation ending: soon")],
        NOW + timedelta(days=2): [("bob@example.com", "igor: reservation ending: long")],
        NOW + timedelta(days=3) - HOUR: [("bob@example.com", "igor: reservation ending: long")],
    }
    assert got == expected
    # Exactly one more run changes nothing: every reminder was remembered.
    tick.tick(probe=False)
    assert smtp.take() == []


def test_an_overlapping_notify_run_leaves_the_mailing_to_the_one_holding_the_lock(
    make: tuple[Factory, FrozenClock], smtp: SmtpServer, tmp_path: Path
) -> None:
    """Two igor-ticks at once must not mail one reminder twice: the one that finds notify.lock held mails
    nothing and remembers nothing, so the holder (or the next run) sends it exactly once."""
    from igor_tui.locks import hold

    factory, _clock = make
    alice, tick = factory("alice"), factory("root")
    book(alice, tmp_path, "soon", "kn1", "+30m", "2h")
    lock = str(tmp_path / "state" / "notify.lock")
    with hold(lock, flags=os.O_RDWR | os.O_CREAT):
        assert tick.notify().mails == ()
        assert smtp.take() == []
    assert [m.to for m in tick.notify().mails] == ["alice@example.com"]
    assert summary(smtp.take()) == [("alice@example.com", "igor: reservation starting: soon")]


def test_mail_text_lists_nodes_times_in_the_zone_and_how_to_extend(
    make: tuple[Factory, FrozenClock], smtp: SmtpServer, tmp_path: Path
) -> None:
    factory, clock = make
    alice = factory("alice")
    book(alice, tmp_path, "big", "kn[3-6]", "", "25h")
    clock.advance(2 * HOUR)  # 23 hours left of big: the 1440-minute lead time is reached
    book(alice, tmp_path, "soon", "kn[1-2]", "+30m", "2h")
    report = factory("root").notify()
    assert [(m.to, m.ok) for m in report.mails] == [("alice@example.com", True)]
    (mail,) = smtp.take()
    assert mail.sender == "igor@example.com"
    assert mail.recipients == ("alice@example.com",)
    assert mail.message["From"] == "igor@example.com"
    assert mail.message["Subject"] == "igor: reservation updates: big, soon"
    assert mail.body == (
        "Hello alice,\n"
        "\n"
        "Starting within the hour:\n"
        # the date policy's dated form (a mail is read later than it is sent), the zone named once below
        "  soon: kn[1-2], Tue Nov 24 12:30 to Tue Nov 24 14:30\n"
        "\n"
        "Ending soon:\n"
        "  big: kn[3-6], Tue Nov 24 10:00 to Wed Nov 25 11:00 (ends in 23h)\n"
        "\n"
        "To extend a reservation:  igor extend -r NAME -t DURATION\n"
        "  for example:            igor extend -r big -t 1d\n"
        "To release one early:     igor del NAME\n"
        "\n"
        "Times are in Europe/Berlin.\n"
        "\n"
        "-- \n"
        "igor\n"
    )
    events = [json.loads(x) for x in Path(alice.config.logfile).read_text().splitlines()]
    notified = [(e["name"], e["why"], e["to"], e["ok"]) for e in events if e["event"] == "notified"]
    assert notified == [
        ("big", "ending", "alice@example.com", True),
        ("soon", "starting", "alice@example.com", True),
    ]


def test_extension_rearms_the_ending_reminders(
    make: tuple[Factory, FrozenClock], smtp: SmtpServer, tmp_path: Path
) -> None:
    factory, clock = make
    alice, root = factory("alice"), factory("root")
    book(alice, tmp_path, "r", "kn1", "", "3h")
    clock.advance(2 * HOUR)  # 60 minutes left
    root.notify()
    assert summary(smtp.take()) == [("alice@example.com", "igor: reservation ending: r")]
    alice.extend("r", "2h")
    root.notify()
    assert smtp.take() == []  # 3 hours left now: nothing is due
    clock.advance(2 * HOUR)
    root.notify()
    assert summary(smtp.take()) == [("alice@example.com", "igor: reservation ending: r")]


def test_a_refused_mail_is_reported_and_retried_others_still_go(
    make: tuple[Factory, FrozenClock], smtp: SmtpServer, tmp_path: Path
) -> None:
    factory, clock = make
    book(factory("alice"), tmp_path, "a", "kn1", "+10m", "1h")
    book(factory("bob"), tmp_path, "b", "kn2", "+10m", "1h")
    smtp.refuse.add("bob@example.com")
    root = factory("root")
    report = root.tick(probe=False)
    assert report.mailed == ["alice@example.com: a"]
    assert len(report.mail_errors) == 1
    assert report.mail_errors[0].startswith(f"cannot mail bob@example.com through 127.0.0.1:{smtp.port}: ")
    assert report.failed == 1
    assert summary(smtp.take()) == [("alice@example.com", "igor: reservation starting: a")]
    smtp.refuse.clear()
    clock.advance(MINUTE)
    assert root.tick(probe=False).mailed == ["bob@example.com: b"]
    assert summary(smtp.take()) == [("bob@example.com", "igor: reservation starting: b")]


def test_no_server_listening_is_one_error(make: tuple[Factory, FrozenClock], tmp_path: Path) -> None:
    factory, _ = make
    book(factory("alice"), tmp_path, "a", "kn1", "+10m", "1h")
    import socket

    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = factory("root", mailport=port).notify()
    assert [m.ok for m in report.mails] == [False]
    assert report.mails[0].error.startswith(f"cannot mail alice@example.com through 127.0.0.1:{port}: ")


def test_due_reminders_rules() -> None:
    def res(i: int, start: datetime, minutes: int, created: datetime | None = None) -> Reservation:
        return Reservation(
            i, f"r{i}", "u", start, start + timedelta(minutes=minutes), ("kn1",), created=created
        )

    leads = (1440, 60)
    early = NOW - timedelta(days=1)
    cases = [
        res(1, NOW + 59 * MINUTE, 120, early),  # starting (59 < 60)
        res(2, NOW + 60 * MINUTE, 120, early),  # not yet (60 is not < 60)
        res(3, NOW, 120, NOW),  # booked to start now: no starting mail
        res(4, NOW - 10 * HOUR, 11 * 60),  # 60 left: lead 60 (and it is longer than 1440? no)
        res(5, NOW - 2 * HOUR, 2 * 1440),  # 46 h left: nothing
        res(6, NOW - 1440 * MINUTE, 1440 + 30),  # 30 left: both leads reached at once: one reminder
        res(7, NOW - HOUR, 60),  # ended
    ]
    due = {(r.res.id, r.kind): r.keys for r in due_reminders(NOW, cases, leads, set())}
    assert set(due) == {(1, "starting"), (4, "ending"), (6, "ending")}
    assert len(due[(6, "ending")]) == 2
    assert due_reminders(NOW, cases, leads, {k for keys in due.values() for k in keys}) == []


# ------------------------------------------------------------------------------------------ config


def test_config_validates_notify_keys_all_at_once(tmp_path: Path) -> None:
    raw: dict[str, Any] = {
        "tftproot": str(tmp_path),
        "prefix": "kn",
        "start": 1,
        "end": 4,
        "notify": True,
        "notifyleadtimes": [60, 0, "x", 60],
        "mailport": 70000,
        "mailcommand": ["sendmail", ""],
        "mailhost": "127.0.0.1",
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    problems = caught.value.problems
    assert (
        "mailport: 70000 is out of range; expected the SMTP port of mailhost (default 25) (1 to 65535)"
        in problems
    )
    assert "notifyleadtimes[1]: expected a positive number of minutes, got 0 (an integer)" in problems
    assert "notifyleadtimes[2]: expected a positive number of minutes, got 'x' (a string)" in problems
    assert "notifyleadtimes[3]: 60 is listed twice" in problems
    assert "mailcommand[1]: expected a non-empty word of the command, got '' (a string)" in problems
    assert any(p.startswith("domain: missing, but notify is true") for p in problems)
    assert (
        "mailcommand: ['sendmail', ''] must start with the command's absolute path (no PATH lookup)"
        in problems
    )
    assert "mailhost/mailcommand: both are set; give one way to send mail" in problems
    assert len(problems) == 8
    both = dict(raw, notifyleadtimes=[60], mailport=25, mailcommand=["/usr/sbin/sendmail"], domain="x.org")
    with pytest.raises(ConfigError) as caught:
        parse_config(both)
    assert caught.value.problems == ("mailhost/mailcommand: both are set; give one way to send mail",)
    classic = parse_config(dict(raw, notify=False, notifyleadtimes=None, mailport=25, mailcommand=[],
                                expirationleadtime=720) | {"notifyleadtimes": [120]})  # fmt: skip
    assert classic.notifyleadtimes == (120,)
    plain = {
        k: v for k, v in raw.items() if k not in ("notify", "notifyleadtimes", "mailport", "mailcommand")
    }
    assert parse_config(dict(plain, expirationleadtime=720)).notifyleadtimes == (720,)
    assert parse_config(plain).notifyleadtimes == (1440, 60)
    assert parse_config(dict(plain, domain="lab.example")).mailfrom == "igor@lab.example"


# --------------------------------------------------------------------------------- installed igor


@pytest.fixture
def mailing(make_cluster: ClusterFactory, smtp: SmtpServer) -> Cluster:
    return make_cluster(admins=["ops"], domain="example.com", mailhost="127.0.0.1", mailport=smtp.port)


def test_cli_notify_mails_once_and_refuses_non_admins(mailing: Cluster, smtp: SmtpServer) -> None:
    c = mailing
    ok(c.run("sub", "-r", "later", *c.boot, "-w", "kn1", "-a", "+20m", "-t", "1h"))
    error(c.run("notify"), 1, "only admins may notify users")
    dry = ok(c.run("notify", "--dry-run", user="ops"))
    assert dry.startswith("--- would mail alice@example.com\n")
    assert "  later: kn1, " in dry
    assert smtp.take() == []
    assert ok(c.run("notify", user="ops")) == "mailed alice@example.com: later (starting)\n"
    assert summary(smtp.take()) == [("alice@example.com", "igor: reservation starting: later")]
    data = json.loads(ok(c.run("notify", "--json", user="ops")))
    assert data == {"dry_run": False, "mails": []}
    assert smtp.take() == []
    history = json.loads(ok(c.run("history", "later", "--json")))["events"]
    assert [e["event"] for e in history] == ["created", "notified"]
    assert history[1]["details"] == "mailed alice@example.com: starting"


def test_cli_notify_refusals(make_cluster: ClusterFactory, smtp: SmtpServer) -> None:
    no_domain = make_cluster(admins=["ops"])
    error(
        no_domain.run("notify", user="ops"),
        1,
        "set domain in igor.conf to notify users (mail goes to <owner>@<domain>)",
    )
    no_transport = make_cluster(admins=["ops"], domain="example.com")
    error(
        no_transport.run("notify", user="ops"),
        1,
        "set mailhost (SMTP) or mailcommand in igor.conf to notify users",
    )
    error(no_transport.run("notify", "-x", user="ops"), 2, "unknown flag -x (see 'igor notify -h')")


def test_cli_notify_through_a_sendmail_style_command(make_cluster: ClusterFactory, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    tool = tmp_path / "fake-sendmail.py"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"spool = {str(spool)!r}\n"
        "n = len(os.listdir(spool))\n"
        "open(os.path.join(spool, f'{n}.eml'), 'wb').write(sys.stdin.buffer.read())\n"
        "open(os.path.join(spool, f'{n}.argv'), 'w').write(repr(sys.argv[1:]))\n"
    )
    tool.chmod(0o755)
    c = make_cluster(admins=["ops"], domain="example.com", mailcommand=[str(tool), "-t", "-i"])
    ok(c.run("sub", "-r", "later", *c.boot, "-w", "kn1", "-a", "+20m", "-t", "1h"))
    assert ok(c.run("notify", user="ops")) == "mailed alice@example.com: later (starting)\n"
    assert (spool / "0.argv").read_text() == "['-t', '-i']"
    text = (spool / "0.eml").read_text()
    assert "To: alice@example.com\n" in text
    assert "  later: kn1, " in text
    ok(c.run("notify", user="ops"))
    assert sorted(os.listdir(spool)) == ["0.argv", "0.eml"]  # sent once

    failing = tmp_path / "broken-sendmail.sh"
    failing.write_text("#!/bin/sh\necho 'mail queue full' >&2\nexit 75\n")
    failing.chmod(0o755)
    d = make_cluster(admins=["ops"], domain="example.com", mailcommand=[str(failing)])
    ok(d.run("sub", "-r", "later", *d.boot, "-w", "kn1", "-a", "+20m", "-t", "1h"))
    error(
        d.run("notify", user="ops"),
        1,
        f"1 of 1 mail(s) failed: cannot mail alice@example.com: {failing} exited 75: mail queue full",
    )
