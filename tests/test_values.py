"""igor_tui.values makes the same classes as `@dataclasses.dataclass(frozen=True, ...)`, only faster."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest

import igor_tui
from igor_tui import values

# ------------------------------------------------------------------------------ the same class, twice


def _pair(make: Callable[[Callable[..., Any], Any], type], slots: bool = True) -> tuple[type, type]:
    """The class `make` defines, decorated by igor_tui.values and by the standard library."""
    ours = make(values.dataclass(frozen=True, slots=slots), values.field)
    standard = make(dataclasses.dataclass(frozen=True, slots=slots), dataclasses.field)
    assert ours in values._NAMES, "values left the class to dataclasses"
    return ours, standard


def _full(decorate: Callable[..., Any], field: Any) -> type:
    @decorate
    class Full:
        a: int
        b: str
        c: tuple[str, ...] = ()
        d: int | None = None
        e: frozenset[str] = field(default_factory=frozenset)

        @property
        def total(self) -> int:
            return self.a + len(self.c)

    return Full


def _plain(decorate: Callable[..., Any], field: Any) -> type:
    @decorate
    class Plain:
        x: int
        y: float = 1.5

    return Plain


def _single(decorate: Callable[..., Any], field: Any) -> type:
    @decorate
    class Single:
        """One field: compared and hashed as a 1-tuple."""

        only: float

    return Single


def _empty(decorate: Callable[..., Any], field: Any) -> type:
    @decorate
    class Empty:
        """No fields at all."""

    return Empty


def _checked(decorate: Callable[..., Any], field: Any) -> type:
    @decorate
    class Checked:
        """With __post_init__."""

        low: int
        high: int

        def __post_init__(self) -> None:
            if self.low > self.high:
                raise ValueError("low > high")

    return Checked


def _with_factory(decorate: Callable[..., Any], standard: bool) -> type:
    """`field(default_factory=...)` must be each module's own field()."""
    make_field = dataclasses.field if standard else values.field

    @decorate
    class WithFactory:
        name: str
        tags: list[str] = make_field(default_factory=list)

    return WithFactory


NAN = float("nan")
ALL = [_full, _plain, _single, _empty, _checked]


def _samples(cls: type) -> list[Any]:
    name = cls.__name__
    if name == "Full":
        return [cls(1, "x"), cls(1, "x", ("a",), 3, frozenset({"k"})), cls(a=2, b="y", d=None)]
    if name == "Plain":
        return [cls(1), cls(2, 2.5), cls(x=3)]
    if name == "Single":
        return [cls(1.0), cls(NAN), cls(2)]
    if name == "Empty":
        return [cls()]
    return [cls(1, 2), cls(low=0, high=3)]


@pytest.mark.parametrize("slots", [True, False])
@pytest.mark.parametrize("make", ALL, ids=lambda m: m.__name__)
def test_same_class_as_the_standard_decorator(make: Callable[..., type], slots: bool) -> None:
    ours, standard = _pair(make, slots)
    assert str(inspect.signature(ours)) == str(inspect.signature(standard))
    assert ours.__doc__ == standard.__doc__
    assert ours.__match_args__ == standard.__match_args__  # type: ignore[attr-defined]
    assert ours.__qualname__ == standard.__qualname__ and ours.__module__ == standard.__module__
    assert ours.__dict__["__init__"].__qualname__ == standard.__dict__["__init__"].__qualname__
    assert getattr(ours, "__slots__", None) == getattr(standard, "__slots__", None)
    assert dataclasses.is_dataclass(ours)
    assert [
        (f.name, f.type, f.default, f.init, f.repr, f.compare, f.kw_only) for f in dataclasses.fields(ours)
    ] == [
        (f.name, f.type, f.default, f.init, f.repr, f.compare, f.kw_only)
        for f in dataclasses.fields(standard)
    ]
    assert ours.__dataclass_params__.frozen  # type: ignore[attr-defined]
    for field_name in ours.__match_args__:  # type: ignore[attr-defined]
        if not slots:
            assert getattr(ours, field_name, "-") == getattr(standard, field_name, "-")  # class defaults
    for a, b in zip(_samples(ours), _samples(standard), strict=True):
        assert repr(a) == repr(b)
        assert hash(a) == hash(b)
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert dataclasses.astuple(a) == dataclasses.astuple(b)
        assert a == copy.copy(a) == copy.deepcopy(a)
        assert (a == a) == (b == b)  # NaN: equal through identity, as in a tuple
        assert a != b and a.__eq__(b) is NotImplemented  # a different class
        assert hasattr(a, "__dict__") == hasattr(b, "__dict__")
        for name in ("a", "only", "nope"):
            with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
                setattr(a, name, 1)
            with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
                delattr(a, name)
        if ours.__match_args__:  # type: ignore[attr-defined]
            last = ours.__match_args__[-1]  # type: ignore[attr-defined]
            new = getattr(_samples(ours)[-1], last)
            changed = dataclasses.replace(a, **{last: new})
            assert values.replace(a, **{last: new}) == changed and getattr(changed, last) is new


def test_factories_make_a_new_value_each_time_and_post_init_runs() -> None:
    ours = _with_factory(values.dataclass(frozen=True, slots=True), standard=False)
    one, two = ours("a"), ours("b")
    assert one.tags == [] and one.tags is not two.tags
    assert ours("c", ["x"]).tags == ["x"]
    assert [f.default_factory for f in dataclasses.fields(ours)][1] is list
    checked = _checked(values.dataclass(frozen=True, slots=True), values.field)
    with pytest.raises(ValueError, match="low > high"):
        checked(2, 1)


def test_argument_errors_are_the_standard_ones() -> None:
    ours, standard = _pair(_plain)
    for args, kwargs in (((), {}), ((1, 2, 3), {}), ((1,), {"z": 2}), ((1,), {"x": 2})):
        with pytest.raises(TypeError) as mine:
            ours(*args, **kwargs)
        with pytest.raises(TypeError) as theirs:
            standard(*args, **kwargs)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        values.replace(ours(1), z=3)


def test_anything_else_is_left_to_dataclasses() -> None:
    @values.dataclass
    class Mutable:
        n: int = 0

    m = Mutable()
    m.n = 2  # a plain (mutable) dataclass, made by the standard library
    assert Mutable not in values._NAMES and dataclasses.is_dataclass(Mutable)

    with pytest.raises(ValueError, match="mutable default"):

        @values.dataclass(frozen=True, slots=True)
        class Bad:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default argument"):

        @values.dataclass(frozen=True, slots=True)
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]  # the mistake under test, which mypy sees too


def _inheriting(decorate: Callable[..., Any], field: Any) -> type:
    @decorate
    class Left:
        a: int = 1
        b: tuple[str, ...] = ()

    @decorate
    class Right:
        c: str = "x"
        d: list[str] = field(default_factory=list)

    @decorate
    class Both(Left, Right):
        """Made of two bases, as igor's Config is made of its sections."""

        e: float = 0.5

    return Both


def test_a_class_made_of_bases_matches_the_standard_decorator() -> None:
    ours = _inheriting(values.dataclass(frozen=True), values.field)
    standard = _inheriting(dataclasses.dataclass(frozen=True), dataclasses.field)
    assert ours in values._NAMES, "values left the class to dataclasses"
    assert (
        str(inspect.signature(ours))
        == str(inspect.signature(standard))
        == (
            "(c: 'str' = 'x', d: 'list[str]' = <factory>, a: 'int' = 1, b: 'tuple[str, ...]' = (), "
            "e: 'float' = 0.5) -> None"
        )
    )
    assert ours.__match_args__ == standard.__match_args__  # type: ignore[attr-defined]
    assert [(f.name, f.type, f.default) for f in dataclasses.fields(ours)] == [
        (f.name, f.type, f.default) for f in dataclasses.fields(standard)
    ]
    one, two = ours(a=2, c="y", d=["z"]), standard(a=2, c="y", d=["z"])
    assert repr(one).replace("Both", "") == repr(two).replace("Both", "")
    assert dataclasses.asdict(one) == dataclasses.asdict(two)
    assert values.replace(one, e=1.5) == dataclasses.replace(one, e=1.5) == ours("y", ["z"], 2, (), 1.5)
    assert isinstance(one, ours.__mro__[1]) and ours().d is not ours().d
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'a'"):
        one.a = 3  # type: ignore[attr-defined]

    @values.dataclass(frozen=True)
    class Plain:
        x: int = 0

    @values.dataclass(frozen=True, slots=True)
    class Slotted(Plain):  # slots on a class with bases: left to the standard decorator
        y: int = 0

    @values.dataclass(frozen=True, slots=True)
    class SlottedBase:
        x: int = 0

    @values.dataclass(frozen=True)
    class OnSlots(SlottedBase):  # a base with slots: left to the standard decorator
        y: int = 0

    assert (Slotted(y=2).y, Slotted().x, OnSlots(y=3).y, OnSlots().x) == (2, 0, 3, 0)
    assert Slotted not in values._NAMES and OnSlots not in values._NAMES
    assert dataclasses.is_dataclass(Slotted) and dataclasses.is_dataclass(OnSlots)


# -------------------------------------------------------------------------- igor's own value classes


def _igor_classes() -> list[type]:
    for module in pkgutil.walk_packages(igor_tui.__path__, "igor_tui."):
        if module.name.split(".")[-1] not in {"app", "__main__"} and ".widgets" not in module.name:
            importlib.import_module(module.name)
    return sorted(values._NAMES, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _standard_twin(cls: type) -> type:
    """The class the standard decorator makes from the same annotations and defaults (inherited ones
    included, as the standard decorator collects them from dataclass bases)."""
    annotations: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(inspect.get_annotations(klass))
    body: dict[str, Any] = {"__annotations__": annotations, "__module__": cls.__module__}
    for param in inspect.signature(cls).parameters.values():
        if repr(param.default) == "<factory>":
            factory = next(f.default_factory for f in dataclasses.fields(cls) if f.name == param.name)
            body[param.name] = dataclasses.field(default_factory=factory)
        elif param.default is not inspect.Parameter.empty:
            body[param.name] = param.default
    if cls.__doc__ is not None:
        body["__doc__"] = cls.__doc__
    body["__qualname__"] = cls.__qualname__
    return dataclasses.dataclass(frozen=True, slots="__slots__" in cls.__dict__)(type(cls.__name__, (), body))


def test_igor_value_classes_are_made_by_values() -> None:
    names = {f"{c.__module__}.{c.__qualname__}" for c in _igor_classes()}
    assert {
        "igor_tui.model.Reservation",
        "igor_tui.model.ClusterView",
        "igor_tui.store.protocol.Snapshot",
    } <= names


@pytest.mark.parametrize("cls", _igor_classes(), ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_igor_value_class_matches_the_standard_decorator(cls: type) -> None:
    twin = _standard_twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert getattr(cls, "__slots__", None) == getattr(twin, "__slots__", None)
    assert [(f.name, f.type, f.default) for f in dataclasses.fields(cls)] == [
        (f.name, f.type, f.default) for f in dataclasses.fields(twin)
    ]
    assert "__weakref__" not in dir(cls) or "__weakref__" in dir(twin)
    for name in ("__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__init__"):
        assert name in cls.__dict__


def test_igor_values_pickle_and_copy() -> None:
    from datetime import UTC, datetime

    from igor_tui.model import ClusterView, NodeState, NodeStatus, Reservation

    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    res = Reservation(1, "r", "alice", when, when, ("kn1", "kn2"), vlan=7, created=when)
    view = ClusterView(
        when, "alice", False, ("kn1",), (res,), status={"kn1": NodeStatus("kn1", NodeState.UP)}
    )
    for value in (res, view, NodeStatus("kn2")):
        assert pickle.loads(pickle.dumps(value)) == value == copy.deepcopy(value)
    assert ClusterView(when, "bob", True, (), ()).status == {}
    assert ClusterView(when, "bob", True, (), ()).status is not ClusterView(when, "bob", True, (), ()).status


def test_init_is_compiled_on_first_use_and_from_fields_skips_it() -> None:
    @values.dataclass(frozen=True)
    class Lazy:
        a: int
        b: str = "x"

    assert type(Lazy.__dict__["__init__"]).__name__ == "_LazyInit"  # not compiled yet
    made = values.from_fields(Lazy, {"a": 1, "b": "y"})
    assert type(Lazy.__dict__["__init__"]).__name__ == "_LazyInit"  # still not: from_fields needs no __init__
    assert (
        made == Lazy(1, "y")
        and repr(made)
        == "test_init_is_compiled_on_first_use_and_from_fields_skips_it.<locals>.Lazy(a=1, b='y')"
    )
    assert type(Lazy.__dict__["__init__"]).__name__ == "_LazyInit"  # the first calls bind without compiling
    for _ in range(values._COMPILE_AFTER):
        assert Lazy(1, "y") == made
    assert Lazy.__dict__["__init__"].__qualname__.endswith("Lazy.__init__")
    assert callable(Lazy.__dict__["__init__"]) and type(Lazy.__dict__["__init__"]).__name__ == "function"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2  # type: ignore[misc]
    checked = _checked(values.dataclass(frozen=True, slots=True), values.field)
    with pytest.raises(
        ValueError, match="low > high"
    ):  # __post_init__ runs: from_fields goes through __init__
        values.from_fields(checked, {"low": 2, "high": 1})


def test_the_first_calls_bind_as_the_compiled_init_does() -> None:
    """Before `__init__` is compiled (see values._LazyInit) a call gives the same object, runs the same
    factories and __post_init__, and raises the same TypeError as after; looking at `cls.__init__`
    compiles it at once."""
    calls: list[tuple[Any, ...]] = [(1, 2), (1,), (), (1, 2, 3), (1, 2, 3, 4)]
    keywords: list[dict[str, Any]] = [{}, {"b": 5}, {"a": 1, "b": 2}, {"c": [9]}, {"d": 0}, {"a": 1}]

    def make() -> type:
        @values.dataclass(frozen=True, slots=True)
        class Bound:
            a: int
            b: int = 7
            c: list[int] = values.field(default_factory=list)

            def __post_init__(self) -> None:
                if self.a < 0:
                    raise ValueError("a < 0")

        return Bound

    def outcome(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            made = cls(*args, **kwargs)
        except (TypeError, ValueError) as err:
            return type(err), str(err).replace("_LazyInit", "")
        return repr(made), made.c is not cls(0).c

    lazy, eager = make(), make()
    assert eager.__dict__["__init__"].__get__(None, eager).__name__ == "__init__"  # looked at: compiled now
    assert type(lazy.__dict__["__init__"]).__name__ == "_LazyInit"
    for args in [*calls, (-1,)]:
        for kwargs in keywords:
            assert outcome(lazy, args, kwargs) == outcome(eager, args, kwargs), (args, kwargs)
            if type(lazy.__dict__["__init__"]).__name__ != "_LazyInit":
                lazy = make()  # a refused call (or the 16th) compiled it: start over with one still binding


@pytest.mark.parametrize("slots", [True, False])
def test_from_columns_makes_what_init_makes(slots: bool) -> None:
    """The snapshot cache builds its reservations column by column through the slots (no `__init__`);
    the instances must be the ones `__init__` makes: equal, same hash and repr, still frozen. A class
    without slots, or with `__post_init__`, is built by `__init__` row by row."""
    ours, _ = _pair(_full, slots=slots)
    rows = [(1, "x", ("a",), None, frozenset({"p"})), (2, "y", (), 7, frozenset())]
    made: list[Any] = values.from_columns(ours, [list(col) for col in zip(*rows, strict=True)])
    expected = [ours(*row) for row in rows]
    assert made == expected
    assert [hash(m) for m in made] == [hash(e) for e in expected]
    assert [repr(m) for m in made] == [repr(e) for e in expected]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].a = 3
    assert values.from_columns(ours, [iter(()) for _ in range(5)]) == []
    with pytest.raises(ValueError, match="length"):
        values.from_columns(ours, [[1, 2], ["x"], [(), ()], [None, None], [frozenset(), frozenset()]])
    checked = _checked(values.dataclass(frozen=True, slots=True), values.field)
    with pytest.raises(ValueError):  # __post_init__ runs: built by __init__
        values.from_columns(checked, [[2], [1]])
