"""The package's layers: each imports only from the layers before it (README, "Package layout").

The order data flows: data -> preprocess -> synthetic -> models -> training
and evaluation -> reports -> config -> experiment -> inference and ablation
-> cli, with the private helpers (errors, atomic I/O, validation, the
Markdown table writer) below them all. A new module must be placed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import microexpr

PACKAGE = Path(microexpr.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent

#: Rank of each top-level module or subpackage; an import may not go to a higher rank.
RANK = {
    "errors": 0,
    "_io": 0,
    "_validation": 0,
    "_markdown": 0,
    "data": 1,
    "preprocess": 2,
    "synthetic": 3,
    "models": 4,
    "training": 5,
    "evaluation": 5,
    "reports": 6,
    "config": 7,
    "_experiment": 8,
    "experiment": 8,
    "nested_experiment": 8,
    "inference": 9,
    "ablation": 9,
    "cli": 10,
    "__main__": 11,
}

#: The one documented exception (README): imported when called, not at import time.
ALLOWED = {("experiment.py", "microexpr.inference.checkpoint")}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _microexpr_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.startswith("microexpr.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer():
    assert {_layer(p) for p in MODULES} <= set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_from_earlier_layers(path):
    layer = _layer(path)
    wrong = [
        f"line {line}: {layer} imports {name}"
        for line, name in _microexpr_imports(path)
        if RANK.get(name.split(".")[1], 99) > RANK[layer]
        and (str(path.relative_to(PACKAGE)), name) not in ALLOWED
    ]
    assert not wrong


def _module_name(path: Path) -> str:
    parts = ("microexpr", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the microexpr modules it imports, at import time or when called.

    Importing ``a.b.c`` runs ``a.b``'s ``__init__`` too, so it counts as an
    import of the parent packages.
    """
    names = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = set()
        for _, imported in _microexpr_imports(path):
            while "." in imported:
                if imported in names and imported != name and not name.startswith(imported + "."):
                    targets.add(imported)
                imported = imported.rsplit(".", 1)[0]
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


#: Import loops allowed (none).
KNOWN_CYCLES: list[set[str]] = []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    # an import made inside a function still ties the two modules together
    assert [c for c in _cycles(_import_graph()) if c not in KNOWN_CYCLES] == []


def test_no_test_edits_sys_path():
    offenders = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if p != Path(__file__).resolve()
        and any(
            f"sys.path.{verb}(" in p.read_text(encoding="utf-8") for verb in ("insert", "append")
        )
    ]
    assert not offenders
