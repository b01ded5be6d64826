"""Site hooks: the admin's `on_start` / `on_end` commands, run by igor-tick once per transition.

Why the bookkeeping: the tick can be killed at any instant, and a prolog that runs twice (or never) is a
real problem for sites (accounting, firewall rules). So the transition that makes a hook due records it in
the store in the SAME transaction that records the transition itself (`note_transition`, called by the
executor next to its own `_finish`); the hook runs after the tick's actions (`run_due`) and its record is
removed once it returned. A tick killed before the run leaves the record: the next tick runs it. Killed
after: the record is gone, nothing repeats. Only a kill DURING the hook (or between its exit and the
removal) runs it again: at-least-once for that window, which the README says.

A hook never blocks or undoes a transition: its outcome (exit code, timeout, could not start) goes to the
event log (`igor history`) and the tick report, nothing else.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from ..tickplan import Action, Step
from ..typenames import TYPE_CHECKING, Any
from ..values import dataclass

if TYPE_CHECKING:
    from ..config.hooks import HookSettings
    from ..eventlog import EventLog
    from ..hostlist import NodeNaming
    from ..model import Reservation
    from ..store import ReservationStore, Transaction

HOOKS_KEY = "hooks"
OUTPUT_LIMIT = 2048
"""Bytes of a hook's output kept for history: enough for an error message, never a flooded log."""
HOOK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The only variable a hook inherits besides its facts: fixed, so the tick's caller cannot steer it."""
_STARTING = frozenset({Step.SET_VLAN, Step.INSTALL_BOOT, Step.POWER_CYCLE, Step.COMPLETE})
_ENDING = frozenset({Step.FORGET, Step.EXPIRE})


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """One hook run, for the tick report and history. `rerun`: a tick was killed while it ran before."""

    event: str  # "start" | "end"
    res_id: int
    name: str
    ok: bool
    result: str  # "exit 0", "exit 3", "timed out after 60 s", "could not start: ..."
    output: str = ""
    seconds: float = 0.0
    rerun: bool = False


def configured(settings: HookSettings | None) -> bool:
    return settings is not None and bool(settings.on_start or settings.on_end)


def facts(res: Reservation, naming: NodeNaming) -> dict[str, str]:
    """The reservation as the hook sees it, keyed by placeholder (its variable is IGOR_ + upper case)."""
    return {
        "name": res.name,
        "owner": res.owner,
        "group": res.group,
        "nodes": naming.compress(res.nodes) if res.nodes else "",
        "node_list": " ".join(res.nodes),
        "start": _iso(res.start),
        "end": _iso(res.end),
        "vlan": "" if res.vlan is None else str(res.vlan),
        "id": str(res.id),
    }


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(tx: Transaction) -> dict[str, Any]:
    raw = tx.get_value(HOOKS_KEY) or {}
    return {
        "known": dict(raw.get("known", {})),
        "started": list(raw.get("started", [])),
        "due": list(raw.get("due", [])),
    }


def has_due(tx: Transaction) -> bool:
    """Hooks left by an earlier tick (killed before running them), so an idle tick still runs them."""
    raw = tx.get_value(HOOKS_KEY) or {}
    return bool(raw.get("due"))


def note_transition(tx: Transaction, action: Action, settings: HookSettings, naming: NodeNaming) -> None:
    """Under the executor's lock, in the transaction that records `action` as done (call it before that
    record, while the reservation is not yet archived): remember the facts of an installing reservation
    (a deleted one has none left to read at its end), and make `on_start`/`on_end` due."""
    step = action.step
    if step not in _STARTING and step not in _ENDING:
        return
    state = _load(tx)
    key = str(action.res_id)
    res = tx.reservation(action.res_id)
    if step in _STARTING:
        if res is None:
            return
        known = facts(res, naming)
        changed = state["known"].get(key) != known
        state["known"][key] = known
        if step is Step.COMPLETE and action.res_id not in state["started"]:
            state["started"].append(action.res_id)
            changed = True
            if settings.on_start:
                state["due"].append({"event": "start", "id": action.res_id, "facts": known, "runs": 0})
        if not changed:
            return
    else:
        known = facts(res, naming) if res is not None else state["known"].get(key)
        known = known or {"name": action.name, "id": key}
        state["known"].pop(key, None)
        state["started"] = [i for i in state["started"] if i != action.res_id]
        if settings.on_end:
            state["due"].append({"event": "end", "id": action.res_id, "facts": known, "runs": 0})
    tx.set_value(HOOKS_KEY, state)


def _take(tx: Transaction, event: str, res_id: int, *, remove: bool) -> dict[str, Any] | None:
    """The due record of (event, reservation), marked as begun (`runs` + 1) or removed; None if gone."""
    state = _load(tx)
    for i, rec in enumerate(state["due"]):
        if rec.get("event") == event and rec.get("id") == res_id:
            if remove:
                del state["due"][i]
            else:
                state["due"][i] = {**rec, "runs": int(rec.get("runs", 0)) + 1}
            tx.set_value(HOOKS_KEY, state)
            return dict(rec)
    return None


def run_due(
    store: ReservationStore, settings: HookSettings, events: EventLog, now: datetime
) -> list[HookOutcome]:
    """Run every due hook, oldest first, one at a time; the store lock is never held while one runs."""
    with store.transaction() as tx:
        due = [(str(r.get("event")), int(r.get("id", 0))) for r in _load(tx)["due"]]
    outcomes: list[HookOutcome] = []
    for event, res_id in due:
        with store.transaction() as tx:
            rec = _take(tx, event, res_id, remove=False)
        if rec is None:
            continue
        known: dict[str, str] = {**rec.get("facts", {}), "event": event}
        template = settings.on_start if event == "start" else settings.on_end
        name = known.get("name", "")
        if template:
            ok, result, output, seconds = run_hook(template, known, settings.hook_timeout)
        else:  # the admin removed the hook since it became due
            ok, result, output, seconds = True, f"skipped: on_{event} is no longer configured", "", 0.0
        outcome = HookOutcome(event, res_id, name, ok, result, output, seconds, int(rec.get("runs", 0)) > 0)
        with store.transaction() as tx:
            _take(tx, event, res_id, remove=True)
        events.append(
            now,
            "hook",
            by="igor-tick",
            id=res_id,
            name=name,
            hook=event,
            ok=ok,
            result=result,
            output=output,
            rerun=outcome.rerun,
            ms=round(seconds * 1000, 1),
        )
        outcomes.append(outcome)
    return outcomes


def hook_environment(known: Mapping[str, str]) -> dict[str, str]:
    """PATH and the facts, nothing of the tick's own environment (which may come from a sudo caller)."""
    return {"PATH": HOOK_PATH, **{f"IGOR_{k.upper()}": str(v) for k, v in known.items()}}


def run_hook(
    template: tuple[str, ...], known: Mapping[str, str], timeout: int
) -> tuple[bool, str, str, float]:
    """Run one hook without a shell, stdin /dev/null, in its own process group (killed whole at the
    timeout); returns (ok, result, the first OUTPUT_LIMIT bytes of its output, seconds)."""
    values = {k: known.get(k, "") for k in _placeholders()}
    argv = [word.format_map(values) for word in template]
    import signal  # subprocess loads it anyway; an idle tick runs no hook (~0.7 ms)
    import subprocess  # only a tick with a hook to run pays for these (~10 ms; an idle tick runs none)
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryFile() as out:  # a file, not a pipe: a child left behind cannot block us
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=hook_environment(known),
                cwd="/",
                start_new_session=True,
            )
        except OSError as err:
            return False, f"could not start {argv[0]}: {err.strerror or err}", "", time.monotonic() - started
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            result, ok = f"timed out after {timeout} s (killed)", False
        else:
            result, ok = f"exit {code}", code == 0
        out.seek(0)
        text = out.read(OUTPUT_LIMIT).decode("utf-8", "replace")
    return ok, result, text, time.monotonic() - started


def _placeholders() -> tuple[str, ...]:
    from ..config.hooks import PLACEHOLDERS

    return PLACEHOLDERS
