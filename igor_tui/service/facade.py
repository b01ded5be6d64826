"""IgorService: the only entry point for the CLI, the TUI and igor-tick; permission checks live here.

The facade holds who is asking (caller, reader), over what (config, store, clock, backends) and the few
helpers every operation shares (housekeeping under the lock, the action log); each verb's work is in a
module named for it: booking, operations, reports, notify, importer, restore and the tick executor.
Every part is imported by the method that needs it, so a `igor sub` does not load (compile, run) the code
of `notify`, `import-classic` or `history`, and `igor show` not even booking's or checks' (issue 14).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime

from ..clock import Clock, SystemClock
from ..errors import IgorError, PermissionDenied, StoreError, ValidationError
from ..eventlog import EventLog
from ..identity import Caller, SystemDirectory, UserDirectory, caller_name, resolve_caller, service_uids
from ..model import Block, ClusterView, Reservation, floor_minute
from ..trust import Principal, principal
from ..typenames import TYPE_CHECKING
from ..values import replace

if TYPE_CHECKING:
    from ..archive import ArchivedReservation
    from ..backends.base import Backends
    from ..booking_plan import Plan
    from ..clockstep import ClockGuard
    from ..config import Config
    from ..content import ContentStore
    from ..model import Block, Slot
    from ..stats import Stats
    from ..store import ReservationStore, Snapshot, Transaction
    from .booking import EditRequest, ExtendInfo, SubmitRequest
    from .importer import ImportItem
    from .like import Like
    from .notify import NotifyReport
    from .operations import BlockResult, PortDiff
    from .reports import HistoryEvent, InventoryHost
    from .tick_executor import TickReport


class IgorService:
    """Every operation on reservations, for one caller, over one store, config and clock."""

    def __init__(
        self,
        config: Config,
        store: ReservationStore,
        caller: Caller,
        *,
        clock: Clock | None = None,
        directory: UserDirectory | None = None,
        content: ContentStore | None = None,
        events: EventLog | None = None,
        backends: Callable[[], Backends] | None = None,
        reader: Principal | None = None,
        clock_guard: ClockGuard | None = None,
    ) -> None:
        self.clock_guard = clock_guard
        self.config = config
        self.store = store
        self.caller = caller
        self.reader = reader
        """Whose rights boot files are read with (trust.principal); None: the process's own."""
        self.clock = clock or SystemClock()
        self.directory = directory or SystemDirectory()
        self._content = content
        self.events = events or EventLog(config.logfile)
        self.naming = config.naming
        self.nodes = self.naming.all()
        self._backend_factory = backends
        self._backends_built: Backends | None = None
        self._last_slot: tuple[tuple[object, ...], Slot] | None = None
        """The last find_slot question and answer (booking._find_slot): the TUI form's plan, then its
        booking, schedules once."""
        self._last_like: tuple[SubmitRequest, Snapshot, datetime, Like] | None = None
        """The last `--like` answer (like.resolve_like): printed, planned and booked from one resolution."""

    def backends(self) -> Backends:
        """The configured backends, built on first use: read-only commands never construct (or call) any."""
        if self._backends_built is None:
            if self._backend_factory is None:
                from ..backends.factory import build_backends

                self._backends_built = build_backends(self.config)
            else:
                self._backends_built = self._backend_factory()
        return self._backends_built

    @property
    def content(self) -> ContentStore:
        """Where boot files are copied to; made on first use (only booking and editing copy files)."""
        if self._content is None:
            from ..content import ContentStore

            self._content = ContentStore(self.config.contentdir, lock_dir=self.config.statedir)
        return self._content

    # ------------------------------------------------------------------------------------ reading

    def now(self) -> datetime:
        """The current minute: igor books whole minutes."""
        return floor_minute(self.clock.now())

    def real_now(self) -> datetime:
        """`now`, unless igor-tick holds a clock step: then the trusted time (the last baseline plus the
        boottime elapsed since, see clockstep.py), which a stepped wall clock cannot move."""
        if self.clock_guard is not None:
            check = self.clock_guard.check(self.clock.now())
            if check.held and check.trusted is not None:
                return floor_minute(check.trusted)
        return self.now()

    def live_reservations(self) -> tuple[Reservation, ...]:
        """The reservations still in the store's working set now (not ended, or not yet torn down): what
        the checks read. `view` adds what drawing needs, host-policy windows among them."""
        return _live(self.store.snapshot().reservations, self.now())

    def view(self) -> ClusterView:
        """An immutable snapshot of the cluster for drawing: live reservations, blocks and node health."""
        snap = self.store.snapshot()
        now = self.now()
        live = _live(snap.reservations, now)
        windows: tuple[Block, ...] = ()
        if snap.policies:  # policy code is loaded only on clusters that have policies
            from .policies import windows_around

            windows = windows_around(self, snap.policies, now)
        return ClusterView(
            now=now,
            user=self.caller.user,
            is_admin=self.caller.is_admin,
            nodes=self.nodes,
            reservations=live,
            blocks=snap.blocks,
            status=dict(snap.nodes),
            policies=snap.policies,
            windows=windows,
        )

    def get(self, name: str) -> Reservation:
        """The live reservation called `name`, or NotFound in the words every verb uses."""
        from .checks import find

        return find(self.live_reservations(), name)

    def can_write(self, res: Reservation) -> bool:
        """Owner, a member of the reservation's group, or an admin may delete, extend, edit and power it."""
        caller = self.caller
        return caller.is_admin or res.owner == caller.user or bool(res.group and res.group in caller.groups)

    def max_minutes(self, nodes: int) -> float | None:
        """The caller's time limit for a booking of `nodes` nodes (None: unlimited), for forms to show."""
        if self.caller.is_admin:
            return None
        from ..scheduler import max_minutes

        return max_minutes(self.config.timelimit, nodes)

    def ensure_writable(self, name: str, verb: str) -> Reservation:
        """The reservation if the caller may `verb` it, else the refusal the CLI would print; lets the TUI
        refuse before asking for confirmation, in the same words."""
        from .checks import find_writable

        return find_writable(self, list(self.live_reservations()), name, verb)

    @property
    def power_configured(self) -> bool:
        """Whether `power` can work here; the TUI explains instead of offering a dead action."""
        cfg = self.config
        return bool(cfg.power == "ssh" or cfg.poweroncommand or cfg.poweroffcommand)

    def cobbler_profiles(self) -> list[str]:
        """The Cobbler profiles a reservation may boot (empty when Cobbler is not used)."""
        if not self.config.usecobbler:
            return []
        profiles: Callable[[], list[str]] | None = getattr(self.backends().boot, "profiles", None)
        return sorted(profiles()) if profiles is not None else []

    def field_errors(self, req: SubmitRequest, *, booking: bool = True) -> dict[str, str]:
        """Every problem with a submit request, per field, in the words `submit` would use (booking.py)."""
        from . import booking as booking_ops

        return booking_ops.field_errors(self, req, booking=booking)

    # ------------------------------------------------------------------------------------ booking

    def speculate(self, req: SubmitRequest, limit: int | None = None) -> list[Slot]:
        """The next `limit` (default booking.SPECULATION_OPTIONS) distinct options for `req`; each is
        bookable with `after` set to its start."""
        from . import booking as booking_ops

        return booking_ops.speculate(self, req, booking_ops.SPECULATION_OPTIONS if limit is None else limit)

    def plan(self, req: SubmitRequest) -> Plan:
        """What `submit` would book now, and why it starts later than asked (if it does)."""
        from . import booking

        return booking.plan(self, req)

    def submit(self, req: SubmitRequest, *, expect: Slot | None = None) -> Reservation:
        """`igor sub`: validate, copy the boot files, then schedule and store in one locked transaction;
        with `expect`, only if the booking is still that plan (else PlanChanged: see booking.book)."""
        from . import booking

        return booking.submit(self, req, expect)

    def book(self, req: SubmitRequest, *, expect: Slot | None = None) -> tuple[Reservation, str]:
        """`submit`, and why the booking starts later than asked ("" when it does not): `igor sub`'s line."""
        from . import booking

        return booking.book(self, req, expect)

    def delete(self, name: str) -> Reservation:
        """`igor del`: release a reservation (an installed one is torn down by the next tick)."""
        from . import booking

        return booking.delete(self, name)

    def extend(self, name: str, duration: str = "60m") -> Reservation:
        """`igor extend`: push the end out, if its nodes are free and the caller's limits allow."""
        from . import booking

        return booking.extend(self, name, duration)

    def extend_info(self, name: str) -> ExtendInfo:
        """How far `name` could be extended now, and why not further (the TUI's extend dialog)."""
        from . import booking

        return booking.extend_info(self, name)

    def edit(self, name: str, req: EditRequest) -> Reservation:
        """`igor edit`: change what a reservation boots, its args, VLAN, owner or group."""
        from . import booking

        return booking.edit(self, name, req)

    # ----------------------------------------------------------------------------- real systems

    def tick(
        self, *, dry_run: bool = False, probe: bool = True, accept_clock_step: bool = False
    ) -> TickReport:
        """One igor-tick run (service/tick_executor.py); admins and the igor service user only."""
        from .tick_executor import run_tick

        return run_tick(self, dry_run=dry_run, probe=probe, accept_clock_step=accept_clock_step)

    def power(self, action: str, *, name: str = "", nodes: str = "", force: bool = False) -> tuple[str, ...]:
        """`igor power`: power a reservation's nodes, or listed nodes the caller may power."""
        from . import operations

        return operations.power(self, action, name=name, nodes=nodes, force=force)

    def sync(self, *, repair: bool = False) -> list[PortDiff]:
        """`igor sync` (admins): the switch ports whose VLAN differs from the store; `repair` fixes them."""
        from . import operations

        return operations.sync(self, repair=repair)

    def block(self, nodes: str, *, reason: str, start: str = "", duration: str = "") -> BlockResult:
        """`igor block` (admins): take nodes out of service; overlapping reservations are returned."""
        from . import operations

        return operations.block(self, nodes, reason=reason, start=start, duration=duration)

    def unblock(self, nodes: str) -> list[Block]:
        """`igor unblock` (admins): return nodes to service; returns the blocks as they were before."""
        from . import operations

        return operations.unblock(self, nodes)

    def notify(self, *, dry_run: bool = False) -> NotifyReport:
        """`igor notify` (admins): mail each owner's due reminders, each once (service/notify.py)."""
        from . import notify as notify_ops

        return notify_ops.notify(self, dry_run=dry_run)

    def import_classic(self, path: str, *, apply: bool = False) -> list[ImportItem]:
        """`igor import-classic` (admins): carry classic igor's reservations over; a dry run by default."""
        from . import importer

        return importer.import_classic(self, path, apply=apply)

    # ------------------------------------------------------------------------------------ reports

    def history(self, name: str) -> list[HistoryEvent]:
        """`igor history`: every logged event of reservations called `name`."""
        from . import reports

        return reports.history(self, name)

    def archived(self, name: str) -> list[ArchivedReservation]:
        """Archived reservations called `name`, oldest first (`igor history` shows them)."""
        from . import restore as restore_ops

        return restore_ops.archived_named(self, name)

    def past_reservations(self, start: datetime, end: datetime) -> list[Reservation]:
        """Archived reservations whose window overlaps [start, end), by start (the TUI's past)."""
        from . import restore as restore_ops

        return restore_ops.past_reservations(self, start, end)

    def restore(self, name: str) -> Reservation:
        """`igor restore` (admins): put an archived reservation back (service/restore.py)."""
        from . import restore as restore_ops

        return restore_ops.restore(self, name)

    def stats(self, days: int) -> Stats:
        """`igor stats`: usage over the last `days` days from the action log."""
        from . import reports

        return reports.stats(self, days)

    def inventory(self, name: str) -> list[InventoryHost]:
        """`igor hosts`: a reservation's nodes with stable aliases and configured addresses."""
        from . import reports

        return reports.inventory(self, name)

    # ---------------------------------------------------------- shared by the modules of the service

    # The TUI's speculation screen and restore.py ask these two checks through the service.
    @staticmethod
    def _duration(text: str) -> int:
        from .checks import duration_minutes

        return duration_minutes(text)

    @staticmethod
    def _check_unique(name: str, live: list[Reservation], now: datetime) -> None:
        from .checks import check_unique

        check_unique(name, live, now)

    def _require_admin(self, what: str) -> None:
        """Admin-only verbs (block, sync, notify, import …) refuse everyone else in the same words."""
        if not self.caller.is_admin:
            raise PermissionDenied(f"only admins may {what}")

    def _housekeep(self, tx: Transaction, now: datetime) -> list[Reservation]:
        """`_expire`, then every live reservation."""
        live = tx.reservations()
        expired = self._expire(tx, now, live)
        return [r for r in live if r.id not in expired] if expired else live

    def _expire(self, tx: Transaction, now: datetime, among: list[Reservation] | None = None) -> set[int]:
        """Drop ended reservations that were never installed (nothing to undo); their ids.

        Installed ones stay until igor-tick has torn them down; their end still frees the nodes. Without
        `among` (every reservation, when the caller needs them all anyway) only those that have begun are
        looked at (`reservations_started_by`): from the snapshot cache the rest are never built, which a
        verb that needs one reservation (`igor del`) relies on.
        """
        if self.clock_guard is not None and self.clock_guard.check(self.clock.now()).held:
            return set()  # a clock step holds expiry
        expired: set[int] = set()
        for res in tx.reservations_started_by(now, ()) if among is None else among:
            if res.has_ended(now) and not res.installed:
                tx.archive_reservation(res.id, why="expired", by="igor", when=now)
                self._log("expired", res)
                expired.add(res.id)
        if expired:
            from .housekeeping import collect_unused

            collect_unused(self.content, tx)
        return expired

    @contextmanager
    def _copies_collected_on_failure(self) -> Iterator[None]:
        """Copies made for a request that is then refused must not pile up in the content area. Only a
        request that put a new copy there collects (under the store's lock): one refused before it
        copied anything leaves the state directory untouched."""
        published = self.content.published
        try:
            yield
        except BaseException as err:
            # (a busy store would only make us wait a second time)
            if self.content.published != published and not isinstance(err, StoreError):
                from .housekeeping import collect_unused

                with suppress(IgorError, OSError), self.store.transaction() as tx:
                    collect_unused(self.content, tx)
            raise

    def _ensure_content(self, files: tuple[tuple[str, str, str], ...]) -> None:
        """Inside the lock: re-copy any file a concurrent delete collected since we copied it, (what, path,
        digest) each, read with the caller's rights again: the path may point elsewhere by now."""
        for what, path, digest in files:
            if (
                digest
                and not self.content.has(digest)
                and self.content.add(path, what, self.reader) != digest
            ):
                raise ValidationError(f"{what} {path} changed while igor was copying it; try again")

    def _nodes_text(self, names: tuple[str, ...]) -> str:
        """Logging happens after the commit and must not fail, even for nodes the config no longer has."""
        try:
            return self.naming.compress(names)
        except ValueError:
            return ",".join(names)

    def _log(self, event: str, res: Reservation, **extra: object) -> None:
        """One line of the action log about `res` (history and stats read it back)."""
        self.events.append(
            self.clock.now(),
            event,
            by=self.caller.user,
            id=res.id,
            name=res.name,
            owner=res.owner,
            group=res.group,
            nodes=self._nodes_text(res.nodes),
            count=len(res.nodes),
            start=res.start.isoformat(),
            end=res.end.isoformat(),
            **extra,
        )


def build_service(
    config_path: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    boot_id: Callable[[], str] | None = None,
) -> IgorService:
    """The production wiring: config from --config / IGOR_CONFIG / /etc/igor.conf, files in statedir.

    `boot_id` replaces the kernel's boot id for tests (a "reboot"); only code can pass it, never the
    environment, which a sudo caller controls."""
    from ..config import config_path as resolve_path
    from ..config import load_config
    from ..store import TinyStore

    env = os.environ if env is None else env
    path = resolve_path(config_path, env)
    trusted = service_uids()
    who = principal(env, trusted)
    config = load_config(path, who)  # refuses a config the caller could have made, before anything else
    directory = SystemDirectory()
    caller = resolve_caller(caller_name(env, trusted), config.admins, directory)
    if not env.get("SUDO_USER") and os.geteuid() in trusted:
        caller = replace(caller, is_admin=True)  # the igor service user itself (cron's igor-tick)
    from ..statedir import check_not_left_behind

    check_not_left_behind(config)
    from ..clockstep import STATE_NAME, ClockGuard, read_boot_id

    guard = ClockGuard(
        os.path.join(config.statedir, STATE_NAME), config.clockstepminutes, boot_id=boot_id or read_boot_id
    )
    return IgorService(
        config, TinyStore(config.statedir), caller, directory=directory, reader=who, clock_guard=guard
    )


def _live(reservations: tuple[Reservation, ...], now: datetime) -> tuple[Reservation, ...]:
    return tuple(r for r in reservations if r.end > now or r.installed)  # housekeeping.is_live, inlined
