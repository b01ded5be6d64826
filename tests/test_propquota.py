"""Node properties (`properties`, `sub -p`, `show -p`) and quotas (`quota`, `igor quota`): config
validation, placement and refusal sentences, counting (running + future, the concurrency peak), admin
exemption, extend and restore checks, the CLI's text and JSON, and two Hypothesis properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, ClusterFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_service import DIRECTORY, NOW, ServiceFactory, files, make, sub

from igor_tui.clock import FrozenClock
from igor_tui.config import parse_config
from igor_tui.content import ContentStore
from igor_tui.errors import ConfigError, LimitError, ScheduleError, ValidationError
from igor_tui.identity import resolve_caller
from igor_tui.model import Request, Reservation
from igor_tui.scheduler import find_slot, with_properties
from igor_tui.service import IgorService
from igor_tui.service.quota import peak, report
from igor_tui.store import MemoryStore

__all__ = ["files", "make"]  # fixtures, used by name

PROPS = {"kn[1-4]": ["gpu", "100g"], "kn[5-8]": ["100g"]}
QUOTA = {"default": {"node_hours": 20, "concurrent_nodes": 4}}
BASE = {"tftproot": "/srv/tftp", "prefix": "kn", "start": 1, "end": 10}


def problems(**keys: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, **keys})
    return err.value.problems


# ------------------------------------------------------------------------------------------- config


def test_config_properties_map_ranges_to_nodes() -> None:
    config = parse_config({**BASE, "properties": {**PROPS, "kn4": ["fpga"]}})
    assert config.properties["kn4"] == {"gpu", "100g", "fpga"}
    assert config.properties["kn5"] == {"100g"}
    assert "kn9" not in config.properties
    assert config.known_properties() == ("100g", "fpga", "gpu")


def test_config_properties_problems_name_the_key() -> None:
    assert problems(properties={"kn[1-12]": ["gpu"], "kn[3-": ["gpu"], "kn5": ["a b"], "kn6": "gpu"}) == (
        "properties['kn[1-12]']: bad node list 'kn[1-12]': kn11 is not a node of this cluster (kn[1-10])",
        "properties['kn[3-']: bad node list 'kn[3-': missing ']'",
        "properties['kn5']: 'a b' is not a property name; expected a word of letters, digits, '.', '_' "
        "and '-'",
        "properties['kn6']: expected a non-empty list of property names, e.g. ['gpu', '100g'], got 'gpu' "
        "(a string)",
    )


def test_config_quota_problems_name_the_key() -> None:
    assert problems(
        quota={
            "default": {"node_hour": 5, "concurrent_nodes": 0},
            "%": {},
            "bob": 3,
            "%hpc": {"node_hours": True},
        }
    ) == (
        "quota['default']: unknown key 'node_hour'; expected 'node_hours' and/or 'concurrent_nodes'",
        "quota['default']['concurrent_nodes']: 0 is not a positive integer",
        "quota['%']: expected 'default', a user name or '%group'",
        "quota['bob']: expected an object, e.g. {'node_hours': 2000, 'concurrent_nodes': 64}, got 3 "
        "(an integer)",
        "quota['%hpc']['node_hours']: True is not a positive integer",
    )
    assert problems(quota=[1]) == (
        "quota: expected an object (an object mapping 'default', users and '%group' to {'node_hours': N, "
        "'concurrent_nodes': N}), got [1] (a list)",
    )


# ------------------------------------------------------------------------------------ sub -p, service


def test_sub_p_places_only_on_nodes_with_every_property(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(properties=PROPS)
    first = svc.submit(sub(svc, files, "a", count=2, properties="gpu"))
    assert first.nodes == ("kn1", "kn2")
    second = svc.submit(sub(svc, files, "b", count=3, properties="gpu,100g"))
    assert second.nodes == ("kn1", "kn2", "kn3") and second.start == first.end, "kn4 alone is too few"
    plain = svc.submit(sub(svc, files, "c", count=3, properties="100g"))
    assert plain.nodes == ("kn3", "kn4", "kn5"), "kn9 and kn10 lack 100g"
    for slot in svc.speculate(sub(svc, files, count=2, properties="gpu")):
        assert set(slot.nodes) <= {"kn1", "kn2", "kn3", "kn4"}


def test_sub_p_refusals(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(properties=PROPS, nodelimit=0)
    with pytest.raises(ScheduleError, match=r"^only 4 nodes have gpu,100g; asked for 6$"):
        svc.submit(sub(svc, files, count=6, properties="gpu,100g"))
    with pytest.raises(ValidationError, match=r"^kn\[5-6\] lack gpu: only kn\[1-4\] have them$"):
        svc.submit(sub(svc, files, nodes="kn[3-6]", properties="gpu"))
    with pytest.raises(
        ValidationError, match=r"^no node has property 'tpu' \(known properties: 100g, gpu\)$"
    ):
        svc.submit(sub(svc, files, count=1, properties="tpu"))
    assert svc.field_errors(sub(svc, files, count=6, properties="gpu")) == {
        "properties": "only 4 nodes have gpu; asked for 6"
    }
    bare = make()
    with pytest.raises(ValidationError, match=r"igor.conf defines no node properties"):
        bare.speculate(sub(bare, files, count=1, properties="gpu"))


def test_sub_w_with_the_properties_is_booked_as_listed(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(properties=PROPS)
    assert svc.submit(sub(svc, files, nodes="kn[2,4]", properties="gpu")).nodes == ("kn2", "kn4")


# -------------------------------------------------------------------------------------- quota, service


def test_quota_counts_remaining_hours_of_running_and_all_of_future(
    make: ServiceFactory, files: dict[str, str]
) -> None:
    svc = make(quota={"default": {"node_hours": 100}})
    svc.submit(sub(svc, files, "now", count=2, duration="2h"))
    svc.submit(sub(svc, files, "later", count=3, duration="1h", after="2026-Nov-25-09:00"))
    svc.clock.advance(timedelta(minutes=30))  # type: ignore[attr-defined]
    use = report(svc)
    assert use.node_minutes == 2 * 90 + 3 * 60 and use.used_text == "6"
    assert use.peak_nodes == 3 and use.reservations == 2
    assert use.limit.node_hours == 100 and use.source == ("default", "")


def test_quota_peak_counts_overlap_not_back_to_back() -> None:
    t = [NOW + timedelta(hours=h) for h in range(5)]
    spans = [(("kn1", "kn2"), t[0], t[2]), (("kn3",), t[1], t[3]), (("kn4", "kn5"), t[2], t[4])]
    assert peak(spans) == 3  # at t1 two + one; at t2 the first ended as the third began
    assert peak(spans, [(t[3], t[4])]) == 2
    assert peak(spans[:1], [(t[1], t[2])]) == 2, "what is held when a window opens counts inside it"
    assert peak([]) == 0


def test_quota_node_hours_refusal_says_what_would_fit(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(quota={"default": {"node_hours": 20}})
    svc.submit(sub(svc, files, "a", count=2, duration="8h"))
    with pytest.raises(LimitError) as err:
        svc.submit(sub(svc, files, "b", count=2, duration="4h"))
    assert str(err.value) == (
        "quota: alice may hold 20 node-hours; 16 in use, this booking needs 8 (2 nodes × 4 h); "
        "at most 1 node × 4 h or 2 nodes × 2 h would fit"
    )
    svc.submit(sub(svc, files, "c", count=2, duration="2h"))  # exactly the quota
    with pytest.raises(LimitError, match=r"no booking fits until some of that ends$"):
        svc.submit(sub(svc, files, "d", count=1, duration="30m"))
    assert make("bob", quota={"default": {"node_hours": 20}}).submit(
        sub(svc, files, "e", count=2, duration="8h")
    )


def test_quota_concurrency_refusal_and_back_to_back(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(quota={"default": {"concurrent_nodes": 4}})
    first = svc.submit(sub(svc, files, "a", count=3, duration="2h"))
    svc.submit(sub(svc, files, "next", count=4, duration="1h", after="2026-Nov-24-13:00"))  # after a's end
    assert first.end.hour == 12
    with pytest.raises(LimitError) as err:
        svc.submit(sub(svc, files, "b", count=2, duration="30m"))
    assert str(err.value) == (
        "quota: alice may hold 4 nodes at once; 3 held during this booking, which needs 2; "
        "at most 1 more node would fit then"
    )
    svc.submit(sub(svc, files, "c", count=1, duration="30m"))


def test_quota_most_specific_entry_applies(make: ServiceFactory, files: dict[str, str]) -> None:
    quota = {
        "default": {"node_hours": 10, "concurrent_nodes": 2},
        "%lab": {"node_hours": 50},
        "%alice": {"node_hours": 30},
        "carol": {"concurrent_nodes": 8},
    }
    alice = report(make("alice", quota=quota))
    assert (alice.limit.node_hours, alice.limit.concurrent_nodes) == (50, 2)
    assert alice.source == ("%lab", "default"), "the largest of the user's groups, then default"
    carol = report(make("carol", quota=quota))
    assert (carol.limit.node_hours, carol.limit.concurrent_nodes, carol.source) == (50, 8, ("%lab", "carol"))
    bob = report(make("bob", quota=quota))
    assert (bob.limit.node_hours, bob.limit.concurrent_nodes) == (10, 2)


def test_quota_admins_are_exempt(make: ServiceFactory, files: dict[str, str]) -> None:
    olga = make("olga", quota={"default": {"node_hours": 1, "concurrent_nodes": 1}})
    olga.submit(sub(olga, files, "big", count=4, duration="10h"))
    olga.extend("big", "5h")
    assert olga.speculate(sub(olga, files, count=4)) != []


def test_quota_checks_extend(make: ServiceFactory, files: dict[str, str]) -> None:
    svc = make(quota={"default": {"node_hours": 20}})
    svc.submit(sub(svc, files, "a", count=2, duration="8h"))
    with pytest.raises(LimitError) as err:
        svc.extend("a", "3h")
    assert str(err.value) == (
        "quota: alice may hold 20 node-hours; 16 in use, this extension needs 6 (2 nodes × 3 h); "
        "at most 2 nodes × 2 h would fit"
    )
    assert svc.extend("a", "2h").end == svc.get("a").end


def test_quota_checks_restore_against_the_owner(make: ServiceFactory, files: dict[str, str]) -> None:
    quota = {"default": {"node_hours": 10}}
    alice = make(quota=quota)
    alice.submit(sub(alice, files, "old", nodes="kn[1-2]", duration="4h"))
    alice.delete("old")
    alice.submit(sub(alice, files, "new", nodes="kn[3-4]", duration="4h"))
    with pytest.raises(
        LimitError, match=r"^quota: alice may hold 10 node-hours; 8 in use, this restore needs 8"
    ):
        make("olga", quota=quota).restore("old")
    alice.delete("new")
    assert make("olga", quota=quota).restore("old").name == "old"


def test_check_quota_for_nodes_added_to_a_reservation(make: ServiceFactory, files: dict[str, str]) -> None:
    """What `edit -add` (another branch) calls: the added nodes for the rest of the window."""
    from igor_tui.service.checks import check_quota

    quota = {"default": {"concurrent_nodes": 4}}
    svc = make(quota=quota)
    res = svc.submit(sub(svc, files, "a", count=3, duration="2h"))
    live = list(svc.view().reservations)
    with pytest.raises(LimitError) as err:
        check_quota(svc, live, "alice", [(("kn8", "kn9"), svc.now(), res.end)], "addition")
    assert str(err.value) == (
        "quota: alice may hold 4 nodes at once; 3 held during this addition, which needs 2; "
        "at most 1 more node would fit then"
    )
    check_quota(svc, live, "alice", [(("kn8",), svc.now(), res.end)], "addition")
    check_quota(make("olga", quota=quota), live, "alice", [(("kn8", "kn9"), svc.now(), res.end)])  # admin


def test_quota_report_permissions(make: ServiceFactory) -> None:
    from igor_tui.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match=r"^only admins may see another user's quota \(you are bob\)$"):
        report(make("bob"), "alice")
    assert report(make("olga"), "alice").user == "alice"


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def site(make_cluster: ClusterFactory) -> Cluster:
    return make_cluster(
        properties={"kn[1-8]": ["gpu", "100g"], "kn[9-16]": ["100g"]},
        quota={"default": {"node_hours": 40, "concurrent_nodes": 8}},
        admins=["root"],
    )


def test_cli_sub_p_and_refusal(site: Cluster) -> None:
    out = site.run("sub", "-r", "g", *site.boot, "-n", "3", "-p", "gpu", check=0).stdout
    assert "Nodes: kn[1-3]" in out
    err = site.run("sub", "-r", "h", *site.boot, "-n", "9", "-p", "gpu,100g", check=1).stderr
    assert err == "igor: only 8 nodes have gpu,100g; asked for 9\n"
    err = site.run("sub", "-r", "h", *site.boot, "-w", "kn[8-9]", "-p", "gpu", check=1).stderr
    assert err == "igor: kn9 lacks gpu: only kn[1-8] have them\n"


def test_cli_show_p_and_json_properties(site: Cluster) -> None:
    site.run("sub", "-r", "g", *site.boot, "-n", "2", "-p", "gpu", check=0)
    site.run("sub", "-r", "plain", *site.boot, "-w", "kn17", check=0)
    data = json.loads(site.run("show", "-json", check=0).stdout)
    props = {n["name"]: n["properties"] for n in data["nodes"]}
    assert props["kn1"] == ["100g", "gpu"] and props["kn9"] == ["100g"] and props["kn20"] == []
    only = json.loads(site.run("show", "-p", "gpu", "-json", check=0).stdout)
    assert [n["name"] for n in only["nodes"]] == [f"kn{i}" for i in range(1, 9)]
    assert [r["name"] for r in only["reservations"]] == ["g"]
    text = site.run("show", "-p", "gpu", check=0).stdout
    assert "plain" not in text and " g " in text
    assert site.run("show", "-p", "tpu", check=1).stderr.startswith("igor: no node has property 'tpu'")


def test_cli_sub_s_marks_what_the_quota_refuses(site: Cluster) -> None:
    site.run("sub", "-r", "a", *site.boot, "-n", "6", "-t", "2h", check=0)
    out = site.run("sub", "-s", "-n", "4", "-t", "1h", check=0).stdout
    lines = out.splitlines()
    assert lines[2].split()[2:4] == ["14", "*"], out  # now: 6 + 4 > 8 nodes at once
    assert "*" not in lines[-2], "a later option, after a ends, is not marked"
    assert lines[-1] == (
        "Your quota refuses options marked *: quota: alice may hold 8 nodes at once; 6 held during this "
        "booking, which needs 4; at most 2 more nodes would fit then"
    )
    slots = json.loads(site.run("sub", "-s", "-n", "4", "-t", "1h", "--json", check=0).stdout)["slots"]
    assert slots[0]["quota"].startswith("quota: alice may hold 8 nodes at once")
    assert "quota" not in slots[-1]


def test_cli_quota_text_and_json(site: Cluster) -> None:
    site.run("sub", "-r", "a", *site.boot, "-n", "3", "-t", "2h", check=0)
    assert site.run("quota", check=0).stdout == (
        "Quota of alice (1 live or future reservation):\n"
        "  node-hours:        6 of 40 (quota 'default')\n"
        "  concurrent nodes:  3 at the peak, of 8 (quota 'default')\n"
    )
    data = json.loads(site.run("quota", "alice", "--json", user="root", check=0).stdout)
    assert data == {
        "user": "alice",
        "reservations": 1,
        "exempt": False,
        "node_hours": {"limit": 40, "from": "default", "used": 6.0},
        "concurrent_nodes": {"limit": 8, "from": "default", "peak": 3},
    }
    assert site.run("quota", user="root", check=0).stdout.startswith(
        "Quota of root (0 live or future reservations, an admin: exempt):\n"
    )
    err = site.run("quota", "root", check=1).stderr
    assert err == "igor: only admins may see another user's quota (you are alice)\n"


# ----------------------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    props=st.lists(st.sets(st.sampled_from(["gpu", "100g", "fpga"])), min_size=10, max_size=10),
    wanted=st.sets(st.sampled_from(["gpu", "100g", "fpga"]), max_size=2),
    busy=st.lists(st.tuples(st.integers(1, 10), st.integers(0, 300), st.integers(1, 300)), max_size=8),
    count=st.integers(1, 4),
    contiguous=st.booleans(),
)
def test_no_placement_lacks_a_requested_property(
    props: list[set[str]],
    wanted: set[str],
    busy: list[tuple[int, int, int]],
    count: int,
    contiguous: bool,
) -> None:
    nodes = tuple(f"kn{i}" for i in range(1, 11))
    properties = {n: frozenset(p) for n, p in zip(nodes, props, strict=True)}
    candidates = with_properties(nodes, properties, wanted)
    held = [
        Reservation(
            id=i + 1,
            name=f"r{i}",
            owner="bob",
            start=NOW + timedelta(minutes=s),
            end=NOW + timedelta(minutes=s + d),
            nodes=(f"kn{n}",),
        )
        for i, (n, s, d) in enumerate(busy)
    ]
    request = Request(minutes=60, earliest=NOW, count=count, contiguous=contiguous)
    if count > len(candidates):
        return
    slot = find_slot(candidates, held, request)
    assert len(slot.nodes) == count
    assert all(wanted <= properties[n] for n in slot.nodes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.integers(1, 4), st.integers(1, 6), st.integers(0, 12), st.sampled_from(["sub", "extend"])
        ),
        min_size=1,
        max_size=10,
    )
)
def test_no_accepted_booking_sequence_exceeds_the_quota(
    tmp_path: Path, files: dict[str, str], steps: list[tuple[int, int, int, str]]
) -> None:
    config = parse_config(
        {
            **BASE,
            "statedir": str(tmp_path / "state"),
            "nodelimit": 0,
            "timelimit": 0,
            "quota": {"default": {"node_hours": 30, "concurrent_nodes": 5}},
        }
    )
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    svc = IgorService(
        config,
        MemoryStore(),
        resolve_caller("alice", (), DIRECTORY),
        clock=clock,
        directory=DIRECTORY,
        content=ContentStore(str(tmp_path / "content")),
    )
    names: list[str] = []
    for i, (count, hours, after, verb) in enumerate(steps):
        try:
            if verb == "extend" and names:
                svc.extend(names[-1], f"{hours}h")
            else:
                start = (clock.now() + timedelta(hours=after)).strftime("%Y-%m-%dT%H:%MZ")
                svc.submit(sub(svc, files, f"r{i}", count=count, duration=f"{hours}h", after=start))
                names.append(f"r{i}")
        except LimitError as err:
            assert str(err).startswith("quota: alice may hold")
        except ScheduleError as err:
            assert str(err).startswith(f"cannot extend {names[-1]}")
        use = report(svc)
        assert use.node_minutes <= 30 * 60 and use.peak_nodes <= 5
