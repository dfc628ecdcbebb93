"""The layer ships bytecode Lambda will use (issue #26): its /opt is read-only, so a module
without it is compiled at every cold start — 2.2-3.0x a bare handler as SAM's python3.11
builder made the layer. `make iac` builds the layer with SAM and runs the checker on it; these
tests hold the checker to what CPython accepts, and the build to the recipe that satisfies it."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.cfn import ROOT, Stack
from tools.check_layer_bytecode import check, problem

ZIP_DATE = 315532800  # 1980-01-01, as SAM's zip dates every file


def _module(tmp_path: Path, mode: py_compile.PycInvalidationMode | None) -> Path:
    source = tmp_path / "layer" / "pkg" / "mod.py"
    source.parent.mkdir(parents=True)
    source.write_text("VALUE = 1\n")
    if mode is not None:
        py_compile.compile(str(source), invalidation_mode=mode, doraise=True)
    for path in [source, *source.parent.rglob("*")]:
        os.utime(path, (ZIP_DATE, ZIP_DATE))
    return source


def _compiles_at_import(source: Path) -> bool:
    """Does CPython compile ``source`` when importing it, nothing being writable (Lambda)?"""
    code = (
        "import importlib.machinery as m, sys\n"
        "compiled = []\n"
        "orig = m.SourceFileLoader.source_to_code\n"
        "m.SourceFileLoader.source_to_code = lambda self, *a, **k: compiled.append(1) or orig(self, *a, **k)\n"
        "import pkg.mod\n"
        "print(len(compiled))"
    )
    env = {**os.environ, "PYTHONPATH": str(source.parent.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip() != "0"


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        (None, "no bytecode"),
        (py_compile.PycInvalidationMode.TIMESTAMP, "timestamp-checked bytecode (stale in a zip dated 1980)"),
        (py_compile.PycInvalidationMode.UNCHECKED_HASH, "flags 0b1"),
    ],
)
def test_the_checker_refuses_bytecode_lambda_would_not_use(
    tmp_path: Path, mode: py_compile.PycInvalidationMode | None, why: str
) -> None:
    source = _module(tmp_path, mode)
    assert problem(source) == why
    assert check(source.parent.parent) == [f"pkg/mod.py: {why}"]


def test_timestamp_bytecode_is_really_compiled_again_in_a_zip_dated_1980(tmp_path: Path) -> None:
    """What the checker refuses, CPython refuses too: pip's bytecode records the source's mtime at
    install, and the zip dates the source 1980."""
    source = _module(tmp_path, py_compile.PycInvalidationMode.TIMESTAMP)
    assert problem(source) is not None
    assert _compiles_at_import(source)


def test_checked_hash_bytecode_is_used_whatever_the_dates(tmp_path: Path) -> None:
    source = _module(tmp_path, py_compile.PycInvalidationMode.CHECKED_HASH)
    assert problem(source) is None
    assert check(source.parent.parent) == []
    assert not _compiles_at_import(source)


def test_a_changed_source_is_caught_and_compiled_again(tmp_path: Path) -> None:
    source = _module(tmp_path, py_compile.PycInvalidationMode.CHECKED_HASH)
    source.write_text("VALUE = 2\n")
    assert problem(source) == "bytecode of another version of the source"
    assert _compiles_at_import(source)


def test_an_empty_tree_is_not_a_layer(tmp_path: Path) -> None:
    assert check(tmp_path) == [f"{tmp_path}: no Python modules (is this the built layer?)"]


def test_the_layer_is_built_by_its_makefile_with_checked_hash_bytecode() -> None:
    """sam build runs layers/shared/Makefile for the layer (the python3.11 builder ships no
    bytecode); the recipe installs without pip's timestamp bytecode and compiles checked-hash."""
    layer = Stack().resources["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    recipe = (ROOT / "layers" / "shared" / "Makefile").read_text()
    assert "build-SharedLayer:" in recipe
    assert "--no-compile" in recipe
    assert "--invalidation-mode checked-hash" in recipe
    assert "manylinux2014_aarch64" in recipe  # the template's arm64 runtime
