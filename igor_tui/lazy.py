"""Names a package re-exports but loads on first use (PEP 562), for the packages on the CLI's hot path.

`igor_tui.service` and `igor_tui.store` re-export names whose modules most commands never need (the
notify, importer, operations and reports parts; the store's transaction and memory store): importing
them eagerly would load them on every `igor show` just to re-export them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """A module-level `__getattr__` for `package`: `modules` maps each lazy name to the submodule that
    defines it; the first access imports that submodule and keeps the value in the package."""

    def __getattr__(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module  # only when a lazy name is used: igor show never does

        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
