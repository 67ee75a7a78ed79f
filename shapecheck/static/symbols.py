"""The symbols and functions of the shape algebra, and how derivations print.

Dimensions are sympy symbols with integer and positive assumptions, so `B*T/T` cancels and `B == 0` is
false without being told. A local variable that names a compound expression (`NK = cdiv(K, BK)`) gets its
own symbol class, so a derivation reads the way the code does (`[NK, B, T, HV, V]`) while the definition
stays available to proofs; a `Local` never equals a dimension of the same name.
"""

from __future__ import annotations

from typing import Callable, Mapping

import sympy as sp
from sympy.core.logic import fuzzy_and
from sympy.printing.str import StrPrinter


def dim(name: str) -> sp.Symbol:
    """A tensor dimension (or a Triton meta-parameter): a positive integer."""
    return sp.Symbol(name, integer=True, positive=True)


def condition(text: str) -> sp.Symbol:
    """An opaque condition, named by its source text (`cu_seqlens is None`, `x.dim() == 2`)."""
    return sp.Symbol(text)


def scalar(name: str, kind: str) -> sp.Symbol:
    """A scalar parameter the analysis cannot see the value of (`scale: float`, `dim: int`)."""
    if kind == "int":
        return sp.Symbol(name, integer=True)
    if kind == "float":
        return sp.Symbol(name, real=True)
    return sp.Symbol(name)


def stride(owner: str, axis: int) -> sp.Symbol:
    """The stride of a tensor argument: a non-negative integer only the caller knows."""
    return sp.Symbol(f"{owner}.stride({axis})", integer=True, nonnegative=True)


class Local(sp.Symbol):
    """A local variable standing for a compound integer expression; see `local`."""


def local(name: str, definition: sp.Expr) -> Local:
    """A fresh local symbol carrying the sign assumptions its definition is known to have."""
    assumptions = {"integer": True}
    if definition.is_positive:
        assumptions["positive"] = True
    elif definition.is_nonnegative:
        assumptions["nonnegative"] = True
    return Local(name, **assumptions)


class cdiv(sp.Function):
    """`triton.cdiv(a, b)`: ceiling division, kept as a function so the derivation prints it as written."""

    is_integer = True

    @classmethod
    def eval(cls, a: sp.Expr, b: sp.Expr) -> sp.Expr | None:
        if a.is_Integer and b.is_Integer and b != 0:
            return sp.Integer(-(-int(a) // int(b)))
        if b == 1:
            return a
        if a.is_positive and (b == a or (isinstance(b, next_pow2) and b.args[0] == a)):
            return sp.Integer(1)  # 0 < a <= next_pow2(a) < 2a
        quotient = a / b
        return quotient if quotient.is_integer else None

    def _eval_is_positive(self) -> bool | None:
        return fuzzy_and(arg.is_positive for arg in self.args)


class next_pow2(sp.Function):
    """`triton.next_power_of_2(n)`: the smallest power of two >= n (1 for n <= 1)."""

    is_integer = True
    is_positive = True

    @classmethod
    def eval(cls, n: sp.Expr) -> sp.Expr | None:
        if n.is_Integer:
            return sp.Integer(1 << max(int(n) - 1, 0).bit_length())
        if isinstance(n, next_pow2):
            return n
        return None


class _Extremum(sp.Function):
    """min/max with the numbers folded, duplicates dropped, a case split taken per branch, and the rest
    left as written: sympy's own `Min` compares every pair through its assumption system, which is slow
    on `next_pow2(V)` and case splits, and is redone each time an expression is rebuilt."""

    _pick: Callable[..., sp.Expr]

    @classmethod
    def eval(cls, *args: sp.Expr) -> sp.Expr | None:
        numbers = [a for a in args if a.is_Number]
        kept = list(dict.fromkeys(a for a in args if not a.is_Number)) + ([cls._pick(numbers)] if numbers else [])
        if len(kept) == 1:
            return kept[0]
        split = next((i for i, a in enumerate(kept) if isinstance(a, sp.Piecewise)), None)
        if split is not None:
            return sp.Piecewise(
                *((cls(*kept[:split], branch.expr, *kept[split + 1 :]), branch.cond) for branch in kept[split].args)
            )
        return cls(*kept, evaluate=False) if len(kept) < len(args) or numbers[1:] else None

    def _eval_is_integer(self) -> bool | None:
        return fuzzy_and(a.is_integer for a in self.args)


class minimum(_Extremum):
    """`min(...)`."""

    _pick = min

    def _eval_is_positive(self) -> bool | None:
        return fuzzy_and(a.is_positive for a in self.args)


class maximum(_Extremum):
    """`max(...)`."""

    _pick = max

    def _eval_is_positive(self) -> bool | None:
        return True if any(a.is_positive for a in self.args) else None


def _wrapped(text: str) -> bool:
    """Whether `text` is one parenthesised group, so the outer pair can be dropped."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i < len(text) - 1:
            return False
    return True


class _Printer(StrPrinter):
    """Python-like notation: `a // b`, `min(a, b)`, `B if c else N`, `a == b`."""

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        *branches, last = expr.args
        text = self._print(last.expr)
        for branch in reversed(branches):
            text = f"{self._print(branch.expr)} if {self._print(branch.cond)} else {text}"
        return f"({text})"

    def _print_floor(self, expr: sp.floor) -> str:
        numerator, denominator = sp.fraction(expr.args[0])
        if denominator == 1:
            return f"floor({self._print(expr.args[0])})"
        return f"({self.parenthesize(numerator, 50)} // {self.parenthesize(denominator, 50)})"

    def _print_Mod(self, expr: sp.Mod) -> str:
        return f"({self.parenthesize(expr.args[0], 50)} % {self.parenthesize(expr.args[1], 50)})"

    def _print_minimum(self, expr: sp.Basic) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_maximum(self, expr: sp.Basic) -> str:
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        sides = [self._print(side) for side in (expr.lhs, expr.rhs)]
        lhs, rhs = (text[1:-1] if _wrapped(text) else text for text in sides)
        return f"{lhs} {expr.rel_op} {rhs}"

    def _print_Not(self, expr: sp.Not) -> str:
        inner = expr.args[0]
        if isinstance(inner, sp.Symbol) and inner.name.endswith(" is None"):
            return inner.name.removesuffix(" is None") + " is not None"
        return f"not ({self._print(inner)})"

    def _print_And(self, expr: sp.And) -> str:
        return " and ".join(f"({self._print(a)})" if isinstance(a, sp.Or) else self._print(a) for a in expr.args)

    def _print_Or(self, expr: sp.Or) -> str:
        return " or ".join(f"({self._print(a)})" if isinstance(a, sp.And) else self._print(a) for a in expr.args)

    def _print_BooleanTrue(self, expr: sp.Basic) -> str:
        return "True"

    def _print_BooleanFalse(self, expr: sp.Basic) -> str:
        return "False"


_PRINTER = _Printer()


def show(expr: sp.Basic) -> str:
    """An expression as a reviewer writes it, without redundant outer parentheses."""
    text = _PRINTER.doprint(expr)
    return text[1:-1] if _wrapped(text) else text


class _Substituting(_Printer):
    """Prints symbols by their values, leaving the functions unevaluated: `cdiv(64, 32)`."""

    def __init__(self, values: Mapping[sp.Symbol, sp.Expr]) -> None:
        super().__init__()
        self.values = values

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return str(self.values[expr]) if expr in self.values else super()._print_Symbol(expr)


def show_with(expr: sp.Basic, values: Mapping[sp.Symbol, sp.Expr]) -> str:
    """`expr` with `values` written in place of their symbols (for worked examples)."""
    text = _Substituting(values).doprint(expr)
    return text[1:-1] if _wrapped(text) else text
