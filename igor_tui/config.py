"""Read igor.conf (classic igor's JSON keys plus igor-tui's own) into one validated, frozen Config."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import types
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from igor_tui.errors import ConfigError
from igor_tui.model import Limits
from igor_tui.values import dataclass

if TYPE_CHECKING:
    from igor_tui.hostlist import NodeNaming
    from igor_tui.trust import Principal

DEFAULT_CONFIG_PATH = "/etc/igor.conf"
CONFIG_ENV = "IGOR_CONFIG"
DEFAULT_RACKWIDTH = 8
DEFAULT_RACKHEIGHT = 4
HIGHEST_VLAN = 4094
# A sanity bound, not a design limit: a stray digit in `end` should be an error, not 10**9 node names.
MAX_NODES = 100_000
SUPPORTED_NETWORKS = ("", "arista")

_Kind = Literal["str", "int", "bool", "node_map", "hosts", "admins", "object", "list", "bootmode"]

# Every accepted key (lower case), its JSON kind and what a valid value looks like; the descriptions end
# up in problem messages, so they are written for the admin who has to fix the file.
_KEYS: dict[str, tuple[_Kind, str]] = {
    "tftproot": ("str", "the absolute path of the TFTP root (the directory holding pxelinux.cfg)"),
    "prefix": ("str", "the node name prefix, e.g. 'kn'"),
    "start": ("int", "the first node number, 0 or more"),
    "end": ("int", "the last node number, at least start"),
    "padlen": ("int", "the zero-padding width of node numbers, 0 or more"),
    "rackwidth": ("int", "a positive number of nodes per rack row in the diagram"),
    "rackheight": ("int", "a positive number of rows per rack in the diagram"),
    "logfile": ("str", "the absolute path of the action log, or '' for none"),
    "timelimit": ("int", "the longest reservation for non-admins in minutes, 0 for unlimited"),
    "nodelimit": ("int", "the most nodes per reservation for non-admins, 0 for unlimited"),
    "extendwithin": ("int", "minutes before the end within which extend is allowed, 0 for any time"),
    "usecobbler": ("bool", "whether Cobbler manages boot profiles instead of PXE files"),
    "cobblerdefaultprofile": ("str", "the Cobbler profile nodes return to when a reservation ends"),
    "poweroncommand": ("str", "a command template with exactly one %s for the node name, or ''"),
    "poweroffcommand": ("str", "a command template with exactly one %s for the node name, or ''"),
    "autoreboot": ("bool", "whether to power-cycle nodes when a reservation starts"),
    "network": ("str", "'' (no segmentation) or 'arista'"),
    "vlan_min": ("int", "the first VLAN of the pool, 1 to 4094"),
    "vlan_max": ("int", "the last VLAN of the pool, vlan_min to 4094"),
    "networkuser": ("str", "the switch user name"),
    "networkpassword": ("str", "the switch password"),
    "network_url": ("str", "the switch eAPI address host:port/command-api"),
    "node_map": ("node_map", "an object mapping node names to switch ports, e.g. {'kn1': 'Et1/1'}"),
    "dnsserver": ("str", "a DNS server address, or ''"),
    "domain": ("str", "the mail domain for notifications, or ''"),
    "expirationleadtime": ("int", "minutes before expiry to notify, 0 or more"),
    "concurrencylimit": ("int", "the most external commands run at once, 0 for unlimited"),
    "commandretries": ("int", "extra attempts per failed external command, 0 or more"),
    "pause": ("str", "'' or the message shown while igor is paused"),
    "advanced": ("object", "an object (accepted for classic compatibility and ignored)"),
    "statedir": ("str", "the absolute path of igor's private state directory (default /var/lib/igor)"),
    "contentdir": ("str", "the absolute path, inside tftproot, of the kernel/initrd copies nodes fetch"),
    "clockstepminutes": ("int", "minutes the wall clock may jump ahead between two ticks, 1 to 1440"),
    "hosts": ("hosts", "an object mapping node names to {'ip': ..., 'mac': ...}"),
    "bootmode": (
        "bootmode",
        "'bios' (default), 'uefi', or an object mapping node ranges to modes, e.g. {'kn[1-64]': 'uefi'}",
    ),
    "admins": ("admins", "a list of user names and %group entries"),
    "timezone": ("str", "an IANA time zone name such as 'Europe/Berlin' (default: the system's zone)"),
    # igor-tick: power
    "poweroffatend": ("bool", "whether to power nodes off when a reservation ends"),
    "power": ("str", "'command' (run the templates here) or 'ssh' (run them on powersshhost)"),
    "powertimeout": ("int", "seconds a power command may take, at least 1 (default 30)"),
    "powercycledelay": ("int", "seconds between off and on in a power cycle, 0 or more (default 5)"),
    "powersshhost": ("str", "the management host power commands run on when power is 'ssh'"),
    "powersshport": ("int", "the SSH port of powersshhost (default 22)"),
    "powersshuser": ("str", "the SSH user on powersshhost"),
    "powersshpassword": ("str", "the SSH password (or key passphrase) for powersshhost"),
    "powersshkey": ("str", "the absolute path of an SSH private key for powersshhost, or ''"),
    "powersshknownhosts": ("str", "the absolute path of a known_hosts file holding powersshhost's key"),
    "powersshconcurrency": ("int", "power commands run at once over SSH, 1 to 10 (default 8)"),
    # igor-tick: Cobbler
    "cobblercommand": ("str", "the cobbler command to run (default 'cobbler')"),
    "cobblerurl": ("str", "Cobbler's XML-RPC URL (faster than the command), or '' to use the command"),
    "cobbleruser": ("str", "the Cobbler XML-RPC user (default 'cobbler')"),
    "cobblerpassword": ("str", "the Cobbler XML-RPC password"),
    "cobblertimeout": ("int", "seconds a Cobbler call may take, at least 1 (default 60)"),
    # igor-tick: switch and liveness
    "network_timeout": ("int", "seconds to wait for the switch, at least 1 (default 10)"),
    "network_verify_tls": ("bool", "whether to check the switch's https certificate (default true)"),
    "network_ca_file": ("str", "the absolute path of a PEM bundle for the switch's certificate, or ''"),
    "liveness": ("str", "how igor-tick checks nodes are up: 'tcp' (default), 'ping' or 'none'"),
    "livenessport": ("int", "the TCP port probed for liveness (default 22)"),
    "livenesstimeout": ("int", "milliseconds to wait for a node to answer, at least 1 (default 500)"),
    "dnsdomain": ("str", "a domain appended to node names for DNS lookups, or ''"),
    # igor notify (and igor-tick with notify: true)
    "notify": ("bool", "whether igor-tick mails reminders to owners each run (default false)"),
    "notifyleadtimes": ("list", "a list of minutes before a reservation's end to remind its owner"),
    "mailhost": ("str", "the SMTP server to send reminders through, or '' to use mailcommand"),
    "mailport": ("int", "the SMTP port of mailhost (default 25)"),
    "mailcommand": ("list", "a sendmail-style argv list, e.g. ['/usr/sbin/sendmail', '-t'], or [] for none"),
    "mailfrom": ("str", "the sender address of reminders (default igor@<domain>)"),
    "mailtimeout": ("int", "seconds to wait for the mail server or command, at least 1 (default 30)"),
}
_HOST_KEYS: dict[str, tuple[_Kind, str]] = {
    "ip": ("str", "an IPv4 address such as '10.0.0.1'"),
    "mac": ("str", "a MAC address such as '52:54:00:00:00:01'"),
}
_KIND_WORDS: dict[_Kind, str] = {
    "str": "a string",
    "int": "an integer",
    "bool": "true or false",
    "node_map": "an object",
    "hosts": "an object",
    "admins": "a list",
    "object": "an object",
    "list": "a list",
    "bootmode": "a string or an object",
}
_SECRET_KEYS = frozenset({"networkpassword", "powersshpassword", "cobblerpassword"})
_NON_NEGATIVE = (
    "timelimit",
    "nodelimit",
    "extendwithin",
    "expirationleadtime",
    "concurrencylimit",
    "commandretries",
)
_MAC = re.compile(r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}")
# Node names end up in hostnames, file names and the kn[1-5] range syntax, so the prefix stays plain.
_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
_SHOW_LIMIT = 80


@dataclass(frozen=True, slots=True)
class HostAddress:
    """Where a node lives on the boot network, so PXE/DHCP files need no DNS lookup (classic bug §11.9)."""

    ip: str = ""
    mac: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything igor.conf says, validated once so no later code has to re-check or guess a default."""

    path: str
    tftproot: str
    prefix: str
    start: int
    end: int
    padlen: int
    rackwidth: int
    rackheight: int
    logfile: str
    timelimit: int
    nodelimit: int
    extendwithin: int
    usecobbler: bool
    cobblerdefaultprofile: str
    poweroncommand: str
    poweroffcommand: str
    autoreboot: bool
    network: str
    vlan_min: int
    vlan_max: int
    networkuser: str
    networkpassword: str
    network_url: str
    node_map: Mapping[str, str]
    dnsserver: str
    domain: str
    expirationleadtime: int
    concurrencylimit: int
    commandretries: int
    pause: str
    statedir: str
    hosts: Mapping[str, HostAddress]
    contentdir: str
    admins: tuple[str, ...]
    timezone: str
    poweroffatend: bool = False
    power: str = "command"
    powertimeout: int = 30
    powercycledelay: int = 5
    powersshhost: str = ""
    powersshport: int = 22
    powersshuser: str = ""
    powersshpassword: str = ""
    powersshkey: str = ""
    powersshknownhosts: str = ""
    powersshconcurrency: int = 8
    cobblercommand: str = "cobbler"
    cobblerurl: str = ""
    cobbleruser: str = "cobbler"
    cobblerpassword: str = ""
    cobblertimeout: int = 60
    network_timeout: int = 10
    clockstepminutes: int = 10
    network_verify_tls: bool = True
    network_ca_file: str = ""
    liveness: str = "tcp"
    livenessport: int = 22
    livenesstimeout: int = 500
    dnsdomain: str = ""
    notify: bool = False
    notifyleadtimes: tuple[int, ...] = (1440, 60)
    mailhost: str = ""
    mailport: int = 25
    mailcommand: tuple[str, ...] = ()
    mailfrom: str = ""
    mailtimeout: int = 30
    # `bootmode` as the set of nodes that boot UEFI (see bootmode.py); every other node boots legacy BIOS.
    bootmode: frozenset[str] = frozenset()

    def boot_mode(self, node: str) -> str:
        """'bios' or 'uefi': which netboot files igor writes for `node` and what show/--json report."""
        return "uefi" if node in self.bootmode else "bios"

    @property
    def naming(self) -> NodeNaming:
        """The cluster's node names; built on demand so importing config stays cheap."""
        from igor_tui.hostlist import NodeNaming

        return NodeNaming(self.prefix, self.start, self.end, self.padlen)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The zone times are shown in; the name was checked at load time, so this cannot fail."""
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def limits(self) -> Limits:
        """The site policy the scheduler enforces for non-admins."""
        return Limits(nodelimit=self.nodelimit, timelimit=self.timelimit, extendwithin=self.extendwithin)


def config_path(cli_value: str | None, env: Mapping[str, str]) -> str:
    """Pick the config file: --config wins, then $IGOR_CONFIG, then /etc/igor.conf (empty means unset)."""
    if cli_value:
        return cli_value
    from_env = env.get(CONFIG_ENV, "")
    if from_env:
        return from_env
    return DEFAULT_CONFIG_PATH


def _zone_ok(name: str) -> bool:
    """True if zoneinfo can load `name`; every failure mode (bad key, missing file, odd path) is a no."""
    if not name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _after_zoneinfo(path: str) -> str:
    """'/usr/share/zoneinfo/posix/Europe/Berlin' -> 'Europe/Berlin'; '' outside a zoneinfo tree."""
    marker = "zoneinfo/"
    if marker not in path:
        return ""
    name = path.rsplit(marker, 1)[1]
    return name.removeprefix("posix/")


def system_timezone(
    *,
    env: Mapping[str, str] | None = None,
    etc_timezone: str = "/etc/timezone",
    localtime: str = "/etc/localtime",
) -> str:
    """IANA name of the local zone, so displayed times match the wall clock when igor.conf names none.

    Order: $TZ if it names a zone (a leading ':' or a zoneinfo path is accepted), then /etc/timezone, then
    the target of the /etc/localtime symlink, else "UTC". The keyword arguments exist for tests.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    tz = environ.get("TZ", "").strip().removeprefix(":")
    if tz.startswith("/"):
        tz = _after_zoneinfo(tz)
    if _zone_ok(tz):
        return tz
    try:
        with open(etc_timezone, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    if lines and _zone_ok(lines[0].strip()):
        return lines[0].strip()
    try:
        target = os.readlink(localtime)
    except OSError:
        target = ""
    name = _after_zoneinfo(target)
    if _zone_ok(name):
        return name
    return "UTC"


def _json_type(value: object) -> str:
    """The JSON name of a value's type, because admins edit JSON, not Python."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__


def _show(key: str, value: object) -> str:
    """repr of a bad value, shortened, and never the password itself."""
    if key in _SECRET_KEYS:
        return "<hidden>"
    text = repr(value)
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 3] + "..."
    return text


def _kind_ok(kind: _Kind, value: object) -> bool:
    """Strict JSON typing: bool is not an integer and an integer is not a bool (classic Go agreed)."""
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("admins", "list"):
        return isinstance(value, list | tuple)
    if kind == "bootmode":
        return isinstance(value, str | Mapping)
    return isinstance(value, Mapping)


class _Section:
    """One JSON object matched case-insensitively against a known key set, collecting problems as it goes."""

    def __init__(
        self,
        raw: Mapping[object, object],
        known: Mapping[str, tuple[_Kind, str]],
        problems: list[str],
        where: str = "",
        unknown_hint: str = "not an igor.conf key (see igor.conf.example)",
    ) -> None:
        self.known = known
        self.problems = problems
        self.where = where
        self.values: dict[str, object] = {}
        self.spelling: dict[str, str] = {}
        self.bad: set[str] = set()
        for key, value in raw.items():
            if not isinstance(key, str):
                self.add(f"key {key!r} is not a string; expected one of the names in igor.conf.example")
                continue
            if key.startswith("#"):
                continue  # a comment, see igor.conf.example
            canon = key.lower()
            if canon not in known:
                import difflib  # only for a config with mistakes: every igor command reads the config

                close = difflib.get_close_matches(canon, list(known), n=1)
                hint = f"did you mean {close[0]!r}?" if close else unknown_hint
                self.add(f"unknown key {key!r}: {hint}")
                continue
            if canon in self.values:
                self.add(
                    f"keys {self.spelling[canon]!r} and {key!r} are the same key (keys are matched "
                    "case-insensitively): keep one"
                )
                continue
            self.values[canon] = value
            self.spelling[canon] = key
            kind, expect = known[canon]
            if not _kind_ok(kind, value):
                got = f"got {_show(canon, value)} ({_json_type(value)})"
                self.add(f"{self.name(canon)}: expected {_KIND_WORDS[kind]} ({expect}), {got}")
                self.bad.add(canon)

    def add(self, problem: str) -> None:
        """Prefix nested problems with where they are, e.g. hosts['kn1']."""
        self.problems.append(f"{self.where}: {problem}" if self.where else problem)

    def name(self, key: str) -> str:
        """The key as the admin wrote it, so they can find it in the file."""
        return self.spelling.get(key, key)

    def given(self, key: str) -> bool:
        """Present and of the right type."""
        return key in self.values and key not in self.bad

    def ok(self, *keys: str) -> bool:
        """None of `keys` already has a problem, so a cross-check will not pile a second one on."""
        return not any(key in self.bad for key in keys)

    def text(self, key: str, default: str = "") -> str:
        """The string value of `key`, or `default` when absent or of the wrong type."""
        value = self.values.get(key)
        return value if self.given(key) and isinstance(value, str) else default

    def number(self, key: str, default: int = 0) -> int:
        """The integer value of `key`, or `default` when absent or of the wrong type."""
        value = self.values.get(key)
        return value if self.given(key) and isinstance(value, int) else default

    def flag(self, key: str, default: bool = False) -> bool:
        """The boolean value of `key`, or `default` when absent or of the wrong type."""
        value = self.values.get(key)
        return value if self.given(key) and isinstance(value, bool) else default


def _add_bad(sec: _Section, key: str, value: object, why: str) -> None:
    """Record a key whose type is right but whose value is not, naming the key and the value."""
    sec.add(f"{sec.name(key)}: {_show(key, value)} {why}")
    sec.bad.add(key)


def _node_map(sec: _Section, naming: NodeNaming | None) -> dict[str, str]:
    """node -> switch port, keyed by canonical node name (kn7 and kn007 are one node on a padded cluster)."""
    raw = sec.values.get("node_map")
    if not sec.given("node_map") or not isinstance(raw, Mapping):
        return {}
    key = sec.name("node_map")
    result: dict[str, str] = {}
    written: dict[str, str] = {}
    for node, port in raw.items():
        if not isinstance(port, str) or not port:
            shown = f"{port!r} ({_json_type(port)})"
            sec.add(f"{key}[{node!r}]: expected a switch port name such as 'Et1/1', got {shown}")
            sec.bad.add("node_map")
            continue
        name = _canonical(naming, str(node))
        if name in written:
            sec.add(f"{key}: {written[name]!r} and {node!r} are the same node {name}: keep one")
            sec.bad.add("node_map")
            continue
        written[name] = str(node)
        result[name] = port
    return result


def _canonical(naming: NodeNaming | None, node: str) -> str:
    """The stored spelling of a node name when it is a node of the cluster, else the name unchanged."""
    number = naming.number(node) if naming is not None else None
    return node if naming is None or number is None else naming.name(number)


def _hosts(sec: _Section, naming: NodeNaming | None, problems: list[str]) -> dict[str, HostAddress]:
    """Fixed addresses per node; each must be a cluster node and each address must be unique."""
    raw = sec.values.get("hosts")
    if not sec.given("hosts") or not isinstance(raw, Mapping):
        return {}
    key = sec.name("hosts")
    result: dict[str, HostAddress] = {}
    seen_ip: dict[str, str] = {}
    seen_mac: dict[str, str] = {}
    for node, entry in raw.items():
        where = f"{key}[{node!r}]"
        if naming is not None and (not isinstance(node, str) or naming.number(node) is None):
            problems.append(f"{where}: {node!r} is not a node of the cluster {naming.describe()}")
        name = _canonical(naming, str(node))
        if name in result:
            problems.append(f"{key}: {node!r} and another entry name the same node {name}: keep one")
            continue
        if not isinstance(entry, Mapping):
            problems.append(
                f"{where}: expected an object, for example {{'ip': '10.0.0.1', 'mac': '52:54:00:00:00:01'}}, "
                f"got {_show('hosts', entry)} ({_json_type(entry)})"
            )
            continue
        sub = _Section(entry, _HOST_KEYS, problems, where, "expected only 'ip' and 'mac'")
        ip = sub.text("ip")
        mac = sub.text("mac")
        if ip:
            import ipaddress  # only sites that list their hosts pay for it

            try:
                ip = str(ipaddress.IPv4Address(ip))
            except ValueError:
                sub.add(
                    f"{sub.name('ip')}: {ip!r} is not an IPv4 address; "
                    "expected a dotted quad, for example '10.0.0.1'"
                )
                ip = ""
        if mac:
            if _MAC.fullmatch(mac):
                mac = mac.lower().replace("-", ":")
            else:
                sub.add(
                    f"{sub.name('mac')}: {mac!r} is not a MAC address; "
                    "expected six hex pairs like '52:54:00:00:00:01'"
                )
                mac = ""
        for value, seen, what in ((ip, seen_ip, "ip"), (mac, seen_mac, "mac")):
            if value and value in seen:
                problems.append(f"{key}: {what} {value!r} is given for both {seen[value]!r} and {node!r}")
            elif value:
                seen[value] = str(node)
        result[name] = HostAddress(ip=ip, mac=mac)
    return result


def _admins(sec: _Section) -> tuple[str, ...]:
    """Admin users and %groups; empty or blank entries would silently match nobody, so they are errors."""
    raw = sec.values.get("admins")
    if not sec.given("admins") or not isinstance(raw, list | tuple):
        return ()
    key = sec.name("admins")
    result: list[str] = []
    for i, entry in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(entry, str):
            sec.add(f"{where}: expected a user name or %group, got {entry!r} ({_json_type(entry)})")
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


def _missing_nodes(naming: NodeNaming, mapped: Mapping[str, str]) -> str:
    """The cluster nodes absent from node_map in range form, so a big gap stays one short line."""
    return naming.compress(node for node in naming.all() if node not in mapped)


def parse_config(data: object, *, path: str = "<memory>", file_mode: int | None = None) -> Config:
    """Validate parsed igor.conf JSON and build a Config, raising one ConfigError that lists every problem.

    Pure apart from looking up the system zone when `timezone` is not set. `file_mode` is the file's
    permission bits (None when unknown) and is only used to refuse a world-readable switch password.
    """
    return _parse(data, path=path, file_mode=file_mode, problems=[])


def _parse(data: object, *, path: str, file_mode: int | None, problems: list[str]) -> Config:
    """parse_config, starting from problems load_config already found (duplicate keys)."""
    if not isinstance(data, Mapping):
        problems.append(
            f"top level: expected a JSON object {{...}}, got {_show('', data)} ({_json_type(data)})"
        )
        raise ConfigError(f"{path}: {len(problems)} problem(s) in config", problems=tuple(problems))
    sec = _Section(data, _KEYS, problems)

    # Paths.
    tftproot = sec.text("tftproot")
    if "tftproot" not in sec.values:
        sec.add(f"tftproot: missing; expected {_KEYS['tftproot'][1]}")
    elif sec.given("tftproot") and not os.path.isabs(tftproot):
        _add_bad(sec, "tftproot", tftproot, "is not an absolute path; expected " + _KEYS["tftproot"][1])
    statedir, contentdir = _state_paths(sec, tftproot)

    # Node naming.
    prefix = sec.text("prefix")
    if not _PREFIX.fullmatch(prefix):
        _add_bad(sec, "prefix", prefix, "may contain only letters, digits, '.', '_' and '-'")
    start, end, padlen = sec.number("start"), sec.number("end"), sec.number("padlen")
    if start < 0:
        _add_bad(sec, "start", start, f"is negative; expected {_KEYS['start'][1]}")
    if padlen < 0:
        _add_bad(sec, "padlen", padlen, f"is negative; expected {_KEYS['padlen'][1]}")
    if sec.ok("start", "end") and end < start:
        _add_bad(
            sec, "end", end, f"is less than start {start}; expected the last node number, at least start"
        )
    elif sec.ok("start", "end") and end - start + 1 > MAX_NODES:
        _add_bad(
            sec,
            "end",
            end,
            f"makes {end - start + 1} nodes from start {start}; at most {MAX_NODES} are supported",
        )
    naming: NodeNaming | None = None
    if sec.ok("prefix", "start", "end", "padlen"):
        from igor_tui.hostlist import NodeNaming

        try:
            naming = NodeNaming(prefix, start, end, padlen)
        except ValueError as err:  # hostlist's own rules, should they ever be stricter than the checks above
            sec.add(f"prefix/start/end/padlen: {err}")

    # Rack diagram (0 made classic `show` loop forever, §11.12).
    rack: dict[str, int] = {}
    for key, default in (("rackwidth", DEFAULT_RACKWIDTH), ("rackheight", DEFAULT_RACKHEIGHT)):
        rack[key] = sec.number(key, default)
        if sec.given(key) and rack[key] <= 0:
            _add_bad(
                sec, key, rack[key], f"is not positive; expected {_KEYS[key][1]} (omit it for {default})"
            )

    # Limits and counters.
    for key in _NON_NEGATIVE:
        if sec.number(key) < 0:
            _add_bad(sec, key, sec.number(key), f"is negative; expected {_KEYS[key][1]}")

    # Power templates.
    for key in ("poweroncommand", "poweroffcommand"):
        template = sec.text(key)
        try:
            shlex.split(template)  # the power backend splits it the same way, per node, much later
        except ValueError as err:
            _add_bad(sec, key, template, f"cannot be split into a command ({err}); check its quotes")
        else:
            if template and template.count("%s") != 1:
                _add_bad(sec, key, template, "must contain exactly one %s, where the node name goes")
    pause = sec.text("pause")
    if not pause.isprintable():
        _add_bad(sec, "pause", pause, "must be one line of printable text (users see it in every refusal)")

    # Cobbler.
    usecobbler = sec.flag("usecobbler")
    if usecobbler and not sec.text("cobblerdefaultprofile") and sec.ok("cobblerdefaultprofile"):
        sec.add(
            f"{sec.name('cobblerdefaultprofile')}: {sec.text('cobblerdefaultprofile')!r} is empty but "
            f"{sec.name('usecobbler')} is true; expected {_KEYS['cobblerdefaultprofile'][1]}"
        )

    # Network segmentation.
    network = sec.text("network")
    if network == "cumulus":
        _add_bad(
            sec,
            "network",
            network,
            "is not supported (Cumulus never left classic igor's PR branch); expected '' or 'arista'",
        )
    elif network not in SUPPORTED_NETWORKS:
        _add_bad(
            sec, "network", network, "is not a supported network; expected '' (no segmentation) or 'arista'"
        )
    vlan_min, vlan_max = sec.number("vlan_min"), sec.number("vlan_max")
    no_pool = network == "" and vlan_min == vlan_max == 0
    if sec.ok("vlan_min", "vlan_max", "network") and not no_pool:
        pool = f"vlan pool {vlan_min}..{vlan_max}"
        usable = f"expected 1 <= vlan_min <= vlan_max <= {HIGHEST_VLAN}"
        if vlan_min <= 0 <= vlan_max:
            needs = f" (network {network!r} needs a pool)" if network else ""
            sec.add(f"vlan_min/vlan_max: {pool} contains 0, which is not a usable VLAN{needs}; {usable}")
        elif vlan_min < 1:
            sec.add(f"vlan_min: {pool} starts at {vlan_min}, below 1; {usable}")
        elif vlan_min > vlan_max:
            sec.add(f"vlan_min: {pool} is empty, vlan_min {vlan_min} > vlan_max {vlan_max}; {usable}")
        elif vlan_max > HIGHEST_VLAN:
            sec.add(f"vlan_max: {pool} ends at {vlan_max}, above {HIGHEST_VLAN}; {usable}")
    node_map = _node_map(sec, naming)
    if network == "arista":
        if not sec.text("network_url") and sec.ok("network_url"):
            sec.add(
                f"{sec.name('network_url')}: {sec.text('network_url')!r} is empty but network is 'arista'; "
                f"expected {_KEYS['network_url'][1]}"
            )
        if naming is not None and sec.ok("node_map"):
            missing = _missing_nodes(naming, node_map)
            if missing:
                sec.add(
                    f"{sec.name('node_map')}: no switch port for {missing}; network 'arista' needs every "
                    f"node of {naming.describe()} mapped"
                )

    tick = _tick_settings(sec)
    mail = _notify_settings(sec)

    # New igor-tui keys.
    hosts = _hosts(sec, naming, problems)
    admins = _admins(sec)
    bootmode: dict[str, str] = {}
    if sec.given("bootmode"):
        from igor_tui.bootmode import parse_bootmode

        bootmode, bad_modes = parse_bootmode(sec.values["bootmode"], naming, sec.name("bootmode"))
        problems.extend(bad_modes)
    timezone = sec.text("timezone")
    if timezone and not _zone_ok(timezone):
        _add_bad(
            sec,
            "timezone",
            timezone,
            "is not a known IANA time zone; expected a name such as 'Europe/Berlin'",
        )
    if not timezone:
        timezone = system_timezone()

    # File safety.
    if file_mode is not None:
        mode = f"{stat.S_IMODE(file_mode):04o}"
        for secret, what in (
            ("networkpassword", "the switch password"),
            ("powersshpassword", "the power SSH password"),
            ("cobblerpassword", "the Cobbler password"),
        ):
            if sec.text(secret) and file_mode & stat.S_IROTH:
                sec.add(
                    f"{sec.name(secret)}: config holds {what} but is world-readable "
                    f"(mode {mode}): run chmod 600 {path}"
                )
        if file_mode & stat.S_IWOTH:
            sec.add(
                f"file mode: config is world-writable (mode {mode}), so anyone could change "
                f"poweroncommand and run commands as igor: run chmod 600 {path}"
            )

    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s) in config", problems=tuple(problems))
    return Config(
        path=path,
        tftproot=tftproot,
        prefix=prefix,
        start=start,
        end=end,
        padlen=padlen,
        rackwidth=rack["rackwidth"],
        rackheight=rack["rackheight"],
        logfile=sec.text("logfile"),
        timelimit=sec.number("timelimit"),
        nodelimit=sec.number("nodelimit"),
        extendwithin=sec.number("extendwithin"),
        usecobbler=usecobbler,
        cobblerdefaultprofile=sec.text("cobblerdefaultprofile"),
        poweroncommand=sec.text("poweroncommand"),
        poweroffcommand=sec.text("poweroffcommand"),
        autoreboot=sec.flag("autoreboot"),
        network=network,
        vlan_min=vlan_min,
        vlan_max=vlan_max,
        networkuser=sec.text("networkuser"),
        networkpassword=sec.text("networkpassword"),
        network_url=sec.text("network_url"),
        node_map=types.MappingProxyType(node_map),
        dnsserver=sec.text("dnsserver"),
        domain=sec.text("domain"),
        expirationleadtime=sec.number("expirationleadtime"),
        concurrencylimit=sec.number("concurrencylimit"),
        commandretries=sec.number("commandretries"),
        pause=sec.text("pause"),
        statedir=statedir,
        contentdir=contentdir,
        hosts=types.MappingProxyType(hosts),
        admins=admins,
        timezone=timezone,
        bootmode=frozenset(n for n, mode in bootmode.items() if mode == "uefi"),
        **tick,
        **mail,
    )


DEFAULT_STATEDIR = "/var/lib/igor"
"""Private state (the store, its lock, the tick's state, the archive): writable by the service user only,
and outside the TFTP root, which any node (and anyone on the boot network) may read."""
DEFAULT_CLOCK_STEP_MINUTES = 10


def legacy_statedir(tftproot: str) -> str:
    """Where igor kept its private state before it left the TFTP root (`igor setup` moves it out)."""
    return os.path.join(tftproot, "igor")


def _state_paths(sec: _Section, tftproot: str) -> tuple[str, str]:
    """statedir (private) and contentdir (served to nodes, so inside the TFTP root unless Cobbler boots
    them: PXELINUX can fetch only what the TFTP server serves)."""
    for key in ("statedir", "logfile", "contentdir"):
        value = sec.text(key)
        if value and not os.path.isabs(value):
            _add_bad(sec, key, value, f"is not an absolute path; expected {_KEYS[key][1]}")
    statedir = sec.text("statedir") or DEFAULT_STATEDIR
    contentdir = sec.text("contentdir") or os.path.join(legacy_statedir(tftproot), "content")
    if (
        sec.given("contentdir")
        and os.path.isabs(contentdir)
        and os.path.isabs(tftproot)
        and not sec.flag("usecobbler")
        and os.path.commonpath([os.path.normpath(tftproot), os.path.normpath(contentdir)])
        != os.path.normpath(tftproot)
    ):
        _add_bad(
            sec, "contentdir", contentdir, f"is not inside tftproot {tftproot}, so nodes cannot fetch it"
        )
    return os.path.normpath(statedir), os.path.normpath(contentdir)


def _tick_settings(sec: _Section) -> dict[str, Any]:
    """igor-tick's power, Cobbler, switch and liveness settings, with their defaults and range checks."""
    out: dict[str, Any] = {"poweroffatend": sec.flag("poweroffatend")}
    choices = {"power": ("command", "ssh"), "liveness": ("tcp", "ping", "none")}
    for key, allowed in choices.items():
        value = sec.text(key, allowed[0])
        if value not in allowed:
            _add_bad(sec, key, value, f"is not one of {', '.join(map(repr, allowed))}")
        out[key] = value
    numbers = {  # key: (default, lowest, highest)
        "powertimeout": (30, 1, 86400),
        "powercycledelay": (5, 0, 3600),
        "powersshport": (22, 1, 65535),
        "powersshconcurrency": (8, 1, 10),
        "cobblertimeout": (60, 1, 3600),
        "network_timeout": (10, 1, 600),
        "livenessport": (22, 1, 65535),
        "livenesstimeout": (500, 1, 60000),
        "clockstepminutes": (DEFAULT_CLOCK_STEP_MINUTES, 1, 1440),
    }
    for key, (default, low, high) in numbers.items():
        number = sec.number(key, default)
        if not low <= number <= high:
            _add_bad(sec, key, number, f"is out of range; expected {_KEYS[key][1]} ({low} to {high})")
        out[key] = number
    texts = {"cobblercommand": "cobbler", "cobbleruser": "cobbler"}
    for key in ("powersshhost", "powersshuser", "powersshpassword", "powersshkey", "powersshknownhosts",
                "cobblercommand", "cobblerurl", "cobbleruser", "cobblerpassword", "network_ca_file",
                "dnsdomain"):  # fmt: skip
        out[key] = sec.text(key, texts.get(key, ""))
    for key in ("powersshkey", "powersshknownhosts", "network_ca_file"):
        if out[key] and not os.path.isabs(out[key]):
            _add_bad(sec, key, out[key], f"is not an absolute path; expected {_KEYS[key][1]}")
    out["network_verify_tls"] = sec.flag("network_verify_tls", True)
    if out["power"] == "ssh":
        for key in ("powersshhost", "powersshuser", "powersshknownhosts"):
            if not out[key] and sec.ok(key):
                sec.add(f"{key}: missing, but power is 'ssh'; expected {_KEYS[key][1]}")
        if not (out["powersshpassword"] or out["powersshkey"]):
            sec.add("powersshpassword/powersshkey: power is 'ssh' but neither a password nor a key is given")
    return out


def _notify_settings(sec: _Section) -> dict[str, Any]:
    """`igor notify`'s lead times and mail transport: SMTP to mailhost, or a sendmail-style argv."""
    out: dict[str, Any] = {"notify": sec.flag("notify"), "mailhost": sec.text("mailhost")}
    for key, (default, low, high) in {"mailport": (25, 1, 65535), "mailtimeout": (30, 1, 600)}.items():
        number = sec.number(key, default)
        if not low <= number <= high:
            _add_bad(sec, key, number, f"is out of range; expected {_KEYS[key][1]} ({low} to {high})")
        out[key] = number
    leads: list[int] = []
    raw = sec.values.get("notifyleadtimes")
    if sec.given("notifyleadtimes") and isinstance(raw, list | tuple):
        for i, lead in enumerate(raw):
            where = f"{sec.name('notifyleadtimes')}[{i}]"
            if not isinstance(lead, int) or isinstance(lead, bool) or lead <= 0:
                sec.add(f"{where}: expected a positive number of minutes, got {lead!r} ({_json_type(lead)})")
            elif lead in leads:
                sec.add(f"{where}: {lead} is listed twice")
            else:
                leads.append(lead)
        out["notifyleadtimes"] = tuple(sorted(leads, reverse=True))
    elif sec.number("expirationleadtime") > 0:  # classic igor's single lead time
        out["notifyleadtimes"] = (sec.number("expirationleadtime"),)
    argv: list[str] = []
    raw = sec.values.get("mailcommand")
    if sec.given("mailcommand") and isinstance(raw, list | tuple):
        for i, word in enumerate(raw):
            if not isinstance(word, str) or not word or not word.isprintable():
                where = f"{sec.name('mailcommand')}[{i}]"
                sec.add(
                    f"{where}: expected a non-empty word of the command, got {word!r} ({_json_type(word)})"
                )
                sec.bad.add("mailcommand")
            else:
                argv.append(word)
        if argv and not os.path.isabs(argv[0]):
            _add_bad(sec, "mailcommand", raw, "must start with the command's absolute path (no PATH lookup)")
    out["mailcommand"] = tuple(argv)
    domain = sec.text("domain")
    out["mailfrom"] = sec.text("mailfrom") or (f"igor@{domain}" if domain else "")
    if out["mailhost"] and argv:
        sec.add("mailhost/mailcommand: both are set; give one way to send mail")
    if out["notify"]:
        if not domain and sec.ok("domain"):
            sec.add(
                "domain: missing, but notify is true; expected the users' mail domain, e.g. 'example.com'"
            )
        if not out["mailhost"] and not argv and sec.ok("mailhost", "mailcommand"):
            sec.add(
                "mailhost/mailcommand: notify is true but neither an SMTP server nor a mail command is given"
            )
    return out


class _JsonObject(dict[str, object]):
    """A decoded JSON object that remembers keys given twice: json keeps only the last, silently, so an
    admin editing the first copy would see no effect."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, object]]) -> _JsonObject:
        """json.loads object_pairs_hook: sees every key in file order, before json drops the repeats."""
        obj = cls()
        duplicates: list[str] = []
        for key, value in pairs:
            if key in obj and not key.startswith("#"):
                duplicates.append(key)
            obj[key] = value
        obj.duplicates = tuple(duplicates)
        return obj


def _duplicates(value: object, where: str) -> list[str]:
    """One problem per repeated key anywhere in the file, named by where it is (node_map, hosts['kn1'])."""
    found: list[str] = []
    if isinstance(value, _JsonObject):
        prefix = f"{where}: " if where else ""
        found.extend(
            f"{prefix}key {key!r} appears twice; JSON keeps only the last value" for key in value.duplicates
        )
        for key, child in value.items():
            found.extend(_duplicates(child, f"{where}[{key!r}]" if where else key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found.extend(_duplicates(child, f"{where}[{i}]"))
    return found


def load_config(path: str, who: Principal | None = None) -> Config:
    """Read and validate the config file; every failure, including I/O, becomes one ConfigError.

    `who` is the person igor acts for (trust.principal); a config they could have written is refused
    before anything in it is used. None means the process itself (tests, doctor run by an admin)."""
    from .trust import own_principal, read_config

    raw, st = read_config(path, own_principal() if who is None else who)

    header = f"{path}: 1 problem(s) in config"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(header, problems=(f"not UTF-8 text (byte {err.start}): {err.reason}",)) from None
    try:
        data = json.loads(text, object_pairs_hook=_JsonObject.from_pairs)
    except json.JSONDecodeError as err:
        raise ConfigError(
            header, problems=(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}",)
        ) from None
    except RecursionError:
        raise ConfigError(header, problems=("invalid JSON: nested too deeply",)) from None
    return _parse(data, path=path, file_mode=st.st_mode, problems=_duplicates(data, ""))
