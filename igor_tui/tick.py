"""igor-tick: make reservations happen on real systems, once a minute from cron, idempotently.

Plan, then act. `plan_actions` is pure: (now, reservations, install records, policy) -> actions, with every
teardown ordered before any install, so a reservation ending at 10:00 can never wipe the boot files or
switch ports of the next one starting at 10:00 on the same nodes (classic igor's worst bug). The executor
records a `pending` marker before each step and the outcome after it, each in its own short store
transaction, and never holds the store lock while a backend works. A tick killed at any instant leaves
enough in the store for the next run to complete or undo the step.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from .clockstep import ClockCheck
from .errors import BackendError, IgorError, StoreError
from .model import Install, NodeStatus, Reservation, floor_minute

if TYPE_CHECKING:
    from .backends.base import Backends, BootSpec, NodeAddress
    from .clock import Clock
    from .clockstep import ClockGuard
    from .content import ContentStore
    from .eventlog import EventLog
    from .hostlist import NodeNaming
    from .store import ReservationStore, Transaction

INSTALLS_KEY = "installs"
LAST_TICK_KEY = "tick.last"
MAX_BACKOFF_MINUTES = 60


class Step(enum.Enum):
    """One unit of work on a real system; teardown steps come first in every plan."""

    EXPIRE = "expire"  # ended, never installed: just drop it
    CLEAR_VLAN = "clear-vlan"
    UNINSTALL_BOOT = "uninstall-boot"
    POWER_OFF = "power-off"
    FORGET = "forget"  # teardown done: drop the install record (and the reservation if it ended)
    SET_VLAN = "set-vlan"
    INSTALL_BOOT = "install-boot"
    POWER_CYCLE = "power-cycle"
    COMPLETE = "complete"

    @property
    def teardown(self) -> bool:
        return self in _TEARDOWN


_TEARDOWN = frozenset({Step.EXPIRE, Step.CLEAR_VLAN, Step.UNINSTALL_BOOT, Step.POWER_OFF, Step.FORGET})


@dataclass(frozen=True, slots=True)
class Action:
    """A planned step for one reservation; `nodes`/`ports` are already narrowed to what it may touch."""

    step: Step
    res_id: int
    name: str
    nodes: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    refresh: bool = False  # undoing a stale install of a reservation that is still active (after an edit)


@dataclass(frozen=True, slots=True)
class TickPolicy:
    """The parts of the config the planner needs (pure data, so the planner stays pure)."""

    network: bool = False
    node_map: Mapping[str, str] = field(default_factory=dict)
    autoreboot: bool = False
    poweroffatend: bool = False
    power: bool = False


def _other_owned(
    installs: Mapping[int, Install], live: Mapping[int, Reservation], now: datetime, exclude: int
) -> tuple[set[str], set[str]]:
    """Nodes and ports held by other installs whose reservations are still running: never torn down."""
    nodes: set[str] = set()
    ports: set[str] = set()
    for inst in installs.values():
        res = live.get(inst.res_id)
        if inst.res_id != exclude and res is not None and not res.has_ended(now):
            nodes.update(inst.nodes)
            ports.update(inst.ports)
    return nodes, ports


def _waiting(inst: Install | None, now: datetime) -> bool:
    return inst is not None and inst.retry_at is not None and now < inst.retry_at


def plan_actions(
    now: datetime,
    reservations: Sequence[Reservation],
    installs: Mapping[int, Install],
    policy: TickPolicy,
) -> list[Action]:
    """Every action this tick should take, teardowns first. Pure: same inputs, same plan; a plan whose
    actions were all carried out yields an empty plan on the next call at the same instant."""
    live = {r.id: r for r in reservations}
    teardown: list[Action] = []
    refreshed: dict[int, Install] = {}
    for inst in sorted(installs.values(), key=lambda i: i.res_id):
        res = live.get(inst.res_id)
        ended = res is None or res.has_ended(now)
        stale_boot = (
            res is not None and res.revision != inst.revision and (inst.boot or inst.pending == "boot")
        )
        if not ended and not stale_boot:
            continue
        if _waiting(inst, now):
            continue
        other_nodes, other_ports = _other_owned(installs, live, now, inst.res_id)
        if ended:
            ports = tuple(p for p in inst.ports if p not in other_ports)
            if inst.network or inst.pending == "vlan":
                teardown.append(Action(Step.CLEAR_VLAN, inst.res_id, inst.name, ports=ports))
            if inst.boot is not None or inst.pending == "boot":
                mine = tuple(n for n in inst.nodes if n not in other_nodes)
                teardown.append(Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=mine))
            if policy.poweroffatend and policy.power:
                nodes = tuple(n for n in inst.nodes if n not in other_nodes)
                if nodes:
                    teardown.append(Action(Step.POWER_OFF, inst.res_id, inst.name, nodes=nodes))
            teardown.append(Action(Step.FORGET, inst.res_id, inst.name))
        else:
            assert res is not None
            teardown.append(
                Action(Step.UNINSTALL_BOOT, inst.res_id, inst.name, nodes=inst.nodes, refresh=True)
            )
            refreshed[inst.res_id] = replace(inst, boot=None, pending="", complete=False)
    for res in reservations:
        if res.has_ended(now) and not res.installed and res.id not in installs:
            teardown.append(Action(Step.EXPIRE, res.id, res.name))

    setup: list[Action] = []
    for res in sorted(reservations, key=lambda r: (r.start, r.id)):
        if not res.is_active(now):
            continue
        current = refreshed.get(res.id) or installs.get(res.id)
        if current is not None and current.complete and current.revision == res.revision:
            continue
        if _waiting(current, now):
            continue
        ports = tuple(policy.node_map[n] for n in res.nodes if n in policy.node_map)
        vlan_ok = current is not None and current.network and (res.vlan is None or res.vlan == current.vlan)
        if policy.network and not vlan_ok:
            setup.append(Action(Step.SET_VLAN, res.id, res.name, nodes=res.nodes, ports=ports))
        if current is None or current.boot is None:
            setup.append(Action(Step.INSTALL_BOOT, res.id, res.name, nodes=res.nodes))
        if policy.autoreboot and policy.power and not (current is not None and current.powered):
            setup.append(Action(Step.POWER_CYCLE, res.id, res.name, nodes=res.nodes))
        setup.append(Action(Step.COMPLETE, res.id, res.name, nodes=res.nodes))
    return teardown + setup


# ------------------------------------------------------------------------------------- the records


def install_to_record(inst: Install) -> dict[str, Any]:
    return {
        "res_id": inst.res_id,
        "name": inst.name,
        "revision": inst.revision,
        "nodes": list(inst.nodes),
        "vlan": inst.vlan,
        "ports": list(inst.ports),
        "network": inst.network,
        "boot": inst.boot,
        "powered": inst.powered,
        "complete": inst.complete,
        "pending": inst.pending,
        "error": inst.error,
        "failures": inst.failures,
        "retry_at": inst.retry_at.isoformat() if inst.retry_at else None,
    }


def install_from_record(d: Mapping[str, Any]) -> Install:
    retry = d.get("retry_at")
    return Install(
        res_id=int(d["res_id"]),
        name=str(d.get("name", "")),
        revision=int(d.get("revision", 0)),
        nodes=tuple(d.get("nodes", ())),
        vlan=d.get("vlan"),
        ports=tuple(d.get("ports", ())),
        network=bool(d.get("network", False)),
        boot=d.get("boot"),
        powered=bool(d.get("powered", False)),
        complete=bool(d.get("complete", False)),
        pending=str(d.get("pending", "")),
        error=str(d.get("error", "")),
        failures=int(d.get("failures", 0)),
        retry_at=datetime.fromisoformat(retry) if retry else None,
    )


def read_installs(tx: Transaction) -> dict[int, Install]:
    raw = tx.get_value(INSTALLS_KEY, {}) or {}
    return {int(k): install_from_record(v) for k, v in raw.items()}


def write_installs(tx: Transaction, installs: Mapping[int, Install]) -> None:
    tx.set_value(INSTALLS_KEY, {str(k): install_to_record(v) for k, v in sorted(installs.items())})


# --------------------------------------------------------------------------------------- executing


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    ok: bool
    error: str = ""
    seconds: float = 0.0
    detail: str = ""


@dataclass
class TickReport:
    """What one run did, for the human summary, --json and the exit code."""

    now: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    planned: list[Action] = field(default_factory=list)
    probed: int = 0
    down: list[str] = field(default_factory=list)
    caught_up_minutes: int = 0
    dry_run: bool = False
    probe_error: str = ""
    mailed: list[str] = field(default_factory=list)  # `notify: true`: "alice@example.com: demo, big"
    mail_errors: list[str] = field(default_factory=list)
    clock: ClockCheck = field(default_factory=ClockCheck)  # held: a wall clock step holds teardowns
    held: list[Action] = field(default_factory=list)  # what the step held (see clockstep.py)
    clock_accepted: bool = False
    swept: list[str] = field(default_factory=list)  # crash leftovers removed (see leftovers.py)
    sweep_error: str = ""

    @property
    def failed(self) -> int:
        """Failures, a held clock step included: it needs an admin, so cron's --quiet must print it."""
        return sum(1 for o in self.outcomes if not o.ok) + len(self.mail_errors) + int(self.clock.held)


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
    ) -> None:
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
                reservations = tx.reservations()
                last = self._swap_last_run(tx, now, dry_run)
                if not dry_run and self.lock_path:  # unused copies, under the lock (see leftovers.py)
                    report.swept = self.content.collect({h for r in reservations for h in r.content_hashes()})
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
                if not outcome.ok:
                    failed.add(action.res_id)
        return report

    def _sweep(self, report: TickReport) -> None:
        """Crash leftovers go now, not after an age (see leftovers.py for why each kind is safe)."""
        if not self.lock_path:  # only the real, single-runner tick may touch other runs' temp files
            return
        from .leftovers import sweep

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
        from .clockstep import hold_destructive

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
        os.makedirs(os.path.dirname(self.lock_path) or ".", exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    "another igor-tick is still running; this one leaves the work to it"
                ) from None
            yield
        finally:
            os.close(fd)

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
            for name, state in states.items():
                tx.put_node_status(NodeStatus(name=name, state=state, checked=checked))
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
                self._finish(tx, action, now, result)
            return Outcome(action, True, detail=detail, seconds=time.monotonic() - started)
        except IgorError as err:
            message = str(err)
            with contextlib.suppress(IgorError), self.store.transaction() as tx:
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
        if inst is None:
            inst = Install(res_id=res.id, name=res.name, nodes=res.nodes)
        if step is Step.SET_VLAN:
            vlan = res.vlan if res.vlan is not None else self._allocate_vlan(tx, installs, res)
            if res.vlan is None:
                res = replace(res, vlan=vlan)
            inst = replace(inst, pending="vlan", vlan=vlan, ports=action.ports, nodes=res.nodes)
        elif step is Step.INSTALL_BOOT:
            inst = replace(inst, pending="boot", nodes=res.nodes)
        elif step is Step.POWER_CYCLE:
            inst = replace(inst, pending="power")
        if not res.installed:
            res = replace(res, installed=True)
        tx.put_reservation(res)
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
        if step in (Step.EXPIRE, Step.FORGET, Step.COMPLETE):
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
        if step is Step.UNINSTALL_BOOT:
            record = inst.boot
            if record is None and res is not None and action.nodes:
                # The install's outcome was never recorded (killed, or failed half-way, possibly without
                # a rollback if its server went away): compute what it would have written, for these
                # nodes only; uninstall removes only what still matches. A spec the backend refuses
                # (say, a node without an address) was refused by install too, before writing anything.
                try:
                    record = b.boot.record_for(self._spec(res, action.nodes))
                except BackendError:
                    record = None
            if record is not None:
                b.boot.uninstall(record)
            return None, f"boot config removed from {nodes}"
        if step is Step.INSTALL_BOOT:
            assert res is not None
            return b.boot.install(self._spec(res)), f"boot config on {nodes}"
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
        from .backends.base import BootSpec

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
                self._collect(tx)
            return
        if inst is None:
            return
        if step is Step.CLEAR_VLAN:
            pending = "" if inst.pending == "vlan" else inst.pending  # keep another step's marker
            installs[inst.res_id] = replace(inst, network=False, pending=pending, ports=())
        elif step is Step.UNINSTALL_BOOT:
            pending = "" if inst.pending == "boot" else inst.pending
            installs[inst.res_id] = replace(inst, boot=None, pending=pending, complete=False)
        elif step is Step.POWER_OFF:
            installs[inst.res_id] = replace(inst, powered=False)
        elif step is Step.FORGET:
            del installs[inst.res_id]
            if res is not None and res.has_ended(now):
                tx.archive_reservation(res.id, why="ended", by="igor-tick", when=now)
                self._collect(tx)
        elif step is Step.SET_VLAN:
            installs[inst.res_id] = replace(inst, network=True, pending="")
        elif step is Step.INSTALL_BOOT:
            installs[inst.res_id] = replace(inst, boot=result, pending="")
        elif step is Step.POWER_CYCLE:
            installs[inst.res_id] = replace(inst, powered=True, pending="")
        elif step is Step.COMPLETE:
            revision = res.revision if res is not None else inst.revision
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
        inst = installs.get(action.res_id) or Install(action.res_id, action.name)
        failures = inst.failures + 1
        delay = min(2 ** (failures - 1), MAX_BACKOFF_MINUTES)
        installs[action.res_id] = replace(
            inst, error=message, failures=failures, retry_at=now + timedelta(minutes=delay)
        )
        write_installs(tx, installs)
        res = tx.reservation(action.res_id)
        if res is not None:
            tx.put_reservation(replace(res, error=message))

    def _collect(self, tx: Transaction) -> None:
        referenced: set[str] = set()
        for res in tx.reservations():
            referenced |= res.content_hashes()
        self.content.collect(referenced)

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


# ------------------------------------------------------------------------------------------ output

_VERB = {
    Step.EXPIRE: "expire",
    Step.CLEAR_VLAN: "tear down",
    Step.UNINSTALL_BOOT: "tear down",
    Step.POWER_OFF: "tear down",
    Step.FORGET: "release",
    Step.SET_VLAN: "install",
    Step.INSTALL_BOOT: "install",
    Step.POWER_CYCLE: "install",
    Step.COMPLETE: "ready",
}


def describe(action: Action, naming: NodeNaming) -> str:
    nodes = naming.compress(action.nodes) if action.nodes else ""
    what = {
        Step.EXPIRE: "ended before it was installed",
        Step.CLEAR_VLAN: f"clear switch ports {', '.join(action.ports) or '(none left)'}",
        Step.UNINSTALL_BOOT: f"remove boot config{' (changed by edit)' if action.refresh else ''} of {nodes}",
        Step.POWER_OFF: f"power off {nodes}",
        Step.FORGET: "nodes released",
        Step.SET_VLAN: f"isolate {nodes} on its VLAN",
        Step.INSTALL_BOOT: f"write boot config for {nodes}",
        Step.POWER_CYCLE: f"power-cycle {nodes}",
        Step.COMPLETE: f"installed on {nodes}",
    }[action.step]
    return f"{_VERB[action.step]:<9} {action.name}: {what}"


def render_report(report: TickReport, naming: NodeNaming, out: IO[str]) -> None:
    when = report.now.strftime("%Y-%m-%d %H:%M UTC")
    if report.clock_accepted:
        out.write("clock step accepted: the wall clock is trusted from now on\n")
    if report.caught_up_minutes:
        out.write(f"catching up: the last tick ran {report.caught_up_minutes} minutes ago\n")
    if report.clock.held:
        out.write(f"  HOLD  {report.clock.reason}\n")
        out.writelines(f"  held  {describe(a, naming)}\n" for a in report.held)
    if report.dry_run:
        out.write(f"igor-tick {when} (dry run): {len(report.planned)} action(s) planned\n")
        out.writelines(f"  plan  {describe(a, naming)}\n" for a in report.planned)
        return
    done = len(report.outcomes)
    failures = report.failed - int(report.clock.held)  # the hold has its own line above
    summary = f"igor-tick {when}: {done} action(s), {failures} failed"
    if report.probed:
        summary += f"; {report.probed} nodes probed, {len(report.down)} down"
    out.write(summary + "\n")
    if report.probe_error:
        out.write(f"  warn  liveness probe failed: {report.probe_error}\n")
    if report.swept:
        out.write(f"  ok    removed {len(report.swept)} crash leftover(s): {', '.join(report.swept)}\n")
    if report.sweep_error:
        out.write(f"  warn  removing crash leftovers failed: {report.sweep_error}\n")
    for o in report.outcomes:
        status = "ok  " if o.ok else "FAIL"
        line = f"  {status}  {describe(o.action, naming)}"
        if not o.ok:
            line += f": {o.error}"
        out.write(line + "\n")
    out.writelines(f"  ok    mailed    {m}\n" for m in report.mailed)
    out.writelines(f"  FAIL  mail      {m}\n" for m in report.mail_errors)


def report_json(report: TickReport, naming: NodeNaming) -> dict[str, Any]:
    return {
        "time": report.now.isoformat(),
        "dry_run": report.dry_run,
        "caught_up_minutes": report.caught_up_minutes,
        "planned": [
            {"step": a.step.value, "id": a.res_id, "reservation": a.name, "nodes": list(a.nodes)}
            for a in report.planned
        ],
        "actions": [
            {
                "step": o.action.step.value,
                "id": o.action.res_id,
                "reservation": o.action.name,
                "nodes": list(o.action.nodes),
                "ok": o.ok,
                "error": o.error,
                "ms": round(o.seconds * 1000, 1),
            }
            for o in report.outcomes
        ],
        "failed": report.failed,
        "clock": {
            "held": report.clock.held,
            "accepted": report.clock_accepted,
            "step_minutes": report.clock.step_minutes,
            "reason": report.clock.reason,
            "held_actions": [
                {"step": a.step.value, "id": a.res_id, "reservation": a.name, "nodes": list(a.nodes)}
                for a in report.held
            ],
        },
        "swept": report.swept,
        "sweep_error": report.sweep_error,
        "probed": report.probed,
        "down": report.down,
        "probe_error": report.probe_error,
    }


def dump(report: TickReport, naming: NodeNaming, out: IO[str], as_json: bool) -> None:
    if as_json:
        data = report_json(report, naming)
        if report.mailed or report.mail_errors:  # only when notify is on and had something to send
            data.update(mailed=report.mailed, mail_errors=report.mail_errors)
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        render_report(report, naming, out)


def main() -> None:
    """Console-script entry point: `igor-tick` is `igor tick`."""
    from .cli import main as igor_main

    args = sys.argv[1:]
    leading: list[str] = []  # `igor-tick --config PATH ...`: the global options go before the verb
    while args and (args[0] in ("--config", "-config") or args[0].startswith(("--config=", "-config="))):
        take = 1 if "=" in args[0] else 2
        leading, args = leading + args[:take], args[take:]
    sys.argv = [sys.argv[0], *leading, "tick", *args]
    igor_main()
