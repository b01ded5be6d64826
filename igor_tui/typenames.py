"""typing's names, without importing typing at run time (issue 14).

Importing typing (with its helpers) costs ~16 M instructions, ~3.5 ms, of every command that does not
load it otherwise: `igor show`, `igor sub -s`, `igor version` (a booking loads it anyway, through
tinydb). igor's modules need typing almost only to annotate, and `from __future__ import annotations`
leaves annotations unevaluated. So they import `TYPE_CHECKING` from here (False; mypy reads any
`TYPE_CHECKING` as true) and typing's annotation-only names under `if TYPE_CHECKING:`. The few names used
at run time come from here too: type checkers see typing's own, the interpreter a stand-in that does
what igor needs of them at run time:

- `Protocol`: igor's protocols (Clock, UserDirectory, the store's) are static contracts, implemented
  structurally and never isinstance-checked, so at run time the base is plain `object`.
- `Any` and `TypeVar`: only inside run-time type aliases (`DocumentData = dict[str, dict[str, Any]]`)
  and annotations, which nothing evaluates: `object`, and the variable's name.
- `dataclass_transform`: a marker for type checkers on values.dataclass; at run time it returns the
  function unchanged (typing's also sets `__dataclass_transform__`, which nothing in igor reads).

Modules off the read-only commands' path (the TUI's, which load Textual; writers', which load tinydb;
the operations verbs') still import typing directly; tests/test_import_hygiene.py names the commands
that must not load it.
"""

from __future__ import annotations

__all__ = ["TYPE_CHECKING", "Any", "Protocol", "TypeVar", "dataclass_transform"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol, TypeVar, dataclass_transform
else:
    Any = object
    Protocol = object

    def TypeVar(name: str, *constraints: object, **options: object) -> str:  # typing's name
        return name

    def dataclass_transform(**options: object) -> object:
        return lambda function: function
