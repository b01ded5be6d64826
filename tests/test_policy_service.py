"""Host policies through the service: group members book, the plan and extend_info name a window, the
TUI's form speculation honours windows (all on the memory store, frozen at 10:00 UTC Tue Nov 24 2026)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_service import ServiceFactory, files, make, sub

from igor_tui.errors import PermissionDenied, ScheduleError
from igor_tui.service import policies

__all__ = ["files", "make"]  # fixtures used by name

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 11:00 in Berlin


def test_group_members_may_book_others_may_not(make: ServiceFactory, files: dict[str, str]) -> None:
    policies.add(make("olga"), "lab-only", "kn[1-2]", groups="lab")
    res = make("alice").submit(sub(make("alice"), files, "a", nodes="kn1"))  # alice is in lab
    assert res.nodes == ("kn1",)
    with pytest.raises(
        ScheduleError, match='kn2 is not yours to book: policy "lab-only" keeps them for group lab'
    ):
        make("bob").submit(sub(make("bob"), files, "b", nodes="kn2"))
    with pytest.raises(PermissionDenied, match="only admins may change host policies"):
        policies.delete(make("alice"), "lab-only")


def test_the_plan_and_extend_info_name_the_window(make: ServiceFactory, files: dict[str, str]) -> None:
    # 13:00-15:00 Berlin every day = 12:00-14:00 UTC in November
    policies.add(make("olga"), "noon", "kn3", unavailable=["0 13 * * *:2h"])
    alice = make("alice")
    plan = alice.plan(sub(alice, files, "p", nodes="kn3", duration="3h"))
    assert plan.slot.start == NOW + timedelta(hours=4)
    assert plan.why_not.startswith('kn3 is free now but policy "noon" takes kn3 at 13:00')
    res = alice.submit(sub(alice, files, "r", nodes="kn3", duration="1h"))
    info = alice.extend_info(res.name)
    assert info.room.until == NOW + timedelta(hours=2)
    assert 'policy "noon"' in info.reason
    with pytest.raises(ScheduleError, match='policy "noon"'):
        alice.extend(res.name, "2h")
    assert alice.extend(res.name, "1h").end == NOW + timedelta(hours=2)


def test_speculation_skips_windows_and_the_view_carries_them(
    make: ServiceFactory, files: dict[str, str]
) -> None:
    policies.add(make("olga"), "noon", "kn[1-10]", unavailable=["0 13 * * *:2h"])
    alice = make("alice")
    for slot in alice.speculate(sub(alice, files, count=8, duration="5h")):
        assert not (slot.start < NOW + timedelta(hours=4) and NOW + timedelta(hours=2) < slot.end)
    view = alice.view()
    assert view.windows and all(b.by == "policy" for b in view.windows)
    assert view.windows[0].start <= NOW + timedelta(hours=2)
    last = view.windows[-1]
    assert last.end is not None and last.start <= NOW + timedelta(days=35) < last.end + timedelta(days=1)


def test_policy_changes_are_logged(make: ServiceFactory, tmp_path: Path) -> None:
    olga = make("olga")
    policies.add(olga, "p", "kn1")
    policies.apply(olga, "p", "kn2")
    policies.edit(olga, "p", policies.PolicyEdit(maxtime="2h"))
    policies.delete(olga, "p")

    logged: list[dict[str, Any]] = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert [(e["event"], e["name"], e["by"]) for e in logged] == [
        ("policy-added", "p", "olga"),
        ("policy-applied", "p", "olga"),
        ("policy-edited", "p", "olga"),
        ("policy-deleted", "p", "olga"),
    ]
    assert logged[1]["nodes"] == "kn[1-2]" and logged[2]["maxtime"] == 120
    assert [e.kind for e in olga.history("p")] == [
        "policy-added",
        "policy-applied",
        "policy-edited",
        "policy-deleted",
    ]
