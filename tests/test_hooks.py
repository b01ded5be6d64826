"""on_start / on_end hooks: run once per transition with the facts, timeouts, failures, tick kills, config.

The hook is a real program (a small Python script) that writes the environment it was given, exactly as
the kernel handed it over (/proc/self/environ), into a file in tmp_path; crashes are simulated by making
the tick stop (SystemExit) at the instants that matter, then running a fresh tick on the same store.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ClusterFactory
from test_tick import NAMING, T0, Harness, at
from test_tick_e2e import build_rig

from igor_tui.config import parse_config
from igor_tui.config.hooks import HookSettings
from igor_tui.errors import ConfigError
from igor_tui.output.ops import history_row
from igor_tui.output.tick import render_report, report_json
from igor_tui.service import hooks as hooks_module
from igor_tui.service.hooks import HOOK_PATH, HOOKS_KEY
from igor_tui.service.installs import read_installs
from igor_tui.service.reports import history_event
from igor_tui.service.tick_executor import Ticker

HOOK = """#!{python}
import json, os, sys, time
out = sys.argv[1]
env = dict(
    kv.split("=", 1) for kv in open("/proc/self/environ").read().split("\\0") if kv
)
with open(os.path.join(out, "runs"), "a") as f:
    f.write(env.get("IGOR_EVENT", "?") + " " + env.get("IGOR_ID", "?") + " " + " ".join(sys.argv[2:]) + "\\n")
with open(os.path.join(out, env["IGOR_EVENT"] + "-" + env["IGOR_ID"] + ".json"), "w") as f:
    json.dump(env, f)
if os.path.exists(os.path.join(out, "fail")):
    print("boom: the prolog could not reach the license server")
    sys.exit(3)
if os.path.exists(os.path.join(out, "hang")):
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    open(os.path.join(out, "child"), "w").write(str(pid))
    time.sleep(60)
"""


def hook_script(tmp_path: Path) -> Path:
    script = tmp_path / "hook.py"
    script.write_text(HOOK.format(python=sys.executable))
    script.chmod(0o755)
    return script


def hooked(tmp_path: Path, *, timeout: int = 60, network: bool = True) -> tuple[Harness, Path]:
    """A tick harness whose on_start/on_end run the script, writing into tmp_path/out."""
    out = tmp_path / "out"
    out.mkdir()
    script = str(hook_script(tmp_path))
    h = Harness(tmp_path, network=network)
    h.ticker.hooks = HookSettings(
        on_start=(script, str(out), "{name}", "{nodes}"),
        on_end=(script, str(out), "{name}", "{event}"),
        hook_timeout=timeout,
    )
    return h, out


def runs(out: Path) -> list[str]:
    path = out / "runs"
    return path.read_text().splitlines() if path.exists() else []


def env_of(out: Path, event: str, res_id: int) -> dict[str, str]:
    value = json.loads((out / f"{event}-{res_id}.json").read_text())
    assert isinstance(value, dict)
    return value


def due(h: Harness) -> list[dict[str, object]]:
    with h.store.transaction() as tx:
        return list((tx.get_value(HOOKS_KEY) or {}).get("due", []))


def test_on_start_and_on_end_run_once_each_with_the_facts(tmp_path: Path) -> None:
    h, out = hooked(tmp_path)
    r = h.add(-5, 60, ["kn1", "kn2", "kn3"], group="hpc")
    report = h.ticker.run()
    assert [(x.event, x.ok, x.result) for x in report.hooks] == [("start", True, "exit 0")]
    assert runs(out) == [f"start {r.id} {r.name} kn[1-3]"]
    env = env_of(out, "start", r.id)
    assert env == {
        "PATH": HOOK_PATH,
        "IGOR_NAME": f"{r.name}",
        "IGOR_OWNER": "alice",
        "IGOR_GROUP": "hpc",
        "IGOR_NODES": "kn[1-3]",
        "IGOR_NODE_LIST": "kn1 kn2 kn3",
        "IGOR_START": (T0 - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:00Z"),
        "IGOR_END": at(60).strftime("%Y-%m-%dT%H:%M:00Z"),
        "IGOR_VLAN": "100",
        "IGOR_ID": str(r.id),
        "IGOR_EVENT": "start",
    }
    assert h.ticker.run().hooks == []  # nothing new at the same instant
    with h.store.transaction() as tx:  # an edit re-installs: not a second start
        stored = tx.reservation(r.id)
        assert stored is not None
        tx.put_reservation(replace(stored, revision=stored.revision + 1, kernel_args="quiet"))
    again = h.ticker.run()
    assert "complete" in [o.action.step.value for o in again.outcomes]
    assert again.hooks == [] and len(runs(out)) == 1
    h.clock.set(at(60))
    ended = h.ticker.run()
    assert [(x.event, x.ok) for x in ended.hooks] == [("end", True)]
    assert runs(out) == [f"start {r.id} {r.name} kn[1-3]", f"end {r.id} {r.name} end"]
    assert env_of(out, "end", r.id)["IGOR_EVENT"] == "end"
    assert h.ticker.run().hooks == [] and len(runs(out)) == 2
    assert due(h) == []
    with h.store.transaction() as tx:
        assert tx.get_value(HOOKS_KEY) == {"known": {}, "started": [], "due": []}  # nothing piles up


def test_deleted_reservation_gets_on_end_with_its_facts(tmp_path: Path) -> None:
    h, out = hooked(tmp_path)
    r = h.add(-5, 60, ["kn4"], group="ops")
    h.ticker.run()
    with h.store.transaction() as tx:  # gone from the store before the tick tears it down
        tx.archive_reservation(r.id, why="deleted", by="alice", when=T0)
    report = h.ticker.run()
    assert [(x.event, x.name) for x in report.hooks] == [("end", f"{r.name}")]
    env = env_of(out, "end", r.id)
    assert (env["IGOR_OWNER"], env["IGOR_GROUP"], env["IGOR_NODES"], env["IGOR_VLAN"]) == (
        "alice",
        "ops",
        "kn4",
        "100",
    )


def test_expired_reservation_gets_on_end_only(tmp_path: Path) -> None:
    h, out = hooked(tmp_path)
    r = h.add(-50, -10, ["kn2"])  # ended while no tick ran: never installed
    report = h.ticker.run()
    assert [o.action.step.value for o in report.outcomes] == ["expire"]
    assert runs(out) == [f"end {r.id} {r.name} end"]


def test_failing_hook_is_reported_and_logged_and_the_transition_stands(tmp_path: Path) -> None:
    h, out = hooked(tmp_path)
    (out / "fail").touch()
    r = h.add(-5, 60, ["kn1"])
    report = h.ticker.run()
    assert h.installs()[r.id].complete  # installed regardless
    (hook,) = report.hooks
    assert (hook.ok, hook.result) == (False, "exit 3")
    assert "license server" in hook.output
    assert report.failed == 1  # cron's --quiet must show it
    text = io.StringIO()
    render_report(report, NAMING, text)
    assert f"FAIL  hook      {r.name}: on_start exit 3: boom: the prolog could not reach" in text.getvalue()
    assert report_json(report, NAMING)["hooks"][0]["result"] == "exit 3"
    logged = [json.loads(x) for x in h.log.read_text().splitlines() if '"hook"' in x]
    assert [(x["name"], x["hook"], x["ok"], x["result"]) for x in logged] == [
        (f"{r.name}", "start", False, "exit 3")
    ]
    row = history_row(history_event(logged[0]), T0.tzinfo)  # type: ignore[arg-type]
    assert (row["event"], row["details"], row["by"]) == ("hook-failed", "on_start exit 3", "igor-tick")
    assert h.ticker.run().hooks == [] and len(runs(out)) == 1  # a failure is not retried


def test_hook_that_cannot_start_is_reported(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ticker.hooks = HookSettings(on_start=(str(tmp_path / "missing"),))
    r = h.add(-5, 60, ["kn1"])
    (hook,) = h.ticker.run().hooks
    assert not hook.ok and hook.result.startswith(f"could not start {tmp_path / 'missing'}: ")
    assert h.installs()[r.id].complete


def test_timeout_kills_the_hook_and_its_children(tmp_path: Path) -> None:
    h, out = hooked(tmp_path, timeout=1)
    (out / "hang").touch()
    r = h.add(-5, 60, ["kn1"])
    started = time.monotonic()
    report = h.ticker.run()
    assert time.monotonic() - started < 20
    (hook,) = report.hooks
    assert (hook.ok, hook.result) == (False, "timed out after 1 s (killed)")
    child = int((out / "child").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)  # the whole process group went, not just the hook
    assert h.installs()[r.id].complete


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not reaped by its dead parent's adopter yet) is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def fresh(h: Harness) -> Ticker:
    """A new tick process on the same store and hooks (after the old one was killed)."""
    ticker = Ticker(
        store=h.store,
        clock=h.clock,
        backends=h.ticker.backends,
        policy=h.ticker.policy,
        naming=NAMING,
        content=h.ticker.content,
        events=h.ticker.events,
        resolve=h.ticker.resolve,
        vlan_pool=h.ticker.vlan_pool,
        hooks=h.ticker.hooks,
    )
    return ticker


def test_tick_killed_before_the_hook_runs_it_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, out = hooked(tmp_path)
    r = h.add(-5, 60, ["kn1"])
    with monkeypatch.context() as m:
        m.setattr("igor_tui.service.tick_executor.run_due", _killed)
        with pytest.raises(SystemExit):
            h.ticker.run()
    assert h.installs()[r.id].complete and runs(out) == []  # the transition is recorded, the hook due
    assert [(d["event"], d["id"], d["runs"]) for d in due(h)] == [("start", r.id, 0)]
    report = fresh(h).run()
    assert report.outcomes == []  # nothing else to do, yet the due hook runs
    assert [(x.event, x.ok, x.rerun) for x in report.hooks] == [("start", True, False)]
    assert runs(out) == [f"start {r.id} {r.name} kn1"]
    assert fresh(h).run().hooks == [] and len(runs(out)) == 1


def test_tick_killed_after_the_hook_does_not_repeat_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, out = hooked(tmp_path)
    r = h.add(-5, 60, ["kn1"])
    real = h.ticker.events.append

    def append(when: object, event: str, **fields: object) -> None:
        if event == "hook":
            raise SystemExit(9)  # killed right after the hook's record was removed
        real(when, event, **fields)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(h.ticker.events, "append", append)
        with pytest.raises(SystemExit):
            h.ticker.run()
    assert runs(out) == [f"start {r.id} {r.name} kn1"] and due(h) == []
    assert fresh(h).run().hooks == []
    h.clock.set(at(60))
    assert [x.event for x in fresh(h).run().hooks] == ["end"]
    assert len(runs(out)) == 2


def test_tick_killed_during_the_hook_runs_it_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented at-least-once window: the hook ran, the tick died before recording it."""
    h, out = hooked(tmp_path)
    r = h.add(-5, 60, ["kn1"])
    real = hooks_module.run_hook

    def dies_after(*args: object) -> object:
        real(*args)  # type: ignore[arg-type]
        raise SystemExit(9)

    with monkeypatch.context() as m:
        m.setattr(hooks_module, "run_hook", dies_after)
        with pytest.raises(SystemExit):
            h.ticker.run()
    assert [(d["event"], d["runs"]) for d in due(h)] == [("start", 1)]
    (hook,) = fresh(h).run().hooks
    assert hook.rerun and hook.ok
    assert runs(out) == [f"start {r.id} {r.name} kn1"] * 2
    text = io.StringIO()
    report = fresh(h).run()
    report.hooks = [hook]  # TickReport is a plain mutable record (not a dataclass: see tick_executor)
    render_report(report, NAMING, text)
    again = f"ok    hook      {r.name}: on_start exit 0 (again: a tick was killed while it ran)"
    assert again in text.getvalue()
    assert fresh(h).run().hooks == [] and due(h) == []


def _killed(*args: object, **kwargs: object) -> object:
    raise SystemExit(9)


def test_no_hooks_configured_writes_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ticker.hooks = None
    h.add(-5, 60, ["kn1"])
    assert h.ticker.run().hooks == []
    with h.store.transaction() as tx:
        assert tx.get_value(HOOKS_KEY) is None
        assert read_installs(tx)


# ------------------------------------------------------------------------------------------ config


def minimal(**extra: object) -> dict[str, object]:
    return {"tftproot": "/srv/tftp", "prefix": "kn", "start": 1, "end": 16, **extra}


def test_config_accepts_hooks_and_defaults_the_timeout() -> None:
    cfg = parse_config(minimal(on_start=["/usr/local/bin/prolog", "{name}", "{nodes}", "--vlan={vlan}"]))
    assert cfg.on_start == ("/usr/local/bin/prolog", "{name}", "{nodes}", "--vlan={vlan}")
    assert cfg.on_end == () and cfg.hook_timeout == 60
    assert parse_config(minimal(hook_timeout=5, on_end=["/bin/true", "{{literal}}"])).hook_timeout == 5


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            {"on_start": ["prolog", "{name}"]},
            "on_start: ['prolog', '{name}'] must start with the command's absolute",
        ),
        (
            {"on_end": ["/bin/x", "{nmae}"]},
            "on_end[1]: '{nmae}' names an unknown placeholder {nmae}; expected one of",
        ),
        ({"on_end": ["/bin/x", "{name!r}"]}, "on_end[1]: '{name!r}' names an unknown placeholder {name}"),
        ({"on_start": ["/bin/x", "{name"]}, "on_start[1]: '{name' is not a valid template"),
        ({"on_start": ["/bin/x", 3]}, "on_start[1]: expected a non-empty word of the command, got 3"),
        ({"on_start": "/bin/x {name}"}, "on_start: expected a list"),
        ({"hook_timeout": 0}, "hook_timeout: 0 is out of range"),
    ],
)
def test_config_refuses_bad_hooks(extra: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(**extra))
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


# ----------------------------------------------------------------------------- through igor-tick


def test_hooks_through_igor_tick_its_report_and_history(make_cluster: ClusterFactory, tmp_path: Path) -> None:
    """The config's hooks, run by the real igor-tick: a failing on_start in the report (exit 1, cron
    mails it) and in `igor history`; the reservation is installed regardless; on_end after `igor del`."""
    out = tmp_path / "out"
    out.mkdir()
    script = str(hook_script(tmp_path))
    rig = build_rig(
        make_cluster,
        nodes=4,
        network=False,
        on_start=[script, str(out), "{name}", "{nodes}"],
        on_end=[script, str(out), "{name}", "{event}"],
        hook_timeout=5,
    )
    (out / "fail").touch()
    rig.sub("r1", "kn[1-2]")
    first = rig.tick(check=1)
    assert "FAIL  hook      r1: on_start exit 3: boom: the prolog could not reach the license server" in (
        first.stdout
    )
    assert rig.res("r1").installed and not rig.res("r1").error
    (out / "fail").unlink()
    assert ": 0 action(s), 0 failed" in rig.tick().stdout  # not retried
    rig.igor("del", "r1")
    ended = rig.tick()
    assert "ok    hook      r1: on_end exit 0" in ended.stdout
    history = rig.igor("history", "r1").stdout
    assert re.search(r"hook-failed\s+igor-tick\s+\d+\s+on_start exit 3", history), history
    assert re.search(r"hook\s+igor-tick\s+\d+\s+on_end exit 0", history), history
    assert runs(out) == ["start 1 r1 kn[1-2]", "end 1 r1 end"]
