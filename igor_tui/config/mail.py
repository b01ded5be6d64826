"""The mail section: `igor notify`'s lead times and transport (SMTP to mailhost, or a sendmail-style argv)."""

from __future__ import annotations

from igor_tui.values import dataclass

from ..typenames import TYPE_CHECKING
from .keys import default
from .reader import Reader, argv_words, json_type

if TYPE_CHECKING:
    from typing import Self

    from igor_tui.hostlist import NodeNaming


@dataclass(frozen=True)
class MailSettings:
    """Who is reminded when, from which address, and how the mail leaves the head node."""

    notify: bool = default("notify")
    notifyleadtimes: tuple[int, ...] = default("notifyleadtimes")
    expirationleadtime: int = default("expirationleadtime")
    domain: str = default("domain")
    mailhost: str = default("mailhost")
    mailport: int = default("mailport")
    mailcommand: tuple[str, ...] = default("mailcommand")
    mailfrom: str = default("mailfrom")
    mailtimeout: int = default("mailtimeout")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """One way to send; with notify on, a domain to address users at and a way to send at all."""
        leads = _lead_times(sec)
        argv = _mail_command(sec)
        made = sec.build(
            cls,
            notifyleadtimes=leads,
            mailcommand=argv,
            mailfrom=sec.text("mailfrom") or (f"igor@{sec.text('domain')}" if sec.text("domain") else ""),
        )
        if made.mailhost and argv:
            sec.add("mailhost/mailcommand: both are set; give one way to send mail")
        if made.notify:
            if not made.domain and sec.ok("domain"):
                sec.add(
                    "domain: missing, but notify is true; expected the users' mail domain, e.g. 'example.com'"
                )
            if not made.mailhost and not argv and sec.ok("mailhost", "mailcommand"):
                sec.add(
                    "mailhost/mailcommand: notify is true but neither an SMTP server nor a mail command "
                    "is given"
                )
        return made


def _lead_times(sec: Reader) -> tuple[int, ...]:
    """Distinct positive minutes, longest first; without the key, classic igor's single lead time."""
    raw = sec.raw("notifyleadtimes")
    if sec.given("notifyleadtimes") and isinstance(raw, list | tuple):
        leads: list[int] = []
        for i, lead in enumerate(raw):
            where = f"{sec.name('notifyleadtimes')}[{i}]"
            if not isinstance(lead, int) or isinstance(lead, bool) or lead <= 0:
                sec.add(f"{where}: expected a positive number of minutes, got {lead!r} ({json_type(lead)})")
            elif lead in leads:
                sec.add(f"{where}: {lead} is listed twice")
            else:
                leads.append(lead)
        return tuple(sorted(leads, reverse=True))
    if sec.number("expirationleadtime") > 0:  # classic igor's single lead time
        return (sec.number("expirationleadtime"),)
    lead_times: tuple[int, ...] = default("notifyleadtimes")
    return lead_times


def _mail_command(sec: Reader) -> tuple[str, ...]:
    """The sendmail-style argv (see reader.argv_words)."""
    return argv_words(sec, "mailcommand")
