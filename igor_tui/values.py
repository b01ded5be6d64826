"""`@dataclass(frozen=True, slots=True)` without its start-up cost, for the modules every `igor` run loads.

Why not the standard decorator: it costs ~0.75 ms per class (it compiles six methods from source and
inspects every annotation), and importing `dataclasses` imports `inspect` (~7 ms). `igor show` defines 20
value classes before it reads the store: ~22 ms of a 120 ms budget. This module makes the same classes in
~0.2 ms each (one small compile, for `__init__`) and imports nothing `igor` does not import anyway.

The classes are dataclasses to every observer: the same `__init__` (generated the same way, with the same
signature, defaults, `default_factory` and `__post_init__`), `__repr__`, `__eq__`, `__hash__`, frozen
`__setattr__`/`__delattr__` raising `dataclasses.FrozenInstanceError`, `__match_args__`, `__slots__`, pickle
state; `dataclasses.fields`, `replace`, `asdict` and `is_dataclass` work, because `__dataclass_fields__`
and `__dataclass_params__` are the standard decorator's own, made on first use (by whoever imported
`dataclasses` to ask). `dataclass` is marked `typing.dataclass_transform`, so type checkers read the
classes it makes as dataclasses and modules import it plainly; tests/test_values.py compares every class
igor makes here with the standard one's.

Only the plain case is made here: frozen, no ClassVar/InitVar/KW_ONLY, no hand-written dunder methods,
`field()` with nothing but `default_factory`, and either no base class or (without slots) bases that are
themselves plain classes made here, whose fields come first, as in `dataclasses` (igor's Config is made of
its sections this way). Anything else goes to `dataclasses` itself.
"""

from __future__ import annotations

import sys
from _thread import get_ident
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from .typenames import TYPE_CHECKING, dataclass_transform

if TYPE_CHECKING:
    from typing import Any, TypeVar

    _T = TypeVar("_T")

_OWN_METHODS = frozenset(
    {
        "__init__",
        "__repr__",
        "__eq__",
        "__hash__",
        "__setattr__",
        "__delattr__",
        "__getstate__",
        "__setstate__",
        "__slots__",
        "__match_args__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__replace__",
    }
)


class _Factory:
    """What `field(default_factory=...)` leaves in the class body until the decorator takes it out."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory


def field(*, default_factory: Callable[[], Any]) -> Any:
    """`dataclasses.field(default_factory=...)`, the only use igor has for field()."""
    return _Factory(default_factory)


class _HasDefaultFactory:
    """The `__init__` default of a factory field; shows as `<factory>` in signatures, like dataclasses'."""

    def __repr__(self) -> str:
        return "<factory>"


_HAS_DEFAULT_FACTORY = _HasDefaultFactory()

_NAMES: dict[type, tuple[str, ...]] = {}
"""Field names of every class made here, in order (`replace` and `field_names` look here first)."""
_SPECS: dict[type, tuple[dict[str, Any], dict[str, Any]]] = {}
"""(annotations, defaults) of every class made here, for `_Lazy`."""


@dataclass_transform(field_specifiers=(field,))
def dataclass(
    cls: type[_T] | None = None, /, *, frozen: bool = False, slots: bool = False, **options: Any
) -> Any:
    """`dataclasses.dataclass`: made here for frozen plain classes, by `dataclasses` for anything else."""
    if cls is None:
        return lambda c: dataclass(c, frozen=frozen, slots=slots, **options)
    # (Not inspect.get_annotations: inspect is what this module avoids. A class whose annotations are
    # evaluated lazily, by __annotate__, is left to dataclasses.)
    annotations = cls.__dict__.get("__annotations__", None if "__annotate__" in cls.__dict__ else {})  # noqa: RUF063
    if frozen and not options and isinstance(annotations, dict) and _plain(cls, annotations, slots):
        merged, defaults = _inherited(cls)
        merged.update(annotations)
        defaults.update((name, cls.__dict__[name]) for name in annotations if name in cls.__dict__)
        return _make(cls, tuple(merged), merged, defaults, slots)
    import dataclasses

    return dataclasses.dataclass(cls, frozen=frozen, slots=slots, **options)


def _inherited(cls: type) -> tuple[dict[str, Any], dict[str, Any]]:
    """(annotations, defaults) of the fields `cls` inherits from bases made here, base order as in
    `dataclasses` (the last base's fields first, a field redefined later keeping its first place)."""
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for base in reversed(cls.__mro__[1:]):
        if base in _SPECS:
            base_annotations, base_defaults = _SPECS[base]
            annotations.update(base_annotations)
            for name in base_annotations:
                defaults.pop(name, None)
            defaults.update(base_defaults)
    return annotations, defaults


def _plain(cls: type, annotations: dict[str, Any], slots: bool) -> bool:
    """True if the class is one `_make` reproduces exactly (otherwise the standard decorator decides)."""
    if type(cls) is not type or not _OWN_METHODS.isdisjoint(cls.__dict__):
        return False
    if cls.__bases__ != (object,) and (
        slots or any(base not in _SPECS or "__slots__" in base.__dict__ for base in cls.__mro__[1:-1])
    ):
        return False
    inherited, inherited_defaults = _inherited(cls)
    seen_default = False
    for name in inherited:
        if name in annotations:
            continue
        if name in inherited_defaults:
            seen_default = True
        elif seen_default:
            return False
    for name, annotation in annotations.items():
        if (
            not isinstance(annotation, str)
            or "ClassVar" in annotation
            or "InitVar" in annotation
            or "KW_ONLY" in annotation
        ):
            return False
        if name in cls.__dict__:
            default = cls.__dict__[name]
            if not isinstance(default, _Factory) and (
                type(default).__hash__ is None or type(default).__module__ == "dataclasses"
            ):
                return False  # an unhashable (mutable) default, or a dataclasses.field(): not ours to judge
            seen_default = True
        elif seen_default:
            return False  # "non-default argument follows default argument": let dataclasses raise it
    return True


def _make(
    cls: type[_T], names: tuple[str, ...], annotations: dict[str, Any], defaults: dict[str, Any], slots: bool
) -> type[_T]:
    if slots:  # a new class, as dataclasses makes: slots cannot be added to an existing one
        body = {key: value for key, value in cls.__dict__.items() if key not in defaults}
        body["__slots__"] = names
        body.pop("__dict__", None)
        body.pop("__weakref__", None)
        made: type[_T] = type(cls.__name__, cls.__bases__, body)
        made.__qualname__ = cls.__qualname__
    else:  # changed in place, as dataclasses does; factories never stay, plain defaults do
        made = cls
        for name, default in defaults.items():
            if isinstance(default, _Factory) and name in made.__dict__:
                delattr(made, name)
    type.__setattr__(made, "__match_args__", names)
    _NAMES[made] = names
    _SPECS[made] = (annotations, defaults)

    methods: dict[str, Any] = {
        "__init__": _LazyInit(made, names, annotations, defaults, slots),
        "__repr__": _repr(names),
        "__eq__": _eq(names),
        "__hash__": _hash(names),
        "__setattr__": _setattr(made, frozenset(names)),
        "__delattr__": _delattr(made, frozenset(names)),
    }
    if slots:
        methods["__getstate__"] = _getstate(names)
        methods["__setstate__"] = _setstate(names)
    if sys.version_info >= (3, 13):
        methods["__replace__"] = replace
    for name, method in methods.items():
        method.__qualname__ = f"{made.__qualname__}.{name}"
        setattr(made, name, method)
    made.__dataclass_fields__ = _Lazy(made, "__dataclass_fields__", slots)  # type: ignore[attr-defined]
    made.__dataclass_params__ = _Lazy(made, "__dataclass_params__", slots)  # type: ignore[attr-defined]
    if made.__doc__ is None:
        made.__doc__ = _signature_doc(made.__name__, names, annotations, defaults)
    return made


_COMPILE_AFTER = 16
"""Calls of a class's `__init__` made by `_LazyInit` before it compiles the real one (see there)."""


class _LazyInit:
    """A class's `__init__` until it is used often, or looked at: then it compiles the real one and puts it
    in its place.

    Compiling is most of the cost of making a class (~0.19 of ~0.23 ms for ten fields), and an `igor` run
    calls the `__init__` of only some of the classes it defines, most of them a few times: the config's
    twelve are filled by `from_fields`, and `igor sub` compiled sixteen `__init__`s (~1.8 ms, ~7 M
    instructions) to call most of them once or twice. So the first `_COMPILE_AFTER` calls bind their
    arguments here, in Python (a few microseconds each), to the same effect as the compiled function:
    fields in order, defaults as they are, each factory called when its field is not given, slots set
    through their descriptors, `__post_init__` last. Any call it does not bind plainly (too many
    arguments, an unknown or repeated keyword, a missing field) goes to the compiled function, so every
    TypeError is the standard one. Reaching `__init__` through the class (as `inspect` does) gets the
    compiled function at once, so no caller sees this object."""

    def __init__(
        self,
        cls: type,
        names: tuple[str, ...],
        annotations: dict[str, Any],
        defaults: dict[str, Any],
        slots: bool,
    ) -> None:
        self.spec = (cls, names, annotations, defaults, slots)
        self.calls = 0
        self.__qualname__ = f"{cls.__qualname__}.__init__"

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None or self.calls >= _COMPILE_AFTER:
            init = self.compiled()
            return init if obj is None else init.__get__(obj, owner)
        self.calls += 1
        return lambda *args, **kwargs: self.bind(obj, args, kwargs)

    def compiled(self) -> Callable[..., None]:
        """The real `__init__`, compiled and put in the class in place of this object."""
        init = _init(*self.spec)
        init.__qualname__ = self.__qualname__
        type.__setattr__(self.spec[0], "__init__", init)
        return init

    def bind(self, obj: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """What the compiled `__init__` does with (obj, *args, **kwargs), without compiling it."""
        cls, names, _, defaults, slots = self.spec
        rest = names[len(args) :]
        if (
            len(args) > len(names)
            or any(key not in rest for key in kwargs)
            or any(name not in kwargs and name not in defaults for name in rest)
        ):
            self.compiled()(obj, *args, **kwargs)  # raises the standard TypeError
            return
        fields = cls.__dict__
        for k, name in enumerate(names):
            if k < len(args):
                value = args[k]
            elif name in kwargs:
                value = kwargs[name]
            else:
                value = defaults[name]
                if isinstance(value, _Factory):
                    value = value.factory()
            if slots:
                fields[name].__set__(obj, value)
            else:
                object.__setattr__(obj, name, value)
        if "__post_init__" in fields:
            obj.__post_init__()  # type: ignore[attr-defined]


def from_fields(cls: type[_T], fields: dict[str, Any]) -> _T:
    """`cls(**fields)` for a class made here, given every field, without running its `__init__` (so it is
    never compiled, see `_LazyInit`); a class with `__post_init__` or another's class goes through
    `__init__` as usual."""
    names = _NAMES.get(cls)
    if names is None or len(fields) != len(names) or hasattr(cls, "__post_init__"):
        return cls(**fields)
    obj: _T = object.__new__(cls)
    for name in names:
        object.__setattr__(obj, name, fields[name])
    return obj


def from_columns(cls: type[_T], columns: Sequence[Iterable[Any]]) -> list[_T]:
    """One instance per row of `columns` (one iterable per field, in field order) for a frozen slotted
    class made here, without calling `__init__`: each column is stored through its slot's descriptor
    in one `map`, so a row costs no Python frame (5,000 reservations from the snapshot cache: ~9 ms
    instead of ~20 ms, every command at that size). Only for trusted columns (the store's own cache):
    nothing is defaulted or checked. A class this cannot build so is built by `__init__`, row by row."""
    lists = [col if isinstance(col, (list, tuple)) else list(col) for col in columns]
    count = len(lists[0]) if lists else 0
    if any(len(col) != count for col in lists):
        raise ValueError(f"columns of {cls.__name__} differ in length")
    names = _NAMES.get(cls)
    slotted = names is not None and len(lists) == len(names) and "__slots__" in cls.__dict__
    if not slotted or names is None or hasattr(cls, "__post_init__"):
        return [cls(*row) for row in zip(*lists, strict=True)]
    new = object.__new__
    made: list[_T] = [new(cls) for _ in range(count)]
    for name, column in zip(names, lists, strict=True):
        deque(map(cls.__dict__[name].__set__, made, column), maxlen=0)
    return made


def _init(
    cls: type, names: tuple[str, ...], annotations: dict[str, Any], defaults: dict[str, Any], slots: bool
) -> Callable[..., None]:
    """The standard decorator's `__init__`, from source like its own, but setting each slot through the
    slot's descriptor instead of `object.__setattr__` by name (the same effect, ~30% faster)."""
    scope: dict[str, Any] = {"__HAS_FACTORY": _HAS_DEFAULT_FACTORY, "__object_setattr": object.__setattr__}
    params: list[str] = []
    lines: list[str] = []
    for name in names:
        value = name
        if name in defaults:
            default = defaults[name]
            if isinstance(default, _Factory):
                scope[f"__factory_{name}"] = default.factory
                params.append(f"{name}=__HAS_FACTORY")
                value = f"__factory_{name}() if {name} is __HAS_FACTORY else {name}"
            else:
                scope[f"__default_{name}"] = default
                params.append(f"{name}=__default_{name}")
        else:
            params.append(name)
        if slots:
            scope[f"__set_{name}"] = cls.__dict__[name].__set__
            lines.append(f"  __set_{name}(self, {value})")
        else:
            lines.append(f"  __object_setattr(self, {name!r}, {value})")
    if "__post_init__" in cls.__dict__:
        lines.append("  self.__post_init__()")
    if not lines:
        lines.append("  pass")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(lines) + "\n"
    exec(source, scope)
    init: Callable[..., None] = scope["__init__"]
    init.__annotations__ = {**annotations, "return": None}
    init.__module__ = cls.__module__
    return init


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields as a tuple (attrgetter returns a bare value for a single name; dataclasses compares and
    hashes 1-tuples)."""
    if len(names) == 1:
        (only,) = names
        return lambda obj: (getattr(obj, only),)
    if not names:
        return lambda obj: ()
    getter: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)
    return getter


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    running: set[tuple[int, int]] = set()

    def __repr__(self: Any) -> str:
        key = (id(self), get_ident())  # a value that contains itself prints as "...", as in dataclasses
        if key in running:
            return "..."
        running.add(key)
        try:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
            return f"{self.__class__.__qualname__}({inner})"
        finally:
            running.discard(key)

    return __repr__


def _eq(names: tuple[str, ...]) -> Callable[[Any, object], Any]:
    values = _values(names)

    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    values = _values(names)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _frozen(message: str) -> Exception:
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


def _setattr(cls: type[Any], names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise _frozen(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    return __setattr__


def _delattr(cls: type[Any], names: frozenset[str]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise _frozen(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __delattr__


def _getstate(names: tuple[str, ...]) -> Callable[[Any], list[Any]]:
    def __getstate__(self: Any) -> list[Any]:
        return [getattr(self, name) for name in names]

    return __getstate__


def _setstate(names: tuple[str, ...]) -> Callable[[Any, list[Any]], None]:
    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=False):
            object.__setattr__(self, name, value)

    return __setstate__


def _signature_doc(
    name: str, names: tuple[str, ...], annotations: dict[str, Any], defaults: dict[str, Any]
) -> str:
    """What dataclasses writes into `__doc__` of a class without a docstring (its inspect.signature)."""
    params = []
    for field_name in names:
        text = f"{field_name}: {annotations[field_name]!r}"
        if field_name in defaults:
            default = defaults[field_name]
            text += f" = {_HAS_DEFAULT_FACTORY if isinstance(default, _Factory) else default!r}"
        params.append(text)
    return f"{name}({', '.join(params)})"


class _Lazy:
    """`__dataclass_fields__` / `__dataclass_params__` of a class made here: on first access, the standard
    decorator's own, from an equivalent class (only code that imported dataclasses asks, so the import is
    already paid for), then stored on the class in place of this descriptor."""

    def __init__(self, cls: type, attribute: str, slots: bool) -> None:
        self.cls = cls
        self.attribute = attribute
        self.slots = slots

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        import dataclasses

        cls = self.cls
        annotations, defaults = _SPECS[cls]
        body: dict[str, Any] = {
            "__annotations__": dict(annotations),
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
        }
        for name, default in defaults.items():
            is_factory = isinstance(default, _Factory)
            body[name] = dataclasses.field(default_factory=default.factory) if is_factory else default
        twin: type = dataclasses.dataclass(frozen=True, slots=self.slots)(type(cls.__name__, (), body))
        for attribute in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(cls, attribute, getattr(twin, attribute))
        return getattr(cls, self.attribute)


def replace(obj: _T, /, **changes: Any) -> _T:
    """`dataclasses.replace`; for classes made here without importing dataclasses (igor replaces values on
    every booking and edit)."""
    names = _NAMES.get(type(obj))
    if names is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    for name in names:
        if name not in changes:
            changes[name] = getattr(obj, name)
    return obj.__class__(**changes)


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass in declaration order, without importing dataclasses for ours."""
    names = _NAMES.get(cls)
    if names is None:
        import dataclasses

        return tuple(f.name for f in dataclasses.fields(cls))
    return names


def field_types(cls: type) -> dict[str, tuple[str, Any]]:
    """Each field's annotation, as written, and its default (`MISSING` for none), in declaration order:
    what the store's codec is generated from, so a field added to a model class is stored without
    another list to update. Only for classes made here (their annotations are kept as text)."""
    annotations, defaults = _SPECS[cls]
    return {name: (str(annotations[name]), defaults.get(name, MISSING)) for name in _NAMES[cls]}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""No default: the field is required."""
