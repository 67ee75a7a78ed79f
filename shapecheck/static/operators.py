"""Python's operators over abstract values: arithmetic on sizes, tuple concatenation, tensor broadcasting,
comparisons that become conditions.

sympy does the algebra; the few things it cannot or should not do (division by a literal zero, a power
with a huge exponent, bit operations on symbols) are explicit unknowns rather than exceptions.
"""

from __future__ import annotations

import ast
import operator
from typing import Callable, Optional

import sympy as sp

from shapecheck.static import tensorops
from shapecheck.static.values import NONE, Const, Site, Tensor, Tup, Value, first_unknown, is_bool, is_int

_MAX_REPEAT = 64  # `(1,) * n`: longer tuples are not sizes
_MAX_EXPONENT = 256

_SYMPY_FAILURES = (TypeError, ValueError, ZeroDivisionError, ArithmeticError)
"""What sympy raises on operations it cannot represent (comparing complex infinities, booleans in sums)."""


def _numeric(site: Site, op: ast.operator, a: sp.Expr, b: sp.Expr) -> Value:
    both_numbers = a.is_Number and b.is_Number
    if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
        return site.unknown("division by zero")
    if isinstance(op, ast.Pow) and both_numbers and abs(b) > _MAX_EXPONENT:
        return site.unknown("power too large to be a size")
    if isinstance(op, (ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor)):
        if not (a.is_Integer and b.is_Integer) or (
            isinstance(op, (ast.LShift, ast.RShift)) and not 0 <= b <= _MAX_EXPONENT
        ):
            return site.unknown("bit operation on a symbolic or out-of-range value")
        bitwise: dict[type, Callable[[int, int], int]] = {
            ast.LShift: operator.lshift,
            ast.RShift: operator.rshift,
            ast.BitAnd: operator.and_,
            ast.BitOr: operator.or_,
            ast.BitXor: operator.xor,
        }
        return sp.Integer(bitwise[type(op)](int(a), int(b)))
    arithmetic: dict[type, Callable[[], sp.Expr]] = {
        ast.Add: lambda: a + b,
        ast.Sub: lambda: a - b,
        ast.Mult: lambda: a * b,
        ast.Div: lambda: a / b,
        ast.FloorDiv: lambda: sp.floor(a / b),
        ast.Mod: lambda: sp.Mod(a, b),
        ast.Pow: lambda: a**b,
    }
    if type(op) not in arithmetic:
        return site.unknown(f"operator {type(op).__name__} on numbers")
    try:
        result = arithmetic[type(op)]()
    except _SYMPY_FAILURES:
        return site.unknown("sympy cannot evaluate this arithmetic")
    return site.unknown("not a finite number") if result.has(sp.zoo, sp.nan, sp.oo, -sp.oo) else result


def binary(site: Site, op: ast.operator, a: Value, b: Value) -> Value:
    """`a <op> b`."""
    found = first_unknown((a, b))
    if found is not None:
        return found
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if isinstance(op, ast.MatMult):
            return tensorops.method(site, a, "matmul", (b,), {}) if isinstance(a, Tensor) else site.unknown("matmul")
        return tensorops.elementwise(site, [a, b])
    if isinstance(op, ast.Add) and isinstance(a, Tup) and isinstance(b, Tup):
        return Tup(a.items + b.items)
    if isinstance(op, ast.Mult) and (isinstance(a, Tup) or isinstance(b, Tup)):
        seq, times = (a, b) if isinstance(a, Tup) else (b, a)
        if isinstance(times, sp.Integer) and 0 <= times <= _MAX_REPEAT:
            return Tup(seq.items * int(times))  # type: ignore[union-attr]  # seq is the Tup: tested above
        return site.unknown("tuple repeated a symbolic or large number of times")
    if isinstance(a, sp.Expr) and isinstance(b, sp.Expr):
        return _numeric(site, op, a, b)
    if is_bool(a) and is_bool(b) and isinstance(op, (ast.BitAnd, ast.BitOr)):
        return sp.And(a, b) if isinstance(op, ast.BitAnd) else sp.Or(a, b)
    return site.unknown(f"operator {type(op).__name__} on these values")


def unary(site: Site, op: ast.unaryop, a: Value) -> Value:
    """`-a`, `+a`, `~a`, `not a`."""
    if isinstance(a, Tensor):
        return tensorops.elementwise(site, [a])
    if isinstance(op, ast.Not):
        truth = truthiness(a)
        return sp.Not(truth) if truth is not None else site.unknown("truth value not known")
    if isinstance(a, sp.Expr):
        if isinstance(op, ast.USub):
            return -a
        if isinstance(op, ast.UAdd):
            return a
        if isinstance(op, ast.Invert) and is_int(a):
            return -a - 1
    return first_unknown((a,)) or site.unknown(f"operator {type(op).__name__} on this value")


def truthiness(value: Value) -> Optional[sp.Basic]:
    """`bool(value)` as a condition, or None when it depends on what the analysis cannot see."""
    if is_bool(value) or (isinstance(value, sp.Symbol) and not value.is_integer and not value.is_real):
        return value  # a condition, or an opaque boolean parameter
    if isinstance(value, sp.Expr):
        return sp.Ne(value, 0)
    if value is NONE:
        return sp.false
    if isinstance(value, Tup):
        return sp.true if value.items else sp.false
    if isinstance(value, Const):
        return sp.true if value.value else sp.false
    return None


_RELATIONS: dict[type, Callable[[sp.Expr, sp.Expr], sp.Basic]] = {
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
}


def _equal(a: Value, b: Value) -> Optional[sp.Basic]:
    """`a == b` for values other than numbers, or None when not decidable here."""
    if isinstance(a, Tup) and isinstance(b, Tup):
        if len(a.items) != len(b.items):
            return sp.false
        parts = [compare_one(ast.Eq(), x, y) for x, y in zip(a.items, b.items)]
        return None if any(p is None for p in parts) else sp.And(*parts)
    if isinstance(a, Const) and isinstance(b, Const):
        return sp.true if a.value == b.value else sp.false
    if a is NONE or b is NONE:
        other = b if a is NONE else a
        if other is NONE:
            return sp.true
        return sp.false if isinstance(other, (sp.Basic, Const, Tup)) else None
    return None


def compare_one(op: ast.cmpop, a: Value, b: Value) -> Optional[sp.Basic]:
    """`a <op> b` as a condition, or None (the caller makes it unknown)."""
    if isinstance(a, sp.Expr) and isinstance(b, sp.Expr) and type(op) in _RELATIONS:
        try:
            return _RELATIONS[type(op)](a, b)
        except _SYMPY_FAILURES:
            return None
    if isinstance(op, (ast.Eq, ast.NotEq)):
        same = _equal(a, b)
        return None if same is None else (same if isinstance(op, ast.Eq) else sp.Not(same))
    if isinstance(op, (ast.In, ast.NotIn)) and isinstance(b, Tup):
        parts = [compare_one(ast.Eq(), a, item) for item in b.items]
        if any(p is None for p in parts):
            return None
        found = sp.Or(*parts)
        return found if isinstance(op, ast.In) else sp.Not(found)
    return None
