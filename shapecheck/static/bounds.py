"""Upper bounds of symbolic sizes by interval arithmetic over the dimensions' supported ranges.

Sound but not tight: each operation bounds its result from its operands' intervals (`cdiv(a, b)` is at most
`ceil(hi(a) / lo(b))`), so a bound may be larger than any reachable value, never smaller. A dimension with
no declared upper bound is unbounded, and so is everything that grows with it.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import sympy as sp

from shapecheck.static.symbols import cdiv, maximum, minimum, next_pow2

Interval = tuple[float, float]
_ANY: Interval = (-math.inf, math.inf)


def _mul(a: Interval, b: Interval) -> Interval:
    products = [0.0 if (x == 0 or y == 0) else x * y for x in a for y in b]  # 0 * inf is 0 here
    return min(products), max(products)


def _pow(base: Interval, exponent: sp.Expr) -> Interval:
    if not exponent.is_Integer or base[0] < 0:
        return _ANY
    e = int(exponent)
    if e >= 0:
        return base[0] ** e, base[1] ** e
    if base[0] > 0:
        return base[1] ** e, base[0] ** e
    return _ANY


def _ceil_div(a: float, b: float) -> float:
    if math.isinf(a):
        return a
    return math.ceil(a / b) if not math.isinf(b) else 0.0


def _np2(x: float) -> float:
    return x if math.isinf(x) else float(1 << max(math.ceil(x) - 1, 0).bit_length())


class Bounder:
    """Intervals of expressions over `ranges`, looking through local definitions."""

    def __init__(self, ranges: Mapping[sp.Symbol, Interval], definitions: Mapping[sp.Symbol, sp.Expr]) -> None:
        self.ranges, self.definitions = ranges, definitions

    def _symbol(self, s: sp.Symbol) -> Interval:
        if s in self.definitions:
            return self.interval(self.definitions[s])
        if s in self.ranges:
            return self.ranges[s]
        if s.is_positive:
            return 1.0, math.inf
        if s.is_nonnegative:
            return 0.0, math.inf
        return _ANY

    def _cdiv(self, e: sp.Expr) -> Interval:
        (alo, ahi), (blo, bhi) = (self.interval(arg) for arg in e.args)
        if alo < 0 or blo <= 0:
            return _ANY
        return _ceil_div(alo, bhi), _ceil_div(ahi, blo)

    def _floor_or_ceil(self, e: sp.Expr) -> Interval:
        lo, hi = self.interval(e.args[0])
        rounding: Callable[[float], float] = math.floor if isinstance(e, sp.floor) else math.ceil
        return (lo if math.isinf(lo) else rounding(lo)), (hi if math.isinf(hi) else rounding(hi))

    def _mod(self, e: sp.Expr) -> Interval:
        (alo, ahi), (blo, bhi) = (self.interval(arg) for arg in e.args)
        return (0.0, min(ahi, bhi - 1)) if alo >= 0 and blo > 0 else _ANY

    def interval(self, e: sp.Expr) -> Interval:
        """[lo, hi] containing every value of `e` (floats; infinities for no bound)."""
        if e.is_Number:
            return float(e), float(e)
        if isinstance(e, sp.Symbol):
            return self._symbol(e)
        if isinstance(e, sp.Add):
            parts = [self.interval(a) for a in e.args]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)
        if isinstance(e, sp.Mul):
            out: Interval = (1.0, 1.0)
            for a in e.args:
                out = _mul(out, self.interval(a))
            return out
        if isinstance(e, sp.Pow):
            return _pow(self.interval(e.base), e.exp)
        if isinstance(e, cdiv):
            return self._cdiv(e)
        if isinstance(e, (sp.floor, sp.ceiling)):
            return self._floor_or_ceil(e)
        if isinstance(e, next_pow2):
            lo, hi = self.interval(e.args[0])
            return _np2(max(lo, 1.0)), _np2(max(hi, 1.0))
        if isinstance(e, (sp.Min, sp.Max, minimum, maximum)):
            parts = [self.interval(a) for a in e.args]
            pick = min if isinstance(e, (sp.Min, minimum)) else max
            return pick(p[0] for p in parts), pick(p[1] for p in parts)
        if isinstance(e, sp.Mod):
            return self._mod(e)
        if isinstance(e, sp.Piecewise):
            parts = [self.interval(branch.expr) for branch in e.args]
            return min(p[0] for p in parts), max(p[1] for p in parts)
        return _ANY

    def unbounded(self, e: sp.Expr) -> list[str]:
        """The dimensions `e` depends on (through definitions) that have no finite upper bound."""
        seen: set[sp.Symbol] = set()
        stack = list(e.free_symbols)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            if s in self.definitions:
                stack.extend(self.definitions[s].free_symbols)
        return sorted(
            s.name
            for s in seen
            if s not in self.definitions
            and s.is_integer  # conditions are not dims
            and math.isinf(self._symbol(s)[1])
        )
