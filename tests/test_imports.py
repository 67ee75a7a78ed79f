"""The package's import graph: no cycles, and no module imports another module's private names.

Read with `ast`, never by importing, so the test is fast and sees every edge. Every import counts: those at
module level, those under `if TYPE_CHECKING:` (a type-only edge is still a dependency a reader must follow,
and it is one `from __future__ import annotations` away from a runtime cycle) and those inside functions
(a lazy import defers the cost of a module, not the dependency on it; hiding an import in a function must
not be a way around this test). Only the implicit import of a parent package (`shapecheck.static` before
`shapecheck.static.contracts`) is not an edge: Python runs it for every submodule, and it is not a choice
of the importing module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "shapecheck"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("shapecheck", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(imported shapecheck module, name imported from it or "", line) for every import in `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name in MODULES]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:  # `from shapecheck import axes`: the module itself
                    found.append((f"{source}.{alias.name}", "", node.lineno))
                elif source in MODULES:
                    found.append((source, alias.name, node.lineno))
    return found


def _private_uses(module: str) -> list[str]:
    """`alias._name` where `alias` is a shapecheck module this one imported (`from shapecheck import x`)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return [
        f"{MODULES[module].name}:{node.lineno}: {aliases[node.value.id]}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and aliases[node.value.id] != module
    ]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
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
            if len(component) > 1 or v in edges[v]:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_finder_sees_cycles_and_private_names() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert ("shapecheck.errors", "ContractViolation") in {(m, n) for m, n, _ in _imports("shapecheck.spec")}


def test_no_import_cycles() -> None:
    edges = {m: {imported for imported, _, _ in _imports(m) if imported != m} for m in MODULES}
    cycles = _cycles(edges)
    detail = [
        " <-> ".join(c) + ": " + "; ".join(f"{a} -> {b}" for a in c for b in sorted(edges[a] & set(c))) for c in cycles
    ]
    assert detail == []


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        f"{MODULES[m].relative_to(PACKAGE.parent)}:{line}: {source}.{name}"
        for m in MODULES
        for source, name, line in _imports(m)
        if name.startswith("_") and not name.startswith("__") and source != m
    ]
    found += [use for m in MODULES for use in _private_uses(m)]
    assert found == []


def test_no_test_module_imports_another_test_module() -> None:
    """Shared builders live in helper modules (tests/gdn_calls.py, tests/cli_helpers.py, ...): importing a test
    module also collects its tests into the importer's namespace and ties two files' edits together."""
    tests = Path(__file__).resolve().parent
    found = [
        f"{path.name}:{node.lineno}: {node.module}"
        for path in sorted(tests.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_")
    ]
    assert found == []
