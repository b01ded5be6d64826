"""The snapshot cache beside the document (igor_tui/store/cache.py): used only for exactly the document it
was made from, by its owner, and never a reason to read something other than what the document says."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_store import FULL_RES

from igor_tui import locks
from igor_tui.model import Block, NodeState, NodeStatus, Reservation
from igor_tui.store import MemoryStore, TinyStore, codec
from igor_tui.store import document as store_document
from igor_tui.store.files import CACHE_NAME

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def res(name: str, **changes: Any) -> Reservation:
    base = Reservation(id=0, name=name, owner="bob", start=T0, end=T0 + timedelta(hours=1), nodes=("kn1",))
    return dataclasses.replace(base, **changes)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the documents parsed from now on (every parse goes through this function)."""
    seen: list[int] = []
    parse = store_document._parse_document

    def counting(payload: bytes, label: str) -> dict[str, dict[str, Any]]:
        seen.append(len(payload))
        return parse(payload, label)

    monkeypatch.setattr(store_document, "_parse_document", counting)
    return seen


def filled(state: Path) -> TinyStore:
    store = TinyStore(state)
    with store.transaction() as tx:
        tx.add_reservations([res(f"r{i}", nodes=(f"kn{i}", f"kn{i + 1}")) for i in range(5)])
        tx.add_block(Block(id=0, nodes=("kn9",), start=T0, end=None, reason="disk"))
        tx.put_node_status(NodeStatus(name="kn3", state=NodeState.DOWN, checked=T0, detail="no ping"))
        tx.set_value("tick", {"n": 1})
    return store


def filled_counted(state: Path, parses: list[int]) -> TinyStore:
    """`filled`, then counting from zero (making the store parsed its empty document)."""
    store = filled(state)
    parses.clear()
    return store


@pytest.fixture
def state(tmp_path: Path, parses: list[int]) -> Path:
    """A filled store's directory, its cache written, parses counted from zero."""
    filled_counted(tmp_path / "state", parses)
    return tmp_path / "state"


def parsed(state: Path) -> tuple[Any, ...]:
    """What the document itself says, read without any cache."""
    snap = store_document._snapshot(json.loads((state / "igor.json").read_bytes()), "test")
    return snap.reservations, snap.blocks, dict(snap.nodes)


def seen(store: TinyStore) -> tuple[Any, ...]:
    snap = store.snapshot()
    return snap.reservations, snap.blocks, dict(snap.nodes)


def test_a_write_leaves_a_cache_that_the_next_reader_uses_instead_of_parsing(
    state: Path, parses: list[int]
) -> None:
    cache = state / CACHE_NAME
    assert cache.is_file() and cache.stat().st_mode & 0o777 == 0o644
    expected = parsed(state)
    assert seen(TinyStore(state)) == expected
    assert parses == []
    assert [r.nodes for r in expected[0]] == [(f"kn{i}", f"kn{i + 1}") for i in range(5)]


def test_a_transaction_after_a_cached_snapshot_keeps_its_reservations_and_writes_a_fresh_cache(
    state: Path, parses: list[int]
) -> None:
    store = TinyStore(state)
    snap = store.snapshot()
    with store.transaction() as tx:
        assert tx.reservations()[0] is snap.reservations[0]  # not converted again
        tx.remove_reservation(2)
        tx.put_reservation(dataclasses.replace(tx.reservations()[0], error="edited"))
        tx.add_reservation(res("late"))
    assert len(parses) == 1  # the transaction parsed the JSON for TinyDB; the snapshot parsed nothing
    assert seen(TinyStore(state)) == parsed(state)
    assert [(r.id, r.name, r.error) for r in TinyStore(state).snapshot().reservations] == [
        (1, "r0", "edited"),
        (3, "r2", ""),
        (4, "r3", ""),
        (5, "r4", ""),
        (6, "late", ""),
    ]
    assert len(parses) == 1


def test_a_restored_reservation_is_cached_in_id_order(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = filled(state)
    with store.transaction() as tx:
        gone = tx.archive_reservation(2, why="ended", by="test", when=T0)
    assert gone is not None
    store.snapshot()  # from the cache: the next write patches its columns
    with store.transaction() as tx:
        tx.restore_reservation(gone)
    assert [r.id for r in TinyStore(state).snapshot().reservations] == [1, 2, 3, 4, 5]
    assert seen(TinyStore(state)) == parsed(state)


def test_a_cache_of_another_document_is_never_used(state: Path, parses: list[int]) -> None:
    """A hand edit, a restore from backup, an older igor's write: none updates the cache, and the
    document wins, even when it has the old one's size and mtime."""
    doc = state / "igor.json"
    before = doc.stat()
    text = doc.read_bytes().replace(b'"name":"r1"', b'"name":"x1"')
    doc.write_bytes(text)  # in place: the same inode and size
    os.utime(doc, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert doc.stat().st_size == before.st_size and doc.stat().st_ino == before.st_ino
    names = [r.name for r in TinyStore(state).snapshot().reservations]
    assert names == ["r0", "x1", "r2", "r3", "r4"]
    assert len(parses) == 1


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "group-writable"])
def test_a_damaged_or_untrusted_cache_is_ignored(state: Path, parses: list[int], damage: str) -> None:
    cache = state / CACHE_NAME
    blob = bytearray(cache.read_bytes())
    if damage == "flip":
        blob[-20] ^= 0x55
        cache.write_bytes(bytes(blob))
    elif damage == "truncate":
        cache.write_bytes(bytes(blob[: len(blob) // 2]))
    elif damage == "garbage":
        cache.write_bytes(os.urandom(len(blob)))
    elif damage == "empty":
        cache.write_bytes(b"")
    else:
        cache.chmod(0o664)
    assert seen(TinyStore(state)) == parsed(state)
    assert len(parses) == 1


def test_a_cache_owned_by_someone_else_is_ignored(state: Path, parses: list[int]) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(state / CACHE_NAME, 4242, 4242)
    assert seen(TinyStore(state)) == parsed(state)
    assert len(parses) == 1


def test_a_reader_that_owns_the_store_rebuilds_a_missing_cache_unless_a_writer_holds_the_lock(
    state: Path, parses: list[int]
) -> None:
    cache = state / CACHE_NAME
    cache.unlink()
    with locks.hold(str(state / "igor.lock")):  # a writer is busy: the reader leaves the cache to it
        assert seen(TinyStore(state)) == parsed(state)
    assert not cache.exists() and len(parses) == 1
    assert seen(TinyStore(state)) == parsed(state)  # parses, and keeps what it decoded
    assert cache.is_file() and len(parses) == 2
    assert seen(TinyStore(state)) == parsed(state)
    assert len(parses) == 2


def test_a_failed_write_leaves_no_cache_of_the_old_document_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    store = filled(state)
    monkeypatch.setattr(TinyStore, "_write_payload", lambda self, payload: (_ for _ in ()).throw(OSError))
    with pytest.raises(OSError), store.transaction() as tx:
        tx.add_reservation(res("never"))
    assert not (state / CACHE_NAME).exists()
    assert seen(TinyStore(state)) == parsed(state)


def test_plain_columns_round_trip_every_field_and_time_zone() -> None:
    utc_plus_2 = timezone(timedelta(hours=2))
    full = dataclasses.replace(FULL_RES, end=datetime(2026, 3, 2, 13, 0, tzinfo=utc_plus_2))  # stored as UTC
    rows = [full, res("plain", vlan=None)]
    back = codec.reservations_from_plain(codec.reservations_to_plain(rows))
    assert back == tuple(rows)
    assert back[0].end.tzinfo is UTC
    assert codec.reservations_from_plain(codec.reservations_to_plain([])) == ()
    with pytest.raises(ValueError, match="naive"):
        codec.reservations_to_plain([res("naive", start=datetime(2026, 1, 1))])  # noqa: DTZ001


def test_a_write_from_the_cache_copies_the_untouched_records_and_writes_what_json_would(
    tmp_path: Path, parses: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the first write of a big document on, writers record where each record lies; the next
    transaction parses the document without its reservations and copies the untouched ones' bytes."""
    monkeypatch.setattr(store_document, "ORJSON_FROM_RECORDS", 0)  # every document counts as big
    state = tmp_path / "state"
    store = filled_counted(state, parses)
    doc = state / "igor.json"
    for step in range(4):
        store = TinyStore(state)
        with store.transaction() as tx:
            first = tx.reservations()[0]
            tx.put_reservation(dataclasses.replace(first, error=f"step {step} \u00e9"))
            tx.add_reservation(res(f"new{step}", nodes=("kn7",)))
            if step == 1:
                gone = tx.archive_reservation(3, why="ended", by="test", when=T0)
            if step == 2:
                assert gone is not None
                tx.restore_reservation(gone)  # back under its own id, last in the table
            tx.set_value("tick", {"n": step})
        payload = doc.read_bytes()
        assert payload == store_document._serialize(json.loads(payload))
        assert seen(TinyStore(state)) == parsed(state)
        assert max(parses) < len(payload) // 2, "the reservations were not parsed"
    names = [r.name for r in TinyStore(state).snapshot().reservations]
    assert names == ["r0", "r1", "r2", "r3", "r4", "new0", "new1", "new2", "new3"]
    assert TinyStore(state).snapshot().reservations[0].error == "step 3 \u00e9"


def test_spans_that_do_not_fit_the_document_are_not_trusted(tmp_path: Path) -> None:
    from igor_tui.store import spliced

    payload = b'{"meta":{},"reservations":{"1":{"name":"a"}}}\n'
    assert spliced.parse_without_reservations(payload, (3, 9, ("1",), (30,), (42,)), "test") is None
    text, spans = spliced.serialize(json.loads(payload), None)
    assert text == payload and spans is not None
    parsed_back = spliced.parse_without_reservations(payload, spans, "test")
    assert parsed_back is not None and list(parsed_back["reservations"]) == ["1"]
    assert spliced.serialize(parsed_back, (payload, spans)) == (payload, spans)
    assert spliced.serialize({}, None) == (b"{}\n", None)
    empty: dict[str, dict[str, Any]] = {"reservations": {}}
    assert spliced.serialize(empty, None)[0] == store_document._serialize(empty)


def test_spliced_writes_match_a_whole_encoding_whatever_changes(tmp_path: Path) -> None:
    """Random edits, removals, restores and additions, 30 writes: each document is exactly what encoding
    its parse writes, and the spans it leaves point at each record's value."""
    from igor_tui.store import spliced

    rng = random.Random(14)
    data: dict[str, dict[str, Any]] = {
        "meta": {"1": {"next_id": 1}},
        "reservations": {str(i): {"name": f"r{i}"} for i in range(1, 40)},
    }
    payload, spans = spliced.serialize(data, None)
    next_id = 40
    for _ in range(30):
        assert spans is not None
        again = spliced.parse_without_reservations(payload, spans, "test")
        assert again is not None
        table = again["reservations"]
        for _ in range(rng.randrange(4)):
            action, keys = rng.choice(["put", "remove", "add", "restore"]), list(table)
            if action == "put" and keys:
                key = rng.choice(keys)
                table[key].clear()
                table[key].update({"name": f"edited{rng.randrange(100)}", "é": [1, None]})
            elif action == "remove" and keys:
                del table[rng.choice(keys)]
            else:  # added, or put back under an old id: either way last in the table
                key = str(next_id if action == "add" else rng.randrange(1, next_id))
                next_id += action == "add"
                table.pop(key, None)
                table[key] = {"name": f"new{key}"}
        payload, spans = spliced.serialize(again, (payload, spans))
        assert payload == store_document._serialize(json.loads(payload))
        assert spans is not None
        records = json.loads(payload)["reservations"]
        assert list(records) == list(spans[2])
        for key, begin, end in zip(spans[2], spans[3], spans[4], strict=True):
            assert json.loads(payload[begin:end]) == records[key]


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(1, 60), max_size=30),
    st.sets(st.integers(1, 70), max_size=12),
    st.sets(st.integers(1, 70), max_size=12),
)
def test_patching_the_columns_is_converting_the_result(
    before: set[int], replaced_or_added: set[int], removed: set[int]
) -> None:
    """A write patches the cached columns with what it changed (additions, replacements, removals, in
    any order of ids) instead of converting every reservation again; the result must be the columns of
    the reservations the write left, exactly."""
    old = {i: res(f"r{i}", id=i) for i in sorted(before)}
    current = dict(old)
    for i in removed:
        current.pop(i, None)
    for i in replaced_or_added - removed:
        current[i] = res(f"new{i}", id=i, revision=2)
    changed = (replaced_or_added | removed) & (set(old) | set(current))
    columns = codec.reservations_to_plain(old.values())
    patched = codec.patch_plain(columns, changed, current)
    assert patched == codec.reservations_to_plain(current[i] for i in sorted(current))
    if changed:  # (nothing changed: the columns are returned as they are)
        unsorted = codec.reservations_to_plain(reversed(old.values()))  # not the cache's order: by rows
        assert codec.patch_plain(unsorted, changed, current) == patched


# ------------------------------------------------------------- igor-tick's subset (cache.Rows)


def timeline(state: Path) -> TinyStore:
    """Eight reservations, one an hour from T0 - 2 h (so two ended, one running, five to come), three
    kernels among them; its cache written by the last transaction."""
    store = TinyStore(state)
    with store.transaction() as tx:
        tx.add_reservations(
            [
                res(
                    f"t{i}",
                    start=T0 + timedelta(hours=i - 2),
                    end=T0 + timedelta(hours=i - 1),
                    kernel_hash=f"{i % 3}" * 64,
                    initrd_hash="" if i % 2 else "f" * 64,
                )
                for i in range(8)
            ]
        )
    return store


@pytest.mark.parametrize("minutes", [-180, -120, -61, 0, 30, 60, 400])
def test_the_tick_subset_is_what_it_plans_over_and_only_it_is_built(
    tmp_path: Path, cache_builds: list[int], minutes: int
) -> None:
    """Begun or ended by then, or holding an install record (id 8 here): the same list as filtering
    all of them, from a transaction over the cache that builds nothing else."""
    timeline(tmp_path / "state")
    when = T0 + timedelta(minutes=minutes)
    cache_builds.clear()
    with TinyStore(tmp_path / "state").transaction() as tx:
        subset = tx.reservations_started_by(when, {8})
        hashes = tx.content_hashes()
        assert cache_builds == [
            len(subset)
        ]  # only the subset was cache_builds, and the hashes needed no building
        every = tx.reservations()
    assert cache_builds == [len(subset), 8]
    assert subset == [r for r in every if r.start <= when or r.end <= when or r.id == 8]
    assert [r.id for r in subset] == sorted(r.id for r in subset)
    assert hashes == {"0" * 64, "1" * 64, "2" * 64, "f" * 64}
    memory = MemoryStore()
    with memory.transaction() as tx:
        tx.add_reservations([dataclasses.replace(r, id=0) for r in every])
        assert tx.reservations_started_by(when, {8}) == subset
        assert tx.content_hashes() == hashes


def test_the_tick_subset_sees_the_transaction_s_own_changes_and_its_writes_cache_them(
    tmp_path: Path, cache_builds: list[int]
) -> None:
    timeline(tmp_path / "state")
    store = TinyStore(tmp_path / "state")
    with store.transaction() as tx:
        assert [r.id for r in tx.reservations_started_by(T0, ())] == [1, 2, 3]
        tx.set_value("tick", {"n": 2})  # a write that changes no reservation: the columns are kept
    with store.transaction() as tx:
        first = tx.reservations_started_by(T0, ())[0]
        tx.put_reservation(
            dataclasses.replace(first, start=T0 + timedelta(hours=9), end=T0 + timedelta(hours=10))
        )
        tx.remove_reservation(2)
        assert [r.id for r in tx.reservations_started_by(T0, ())] == [3]
        assert tx.content_hashes() == {"0" * 64, "1" * 64, "2" * 64, "f" * 64}
    assert seen(TinyStore(tmp_path / "state")) == parsed(tmp_path / "state")
    assert [r.id for r in TinyStore(tmp_path / "state").snapshot().reservations] == [1, 3, 4, 5, 6, 7, 8]
    cache_builds.clear()
    with TinyStore(tmp_path / "state").transaction() as tx:
        assert [r.id for r in tx.reservations_started_by(T0, ())] == [3]
    assert cache_builds == [1]  # from the cache the write left, patched with the changes


def test_a_few_changes_over_the_cache_build_only_what_they_read_and_patch_the_cache(
    tmp_path: Path, cache_builds: list[int]
) -> None:
    """Issue 14: `igor del` and igor-tick change one reservation or a few of thousands; a transaction
    over the snapshot cache builds only those it reads, answers from its own changes after them, and
    the cache it leaves is patched with them (equal to the document's)."""
    timeline(tmp_path / "state")
    store = TinyStore(tmp_path / "state")
    cache_builds.clear()
    with store.transaction() as tx:
        (named,) = tx.reservations_named("t5")
        assert named.id == 6
        assert tx.archive_reservation(6, why="deleted", by="bob", when=T0) == named
        moved = dataclasses.replace(tx.reservation(7) or named, desc="moved", kernel_hash="9" * 64)
        tx.put_reservation(moved)
        assert (tx.reservation(6), tx.reservations_named("t5"), tx.reservation(7)) == (None, [], moved)
        assert tx.reservations_named("t6") == [moved]
        assert cache_builds == [1, 1]  # t5 and t6, one at a time: nothing else
        assert [r.id for r in tx.reservations_started_by(T0 + timedelta(hours=5), {8})] == [
            1,
            2,
            3,
            4,
            5,
            7,
            8,
        ]
        assert tx.content_hashes() == {"0" * 64, "1" * 64, "2" * 64, "9" * 64, "f" * 64}
    assert seen(TinyStore(tmp_path / "state")) == parsed(tmp_path / "state")
    assert [r.id for r in parsed(tmp_path / "state")[0]] == [1, 2, 3, 4, 5, 7, 8]
    assert [e.reservation.name for e in store.archived()] == ["t5"]
    with TinyStore(tmp_path / "state").transaction() as tx:
        tx.remove_reservation(1)
        tx.put_reservation(dataclasses.replace(tx.reservation(2) or moved, desc="kept"))
        every = tx.reservations()  # built from the cache after lazy changes: it has them
        assert [(r.id, r.desc) for r in every[:2]] == [(2, "kept"), (3, "")]
        assert [r.id for r in every] == [2, 3, 4, 5, 7, 8]
        assert tx.reservations_named("t6") == [moved]  # all built now: the same answers from the map
        assert tx.reservations_named("t5") == []
    assert seen(TinyStore(tmp_path / "state")) == parsed(tmp_path / "state")
    memory = MemoryStore()
    with memory.transaction() as tx:
        tx.add_reservations([dataclasses.replace(r, id=0) for r in every])
        assert [r.name for r in tx.reservations_named("t6")] == ["t6"]
        tx.remove_reservation(5)
        assert tx.reservations_named("t6") == []
