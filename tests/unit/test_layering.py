"""The layer's shape (issue 21): no import cycle among its modules — imports inside functions
count too — and an import inside a function only where it keeps a heavy library off a cold start,
said so in a comment on the line or the one above it."""

from __future__ import annotations

import ast
from pathlib import Path

from devstack.cfn import ROOT

LAYER = Path(ROOT, "layers/shared")
PACKAGE = "wabaguard"


def module_name(path: Path) -> str:
    rel = path.relative_to(LAYER).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in (LAYER / PACKAGE).rglob("*.py")}


def _resolve(target: str, known: set[str]) -> str | None:
    """The layer module an import names (``wabaguard.otp.verify`` or its package)."""
    while target:
        if target in known:
            return target
        target = target.rpartition(".")[0]
    return None


def imports(path: Path, name: str, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of a layer module."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # typing only: never runs
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if (found := _resolve(alias.name, known)) is not None:
                        out.append((found, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1] + ([base] if base else []))
                for alias in child.names:
                    found = _resolve(f"{base}.{alias.name}", known) or _resolve(base, known)
                    if found is not None:
                        out.append((found, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return [(m, line, inside) for m, line, inside in out if m != name]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    edges: dict[str, set[str]] = {m: set() for m in found}
    for name, path in found.items():
        for target, _, _ in imports(path, name, known):
            if target != PACKAGE:  # the package's own __init__ is a docstring
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or one that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_the_finder_sees_a_cycle_through_an_import_inside_a_function(tmp_path: Path) -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_layer_has_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_imports_inside_functions_say_why() -> None:
    """Only to keep a heavy library off a cold start (a comment says so)."""
    found = modules()
    known = set(found)
    unexplained = []
    for name, path in found.items():
        lines = path.read_text().splitlines()
        for target, line, inside in imports(path, name, known):
            if not inside:
                continue
            said = " ".join(lines[max(0, line - 2) : line]).lower()
            if "cold start" not in said:
                unexplained.append(f"{name}:{line} imports {target}")
    assert unexplained == []
