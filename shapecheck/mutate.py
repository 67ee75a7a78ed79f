"""`shapecheck mutate`: measure the property suite by the bugs it kills.

Why: a green property run only says the drawn cases agreed with the reference. Mutation testing asks the
converse question: if the kernel had a typical bug (a dropped mask, `//` for `%`, a swapped stride, an
off-by-one), would the suite notice? Each mutant is the real kernel file with ONE source edit, inside the
named function's body only, found through `ast` node positions (so the edit is exact and reproducible).
A mutant that survives the suite is either equivalent (it computes the same thing on every valid input)
or a hole in the case strategies; the report lists survivors so a person can tell which.

Each mutant runs in a fresh process (`shapecheck run --impl <mutant>.py:<wrapper> --device cpu --sanitize
...`): Triton kernels are module-level state, an out-of-bounds mutant must not corrupt the parent, and
the sanitizer turns such mutants into clean failures. Mutant files are written under the patch cache
(`shapecheck.patching.CACHE`) with the same naming as `load_source`; the child imports them with
`patching.load_file` through `--impl path.py:function`, and each mutant is also a `patching.Patch` of the
original source, so fixtures and tests can rebuild it with the same machinery the buggy variants use.

This module imports no torch/triton: the parent only parses, writes files and runs subprocesses.
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from shapecheck.errors import UsageError
from shapecheck.patching import CACHE, Patch

# --------------------------------------------------------------------------------------------------
# Source positions


class _Source:
    """A file's text with conversions from `ast` positions (1-based lines, UTF-8 byte columns) to offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode()[:col].decode())

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def seg(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line_of(self, offset: int) -> int:
        """1-based line holding `offset`."""
        lo, hi = 0, len(self.lines)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.starts[mid + 1] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return lo + 1

    def line_span(self, first: int, last: int) -> tuple[int, int]:
        """Offsets of lines first..last (1-based, inclusive), without the final newline."""
        end = self.starts[last]
        if self.text[:end].endswith("\n"):
            end -= 1
        return self.starts[first - 1], end


# --------------------------------------------------------------------------------------------------
# Mutants


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
class _Site:
    """What an operator proposes: replace text[start:end] by `text`; `node` gives the reported position."""

    node: ast.AST
    start: int
    end: int
    text: str
    variant: str = ""
    display: Optional[tuple[str, str]] = None  # (before, after) when the changed lines are too long to show


class _Function:
    """The function under mutation with what operators need to know about it."""

    def __init__(self, source: _Source, tree: ast.Module, node: ast.FunctionDef) -> None:
        self.src, self.node = source, node
        self.tl = _triton_language_aliases(tree)
        args = node.args
        self.params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        self.body_start = self.src.offset(node.body[0].lineno, node.body[0].col_offset)
        self.body_end = self.src.offset(node.end_lineno, node.end_col_offset)  # type: ignore[arg-type]

    def nodes(self) -> list[ast.AST]:
        """Every node of the body, in source order."""
        found = [n for stmt in self.node.body for n in ast.walk(stmt) if hasattr(n, "lineno")]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))  # type: ignore[attr-defined]

    def is_tl(self, node: ast.AST, *names: str) -> bool:
        """`node` is `tl.<name>` for one of `names` (tl = any alias of triton.language in the file)."""
        return (isinstance(node, ast.Attribute) and node.attr in names and isinstance(node.value, ast.Name)
                and node.value.id in self.tl)

    def tl_calls(self, *names: str) -> Iterator[ast.Call]:
        for n in self.nodes():
            if isinstance(n, ast.Call) and self.is_tl(n.func, *names):
                yield n


def _triton_language_aliases(tree: ast.Module) -> set[str]:
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found |= {a.asname or a.name for a in n.names if a.name == "triton.language" and a.asname}
        elif isinstance(n, ast.ImportFrom) and n.module == "triton":
            found |= {a.asname or a.name for a in n.names if a.name == "language"}
    return found or {"tl"}


_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)


def _operand(text: str, node: ast.AST) -> str:
    """`text` safe to splice where an operand of an arithmetic operator goes."""
    return text if isinstance(node, _ATOMS) else f"({text})"


def _replace(f: _Function, node: ast.AST, text: str, variant: str = "") -> _Site:
    start, end = f.src.span(node)
    return _Site(node, start, end, text, variant)


# --------------------------------------------------------------------------------------------------
# The catalogue. Each operator yields every site of the function body where it applies.

_TOKEN = re.compile(r"<=|>=|==|!=|//|<|>|%")


def _token_between(f: _Function, left: ast.AST, right: ast.AST, token: str) -> tuple[int, int]:
    """Offsets of operator `token` in the text between two operands (parentheses and spaces around it)."""
    lo, hi = f.src.span(left)[1], f.src.span(right)[0]
    for m in _TOKEN.finditer(f.src.text, lo, hi):
        if m.group() == token:
            return m.start(), m.end()
    raise AssertionError(f"operator {token!r} not found between operands at line {left.lineno}")  # type: ignore[attr-defined]


def op_floordiv_mod(f: _Function) -> Iterator[_Site]:
    """`a // b` <-> `a % b`: the head/sequence split of a flattened program id (n = pid // HV, j = pid % HV)."""
    swap = {ast.FloorDiv: ("//", "%", "mod"), ast.Mod: ("%", "//", "floordiv")}
    for n in f.nodes():
        if isinstance(n, ast.BinOp) and type(n.op) in swap:
            old, new, variant = swap[type(n.op)]
            start, end = _token_between(f, n.left, n.right, old)
            yield _Site(n, start, end, new, variant)


def op_comparison(f: _Function) -> Iterator[_Site]:
    """`<` <-> `<=`, `>` <-> `>=`, `==` <-> `!=`: boundary conditions of masks and guards."""
    swap = {ast.Lt: ("<", "<=", "le"), ast.LtE: ("<=", "<", "lt"), ast.Gt: (">", ">=", "ge"),
            ast.GtE: (">=", ">", "gt"), ast.Eq: ("==", "!=", "ne"), ast.NotEq: ("!=", "==", "eq")}
    for n in f.nodes():
        if isinstance(n, ast.Compare):
            left = n.left
            for op, right in zip(n.ops, n.comparators):
                if type(op) in swap:
                    old, new, variant = swap[type(op)]
                    start, end = _token_between(f, left, right, old)
                    yield _Site(n, start, end, new, variant)
                left = right


_MASK_POSITION = {"load": 1, "store": 2}  # positional index of `mask` (load: ptr, mask, other; store: ptr, value, mask)


def _mask_of(call: ast.Call) -> Optional[ast.AST]:
    name = call.func.attr  # type: ignore[attr-defined]
    for kw in call.keywords:
        if kw.arg == "mask":
            return kw.value
    pos = _MASK_POSITION[name]
    return call.args[pos] if len(call.args) > pos else None


def op_drop_mask(f: _Function) -> Iterator[_Site]:
    """Remove a load/store's `mask=` (and `other=`, which Triton refuses without a mask): the tail bug."""
    for call in f.tl_calls("load", "store"):
        if _mask_of(call) is None:
            continue
        pos = _MASK_POSITION[call.func.attr]  # type: ignore[attr-defined]
        kept = [f.src.seg(a) for a in call.args[:pos]]
        kept += [f.src.seg(kw) for kw in call.keywords if kw.arg not in ("mask", "other")]
        parts = [*call.args, *call.keywords]
        start = min(f.src.span(p)[0] for p in parts)
        end = max(f.src.span(p)[1] for p in parts)
        yield _Site(call, start, end, ", ".join(kept))


def op_invert_mask(f: _Function) -> Iterator[_Site]:
    """`mask=X` -> `mask=~(X)`: valid Triton (bitwise not of an int1 tensor), touches exactly the wrong lanes."""
    for call in f.tl_calls("load", "store"):
        mask = _mask_of(call)
        if mask is not None:
            yield _replace(f, mask, f"~({f.src.seg(mask)})")


def op_other_value(f: _Function) -> Iterator[_Site]:
    """`other=0.0` -> `other=1.0` (a non-zero constant -> 0.0): does the padding value of masked lanes matter?"""
    for call in f.tl_calls("load"):
        for kw in call.keywords:
            if kw.arg == "other" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, (int, float)):
                yield _replace(f, kw.value, "1.0" if kw.value.value == 0 else "0.0")


def _range_call(f: _Function, node: ast.AST) -> Optional[ast.Call]:
    if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and node.iter.args:
        func = node.iter.func
        if (isinstance(func, ast.Name) and func.id == "range") or f.is_tl(func, "range", "static_range"):
            return node.iter
    return None


def op_loop_bound(f: _Function) -> Iterator[_Site]:
    """`range(a, b)` -> `range(a, b - 1)` / `range(a + 1, b)`: a loop that skips its last or first step."""
    for n in f.nodes():
        call = _range_call(f, n)
        if call is None:
            continue
        if len(call.args) == 1:
            stop, start = call.args[0], None
        else:
            start, stop = call.args[0], call.args[1]
        yield _replace(f, stop, f"{_operand(f.src.seg(stop), stop)} - 1", "end-1")
        if start is None:
            begin = f.src.span(stop)[0]
            yield _Site(call, begin, begin, "1, ", "start+1")
        else:
            yield _replace(f, start, f"{_operand(f.src.seg(start), start)} + 1", "start+1")


def op_off_by_one(f: _Function) -> Iterator[_Site]:
    """`ptr` -> `ptr + 1` in every load/store, and `x + 1` / `x - 1` -> `x` anywhere in the index math."""
    for n in f.nodes():
        if isinstance(n, ast.Call) and f.is_tl(n.func, "load", "store") and n.args:
            ptr = n.args[0]
            text = f.src.seg(ptr)
            if isinstance(ptr, (ast.IfExp, ast.BoolOp, ast.Compare, ast.NamedExpr, ast.Lambda)):
                text = f"({text})"
            yield _replace(f, ptr, f"{text} + 1", "ptr+1")
        elif (isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)) and isinstance(n.right, ast.Constant)
              and type(n.right.value) is int and n.right.value == 1):
            yield _replace(f, n, f.src.seg(n.left), "drop+1" if isinstance(n.op, ast.Add) else "drop-1")


def op_exp_base(f: _Function) -> Iterator[_Site]:
    """`tl.exp` <-> `tl.exp2`, `tl.log` <-> `tl.log2`: the base-2 fast path without its log2(e) factor."""
    swap = {"exp": "exp2", "exp2": "exp", "log": "log2", "log2": "log"}
    for call in f.tl_calls(*swap):
        attr = call.func.attr  # type: ignore[attr-defined]
        end = f.src.span(call.func)[1]
        yield _Site(call, end - len(attr), end, swap[attr], swap[attr])


def op_sigmoid_identity(f: _Function) -> Iterator[_Site]:
    """`tl.sigmoid(x)` -> `x`: a gate used raw."""
    for call in f.tl_calls("sigmoid"):
        if len(call.args) == 1:
            yield _replace(f, call, _operand(f.src.seg(call.args[0]), call.args[0]))


_STRIDE = re.compile(r"^(s|stride)_\w+$")


def _stride_groups(params: Sequence[str]) -> dict[str, list[str]]:
    """Stride parameter -> the strides of the same tensor, in signature order.

    A tensor's strides are consecutive parameters whose names differ only in their last character
    (`s_qb, s_qt, s_qh`); consecutive strides that have no such sibling form one group together
    (`s_slot, s_head, s_row`).
    """
    strides = [p for p in params if _STRIDE.match(p)]
    key = {p: p[:-1] for p in strides}
    lonely = {p for p in strides if sum(key[q] == key[p] for q in strides) == 1}
    groups: list[list[str]] = []
    for i, p in enumerate(strides):
        adjacent = i > 0 and params.index(strides[i - 1]) == params.index(p) - 1
        same = adjacent and (key[strides[i - 1]] == key[p] or (strides[i - 1] in lonely and p in lonely))
        if same:
            groups[-1].append(p)
        else:
            groups.append([p])
    return {p: g for g in groups for p in g}


def op_stride(f: _Function) -> Iterator[_Site]:
    """A use of stride `s_X` replaced by its neighbour of the same tensor (the next one; the last: previous).

    In a wrapper, the launch site instead: two adjacent `x.stride(i)` arguments of one tensor swapped.
    """
    groups = _stride_groups(f.params)
    for n in f.nodes():
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and len(groups.get(n.id, [])) > 1:
            group = groups[n.id]
            i = group.index(n.id)
            other = group[i + 1] if i + 1 < len(group) else group[i - 1]
            yield _replace(f, n, other, other)
    for n in f.nodes():
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Subscript):  # kernel[grid](...)
            for a, b in zip(n.args, n.args[1:]):
                if _is_stride_call(a) and _is_stride_call(b) and ast.dump(a.func) == ast.dump(b.func):  # type: ignore[attr-defined]
                    start, end = f.src.span(a)[0], f.src.span(b)[1]
                    between = f.src.text[f.src.span(a)[1]:f.src.span(b)[0]]
                    yield _Site(a, start, end, f.src.seg(b) + between + f.src.seg(a), "launch")


def _is_stride_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stride"
            and len(node.args) == 1)


_CASTS = ("float32", "float64", "int64")


def op_drop_cast(f: _Function) -> Iterator[_Site]:
    """`x.to(tl.float32)` / `x.to(tl.int64)` -> `x`: arithmetic in the input's precision, offsets in int32.

    Casts to `ptr.dtype.element_ty` before a store are left alone: `tl.store` casts to the pointee anyway.
    """
    for n in f.nodes():
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "to" and len(n.args) == 1
                and f.is_tl(n.args[0], *_CASTS)):
            yield _replace(f, n, f.src.seg(n.func.value), n.args[0].attr)  # type: ignore[attr-defined]


def op_drop_where(f: _Function) -> Iterator[_Site]:
    """`tl.where(c, x, y)` -> `x` / `y`: a branch (threshold, guard) taken always."""
    for call in f.tl_calls("where"):
        if len(call.args) == 3:
            for variant, arg in (("x", call.args[1]), ("y", call.args[2])):
                yield _replace(f, call, _operand(f.src.seg(arg), arg), variant)


def op_drop_clamp(f: _Function) -> Iterator[_Site]:
    """`tl.maximum(x, lo)` / `tl.minimum(x, hi)` -> `x`: a clamp that guards an index or a pointer."""
    for call in f.tl_calls("maximum", "minimum"):
        if len(call.args) == 2:
            yield _replace(f, call, _operand(f.src.seg(call.args[0]), call.args[0]))


def op_epsilon(f: _Function) -> Iterator[_Site]:
    """A tiny float constant (0 < |c| < 1e-3, e.g. the `1e-6` of a norm) -> `0.0`: is the guard ever needed?"""
    for n in f.nodes():
        if isinstance(n, ast.Constant) and type(n.value) is float and 0 < abs(n.value) < 1e-3:
            yield _replace(f, n, "0.0")


def _assigned(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _blocks(node: ast.AST) -> Iterator[list[ast.stmt]]:
    for n in ast.walk(node):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(n, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def op_store_before_update(f: _Function) -> Iterator[_Site]:
    """Move a store, or the statement computing a stored value, above the update it should follow.

    Two forms, both within one block: a `tl.store` statement moved above the nearest earlier statement
    that re-assigns a name the store reads (the final state store hoisted above the loop that updates it);
    and `o = f(h)`, whose result a later store writes, moved above the nearest earlier re-assignment of
    a name it reads (the output computed from the state before the update). "Re-assignment": the name is
    also bound earlier (or is a parameter), so the mutant runs instead of failing with a NameError.
    """

    def defined_before(name: str, stmt: ast.stmt) -> bool:
        if name in f.params:
            return True
        return any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == name
                   and n.lineno < stmt.lineno for n in ast.walk(f.node))

    def is_store(stmt: ast.stmt) -> bool:
        return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                and f.is_tl(stmt.value.func, "store"))

    def move(block: list[ast.stmt], i: int) -> Optional[_Site]:
        stmt = block[i]
        needs = _read(stmt)
        for p in range(i - 1, -1, -1):
            hit = _assigned(block[p]) & needs
            if hit:
                if not all(defined_before(name, block[p]) for name in hit):
                    return None
                start = f.src.starts[block[p].lineno - 1]
                m_start, m_end = f.src.line_span(stmt.lineno, stmt.end_lineno)  # type: ignore[arg-type]
                moved = f.src.text[m_start:m_end]
                rest = f.src.text[start:m_start]  # the skipped statements and any comments, whole lines
                jumped = f.src.lines[block[p].lineno - 1].strip()
                display = (f"{jumped}  ...  {moved.strip()}", f"{moved.strip()}  ...  {jumped}")
                return _Site(stmt, start, m_end, moved + "\n" + rest.removesuffix("\n"), "", display)
        return None

    for block in _blocks(f.node):
        stores = [s for s in block if is_store(s)]
        for i, stmt in enumerate(block):
            if stmt in stores:
                site = move(block, i)
            elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                  and any(stmt.targets[0].id in _read(s) for s in stores if s.lineno > stmt.lineno)):
                site = move(block, i)
            else:
                continue
            if site is not None:
                yield site


OPERATORS: dict[str, Callable[[_Function], Iterable[_Site]]] = {
    "floordiv-mod": op_floordiv_mod,
    "drop-mask": op_drop_mask,
    "invert-mask": op_invert_mask,
    "loop-bound": op_loop_bound,
    "off-by-one": op_off_by_one,
    "exp-base": op_exp_base,
    "sigmoid-identity": op_sigmoid_identity,
    "stride": op_stride,
    "drop-cast": op_drop_cast,
    "store-before-update": op_store_before_update,
    "drop-where": op_drop_where,
    "drop-clamp": op_drop_clamp,
    "comparison": op_comparison,
    "epsilon": op_epsilon,
    "other-value": op_other_value,
}


# --------------------------------------------------------------------------------------------------
# Targets and generation


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
    tree = _parse(source, spec)
    _find_function(tree, function, spec)
    return Target(path, function, source)


def _parse(source: str, spec: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"{spec}: cannot parse: {exc.msg} (line {exc.lineno})") from None


def _find_function(tree: ast.Module, name: str, spec: str) -> ast.FunctionDef:
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
    tree = _parse(source, spec)
    names = []
    for n in tree.body:
        if isinstance(n, ast.FunctionDef):
            for d in n.decorator_list:
                call = d.func if isinstance(d, ast.Call) else d
                if (isinstance(call, ast.Name) and call.id == "contract") or (
                        isinstance(call, ast.Attribute) and call.attr == "contract"):
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


def _to_patch(src: _Source, start: int, end: int, text: str) -> tuple[Patch, str, str]:
    """The edit as a Patch of whole lines (unique by occurrence), and the changed lines before/after."""
    first, last = src.line_of(start), src.line_of(max(start, end - 1) if end > start else start)
    ls, le = src.line_span(first, last)
    old = src.text[ls:le]
    new = old[: start - ls] + text + old[end - ls:]
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
    src = _Source(target.source)
    tree = _parse(target.source, target.spec)
    fn = _Function(src, tree, _find_function(tree, target.function, target.spec))
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
            line, col = site.node.lineno, src.offset(site.node.lineno, site.node.col_offset) - src.starts[site.node.lineno - 1] + 1  # type: ignore[attr-defined]
            before, after = site.display or (_squash(old), _squash(new))
            mutants.append(Mutant(name, site.variant, line, col, before, after, patch))
    mutants.sort(key=lambda m: (m.line, m.col, list(OPERATORS).index(m.operator), m.variant))
    return mutants


# --------------------------------------------------------------------------------------------------
# Running


KILLED, CRASH, TIMEOUT, SURVIVED, ERROR = "killed", "crash", "timeout", "survived", "error"
_KILLS = (KILLED, CRASH, TIMEOUT)
_FINDINGS = ("MemoryViolation", "ContractViolation", "DtypeViolation")  # a raise the suite reports as a kill


@dataclasses.dataclass
class Result:
    """What the property suite did to one mutant (or to the unmutated file: the baseline)."""

    mutant: Optional[Mutant]
    status: str  # killed | crash | timeout | survived | error
    message: str  # first problem of the run's JSON report (or why the run failed)
    seconds: float
    returncode: Optional[int]
    file: str
    reproduce: Optional[str] = None
    equivalent: bool = False

    @property
    def killed(self) -> bool:
        return self.status in _KILLS

    def as_dict(self) -> dict[str, Any]:
        m = self.mutant
        head = {} if m is None else {"id": m.id, "operator": m.operator, "variant": m.variant, "line": m.line,
                                     "col": m.col, "before": m.before, "after": m.after}
        return {**head, "status": self.status, "killed": self.killed, "equivalent": self.equivalent,
                "message": self.message, "seconds": round(self.seconds, 2), "returncode": self.returncode,
                "file": self.file, "reproduce": self.reproduce}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How each mutant is run: the wrapper the suite calls and the suite's budget."""

    impl_function: str
    examples: int = 60
    seed: int = 0
    timeout: float = 600.0
    directory: Path = CACHE


def write_source(source: str, label: str, directory: Path = CACHE) -> Path:
    """Write a (mutated) source where `patching.load_source` would, named by label and content hash."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"_shapecheck_{re.sub(r'[^0-9A-Za-z_]', '_', label)}_{digest}.py"
    if not path.exists() or path.read_text() != source:
        path.write_text(source)
    # Relative to the working directory (the child's too) when possible: `shapecheck run` prints the
    # --impl name inside rich markup, where an absolute path "[/...]" reads as a closing tag.
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve()


def run_command(file: Path, config: RunConfig, json_path: Path) -> list[str]:
    """The `shapecheck run` invocation of one mutant (the CLI module run as a fresh interpreter)."""
    return [sys.executable, "-m", "shapecheck.cli", "run", "--impl", f"{file}:{config.impl_function}", "--device", "cpu",
            "--no-db", "--sanitize", "--examples", str(config.examples), "--seed", str(config.seed),
            "--json", str(json_path)]


def _environment(original: Path) -> dict[str, str]:
    """The child finds the project (cwd first) and, last, the original file's folder for sibling imports."""
    paths = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)),
             str(original.resolve().parent)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "COLUMNS": "200"}


def run_source(source: str, label: str, mutant: Optional[Mutant], original: Path, config: RunConfig) -> Result:
    """Run the property suite on `source` in a fresh process and classify the outcome."""
    file = write_source(source, label, config.directory)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shapecheck-mutate-") as tmp:
        json_path = Path(tmp) / "report.json"
        try:
            proc = subprocess.run(run_command(file, config, json_path), env=_environment(original),
                                  capture_output=True, text=True, timeout=config.timeout)
        except subprocess.TimeoutExpired:
            return Result(mutant, TIMEOUT, f"timed out after {config.timeout:g} s", time.perf_counter() - start,
                          None, str(file))
        seconds = time.perf_counter() - start
        report = json.loads(json_path.read_text()) if json_path.exists() else None
    return _classify(mutant, proc, report, seconds, str(file))


def _classify(mutant: Optional[Mutant], proc: subprocess.CompletedProcess[str], report: Optional[dict[str, Any]],
              seconds: float, file: str) -> Result:
    stderr_line = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "")
    if proc.returncode == 0 and report is not None and report["held"]:
        cases = sum(c["cases"] for c in report["contracts"])
        return Result(mutant, SURVIVED, f"held on {cases} cases", seconds, 0, file)
    if proc.returncode == 1 and report is not None:
        failure = next((c["failure"] for c in report["contracts"] if c["failure"]), None)
        if failure is not None:
            problem = failure["problems"][0] if failure["problems"] else "violated"
            raised = re.match(r"kernel raised (\w+)", problem)
            status = CRASH if raised and raised.group(1) not in _FINDINGS else KILLED
            return Result(mutant, status, problem, seconds, 1, file, failure.get("reproduce"))
    if proc.returncode == 2 and "cannot import" in stderr_line:
        return Result(mutant, CRASH, stderr_line.removeprefix("shapecheck: error: "), seconds, 2, file)
    return Result(mutant, ERROR, f"exit {proc.returncode}: {stderr_line or 'no JSON report'}", seconds,
                  proc.returncode, file)


def run_mutants(target: Target, mutants: Sequence[Mutant], config: RunConfig, jobs: int = 2,
                on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Run every mutant, `jobs` processes at a time; results in the order of `mutants`."""
    stem = target.path.stem

    def one(m: Mutant) -> Result:
        result = run_source(m.apply(target.source), f"mutant_{stem}", m, target.path, config)
        on_result(result)
        return result

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, mutants))


def baseline(target: Target, config: RunConfig) -> Result:
    """The unmutated file through the same command: it must hold, or every kill would be meaningless."""
    return run_source(target.source, f"mutant_{target.path.stem}_original", None, target.path, config)


# --------------------------------------------------------------------------------------------------
# Report


@dataclasses.dataclass
class Summary:
    """Counts behind the score line; `equivalent` survivors are excluded from the non-equivalent score."""

    total: int
    killed: int
    crashes: int
    timeouts: int
    survived: int
    errors: int
    equivalent: int

    @classmethod
    def of(cls, results: Sequence[Result]) -> "Summary":
        count = lambda *s: sum(r.status in s for r in results)  # noqa: E731
        return cls(len(results), count(*_KILLS), count(CRASH), count(TIMEOUT), count(SURVIVED), count(ERROR),
                   sum(r.equivalent for r in results))

    def line(self) -> str:
        pct = lambda a, b: f"{100 * a / b:.1f}%" if b else "n/a"  # noqa: E731
        text = f"mutation score: {self.killed}/{self.total} killed ({pct(self.killed, self.total)})"
        relevant = self.total - self.equivalent
        text += (f"; non-equivalent: {self.killed}/{relevant} ({pct(self.killed, relevant)}), "
                 f"{self.equivalent} marked equivalent" if self.equivalent else "; none marked equivalent")
        text += f"; {self.crashes} killed by a crash, {self.timeouts} by timeout"
        if self.survived - self.equivalent:
            text += f"; {self.survived - self.equivalent} survived (equivalent mutant or hole in the strategies)"
        if self.errors:
            text += f"; {self.errors} could not be run"
        return text

    @property
    def clean(self) -> bool:
        """Every mutant killed, or survived but marked equivalent; nothing failed to run."""
        return self.errors == 0 and self.survived == self.equivalent


def mark_equivalent(results: Sequence[Result], ids: Iterable[str], all_ids: Iterable[str]) -> None:
    """Flag survivors a person judged equivalent; an id that names no mutant is a usage error (stale list)."""
    wanted = set(ids)
    stale = sorted(wanted - set(all_ids))
    if stale:
        raise UsageError(f"--equivalent {stale[0]}: no such mutant (see --list)")
    for r in results:
        r.equivalent = r.mutant is not None and r.mutant.id in wanted and r.status == SURVIVED


def report_dict(target: Target, config: RunConfig, base: Optional[Result], results: Sequence[Result],
                seconds: float, jobs: int) -> dict[str, Any]:
    summary = Summary.of(results)
    example = run_command(Path("<mutant>.py"), config, Path("<report>.json"))
    return {
        "target": target.spec,
        "impl_function": config.impl_function,
        "command": "shapecheck " + " ".join(example[3:]),
        "examples": config.examples,
        "seed": config.seed,
        "jobs": jobs,
        "seconds": round(seconds, 1),
        "score": dataclasses.asdict(summary),
        "score_line": summary.line(),
        "baseline": None if base is None else base.as_dict(),
        "mutants": [r.as_dict() for r in results],
    }


def table(results: Sequence[Result], title: str) -> Any:
    """A rich table, one row per mutant (survivors in bold red)."""
    from rich.markup import escape
    from rich.table import Table

    styles = {KILLED: "green", CRASH: "yellow", TIMEOUT: "yellow", SURVIVED: "bold red", ERROR: "magenta"}
    t = Table(title=escape(title), title_justify="left")
    t.add_column("mutant", no_wrap=True)
    t.add_column("before → after", overflow="fold", ratio=3)
    t.add_column("status", no_wrap=True)
    t.add_column("first problem", overflow="fold", ratio=2)
    t.add_column("time", no_wrap=True, justify="right")
    for r in results:
        m = r.mutant
        assert m is not None
        status = "killed (crash)" if r.status == CRASH else "killed (timeout)" if r.status == TIMEOUT else r.status
        if r.equivalent:
            status += " (equivalent)"
        message = r.message if len(r.message) <= 90 else r.message[:87] + "..."
        t.add_row(escape(m.id), escape(f"{m.before}  →  {m.after}"), f"[{styles[r.status]}]{status}[/]",
                  escape(message), f"{r.seconds:.1f} s")
    return t


# --------------------------------------------------------------------------------------------------
# The command


def main(spec: str, impl_function: Optional[str] = None, operators: Optional[Sequence[str]] = None,
         examples: int = 60, seed: int = 0, jobs: int = 2, timeout: float = 600.0,
         json_path: Optional[Path] = None, equivalent: Sequence[str] = (), list_only: bool = False) -> int:
    """`shapecheck mutate`: 0 every mutant killed (or marked equivalent), 1 a survivor; UsageError -> 2."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out, err = Console(), Console(stderr=True)
    if jobs < 1 or examples < 1:
        raise UsageError("--jobs and --examples must be at least 1")
    target = parse_target(spec)
    wrapper = impl_function or contract_function(target.source, spec)
    if not any(isinstance(n, ast.FunctionDef) and n.name == wrapper for n in ast.parse(target.source).body):
        raise UsageError(f"--impl-function {wrapper}: no top-level function {wrapper!r} in {target.path}")
    everything = generate(target)
    mutants = everything if operators is None else generate(target, operators)
    if not mutants:
        raise UsageError(f"{spec}: no mutation site for operators {', '.join(operators or OPERATORS)}")
    if list_only:
        for m in mutants:
            out.print(f"{m.id}  {m.before}  →  {m.after}", markup=False, soft_wrap=True)
        out.print(f"{len(mutants)} mutants", markup=False)
        return 0
    ids = [m.id for m in everything]
    mark_equivalent([], equivalent, ids)  # reject a stale id before spending minutes
    config = RunConfig(wrapper, examples, seed, timeout)
    start = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[survived]} survived"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("baseline (unmutated)", total=1, survived=0)
        base = baseline(target, config)
        if base.status != SURVIVED:
            raise UsageError(f"the unmutated {target.spec} does not pass the suite through {wrapper} "
                             f"({base.status}: {base.message}); mutation results would mean nothing")
        progress.update(task, description=f"mutants of {target.function}", total=len(mutants), completed=0)

        def done(result: Result) -> None:
            progress.update(task, advance=1, survived=progress.tasks[task].fields["survived"]
                            + (result.status == SURVIVED))

        results = run_mutants(target, mutants, config, jobs, done)
    seconds = time.perf_counter() - start
    mark_equivalent(results, equivalent, ids)
    summary = Summary.of(results)
    out.print(table(results, f"mutants of {target.spec} (suite: {wrapper}, {examples} examples, seed {seed})"))
    survivors = [r for r in results if r.status == SURVIVED and not r.equivalent]
    if survivors:
        out.print("[bold red]Survivors[/] (each is an equivalent mutant or a hole in the case strategies):")
        for r in survivors:
            out.print(f"  {escape(r.mutant.id)}: {escape(r.mutant.before)}  →  {escape(r.mutant.after)}",  # type: ignore[union-attr]
                      soft_wrap=True)
    broken = [r for r in results if r.status == ERROR]
    for r in broken:
        err.print(f"could not run {r.mutant.id}: {r.message}", markup=False, soft_wrap=True)  # type: ignore[union-attr]
    out.print(escape(summary.line()) + f" in {seconds:.0f} s ({jobs} jobs, baseline {base.seconds:.0f} s)",
              soft_wrap=True)
    if json_path is not None:
        json_path.write_text(json.dumps(report_dict(target, config, base, results, seconds, jobs), indent=2))
    return 0 if summary.clean else 1
