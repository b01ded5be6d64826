"""The sharing sections: node properties (which nodes have a GPU, a 100G link ...) and per-user quotas.

Both are maps an admin writes once so users stop policing each other by hand: `properties` lets `igor sub
-p gpu` pick among the right nodes on a mixed cluster, `quota` bounds what one user may hold across all
their reservations (one booking's limits are `nodelimit`/`timelimit`).
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping

from igor_tui.errors import ValidationError
from igor_tui.values import dataclass, field

from ..typenames import TYPE_CHECKING
from .reader import Reader, json_type, show

if TYPE_CHECKING:
    from typing import Self

    from igor_tui.hostlist import NodeNaming

PROPERTY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
"""A property is one word users type after -p, so no commas, spaces or brackets. A pattern's text, compiled
(by re's cache) only for a config that names properties: ~0.5 M instructions of every command otherwise."""
QUOTA_FIELDS = ("node_hours", "concurrent_nodes")
QUOTA_DEFAULT = "default"
_QUOTA_WHO = r"%?[A-Za-z0-9_][A-Za-z0-9_.-]*"  # compiled only for a config with a quota


@dataclass(frozen=True, slots=True)
class Quota:
    """What one user may hold at once across their live and future reservations; None is unlimited."""

    node_hours: int | None = None
    concurrent_nodes: int | None = None


def no_properties() -> Mapping[str, frozenset[str]]:
    """The default: no node has a property (read-only like the maps read from a file)."""
    return types.MappingProxyType({})


def no_quota() -> Mapping[str, Quota]:
    """The default: nobody has a quota."""
    return types.MappingProxyType({})


@dataclass(frozen=True)
class SharingSettings:
    """`properties` as node -> its properties (nodes without any are left out) and `quota` as written
    (user, '%group' or 'default' -> Quota)."""

    properties: Mapping[str, frozenset[str]] = field(default_factory=no_properties)
    quota: Mapping[str, Quota] = field(default_factory=no_quota)

    @classmethod
    def from_section(cls, sec: Reader, naming: NodeNaming | None = None) -> Self:
        """Both maps, every problem named by its key so the admin can find the entry."""
        return cls(
            properties=types.MappingProxyType(_properties(sec, naming)),
            quota=types.MappingProxyType(_quota(sec)),
        )

    def known_properties(self) -> tuple[str, ...]:
        """Every property some node has, sorted: what forms and `-p` completion offer."""
        return tuple(sorted(set().union(*self.properties.values()))) if self.properties else ()


def _properties(sec: Reader, naming: NodeNaming | None) -> dict[str, frozenset[str]]:
    """Node ranges -> lists of property names; a node named by two ranges gets both lists."""
    raw = sec.raw("properties")
    if not sec.given("properties") or not isinstance(raw, Mapping):
        return {}
    key = sec.name("properties")
    found: dict[str, set[str]] = {}
    for spec, names in raw.items():
        where = f"{key}[{spec!r}]"
        if not isinstance(names, list) or not names:
            sec.add(
                f"{where}: expected a non-empty list of property names, e.g. ['gpu', '100g'], "
                f"got {show('properties', names)} ({json_type(names)})"
            )
            continue
        bad = [n for n in names if not isinstance(n, str) or not re.fullmatch(PROPERTY_PATTERN, n)]
        if bad:
            sec.add(
                f"{where}: {bad[0]!r} is not a property name; expected a word of letters, digits, "
                "'.', '_' and '-'"
            )
            continue
        if naming is None:
            continue  # the node naming is broken (already reported): the ranges cannot be checked
        try:
            nodes = naming.expand(str(spec))
        except ValidationError as err:
            sec.add(f"{where}: {err}")
            continue
        for node in nodes:
            found.setdefault(node, set()).update(names)
    return {node: frozenset(props) for node, props in found.items()}


def _quota(sec: Reader) -> dict[str, Quota]:
    """'default', user names and '%group' entries, each an object of positive node_hours and
    concurrent_nodes (an absent one is inherited from the less specific entry)."""
    raw = sec.raw("quota")
    if not sec.given("quota") or not isinstance(raw, Mapping):
        return {}
    key = sec.name("quota")
    result: dict[str, Quota] = {}
    for who, entry in raw.items():
        where = f"{key}[{who!r}]"
        if not isinstance(who, str) or not re.fullmatch(_QUOTA_WHO, who):
            sec.add(f"{where}: expected 'default', a user name or '%group'")
            continue
        if not isinstance(entry, Mapping):
            sec.add(
                f"{where}: expected an object, e.g. {{'node_hours': 2000, 'concurrent_nodes': 64}}, "
                f"got {show('quota', entry)} ({json_type(entry)})"
            )
            continue
        values: dict[str, int] = {}
        for name, value in entry.items():
            if name not in QUOTA_FIELDS:
                sec.add(f"{where}: unknown key {name!r}; expected 'node_hours' and/or 'concurrent_nodes'")
            elif not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                sec.add(f"{where}[{name!r}]: {show('quota', value)} is not a positive integer")
            else:
                values[name] = value
        result[who] = Quota(**values)
    return result
