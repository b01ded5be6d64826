"""The state store: records, ids, one-read-one-write transactions, atomic commits, locking, corruption."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import random
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import portalocker
import pytest
from hypothesis import given
from hypothesis import strategies as st

from igor_tui import locks
from igor_tui import store as store_module
from igor_tui.errors import StoreError
from igor_tui.model import Block, NodeState, NodeStatus, Policy, Reservation
from igor_tui.store import (
    SCHEMA_VERSION,
    MemoryStore,
    ReservationStore,
    StoreTransaction,
    TinyStore,
    Transaction,
    block_from_record,
    block_to_record,
    node_status_from_record,
    node_status_to_record,
    policy_from_record,
    policy_to_record,
    reservation_from_record,
    reservation_to_record,
)
from igor_tui.store import codec as store_codec
from igor_tui.store import document as store_document

AnyStore = TinyStore | MemoryStore

T0 = datetime(2030, 5, 4, 12, 0, tzinfo=UTC)

FULL_RES = Reservation(
    id=7,
    name="full",
    owner="alice",
    start=T0,
    end=T0 + timedelta(hours=2),
    nodes=("kn3", "kn1", "kn2"),
    group="eng",
    kernel="/home/alice/vmlinuz",
    initrd="/home/alice/initrd.img",
    kernel_hash="a" * 64,
    initrd_hash="b" * 64,
    profile="centos7",
    kernel_args="console=ttyS0,115200 quiet",
    vlan=42,
    created=T0 - timedelta(minutes=5, seconds=3, microseconds=17),
    revision=3,
    extensions=2,
    installed=True,
    error="pxe write failed on kn2",
    desc="bisecting the e1000 hang",
    healed=("kn4 (down) -> kn3",),
)
FULL_BLOCK = Block(
    id=3, nodes=("kn5", "kn6"), start=T0, end=T0 + timedelta(days=1), reason="firmware", by="root"
)
FULL_POLICY = Policy(
    id=2,
    name="gpu-maint",
    nodes=("kn3", "kn4"),
    groups=("gpu", "hpc"),
    maxtime=720,
    unavailable=("0 17 24 12 *:8d15h", "0 2 * * 0:4h"),
    by="root",
)
FULL_STATUS = NodeStatus(name="kn4", state=NodeState.DOWN, checked=T0, detail="no ping reply")


def res(name: str = "r", **changes: Any) -> Reservation:
    base = Reservation(id=0, name=name, owner="bob", start=T0, end=T0 + timedelta(hours=1), nodes=("kn1",))
    return dataclasses.replace(base, **changes)


def block(**changes: Any) -> Block:
    return dataclasses.replace(Block(id=0, nodes=("kn9",), start=T0, end=None), **changes)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(store_module.TEMP_PREFIX))


def conforms(store: ReservationStore) -> ReservationStore:
    """Both stores must satisfy the protocol the service is typed against (checked by mypy)."""
    return store


def _tx(tx: Transaction) -> Transaction:
    return tx


# ------------------------------------------------------------------------------------------- records


def test_every_model_field_is_persisted() -> None:
    """A field added to the model but not to the record functions would silently vanish on save."""
    assert set(reservation_to_record(FULL_RES)) == {f.name for f in dataclasses.fields(Reservation)}
    assert set(block_to_record(FULL_BLOCK)) == {f.name for f in dataclasses.fields(Block)}
    assert set(node_status_to_record(FULL_STATUS)) == {f.name for f in dataclasses.fields(NodeStatus)}
    assert store_codec._POSITIONAL, "Reservation fields were reordered: update _RESERVATION_FIELDS"


def test_records_round_trip_every_field() -> None:
    assert reservation_from_record(reservation_to_record(FULL_RES)) == FULL_RES
    assert block_from_record(block_to_record(FULL_BLOCK)) == FULL_BLOCK
    assert block_from_record(block_to_record(block(end=None))) == block(end=None)
    assert node_status_from_record(node_status_to_record(FULL_STATUS)) == FULL_STATUS
    unknown = NodeStatus(name="kn1")
    assert node_status_from_record(node_status_to_record(unknown)) == unknown


def test_records_are_plain_json() -> None:
    record = reservation_to_record(FULL_RES)
    assert json.loads(json.dumps(record)) == record
    assert record["nodes"] == ["kn3", "kn1", "kn2"]
    assert record["start"] == "2030-05-04T12:00:00+00:00"
    assert record["created"] == "2030-05-04T11:54:56.999983+00:00"
    assert record["vlan"] == 42
    assert reservation_to_record(res())["vlan"] is None
    assert reservation_to_record(res())["created"] is None
    assert block_to_record(block())["end"] is None
    assert node_status_to_record(FULL_STATUS) == {
        "name": "kn4",
        "state": "down",
        "checked": "2030-05-04T12:00:00+00:00",
        "detail": "no ping reply",
    }


def test_records_store_utc_and_read_any_offset() -> None:
    cest = timezone(timedelta(hours=2))
    record = reservation_to_record(res(start=datetime(2030, 5, 4, 14, 0, tzinfo=cest)))
    assert record["start"] == "2030-05-04T12:00:00+00:00"
    loaded = reservation_from_record(
        {**record, "start": "2030-05-04T14:00:00+02:00", "end": "2030-05-04T13:00"}
    )
    assert loaded.start == T0 and loaded.start.tzinfo is UTC
    assert loaded.end == T0 + timedelta(hours=1) and loaded.end.tzinfo is UTC  # no offset: read as UTC


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2030, 5, 4, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        reservation_to_record(res(start=naive))
    with pytest.raises(ValueError, match="naive"):
        block_to_record(block(end=naive))


def test_from_record_fills_defaults_for_missing_optional_fields() -> None:
    minimal = {"name": "old", "owner": "carol", "start": T0.isoformat(), "end": T0.isoformat(), "nodes": []}
    assert reservation_from_record(minimal) == Reservation(
        id=0, name="old", owner="carol", start=T0, end=T0, nodes=()
    )
    assert block_from_record({"nodes": ["kn1"], "start": T0.isoformat()}) == Block(
        id=0, nodes=("kn1",), start=T0, end=None
    )
    assert node_status_from_record({"name": "kn1"}) == NodeStatus(name="kn1")


@pytest.mark.parametrize(
    "change",
    [
        {"name": None},
        {"nodes": "kn1"},
        {"nodes": ["kn1", 2]},
        {"start": 5},
        {"start": "yesterday"},
        {"vlan": "x"},
    ],
)
def test_bad_reservation_records_raise_value_error(change: dict[str, Any]) -> None:
    record = {k: v for k, v in {**reservation_to_record(FULL_RES), **change}.items() if v is not None}
    with pytest.raises(ValueError):
        reservation_from_record(record)


def test_bad_block_and_status_records_raise_value_error() -> None:
    with pytest.raises(ValueError):
        block_from_record({"start": T0.isoformat()})
    with pytest.raises(ValueError):
        node_status_from_record({"name": "kn1", "state": "sideways"})
    with pytest.raises(ValueError):
        node_status_from_record({})


_SHORT_TEXT = st.text(alphabet="ab1:", max_size=3)
_JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), _SHORT_TEXT, st.lists(_SHORT_TEXT, max_size=2)
)


@st.composite
def reservation_records(draw: st.DrawFn) -> dict[str, Any]:
    """Records as JSON could hold them: mostly well-formed, with fields missing or of other JSON types."""
    record = reservation_to_record(draw(st.sampled_from([FULL_RES, res(), res(vlan=7, created=T0)])))
    for name in draw(st.lists(st.sampled_from(store_codec._RESERVATION_FIELDS), max_size=3)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(_JSON_VALUES)
    return record


def _outcome(convert: Callable[[], Any]) -> Any:
    try:
        return convert()
    except ValueError as err:
        return ("ValueError", str(err))


@given(reservation_records())
def test_complete_records_take_a_shortcut_to_the_same_result(record: dict[str, Any]) -> None:
    """reservation_from_record reads records of exactly the model's types without converting each field;
    for every record it must give what converting every field gives, or the same error."""

    def general() -> Reservation:
        return Reservation(*store_codec._converted_values(record))

    assert _outcome(lambda: reservation_from_record(record)) == _outcome(general)


def test_times_read_are_shared_and_normalised_to_utc() -> None:
    first = store_codec._time_in("2030-05-04T14:00:00+02:00")
    assert first == T0 and first.tzinfo is UTC
    assert store_codec._time_in("2030-05-04T14:00:00+02:00") is first
    assert store_codec._time_in("2030-05-04T12:00") == T0  # no offset: UTC
    with pytest.raises(TypeError):
        store_codec._time_in(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store_codec._time_in("yesterday")


# ------------------------------------------------------------------------ behaviour of both stores


LOCKINGS = ["flock", "portalocker"]


@pytest.fixture(params=["tiny", "tiny-portalocker", "memory"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AnyStore]:
    """Stores of one kind; a TinyStore made twice shares its directory, like two igor processes.
    TinyStores lock with flock (POSIX) or with portalocker (elsewhere): both are tested here.

    Every test taking `store` or `make_store` is a contract test of the `ReservationStore` protocol:
    another store (a PostgreSQL one, later) joins them all by becoming one more param here."""
    memory = MemoryStore()
    if request.param.startswith("tiny"):
        monkeypatch.setattr(locks, "LOCKING", request.param.removeprefix("tiny-").replace("tiny", "flock"))

    def make(lock_timeout: float = 10.0) -> AnyStore:
        if request.param.startswith("tiny"):
            return TinyStore(tmp_path / "state", lock_timeout=lock_timeout)
        memory.lock_timeout = lock_timeout
        return memory

    return make


@pytest.fixture
def store(make_store: Callable[..., AnyStore]) -> AnyStore:
    return make_store()


def test_both_stores_satisfy_the_protocol(store: AnyStore) -> None:
    assert conforms(store) is store
    with store.transaction() as tx:
        assert isinstance(_tx(tx), StoreTransaction)


def test_a_new_store_is_empty(store: AnyStore) -> None:
    snap = store.snapshot()
    assert snap.reservations == () and snap.blocks == () and dict(snap.nodes) == {}
    with store.transaction() as tx:
        assert tx.reservations() == [] and tx.blocks() == [] and tx.node_status() == {}
        assert tx.reservation(1) is None
        assert tx.get_value("tick") is None and tx.get_value("tick", 5) == 5


def test_round_trip_of_every_field_through_the_store(store: AnyStore) -> None:
    with store.transaction() as tx:
        stored = tx.add_reservation(FULL_RES)
        stored_block = tx.add_block(FULL_BLOCK)
        tx.put_node_status(FULL_STATUS)
    assert stored == dataclasses.replace(FULL_RES, id=1)
    assert stored_block == dataclasses.replace(FULL_BLOCK, id=1)
    snap = store.snapshot()
    assert snap.reservations == (stored,)
    assert snap.blocks == (stored_block,)
    assert dict(snap.nodes) == {"kn4": FULL_STATUS}
    with store.transaction() as tx:
        assert tx.reservation(1) == stored
        assert tx.reservations() == [stored]
        assert tx.blocks() == [stored_block]
        assert tx.node_status() == {"kn4": FULL_STATUS}


def test_ids_are_monotonic_and_never_reused(store: AnyStore) -> None:
    with store.transaction() as tx:
        ids = [tx.add_reservation(res(f"r{i}", id=99)).id for i in range(3)]
        assert ids == [1, 2, 3]
        tx.remove_reservation(3)
    with store.transaction() as tx:
        assert tx.add_reservation(res("r4")).id == 4
        for r in tx.reservations():
            tx.remove_reservation(r.id)
    with store.transaction() as tx:
        assert tx.reservations() == []
        assert tx.add_reservation(res("r5")).id == 5
        assert [tx.add_block(block()).id for _ in range(2)] == [1, 2]
        tx.remove_block(2)
    with store.transaction() as tx:
        assert tx.add_block(block()).id == 3
    assert [r.id for r in store.snapshot().reservations] == [5]
    assert [b.id for b in store.snapshot().blocks] == [1, 3]


def test_policies_are_stored_replaced_and_removed_by_id(store: AnyStore) -> None:
    assert set(policy_to_record(FULL_POLICY)) == {f.name for f in dataclasses.fields(Policy)}
    assert policy_from_record(policy_to_record(FULL_POLICY)) == FULL_POLICY
    assert policy_from_record({"name": "bare"}) == Policy(id=0, name="bare")
    bad_records: list[dict[str, Any]] = [
        {"nodes": []},
        {"name": "x", "maxtime": "1h"},
        {"name": "x", "groups": "gpu"},
    ]
    for bad in bad_records:
        with pytest.raises(ValueError, match="bad policy record"):
            policy_from_record(bad)
    with store.transaction() as tx:
        assert tx.policies() == []
        first = tx.put_policy(dataclasses.replace(FULL_POLICY, id=0))
        second = tx.put_policy(Policy(id=0, name="short", nodes=("kn9",), maxtime=60))
        assert (first.id, second.id) == (1, 2)
    assert store.snapshot().policies == (first, second)
    moved = dataclasses.replace(first, nodes=("kn3",), unavailable=())
    with store.transaction() as tx:
        assert tx.put_policy(moved) == moved
        tx.remove_policy(second.id)
        tx.remove_policy(second.id)  # idempotent
        assert tx.policies() == [moved]
    with store.transaction() as tx:
        assert tx.put_policy(Policy(id=0, name="again")).id == 3  # ids are never reused
    assert store.snapshot().policies == (moved, Policy(id=3, name="again"))
    with pytest.raises(StoreError, match="no longer in the store"), store.transaction() as tx:
        tx.put_policy(dataclasses.replace(moved, id=99))


def test_a_document_without_the_policies_table_loads_unchanged(tmp_path: Path) -> None:
    """Documents written before host policies existed have no `policies` table: no policies, same rest."""
    state = tmp_path / "state"
    state.mkdir()
    record = reservation_to_record(dataclasses.replace(FULL_RES, id=1))
    old = {
        "meta": {"1": {"schema_version": 1, "next_id": 2, "next_block_id": 1}},
        "reservations": {"1": record},
    }
    (state / store_module.DOCUMENT_NAME).write_text(json.dumps(old))
    old_store = TinyStore(state)
    snap = old_store.snapshot()
    assert snap.policies == () and snap.reservations == (dataclasses.replace(FULL_RES, id=1),)
    with old_store.transaction() as tx:
        assert tx.policies() == []
        assert tx.put_policy(Policy(id=0, name="new")).id == 1
    assert [r.id for r in old_store.snapshot().reservations] == [1]


def test_snapshot_and_listing_are_sorted_by_id(store: AnyStore) -> None:
    with store.transaction() as tx:
        for i in range(12):
            tx.add_reservation(res(f"r{i}", start=T0 - timedelta(hours=i)))
        tx.remove_reservation(5)
        assert [r.id for r in tx.reservations()] == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]
    assert [r.id for r in store.snapshot().reservations] == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]


def test_put_replaces_by_id_and_refuses_unknown_ids(store: AnyStore) -> None:
    with store.transaction() as tx:
        first = tx.add_reservation(res("a"))
        tx.add_reservation(res("b"))
    edited = dataclasses.replace(first, end=first.end + timedelta(hours=1), revision=2, vlan=None, error="x")
    with store.transaction() as tx:
        tx.put_reservation(edited)
        assert tx.reservation(first.id) == edited
        assert tx.reservations()[0] == edited
    assert store.snapshot().reservations[0] == edited
    with pytest.raises(StoreError, match="no longer in the store"), store.transaction() as tx:
        tx.put_reservation(dataclasses.replace(edited, id=99))


def test_remove_is_idempotent(store: AnyStore) -> None:
    with store.transaction() as tx:
        kept = tx.add_reservation(res("kept"))
        gone = tx.add_reservation(res("gone"))
    with store.transaction() as tx:
        tx.remove_reservation(gone.id)
        tx.remove_reservation(gone.id)
        tx.remove_reservation(12345)
        tx.remove_block(12345)
        assert tx.reservation(gone.id) is None
    assert store.snapshot().reservations == (kept,)


def test_a_failing_transaction_changes_nothing(store: AnyStore) -> None:
    with store.transaction() as tx:
        tx.add_reservation(res("before"))
    before = store.snapshot()
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.add_reservation(res("lost"))
        tx.remove_reservation(1)
        tx.set_value("k", 1)
        tx.put_node_status(FULL_STATUS)
        raise RuntimeError("boom")
    assert store.snapshot() == before
    with store.transaction() as tx:
        assert [r.name for r in tx.reservations()] == ["before"]
        assert tx.add_reservation(res("after")).id == 2  # the rolled-back id was not consumed


def test_node_status_is_upserted_by_name(store: AnyStore) -> None:
    with store.transaction() as tx:
        tx.put_node_status(NodeStatus("kn1", NodeState.UP, T0))
        tx.put_node_status(NodeStatus("kn2"))
    later = NodeStatus("kn1", NodeState.DOWN, T0 + timedelta(minutes=1), "timeout")
    with store.transaction() as tx:
        tx.put_node_status(later)
    assert dict(store.snapshot().nodes) == {"kn1": later, "kn2": NodeStatus("kn2")}


def test_many_node_statuses_are_upserted_in_one_call(store: AnyStore) -> None:
    """igor-tick's probe writes every node at once: known names are replaced whole (a stale detail does
    not survive), new names are added, names not given are kept; and the next call in the same
    transaction sees the names the previous one added."""
    with store.transaction() as tx:
        tx.put_node_statuses([NodeStatus("kn1", NodeState.UP, T0, "slow"), NodeStatus("kn2")])
        tx.put_node_statuses([NodeStatus("kn2", NodeState.UP, T0)])
    later = T0 + timedelta(minutes=1)
    with store.transaction() as tx:
        tx.put_node_statuses(
            [NodeStatus("kn1", NodeState.DOWN, later), NodeStatus("kn3", NodeState.UP, later)]
        )
    assert dict(store.snapshot().nodes) == {
        "kn1": NodeStatus("kn1", NodeState.DOWN, later),
        "kn2": NodeStatus("kn2", NodeState.UP, T0),
        "kn3": NodeStatus("kn3", NodeState.UP, later),
    }
    with store.transaction() as tx:
        assert len(tx.node_status()) == 3  # one record per name


def test_snapshot_is_immutable(store: AnyStore) -> None:
    with store.transaction() as tx:
        tx.put_node_status(FULL_STATUS)
    snap = store.snapshot()
    with pytest.raises(TypeError):
        snap.nodes["kn1"] = FULL_STATUS  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.reservations = ()  # type: ignore[misc]


def test_key_value_area(store: AnyStore) -> None:
    with store.transaction() as tx:
        tx.set_value("tick", {"last": "2030-05-04T12:00:00+00:00", "seen": (1, 2)})
        tx.set_value("notified", ["r1"])
        value = tx.get_value("tick")
        assert value == {"last": "2030-05-04T12:00:00+00:00", "seen": [1, 2]}  # as JSON gives it back
        value["seen"].append(3)  # a copy: must not leak into the store
        with pytest.raises(TypeError):
            tx.set_value("bad", object())
        with pytest.raises(ValueError):
            tx.set_value("bad", math.nan)
    with store.transaction() as tx:
        assert tx.get_value("tick") == {"last": "2030-05-04T12:00:00+00:00", "seen": [1, 2]}
        tx.set_value("notified", ["r1", "r2"])
        assert tx.get_value("bad", "absent") == "absent"
    with store.transaction() as tx:
        assert tx.get_value("notified") == ["r1", "r2"]


def test_one_read_and_one_write_per_transaction(store: AnyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"read": 0, "write": 0}
    read, write = store._read_payload, store._write_payload

    def counting_read() -> bytes:
        calls["read"] += 1
        return read()

    def counting_write(payload: bytes) -> None:
        calls["write"] += 1
        write(payload)

    monkeypatch.setattr(store, "_read_payload", counting_read)
    monkeypatch.setattr(store, "_write_payload", counting_write)
    with store.transaction() as tx:
        for i in range(20):
            added = tx.add_reservation(res(f"r{i}"))
            tx.put_reservation(dataclasses.replace(added, revision=2))
            tx.add_block(block())
            tx.put_node_status(NodeStatus(f"kn{i}"))
            tx.set_value(f"k{i}", i)
            tx.reservations()
        tx.remove_reservation(3)
    assert calls == {"read": 1, "write": 1}
    with store.transaction() as tx:
        tx.reservations()
        tx.get_value("k1")
        tx.remove_reservation(999)  # nothing to remove: still read-only
    assert calls == {"read": 2, "write": 1}


def test_a_finished_transaction_cannot_be_used(store: AnyStore) -> None:
    with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        tx.add_reservation(res())
    with pytest.raises(RuntimeError, match="ended"):
        tx.reservations()


def test_nested_transactions_fail_fast(make_store: Callable[..., AnyStore]) -> None:
    store = make_store(lock_timeout=5.0)
    started = time.monotonic()
    with pytest.raises(StoreError, match="nested"), store.transaction(), store.transaction():
        pass
    assert time.monotonic() - started < 1.0
    with store.transaction() as tx:  # and the store is usable afterwards
        tx.add_reservation(res())


@contextmanager
def held_in_thread(store: AnyStore) -> Iterator[list[int]]:
    """Another thread inside a transaction that has added a reservation but not committed yet."""
    inside, release = threading.Event(), threading.Event()
    added: list[int] = []

    def hold() -> None:
        with store.transaction() as tx:
            added.append(tx.add_reservation(res("uncommitted")).id)
            inside.set()
            release.wait(10)

    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(hold)
        try:
            while not inside.wait(0.01):
                if holder.done():
                    holder.result()  # raises whatever stopped the holder
            yield added
        finally:
            release.set()
        holder.result(10)


def test_a_held_transaction_makes_others_time_out(make_store: Callable[..., AnyStore]) -> None:
    store = make_store(lock_timeout=0.2)
    with held_in_thread(store):
        started = time.monotonic()
        busy = r"^the igor store is busy: .* for more than 0\.2s; try again$"
        with pytest.raises(StoreError, match=busy), store.transaction():
            pass
        assert 0.2 <= time.monotonic() - started < 2.0
    with store.transaction() as tx:  # free again once the holder committed
        assert [r.name for r in tx.reservations()] == ["uncommitted"]


def test_readers_take_no_lock_and_see_only_committed_data(store: AnyStore) -> None:
    with store.transaction() as tx:
        tx.add_reservation(res("committed"))
    with held_in_thread(store) as added:
        assert added == [2]
        started = time.monotonic()
        assert [r.name for r in store.snapshot().reservations] == ["committed"]
        assert time.monotonic() - started < 1.0
    assert [r.name for r in store.snapshot().reservations] == ["committed", "uncommitted"]


def test_threads_never_lose_an_update(store: AnyStore) -> None:
    def work() -> None:
        for _ in range(15):
            with store.transaction() as tx:
                count = tx.get_value("counter", 0)
                time.sleep(0.0005)  # widen the race window a lost update would need
                tx.set_value("counter", count + 1)
                tx.add_reservation(res())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with store.transaction() as tx:
        assert tx.get_value("counter") == 60
        assert [r.id for r in tx.reservations()] == list(range(1, 61))


def test_any_mix_of_operations_writes_canonical_plain_json(store: AnyStore) -> None:
    """Whatever mix of operations ran, the document is plain JSON, encoded exactly as a fresh encoding of
    what it holds, and reads back as what the transaction saw."""
    rng = random.Random(1234)
    for round_ in range(40):
        with store.transaction() as tx:
            for _ in range(rng.randint(1, 6)):
                op = rng.randrange(7)
                current = tx.reservations()
                if op == 0 or not current:
                    tx.add_reservation(res(f"r{round_}", nodes=tuple(f"kn{rng.randint(1, 9)}" for _ in "ab")))
                elif op == 1:
                    tx.put_reservation(dataclasses.replace(rng.choice(current), error=f"e{round_}"))
                elif op == 2:
                    tx.remove_reservation(rng.choice(current).id)
                elif op == 3:
                    tx.add_block(block(reason=f"b{round_}"))
                elif op == 4 and tx.blocks():
                    tx.remove_block(rng.choice(tx.blocks()).id)
                elif op == 5:
                    tx.put_node_status(NodeStatus(f"kn{rng.randint(1, 5)}", NodeState.UP, T0, f"d{round_}"))
                else:
                    tx.set_value(
                        f"k{rng.randint(1, 3)}", {"round": round_, "tags": ["x"] * rng.randint(0, 2)}
                    )
            seen = (tx.reservations(), tx.blocks(), tx.node_status())
        payload = store._read_payload()
        data = json.loads(payload)
        assert payload == store_document._serialize(data)
        snap = store.snapshot()
        assert (list(snap.reservations), list(snap.blocks), dict(snap.nodes)) == seen
    snap = store.snapshot()
    assert len({r.id for r in snap.reservations}) == len(snap.reservations)


def test_a_transaction_after_a_snapshot_of_the_same_bytes_reuses_its_work(
    store: AnyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`igor sub` reads a snapshot, then transacts: the transaction takes over the snapshot's parse and
    conversions if the document is still the same, and behaves exactly as if it had read it itself.
    Here with the snapshot cache left out (tests/test_store_cache.py: the same with it), so that every
    snapshot parses the document as this test counts."""
    if isinstance(store, TinyStore):
        monkeypatch.setattr(store, "_cached_snapshot", lambda key: None)
    with store.transaction() as tx:
        tx.add_reservations([res(f"r{i}") for i in range(3)])
    snap = store.snapshot()
    parses = []
    parse = store_document._parse_document

    def counting_parse(payload: bytes, label: str) -> dict[str, dict[str, Any]]:
        parses.append(len(payload))
        return parse(payload, label)

    monkeypatch.setattr(store_document, "_parse_document", counting_parse)
    with store.transaction() as tx:
        assert tx.reservations() == list(snap.reservations)
        assert tx.reservations()[0] is snap.reservations[0]  # not converted again
        tx.remove_reservation(2)
        tx.add_reservation(res("r3"))
    assert parses == []
    assert [r.name for r in snap.reservations] == ["r0", "r1", "r2"]  # the snapshot is untouched
    with store.transaction() as tx:  # the spare parse was used up: this one parses again
        tx.add_reservation(res("r4"))
    assert len(parses) == 1
    assert [(r.id, r.name) for r in store.snapshot().reservations] == [
        (1, "r0"),
        (3, "r2"),
        (4, "r3"),
        (5, "r4"),
    ]
    assert len(parses) == 2


def test_a_spare_parse_of_other_bytes_is_never_used(make_store: Callable[..., AnyStore]) -> None:
    reader, writer = make_store(), make_store()
    with writer.transaction() as tx:
        tx.add_reservation(res("a"))
    assert [r.name for r in reader.snapshot().reservations] == ["a"]
    with writer.transaction() as tx:  # changes the document behind the reader's back
        tx.put_reservation(dataclasses.replace(tx.reservations()[0], error="changed"))
    with reader.transaction() as tx:
        assert [r.error for r in tx.reservations()] == ["changed"]
        tx.add_reservation(res("b"))
    assert [(r.name, r.error) for r in writer.snapshot().reservations] == [("a", "changed"), ("b", "")]


def test_a_failed_transaction_does_not_spoil_the_next_one(store: AnyStore) -> None:
    with store.transaction() as tx:
        tx.add_reservation(res("kept"))
    store.snapshot()
    with pytest.raises(RuntimeError), store.transaction() as tx:  # took the spare parse and changed it
        tx.remove_reservation(1)
        tx.add_reservation(res("lost"))
        raise RuntimeError("boom")
    assert [r.name for r in store.snapshot().reservations] == ["kept"]
    with store.transaction() as tx:
        assert [r.name for r in tx.reservations()] == ["kept"]


def test_bulk_add_equals_adding_one_by_one(make_store: Callable[..., AnyStore], tmp_path: Path) -> None:
    many = [res(f"r{i}", id=99, nodes=(f"kn{i}",)) for i in range(5)]
    bulk = make_store()
    with bulk.transaction() as tx:
        tx.add_reservation(res("first"))
        tx.remove_reservation(1)
        stored = tx.add_reservations(many)
        assert tx.add_reservations([]) == []
        assert tx.reservations() == stored
    assert [r.id for r in stored] == [2, 3, 4, 5, 6]
    assert stored == [dataclasses.replace(r, id=i) for i, r in enumerate(many, start=2)]
    single = TinyStore(tmp_path / "single")
    with single.transaction() as tx:
        tx.add_reservation(res("first"))
        tx.remove_reservation(1)
        for r in many:
            tx.add_reservation(r)
    assert json.loads(bulk._read_payload()) == json.loads(single._read_payload())
    with bulk.transaction() as tx:
        assert tx.add_reservation(res("next")).id == 7


# -------------------------------------------------------------------------------------- TinyStore only


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_document_layout(state: Path) -> None:
    store = TinyStore(state)
    assert store.path == str(state / "igor.json") and store.lock_path == str(state / "igor.lock")
    with store.transaction() as tx:
        stored = tx.add_reservation(FULL_RES)
        tx.add_block(FULL_BLOCK)
        tx.put_node_status(FULL_STATUS)
        tx.set_value("tick", {"n": 1})
    doc = json.loads((state / "igor.json").read_text())
    meta = doc["meta"]["1"]
    assert (meta["schema_version"], meta["next_id"], meta["next_block_id"]) == (SCHEMA_VERSION, 2, 2)
    assert doc["reservations"] == {"1": reservation_to_record(stored)}
    assert doc["blocks"] == {"1": block_to_record(dataclasses.replace(FULL_BLOCK, id=1))}
    assert doc["nodes"] == {"1": node_status_to_record(FULL_STATUS)}
    assert doc["kv"] == {"1": {"key": "tick", "value": {"n": 1}}}


def test_ids_are_never_reused_across_store_instances(state: Path) -> None:
    with TinyStore(state).transaction() as tx:
        tx.add_reservation(res("a"))
        tx.add_reservation(res("b"))
        tx.add_block(block())
    with TinyStore(state).transaction() as tx:
        tx.remove_reservation(2)
        tx.remove_block(1)
    with TinyStore(state).transaction() as tx:
        assert tx.add_reservation(res("c")).id == 3
        assert tx.add_block(block()).id == 2
    assert [r.name for r in TinyStore(state).snapshot().reservations] == ["a", "c"]


def test_ids_stay_above_records_present_even_if_the_counter_lags(state: Path) -> None:
    """A hand-repaired or imported document may carry ids beyond next_id; they must not be overwritten."""
    state.mkdir()
    record = reservation_to_record(res("imported", id=10))
    doc = {
        "meta": {"1": {"schema_version": 1, "next_id": 3, "next_block_id": 1}},
        "reservations": {"10": record},
    }
    (state / "igor.json").write_text(json.dumps(doc))
    with TinyStore(state).transaction() as tx:
        assert tx.add_reservation(res("new")).id == 11
    assert [r.name for r in TinyStore(state).snapshot().reservations] == ["imported", "new"]


def test_missing_directory_or_file_is_an_empty_store(state: Path) -> None:
    assert TinyStore(state).snapshot().reservations == ()
    assert not state.exists()  # readers never create anything
    state.mkdir()
    assert TinyStore(state).snapshot().reservations == ()


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "the file is empty"), (b" \n\t\r\n", "the file holds only whitespace")],
    ids=["zero-length", "whitespace"],
)
def test_an_empty_file_is_corrupt_never_a_new_store(state: Path, content: bytes, why: str) -> None:
    """A truncated store (a full disk, a bad restore, `> igor.json`) used to read as a brand-new store:
    the next booking then wrote a one-reservation document over it and every other booking was gone."""
    state.mkdir()
    path = state / "igor.json"
    path.write_bytes(content)
    store = TinyStore(state)
    with pytest.raises(StoreError) as caught:
        store.snapshot()
    assert str(caught.value) == (
        f"the igor store {path} is corrupt ({why}); igor will not start over from an empty store: "
        "restore the file from a backup or move it aside"
    )
    with pytest.raises(StoreError, match="corrupt"), store.transaction() as tx:
        tx.add_reservation(res())
    assert path.read_bytes() == content
    assert sorted(p.name for p in state.iterdir()) == ["igor.json", "igor.lock"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"reservations": {"1": {"name": "x"', "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"reservations": []}', "table 'reservations' is not a JSON object"),
        (b'{"reservations": {"1": 5}}', "holds a record that is not a JSON object"),
        (b'{"reservations": {"1": {"name": "x"}}}', "reservation 1"),
        (b'{"nodes": {"1": {"name": "kn1", "state": "sideways"}}}', "node status 1"),
        (b'{"meta": {"1": {"schema_version": "one"}}}', "schema_version"),
        (b'{"meta": {"1": []}}', "meta record"),
        (b'{"meta": []}', "meta record"),
    ],
)
def test_a_corrupt_document_is_an_error_never_an_empty_store(state: Path, content: bytes, why: str) -> None:
    state.mkdir()
    path = state / "igor.json"
    path.write_bytes(content)
    store = TinyStore(state)
    with pytest.raises(StoreError, match="corrupt") as caught:
        store.snapshot()
    assert str(path) in str(caught.value) and why in str(caught.value)
    with pytest.raises(StoreError, match="corrupt"), store.transaction() as tx:
        tx.add_reservation(res())
        # records are checked when a transaction reads them
        tx.reservations()
        tx.blocks()
        tx.node_status()
    assert path.read_bytes() == content


def test_a_newer_schema_is_refused(state: Path) -> None:
    state.mkdir()
    path = state / "igor.json"
    newer = {"meta": {"1": {"schema_version": SCHEMA_VERSION + 1, "next_id": 1}}, "reservations": []}
    content = json.dumps(newer).encode()  # whatever else a newer igor changed, the advice is to upgrade
    path.write_bytes(content)
    expected = f"{path} was written by a newer igor (schema {SCHEMA_VERSION + 1}); upgrade igor"
    with pytest.raises(StoreError) as caught:
        TinyStore(state).snapshot()
    assert str(caught.value) == expected
    with pytest.raises(StoreError, match="newer igor"), TinyStore(state).transaction():
        pass
    assert path.read_bytes() == content


def test_rollback_leaves_the_file_untouched_and_no_temp_file(state: Path) -> None:
    store = TinyStore(state)
    with store.transaction() as tx:
        tx.add_reservation(res("kept"))
    path = state / "igor.json"
    content, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(KeyError), store.transaction() as tx:
        tx.add_reservation(res("lost"))
        raise KeyError("boom")
    assert path.read_bytes() == content and path.stat().st_mtime_ns == mtime
    assert temp_files(state) == []


def test_a_failed_write_leaves_the_old_document_and_no_temp_file(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TinyStore(state)
    with store.transaction() as tx:
        tx.add_reservation(res("kept"))
    content = (state / "igor.json").read_bytes()

    def no_space(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with (
        pytest.raises(StoreError, match=r"cannot write the igor store .*No space left"),
        store.transaction() as tx,
    ):
        tx.add_reservation(res("lost"))
    assert (state / "igor.json").read_bytes() == content
    assert temp_files(state) == []


def test_modes_of_directory_and_document(state: Path, locking: str) -> None:
    old_umask = os.umask(0o077)  # even a private umask must leave the store readable for the TUI
    try:
        with TinyStore(state).transaction() as tx:
            tx.add_reservation(res())
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(state.stat().st_mode) == 0o755
    assert stat.S_IMODE((state / "igor.json").stat().st_mode) == 0o644
    assert (state / "igor.lock").exists()


def test_the_lock_file_is_never_replaced_and_the_document_always_is(state: Path, locking: str) -> None:
    store = TinyStore(state)
    with store.transaction() as tx:
        tx.add_reservation(res())
    lock_inode = (state / "igor.lock").stat().st_ino
    doc_inode = (state / "igor.json").stat().st_ino
    with store.transaction() as tx:
        tx.add_reservation(res())
    assert (state / "igor.lock").stat().st_ino == lock_inode
    assert (state / "igor.json").stat().st_ino != doc_inode


@pytest.fixture(params=LOCKINGS)
def locking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How TinyStores in this test lock: flock on POSIX, portalocker elsewhere; both must work."""
    monkeypatch.setattr(locks, "LOCKING", request.param)
    return str(request.param)


@contextmanager
def lock_held_elsewhere(lock_path: str, how: str = "portalocker") -> Iterator[None]:
    """Hold igor.lock the way another igor process would (portalocker or a bare flock), from another
    thread: flock locks belong to open files, so they exclude each other within one process too."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        if how == "portalocker":
            with portalocker.Lock(lock_path, mode="a", timeout=5):
                locked.set()
                release.wait(10)
            return
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            locked.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(5)
        yield
    finally:
        release.set()
        thread.join(10)


@pytest.mark.parametrize("holder", LOCKINGS)
def test_lock_timeout_names_the_lock_file(state: Path, locking: str, holder: str) -> None:
    """Each lock implementation waits for the other: processes of either kind exclude each other."""
    store = TinyStore(state, lock_timeout=0.2)
    with store.transaction() as tx:
        tx.add_reservation(res("committed"))
    with lock_held_elsewhere(store.lock_path, holder):
        started = time.monotonic()
        with pytest.raises(StoreError) as caught, store.transaction():
            pass
        elapsed = time.monotonic() - started
        assert str(caught.value) == (
            f"the igor store is busy: another igor process has held {state / 'igor.lock'} "
            "for more than 0.2s; try again"
        )
        assert 0.2 <= elapsed < 2.0
        # readers take no lock
        assert [r.name for r in store.snapshot().reservations] == ["committed"]
    with store.transaction() as tx:
        tx.add_reservation(res("after"))


def test_the_default_lock_timeout_is_ten_seconds() -> None:
    assert TinyStore("/nonexistent/state").lock_timeout == 10.0
    assert MemoryStore().lock_timeout == 10.0


def test_leftover_temp_files_are_removed_by_writers_whatever_their_age(state: Path) -> None:
    """A writer makes its temp file only while holding the store lock, so whoever holds the lock knows
    every temp file it sees is a dead writer's: no age rule needed (a fresh one goes too)."""
    store = TinyStore(state)
    with store.transaction() as tx:
        tx.add_reservation(res())
    stale, fresh, other = state / ".igor.json.dead1", state / ".igor.json.live2", state / "notes.txt"
    for path in (stale, fresh, other):
        path.write_text("x")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    os.utime(other, (two_hours_ago, two_hours_ago))
    TinyStore(state).snapshot()
    with store.transaction() as tx:
        tx.reservations()  # read-only: writes nothing, cleans nothing
    assert stale.exists()
    with store.transaction() as tx:
        tx.add_reservation(res())
    assert not stale.exists() and not fresh.exists() and other.exists()
    fresh.write_text("x")
    assert store.sweep_leftovers() == [fresh.name]  # what igor-tick calls each run, without a commit
    assert not fresh.exists() and other.exists()


def test_a_foreign_document_layout_is_read_and_rewritten_canonically(state: Path) -> None:
    """A pretty-printed or hand-edited document carries no valid digest: every record is encoded afresh."""
    state.mkdir()
    records = {str(i): reservation_to_record(res(f"r{i}", id=i)) for i in (1, 2, 3)}
    doc = {"meta": {"1": {"schema_version": 1, "next_id": 4, "next_block_id": 1}}, "reservations": records}
    (state / "igor.json").write_text(json.dumps(doc, indent=2))
    with TinyStore(state).transaction() as tx:
        tx.put_reservation(dataclasses.replace(tx.reservations()[1], error="edited"))
    payload = (state / "igor.json").read_bytes()
    assert payload == store_document._serialize(json.loads(payload))
    assert [r.error for r in TinyStore(state).snapshot().reservations] == ["", "edited", ""]


def test_a_document_of_the_digest_era_is_read_and_its_digest_dropped(state: Path) -> None:
    """Documents written before orjson carried one record per line and a self-digest in meta."""
    state.mkdir()
    record = json.dumps(reservation_to_record(res("old", id=1)), separators=(",", ":"))
    meta = '{"schema_version":1,"next_id":2,"next_block_id":1,"digest":"' + "0" * 64 + '"}'
    (state / "igor.json").write_text(f'{{\n"reservations":{{\n"1":{record}\n}},\n"meta":{{"1":{meta}}}\n}}\n')
    store = TinyStore(state)
    assert [r.name for r in store.snapshot().reservations] == ["old"]
    with store.transaction() as tx:
        tx.add_reservation(res("new"))
    doc = json.loads((state / "igor.json").read_text())
    assert doc["meta"]["1"] == {"schema_version": 1, "next_id": 3, "next_block_id": 1}
    assert [r.name for r in store.snapshot().reservations] == ["old", "new"]


def test_stored_records_leave_out_default_fields_and_read_back_whole(state: Path) -> None:
    """The document holds only the fields that differ from the model's defaults (a smaller document parses
    much faster); reading restores the defaults, and a field back at its default leaves the record."""
    store = TinyStore(state)
    with store.transaction() as tx:
        plain = tx.add_reservation(res("plain", revision=1, installed=False))
        full = tx.add_reservation(FULL_RES)
    records = json.loads((state / "igor.json").read_text())["reservations"]
    assert set(records[str(plain.id)]) == {"id", "name", "owner", "start", "end", "nodes"}
    assert records[str(full.id)] == reservation_to_record(full)  # nothing default: every field
    assert store.snapshot().reservations == (plain, full)
    cleared = dataclasses.replace(full, error="", installed=False, vlan=None, revision=1)
    with store.transaction() as tx:
        tx.put_reservation(cleared)
    record = json.loads((state / "igor.json").read_text())["reservations"][str(full.id)]
    assert not {"error", "installed", "vlan", "revision"} & set(record)
    assert TinyStore(state).snapshot().reservations == (plain, cleared)


def test_defaults_of_another_json_type_are_kept(state: Path) -> None:
    """Only a default of the same JSON type is left out: 1 is not true, 0 is not false."""
    record = store_codec._stored_record(res(revision=1, extensions=0, installed=False))
    assert "revision" not in record and "extensions" not in record and "installed" not in record
    record = store_codec._stored_record(res(revision=2, extensions=1, installed=True, vlan=0))
    assert (record["revision"], record["extensions"], record["installed"], record["vlan"]) == (2, 1, True, 0)


def test_tinydb_itself_reads_the_document(state: Path) -> None:
    from tinydb import TinyDB

    with TinyStore(state).transaction() as tx:
        stored = tx.add_reservation(FULL_RES)
        tx.set_value("tick", {"n": 1})
    with TinyDB(state / "igor.json", access_mode="r") as db:
        assert [dict(d) for d in db.table("reservations").all()] == [reservation_to_record(stored)]
        assert db.table("meta").get(doc_id=1)["schema_version"] == SCHEMA_VERSION


def test_what_orjson_refuses_is_written_and_read_by_json(state: Path) -> None:
    """A path from undecodable argv bytes holds a lone surrogate: orjson cannot encode or decode it, so such
    documents go through json both ways, as before, and a hand-edited NaN still reads."""
    store = TinyStore(state)
    odd = res("odd", kernel="/home/bob/\udcffvmlinuz")
    with store.transaction() as tx:
        stored = tx.add_reservation(odd)
    assert b"\\udcff" in (state / "igor.json").read_bytes()
    assert store.snapshot().reservations == (stored,)
    with store.transaction() as tx:
        assert tx.reservations() == [stored]
        tx.add_reservation(res("plain"))
    assert [r.kernel for r in TinyStore(state).snapshot().reservations] == [odd.kernel, ""]
    (state / "igor.json").write_bytes(b'{"kv": {"1": {"key": "x", "value": NaN}}}')
    with store.transaction() as tx:
        assert math.isnan(tx.get_value("x"))
    with pytest.raises(TypeError), store.transaction() as tx:
        tx.set_value("big", 2**64)  # orjson would read it back as a float


def test_snapshot_rereads_a_changed_document(state: Path) -> None:
    reader, writer = TinyStore(state), TinyStore(state)
    assert reader.snapshot().reservations == ()
    with writer.transaction() as tx:
        tx.add_reservation(res("a"))
    first = reader.snapshot()
    assert [r.name for r in first.reservations] == ["a"]
    assert reader.snapshot() is first  # unchanged bytes: the same immutable snapshot
    with writer.transaction() as tx:
        tx.add_reservation(res("b"))
    assert [r.name for r in reader.snapshot().reservations] == ["a", "b"]
