"""Reminder mails (`igor notify`, and igor-tick with `notify: true`): which are due, their text, and sending.

`due_reminders` is pure: (now, reservations, lead times, what was already sent) -> reminders. Each reminder
has a key that the service stores once the mail went out, so running notify every minute (as igor-tick
does) sends each reminder exactly once; a failed mail is simply due again next time. Keys include the
reservation's start or end, so an extension re-arms the "ending" reminders for the new end.
Mail goes through SMTP (smtplib) or a sendmail-style command run without a shell.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal, Protocol

from ..dates import when_text
from ..errors import BackendError, IgorError, ValidationError
from ..timeparse import format_duration
from ..values import dataclass, replace

if TYPE_CHECKING:
    from email.message import EmailMessage

    from ..model import Reservation
    from .facade import IgorService

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
    nodes: Callable[[tuple[str, ...]], str],
) -> EmailMessage:
    """One mail per owner listing each reservation's name, nodes, start and end in the display zone, and
    how to extend it. `nodes` writes a node list (the service's, which survives nodes the config no
    longer has)."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    def line(r: Reminder) -> str:
        res = r.res
        text = (
            f"  {res.name}: {nodes(res.nodes)}, "
            # dated: a mail is read later than it is sent, so "08:53" alone would not say which day
            f"{when_text(res.start, tz, now, dated=True)} to {when_text(res.end, tz, now, dated=True)}"
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


# ------------------------------------------------------------------------------ the service's part


@dataclass(frozen=True, slots=True)
class MailResult:
    """One owner's reminder mail: to whom, about what, the text, and whether it went out."""

    to: str
    reminders: tuple[Reminder, ...]
    text: str
    ok: bool = True
    error: str = ""


@dataclass(frozen=True, slots=True)
class NotifyReport:
    """What `notify` did: one entry per owner mailed (or, with dry_run, that would be)."""

    dry_run: bool = False
    mails: tuple[MailResult, ...] = ()

    @property
    def failed(self) -> int:
        return sum(1 for m in self.mails if not m.ok)


def notify(svc: IgorService, *, dry_run: bool = False) -> NotifyReport:
    """Mail owners about reservations starting within the hour or reaching a lead time before their end
    (admins; igor-tick runs it each minute with `notify: true`). Each reminder is sent once: it is
    recorded in the store after its mail went out, and a failed mail is due again next run. No mail
    is sent while the store lock is held."""
    svc._require_admin("notify users")
    cfg = svc.config
    if not cfg.domain:
        raise ValidationError("set domain in igor.conf to notify users (mail goes to <owner>@<domain>)")
    mailer = mailer_for(svc)
    now = svc.now()
    mails: list[MailResult] = []
    with notify_lock(svc) as alone:
        if not alone:  # another notify (an overlapping igor-tick) is already mailing
            return NotifyReport(dry_run=dry_run)
        with svc.store.transaction() as tx:
            live = [r for r in tx.reservations() if not r.has_ended(now)]
            sent: dict[str, str] = tx.get_value(SENT_KEY) or {}
            ids = {str(r.id) for r in live}
            kept = {k: v for k, v in sent.items() if k.split(":")[1] in ids}
            if kept != sent and not dry_run:  # forget reminders of reservations that are gone
                tx.set_value(SENT_KEY, kept)
        due = due_reminders(now, live, cfg.notifyleadtimes, kept)
        by_owner: dict[str, list[Reminder]] = {}
        for reminder in due:
            by_owner.setdefault(reminder.res.owner, []).append(reminder)
        for owner, reminders in sorted(by_owner.items()):
            mails.append(mail_owner(svc, owner, reminders, mailer=mailer, now=now, dry_run=dry_run))
        delivered = [k for m in mails if m.ok and not dry_run for r in m.reminders for k in r.keys]
        if delivered:
            with svc.store.transaction() as tx:
                sent = tx.get_value(SENT_KEY) or {}
                sent.update(dict.fromkeys(delivered, now.isoformat()))
                tx.set_value(SENT_KEY, sent)
    return NotifyReport(dry_run=dry_run, mails=tuple(mails))


def mailer_for(svc: IgorService) -> Mailer:
    cfg = svc.config
    if cfg.mailhost:
        return SmtpMailer(cfg.mailhost, cfg.mailport, cfg.mailtimeout)
    if cfg.mailcommand:
        return CommandMailer(cfg.mailcommand, cfg.mailtimeout)
    raise ValidationError("set mailhost (SMTP) or mailcommand in igor.conf to notify users")


def mail_owner(
    svc: IgorService,
    owner: str,
    reminders: list[Reminder],
    *,
    mailer: Mailer,
    now: datetime,
    dry_run: bool,
) -> MailResult:
    """Compose and (unless dry_run) send one owner's mail; a failure is reported, not raised, so one
    bad address does not keep the other owners from their reminders."""
    to = f"{owner}@{svc.config.domain}"
    msg = compose(
        owner,
        reminders,
        to=to,
        sender=svc.config.mailfrom,
        now=now,
        tz=svc.config.tz,
        nodes=svc._nodes_text,
    )
    result = MailResult(to=to, reminders=tuple(reminders), text=msg.as_string())
    if dry_run:
        return result
    try:
        mailer.send(msg)
    except IgorError as err:
        result = replace(result, ok=False, error=str(err))
    for r in reminders:
        svc.events.append(
            svc.clock.now(),
            "notified",
            by=svc.caller.user,
            id=r.res.id,
            name=r.res.name,
            to=to,
            why=r.kind,
            ok=result.ok,
            error=result.error,
        )
    return result


@contextmanager
def notify_lock(svc: IgorService) -> Iterator[bool]:
    """True if this is the only notify run now: two overlapping runs must not mail the same reminder."""
    from ..locks import LockBusy, hold

    path = os.path.join(svc.config.statedir, "notify.lock")
    with contextlib.ExitStack() as stack:
        try:
            os.makedirs(svc.config.statedir, exist_ok=True)
            stack.enter_context(hold(path, flags=os.O_RDWR | os.O_CREAT, mode=0o640))
        except LockBusy:  # another notify run holds it
            yield False
            return
        except OSError:  # no state directory to lock in (an in-memory store): nothing else can run
            yield True
            return
        yield True
