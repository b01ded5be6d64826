"""IgorService rules, in-process: permissions, limits, housekeeping, content store, edit and extend."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from igor_tui.clock import FrozenClock
from igor_tui.config import Config, parse_config
from igor_tui.content import ContentStore
from igor_tui.errors import (
    Conflict,
    LimitError,
    NotFound,
    PermissionDenied,
    PlanChanged,
    ScheduleError,
    ValidationError,
)
from igor_tui.eventlog import EventLog
from igor_tui.identity import StaticDirectory, resolve_caller
from igor_tui.service import EditRequest, IgorService, SubmitRequest
from igor_tui.store import MemoryStore
from igor_tui.timeparse import format_input_time

NOW = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)
DIRECTORY = StaticDirectory(
    users={
        "alice": frozenset({"alice", "lab"}),
        "bob": frozenset({"bob"}),
        "carol": frozenset({"carol", "lab"}),
        "olga": frozenset({"olga", "wheel"}),
        "root": frozenset({"root"}),
    }
)

ServiceFactory = Callable[..., IgorService]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, body in (("kernel", b"kernel-1"), ("initrd", b"initrd-1"), ("kernel2", b"kernel-2")):
        path = tmp_path / name
        path.write_bytes(body)
        out[name] = str(path)
    return out


@pytest.fixture
def make(tmp_path: Path) -> ServiceFactory:
    """Services for different users over one shared store, clock and content area."""
    store = MemoryStore()
    clock = FrozenClock(NOW)
    content = ContentStore(str(tmp_path / "state" / "content"))
    log = str(tmp_path / "log")

    def factory(user: str = "alice", **overrides: Any) -> IgorService:
        raw: dict[str, Any] = {
            "tftproot": str(tmp_path / "tftp"),
            "statedir": str(tmp_path / "state"),
            "prefix": "kn",
            "start": 1,
            "end": 10,
            "timelimit": 4320,
            "nodelimit": 8,
            "extendwithin": 0,
            "logfile": log,
            "admins": ["%wheel"],
            "timezone": "Europe/Berlin",
        }
        raw.update(overrides)
        config: Config = parse_config(raw)
        caller = resolve_caller(user, config.admins, DIRECTORY)
        return IgorService(
            config, store, caller, clock=clock, directory=DIRECTORY, content=content, events=EventLog(log)
        )

    return factory


def sub(svc: IgorService, files: dict[str, str], name: str = "x", **kw: Any) -> SubmitRequest:
    base: dict[str, Any] = {"name": name, "kernel": files["kernel"], "initrd": files["initrd"]}
    if "nodes" not in kw and "count" not in kw:
        base["count"] = 1
    base.update(kw)
    return SubmitRequest(**base)


def copies(content: Path) -> list[str]:
    """The content area's copies: every name but the copiers' `.copying.lock`."""
    return sorted(p.name for p in content.iterdir() if p.name != ".copying.lock")


def events(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]


def test_submit_starts_this_minute_and_is_active(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make()
    res = svc.submit(sub(svc, files, "a", count=3))
    assert res.start == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert res.is_active(svc.now())
    assert res.nodes == ("kn1", "kn2", "kn3")
    assert res.owner == "alice"
    assert res.id == 1
    assert svc.submit(sub(svc, files, "b", count=2)).nodes == ("kn4", "kn5")


def test_ids_are_monotonic_and_names_unique(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make()
    first = svc.submit(sub(svc, files, "a"))
    with pytest.raises(Conflict, match="a reservation named a already exists"):
        svc.submit(sub(svc, files, "a"))
    svc.delete("a")
    again = svc.submit(sub(svc, files, "a"))
    assert again.id > first.id


def test_book_plans_once_and_says_why_only_when_late(
    make: ServiceFactory, files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: `igor sub` planned twice, a lock-free plan for its "not at the time asked" line and then
    the booking. `book` says why from the booking's own transaction, and only for a late start: an
    on-time booking schedules once and works out no sentence."""
    import igor_tui.booking_plan as booking_plan
    import igor_tui.scheduler as scheduler

    planned: list[int] = []
    explained: list[str] = []
    find_slot, why_not = scheduler.find_slot, booking_plan.why_not

    def counted_find_slot(*args: Any, **kwargs: Any) -> Any:
        planned.append(1)
        return find_slot(*args, **kwargs)

    def counted_why_not(*args: Any, **kwargs: Any) -> str:
        explained.append("")
        return why_not(*args, **kwargs)

    monkeypatch.setattr(scheduler, "find_slot", counted_find_slot)
    monkeypatch.setattr(booking_plan, "why_not", counted_why_not)
    alice = make()
    res, why = alice.book(sub(alice, files, "now", nodes="kn[1-2]", duration="1h"))
    assert (res.start, why, len(planned), explained) == (NOW.replace(second=0), "", 1, [])

    bob = make("bob")
    asked = sub(bob, files, "wanted", nodes="kn[2-3]", duration="1h")
    before = bob.plan(asked).why_not
    planned.clear()
    res, why = bob.book(asked)
    assert res.start == NOW.replace(second=0) + timedelta(hours=1)
    assert why == before and why.startswith("kn2 is held by now (alice) until 12:00")
    assert planned == []  # the form's case: the plan just made is the booking's search (`_find_slot`)
    assert bob.submit(sub(bob, files, "plain", count=1)).nodes == ("kn3",)  # submit: book's reservation


def test_booking_the_plan_shown_refuses_a_moved_schedule(make: ServiceFactory, files: dict[str, str]) -> None:
    """A front end books the plan it showed (`expect`): if the schedule moved in between (another
    booking took its nodes), nothing is booked and the refusal says what the booking would be now; the
    minutes that pass while a user reads a plan that starts now are not a change."""
    alice, bob = make(), make("bob")
    asked = sub(alice, files, "mine", count=2, duration="1h")
    shown = alice.plan(asked).slot
    assert shown.nodes == ("kn1", "kn2")
    bob.submit(sub(bob, files, "theirs", nodes="kn1", duration="2h"))
    moved = r"schedule changed since this plan was shown; nothing was booked: it would now be .* kn\[2-3\]"
    with pytest.raises(PlanChanged, match=moved) as err:
        alice.book(asked, expect=shown)
    assert err.value.slot.nodes == ("kn2", "kn3")
    assert [r.name for r in alice.view().reservations] == ["theirs"]
    fresh = alice.plan(asked).slot
    alice.clock.advance(timedelta(seconds=50))  # type: ignore[attr-defined]  # into the next minute
    res, _ = alice.book(asked, expect=fresh)
    assert (res.nodes, res.start) == (("kn2", "kn3"), fresh.start + timedelta(minutes=1))


def test_start_time_rules(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make()
    later = alice.submit(sub(alice, files, "later", after="2026-Nov-24-15:00"))
    assert later.start == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # CET is UTC+1
    with pytest.raises(ValidationError, match="is in the past"):
        alice.submit(sub(alice, files, "past", after="2026-11-24T09:00Z"))
    admin = make("olga")
    assert admin.submit(sub(admin, files, "past", after="2026-11-24T09:30Z")).start.minute == 30
    with pytest.raises(ValidationError, match="would already have ended"):
        admin.submit(sub(admin, files, "gone", after="2026-11-24T08:00Z"))
    with pytest.raises(ValidationError, match="at most 10 years ahead"):
        admin.submit(sub(admin, files, "far", after="9999-12-31T23:00Z"))
    with pytest.raises(ValidationError, match="at most 10 years ahead"):
        admin.extend("past", "5000d")


def test_limits_apply_to_users_not_admins(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make()
    with pytest.raises(LimitError, match="at most 8 nodes per reservation, you asked for 9"):
        alice.submit(sub(alice, files, "big", count=9))
    with pytest.raises(LimitError, match="max 24h0m for 8 nodes, you asked 30h"):
        alice.submit(sub(alice, files, "long", count=8, duration="30h"))
    for admin in ("root", "olga"):  # root, and a member of the %wheel admins entry
        svc = make(admin)
        svc.submit(sub(svc, files, f"big-{admin}", count=9, duration="30h"))


def test_permissions_owner_group_admin(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make()
    alice.submit(sub(alice, files, "mine"))
    alice.submit(sub(alice, files, "shared", group="lab"))
    bob, carol = make("bob"), make("carol")
    with pytest.raises(PermissionDenied, match=r"^permission denied: mine belongs to alice$"):
        bob.delete("mine")
    with pytest.raises(PermissionDenied):
        bob.extend("shared", "10m")
    with pytest.raises(PermissionDenied):
        carol.delete("mine")
    assert carol.can_write(alice.get("shared"))
    carol.extend("shared", "10m")
    carol.delete("shared")
    make("root").delete("mine")
    with pytest.raises(NotFound, match="no reservation named mine"):
        bob.delete("mine")


def test_group_must_exist_and_include_caller(make: ServiceFactory, files: dict[str, str]) -> None:
    bob = make("bob")
    with pytest.raises(ValidationError, match="no such group: nogroup"):
        bob.submit(sub(bob, files, "x", group="nogroup"))
    with pytest.raises(PermissionDenied, match="not a member of group lab"):
        bob.submit(sub(bob, files, "x", group="lab"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "invalid reservation name 'bad name'"),
        ({"name": "-x"}, "do not start with '-'"),
        ({"name": "x" * 65}, "the limit is 64"),
        ({"name": "UNRESERVED"}, "reserved for igor show"),
        ({"kernel": "/dev/zero"}, "not a regular file"),
        ({"kernel": "/dev/null"}, "not a regular file"),
        ({"name": ""}, "needs a name"),
        ({"count": 2, "nodes": "kn1"}, "not both"),
        ({"count": 0}, "give -n"),
        ({"count": -3}, "positive number of nodes"),
        ({"count": 11}, "larger than the cluster"),
        ({"nodes": "kn[9-12]"}, "kn11 is not a node of this cluster"),
        ({"duration": "0"}, "duration must be positive"),
        ({"duration": "soon"}, "cannot parse duration"),
        ({"after": "tomorrow"}, "cannot parse start time"),
        ({"kernel": "/nonexistent/vmlinuz"}, "kernel /nonexistent/vmlinuz: no such file"),
        ({"kernel_args": "quiet\nrm -rf"}, "control character"),
        ({"kernel_args": "a\tb"}, "control character"),
        ({"profile": "centos"}, "not configured to use Cobbler"),
        ({"vlan": "5"}, "no network isolation"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    make: ServiceFactory, files: dict[str, str], kwargs: dict[str, Any], message: str
) -> None:
    svc = make()
    req = sub(svc, files, **{"name": "x", **kwargs})
    if "profile" in kwargs:
        req = replace(req, kernel="", initrd="")
    with pytest.raises((ValidationError, ScheduleError)) as err:
        svc.submit(req)
    assert message in str(err.value)
    assert svc.view().reservations == ()


def test_speculation_slots_are_bookable_exactly(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make()
    svc.submit(sub(svc, files, "a", count=4, duration="2h"))
    svc.submit(sub(svc, files, "b", nodes="kn[5-7]", duration="3h", after="+30m"))
    slots = svc.speculate(SubmitRequest(count=6, duration="1h"))
    assert 1 < len(slots) <= 10
    assert len({s.start for s in slots}) == len(slots)
    for i, slot in enumerate(slots[:4]):
        tz = svc.config.tz
        res = svc.submit(
            sub(svc, files, f"s{i}", count=6, duration="1h", after=format_input_time(slot.start, tz))
        )
        assert (res.start, res.nodes) == (slot.start, slot.nodes)
        svc.delete(f"s{i}")


def test_delete_of_installed_reservation_ends_it_for_the_tick(
    make: ServiceFactory, files: dict[str, str]
) -> None:
    svc = make()
    res = svc.submit(sub(svc, files, "a", count=2, duration="2h"))
    with svc.store.transaction() as tx:
        tx.put_reservation(replace(res, installed=True))
    svc.delete("a")
    (ended,) = svc.store.snapshot().reservations
    assert ended.end == svc.now() and ended.installed  # still there for igor-tick to tear down
    attempts: list[Callable[[], object]] = [
        lambda: svc.delete("a"),
        lambda: svc.extend("a"),
        lambda: svc.edit("a", EditRequest(kernel_args="")),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match="has ended and igor-tick is releasing its nodes"):
            attempt()
    assert svc.submit(sub(svc, files, "b", count=8)).nodes[:2] == ("kn1", "kn2")  # freed at once


def test_expired_reservations_are_dropped_and_files_collected(
    make: ServiceFactory, files: dict[str, str], tmp_path: Path
) -> None:
    svc = make()
    svc.submit(sub(svc, files, "short", duration="10m"))
    content = Path(svc.content.directory)
    assert len(copies(content)) == 2
    assert isinstance(svc.clock, FrozenClock)
    svc.clock.advance(timedelta(minutes=11))
    assert svc.view().reservations == ()
    other = SubmitRequest(name="next", kernel=files["kernel2"], initrd=files["initrd"], count=1)
    svc.submit(other)  # any write transaction does housekeeping
    assert [r.name for r in svc.store.snapshot().reservations] == ["next"]
    assert len(copies(content)) == 2  # kernel-1 collected, kernel-2 and the shared initrd kept
    assert [e["event"] for e in events(tmp_path)] == ["created", "expired", "created"]


def test_extend_room_and_limits(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make()
    alice.submit(sub(alice, files, "a", nodes="kn[1-2]", duration="30m"))
    alice.submit(sub(alice, files, "next", nodes="kn2", duration="1h", after="+90m"))
    extended = alice.extend("a", "1h")
    assert extended.end - extended.start == timedelta(minutes=90)
    assert extended.extensions == 1
    with pytest.raises(ScheduleError, match=r"reservation next on kn2 starts .*; it cannot be extended"):
        alice.extend("a", "1m")
    info = alice.extend_info("a")
    assert info.room.until == extended.end
    alice.delete("next")
    with pytest.raises(LimitError, match="within 1h of its end; it ends in 1h30m"):
        make(extendwithin=60).extend("a", "1h")


def test_edit_changes_only_what_is_given(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make()
    res = svc.submit(sub(svc, files, "a", kernel_args="console=ttyS0"))
    content = Path(svc.content.directory)
    edited = svc.edit("a", EditRequest(kernel_args="quiet"))
    assert (edited.kernel_hash, edited.initrd_hash, edited.kernel_args) == (
        res.kernel_hash,
        res.initrd_hash,
        "quiet",
    )
    assert edited.revision == res.revision + 1
    assert set(copies(content)) == {
        res.kernel_hash,
        res.initrd_hash,
    }  # classic §11.4 bug fixed
    edited = svc.edit("a", EditRequest(kernel=files["kernel2"]))
    assert edited.kernel_args == "quiet"  # classic cleared args when -c was omitted
    assert set(copies(content)) == {edited.kernel_hash, res.initrd_hash}
    with pytest.raises(ValidationError, match="nothing to change"):
        svc.edit("a", EditRequest())
    svc.delete("a")
    assert copies(content) == []


def test_edit_owner_and_group_permissions(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make()
    alice.submit(sub(alice, files, "a", group="lab"))
    with pytest.raises(PermissionDenied, match="only an admin can change the owner"):
        alice.edit("a", EditRequest(owner="bob"))
    with pytest.raises(PermissionDenied, match=r"only the owner \(alice\) or an admin"):
        make("carol").edit("a", EditRequest(group=""))
    make("carol").edit("a", EditRequest(kernel_args="x"))  # group members may edit the rest
    with pytest.raises(ValidationError, match="no such user: mallory"):
        make("root").edit("a", EditRequest(owner="mallory"))
    assert make("root").edit("a", EditRequest(owner="bob")).owner == "bob"


def test_vlan_rules(make: ServiceFactory, files: dict[str, str]) -> None:
    net: dict[str, Any] = {
        "network": "arista",
        "network_url": "127.0.0.1:1/command-api",
        "vlan_min": 100,
        "vlan_max": 110,
        "node_map": {f"kn{i}": f"Et{i}" for i in range(1, 11)},
    }
    alice = make(**net)
    assert alice.submit(sub(alice, files, "a", vlan="105")).vlan == 105
    assert alice.submit(sub(alice, files, "b", vlan="a")).vlan == 105  # share a's VLAN
    with pytest.raises(ValidationError, match="outside the pool 100-110"):
        alice.submit(sub(alice, files, "c", vlan="5"))
    with pytest.raises(ValidationError, match="VLAN number or a reservation name"):
        alice.submit(sub(alice, files, "c", vlan="x y"))
    bob = make("bob", **net)
    with pytest.raises(PermissionDenied, match="VLAN 105 is used by a"):
        bob.submit(sub(bob, files, "c", vlan="105"))
    with pytest.raises(PermissionDenied, match="cannot share the VLAN of a"):
        bob.submit(sub(bob, files, "c", vlan="a"))


def test_pause_blocks_new_work_for_users_only(make: ServiceFactory, files: dict[str, str]) -> None:
    alice = make(pause="maintenance until 14:00")
    with pytest.raises(PermissionDenied, match="igor is paused: maintenance until 14:00"):
        alice.submit(sub(alice, files, "a"))
    admin = make("olga", pause="maintenance until 14:00")
    admin.submit(sub(admin, files, "a"))
    assert [r.name for r in alice.view().reservations] == ["a"]  # reading still works


def test_every_change_is_logged(make: ServiceFactory, files: dict[str, str], tmp_path: Path) -> None:
    svc = make()
    svc.submit(sub(svc, files, "a", count=2))
    svc.extend("a", "30m")
    svc.edit("a", EditRequest(kernel_args="x"))
    svc.delete("a")
    log = events(tmp_path)
    assert [e["event"] for e in log] == ["created", "extended", "edited", "deleted"]
    assert all(e["by"] == "alice" and e["nodes"] == "kn[1-2]" and e["name"] == "a" for e in log)


def test_content_recopied_if_collected_concurrently(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make()
    digest = svc.content.add(files["kernel"], "kernel")
    os.unlink(svc.content.path(digest))  # as if another process's delete collected it meanwhile
    svc._ensure_content((("kernel", files["kernel"], digest),))
    assert svc.content.has(digest)


def test_fifo_and_empty_kernels_are_refused_without_hanging(make: ServiceFactory, tmp_path: Path) -> None:
    svc = make()
    fifo, empty, initrd = tmp_path / "fifo", tmp_path / "empty", tmp_path / "initrd"
    os.mkfifo(fifo)
    empty.touch()
    initrd.write_bytes(b"i")
    with pytest.raises(ValidationError, match="not a regular file"):
        svc.submit(SubmitRequest(name="f", kernel=str(fifo), initrd=str(initrd), count=1))
    with pytest.raises(ValidationError, match="the file is empty"):
        svc.submit(SubmitRequest(name="e", kernel=str(empty), initrd=str(initrd), count=1))


def test_vlan_digits_must_be_ascii(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(network="arista", network_url="127.0.0.1:1/x", vlan_min=10, vlan_max=20,
               node_map={f"kn{i}": f"Et{i}" for i in range(1, 11)})  # fmt: skip
    with pytest.raises(ValidationError, match="VLAN number or a reservation name"):
        svc.submit(sub(svc, files, "v", vlan="１５"))
