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
