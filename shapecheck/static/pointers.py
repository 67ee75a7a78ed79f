"""SC006: in a Triton kernel, a value loaded from memory multiplied into a pointer offset without an int64 cast.

`slot = tl.load(indices + n)` is int32 when the index tensor is, so `pool + slot * stride` multiplies in
int32 and wraps once `slot * stride` reaches 2**31 elements: the state-pool overflow seen upstream. The
rule follows loaded values through assignments, arithmetic and calls (a taint, flow-sensitive in straight
code, joined at branches, iterated over loops), clears it at `.to(tl.int64)` or `tl.cast(x, tl.int64)`,
and reports every multiplication with a tainted operand that reaches the pointer argument of a load,
store or atomic, or the base of `tl.make_block_ptr`. A cast after the product is too late and is reported.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import defaultdict
from typing import Iterator, Optional

from shapecheck.static.source import FunctionNode

_WIDE = {"int64", "uint64"}
_MEMORY = {"load", "store", "make_block_ptr", "make_tensor_descriptor"}  # plus every atomic_*


@dataclasses.dataclass(frozen=True)
class Overflow:
    """A product of a loaded value inside a pointer offset."""

    node: ast.BinOp
    operand: str
    loaded_at: int


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _dtype(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _widens(call: ast.Call) -> bool:
    """`x.to(tl.int64)` or `tl.cast(x, tl.int64)`."""
    name = _name(call)
    if name == "to" and call.args:
        return _dtype(call.args[0]) in _WIDE
    return name == "cast" and len(call.args) >= 2 and _dtype(call.args[1]) in _WIDE


def _pointer(call: ast.Call) -> Optional[ast.expr]:
    """The pointer (or block-pointer base) argument of a memory operation, else None."""
    name = _name(call)
    if name not in _MEMORY and not name.startswith("atomic_"):
        return None
    keyword = next((k.value for k in call.keywords if k.arg in ("pointer", "base")), None)
    return call.args[0] if call.args else keyword


def _offsets(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a pointer expression, not entering loads (their own pointers are separate sinks)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not (isinstance(current, ast.Call) and _name(current) == "load"):
            stack.extend(ast.iter_child_nodes(current))


class _Taint:
    """Which names hold loaded (not widened) values, and which products multiply them."""

    def __init__(self) -> None:
        self.env: dict[str, Optional[int]] = {}
        self.defs: defaultdict[str, list[ast.expr]] = defaultdict(list)
        self.products: dict[int, Overflow] = {}
        self.sinks: list[ast.expr] = []

    def expr(self, node: ast.AST) -> Optional[int]:
        """The line of the load `node`'s value comes from, or None; records products and sinks."""
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Call):
            parts = [self.expr(a) for a in (*node.args, *(k.value for k in node.keywords))]
            receiver = self.expr(node.func.value) if isinstance(node.func, ast.Attribute) else None
            pointer = _pointer(node)
            if pointer is not None:
                self.sinks.append(pointer)
            if _widens(node):
                return None
            if _name(node) == "load":
                return node.lineno
            return next((t for t in (receiver, *parts) if t is not None), None)
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            if isinstance(node.op, ast.Mult) and (left is not None or right is not None):
                operand = node.left if left is not None else node.right
                self.products[id(node)] = Overflow(node, ast.unparse(operand), left if left is not None else right)  # type: ignore[arg-type]
            return left if left is not None else right
        if isinstance(node, (ast.Attribute, ast.Constant, ast.Lambda)):
            return None  # metadata (`x.dtype`), literals
        found = [self.expr(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)]
        return next((t for t in found if t is not None), None)

    def _assign(self, target: ast.expr, value: ast.expr, taint: Optional[int]) -> None:
        for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
            self.env[name] = taint
            self.defs[name].append(value)

    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                taint = self.expr(stmt.value)
                for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                    self._assign(target, stmt.value, taint)
            elif isinstance(stmt, ast.AugAssign):
                taint = self.expr(stmt.value)
                previous = self.expr(stmt.target)
                self._assign(stmt.target, stmt.value, taint if taint is not None else previous)
            elif isinstance(stmt, ast.If):
                self.expr(stmt.test)
                before = dict(self.env)
                self.run(stmt.body)
                then, self.env = self.env, before
                self.run(stmt.orelse)
                for name in then.keys() | self.env.keys():
                    self.env[name] = then.get(name) if then.get(name) is not None else self.env.get(name)
            elif isinstance(stmt, (ast.For, ast.While)):
                loop_taint = self.expr(stmt.iter if isinstance(stmt, ast.For) else stmt.test)
                if isinstance(stmt, ast.For):
                    self._assign(stmt.target, stmt.iter, loop_taint)
                for _ in range(2):  # a second pass carries taint around the loop
                    self.run(stmt.body)
                self.run(stmt.orelse)
            elif isinstance(stmt, (ast.Expr, ast.Return)) and stmt.value is not None:
                self.expr(stmt.value)
            else:
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.expr):
                        self.expr(child)
                nested = [c for c in ast.iter_child_nodes(stmt) if isinstance(c, ast.stmt)]
                self.run(nested + [s for h in getattr(stmt, "handlers", []) for s in h.body])

    def overflows(self) -> list[Overflow]:
        """Tainted products that reach a pointer, through the definitions of the names they use."""
        reached: set[int] = set()
        seen: set[str] = set()
        pending: list[ast.expr] = list(self.sinks)
        while pending:
            for node in _offsets(pending.pop()):
                reached.add(id(node))
                if isinstance(node, ast.Name) and node.id not in seen:
                    seen.add(node.id)
                    pending.extend(self.defs.get(node.id, []))
        return sorted((o for i, o in self.products.items() if i in reached),
                      key=lambda o: (o.node.lineno, o.node.col_offset))


def unsafe_offsets(kernel: FunctionNode) -> list[Overflow]:
    """SC006 findings of one `@triton.jit` function."""
    taint = _Taint()
    taint.run(kernel.body)
    return taint.overflows()
