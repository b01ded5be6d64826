"""The verb registry: one `Verb` record per `igor` command (name, one-line help, epilog, arguments,
handler, whether it needs the service). The parser, `igor help`, the usage text and shell completion all
read this table, so a verb is added in one place. The option helpers below define each shared flag once
(`-r`, `-t`, `-a`, dry-run, --json, NAME and NODES positionals, --root/--user/--prefix), with classic
igor's single-dash spellings; the help text stays the verb's own where the flag means something a little
different there.

Handlers are named, not imported ("module:function" under igor_tui.cli): a command imports only its own
handler module, which keeps `igor show` from paying for the operations verbs at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..typenames import TYPE_CHECKING
from .flagspec import BOOL_FLAG, Recorder, whole_number

if TYPE_CHECKING:
    from .goflags import IgorParser


class Verb:
    """One `igor` command.

    `handler` is "module:function" in igor_tui.cli. A verb that `needs_service` is called as
    `function(svc, ns, out)` with an IgorService built from the config; the others (setup, doctor, help,
    version) as `function(ns, config, out, env)`, since they must work without a usable config.

    A plain slotted class, not a values.dataclass: the registry is built on every run, `igor version`
    included, and the decorator would cost that path the values module and a compiled __init__."""

    __slots__ = ("arguments", "handler", "help", "name", "needs_service")

    def __init__(
        self,
        name: str,
        help: str,
        arguments: Callable[[IgorParser], None],
        handler: str,
        needs_service: bool = True,
    ) -> None:
        self.name = name
        self.help = help
        self.arguments = arguments
        self.handler = handler
        self.needs_service = needs_service

    @property
    def epilog(self) -> str | None:
        return EPILOGS.get(self.name)

    def parser(self) -> IgorParser:
        """This verb's parser, with classic igor's flag spellings (single dash) and --json."""
        from .goflags import IgorParser

        p = IgorParser(self.name, self.help, self.epilog)
        self.arguments(p)
        json_option(p)
        return p

    def flags(self) -> Recorder:
        """The same arguments recorded for flagspec.fast_parse, which spares a command argparse. The
        Recorder takes add_argument like IgorParser and marks any other call as one for argparse."""
        r = Recorder()
        self.arguments(r)  # type: ignore[arg-type]
        json_option(r)  # type: ignore[arg-type]
        return r


# ------------------------------------------------------------------------------ shared options


def json_option(p: IgorParser) -> None:
    """Every verb takes --json (classic -json), also accepted before the verb."""
    p.add_argument("-json", "--json", dest="json", action="store_true", help="print JSON instead of text")


def dry_run_option(p: IgorParser, text: str, spellings: Sequence[str] = ("--dry-run",)) -> None:
    """Dry run is `ns.dry_run` in every verb, whichever of the classic spellings the verb accepts."""
    p.add_argument(*spellings, dest="dry_run", action="store_true", help=text)


def reservation_option(p: IgorParser, text: str) -> None:
    """`-r NAME`: the reservation a verb acts on (classic igor names it with -r)."""
    p.add_argument("-r", metavar="NAME", default="", help=text)


def duration_option(p: IgorParser, text: str, default: str | None = "60m") -> None:
    """`-t DURATION` in the forms timeparse reads (90, 1h30m, 2d)."""
    p.add_argument("-t", metavar="DURATION", default=default, help=text)


def start_option(p: IgorParser, text: str) -> None:
    """`-a START`: None when not given, so argcheck can refuse an empty `-a ''`."""
    p.add_argument("-a", metavar="START", default=None, help=text)


def name_argument(p: IgorParser, text: str, metavar: str = "NAME") -> None:
    """The reservation NAME as a positional (completion offers live names for NAME, archived for
    ARCHIVED)."""
    p.add_argument("name", metavar=metavar, help=text)


def nodes_argument(p: IgorParser, text: str) -> None:
    p.add_argument("nodes", metavar="NODES", help=text)


def desc_option(p: IgorParser, text: str, default: str | None) -> None:
    p.add_argument("-desc", metavar="TEXT", default=default, help=text)


def user_option(p: IgorParser) -> None:
    p.add_argument("--user", metavar="USER", default="igor", help="the service user (default igor)")


def prefix_option(p: IgorParser) -> None:
    p.add_argument("--prefix", metavar="DIR", default="/usr/local", help="install prefix (/usr/local)")


def properties_option(p: IgorParser, text: str) -> None:
    """`-p PROPS`: node properties from igor.conf `properties`, comma-separated."""
    p.add_argument("-p", metavar="PROPS", default="", help=text)


def root_option(p: IgorParser, text: str) -> None:
    p.add_argument("--root", metavar="ALTROOT", default="/", help=text)


# ------------------------------------------------------------------------------------- arguments


def _sub(p: IgorParser) -> None:
    reservation_option(p, "reservation name (letters, digits, - and _)")
    p.add_argument("-k", metavar="KERNEL", default="", help="kernel image to boot (copied at submit time)")
    p.add_argument("-i", metavar="INITRD", default="", help="initrd to boot (copied at submit time)")
    p.add_argument("-profile", metavar="PROFILE", default="", help="Cobbler profile to boot instead of -k/-i")
    p.add_argument("-n", metavar="N", type=whole_number("-n"), default=None, help="number of nodes")
    p.add_argument("-w", metavar="NODES", default="", help="these nodes, e.g. kn[1-4,9]")
    p.add_argument("-c", metavar="ARGS", default=None, help="kernel command line arguments")
    duration_option(p, "duration (default 60m)", default=None)
    start_option(p, "start no earlier than this time")
    p.add_argument("-s", action="store_true", help="speculate: list the next 10 options, book nothing")
    p.add_argument("-g", metavar="GROUP", default="", help="Unix group whose members may manage it")
    p.add_argument(
        "-vlan", metavar="VLAN", default="", help="VLAN number, or a reservation whose VLAN to share"
    )
    p.add_argument("--contiguous", action="store_true", help="insist on one block of consecutive nodes")
    desc_option(p, "a one-line description, shown in show, the TUI and history", "")
    p.add_argument(
        "--like", metavar="NAME", default="", help="reuse a live or archived reservation's boot, args, size"
    )
    properties_option(p, "only nodes having all these properties, e.g. gpu,100g")


def _show(p: IgorParser) -> None:
    p.add_argument("-o", action="store_true", help="sort by owner, then start")
    p.add_argument("-n", action="store_true", help="sort by name, then start")
    p.add_argument("-r", action="store_true", help="reverse the order")
    p.add_argument("-owner", metavar="S", default="", help="only owners containing S")
    p.add_argument("-group", metavar="S", default="", help="only groups containing S")
    p.add_argument("-name", metavar="S", default="", help="only names containing S")
    p.add_argument("-active", action="store_true", help="only active reservations")
    p.add_argument("-future", action="store_true", help="only reservations that have not started")
    p.add_argument("-installed", action="store_true", help="only installed reservations")
    p.add_argument("-errored", action="store_true", help="only reservations whose install failed")
    p.add_argument("-writable", action="store_true", help="only reservations you may change")
    p.add_argument(
        "-c", dest="color", action=BOOL_FLAG, default=None, help="colour (default: when on a terminal)"
    )
    p.add_argument(
        "-t", dest="diagram", action=BOOL_FLAG, default=True, help="draw the racks (-t=false hides)"
    )
    p.add_argument("-e", action="store_true", help="only print install errors")
    p.add_argument(
        "-at",
        metavar="TIME",
        default="",
        help="the racks and reservations at TIME, past or future (2026-Nov-24-14:00, +2h)",
    )
    properties_option(p, "only nodes having all these properties, and reservations on them")


def _extend(p: IgorParser) -> None:
    reservation_option(p, "reservation to extend")
    duration_option(p, "how much longer (default 60m)")


def _edit(p: IgorParser) -> None:
    reservation_option(p, "reservation to edit")
    p.add_argument("-k", metavar="KERNEL", default=None, help="new kernel")
    p.add_argument("-i", metavar="INITRD", default=None, help="new initrd")
    p.add_argument("-profile", metavar="PROFILE", default=None, help="boot this Cobbler profile instead")
    p.add_argument("-c", metavar="ARGS", default=None, help='new kernel arguments (-c "" clears them)')
    p.add_argument("-vlan", metavar="VLAN", default=None, help="new VLAN number or reservation to share with")
    p.add_argument("-owner", metavar="USER", default=None, help="new owner (admins only)")
    p.add_argument("-g", metavar="GROUP", default=None, help='new group (-g "" clears it)')
    desc_option(p, 'new description (-desc "" clears it)', None)
    _edit_node_options(p)


def _edit_node_options(p: IgorParser) -> None:
    """edit's -add/-drop (service/resize.py): the reservation's nodes, for the rest of its window."""
    p.add_argument("-add", metavar="N|NODES", default=None, help="add N free nodes, or these nodes (kn[5-6])")
    p.add_argument(
        "-drop", metavar="NODES", default=None, help="release these nodes (the tick tears them down)"
    )


def _power(p: IgorParser) -> None:
    p.add_argument("action", metavar="ACTION", choices=("on", "off", "cycle"), help="on, off or cycle")
    reservation_option(p, "the nodes of this (active) reservation")
    p.add_argument("-n", metavar="NODES", default="", help="these nodes, e.g. kn[1-4]")
    p.add_argument("--force", action="store_true", help="admins: also power nodes that are not reserved")


def _sync(p: IgorParser) -> None:
    p.add_argument("what", metavar="arista", choices=("arista",), help="the switch kind (only arista)")
    dry_run_option(p, "only show", ("-d", "-dry-run", "--dry-run"))
    p.add_argument("-f", "-force", "--force", dest="force", action="store_true", help="repair the switch")
    p.add_argument("-q", "-quiet", "--quiet", dest="quiet", action="store_true", help="print nothing")


def _tick(p: IgorParser) -> None:
    dry_run_option(p, "print the plan, change nothing")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failures (for cron)")
    p.add_argument("--no-probe", action="store_true", help="skip the liveness probe this time")
    p.add_argument(
        "--accept-clock-step",
        action="store_true",
        help="the wall clock jumped ahead and that is right: stop holding teardowns and expiry (admins)",
    )


def _block(p: IgorParser) -> None:
    nodes_argument(p, "nodes to block, e.g. kn[3-5]")
    p.add_argument("-reason", "--reason", metavar="TEXT", default="", help="why (shown to users); required")
    start_option(p, "start of the block (default now)")
    duration_option(p, "how long (default: until unblocked)", default="")


def _hosts(p: IgorParser) -> None:
    name_argument(p, "reservation name")
    p.add_argument(
        "-format",
        "--format",
        dest="format",
        choices=("hosts", "ssh-config", "ansible", "json"),
        default="hosts",
        help="hosts (default), ssh-config, ansible or json",
    )


def _import(p: IgorParser) -> None:
    p.add_argument("path", metavar="PATH", help="classic igor's reservations.json")
    p.add_argument("--apply", "-apply", dest="apply", action="store_true", help="write (default: dry run)")


def _policy(p: IgorParser) -> None:
    p.add_argument(
        "action",
        metavar="ACTION",
        choices=("add", "show", "edit", "del", "apply"),
        help="add, show, edit, del or apply",
    )
    p.add_argument("name", metavar="POLICY", nargs="?", default="", help="the policy's name")
    p.add_argument(
        "-w", metavar="NODES", default=None, help="add/edit: its nodes; apply: nodes to put under it"
    )
    p.add_argument(
        "-groups", metavar="G1,G2", default=None, help='only these groups may book them ("" = anyone)'
    )
    p.add_argument("-maxtime", metavar="DURATION", default=None, help="longest booking on them (0 = no cap)")
    p.add_argument(
        "-unavailable",
        metavar="CRON:DURATION",
        action="append",
        default=None,
        help='a recurring window, repeatable; edit replaces them all (-unavailable "" clears)',
    )


def _stats(p: IgorParser) -> None:
    p.add_argument(
        "-d", metavar="DAYS", type=whole_number("-d"), default=None, help="the last DAYS days (required)"
    )
    p.add_argument("-v", action="store_true", help="each user's reservations too")


def _setup(p: IgorParser) -> None:
    p.add_argument("--tftproot", metavar="DIR", required=True, help="the TFTP root (holds pxelinux.cfg)")
    p.add_argument("--cobbler", action="store_true", help="boot through Cobbler instead of plain PXE")
    p.add_argument("--cobbler-profile", metavar="P", default="", help="with --cobbler: the default profile")
    p.add_argument("--nodes", metavar="NODES", default="", help="the cluster's nodes, e.g. kn[1-64]")
    p.add_argument("--uefi", action="store_true", help="nodes boot UEFI: lay out the GRUB image and grub/")
    user_option(p)
    prefix_option(p)
    p.add_argument("--timer", choices=("cron", "systemd"), default="cron", help="what runs igor-tick")
    root_option(p, "install into this tree instead of /")
    p.add_argument("--yes", action="store_true", help="make the changes without asking")


def _doctor(p: IgorParser) -> None:
    root_option(p, "check the install in this tree")
    user_option(p)
    prefix_option(p)


def _one(help: str, metavar: str = "NAME") -> Callable[[IgorParser], None]:
    """Arguments of a verb that takes one reservation name."""
    return lambda p: name_argument(p, help, metavar)


def _nodes(help: str) -> Callable[[IgorParser], None]:
    return lambda p: nodes_argument(p, help)


def _quota(p: IgorParser) -> None:
    p.add_argument("user", metavar="USER", nargs="?", default="", help="whose quota (default: yours)")


def _help(p: IgorParser) -> None:
    p.add_argument("topic", nargs="?", default="", help="a command")


def _none(p: IgorParser) -> None:
    pass


def _dry_run(help: str, spellings: tuple[str, ...]) -> Callable[[IgorParser], None]:
    return lambda p: dry_run_option(p, help, spellings)


# -------------------------------------------------------------------------------------- registry

EPILOGS: dict[str, str] = {
    "sub": """\
examples:
  igor sub -r demo -k ./vmlinuz -i ./initrd.img -n 4 -t 2h
  igor sub -r demo -k ./vmlinuz -i ./initrd.img -w kn[3-5,9] -c "console=ttyS0 quiet"
  igor sub -r later -k ./vmlinuz -i ./initrd.img -n 8 -t 1d -a 2026-Dec-01-09:00
  igor sub -s -n 8 -t 4h            # when could I get 8 nodes for 4 hours? (books nothing)
  igor sub -r gpu -k ./vmlinuz -i ./initrd.img -n 4 -p gpu,100g   # only nodes with both

Without -a a reservation starts in the current minute, or at the earliest time the
nodes are free. -n picks the lowest-numbered contiguous block that is free earliest
(or the least fragmented set if no block is free then); --contiguous insists on one
block even if that starts later. -s lists the next 10 options; book one exactly by
passing its START to -a.

durations (-t): 90 (minutes), 1h30m, 2d, 1d12h
start times (-a): 2017-Sep-25-13:00, 2017-09-25T13:00[+02:00], +2h (from now)""",
    "del": """\
example:
  igor del demo

The reservation is archived, not destroyed: 'igor history demo' shows it, and an
admin can 'igor restore demo' while its time has not passed and its nodes are free.""",
    "tick": """\
examples:
  igor tick --dry-run               what would happen now
  igor tick --accept-clock-step     (admins) the clock's jump ahead is right: go on

If the wall clock jumped ahead by more than clockstepminutes since the last run
(compared with the kernel's boot-time clock), every teardown and expiry is held and
each run says why, until the clock comes back, an admin accepts the step, or the
machine reboots. Crash leftovers (temp files, unused kernel copies) go each run.""",
    "show": """\
examples:
  igor show                 racks and all reservations
  igor show -owner alice -active
  igor show -n -r           sorted by name, reversed
  igor show -json           machine-readable
  igor show -at 2026-Nov-24-14:00   what ran then (ended reservations come from the log)

FLAGS: A active now, W writable by you, I installed by igor-tick, E install error,
H healed (igor-tick swapped a down or blocked node).
In the racks each node shows its number and a mark: the reservation's key letter
(the K column), ! down, # blocked for maintenance, blank free.""",
    "extend": "examples:\n  igor extend -r demo          (one more hour)\n  igor extend -r demo -t 3h",
    "block": """\
examples:
  igor block kn[3-5] --reason "disk swap"                 until unblocked, from now
  igor block kn7 --reason "BIOS update" -a 2026-Dec-01-09:00 -t 4h

Blocked nodes are never given to a reservation inside the window. Reservations that
already hold them then are listed (and left alone): move or warn their owners.""",
    "unblock": "examples:\n  igor unblock kn[3-5]\n  igor unblock kn4          (kn3 and kn5 stay blocked)",
    "notify": """\
examples:
  igor notify               mail what is due now (each reminder is sent once)
  igor notify --dry-run     print the mails instead of sending them

Reminders: reservations starting within the hour, and reservations whose end is
within one of notifyleadtimes (minutes). Mail goes to <owner>@<domain> through
mailhost (SMTP) or mailcommand. igor-tick does this each run when notify is true.""",
    "hosts": """\
examples:
  igor hosts demo                        /etc/hosts lines: IP  demo-0 kn3
  igor hosts demo --format ssh-config >> ~/.ssh/config
  igor hosts demo --format ansible > inventory.ini

Aliases NAME-0 .. NAME-N follow node order and stay the same for the reservation's life.
Addresses come from the hosts map in igor.conf; igor never looks nodes up in DNS here.""",
    "import-classic": """\
examples:
  igor import-classic /srv/tftp/igor/reservations.json            what would be imported
  igor import-classic /srv/tftp/igor/reservations.json --apply    import it

Reservations that have not ended keep their name, owner, group, nodes, times, kernel
arguments and boot files (classic igor's <sha1>-kernel/-initrd copies beside the file).
Each one that cannot be carried over is listed with the reason.""",
    "history": """\
examples:
  igor history demo
  igor history demo --json

A reservation that ends, is deleted or expires is archived, not destroyed: ARCHIVED
lists each one called NAME with when it was archived, why (deleted, expired, ended)
and by whom. Below come the logged events (needs logfile in igor.conf).""",
    "restore": """\
examples:
  igor restore demo          put the latest archived 'demo' back
  igor restore demo --json

Admins only. The reservation comes back as it was booked (same nodes, times, boot
files, owner); igor-tick installs it when its start comes, or at once if it has.
Refused, with what is in the way, when its window has passed, another reservation
or a maintenance block holds one of its nodes, or its boot file copy is gone and
the file it was booked from has changed. 'igor history NAME' shows what is archived.""",
    "stats": """\
examples:
  igor stats -d 30          the last 30 days
  igor stats -d 7 -v        with each user's reservations
  igor stats -d 365 --json

Counts users, distinct nodes, reservations, early cancellations (deleted more than a
minute before their end), extensions and node-time inside the window.""",
    "quota": """\
examples:
  igor quota                your node-hours and concurrent nodes against your quota
  igor quota alice --json   (admins) alice's

Node-hours count what is left of running reservations and all of future ones;
concurrent nodes is the most nodes held at one instant. The quota comes from
igor.conf (user, then %group, then default).""",
    "edit": """\
examples:
  igor edit -r demo -c "console=ttyS0 debug"      change only the kernel arguments
  igor edit -r demo -k ./new-vmlinuz              change only the kernel
  igor edit -r demo -g lab                        let members of group lab manage it
  igor edit -r demo -owner bob                    (admins) hand it to bob
  igor edit -r demo -add 2                        two more nodes, free until demo ends
  igor edit -r demo -add kn[7-8]                  these two nodes (refused, with the reason, if taken)
  igor edit -r demo -drop kn3                     give kn3 back (a running demo's kn3 is torn down)

Only the options given change; everything else is kept. Added nodes must be free
for the rest of the reservation (from now, or its start); a running reservation's
new nodes are installed, and dropped ones torn down, by the next igor-tick.""",
    "policy": """\
examples:
  igor policy add gpu-maint -w kn[3-4] -groups gpu,hpc -maxtime 12h -unavailable "0 17 24 12 *:8d15h"
  igor policy show                       every policy and its next window (anyone)
  igor policy edit gpu-maint -unavailable "0 17 * * 1-5:15h" -unavailable "0 0 * * 0,6:1d"
  igor policy edit gpu-maint -unavailable ""    clear its windows
  igor policy apply gpu-maint -w kn9     put kn9 under gpu-maint too (its other nodes stay)
  igor policy apply default -w kn9       kn9 back under no policy
  igor policy del gpu-maint

A policy is a named set of rules applied to nodes; a node is under at most one, so
add, edit -w and apply move nodes from the policy they were under. Non-admins
outside -groups cannot book the nodes, and no one gets them longer than -maxtime.
Admins are exempt from -groups and -maxtime but not from -unavailable windows.
A window is CRON:DURATION (igor2's form): 5 cron fields (minute hour day-of-month
month day-of-week; * lists ranges steps, jan-dec, sun-sat; a day matches either
restricted day field) read in the site's time zone, and a length like 8d15h, 15h,
90m: "0 17 24 12 *:8d15h" is every 24 Dec at 17:00 for 8 days 15 hours. Only
admins change policies.""",
}
"""The examples and notes under each verb's `igor VERB -h` (tests/golden/help.txt holds them)."""


_LIST = (
    Verb("sub", "create a reservation (or, with -s, list when one could start)", _sub, "booking:sub"),
    Verb("del", "delete a reservation", _one("reservation to delete"), "booking:delete"),
    Verb("show", "show the racks and the reservations", _show, "booking:show"),
    Verb("extend", "extend a reservation", _extend, "booking:extend"),
    Verb(
        "edit",
        "change a reservation's boot, arguments, VLAN, owner, group, description or nodes",
        _edit,
        "booking:edit",
    ),
    Verb("quota", "a user's quota (igor.conf quota) and what they hold against it", _quota, "booking:quota"),
    Verb("power", "power a reservation's nodes on, off or cycle them", _power, "ops:power"),
    Verb("sync", "compare the switch's VLANs with igor's state, and repair them (admins)", _sync, "ops:sync"),
    Verb(
        "tick",
        "install starting and tear down ending reservations (what cron runs each minute)",
        _tick,
        "ops:tick",
    ),
    Verb("block", "take nodes out of service for maintenance (admins)", _block, "ops:block"),
    Verb(
        "unblock",
        "return blocked nodes to service (admins)",
        _nodes("nodes to return to service, e.g. kn[3-5]"),
        "ops:unblock",
    ),
    Verb(
        "history",
        "a reservation's archived copies (when, why, by whom) and every logged event of it",
        _one("reservation name"),
        "ops:history",
    ),
    Verb(
        "restore",
        "put a deleted or expired reservation back if its time and nodes are free (admins)",
        _one("name of an archived reservation (see igor history)", "ARCHIVED"),
        "ops:restore",
    ),
    Verb("stats", "usage statistics over the last DAYS days, from the action log", _stats, "ops:stats"),
    Verb(
        "notify",
        "mail owners about reservations starting within the hour or ending soon (admins)",
        _dry_run("print, send nothing", ("--dry-run", "-dry-run")),
        "ops:notify",
    ),
    Verb(
        "hosts",
        "a reservation's nodes with addresses and aliases NAME-0..: hosts, ssh-config, ansible, json",
        _hosts,
        "ops:hosts",
    ),
    Verb(
        "import-classic",
        "carry classic igor's reservations.json over (admins; a dry run without --apply)",
        _import,
        "ops:import_classic",
    ),
    Verb(
        "policy",
        "host policies: which groups may book nodes, for how long, and when they are unavailable",
        _policy,
        "policies:policy",
    ),
    Verb("help", "help on igor and its commands", _help, "local:help_", needs_service=False),
    Verb("version", "print igor's version", _none, "local:version", needs_service=False),
    Verb(
        "setup",
        "install igor on this head node: user, directories, config, cron or timer, sudo rule (root)",
        _setup,
        "local:setup",
        needs_service=False,
    ),
    Verb(
        "doctor",
        "check the installation: config, directories, boot files, nodes, backends, the tick",
        _doctor,
        "local:doctor",
        needs_service=False,
    ),
)

VERBS: dict[str, Verb] = {verb.name: verb for verb in _LIST}
"""Every `igor` command by name, in the order `igor help` lists them."""
