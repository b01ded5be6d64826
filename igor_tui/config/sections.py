"""The config's sections that need no node list: paths, node naming, rack, policy, tick, power, Cobbler,
liveness. Each is a small frozen value whose defaults come from the key table, with a `from_section()`
that adds only the rules one table row cannot say."""

from __future__ import annotations

import os

from igor_tui.model import Limits
from igor_tui.values import dataclass

from ..typenames import TYPE_CHECKING
from .keys import default
from .reader import Reader
from .zones import load_zone, system_timezone, zone_ok

if TYPE_CHECKING:
    from datetime import tzinfo
    from typing import Self

    from igor_tui.hostlist import NodeNaming

# A sanity bound, not a design limit: a stray digit in `end` should be an error, not 10**9 node names.
MAX_NODES = 100_000
# Node names end up in hostnames, file names and the kn[1-5] range syntax, so the prefix stays plain.
_PREFIX_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
"""A set, not a pattern: compiling `[A-Za-z0-9._-]*` cost every command ~0.4 M instructions."""


def legacy_statedir(tftproot: str) -> str:
    """Where igor kept its private state before it left the TFTP root (`igor setup` moves it out)."""
    return os.path.join(tftproot, "igor")


@dataclass(frozen=True)
class PathSettings:
    """Where igor's files are: the TFTP root nodes read, private state they must not, the action log."""

    tftproot: str = default("tftproot")
    statedir: str = default("statedir")
    contentdir: str = default("contentdir")
    logfile: str = default("logfile")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """statedir (private) and contentdir (served to nodes, so inside the TFTP root unless Cobbler boots
        them: PXELINUX can fetch only what the TFTP server serves)."""
        tftproot = sec.text("tftproot")
        expect = sec.known["tftproot"].expect
        if "tftproot" not in sec.values:
            sec.add(f"tftproot: missing; expected {expect}")
        elif sec.given("tftproot") and not os.path.isabs(tftproot):  # the table lets '' through
            sec.add_bad("tftproot", tftproot, f"is not an absolute path; expected {expect}")
        contentdir = sec.text("contentdir") or os.path.join(legacy_statedir(tftproot), "content")
        if (
            sec.given("contentdir")
            and os.path.isabs(tftproot)
            and not sec.flag("usecobbler")
            and os.path.commonpath([os.path.normpath(tftproot), os.path.normpath(contentdir)])
            != os.path.normpath(tftproot)
        ):
            sec.add_bad(
                "contentdir", contentdir, f"is not inside tftproot {tftproot}, so nodes cannot fetch it"
            )
        statedir = os.path.normpath(sec.text("statedir") or default("statedir"))
        return sec.build(cls, statedir=statedir, contentdir=os.path.normpath(contentdir))


@dataclass(frozen=True)
class NamingSettings:
    """Node names: prefix + number from start to end, zero-padded to padlen digits."""

    prefix: str = default("prefix")
    start: int = default("start")
    end: int = default("end")
    padlen: int = default("padlen")

    @property
    def naming(self) -> NodeNaming:
        """The cluster's node names; built on demand so importing config stays cheap."""
        from igor_tui.hostlist import NodeNaming

        return NodeNaming(self.prefix, self.start, self.end, self.padlen)

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """The table checks start and padlen; end is checked against start here."""
        made = sec.build(cls)
        if not _PREFIX_CHARS.issuperset(made.prefix):
            sec.add_bad("prefix", made.prefix, "may contain only letters, digits, '.', '_' and '-'")
        start, end = made.start, made.end
        if sec.ok("start", "end") and end < start:
            sec.add_bad(
                "end", end, f"is less than start {start}; expected the last node number, at least start"
            )
        elif sec.ok("start", "end") and end - start + 1 > MAX_NODES:
            sec.add_bad(
                "end",
                end,
                f"makes {end - start + 1} nodes from start {start}; at most {MAX_NODES} are supported",
            )
        return made

    def checked_naming(self, sec: Reader) -> NodeNaming | None:
        """The node names, or None when the keys they come from have problems (so no rule that needs
        the node list adds a confusing second problem)."""
        if not sec.ok("prefix", "start", "end", "padlen"):
            return None
        try:
            return self.naming
        except ValueError as err:  # hostlist's own rules, should they ever be stricter than the checks above
            sec.add(f"prefix/start/end/padlen: {err}")
            return None


@dataclass(frozen=True)
class RackSettings:
    """The rack diagram's geometry (0 made classic `show` loop forever, §11.12; the table forbids it)."""

    rackwidth: int = default("rackwidth")
    rackheight: int = default("rackheight")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Nothing beyond the table."""
        return sec.build(cls)


@dataclass(frozen=True)
class PolicySettings:
    """What non-admins may do, who the admins are, the pause message and the zone times are shown in."""

    timelimit: int = default("timelimit")
    nodelimit: int = default("nodelimit")
    extendwithin: int = default("extendwithin")
    pause: str = default("pause")
    admins: tuple[str, ...] = default("admins")
    timezone: str = default("timezone")

    @property
    def limits(self) -> Limits:
        """The site policy the scheduler enforces for non-admins."""
        return Limits(nodelimit=self.nodelimit, timelimit=self.timelimit, extendwithin=self.extendwithin)

    @property
    def tz(self) -> tzinfo:
        """The zone times are shown in; the name was checked at load time, so this cannot fail."""
        return load_zone(self.timezone)

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Users see the pause message in every refusal; a zone igor cannot load would fail every display."""
        pause = sec.text("pause")
        if not pause.isprintable():
            sec.add_bad("pause", pause, "must be one line of printable text (users see it in every refusal)")
        timezone = sec.text("timezone")
        if timezone and not zone_ok(timezone):
            sec.add_bad(
                "timezone", timezone, "is not a known IANA time zone; expected a name such as 'Europe/Berlin'"
            )
        return sec.build(cls, admins=_admins(sec), timezone=timezone or system_timezone())


def _admins(sec: Reader) -> tuple[str, ...]:
    """Admin users and %groups; empty or blank entries would silently match nobody, so they are errors."""
    from .reader import json_type

    raw = sec.raw("admins")
    if not sec.given("admins") or not isinstance(raw, list | tuple):
        return ()
    key = sec.name("admins")
    result: list[str] = []
    for i, entry in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(entry, str):
            sec.add(f"{where}: expected a user name or %group, got {entry!r} ({json_type(entry)})")
        elif not entry.strip("%"):
            sec.add(f"{where}: {entry!r} is empty; expected a user name or %group")
        elif any(c.isspace() for c in entry) or not entry.isprintable():
            sec.add(
                f"{where}: {entry!r} contains whitespace or control characters; "
                "expected a user name or %group"
            )
        else:
            result.append(entry)
    return tuple(result)


@dataclass(frozen=True)
class TickSettings:
    """igor-tick's own guard: how far the wall clock may jump between two runs before it holds teardowns."""

    clockstepminutes: int = default("clockstepminutes")
    heal: bool = default("heal")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Nothing beyond the table."""
        return sec.build(cls)


@dataclass(frozen=True)
class PowerSettings:
    """How nodes are powered: command templates run here or over SSH, timeouts, parallelism, retries."""

    poweroncommand: str = default("poweroncommand")
    poweroffcommand: str = default("poweroffcommand")
    autoreboot: bool = default("autoreboot")
    poweroffatend: bool = default("poweroffatend")
    power: str = default("power")
    powertimeout: int = default("powertimeout")
    powercycledelay: int = default("powercycledelay")
    powersshhost: str = default("powersshhost")
    powersshport: int = default("powersshport")
    powersshuser: str = default("powersshuser")
    powersshpassword: str = default("powersshpassword")
    powersshkey: str = default("powersshkey")
    powersshknownhosts: str = default("powersshknownhosts")
    powersshconcurrency: int = default("powersshconcurrency")
    concurrencylimit: int = default("concurrencylimit")
    commandretries: int = default("commandretries")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """The templates must split like the backend splits them; SSH needs a host, user, key or password."""
        made = sec.build(cls)
        for key in ("poweroncommand", "poweroffcommand"):
            template = sec.text(key)
            if not template:  # most sites set none: shlex (~1 M instructions) only for a template
                continue
            import shlex

            try:
                shlex.split(template)  # the power backend splits it the same way, per node, much later
            except ValueError as err:
                sec.add_bad(key, template, f"cannot be split into a command ({err}); check its quotes")
            else:
                if template.count("%s") != 1:
                    sec.add_bad(key, template, "must contain exactly one %s, where the node name goes")
        if made.power == "ssh":
            for key in ("powersshhost", "powersshuser", "powersshknownhosts"):
                if not sec.text(key) and sec.ok(key):
                    sec.add(f"{key}: missing, but power is 'ssh'; expected {sec.known[key].expect}")
            if not (made.powersshpassword or made.powersshkey):
                sec.add(
                    "powersshpassword/powersshkey: power is 'ssh' but neither a password nor a key is given"
                )
        return made


@dataclass(frozen=True)
class CobblerSettings:
    """Whether Cobbler boots the nodes instead of PXE files, and how igor-tick talks to it."""

    usecobbler: bool = default("usecobbler")
    cobblerdefaultprofile: str = default("cobblerdefaultprofile")
    cobblercommand: str = default("cobblercommand")
    cobblerurl: str = default("cobblerurl")
    cobbleruser: str = default("cobbleruser")
    cobblerpassword: str = default("cobblerpassword")
    cobblertimeout: int = default("cobblertimeout")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """With Cobbler on, nodes need a profile to return to when a reservation ends."""
        made = sec.build(cls)
        if made.usecobbler and not made.cobblerdefaultprofile and sec.ok("cobblerdefaultprofile"):
            sec.add(
                f"{sec.name('cobblerdefaultprofile')}: {made.cobblerdefaultprofile!r} is empty but "
                f"{sec.name('usecobbler')} is true; expected {sec.known['cobblerdefaultprofile'].expect}"
            )
        return made


@dataclass(frozen=True)
class LivenessSettings:
    """How igor-tick tells which nodes are up, and where it looks their names up."""

    liveness: str = default("liveness")
    livenessport: int = default("livenessport")
    livenesstimeout: int = default("livenesstimeout")
    dnsserver: str = default("dnsserver")
    dnsdomain: str = default("dnsdomain")

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Nothing beyond the table."""
        return sec.build(cls)
