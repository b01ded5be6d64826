"""igor-tick's report as text (cron mails it) and as JSON (`--json`): what one tick planned, did and held.

The tick report beside the other renderers: the CLI prints it, cron mails it.
"""

from __future__ import annotations

import json

from ..tickplan import Action, Step
from ..typenames import TYPE_CHECKING
from . import printable

if TYPE_CHECKING:
    from typing import IO, Any

    from ..hostlist import NodeNaming
    from ..service.hooks import HookOutcome
    from ..service.tick_executor import TickReport

_VERB = {
    Step.EXPIRE: "expire",
    Step.CLEAR_VLAN: "tear down",
    Step.UNINSTALL_BOOT: "tear down",
    Step.POWER_OFF: "tear down",
    Step.FORGET: "release",
    Step.RELEASE_NODES: "release",
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
        Step.RELEASE_NODES: f"{nodes} dropped from it",
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
    out.writelines(hook_line(h) for h in report.hooks)
    for h in report.healed:  # `heal: true` (service/heal.py)
        out.writelines(
            f"  {'ok  ' if s.new else 'warn'}  healed    {h.res.name}: {s.text()}\n" for s in h.swaps
        )
    out.writelines(f"  ok    mailed    {m}\n" for m in report.mailed)
    out.writelines(f"  FAIL  mail      {m}\n" for m in report.mail_errors)


def hook_line(hook: HookOutcome) -> str:
    """One hook run in the tick report: its outcome, and its output's first line when it failed."""
    status = "ok  " if hook.ok else "FAIL"
    again = " (again: a tick was killed while it ran)" if hook.rerun else ""
    line = f"  {status}  hook      {hook.name}: on_{hook.event} {hook.result}{again}"
    first = hook.output.strip().splitlines()[:1]
    if not hook.ok and first:
        line += f": {printable(first[0])}"
    return line + "\n"


def hook_json(hook: HookOutcome) -> dict[str, Any]:
    return {
        "event": hook.event,
        "id": hook.res_id,
        "reservation": hook.name,
        "ok": hook.ok,
        "result": hook.result,
        "output": hook.output,
        "rerun": hook.rerun,
        "ms": round(hook.seconds * 1000, 1),
    }


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
        "hooks": [hook_json(h) for h in report.hooks],
    }


def dump(report: TickReport, naming: NodeNaming, out: IO[str], as_json: bool) -> None:
    if as_json:
        data = report_json(report, naming)
        if report.mailed or report.mail_errors:  # only when notify is on and had something to send
            data.update(mailed=report.mailed, mail_errors=report.mail_errors)
        if report.healed:  # only with `heal: true` and a swap to report
            data["healed"] = [
                {"id": h.res.id, "reservation": h.res.name, "swap": s.text(), "new": s.new}
                for h in report.healed
                for s in h.swaps
            ]
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        render_report(report, naming, out)
