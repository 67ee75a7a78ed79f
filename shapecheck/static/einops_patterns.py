"""`einops.rearrange` / `repeat` / `reduce` patterns over symbolic shapes.

The left side names every input axis (a group `(h d)` is one axis whose size is the product); a name in a
group that is neither given as a keyword nor known from elsewhere is solved by division, at most one per
group. The right side is then a product per group. `...` stands for the axes not named.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional

import sympy as sp

from shapecheck.static.symbols import show
from shapecheck.static.values import Site, Tensor, Value

Group = list[str]  # names in one axis; "1" is a unit axis, "..." the ellipsis
_TOKEN = re.compile(r"\.\.\.|\(|\)|\w+|\S")


def _side(text: str) -> Optional[list[Group]]:
    groups: list[Group] = []
    current: Optional[Group] = None
    for token in _TOKEN.findall(text):
        if token == "(":
            if current is not None:
                return None
            current = []
        elif token == ")":
            if current is None:
                return None
            groups.append(current)
            current = None
        elif token == "..." or token.isidentifier() or token.isdigit():
            if current is not None:
                current.append(token)
            else:
                groups.append([token])
        else:
            return None
    return groups if current is None else None


def _product(values: list[sp.Expr]) -> sp.Expr:
    return sp.Mul(*values)


def apply(site: Site, kind: str, t: Tensor, pattern: str, lengths: Mapping[str, sp.Expr]) -> Value:
    """The shape of `einops.<kind>(t, pattern, **lengths)`."""
    if t.shape is None:
        return site.unknown(t.why or "shape not known")
    left_text, arrow, right_text = pattern.partition("->")
    left, right = _side(left_text), _side(right_text)
    if not arrow or left is None or right is None:
        return site.unknown(f"einops pattern {pattern!r} not understood")
    shape = t.shape
    ellipsis_rank = len(shape) - len(left) + 1
    if sum(g == ["..."] for g in left) > 1 or (["..."] not in left and len(left) != len(shape)) or ellipsis_rank < 0:
        return site.unknown(f"einops pattern {pattern!r} does not match rank {len(shape)}")
    known: dict[str, sp.Expr] = {"1": sp.Integer(1), **lengths}
    ellipsis: tuple[sp.Expr, ...] = ()
    pos = 0
    for group in left:
        if group == ["..."]:
            ellipsis, pos = shape[pos : pos + ellipsis_rank], pos + ellipsis_rank
            continue
        size = shape[pos]
        pos += 1
        missing = [n for n in group if n not in known]
        if len(missing) > 1:
            return site.unknown(f"einops group ({' '.join(group)}) has {len(missing)} unknown lengths")
        if missing:
            solved = size / _product([known[n] for n in group if n in known])
            if solved.is_integer is not True:
                return site.unknown(f"einops length {missing[0]} = {show(solved)} is not provably whole")
            known[missing[0]] = solved
        elif site.equal(_product([known[n] for n in group]), size) is None:
            return site.unknown(f"einops group ({' '.join(group)}) is not provably {show(size)}")
    out: list[sp.Expr] = []
    for group in right:
        if "..." in group:
            if group == ["..."]:
                out.extend(ellipsis)
                continue
            known["..."] = _product(list(ellipsis))
        if kind == "rearrange" and any(n not in known for n in group):
            return site.unknown(f"einops rearrange output names an axis not on the left: {group}")
        if any(n not in known for n in group):
            return site.unknown(f"einops {kind}: no length for {[n for n in group if n not in known]}")
        out.append(_product([known[n] for n in group]))
    return Tensor(tuple(out))


def lengths(kwargs: Mapping[str, Value]) -> Optional[dict[str, sp.Expr]]:
    """Axis lengths given as keywords; None if one is not an integer."""
    found = {k: v for k, v in kwargs.items() if isinstance(v, sp.Expr) and v.is_integer}
    return found if len(found) == len(kwargs) else None
