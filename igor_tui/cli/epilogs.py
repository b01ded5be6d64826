"""The examples and notes under each verb's `igor VERB -h`, kept apart from the verb records so the
registry reads as a table (the texts are the verbs' documentation; tests/golden/help.txt holds them)."""

from __future__ import annotations

EPILOGS: dict[str, str] = {
    "sub": """\
examples:
  igor sub -r demo -k ./vmlinuz -i ./initrd.img -n 4 -t 2h
  igor sub -r demo -k ./vmlinuz -i ./initrd.img -w kn[3-5,9] -c "console=ttyS0 quiet"
  igor sub -r later -k ./vmlinuz -i ./initrd.img -n 8 -t 1d -a 2026-Dec-01-09:00
  igor sub -s -n 8 -t 4h            # when could I get 8 nodes for 4 hours? (books nothing)

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

FLAGS: A active now, W writable by you, I installed by igor-tick, E install error.
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
    "edit": """\
examples:
  igor edit -r demo -c "console=ttyS0 debug"      change only the kernel arguments
  igor edit -r demo -k ./new-vmlinuz              change only the kernel
  igor edit -r demo -g lab                        let members of group lab manage it
  igor edit -r demo -owner bob                    (admins) hand it to bob

Only the options given change; everything else is kept.""",
}
