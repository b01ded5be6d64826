"""Reminder mails (`igor notify`, and igor-tick with `notify: true`): which are due, their text, and sending.

`due_reminders` is pure: (now, reservations, lead times, what was already sent) -> reminders. Each reminder
has a key that the service stores once the mail went out, so running notify every minute (as igor-tick
does) sends each reminder exactly once; a failed mail is simply due again next time. Keys include the
reservation's start or end, so an extension re-arms the "ending" reminders for the new end.
Mail goes through SMTP (smtplib) or a sendmail-style command run without a shell.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal, Protocol

from .errors import BackendError
from .timeparse import format_duration, format_time_zone

if TYPE_CHECKING:
    from email.message import EmailMessage

    from .hostlist import NodeNaming
    from .model import Reservation

SENT_KEY = "notify.sent"
UPCOMING = timedelta(hours=1)  # classic: starting within the hour


@dataclass(frozen=True, slots=True)
class Reminder:
    """One thing to tell an owner about one reservation; `keys` are remembered once it was mailed."""

    res: Reservation
    kind: Literal["starting", "ending"]
    keys: tuple[str, ...]


def _start_key(res: Reservation) -> str:
    return f"start:{res.id}:{res.start.isoformat()}"


def _end_key(res: Reservation, lead: int) -> str:
    return f"end:{res.id}:{lead}:{res.end.isoformat()}"


def due_reminders(
    now: datetime, reservations: Iterable[Reservation], leads: Sequence[int], sent: Collection[str]
) -> list[Reminder]:
    """The reminders to mail now.

    - starting: the reservation starts within the hour (0 <= start - now < 1 h) and was booked ahead of
      time (one booked to start right away needs no reminder);
    - ending: for each lead time L that the remaining time has reached (end - now <= L), if the
      reservation is longer than L (a 2-hour booking gets no "ends within a day" mail). Several lead
      times reached at once (notify was not running) make one reminder, not several.
    """
    out: list[Reminder] = []
    for res in reservations:
        if res.has_ended(now):
            continue
        if now <= res.start < now + UPCOMING and (res.created is None or res.created < res.start):
            key = _start_key(res)
            if key not in sent:
                out.append(Reminder(res, "starting", (key,)))
        remaining = res.end - now
        reached = [
            _end_key(res, lead)
            for lead in leads
            if remaining <= timedelta(minutes=lead) and res.duration > timedelta(minutes=lead)
        ]
        if reached and any(k not in sent for k in reached):
            out.append(Reminder(res, "ending", tuple(reached)))
    return out


def compose(
    owner: str,
    reminders: Sequence[Reminder],
    *,
    to: str,
    sender: str,
    now: datetime,
    tz: tzinfo,
    naming: NodeNaming,
) -> EmailMessage:
    """One mail per owner listing each reservation's name, nodes, start and end in the display zone, and
    how to extend it."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    from .output import nodes_text

    def line(r: Reminder) -> str:
        res = r.res
        text = (
            f"  {res.name}: {nodes_text(naming, res.nodes)}, "
            f"{format_time_zone(res.start, tz)} to {format_time_zone(res.end, tz)}"
        )
        if r.kind == "ending":
            left = int((res.end - now).total_seconds() // 60)
            text += f" (ends in {format_duration(left)})"
        return text

    starting = [line(r) for r in reminders if r.kind == "starting"]
    ending = [line(r) for r in reminders if r.kind == "ending"]
    body = [f"Hello {owner},", ""]
    if starting:
        body += ["Starting within the hour:", *starting, ""]
    if ending:
        body += ["Ending soon:", *ending, ""]
    example = next((r.res.name for r in reminders if r.kind == "ending"), reminders[0].res.name)
    body += [
        "To extend a reservation:  igor extend -r NAME -t DURATION",
        f"  for example:            igor extend -r {example} -t 1d",
        "To release one early:     igor del NAME",
        "",
        f"Times are in {getattr(tz, 'key', None) or 'the cluster zone'}.",
        "",
        "-- ",
        "igor",
    ]
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    what = "starting" if starting and not ending else "ending" if ending and not starting else "updates"
    names = ", ".join(dict.fromkeys(r.res.name for r in reminders))
    msg["Subject"] = f"igor: reservation {what}: {names}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content("\n".join(body) + "\n")
    return msg


class Mailer(Protocol):
    """Delivers one message or raises BackendError naming the recipient and the transport."""

    def send(self, msg: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """Plain SMTP to a relay (no login: the site's MTA on localhost or the mail hub)."""

    host: str
    port: int = 25
    timeout: float = 30.0

    def send(self, msg: EmailMessage) -> None:
        import smtplib

        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as err:
            raise BackendError(
                f"cannot mail {msg['To']} through {self.host}:{self.port}: {_one_line(str(err))}"
            ) from None


@dataclass(frozen=True, slots=True)
class CommandMailer:
    """A sendmail-style command (argv, no shell) that reads the message, headers included, on stdin."""

    argv: tuple[str, ...]
    timeout: float = 30.0

    def send(self, msg: EmailMessage) -> None:
        import subprocess

        command = " ".join(self.argv)
        try:
            proc = subprocess.run(
                list(self.argv),
                input=msg.as_bytes(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"cannot mail {msg['To']}: {command} took more than {self.timeout:g}s"
            ) from None
        except OSError as err:
            raise BackendError(f"cannot mail {msg['To']}: {command}: {err.strerror}") from None
        if proc.returncode != 0:
            detail = _one_line(proc.stderr.decode(errors="replace"))
            raise BackendError(
                f"cannot mail {msg['To']}: {command} exited {proc.returncode}"
                + (f": {detail}" if detail else "")
            )


def _one_line(text: str) -> str:
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return lines[0][:200] if lines else ""
