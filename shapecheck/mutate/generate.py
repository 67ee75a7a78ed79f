"""Targets (`FILE::FUNCTION`) and mutant generation: every operator site of the function body, as a patch.

Each mutant is the real file with ONE source edit inside the named function's body only, expressed as a
`patching.Patch` of whole lines (exact text, n-th occurrence), so fixtures and tests can rebuild it with
the same machinery the buggy variants use. Mutants identical to the original or to an earlier one are
dropped; each mutated file must parse.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Optional, Sequence

from shapecheck.errors import UsageError
from shapecheck.mutate.operators import OPERATORS
from shapecheck.mutate.source import Function, Source
from shapecheck.patching import Patch


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One edit of the target function, as a `Patch` of the whole file (exact text, n-th occurrence)."""

    operator: str
    variant: str  # which of an operator's edits at this site ("" when it has one)
    line: int  # 1-based position of the mutated node in the original file
    col: int  # 1-based, in characters
    before: str  # the original line(s), stripped: what the diff removes
    after: str  # the mutated line(s), stripped: what it adds
    patch: Patch

    @property
    def id(self) -> str:
        """Stable name for reports and `--equivalent`: operator@line:col[/variant] (shell-safe)."""
        return f"{self.operator}@{self.line}:{self.col}" + (f"/{self.variant}" if self.variant else "")

    def apply(self, source: str) -> str:
        return self.patch.apply(source)


@dataclasses.dataclass(frozen=True)
class Target:
    """`FILE::FUNCTION`, parsed: the file's text and the function to mutate."""

    path: Path
    function: str
    source: str

    @property
    def spec(self) -> str:
        return f"{self.path}::{self.function}"


def parse_target(spec: str) -> Target:
    """Read `FILE::FUNCTION`; UsageError (exit 2) when malformed, missing, unparsable or not found."""
    file, sep, function = spec.rpartition("::")
    if not sep or not file or not function or not function.isidentifier():
        raise UsageError(f"target must look like path/to/file.py::function, found {spec!r}")
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"{spec}: no file {file}")
    source = path.read_text()
    tree = parse(source, spec)
    find_function(tree, function, spec)
    return Target(path, function, source)


def parse(source: str, spec: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"{spec}: cannot parse: {exc.msg} (line {exc.lineno})") from None


def find_function(tree: ast.Module, name: str, spec: str) -> ast.FunctionDef:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not found:
        found = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name]
    if not found:
        raise UsageError(f"{spec}: no function {name!r} in the file")
    return found[0]


def contract_function(source: str, spec: str = "") -> str:
    """The function the property suite calls: the one decorated with `@contract(...)` (any `x.contract`).

    A function given `fn.__contract__ = ...` by assignment counts as well. UsageError unless exactly one.
    """
    tree = parse(source, spec)
    names = []
    for n in tree.body:
        if isinstance(n, ast.FunctionDef):
            for d in n.decorator_list:
                call = d.func if isinstance(d, ast.Call) else d
                if (isinstance(call, ast.Name) and call.id == "contract") or (
                    isinstance(call, ast.Attribute) and call.attr == "contract"
                ):
                    names.append(n.name)
        elif isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Attribute) and t.attr == "__contract__" and isinstance(t.value, ast.Name):
                    names.append(t.value.id)
    names = list(dict.fromkeys(names))
    if len(names) != 1:
        what = "no function" if not names else f"{len(names)} functions ({', '.join(names)})"
        raise UsageError(f"{spec or 'file'}: {what} carries @contract(...); name the wrapper with --impl-function")
    return names[0]


def _to_patch(src: Source, start: int, end: int, text: str) -> tuple[Patch, str, str]:
    """The edit as a Patch of whole lines (unique by occurrence), and the changed lines before/after."""
    first, last = src.line_of(start), src.line_of(max(start, end - 1) if end > start else start)
    ls, le = src.line_span(first, last)
    old = src.text[ls:le]
    new = old[: start - ls] + text + old[end - ls :]
    occurrence, pos = 0, src.text.find(old)
    while 0 <= pos < ls:
        occurrence += 1
        pos = src.text.find(old, pos + 1)
    patch = Patch(old, new, occurrence)
    assert patch.apply(src.text) == src.text[:start] + text + src.text[end:], "patch does not reproduce the edit"
    return patch, old, new


def _squash(text: str) -> str:
    return " ⏎ ".join(line.strip() for line in text.splitlines() if line.strip())


def generate(target: Target, operators: Optional[Sequence[str]] = None) -> list[Mutant]:
    """Every mutant of the target function's body, in source order, one per (operator, site, variant).

    Mutants identical to the original or to an earlier mutant are dropped; each mutated file must parse.
    """
    chosen = list(OPERATORS) if operators is None else list(operators)
    unknown = [o for o in chosen if o not in OPERATORS]
    if unknown:
        raise UsageError(f"unknown operator {unknown[0]!r}; known: {', '.join(OPERATORS)}")
    src = Source(target.source)
    tree = parse(target.source, target.spec)
    fn = Function(src, tree, find_function(tree, target.function, target.spec))
    mutants: list[Mutant] = []
    seen = {target.source}
    for name in chosen:
        for site in OPERATORS[name](fn):
            if not (fn.body_start <= site.start <= site.end <= fn.body_end):
                continue  # only the body: never the signature, decorators or another function
            patch, old, new = _to_patch(src, site.start, site.end, site.text)
            mutated = patch.apply(target.source)
            if mutated in seen:
                continue
            seen.add(mutated)
            ast.parse(mutated)  # an operator producing invalid syntax is a bug here, not a killed mutant
            line, start = site.node.lineno, site.node.col_offset  # type: ignore[attr-defined]  # expr/stmt nodes
            col = src.offset(line, start) - src.starts[line - 1] + 1
            before, after = site.display or (_squash(old), _squash(new))
            mutants.append(Mutant(name, site.variant, line, col, before, after, patch))
    mutants.sort(key=lambda m: (m.line, m.col, list(OPERATORS).index(m.operator), m.variant))
    return mutants
