"""Shapes an unannotated wrapper states about its own inputs: `B, T, H, K = k.shape`, `*k.shape`,
`v.shape[2]`, `x.size(-1)`, `len(cu_seqlens) - 1`.

Upstream wrappers rarely annotate, but they unpack: each unpack line names the axes of one parameter.
A full unpack fixes the rank; indexed axes alone give the least rank with no two names on one axis (an
assumption, said so in the note), and an axis never read takes the name of the same axis of the tensor
unpacked in full in the same statement (else the first one unpacked in full) when ranks agree
(`B, T, H, K, V = *k.shape, v.shape[-1]` with `HV = v.shape[2]` reads v as `[B, T, HV, V]`); a parameter with an axis nobody names, or whose rank only the indices suggest, is left unknown.
`N = len(x) - 1` declares `x` as `[N+1]`. Unpacks after a parameter is rebound are not read.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterator, Optional

from shapecheck.static.signature import Axis, Declared
from shapecheck.static.source import FunctionNode


@dataclasses.dataclass
class _Axes:
    rank: Optional[int] = None
    names: dict[int, str] = dataclasses.field(default_factory=dict)  # axis (may be negative) -> name
    full: tuple[str, ...] = ()
    lines: set[int] = dataclasses.field(default_factory=set)
    companion: Optional[str] = None  # parameter unpacked in full in the same statement


@dataclasses.dataclass(frozen=True)
class Inferred:
    declared: Declared
    note: str


def _shape_of(node: ast.expr, params: set[str]) -> Optional[str]:
    """`P.shape` or `P.size()` for a parameter P."""
    if isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.value, ast.Name):
        return node.value.id if node.value.id in params else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "size"
        and not node.args
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in params
    ):
        return node.func.value.id
    return None


def _axis_of(node: ast.expr, params: set[str]) -> Optional[tuple[str, int]]:
    """`P.shape[i]` / `P.size(i)` as (P, i)."""
    if isinstance(node, ast.Subscript):
        owner = _shape_of(node.value, params)
        index = node.slice
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "size"
        and len(node.args) == 1
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in params
    ):
        owner, index = node.func.value.id, node.args[0]
    else:
        return None
    if (
        isinstance(index, ast.UnaryOp)
        and isinstance(index.op, ast.USub)
        and isinstance(index.operand, ast.Constant)
        and type(index.operand.value) is int
    ):
        index = ast.Constant(-index.operand.value)
    if owner is None or not (isinstance(index, ast.Constant) and type(index.value) is int):
        return None
    return owner, index.value


def _assignments(body: list[ast.stmt]) -> Iterator[ast.Assign]:
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            yield stmt
        for field in ("body", "orelse", "finalbody"):
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _assignments(getattr(stmt, field, []) or [])


def _names(target: ast.expr) -> Optional[list[str]]:
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        return [e.id for e in target.elts]  # type: ignore[attr-defined]  # all Names: tested above
    return None


class _Reader:
    def __init__(self, params: set[str]) -> None:
        self.params = params
        self.axes: dict[str, _Axes] = {}

    def _of(self, name: str, line: int) -> _Axes:
        axes = self.axes.setdefault(name, _Axes())
        axes.lines.add(line)
        return axes

    def _full(self, owner: str, names: list[str], line: int) -> None:
        axes = self._of(owner, line)
        if axes.rank is None:
            axes.rank, axes.full = len(names), tuple(names)

    def _one(self, target: str, value: ast.expr, line: int) -> None:
        found = _axis_of(value, self.params)
        if found is not None:
            self._of(found[0], line).names.setdefault(found[1], target)
            return
        for node in (value.body, value.orelse) if isinstance(value, ast.IfExp) else (value,):
            # `N = len(x) - 1`, also as a branch of `B if ... else len(x) - 1`
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Sub)
                and _len_of(node.left, self.params)
                and isinstance(node.right, ast.Constant)
                and node.right.value == 1
            ):
                self._of(_len_of(node.left, self.params), line).names.setdefault(0, f"{target}+1")  # type: ignore[arg-type]  # _len_of is not None: tested above
        owner = _len_of(value, self.params)
        if owner is not None:
            self._of(owner, line).names.setdefault(0, target)

    def read(self, stmt: ast.Assign) -> None:
        """One assignment; a parameter it rebinds is no longer read (its later `.shape` is another tensor's)."""
        line = stmt.lineno
        self._read(stmt, line)
        for target in stmt.targets:
            self.params -= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}

    def _read(self, stmt: ast.Assign, line: int) -> None:
        for target in stmt.targets:
            names = _names(target)
            if isinstance(target, ast.Name):
                self._one(target.id, stmt.value, line)
            elif names is not None and _shape_of(stmt.value, self.params):
                self._full(_shape_of(stmt.value, self.params), names, line)  # type: ignore[arg-type]  # not None: tested above
            elif names is not None and isinstance(stmt.value, (ast.Tuple, ast.List)):
                self._tuple(names, stmt.value.elts, line)

    def _tuple(self, names: list[str], elts: list[ast.expr], line: int) -> None:
        stars = [i for i, e in enumerate(elts) if isinstance(e, ast.Starred)]
        if len(stars) > 1 or (not stars and len(elts) != len(names)):
            return
        width = len(names) - len(elts) + 1 if stars else 1
        if width < 0:
            return
        position, full = 0, None
        pending: list[tuple[str, ast.expr]] = []
        for elt in elts:
            if isinstance(elt, ast.Starred):
                owner = _shape_of(elt.value, self.params)
                if owner is not None:
                    self._full(owner, names[position : position + width], line)
                    full = owner
                position += width
            else:
                pending.append((names[position], elt))
                position += 1
        for name, elt in pending:
            found = _axis_of(elt, self.params)
            self._one(name, elt, line)
            if found is not None and full is not None and found[0] != full:
                self.axes[found[0]].companion = full


def _len_of(node: ast.expr, params: set[str]) -> Optional[str]:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id in params
    ):
        return node.args[0].id
    return None


def _least_rank(names: dict[int, str]) -> int:
    """The least rank at which no positive and negative index put two names on one axis."""
    positive = [i for i in names if i >= 0]
    negative = [-i for i in names if i < 0]
    rank = max([i + 1 for i in positive] + negative + [1])
    while any((rank - n) in names and names[rank - n] != names[-n] for n in negative):
        rank += 1
    return rank


def _pattern(name: str, axes: _Axes, reader: _Reader) -> Optional[tuple[tuple[Axis, ...], str]]:
    lines = ", ".join(map(str, sorted(axes.lines)))
    where = f"line{'s' * (len(axes.lines) > 1)} {lines}"
    if axes.rank is not None:
        return tuple(axes.full), f"inferred from {where}"
    rank = _least_rank(axes.names)
    pattern: list[Axis] = ["_"] * rank
    for i, n in axes.names.items():
        pattern[i if i >= 0 else rank + i] = n
    companion = reader.axes.get(axes.companion) if axes.companion else None
    if companion is None or companion.rank != rank:  # else the first tensor unpacked in full with this rank
        named = [(n, a) for n, a in reader.axes.items() if a.rank == rank and n != name]
        axes.companion, companion = named[0] if named else (None, None)
    borrowed = []
    if companion is not None and companion.rank == rank:
        for i, a in enumerate(pattern):
            if a == "_":
                pattern[i] = companion.full[i]
                borrowed.append(str(i))
    note = f"inferred from {where}; rank {rank} assumed (the least that fits the axes read)"
    if borrowed:
        note += f", axes {', '.join(borrowed)} named after {axes.companion}'s (unpacked in full)"
    offsets = all(n.endswith("+1") for n in axes.names.values()) and set(axes.names) == {0}
    if "_" in pattern or not (borrowed or offsets):  # an axis nobody names, or a rank nothing supports
        return None
    return tuple(pattern), note


def shapes_from_code(fn: FunctionNode, params: list[str], optional: set[str]) -> dict[str, Inferred]:
    """Each parameter's shape as the body's unpack lines state it (parameters the body never unpacks are absent)."""
    reader = _Reader(set(params))
    for stmt in _assignments(fn.body):
        reader.read(stmt)
    found: dict[str, Inferred] = {}
    for name in params:
        axes = reader.axes.get(name)
        if axes is None or (axes.rank is None and not axes.names):
            continue
        read = _pattern(name, axes, reader)
        if read is not None:
            found[name] = Inferred(Declared((read[0],), name in optional), read[1])
    return found
