"""``wabaguard.lazy``: a module named for later is imported by its first use, from any thread, and
answers as the module itself would (the account API's routes rely on it, issue #26)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from wabaguard import lazy

from devstack.cfn import ROOT, Stack


def _printed_by_a_fresh_interpreter(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **Stack().environment(), "PYTHONPATH": str(Path(ROOT, "layers/shared"))},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_a_lazy_module_is_imported_by_its_first_attribute_and_not_before() -> None:
    code = (
        "import sys; from wabaguard import lazy; m = lazy.module('wabaguard.risk.flags');"
        "before = 'wabaguard.risk.flags' in sys.modules; f = m.resolve;"
        "print(before, 'wabaguard.risk.flags' in sys.modules, f is sys.modules['wabaguard.risk.flags'].resolve)"
    )
    assert _printed_by_a_fresh_interpreter(code) == ["False", "True", "True"]


def test_a_name_the_module_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        lazy.module("wabaguard.clock").no_such_name  # noqa: B018


def test_a_module_that_does_not_exist_fails_on_first_use() -> None:
    missing = lazy.module("wabaguard.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        missing.anything  # noqa: B018


def _read_from_threads_at_once(read: Callable[[], object], threads: int = 8) -> list[object]:
    """What ``read`` returned in each of ``threads`` threads released together."""
    got: list[object] = []
    barrier = threading.Barrier(threads)

    def run() -> None:
        barrier.wait()
        got.append(read())

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return got


def test_threads_reading_it_first_at_once_all_get_the_module() -> None:
    target = lazy.module("wabaguard.pages")
    got = _read_from_threads_at_once(lambda: target.html_page)
    from wabaguard import pages

    assert got == [pages.html_page] * 8



# ``lazy.submodule``: one module of a package without the package's ``__init__`` (Powertools'
# event_handler/__init__ loads every resolver it has; the HTTP functions use the REST one).


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """A package whose ``__init__`` counts its runs (in ``<name>_runs``), is slow, and defines a
    name of its own besides re-exporting its light submodule's."""
    name = f"pkg_{request.node.name.split('[')[0][5:][:40]}"
    root = tmp_path / name
    root.mkdir()
    (tmp_path / f"{name}_runs.py").write_text("runs = 0\n")
    (root / "__init__.py").write_text(
        f"import time, {name}_runs\n{name}_runs.runs += 1\ntime.sleep(0.05)\n"
        f"from {name}.light import LIGHT\nfrom {name} import heavy\nHEAVY = heavy.HEAVY\n"
    )
    (root / "light.py").write_text(f"from {name} import other\nLIGHT = 'light'\n")
    (root / "other.py").write_text("OTHER = 'other'\n")
    (root / "heavy.py").write_text("HEAVY = 'heavy'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.") or m == f"{name}_runs"]:
        del sys.modules[module]


def test_a_submodule_comes_without_its_packages_init(package: str) -> None:
    light = lazy.submodule(package, "light")
    assert light.LIGHT == "light"
    assert f"{package}.heavy" not in sys.modules  # the __init__ did not run...
    assert f"{package}_runs" not in sys.modules
    assert sys.modules[package].light is light  # ...yet the package knows its submodules
    assert sys.modules[package].other.OTHER == "other"  # `from package import submodule` inside it worked


def test_a_name_of_the_packages_init_runs_it_then_once(package: str) -> None:
    lazy.submodule(package, "light")
    exec(f"from {package} import HEAVY, LIGHT", namespace := {})
    assert (namespace["HEAVY"], namespace["LIGHT"]) == ("heavy", "light")
    assert sys.modules[f"{package}_runs"].runs == 1
    assert sys.modules[package].LIGHT == "light"
    assert sys.modules[f"{package}_runs"].runs == 1


def test_threads_reading_an_init_name_at_once_run_the_init_once(package: str) -> None:
    lazy.submodule(package, "light")
    stub = sys.modules[package]
    assert _read_from_threads_at_once(lambda: stub.HEAVY) == ["heavy"] * 8
    assert sys.modules[f"{package}_runs"].runs == 1


def test_a_name_nobody_defines_is_still_an_attribute_error(package: str) -> None:
    lazy.submodule(package, "light")
    with pytest.raises(AttributeError, match="no attribute 'NOPE'"):
        sys.modules[package].NOPE  # noqa: B018
    with pytest.raises(ImportError):
        exec(f"from {package} import NOPE", {})


def test_a_package_already_imported_is_used_as_it_is(package: str) -> None:
    real = __import__(package)
    assert lazy.submodule(package, "light") is real.light
    assert sys.modules[package] is real
    assert sys.modules[f"{package}_runs"].runs == 1


def test_only_a_package_can_be_opened_so() -> None:
    with pytest.raises(ImportError, match="not a package"):
        lazy.submodule("wabaguard.clock", "anything")
    with pytest.raises(ImportError, match="not a package"):
        lazy.submodule("no_such_package_here", "x")


def test_the_rest_resolver_comes_without_powertools_other_resolvers() -> None:
    """What ``wabaguard.web`` does, in a fresh interpreter: then Powertools' own names still work."""
    code = (
        "import sys; from wabaguard import web\n"
        "others = [m for m in sys.modules if m.startswith('aws_lambda_powertools.event_handler.') and "
        "m.rsplit('.', 1)[1] in ('appsync', 'bedrock_agent', 'vpc_lattice', 'lambda_function_url', 'http_resolver')]\n"
        "before = (others, 'asyncio' in sys.modules)\n"
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver, AppSyncResolver, Response\n"
        "print(before == ([], False), APIGatewayRestResolver is web.APIGatewayRestResolver, Response is web.Response)"
    )
    assert _printed_by_a_fresh_interpreter(code) == ["True", "True", "True"]
