"""A package entry whose names resolve on first use (PEP 562), so importing a package for one
light module (the authorizer's registry and checks) does not load its heavy siblings; and one
module of a library's package without the package's ``__init__`` (``submodule``)."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from importlib import import_module
from importlib.util import find_spec
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


_running_init = threading.RLock()


class _Package(types.ModuleType):
    """A package imported without running its ``__init__``: its submodules import as usual (also
    ``from package import submodule``), and the first read of any other name runs the real
    ``__init__`` in this module, then answers."""

    def __getattr__(self, name: str) -> Any:
        if not self.__dict__.get("_wabaguard_init_ran") and find_spec(f"{self.__name__}.{name}") is not None:
            return import_module(f"{self.__name__}.{name}")
        with _running_init:  # reentrant: the __init__ reads names of its own package as it runs
            if not self.__dict__.get("_wabaguard_init_ran"):
                self.__dict__["_wabaguard_init_ran"] = True
                self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def submodule(package: str, name: str) -> types.ModuleType:
    """``package.name`` without ``package/__init__.py`` when nothing has imported the package yet.

    Powertools' ``event_handler/__init__`` imports every resolver it has — AppSync, AppSync
    Events, Bedrock agents, VPC Lattice, function URLs and its HTTP resolver with asyncio — ~25 ms
    of an HTTP function's cold start for the REST resolver alone that we use (issue #26). Whatever
    reads a name the ``__init__`` defines still gets it: the ``__init__`` runs then."""
    if package not in sys.modules:
        spec = find_spec(package)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            raise ImportError(f"{package!r} is not a package", name=package)
        stub = _Package(package)
        stub.__spec__, stub.__loader__, stub.__file__ = spec, spec.loader, spec.origin
        stub.__path__, stub.__package__ = list(spec.submodule_search_locations), package
        with _running_init:
            if package not in sys.modules:
                sys.modules[package] = stub
                parent, _, child = package.rpartition(".")
                if parent:
                    setattr(import_module(parent), child, stub)
    return import_module(f"{package}.{name}")
