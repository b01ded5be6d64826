"""One exclusive read-modify-write of the store, through TinyDB's tables and queries.

The transaction runs a TinyDB of its own over a `DocumentStorage` (see storage.py): TinyDB does every
insert, update, upsert, removal and lookup; the storage turns all of them into one read before and one
atomic write after. A TinyDB instance never outlives its transaction (TinyDB caches next ids and tables
per instance, which would be wrong across processes).

Three things deliberately do not go through TinyDB, each for a reason given where it is done:
- listing all reservations reads the raw table (`document.raw_table`, the one raw read), or, when the
  transaction started from the snapshot cache, the cache's converted reservations. Then the TinyDB table
  holds an empty `spliced.RawRecord` per untouched reservation (see spliced.py): a method added here must
  read reservations through `_reservation_map`/`reservation`, never TinyDB's get/search/all on them
  (adding, removing and wholly replacing through TinyDB is what the spliced write expects);
- reading a key/value entry (`get_value`) looks it up in the raw table, as TinyDB's query would: an
  idle igor-tick only reads, and then never imports tinydb;
- reservation and block ids come from counters in the meta record, not from TinyDB's max(id)+1, which
  hands out the id of the newest reservation again once it is removed (`_take_ids`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import operator
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from datetime import datetime

from ..errors import StoreError
from ..model import Block, NodeStatus, Policy, Reservation
from ..typenames import TYPE_CHECKING, Any
from ..values import replace
from .cache import Rows
from .codec import _stored_record, _time_in, block_to_record, node_status_to_record, policy_to_record
from .document import (
    META_ID,
    SCHEMA_VERSION,
    _block_map,
    _gc_paused,
    _json_text,
    _load_nodes,
    _policy_map,
    _reservation_map,
    raw_table,
)
from .storage import DocumentStorage

_HASHES = operator.attrgetter("kernel_hash", "initrd_hash")
_BY_ID = operator.attrgetter("id")

if TYPE_CHECKING:
    from tinydb import TinyDB
    from tinydb.table import Table

    from ..archive import ArchivedReservation


class StoreTransaction:
    """The one Transaction implementation behind both stores, so file and memory semantics cannot drift.

    `storage` has read the document already (under the store's lock); the transaction owns it from now
    on. If the storage took over a snapshot's parse, its converted reservations are used as they are."""

    def __init__(self, storage: DocumentStorage) -> None:
        self._storage = storage
        self._db: TinyDB | None = None
        self._label = storage.label
        self._closed = False
        converted = storage.converted
        self._rows = converted if isinstance(converted, Rows) else None  # built only as asked: see there
        self._built: dict[int, Reservation] | None = (  # converted lazily, kept in step
            None if converted is None or self._rows is not None else {r.id: r for r in converted}
        )
        self._some: dict[int, Reservation] = {}
        """While the cached reservations are not all built (`Rows`): those built one by one, and every one
        added, replaced or restored since, so reads see the changes and the snapshot cache is patched
        with them without building the rest (a removed id is in `_changed` and not here)."""
        self._counters_checked: set[str] = set()
        self._changed: set[int] = set()  # ids of reservations added, replaced or removed (see cache.py)
        self._node_ids: dict[str, int] | None = None
        self.archived: list[ArchivedReservation] = []  # appended to the archive before the commit

    # -- plumbing

    @property
    def _reservations(self) -> dict[int, Reservation] | None:
        """Every reservation by id once converted (None: read from the raw table when first needed).
        Cached columns (`Rows`) are built here, at the first use that needs them all; igor-tick's
        `reservations_started_by` and `content_hashes` read them without building them all."""
        rows = self._unbuilt()
        if rows is not None:
            with _gc_paused():
                built = {r.id: r for r in rows}
            for res_id in self._changed:  # what this transaction changed before it needed them all
                if res_id in self._some:
                    built[res_id] = self._some[res_id]
                else:
                    built.pop(res_id, None)
            self._built, self._some = built, {}
        return self._built

    @_reservations.setter
    def _reservations(self, value: dict[int, Reservation]) -> None:
        self._built = value

    def _unbuilt(self) -> Rows | None:
        """The snapshot cache's columns while they are not all built (read them, then `_mine`), else None."""
        return self._rows if self._built is None else None

    def _mine(self) -> list[Reservation]:
        """What this transaction added, replaced or restored while the rest stayed unbuilt."""
        return [r for res_id, r in self._some.items() if res_id in self._changed]

    def _keep(self, res: Reservation) -> None:
        """Keep the converted reservations in step with `res`, added or replaced."""
        self._changed.add(res.id)
        if self._built is not None:
            self._built[res.id] = res
        elif self._rows is not None:
            self._some[res.id] = res

    def _converted_changes(self) -> Mapping[int, Reservation] | None:
        """After the commit: the current value of every changed reservation still stored, by id (with
        others maybe), for patching the snapshot cache (`codec.patch_plain`); None when unknown."""
        if self._built is not None:
            return self._built
        if self._rows is not None or not self._changed:
            return self._some
        return None

    def _table(self, name: str) -> Table:
        """TinyDB's table `name`; tinydb is imported by the first transaction that needs it (~2 ms)."""
        self._check_open()
        if self._db is None:
            from tinydb import TinyDB

            storage = self._storage
            self._db = TinyDB(storage=lambda: storage)
        return self._db.table(name, cache_size=0)

    def _raw(self, name: str) -> dict[str, Any]:
        """`document.raw_table` (see there for why, with the figure): for all reservations at once and
        for the ids present, never for a single record (TinyDB looks those up)."""
        self._check_open()
        return raw_table(self._storage.data, name)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this store transaction has ended; open a new one")

    @staticmethod
    def _get(table: Table, doc_id: int) -> Mapping[str, Any] | None:
        """TinyDB's lookup by id (typed as maybe a list, which it is only for `doc_ids`)."""
        found = table.get(doc_id=doc_id)
        return None if isinstance(found, list) else found

    def _insert(self, name: str, record: Mapping[str, Any], doc_id: int) -> None:
        from tinydb.table import Document

        self._table(name).insert(Document(record, doc_id=doc_id))

    def _replace(self, name: str, record: Mapping[str, Any], doc_id: int) -> None:
        """Replace the record as a whole: merging would keep a field the new record leaves out because it
        is back to its default (see `_stored_record`)."""

        def replace_all(doc: MutableMapping[str, Any]) -> None:
            doc.clear()
            doc.update(record)

        self._table(name).update(replace_all, doc_ids=[doc_id])

    def _remove(self, name: str, doc_id: int) -> None:
        """Removing nothing writes nothing."""
        table = self._table(name)
        if table.contains(doc_id=doc_id):
            table.remove(doc_ids=[doc_id])

    def _finish(self) -> DocumentStorage:
        """End the transaction: its storage, for the store to commit."""
        self._check_open()
        self._close()
        return self._storage

    def _abort(self) -> None:
        self._close()

    def _close(self) -> None:
        self._closed = True
        if self._db is not None:
            self._db.close()

    def _take_ids(self, counter: str, table: str, count: int = 1) -> range:
        """Ids come from a counter in meta, never from max(id)+1, so removing the newest never reuses it.

        The first use per transaction also lifts the counter above any id present (hand edits, imports)."""
        meta_table = self._table("meta")
        meta = self._get(meta_table, META_ID)
        next_id = int((meta or {}).get(counter, 1))
        if counter not in self._counters_checked:
            self._counters_checked.add(counter)
            ids = self._reservations if table == "reservations" and self._reservations is not None else None
            present = max(ids, default=0) if ids is not None else max(map(int, self._raw(table)), default=0)
            next_id = max(next_id, present + 1)
        if meta is None:
            fresh = {
                "schema_version": SCHEMA_VERSION,
                "next_id": 1,
                "next_block_id": 1,
                counter: next_id + count,
            }
            self._insert("meta", fresh, META_ID)
        else:
            meta_table.update({counter: next_id + count}, doc_ids=[META_ID])
        return range(next_id, next_id + count)

    # -- reservations

    def _reservation_map(self) -> dict[int, Reservation]:
        built = self._reservations
        if built is None:
            with _gc_paused():
                built = self._reservations = _reservation_map(self._raw("reservations"), self._label)
        return built

    def _stored_reservations(self) -> tuple[Reservation, ...]:
        """After the commit: every reservation as written, sorted by id, for the snapshot cache (see
        cache.py). Converted now if the transaction never needed them; StoreError for a bad record."""
        built = self._reservations
        if built is None:
            with _gc_paused():
                built = self._reservations = _reservation_map(
                    raw_table(self._storage.data, "reservations"), self._label
                )
        rows = tuple(built.values())
        if any(a.id > b.id for a, b in itertools.pairwise(rows)):  # a restored reservation went in last
            rows = tuple(sorted(rows, key=lambda r: r.id))
        return rows

    def reservations(self) -> list[Reservation]:
        """All reservations sorted by id (ids only grow, so insertion keeps the order)."""
        return list(self._reservation_map().values())

    def reservations_started_by(self, when: datetime, ids: Collection[int]) -> list[Reservation]:
        """The reservations that start or end at or before `when`, or whose id is in `ids`, sorted by id:
        all igor-tick plans over at `when` (the future ones it holds no install record of need nothing).
        From the snapshot cache only these are built: ~65 of 5,000 in an idle tick, ~7 ms less."""
        self._check_open()
        rows = self._unbuilt()
        if rows is not None:
            found = rows.started_by(when, ids, skip=self._changed)
            mine = self._mine()
            found += [r for r in mine if r.start <= when or r.end <= when or r.id in ids]
            return sorted(found, key=_BY_ID) if mine else found
        return [
            r for r in self._reservation_map().values() if r.start <= when or r.end <= when or r.id in ids
        ]

    def content_hashes(self) -> set[str]:
        """Every kernel and initrd digest a reservation of the store names ("" = none), as the content
        collector needs them, without building the reservations when they come from the cache."""
        self._check_open()
        rows = self._unbuilt()
        if rows is not None:
            used = rows.content_hashes(skip=self._changed)
            used.update(itertools.chain.from_iterable(map(_HASHES, self._mine())))
        else:
            used = set(itertools.chain.from_iterable(map(_HASHES, self._reservation_map().values())))
        used.discard("")
        return used

    def reservations_named(self, name: str) -> list[Reservation]:
        """The reservations called `name`, sorted by id (live names are unique); from the snapshot cache
        only these are built: `igor del` at 5,000 reservations builds one, not 5,000 (~7 ms)."""
        self._check_open()
        rows = self._unbuilt()
        if rows is not None:
            ids = [i for i in rows.ids_named(name) if i not in self._changed]
            ids += [r.id for r in self._mine() if r.name == name]
            return [r for r in map(self.reservation, sorted(ids)) if r is not None]
        return [r for r in self._reservation_map().values() if r.name == name]

    def reservation(self, res_id: int) -> Reservation | None:
        rows = self._unbuilt()
        if rows is not None:
            self._check_open()
            if res_id not in self._some and res_id not in self._changed:
                found = rows.by_id(res_id)
                if found is None:
                    return None
                self._some[res_id] = found
            return self._some.get(res_id)
        if self._reservations is not None:
            self._check_open()
            return self._reservations.get(res_id)
        record = self._get(self._table("reservations"), res_id)
        if record is None:
            return None
        return _reservation_map({str(res_id): record}, self._label)[res_id]

    def add_reservation(self, res: Reservation) -> Reservation:
        """Store `res` under the next id (its own id is ignored) and return it as stored."""
        return self.add_reservations([res])[0]

    def add_reservations(self, many: Sequence[Reservation]) -> list[Reservation]:
        """Store all of `many` under consecutive new ids, in order, and return them as stored; the cost of
        one insert, where adding them one by one rewrites the whole table each time (bulk imports)."""
        if not many:
            self._check_open()
            return []
        from tinydb.table import Document

        ids = self._take_ids("next_id", "reservations", len(many))
        stored = [replace(res, id=res_id) for res, res_id in zip(many, ids, strict=True)]
        self._table("reservations").insert_multiple(Document(_stored_record(r), doc_id=r.id) for r in stored)
        for res in stored:
            self._keep(res)
        return stored

    def put_reservation(self, res: Reservation) -> None:
        """Replace the stored reservation with the same id; a vanished id is a lost race, not a KeyError."""
        if not self._table("reservations").contains(doc_id=res.id):
            raise StoreError(f"reservation {res.id} ({res.name}) is no longer in the store")
        self._replace("reservations", _stored_record(res), res.id)
        self._keep(res)

    def remove_reservation(self, res_id: int) -> None:
        """Idempotent, so a retried cleanup never fails. Ended reservations go through
        `archive_reservation` instead: this is for records that never were a booking."""
        self._remove("reservations", res_id)
        self._changed.add(res_id)
        if self._built is not None:
            self._built.pop(res_id, None)
        self._some.pop(res_id, None)

    def archive_reservation(self, res_id: int, *, why: str, by: str, when: datetime) -> Reservation | None:
        """Take the reservation out of the store into the archive (see archive.py); None if it is gone.

        A note left by `igor del` (the reservation stayed for igor-tick to tear down) supplies why, by
        whom and when instead of the caller's "ended"."""
        from ..archive import ENDINGS_KEY, ArchivedReservation

        res = self.reservation(res_id)
        if res is None:
            return None
        endings = self.get_value(ENDINGS_KEY) or {}
        note = endings.pop(str(res_id), None)
        if note is not None:
            self.set_value(ENDINGS_KEY, endings)
            why, by = str(note.get("why", why)), str(note.get("by", by))
            with contextlib.suppress(TypeError, ValueError):
                when = _time_in(note["at"])
        self.archived.append(ArchivedReservation(reservation=res, archived=when, why=why, by=by))
        self.remove_reservation(res_id)
        return res

    def restore_reservation(self, res: Reservation) -> None:
        """Put an archived reservation back under its own id (ids are never reused, so it is free)."""
        if self._table("reservations").contains(doc_id=res.id):
            raise StoreError(f"reservation {res.id} ({res.name}) is already in the store")
        self._insert("reservations", _stored_record(res), res.id)
        self._keep(res)

    # -- blocks

    def blocks(self) -> list[Block]:
        return list(
            _block_map({str(doc.doc_id): doc for doc in self._table("blocks").all()}, self._label).values()
        )

    def add_block(self, block: Block) -> Block:
        stored = replace(block, id=self._take_ids("next_block_id", "blocks")[0])
        self._insert("blocks", block_to_record(stored), stored.id)
        return stored

    def remove_block(self, block_id: int) -> None:
        self._remove("blocks", block_id)

    # -- host policies

    def policies(self) -> list[Policy]:
        return list(
            _policy_map({str(doc.doc_id): doc for doc in self._table("policies").all()}, self._label).values()
        )

    def put_policy(self, policy: Policy) -> Policy:
        """Store a policy: id 0 adds it under a new id (from its own counter, never reused, as for blocks);
        an existing id replaces that record whole. Returns it as stored."""
        if policy.id == 0:
            stored = replace(policy, id=self._take_ids("next_policy_id", "policies")[0])
            self._insert("policies", policy_to_record(stored), stored.id)
            return stored
        if not self._table("policies").contains(doc_id=policy.id):
            raise StoreError(f"policy {policy.id} ({policy.name}) is no longer in the store")
        self._replace("policies", policy_to_record(policy), policy.id)
        return policy

    def remove_policy(self, policy_id: int) -> None:
        """Idempotent, like remove_block."""
        self._remove("policies", policy_id)

    # -- node health

    def node_status(self) -> dict[str, NodeStatus]:
        return _load_nodes({str(doc.doc_id): doc for doc in self._table("nodes").all()}, self._label)

    def put_node_status(self, status: NodeStatus) -> None:
        """Upsert by node name: one record per node however often igor-tick probes it."""
        self.put_node_statuses((status,))

    def put_node_statuses(self, statuses: Sequence[NodeStatus]) -> None:
        """Upsert many by node name in one TinyDB update: igor-tick records every node (520) each minute.

        TinyDB rebuilds the table on every `update`/`upsert` call, so one call per node cost ~77 ms CPU
        for 520 nodes (best of 5); one `update` over all their ids (its updater refills each record from
        the new status of its name) and one `insert_multiple` for nodes seen for the first time: measured
        below 10 ms. By id, from a name -> id index made once per transaction: a `Query().name == ...`
        upsert scans the table for each node (~260 ms)."""
        table = self._table("nodes")
        if self._node_ids is None:
            self._node_ids = {}
            for doc in table.all():  # the first record of a name wins, as a scan would find it
                self._node_ids.setdefault(str(doc.get("name")), doc.doc_id)
        records = {status.name: node_status_to_record(status) for status in statuses}
        known = [self._node_ids[name] for name in records if name in self._node_ids]
        if known:
            ids = set(known)

            def refill(doc: MutableMapping[str, Any]) -> None:
                record = records[str(doc.get("name"))]
                doc.clear()
                doc.update(record)

            # `doc_ids` picks exactly the indexed records (a duplicate of a name, which the index skips,
            # keeps its old fields, as the per-node upsert by id left it).
            table.update(refill, doc_ids=sorted(ids))
        fresh = [record for name, record in records.items() if name not in self._node_ids]
        if fresh:
            for name, doc_id in zip((r["name"] for r in fresh), table.insert_multiple(fresh), strict=True):
                self._node_ids[str(name)] = doc_id

    # -- key/value area

    def get_value(self, key: str, default: Any = None) -> Any:
        """A copy, so mutating the result cannot leak into the document behind the transaction's back.

        Copied by marshal, which holds exactly the JSON types a value can have (see `set_value`) and
        copies them in C: igor-tick's install records of 5,000 reservations took copy.deepcopy ~15 ms.
        Found in the raw table (the first entry of that key, as TinyDB's `get(Query().key == key)`):
        building TinyDB and its query made tinydb ~5% of an idle tick's instructions at 5,000."""
        import marshal

        self._check_open()
        for record in raw_table(self._storage.data, "kv").values():  # what TinyDB's get(key == key) finds
            if isinstance(record, dict) and record.get("key") == key:
                return marshal.loads(marshal.dumps(record.get("value")))
        return default

    def set_value(self, key: str, value: Any) -> None:
        """Values are stored as JSON gives them back (tuples become lists) in memory and on disk alike;
        non-JSON values fail here rather than at commit."""
        from tinydb import Query

        stored = json.loads(_json_text(value))
        _check_64_bit_integers(stored)
        self._table("kv").upsert({"key": key, "value": stored}, Query().key == key)


_INT_RANGE = range(-(1 << 63), 1 << 64)
"""The integers orjson encodes (i64 and u64); it reads larger ones back as floats."""


def _check_64_bit_integers(value: Any) -> None:
    """TypeError for an integer beyond 64 bits anywhere in a JSON value, as orjson would raise, so a value
    means the same whichever encoder writes the document, without importing orjson (see
    document.ORJSON_FROM_RECORDS)."""
    if type(value) is int:
        if value not in _INT_RANGE:
            raise TypeError(f"integer {value} does not fit in 64 bits")
    elif isinstance(value, dict):
        for item in value.values():
            _check_64_bit_integers(item)
    elif isinstance(value, list):
        for item in value:
            _check_64_bit_integers(item)
