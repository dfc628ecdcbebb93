"""``wabaguard.lazy``: a module named for later is imported by its first use, from any thread, and
answers as the module itself would (the account API's routes rely on it, issue #26)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from wabaguard import lazy

from devstack.cfn import ROOT, Stack


def test_a_lazy_module_is_imported_by_its_first_attribute_and_not_before() -> None:
    code = (
        "import sys; from wabaguard import lazy; m = lazy.module('wabaguard.risk.flags');"
        "before = 'wabaguard.risk.flags' in sys.modules; f = m.resolve;"
        "print(before, 'wabaguard.risk.flags' in sys.modules, f is sys.modules['wabaguard.risk.flags'].resolve)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **Stack().environment(), "PYTHONPATH": str(Path(ROOT, "layers/shared"))},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "True", "True"]


def test_a_name_the_module_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        lazy.module("wabaguard.clock").no_such_name  # noqa: B018


def test_a_module_that_does_not_exist_fails_on_first_use() -> None:
    missing = lazy.module("wabaguard.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        missing.anything  # noqa: B018


def test_threads_reading_it_first_at_once_all_get_the_module() -> None:
    target = lazy.module("wabaguard.pages")
    got: list[object] = []
    barrier = threading.Barrier(8)

    def read() -> None:
        barrier.wait()
        got.append(target.html_page)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    from wabaguard import pages

    assert got == [pages.html_page] * 8

