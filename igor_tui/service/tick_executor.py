"""The tick executor: carries out a tick plan (see tickplan.py) on real systems, and records it.

For each action it records a `pending` marker under the store lock, releases the lock, acts on the
backends, then records the outcome under the lock again: the store lock is never held while a backend
works, and a tick killed at any instant leaves enough in the store for the next run to complete or undo
the step.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from ..clockstep import ClockCheck
from ..errors import BackendError, IgorError, PermissionDenied, StoreError
from ..model import Install, InstallStage, NodeStatus, Reservation, floor_minute
from ..tickplan import Action, Step, TickPolicy, boot_key, plan_actions, touched
from ..typenames import TYPE_CHECKING, Any
from ..values import dataclass, replace
from .heal import Healed, heal, log_heals
from .hooks import HookOutcome, configured, has_due, note_transition, run_due
from .housekeeping import collect_unused
from .installs import read_installs, write_installs
from .tick_resize import best_effort, failed_part, finish_part, grown, uninstall_part

if TYPE_CHECKING:
    from ..backends.base import Backends, BootSpec, NodeAddress
    from ..clock import Clock
    from ..clockstep import ClockGuard
    from ..config import Config
    from ..config.hooks import HookSettings
    from ..content import ContentStore
    from ..eventlog import EventLog
    from ..hostlist import NodeNaming
    from ..store import ReservationStore, Transaction
    from .facade import IgorService

LAST_TICK_KEY = "tick.last"
MAX_BACKOFF_MINUTES = 60


# --------------------------------------------------------------------------------------- executing


def _finished(inst: Install, stage: InstallStage) -> InstallStage:
    """The pending marker once `stage` is undone: cleared if it was that stage's, else kept (a marker of
    another step, killed half-way, must survive so its own teardown still runs)."""
    return InstallStage.NONE if inst.pending is stage else inst.pending


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    ok: bool
    error: str = ""
    seconds: float = 0.0
    detail: str = ""


class TickReport:
    """What one run did, for the human summary, --json and the exit code.

    A plain class rather than a dataclass: it is the tick's only mutable record, and `dataclasses`
    (with `inspect`, ~6-9 ms of imports) would be loaded by every tick for it alone."""

    def __init__(self, now: datetime, *, dry_run: bool = False) -> None:
        self.now = now
        self.dry_run = dry_run
        self.outcomes: list[Outcome] = []
        self.planned: list[Action] = []
        self.probed = 0
        self.down: list[str] = []
        self.caught_up_minutes = 0
        self.probe_error = ""
        self.mailed: list[str] = []  # `notify: true`: "alice@example.com: demo, big"
        self.mail_errors: list[str] = []
        self.clock = ClockCheck()  # held: a wall clock step holds teardowns
        self.held: list[Action] = []  # what the step held (see clockstep.py)
        self.clock_accepted = False
        self.swept: list[str] = []  # crash leftovers removed (see leftovers.py)
        self.sweep_error = ""
        self.hooks: list[HookOutcome] = []  # on_start/on_end runs (see hooks.py)
        self.healed: list[Healed] = []  # `heal: true`: swaps made (see heal.py)

    @property
    def failed(self) -> int:
        """Failures, a held clock step and failed hooks included: they need an admin, so cron's --quiet
        must print them (a failed hook still never blocked its reservation)."""
        failures = sum(not o.ok for o in self.outcomes) + sum(not h.ok for h in self.hooks)
        return failures + len(self.mail_errors) + int(self.clock.held)


class Ticker:
    """Runs one tick: liveness probe, plan under the lock, act without it, record each outcome."""

    def __init__(
        self,
        *,
        store: ReservationStore,
        clock: Clock,
        backends: Backends | Callable[[], Backends],
        policy: TickPolicy,
        naming: NodeNaming,
        content: ContentStore,
        events: EventLog,
        resolve: Callable[[Sequence[str]], list[NodeAddress]],
        vlan_pool: tuple[int, int] = (0, 0),
        lock_path: str = "",
        last_path: str = "",
        clock_guard: ClockGuard | None = None,
        pxe_dir: str = "",
        hooks: HookSettings | None = None,
        heal: bool = False,
        tz: tzinfo = UTC,
    ) -> None:
        self.hooks = hooks if configured(hooks) else None
        self.heal = heal
        self.tz = tz  # the site's zone: host-policy windows (heal) are read in it
        self.clock_guard = clock_guard
        self.pxe_dir = pxe_dir
        self.store = store
        self.clock = clock
        self._backends = backends
        self.last_path = last_path
        self.policy = policy
        self.naming = naming
        self.content = content
        self.events = events
        self.resolve = resolve
        self.vlan_pool = vlan_pool
        self.lock_path = lock_path

    @property
    def backends(self) -> Backends:
        """Built on first use: a tick with nothing to do (most minutes) never constructs a backend."""
        if callable(self._backends):
            self._backends = self._backends()
        return self._backends

    def _swap_last_run(self, tx: Transaction, now: datetime, dry_run: bool) -> str | None:
        """When the previous tick ran (for "catching up" after downtime), and record this one.

        With `last_path` the time lives in its own small file, so an idle tick never rewrites (and
        fsyncs) the whole store just to note the time; otherwise in the store's key/value area."""
        if not self.last_path:
            last: str | None = tx.get_value(LAST_TICK_KEY)
            if not dry_run:
                tx.set_value(LAST_TICK_KEY, now.isoformat())
            return last
        try:
            with open(self.last_path, encoding="ascii") as handle:
                last = handle.read().strip() or None
        except (OSError, UnicodeDecodeError):
            last = None
        if not dry_run and last != now.isoformat():
            tmp = f"{self.last_path}.tmp"
            with contextlib.suppress(OSError):
                with open(tmp, "w", encoding="ascii") as handle:
                    handle.write(now.isoformat() + "\n")
                os.replace(tmp, self.last_path)
        return last

    # -- the run

    def run(
        self, *, dry_run: bool = False, probe: bool = True, accept_clock_step: bool = False
    ) -> TickReport:
        now = floor_minute(self.clock.now())
        report = TickReport(now=now, dry_run=dry_run)
        with self._single_runner():
            guard = self.clock_guard
            if guard is not None:
                if accept_clock_step and not dry_run:
                    guard.accept(self.clock.now())
                    report.clock_accepted = True
                report.clock = guard.check(self.clock.now())
            if probe and not dry_run and self.backends.liveness is not None:
                self._probe(report)
            with self.store.transaction() as tx:
                installs = read_installs(tx)
                if report.clock.held:  # planned at two instants (see _plan_held): all of them
                    reservations = tx.reservations()
                else:  # begun or ended by now, or installed: a future one needs nothing yet (~65 of 5,000)
                    reservations = tx.reservations_started_by(now, installs)
                last = self._swap_last_run(tx, now, dry_run)
                hooks_left = self.hooks is not None and has_due(tx)
                if self.heal and not dry_run and not report.clock.held:  # a stepped clock: no new swaps
                    reservations = self._heal(tx, now, report, installs)
                if not dry_run and self.lock_path:  # unused copies, under the lock (see leftovers.py)
                    report.swept = collect_unused(self.content, tx)
            if report.healed:  # logged once committed
                log_heals(self.events, self.clock.now(), report.healed)
            if last:
                gap = int((now - datetime.fromisoformat(last)).total_seconds() // 60)
                report.caught_up_minutes = gap if gap > 2 else 0
            if report.clock.held and report.clock.trusted is not None:
                now = self._plan_held(report, reservations, installs)
            else:
                report.planned = plan_actions(now, reservations, installs, self.policy)
            if dry_run:
                return report
            if guard is not None:
                guard.settle(self.clock.now(), report.clock)
            self._sweep(report)
            failed: set[int] = set()
            for action in report.planned:
                if action.res_id in failed:
                    continue
                outcome = self._execute(action, now)
                report.outcomes.append(outcome)
                self._log(outcome)
                if not outcome.ok and not best_effort(action):
                    failed.add(action.res_id)
            self._run_hooks(report, now, hooks_left)
        return report

    def _run_hooks(self, report: TickReport, now: datetime, left: bool) -> None:
        """After the actions: on_start/on_end made due by this tick's transitions or left by a killed one."""
        if self.hooks is None:
            return
        if left or any(
            o.ok and o.action.step in (Step.COMPLETE, Step.FORGET, Step.EXPIRE) for o in report.outcomes
        ):
            report.hooks = run_due(self.store, self.hooks, self.events, now)

    def _note_hooks(self, tx: Transaction, action: Action) -> None:
        """In the transaction recording `action` done: make its hook due in the same write (hooks.py)."""
        if self.hooks is not None:
            note_transition(tx, action, self.hooks, self.naming)

    def _heal(
        self, tx: Transaction, now: datetime, report: TickReport, installs: Collection[int]
    ) -> list[Reservation]:
        """`heal: true`, under the plan's lock: swap down or blocked nodes before planning, so this very
        tick tears the old node down and installs the new one. The log lines follow the commit. Returns
        what the tick plans over, as without heal (`reservations_started_by`), the swaps included."""
        report.healed = heal(tx, now, self.naming.all(), self.tz)
        return tx.reservations_started_by(now, installs)

    def _sweep(self, report: TickReport) -> None:
        """Crash leftovers go now, not after an age (see leftovers.py for why each kind is safe)."""
        if not self.lock_path:  # only the real, single-runner tick may touch other runs' temp files
            return
        from ..leftovers import sweep

        temps = [f"{self.last_path}.tmp"] if self.last_path else []
        if self.clock_guard is not None:
            temps.append(f"{self.clock_guard.path}.tmp")
        try:
            report.swept += sweep(self.store, self.content, self.pxe_dir, temps)
        except (IgorError, OSError) as err:  # housekeeping: never worth failing the tick's real work over
            report.sweep_error = str(err)

    def _plan_held(
        self, report: TickReport, reservations: list[Reservation], installs: dict[int, Install]
    ) -> datetime:
        """A held clock step: plan at the trusted time, hold every teardown (and what the wall clock would
        have torn down or expired), log why; returns the time the actions run at."""
        from ..clockstep import hold_destructive

        assert report.clock.trusted is not None
        trusted = floor_minute(report.clock.trusted)
        report.planned, held = hold_destructive(
            plan_actions(trusted, reservations, installs, self.policy), installs
        )
        wall = [a for a in plan_actions(report.now, reservations, installs, self.policy) if a.step.teardown]
        report.held = held + [a for a in wall if a not in held]
        if not report.dry_run:
            self.events.append(
                self.clock.now(),
                "clock-step",
                reason=report.clock.reason,
                step_minutes=report.clock.step_minutes,
                held=len(report.held),
            )
        return trusted

    @contextlib.contextmanager
    def _single_runner(self) -> Iterator[None]:
        """Cron may start a tick while the previous one is still working: the second one just leaves."""
        if not self.lock_path:
            yield
            return
        from ..locks import LockBusy, hold

        os.makedirs(os.path.dirname(self.lock_path) or ".", exist_ok=True)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(hold(self.lock_path, flags=os.O_RDWR | os.O_CREAT, mode=0o644))
            except LockBusy:
                raise StoreError(
                    "another igor-tick is still running; this one leaves the work to it"
                ) from None
            yield

    def _probe(self, report: TickReport) -> None:
        assert self.backends.liveness is not None
        try:
            addresses = self.resolve(self.naming.all())
            states = self.backends.liveness.probe(addresses)
        except IgorError as err:  # health is advisory: installs and teardowns must still happen
            report.probe_error = str(err)
            return
        checked = self.clock.now()
        with self.store.transaction() as tx:
            tx.put_node_statuses(
                [NodeStatus(name=n, state=state, checked=checked) for n, state in states.items()]
            )
        report.probed = len(states)
        report.down = sorted(
            (n for n, s in states.items() if s.value == "down"), key=lambda n: self.naming.number(n) or 0
        )

    # -- one action: begin (record intent), act (no lock), end (record outcome)

    def _execute(self, action: Action, now: datetime) -> Outcome:
        started = time.monotonic()
        try:
            with self.store.transaction() as tx:
                prepared = self._begin(tx, action, now)
            if prepared is None:
                return Outcome(action, True, detail="already done", seconds=time.monotonic() - started)
            res, inst = prepared
            result, detail = self._act(action, res, inst)
            with self.store.transaction() as tx:
                self._note_hooks(tx, action)
                self._finish(tx, action, now, result)
            return Outcome(action, True, detail=detail, seconds=time.monotonic() - started)
        except IgorError as err:
            message = str(err)
            with contextlib.suppress(IgorError), self.store.transaction() as tx:
                if not best_effort(action):
                    self._record_failure(tx, action, now, message)
            return Outcome(action, False, error=message, seconds=time.monotonic() - started)

    def _begin(
        self, tx: Transaction, action: Action, now: datetime
    ) -> tuple[Reservation | None, Install] | None:
        """Under the lock: re-check the action still applies, record `pending`, allocate a VLAN."""
        installs = read_installs(tx)
        res = tx.reservation(action.res_id)
        inst = installs.get(action.res_id)
        step = action.step
        if step is Step.EXPIRE:
            if res is None or res.installed or not res.has_ended(now):
                return None
            return res, Install(res.id, res.name)
        if step.teardown:
            if inst is None:
                return None
            return res, inst
        if res is None or not res.is_active(now):
            return None
        stored, recorded = res, inst
        inst = grown(inst, res)
        if step is Step.SET_VLAN:
            vlan = res.vlan if res.vlan is not None else self._allocate_vlan(tx, installs, res)
            if res.vlan is None:
                res = replace(res, vlan=vlan)
            ports = tuple(dict.fromkeys((*inst.ports, *action.ports))) if action.partial else action.ports
            inst = replace(inst, pending=InstallStage.VLAN, vlan=vlan, ports=ports)
        elif step is Step.INSTALL_BOOT:
            key = inst.boot_key if action.partial else boot_key(res)
            inst = replace(inst, pending=InstallStage.BOOT, boot_key=key)
        elif step is Step.POWER_CYCLE:
            inst = replace(inst, pending=InstallStage.POWER)
        if not res.installed:
            res = replace(res, installed=True)
        # Only what changed is written: a step whose intent is already on record (COMPLETE, mostly)
        # would otherwise commit the same document again, two fsyncs and a full rewrite for nothing.
        if res != stored:
            tx.put_reservation(res)
        if inst != recorded:
            installs[res.id] = inst
            write_installs(tx, installs)
        return res, inst

    def _allocate_vlan(self, tx: Transaction, installs: Mapping[int, Install], res: Reservation) -> int:
        """Lowest free VLAN of the pool (0 is never one), under the lock so two ticks cannot share one."""
        low, high = self.vlan_pool
        used = {r.vlan for r in tx.reservations() if r.vlan is not None and r.id != res.id}
        used |= {i.vlan for i in installs.values() if i.vlan is not None and i.res_id != res.id}
        for vlan in range(max(low, 1), high + 1):
            if vlan not in used:
                return vlan
        raise BackendError(f"no free VLAN in the pool {low}-{high} for {res.name}")

    def _act(self, action: Action, res: Reservation | None, inst: Install) -> tuple[Any, str]:
        """The only place a backend is called; the store lock is not held here."""
        step = action.step
        b = self.backends
        nodes = self.naming.compress(action.nodes) if action.nodes else ""
        if step in (Step.EXPIRE, Step.FORGET, Step.COMPLETE, Step.RELEASE_NODES):
            return None, ""
        if step is Step.CLEAR_VLAN:
            if action.ports and b.switch is not None:
                b.switch.clear(action.ports)
            return None, f"ports {', '.join(action.ports) or 'none'} cleared"
        if step is Step.SET_VLAN:
            if b.switch is None:
                raise BackendError("network isolation is configured but no switch backend is available")
            if inst.vlan is None:
                raise BackendError(f"{action.name} has no VLAN")
            missing = [n for n in action.nodes if n not in self.policy.node_map]
            if missing:
                raise BackendError(f"{', '.join(missing)} not in node_map: cannot isolate {action.name}")
            b.switch.set_vlan(action.ports, inst.vlan)
            return None, f"VLAN {inst.vlan} on {nodes}"
        if step is Step.UNINSTALL_BOOT:  # the dropped nodes, or the whole install (tick_resize.py)
            part = uninstall_part(b.boot, action, inst, res, self._spec)
            return part, f"boot config removed from {nodes}"
        if step is Step.INSTALL_BOOT:
            assert res is not None
            spec = self._spec(res, action.nodes if action.partial else None)
            return b.boot.install(spec), f"boot config on {nodes}"
        if step is Step.POWER_OFF:
            if b.power is not None:
                b.power.power(action.nodes, "off")
            return None, f"{nodes} powered off"
        if step is Step.POWER_CYCLE:
            if b.power is None:
                raise BackendError("autoreboot is on but power is not configured")
            b.power.power(action.nodes, "cycle")
            return None, f"{nodes} power-cycled"
        raise AssertionError(step)

    def _spec(self, res: Reservation, nodes: Sequence[str] | None = None) -> BootSpec:
        from ..backends.base import BootSpec

        addresses = tuple(self.resolve(res.nodes if nodes is None else nodes))
        return BootSpec(
            key=f"igor-{res.id}",
            label=res.name,
            nodes=addresses,
            kernel_path=self.content.path(res.kernel_hash) if res.kernel_hash else "",
            initrd_path=self.content.path(res.initrd_hash) if res.initrd_hash else "",
            kernel_args=res.kernel_args,
            profile=res.profile,
        )

    def _finish(self, tx: Transaction, action: Action, now: datetime, result: Any) -> None:
        """Under the lock: record what the step achieved."""
        installs = read_installs(tx)
        step = action.step
        res = tx.reservation(action.res_id)
        inst = installs.get(action.res_id)
        if step is Step.EXPIRE:
            if res is not None:
                tx.archive_reservation(res.id, why="expired", by="igor-tick", when=now)
                collect_unused(self.content, tx)
            return
        if inst is None:
            return
        if action.partial:
            installs[inst.res_id] = finish_part(inst, action, result)
        elif step is Step.CLEAR_VLAN:
            pending = _finished(inst, InstallStage.VLAN)
            installs[inst.res_id] = replace(inst, network=False, pending=pending, ports=())
        elif step is Step.UNINSTALL_BOOT:
            pending = _finished(inst, InstallStage.BOOT)
            installs[inst.res_id] = replace(inst, boot=None, pending=pending, complete=False)
        elif step is Step.POWER_OFF:
            installs[inst.res_id] = replace(inst, powered=False)
        elif step is Step.FORGET:
            del installs[inst.res_id]
            if res is not None and res.has_ended(now):
                tx.archive_reservation(res.id, why="ended", by="igor-tick", when=now)
                collect_unused(self.content, tx)
        elif step is Step.SET_VLAN:
            installs[inst.res_id] = replace(inst, network=True, pending=InstallStage.NONE)
        elif step is Step.INSTALL_BOOT:
            installs[inst.res_id] = replace(inst, boot=result, pending=InstallStage.NONE)
        elif step is Step.POWER_CYCLE:
            installs[inst.res_id] = replace(inst, powered=True, pending=InstallStage.NONE)
        elif step is Step.COMPLETE:
            revision = res.revision if res is not None else inst.revision
            inst = replace(inst, nodes=touched(inst), growing=())  # the added nodes are set up now
            installs[inst.res_id] = replace(
                inst, complete=True, revision=revision, error="", failures=0, retry_at=None
            )
            if res is not None and res.error:
                tx.put_reservation(replace(res, error=""))
        if step.teardown and step is not Step.FORGET and inst.error:
            installs[inst.res_id] = replace(installs[inst.res_id], error="", failures=0, retry_at=None)
        write_installs(tx, installs)

    def _record_failure(self, tx: Transaction, action: Action, now: datetime, message: str) -> None:
        """The error goes on the reservation (flag E) and the retry waits 1, 2, 4 … 60 minutes."""
        installs = read_installs(tx)
        inst = failed_part(installs.get(action.res_id) or Install(action.res_id, action.name), action)
        failures = inst.failures + 1
        delay = min(2 ** (failures - 1), MAX_BACKOFF_MINUTES)
        installs[action.res_id] = replace(
            inst, error=message, failures=failures, retry_at=now + timedelta(minutes=delay)
        )
        write_installs(tx, installs)
        res = tx.reservation(action.res_id)
        if res is not None:
            tx.put_reservation(replace(res, error=message))

    def _log(self, outcome: Outcome) -> None:
        action = outcome.action
        self.events.append(
            self.clock.now(),
            "tick",
            step=action.step.value,
            id=action.res_id,
            name=action.name,
            nodes=self.naming.compress(action.nodes) if action.nodes else "",
            ports=list(action.ports),
            ok=outcome.ok,
            error=outcome.error,
            ms=round(outcome.seconds * 1000, 1),
        )


def _resolver(cfg: Config) -> Callable[[Sequence[str]], list[NodeAddress]]:
    """backends.factory's resolver, imported at the first lookup: an idle tick resolves no node, and
    the backends' value classes (backends.base) are ~4 M instructions of imports."""

    def resolve(names: Sequence[str]) -> list[NodeAddress]:
        from ..backends.factory import resolver

        return resolver(cfg)(names)

    return resolve


def run_tick(
    svc: IgorService, *, dry_run: bool = False, probe: bool = True, accept_clock_step: bool = False
) -> TickReport:
    """One igor-tick run: the `Ticker` wired from the config, then the reminder mails (`notify: true`).
    Admins and the igor service user only. `accept_clock_step`: an admin says the wall clock's jump
    ahead is right (see clockstep.py)."""
    if not svc.caller.is_admin:
        raise PermissionDenied("only admins and the igor service user may run igor-tick")
    cfg = svc.config
    ticker = Ticker(
        store=svc.store,
        clock=svc.clock,
        backends=svc.backends,  # built only if this tick has something to do
        policy=TickPolicy(
            network=cfg.network == "arista",
            node_map=dict(cfg.node_map),
            autoreboot=cfg.autoreboot,
            poweroffatend=cfg.poweroffatend,
            power=svc.power_configured,
        ),
        naming=svc.naming,
        content=svc.content,
        events=svc.events,
        resolve=_resolver(cfg),
        vlan_pool=(cfg.vlan_min, cfg.vlan_max),
        lock_path=os.path.join(cfg.statedir, "tick.lock"),
        last_path=os.path.join(cfg.statedir, "tick.last"),
        clock_guard=svc.clock_guard,
        pxe_dir="" if cfg.usecobbler else os.path.join(cfg.tftproot, "pxelinux.cfg"),
        hooks=cfg,
        heal=cfg.heal,
        tz=cfg.tz,
    )
    report = ticker.run(dry_run=dry_run, probe=probe, accept_clock_step=accept_clock_step)
    if report.clock_accepted:  # who trusted the new time, for the audit trail
        svc.events.append(svc.clock.now(), "clock-step-accepted", by=svc.caller.user)
    if report.healed:
        from .heal import mail_heals

        mail_heals(svc, report.healed, report.mailed, report.mail_errors)
    if cfg.notify and not dry_run:
        try:
            mails = svc.notify().mails
        except IgorError as err:
            report.mail_errors.append(str(err))
        else:
            for m in mails:
                names = ", ".join(r.res.name for r in m.reminders)
                (report.mailed if m.ok else report.mail_errors).append(
                    f"{m.to}: {names}" if m.ok else m.error
                )
    return report
