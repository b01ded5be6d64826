"""The one date policy (dates.py) and the "why not now" sentence (booking_plan.py): pure functions,
checked without a store or Textual. (The past, from the archive, is tested in test_archive.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from igor_tui.booking_plan import why_not
from igor_tui.dates import compact_text, relative_text, span_text, when_text, when_zone
from igor_tui.hostlist import NodeNaming
from igor_tui.model import Block, Request, Reservation, Slot

NOW = datetime(2026, 12, 3, 7, 23, tzinfo=UTC)
NAMING = NodeNaming("kn", 1, 8)
NODES = NAMING.all()


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def res(name: str, nodes: str, start: int, end: int, rid: int = 1) -> Reservation:
    return Reservation(
        id=rid, name=name, owner="bob", start=at(start), end=at(end), nodes=NAMING.expand(nodes)
    )


def sentence(request: Request, slot_start: int, live: list[Reservation], **kw: object) -> str:
    slot = Slot(at(slot_start), at(slot_start + request.minutes), request.nodes or ("kn1",), 1)
    return why_not(
        request,
        slot,
        now=NOW,
        nodes=NODES,
        reservations=live,
        blocks=kw.get("blocks", ()),  # type: ignore[arg-type]
        down=kw.get("down", frozenset()),  # type: ignore[arg-type]
        compress=NAMING.compress,
        when=lambda w: when_text(w, UTC, NOW),
    )


def test_date_policy() -> None:
    assert when_text(at(60), UTC, NOW) == "08:23"  # today: the time alone
    assert when_text(at(60), UTC, NOW, dated=True) == "Thu Dec 03 08:23"
    assert when_text(at(60 * 24 * 2), UTC, NOW) == "Sat Dec 05 07:23"
    assert when_text(datetime(2027, 9, 25, 13, 0, tzinfo=UTC), UTC, NOW) == "Sat Sep 25 2027 13:00"
    assert when_text(datetime(2017, 9, 25, 13, 0, tzinfo=UTC), UTC, NOW) == "Mon Sep 25 2017 13:00"
    assert when_zone(at(60), ZoneInfo("Europe/Berlin"), NOW) == "09:23 CET"
    assert span_text(at(0), at(90), UTC, NOW) == "07:23 - 08:53 UTC"
    assert compact_text(at(60 * 24), UTC, NOW) == "Dec 04 07:23"
    assert compact_text(datetime(2027, 9, 25, 13, 0, tzinfo=UTC), UTC, NOW) == "2027 Sep 25"
    assert relative_text(at(90), NOW) == "in 1h30m from now"
    assert relative_text(at(-180), NOW) == "3h ago"


def test_why_not_names_the_reservation_that_takes_a_free_node() -> None:
    live = [res("ceph-lab", "kn[3-4]", 2, 600)]
    request = Request(minutes=60, earliest=NOW, nodes=NAMING.expand("kn[3-6]"))
    assert sentence(request, 600, live) == (
        "kn[3-6] are free now but ceph-lab takes kn3 at 07:25; earliest fit: 17:23"
    )
    assert sentence(request, 0, live) == ""  # on time: nothing to explain


def test_why_not_for_held_down_blocked_and_too_few() -> None:
    live = [res("hpl", "kn[1-6]", -60, 120)]
    listed = Request(minutes=60, earliest=NOW, nodes=("kn2",))
    assert sentence(listed, 120, live).startswith("kn2 is held by hpl (bob) until 09:23;")
    down = Request(minutes=60, earliest=NOW, nodes=("kn8",))
    assert sentence(down, 120, [], down=frozenset({"kn8"})).startswith("kn8 is down;")
    block = Block(1, ("kn7",), at(-10), None, "PSU", "ops")
    blocked = Request(minutes=60, earliest=NOW, nodes=("kn7",))
    assert sentence(blocked, 120, [], blocks=(block,)).startswith("kn7 is blocked for maintenance now;")
    four = Request(minutes=60, earliest=NOW, count=4)
    assert sentence(four, 120, live) == "only 2 nodes are free now (you asked for 4); earliest fit: 09:23"
    two = Request(minutes=60, earliest=NOW, count=2)
    later = [*live, res("soak", "kn7", 30, 300, rid=2)]
    assert sentence(two, 300, later) == (
        "kn[7-8] are free now but only 1 stay free for 1h (soak takes kn7 at 07:53); earliest fit: 12:23"
    )
