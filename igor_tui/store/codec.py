"""Model values <-> JSON records: the one codec the store, `--json` output, the archive and import share.

The reservation codec is generated from the model's own field list (`values.field_types(Reservation)`):
a field added to `Reservation` is written, read, defaulted and checked without a second list to update.
Its functions are compiled once, as `values` compiles `__init__`, because they run per record:
reading 5,000 reservations calls them 5,000 times, and a loop over the fields inside each call cost about
twice the time of the straight-line code (~20 vs ~10 ms) at that size.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from ..model import Block, NodeState, NodeStatus, Policy, Reservation
from ..typenames import Any
from ..values import MISSING, field_types, from_columns

# ------------------------------------------------------------------------------------------------ times


def _time_out(value: datetime) -> str:
    """Refuse naive datetimes: stored wall-clock times without an offset are ambiguous forever."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; igor stores aware UTC times")
    return value.astimezone(UTC).isoformat()


_TIMES_REMEMBERED = 1 << 15
_times_read: dict[str, datetime] = {}
"""Times already parsed, by their text. Many reservations share a start or an end, and sharing the (immutable)
datetime objects also lets every later hash of one (caches, sets, dicts) be computed once instead of per
copy. Bounded by clearing, for long-running front ends."""


def _time_in(text: str) -> datetime:
    """Accept any ISO 8601 offset (hand-edited documents); a missing offset is read as UTC."""
    value = _times_read.get(text) if isinstance(text, str) else None
    if value is None:
        value = _parse_time(text)
        if len(_times_read) >= _TIMES_REMEMBERED:
            _times_read.clear()
        _times_read[text] = value
    return value


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    zone = value.tzinfo
    if zone is UTC:
        return value
    if zone is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _optional_time_in(text: str | None) -> datetime | None:
    return None if text is None else _time_in(text)


def _optional_time_out(value: datetime | None) -> str | None:
    return None if value is None else _time_out(value)


def _names(value: Any) -> tuple[str, ...]:
    """Node lists must be JSON arrays of strings; a bare string would silently become its characters."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"nodes must be a list of names, not {value!r}")
    names = tuple(value)
    "".join(names)  # raises TypeError for a non-string item, ~5x faster than an isinstance loop
    return names


# ---------------------------------------------------------------------------------------- reservations

_KINDS: dict[str, tuple[str, str, str, str]] = {
    # annotation: (encode, exact-type check, fast decode of a checked value, converting decode); {v} is the
    # value. An empty check means "checked elsewhere": strings are checked all at once by one str.join.
    "int": ("{v}", "type({v}) is int", "{v}", "int({v})"),
    "bool": ("{v}", "type({v}) is bool", "{v}", "bool({v})"),
    "str": ("{v}", "", "{v}", "str({v})"),
    "int | None": ("{v}", "({v} is None or type({v}) is int)", "{v}", "None if {v} is None else int({v})"),
    "datetime": ("_time_out({v})", "", "known({v}) or _time_in({v})", "_time_in({v})"),
    "datetime | None": (
        "_optional_time_out({v})",
        "",
        "None if {v} is None else known({v}) or _time_in({v})",
        "None if {v} is None else _time_in({v})",
    ),
    "tuple[str, ...]": ("list({v})", "", "_names({v})", "_names({v})"),
}
"""How each annotation the model uses is stored and read. A field of any other type makes the import of
this module fail, which is the point: the store must learn about a new type before it can hold one."""

_FIELDS = field_types(Reservation)
_RESERVATION_FIELDS = tuple(_FIELDS)
_POSITIONAL = True
"""The codec is made from the model's own field list, in its order, so positional construction (~40%
cheaper than keywords at 5,000 records) is always right."""

_RECORD_DEFAULTS: dict[str, Any] = {
    name: default.isoformat()
    if isinstance(default, datetime)
    else list(default)
    if isinstance(default, tuple)
    else default
    for name, (_, default) in _FIELDS.items()
    if default is not MISSING
}
"""The model's defaults of the optional fields in their JSON form: the store leaves a field with exactly
this value (and type: `true` is not 1) out of the records it writes, and reading puts it back."""

_NAMESPACE: dict[str, Any] = {
    "_time_out": _time_out,
    "_optional_time_out": _optional_time_out,
    "_time_in": _time_in,
    "_names": _names,
    "_times_read": _times_read,
    "_ALL_FIELDS": operator.itemgetter(*_RESERVATION_FIELDS),
    "_DEFAULTS": _RECORD_DEFAULTS,
}


def _compile(source: str, name: str) -> Callable[..., Any]:
    exec(compile(source, f"<store codec: {name}>", "exec"), _NAMESPACE)
    function: Callable[..., Any] = _NAMESPACE[name]
    return function


def _kind(name: str) -> tuple[str, str, str, str]:
    annotation = _FIELDS[name][0]
    if annotation not in _KINDS:
        raise TypeError(f"the store cannot hold Reservation.{name}: {annotation}")
    return _KINDS[annotation]


def _source_to_record() -> str:
    items = [f"{name!r}: " + _kind(name)[0].format(v=f"res.{name}") for name in _RESERVATION_FIELDS]
    return "def to_record(res):\n    return {" + ", ".join(items) + "}\n"


def _source_exact_values() -> str:
    variables = [f"v_{name}" for name in _RESERVATION_FIELDS]
    checks = [
        c.format(v=v) for name, v in zip(_RESERVATION_FIELDS, variables, strict=True) if (c := _kind(name)[1])
    ]
    strings = [v for name, v in zip(_RESERVATION_FIELDS, variables, strict=True) if _FIELDS[name][0] == "str"]
    values = [_kind(name)[2].format(v=v) for name, v in zip(_RESERVATION_FIELDS, variables, strict=True)]
    return (
        "def exact_values(d):\n"
        f"    ({', '.join(variables)},) = _ALL_FIELDS(d)\n"
        f"    if not ({' and '.join(checks) or 'True'}):\n"
        "        return None\n"
        f"    ''.join(({', '.join(strings)},))\n"
        "    known = _times_read.get\n"
        f"    return ({', '.join(values)},)\n"
    )


def _source_converted_values() -> str:
    """Field by field in the model's order, so a record with several faults fails at the first."""
    lines = []
    for name in _RESERVATION_FIELDS:
        default = _FIELDS[name][1]
        if name == "id":  # the TinyDB key is the id: records need not repeat it
            read = "d.get('id', 0)"
        elif default is MISSING:
            read = f"d[{name!r}]"
        else:
            read = f"d.get({name!r}, _DEFAULTS[{name!r}])"
        lines.append(f"    v_{name} = " + _kind(name)[3].format(v=read) + "\n")
    variables = ", ".join(f"v_{name}" for name in _RESERVATION_FIELDS)
    return "def converted_values(d):\n" + "".join(lines) + f"    return ({variables},)\n"


for _name in _RESERVATION_FIELDS:  # a field the store cannot hold fails at import, as it always did
    _kind(_name)


def _to_record(res: Reservation) -> dict[str, Any]:
    """Compiles the real `to_record` and puts it in this name's place: compiled on first use, like the two
    below, since a command that writes no reservation (or decodes none: the snapshot cache holds them
    converted) would compile it for nothing (~2 M instructions each, issue 14)."""
    function: Callable[[Reservation], dict[str, Any]] = _compile(_source_to_record(), "to_record")
    globals()["_to_record"] = function
    return function(res)


def _exact(d: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Compiles the real `exact_values` and puts it in this name's place (see `_to_record`)."""
    function: Callable[[Mapping[str, Any]], tuple[Any, ...] | None] = _compile(
        _source_exact_values(), "exact_values"
    )
    globals()["_exact"] = function
    return function(d)


def reservation_to_record(res: Reservation) -> dict[str, Any]:
    """The JSON form of a reservation, shared by the store, `--json` output and import."""
    return _to_record(res)


def _stored_record(res: Reservation) -> dict[str, Any]:
    """`reservation_to_record` without the fields that hold their default (no group, no VLAN, not
    installed, revision 1, ...): what the store writes.

    Measured at 5,000 reservations: the document shrinks by ~15% but the JSON parser takes about half the
    time (~16 -> ~8 ms), since every one of those short values was an object to make and a key to look up;
    restoring the defaults costs ~2 ms. Documents with every field (older igors, imports) read the same.
    """
    record = _to_record(res)
    for key, default in _RECORD_DEFAULTS.items():
        value = record[key]
        if value == default and type(value) is type(default):
            del record[key]
    return record


def reservation_from_record(d: Mapping[str, Any]) -> Reservation:
    """Inverse of `reservation_to_record`; optional fields may be missing (older documents, imports, and
    every record the store writes: see `_stored_record`).

    Raises ValueError for a record that cannot be a reservation, so callers choose their own error type.
    """
    try:
        values = _exact(d if len(d) == len(_RESERVATION_FIELDS) else {**_RECORD_DEFAULTS, **d})
    except (KeyError, TypeError, ValueError, AttributeError):
        values = None
    if values is None:
        values = _converted_values(d)
    return Reservation(*values)


def _exact_values(d: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The values of a complete record whose JSON types already are the model's (every record igor writes),
    checked with a few C-level operations instead of a conversion call per field (~20% less time for the
    values of 5,000 records). None, or an exception, for anything else: `_converted_values` then converts
    or rejects it with its own message, so both paths give the same reservation or the same error."""
    return _exact(d)


def _converted_values(d: Mapping[str, Any]) -> tuple[Any, ...]:
    """Every field converted to the model's type, defaults for missing optional ones."""
    converted = _NAMESPACE.get("converted_values")
    if converted is None:  # compiled on first use (~0.7 ms): only records igor did not write need it
        converted = _compile(_source_converted_values(), "converted_values")
    try:
        return converted(d)  # type: ignore[no-any-return]
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"bad reservation record ({type(err).__name__}: {err})") from err


# ------------------------------------------------------------------- reservations as plain columns


def _columns(*annotations: str) -> tuple[int, ...]:
    return tuple(i for i, name in enumerate(_RESERVATION_FIELDS) if _FIELDS[name][0] in annotations)


_TIME_COLUMNS = _columns("datetime", "datetime | None")
_STR_COLUMNS = _columns("str")
_NAMES_COLUMNS = _columns("tuple[str, ...]")
if len(_columns("int", "bool", "int | None")) + len(_TIME_COLUMNS + _STR_COLUMNS + _NAMES_COLUMNS) != len(
    _FIELDS
):  # a type the cache would store without knowing it: fail at import, as _KINDS does
    raise TypeError("the snapshot cache cannot hold every field of Reservation; teach codec.py its type")
_ALL_ATTRS = operator.attrgetter(*_RESERVATION_FIELDS)
PLAIN_FIELDS = _RESERVATION_FIELDS
"""The order of the plain columns; the cache keeps it, so a changed model never misreads one."""


def reservations_to_plain(rows: Iterable[Reservation]) -> tuple[tuple[Any, ...], ...]:
    """Reservations as columns of plain values (what marshal holds: see cache.py), one per field in the
    model's order. By column, so each conversion is one `map` in C rather than a call per value (~4x
    faster at 5,000 rows): times become their stored text (once per distinct time), and equal strings one
    object, which marshal then writes once and loading shares. ValueError for a naive time, as the
    store's encoder."""
    columns = list(zip(*map(_ALL_ATTRS, rows), strict=True)) or [()] * len(_RESERVATION_FIELDS)
    times = set().union(*(columns[i] for i in _TIME_COLUMNS)) - {None}
    utc = [value for value in times if value.tzinfo is UTC]  # igor's own: as _time_out writes them
    texts = dict(zip(utc, map(datetime.isoformat, utc), strict=True))
    texts.update((value, _time_out(value)) for value in times if value.tzinfo is not UTC)
    texts[None] = None
    for i in _TIME_COLUMNS:
        columns[i] = tuple(map(texts.__getitem__, columns[i]))
    same: dict[str, str] = {}
    for i in _STR_COLUMNS:
        columns[i] = tuple(map(same.setdefault, columns[i], columns[i]))
    for i in _NAMES_COLUMNS:
        columns[i] = tuple([tuple(map(same.setdefault, names, names)) for names in columns[i]])
    return tuple(columns)


_ID_COLUMN = _RESERVATION_FIELDS.index("id")


def patch_plain(
    columns: tuple[tuple[Any, ...], ...], changed: set[int], current: Mapping[int, Reservation]
) -> tuple[tuple[Any, ...], ...]:
    """`columns` with the reservations of the `changed` ids replaced by their `current` value (or left
    out: removed), sorted by id: what a write costs instead of converting every reservation again.

    Column by column in slices: the changed ids are found by bisection in the id column, and every
    column is put together from the slices between them and the converted changes, so the cost is a
    few copies in C per column, not a Python step per row (at 5,000 reservations ~0.2 ms instead of
    ~4 ms, ~15 ms at 20,000)."""
    if not changed:
        return columns
    ids = columns[_ID_COLUMN]
    if list(ids) != sorted(ids):  # the cache always holds them sorted; anything else is rebuilt row-wise
        rows = [row for row in zip(*columns, strict=True) if row[_ID_COLUMN] not in changed]
        rows += zip(*reservations_to_plain(current[i] for i in changed if i in current), strict=True)
        rows.sort(key=_BY_ID)
        return tuple(zip(*rows, strict=True)) or tuple(() for _ in _RESERVATION_FIELDS)
    added = sorted(i for i in changed if i in current)
    fresh = reservations_to_plain(current[i] for i in added)
    events = [
        (k, 1, -1)
        for k in map(bisect.bisect_left, itertools.repeat(ids), changed)
        if k < len(ids) and ids[k] in changed
    ]
    events += [(k, 0, j) for j, k in enumerate(map(bisect.bisect_left, itertools.repeat(ids), added))]
    plan: list[tuple[int, int] | int] = []  # old slices [a, b) and indices into `fresh`, in id order
    start = 0
    for position, removal, j in sorted(events):  # at one position: an insert before a removal
        if position > start:
            plan.append((start, position))
            start = position
        if removal:
            start = position + 1
        else:
            plan.append(j)
    plan.append((start, len(ids)))
    patched = []
    for column, new in zip(columns, fresh, strict=True):
        out: list[Any] = []
        for step in plan:
            if isinstance(step, int):
                out.append(new[step])
            else:
                out += column[step[0] : step[1]]
        patched.append(tuple(out))
    return tuple(patched)


_BY_ID = operator.itemgetter(_ID_COLUMN)


def reservations_from_plain(columns: Any) -> tuple[Reservation, ...]:
    """Inverse of `reservations_to_plain`, without the record checks (the caller trusts the columns as
    it trusts the document: see cache.py); a wrong shape raises ValueError or TypeError."""
    columns = list(columns)
    if len(columns) != len(_RESERVATION_FIELDS):
        raise ValueError(f"{len(columns)} columns for {len(_RESERVATION_FIELDS)} fields")
    texts = set().union(*(columns[i] for i in _TIME_COLUMNS)) - {None}
    times: dict[str | None, datetime | None] = dict(
        zip(texts, map(datetime.fromisoformat, texts), strict=True)
    )
    times[None] = None
    for text, value in times.items():  # `to_plain` writes UTC (+00:00: that is the UTC object itself)
        if text is not None and value is not None and value.tzinfo is not UTC:
            times[text] = _time_in(text)
    for i in _TIME_COLUMNS:
        columns[i] = map(times.__getitem__, columns[i])
    return tuple(from_columns(Reservation, columns))


# ------------------------------------------------------------------------------------ blocks and nodes


def block_to_record(block: Block) -> dict[str, Any]:
    """The JSON form of a maintenance block (`end` null = until unblocked)."""
    return {
        "id": block.id,
        "nodes": list(block.nodes),
        "start": _time_out(block.start),
        "end": _optional_time_out(block.end),
        "reason": block.reason,
        "by": block.by,
    }


def block_from_record(d: Mapping[str, Any]) -> Block:
    """Inverse of `block_to_record`; raises ValueError for a record that cannot be a block."""
    try:
        return Block(
            id=int(d.get("id", 0)),
            nodes=_names(d["nodes"]),
            start=_time_in(d["start"]),
            end=_optional_time_in(d.get("end")),
            reason=str(d.get("reason", "")),
            by=str(d.get("by", "")),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"bad block record ({type(err).__name__}: {err})") from err


def policy_to_record(policy: Policy) -> dict[str, Any]:
    """The JSON form of a host policy (`maxtime` in minutes, 0 = no cap; windows as typed)."""
    return {
        "id": policy.id,
        "name": policy.name,
        "nodes": list(policy.nodes),
        "groups": list(policy.groups),
        "maxtime": policy.maxtime,
        "unavailable": list(policy.unavailable),
        "by": policy.by,
    }


def policy_from_record(d: Mapping[str, Any]) -> Policy:
    """Inverse of `policy_to_record`; raises ValueError for a record that cannot be a policy."""
    try:
        maxtime = d.get("maxtime", 0)
        if type(maxtime) is not int or maxtime < 0:
            raise TypeError(f"maxtime must be a whole number of minutes, not {maxtime!r}")
        return Policy(
            id=int(d.get("id", 0)),
            name=str(d["name"]),
            nodes=_names(d.get("nodes", [])),
            groups=_names(d.get("groups", [])),
            maxtime=maxtime,
            unavailable=_names(d.get("unavailable", [])),
            by=str(d.get("by", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"bad policy record ({type(err).__name__}: {err})") from err


def node_status_to_record(status: NodeStatus) -> dict[str, Any]:
    """The JSON form of a liveness observation."""
    return {
        "name": status.name,
        "state": status.state.value,
        "checked": _optional_time_out(status.checked),
        "detail": status.detail,
    }


def node_status_from_record(d: Mapping[str, Any]) -> NodeStatus:
    """Inverse of `node_status_to_record`; raises ValueError for an unknown state or a missing name."""
    try:
        return NodeStatus(
            name=str(d["name"]),
            state=NodeState(d.get("state", NodeState.UNKNOWN.value)),
            checked=_optional_time_in(d.get("checked")),
            detail=str(d.get("detail", "")),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"bad node status record ({type(err).__name__}: {err})") from err
