"""The one table of igor.conf keys: for each its JSON kind, default, range, section and descriptions.

Validation (reader.py), the section classes (their field defaults), `igor.conf.example`'s comments and the
README's configuration table all read it, so a key is added or changed here and nowhere else
(`scripts/config_docs.py` rewrites the two documents; tests/test_config_docs.py fails when they lag).
"""

from __future__ import annotations

from igor_tui.values import dataclass

from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Literal

    Kind = Literal["str", "path", "int", "bool", "node_map", "hosts", "admins", "object", "list", "bootmode"]

KIND_WORDS: dict[Kind, str] = {
    "str": "a string",
    "path": "a string",
    "int": "an integer",
    "bool": "true or false",
    "node_map": "an object",
    "hosts": "an object",
    "admins": "a list",
    "object": "an object",
    "list": "a list",
    "bootmode": "a string or an object",
}
"""How a kind is named in a problem: admins edit JSON, not Python."""


@dataclass(frozen=True, slots=True)
class Key:
    """One igor.conf key. `expect` ends up in problem messages, so it is written for the admin who has to
    fix the file; `doc` is the longer comment above the key in igor.conf.example and the README."""

    name: str
    kind: Kind
    section: str
    expect: str
    default: Any = ""
    low: int | None = None
    """The smallest valid integer (checked when the key is given), or None."""
    high: int | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    """Never shown in a problem, and the file holding it must not be world-readable."""
    example: Any = None
    """The value igor.conf.example shows (a sample, not always the default)."""
    doc: str = ""
    """The example's comment; a key without one (only `advanced`) is left out of the example."""

    def out_of_range(self, number: int) -> str:
        """Why `number` is out of this key's range, worded as before the table existed; '' if it is not."""
        low, high = self.low, self.high
        if low is None or (low <= number and (high is None or number <= high)):
            return ""
        if high is not None:
            return f"is out of range; expected {self.expect} ({low} to {high})"
        if low == 0:
            return f"is negative; expected {self.expect}"
        return f"is not positive; expected {self.expect} (omit it for {self.default})"


# The order is igor.conf.example's order. Laid out by hand (one key a paragraph), so formatting is off.
# fmt: off
KEYS: tuple[Key, ...] = (
    Key("tftproot", "path", "paths",
        expect="the absolute path of the TFTP root (the directory holding pxelinux.cfg)",
        example="/srv/tftp",
        doc="Required. Absolute path of the TFTP root, the directory holding pxelinux.cfg. With usecobbler "
            "any directory igor owns, e.g. /srv/igor (not statedir: private state stays out of it)."),
    Key("statedir", "path", "paths",
        expect="the absolute path of igor's private state directory (default /var/lib/igor)",
        default="/var/lib/igor", example="/var/lib/igor",
        doc="Absolute path of igor's private state: the reservation store and its lock, the archive of "
            "ended reservations, igor-tick's state. Writable by the igor service user only and outside the "
            "TFTP root (which nodes and anyone on the boot network can read). Default: /var/lib/igor."),
    Key("contentdir", "path", "paths",
        expect="the absolute path, inside tftproot, of the kernel/initrd copies nodes fetch",
        example="/srv/tftp/igor/content",
        doc="Absolute path of the copies of users' kernels and initrds, the only igor files nodes fetch; "
            "inside tftproot (unless usecobbler). Default: <tftproot>/igor/content."),
    Key("prefix", "str", "naming",
        expect="the node name prefix, e.g. 'kn'",
        example="kn",
        doc="Node name prefix: node names are prefix + number, e.g. kn1 .. kn16. Letters, digits, '.', '_' "
            "and '-' only."),
    Key("start", "int", "naming",
        expect="the first node number, 0 or more",
        default=0, low=0, example=1,
        doc="First node number (inclusive), 0 or more."),
    Key("end", "int", "naming",
        expect="the last node number, at least start",
        default=0, example=16,
        doc="Last node number (inclusive), at least start."),
    Key("padlen", "int", "naming",
        expect="the zero-padding width of node numbers, 0 or more",
        default=0, low=0, example=0,
        doc="Zero-pad node numbers to this many digits (3 gives kn001); 0 for no padding. Wider numbers are"
            " not cut."),
    Key("rackwidth", "int", "rack",
        expect="a positive number of nodes per rack row in the diagram",
        default=8, low=1, example=8,
        doc="Rack diagram only: nodes per row. Positive; default 8."),
    Key("rackheight", "int", "rack",
        expect="a positive number of rows per rack in the diagram",
        default=4, low=1, example=2,
        doc="Rack diagram only: rows per rack. Positive; default 4."),
    Key("logfile", "path", "paths",
        expect="the absolute path of the action log, or '' for none",
        example="/var/log/igor/log",
        doc="Absolute path of the action log (needed by 'igor stats'); empty for none."),
    Key("timelimit", "int", "policy",
        expect="the longest reservation for non-admins in minutes, 0 for unlimited",
        default=0, low=0, example=4320,
        doc="Longest reservation a non-admin may make, in minutes (4320 = 3 days); 0 for unlimited."),
    Key("nodelimit", "int", "policy",
        expect="the most nodes per reservation for non-admins, 0 for unlimited",
        default=0, low=0, example=50,
        doc="Most nodes a non-admin may reserve at once; 0 for unlimited."),
    Key("extendwithin", "int", "policy",
        expect="minutes before the end within which extend is allowed, 0 for any time",
        default=0, low=0, example=0,
        doc="A non-admin may extend a reservation only within this many minutes of its end; 0 for any time."),
    Key("usecobbler", "bool", "cobbler",
        expect="whether Cobbler manages boot profiles instead of PXE files",
        default=False, example=False,
        doc="true: boot nodes through Cobbler profiles instead of writing pxelinux.cfg files."),
    Key("cobblerdefaultprofile", "str", "cobbler",
        expect="the Cobbler profile nodes return to when a reservation ends",
        example="",
        doc="Cobbler profile nodes return to when a reservation ends. Required when usecobbler is true."),
    Key("poweroncommand", "str", "power",
        expect="a command template with exactly one %s for the node name, or ''",
        example="powerbot on %s",
        doc="Command that powers a node on, with exactly one %s where the node name goes, e.g. 'powerbot on"
            " %s'. Empty: no power control."),
    Key("poweroffcommand", "str", "power",
        expect="a command template with exactly one %s for the node name, or ''",
        example="powerbot off %s",
        doc="Command that powers a node off, with exactly one %s for the node name. Empty: no power "
            "control."),
    Key("autoreboot", "bool", "power",
        expect="whether to power-cycle nodes when a reservation starts",
        default=False, example=False,
        doc="true: power-cycle the nodes when a reservation starts so they boot what it installed."),
    Key("network", "str", "network",
        expect="'' (no segmentation) or 'arista'",
        example="",
        doc="Network segmentation: '' for none, or 'arista' (802.1ad tunnel port per node through the "
            "eAPI). Cumulus is not supported."),
    Key("vlan_min", "int", "network",
        expect="the first VLAN of the pool, 1 to 4094",
        default=0, example=0,
        doc="First VLAN of the pool handed to reservations, 1..4094. Leave vlan_min and vlan_max at 0 when "
            "network is ''."),
    Key("vlan_max", "int", "network",
        expect="the last VLAN of the pool, vlan_min to 4094",
        default=0, example=0,
        doc="Last VLAN of the pool (inclusive), vlan_min..4094. VLAN 0 is never usable."),
    Key("networkuser", "str", "network",
        expect="the switch user name",
        example="",
        doc="Switch user name for the eAPI."),
    Key("networkpassword", "str", "network",
        expect="the switch password",
        secret=True, example="",
        doc="Switch password. If set, this file must not be world-readable (chmod 600)."),
    Key("network_url", "str", "network",
        expect="the switch eAPI address host:port/command-api",
        example="",
        doc="Arista eAPI address without scheme or credentials, e.g. 'arista:80/command-api'. Required when"
            " network is 'arista'."),
    Key("node_map", "node_map", "network",
        expect="an object mapping node names to switch ports, e.g. {'kn1': 'Et1/1'}",
        default={}, example={},
        doc="Node name -> switch port, e.g. {\"kn1\": \"Et1/1\"}. With network 'arista' every node must be "
            "listed (classic igor's arista_node_map.bash helper generates it)."),
    Key("dnsserver", "str", "liveness",
        expect="a DNS server address, or ''",
        example="",
        doc="DNS server used when probing which nodes are up (classic igor passed it to nmap); empty for "
            "the system resolver."),
    Key("domain", "str", "mail",
        expect="the mail domain for notifications, or ''",
        example="",
        doc="Mail domain appended to user names for expiry notifications, e.g. 'example.com'."),
    Key("expirationleadtime", "int", "mail",
        expect="minutes before expiry to notify, 0 or more",
        default=0, low=0, example=0,
        doc="Notify owners this many minutes before their reservation expires; 0 disables."),
    Key("concurrencylimit", "int", "power",
        expect="the most external commands run at once, 0 for unlimited",
        default=0, low=0, example=0,
        doc="Most external commands (power, Cobbler) run at once per batch; 0 for unlimited."),
    Key("commandretries", "int", "power",
        expect="extra attempts per failed external command, 0 or more",
        default=0, low=0, example=0,
        doc="Extra attempts for a failed external command, 1 second apart; 0 for none."),
    Key("pause", "str", "policy",
        expect="'' or the message shown while igor is paused",
        example="",
        doc="Non-empty: igor refuses new and extended reservations from non-admins and shows this message. "
            "Empty: normal operation."),
    Key("properties", "object", "policy",
        expect="an object mapping node ranges to lists of property names, e.g. {'kn[1-64]': ['gpu']}",
        default={}, example={},
        doc="Node properties for mixed clusters: node ranges -> property names (letters, digits, '.', '_', "
            "'-'), e.g. {\"kn[1-8]\": [\"gpu\", \"100g\"], \"kn[9-16]\": [\"100g\"]}. 'igor sub -p gpu,100g' "
            "picks among nodes having all of them; 'igor show -p gpu' shows only those nodes. A node named by"
            " two ranges has both lists. Default: none."),
    Key("quota", "object", "policy",
        expect="an object mapping 'default', users and '%group' to {'node_hours': N, 'concurrent_nodes': N}",
        default={}, example={},
        doc="What one user may hold across all their live and future reservations, e.g. {\"default\": "
            "{\"node_hours\": 2000, \"concurrent_nodes\": 64}, \"%hpc\": {\"node_hours\": 8000}}: "
            "node_hours counts what is left of running reservations plus all of future ones, "
            "concurrent_nodes the most nodes held at one instant. Keys: 'default', a user, or '%group'; "
            "each field comes from the most specific entry setting it (the user's, else the largest of "
            "their groups', else default). Admins are exempt. Default: no quota."),
    Key("hosts", "hosts", "boot",
        expect="an object mapping node names to {'ip': ..., 'mac': ...}",
        default={}, example={"kn1": {"ip": "10.0.0.1", "mac": "52:54:00:00:00:01"}},
        doc="Optional fixed boot addresses per node, so PXE files need no DNS lookup: node -> {\"ip\": IPv4, "
            "\"mac\": MAC}, either may be omitted. Keys must be nodes of the cluster; MACs may use ':' or "
            "'-'."),
    Key("bootmode", "bootmode", "boot",
        expect="'bios' (default), 'uefi', or an object mapping node ranges to modes, e.g. {'kn[1-64]': "
               "'uefi'}",
        default="bios", example="bios",
        doc="Which firmware the nodes netboot with: 'bios' (PXELINUX, the default) or 'uefi' (GRUB; run "
            "igor setup --uefi and hand UEFI clients grubx64.efi, see README), or for a mixed cluster an "
            "object mapping node ranges to modes, e.g. {\"kn[1-8]\": \"uefi\", \"kn[9-16]\": \"bios\"}; "
            "unnamed nodes boot BIOS. Ignored with usecobbler (Cobbler handles UEFI itself)."),
    Key("admins", "admins", "policy",
        expect="a list of user names and %group entries",
        default=(), example=["ops", "%wheel"],
        doc="Users who are igor admins (no limits, may change any reservation). Like sudoers, '%wheel' "
            "means every member of group wheel. root is always an admin."),
    Key("timezone", "str", "policy",
        expect="an IANA time zone name such as 'Europe/Berlin' (default: the system's zone)",
        example="UTC",
        doc="IANA time zone in which times are shown and typed, e.g. 'America/Denver'. Default: the "
            "system's local zone."),
    Key("poweroffatend", "bool", "power",
        expect="whether to power nodes off when a reservation ends",
        default=False, example=False,
        doc="igor-tick powers a reservation's nodes off when it ends (autoreboot power-cycles them when it "
            "starts)."),
    Key("power", "str", "power",
        expect="'command' (run the templates here) or 'ssh' (run them on powersshhost)",
        default="command", choices=("command", "ssh"), example="command",
        doc="Where the power templates run: 'command' runs poweroncommand/poweroffcommand here (no shell); "
            "'ssh' runs them on powersshhost."),
    Key("powertimeout", "int", "power",
        expect="seconds a power command may take, at least 1 (default 30)",
        default=30, low=1, high=86400, example=30,
        doc="Seconds one power command may take before it counts as failed."),
    Key("powercycledelay", "int", "power",
        expect="seconds between off and on in a power cycle, 0 or more (default 5)",
        default=5, low=0, high=3600, example=5,
        doc="Seconds between switching nodes off and on again in a power cycle."),
    Key("powersshhost", "str", "power",
        expect="the management host power commands run on when power is 'ssh'",
        example="",
        doc="Management host (PDU or BMC gateway) the power templates run on when power is 'ssh'."),
    Key("powersshport", "int", "power",
        expect="the SSH port of powersshhost (default 22)",
        default=22, low=1, high=65535, example=22,
        doc="SSH port of powersshhost."),
    Key("powersshuser", "str", "power",
        expect="the SSH user on powersshhost",
        example="",
        doc="SSH user on powersshhost."),
    Key("powersshpassword", "str", "power",
        expect="the SSH password (or key passphrase) for powersshhost",
        secret=True, example="",
        doc="SSH password (or private key passphrase). A secret: the config must then not be "
            "world-readable."),
    Key("powersshkey", "path", "power",
        expect="the absolute path of an SSH private key for powersshhost, or ''",
        example="",
        doc="Absolute path of an SSH private key for powersshhost, or empty to use the password."),
    Key("powersshknownhosts", "path", "power",
        expect="the absolute path of a known_hosts file holding powersshhost's key",
        example="",
        doc="Absolute path of a known_hosts file that holds powersshhost's key; nothing is trusted on first"
            " use."),
    Key("powersshconcurrency", "int", "power",
        expect="power commands run at once over SSH, 1 to 10 (default 8)",
        default=8, low=1, high=10, example=8,
        doc="Power commands run at once over the one SSH connection (keep it within sshd's MaxSessions, "
            "1-10)."),
    Key("cobblercommand", "str", "cobbler",
        expect="the cobbler command to run (default 'cobbler')",
        default="cobbler", example="cobbler",
        doc="The cobbler command igor-tick runs when usecobbler is true."),
    Key("cobblerurl", "str", "cobbler",
        expect="Cobbler's XML-RPC URL (faster than the command), or '' to use the command",
        example="",
        doc="Cobbler's XML-RPC URL, e.g. 'http://127.0.0.1/cobbler_api'; much faster than the command and "
            "keeps kernel arguments exactly. Empty: use cobblercommand."),
    Key("cobbleruser", "str", "cobbler",
        expect="the Cobbler XML-RPC user (default 'cobbler')",
        default="cobbler", example="cobbler",
        doc="Cobbler XML-RPC user."),
    Key("cobblerpassword", "str", "cobbler",
        expect="the Cobbler XML-RPC password",
        secret=True, example="",
        doc="Cobbler XML-RPC password. A secret: the config must then not be world-readable."),
    Key("cobblertimeout", "int", "cobbler",
        expect="seconds a Cobbler call may take, at least 1 (default 60)",
        default=60, low=1, high=3600, example=60,
        doc="Seconds one Cobbler call may take."),
    Key("network_timeout", "int", "network",
        expect="seconds to wait for the switch, at least 1 (default 10)",
        default=10, low=1, high=600, example=10,
        doc="Seconds to wait for the switch's eAPI."),
    Key("network_verify_tls", "bool", "network",
        expect="whether to check the switch's https certificate (default true)",
        default=True, example=True,
        doc="Check the switch's https certificate (against network_ca_file, or the system's CAs)."),
    Key("network_ca_file", "path", "network",
        expect="the absolute path of a PEM bundle for the switch's certificate, or ''",
        example="",
        doc="Absolute path of a PEM bundle to check the switch's certificate with, or empty."),
    Key("clockstepminutes", "int", "tick",
        expect="minutes the wall clock may jump ahead between two ticks, 1 to 1440",
        default=10, low=1, high=1440, example=10,
        doc="If the wall clock jumps ahead by more than this many minutes between two igor-tick runs "
            "(measured against the kernel's boot-time clock), igor-tick holds every teardown and expiry "
            "until an admin runs 'igor tick --accept-clock-step' or the clock comes back. 1-1440; default "
            "10."),
    Key("on_start", "list", "tick",
        expect="an argv list run when a reservation is installed, absolute path first, or [] for none",
        default=(), example=[],
        doc="Run by igor-tick once when a reservation's install completes: an argv list (no shell), absolute "
            "path first; words may hold {name} {owner} {group} {nodes} {node_list} {start} {end} {vlan} {id} "
            "{event}. The same facts are in its environment (IGOR_NAME, IGOR_NODES ...). E.g. "
            "[\"/usr/local/bin/prolog\", \"{name}\", \"{nodes}\"]."),
    Key("on_end", "list", "tick",
        expect="an argv list run when a reservation is torn down, absolute path first, or [] for none",
        default=(), example=[],
        doc="Like on_start, run once when a reservation is torn down (ended, deleted or expired)."),
    Key("hook_timeout", "int", "tick",
        expect="seconds on_start/on_end may run before they are killed, 1 to 3600 (default 60)",
        default=60, low=1, high=3600, example=60,
        doc="Seconds a hook may run; then its process group is killed. A failing hook never blocks the "
            "reservation."),
    Key("heal", "bool", "tick",
        expect="whether igor-tick swaps a down or blocked node of a running reservation for a free one",
        default=False, example=False,
        doc="true: when a node of a running (or starting) reservation is down (liveness) or blocked, "
            "igor-tick swaps in a node that is free for the rest of the window, installs it, logs the swap "
            "and mails the owner (if mail is set up). It never takes a node another reservation holds."),
    Key("liveness", "str", "liveness",
        expect="how igor-tick checks nodes are up: 'tcp' (default), 'ping' or 'none'",
        default="tcp", choices=("tcp", "ping", "none"), example="tcp",
        doc="How igor-tick checks which nodes are up, once a minute: 'tcp' (connect to livenessport; "
            "refused still means up), 'ping', or 'none'."),
    Key("livenessport", "int", "liveness",
        expect="the TCP port probed for liveness (default 22)",
        default=22, low=1, high=65535, example=22,
        doc="TCP port probed for liveness."),
    Key("livenesstimeout", "int", "liveness",
        expect="milliseconds to wait for a node to answer, at least 1 (default 500)",
        default=500, low=1, high=60000, example=500,
        doc="Milliseconds a node has to answer the probe."),
    Key("dnsdomain", "str", "liveness",
        expect="a domain appended to node names for DNS lookups, or ''",
        example="",
        doc="Domain appended to node names for DNS lookups of nodes missing from hosts (e.g. "
            "'cluster.example.com'), or empty."),
    Key("notify", "bool", "mail",
        expect="whether igor-tick mails reminders to owners each run (default false)",
        default=False, example=False,
        doc="true: igor-tick mails owners each run about reservations starting within the hour and ending "
            "within notifyleadtimes ('igor notify' does the same by hand). Needs domain and mailhost or "
            "mailcommand."),
    Key("notifyleadtimes", "list", "mail",
        expect="a list of minutes before a reservation's end to remind its owner",
        default=(1440, 60), example=[1440, 60],
        doc="Minutes before a reservation's end at which its owner is reminded, each once (a reservation "
            "gets a reminder only if it is longer than the lead time). Default [1440, 60], or "
            "[expirationleadtime] when only that classic key is set."),
    Key("mailhost", "str", "mail",
        expect="the SMTP server to send reminders through, or '' to use mailcommand",
        example="",
        doc="SMTP server reminders are sent through (plain SMTP, no login), e.g. 'localhost'; empty to use "
            "mailcommand instead."),
    Key("mailport", "int", "mail",
        expect="the SMTP port of mailhost (default 25)",
        default=25, low=1, high=65535, example=25,
        doc="SMTP port of mailhost."),
    Key("mailcommand", "list", "mail",
        expect="a sendmail-style argv list, e.g. ['/usr/sbin/sendmail', '-t'], or [] for none",
        default=(), example=[],
        doc="Instead of SMTP: a sendmail-style command as an argv list (no shell), absolute path first; the"
            " message, with its To: header, goes to its standard input. E.g. [\"/usr/sbin/sendmail\", "
            "\"-t\", \"-i\"]."),
    Key("mailfrom", "str", "mail",
        expect="the sender address of reminders (default igor@<domain>)",
        example="",
        doc="Sender address of reminders. Default: igor@<domain>."),
    Key("mailtimeout", "int", "mail",
        expect="seconds to wait for the mail server or command, at least 1 (default 30)",
        default=30, low=1, high=600, example=30,
        doc="Seconds to wait for the SMTP server or the mail command."),
    Key("advanced", "object", "classic",
        expect="an object (accepted for classic compatibility and ignored)"),
)
# fmt: on
HOST_KEYS: tuple[Key, ...] = (
    Key("ip", "str", "hosts", "an IPv4 address such as '10.0.0.1'"),
    Key("mac", "str", "hosts", "a MAC address such as '52:54:00:00:00:01'"),
)
"""The keys of one `hosts` entry."""

BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}


def default(name: str) -> Any:
    """The table's default for `name`, for the section classes' field defaults (so they are written once)."""
    return BY_NAME[name].default
