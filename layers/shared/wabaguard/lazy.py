"""A package entry whose names resolve on first use (PEP 562), so importing a package for one
light module (the authorizer's registry and checks) does not load its heavy siblings."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def entry(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds ``name`` in ``package.<names[name]>``."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{module}"), name)

    return __getattr__


class _Module:
    """Stands for a module until an attribute is read; then that module is imported (the import
    system's lock makes a first read from two threads at once safe) and answers."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def module(name: str) -> Any:
    """Module ``name``, imported on first use: a handler with many routes loads each capability
    with the first request that needs it, not all of them in its cold start (issue #26)."""
    return _Module(name)
