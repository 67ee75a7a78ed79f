"""The abstract values the analyser computes, one per Python value it can reason about.

Integers and conditions are sympy expressions; everything else is a small frozen dataclass. `Unknown`
carries the node where the analysis gave up, so every "unknown" in a report names a line, and operations
on an unknown return that same unknown (the root cause, not the last place it was touched).
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any, Callable, Mapping, Optional, Protocol, TypeGuard, Union

import sympy as sp

from shapecheck.static.symbols import show


@dataclasses.dataclass(frozen=True)
class Unknown:
    """A value the analysis cannot determine: why, and the node where that happened."""

    why: str
    node: Optional[ast.AST] = None

    @property
    def line(self) -> Optional[int]:
        return getattr(self.node, "lineno", None)

    def describe(self) -> str:
        if self.node is None:
            return f"unknown ({self.why})"
        text = ast.unparse(self.node) if isinstance(self.node, ast.expr) else ""
        text = text if len(text) <= 60 else text[:57] + "..."
        where = f"line {self.line}" + (f": `{text}`" if text else "")
        return f"unknown ({where}: {self.why})"


@dataclasses.dataclass(frozen=True)
class Tensor:
    """A tensor: its symbolic shape (None when only the tensor-ness is known) and what else is known.

    `origin` is the parameter it came from (names its stride symbols); `strides` are known for tensors
    created in the analysed code (contiguous); `maybe_none` marks an Optional parameter.
    """

    shape: Optional[tuple[sp.Expr, ...]]
    origin: Optional[str] = None
    strides: Optional[tuple[sp.Expr, ...]] = None
    maybe_none: bool = False
    why: str = ""  # why the shape is not known


@dataclasses.dataclass(frozen=True)
class Tup:
    """A tuple, list or `torch.Size`."""

    items: tuple["Value", ...]


class _NoneType:
    """Python's None (a singleton, like the value it stands for)."""

    def __repr__(self) -> str:
        return "None"


NONE = _NoneType()


@dataclasses.dataclass(frozen=True)
class Const:
    """A constant the shape algebra has no use for beyond equality: a string, bytes, Ellipsis."""

    value: Any


@dataclasses.dataclass(frozen=True)
class Ref:
    """An imported module, function or builtin, by qualified name (`torch.empty`, `triton.cdiv`, `builtins.len`)."""

    qualname: str


@dataclasses.dataclass(frozen=True, eq=False)
class Callable_:
    """A function of the analysed module, a nested function or a lambda, with its defining environment."""

    node: Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]
    closure: Mapping[str, "Value"] = dataclasses.field(default_factory=dict)
    kernel: bool = False  # a `@triton.jit` function: only launched, never inlined
    home: Any = None  # the `Shared` of the module it is defined in, when that is not the caller's


@dataclasses.dataclass(frozen=True, eq=False)
class Meta:
    """The `META` dict a grid function receives: launch keywords, else the meta-parameter's own symbol."""

    given: Mapping[str, "Value"]


@dataclasses.dataclass(frozen=True)
class Slice:
    """A slice inside a subscript: `lower:upper:step`, None where omitted."""

    lower: "Value"
    upper: "Value"
    step: "Value"


Value = Union[sp.Basic, Tensor, Tup, _NoneType, Const, Ref, Callable_, Meta, Slice, Unknown]


class Site(Protocol):
    """Where an operation is evaluated: what can be proved there, and where notes and issues go."""

    def equal(self, a: sp.Expr, b: sp.Expr) -> Optional[str]:
        """A justification ("" when algebraic) that a == b at this point, or None."""

    def decide(self, cond: sp.Basic) -> Optional[bool]:
        """True/False when the condition is decided at this point, else None."""

    def note(self, text: str) -> None:
        """A justification to print next to the statement (why a squeeze is allowed)."""

    def issue(self, code: str, message: str) -> None:
        """A lint finding at this operation."""

    def unknown(self, why: str) -> Unknown:
        """An unknown located at this operation."""


def is_int(value: Value) -> TypeGuard[sp.Expr]:
    """An integer-valued sympy expression (a size, an index, a dimension)."""
    return isinstance(value, sp.Expr) and value.is_integer is True


def is_bool(value: Value) -> bool:
    """A condition: a relation, a logical combination, True/False (an opaque condition symbol is an Expr too)."""
    return isinstance(value, sp.logic.boolalg.Boolean) and not isinstance(value, sp.Expr)


def first_unknown(values: Any) -> Optional[Unknown]:
    """The first Unknown among `values` (nested in tuples), to propagate as the root cause."""
    for value in values:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, Tup):
            found = first_unknown(value.items)
            if found is not None:
                return found
    return None


def map_exprs(value: Value, fn: Callable[[sp.Expr], sp.Expr]) -> Value:
    """Apply `fn` to every symbolic integer inside `value` (shapes, tuple items, plain integers)."""
    if isinstance(value, sp.Expr):
        return fn(value)
    if isinstance(value, Tensor) and value.shape is not None:
        strides = None if value.strides is None else tuple(fn(s) for s in value.strides)
        return dataclasses.replace(value, shape=tuple(fn(d) for d in value.shape), strides=strides)
    if isinstance(value, Tup):
        return Tup(tuple(map_exprs(item, fn) for item in value.items))
    return value


UNKNOWN_SIZE = "unknown"


def unknown_size(u: Unknown) -> sp.Symbol:
    """A size the analysis could not determine, as an opaque symbol (`unknown(line 12)`), so the branch
    that is known can still be shown; nothing is ever proved about it, and lint never reports on it."""
    return sp.Symbol(f"{UNKNOWN_SIZE}(line {u.line})" if u.line is not None else UNKNOWN_SIZE, integer=True)


def is_unknown_size(symbol: sp.Basic) -> bool:
    return isinstance(symbol, sp.Symbol) and symbol.name.startswith(UNKNOWN_SIZE)


def merge(cond: sp.Basic, a: Value, b: Value, where: Optional[ast.AST]) -> Value:
    """The value that is `a` when `cond` holds and `b` otherwise (a case split), or an unknown."""
    if a is b or a == b:
        return a
    if (isinstance(a, Tensor) and b is NONE) or (isinstance(b, Tensor) and a is NONE):  # `x if c else None`
        return dataclasses.replace(a if isinstance(a, Tensor) else b, maybe_none=True)  # type: ignore[type-var]  # one of a, b is (tested above)
    if (isinstance(a, sp.Expr) and isinstance(b, Unknown)) or (isinstance(b, sp.Expr) and isinstance(a, Unknown)):
        gap = unknown_size(a if isinstance(a, Unknown) else b)
        a, b = (gap, b) if isinstance(a, Unknown) else (a, gap)  # a known branch survives an unknown one
    if isinstance(a, Unknown):
        return a
    if isinstance(b, Unknown):
        return b
    if isinstance(a, sp.Expr) and isinstance(b, sp.Expr):
        return sp.Piecewise((a, cond), (b, True))
    if is_bool(a) and is_bool(b):
        return sp.Or(sp.And(cond, a), sp.And(sp.Not(cond), b))
    if (
        isinstance(a, Tensor)
        and isinstance(b, Tensor)
        and a.shape is not None
        and b.shape is not None
        and len(a.shape) == len(b.shape)
    ):
        shape = tuple(merge(cond, x, y, where) for x, y in zip(a.shape, b.shape))
        return Tensor(shape, a.origin if a.origin == b.origin else None, maybe_none=a.maybe_none or b.maybe_none)
    if isinstance(a, Tup) and isinstance(b, Tup) and len(a.items) == len(b.items):
        return Tup(tuple(merge(cond, x, y, where) for x, y in zip(a.items, b.items)))
    return Unknown("differs between the branches", where)


def describe(value: Value) -> str:
    """A value as a derivation prints it: `[B, T, HV, V]`, `HV*N`, `(a, b)`, `unknown (...)`."""
    if isinstance(value, Tensor):
        if value.shape is None:
            return f"tensor of unknown shape ({value.why})" if value.why else "tensor of unknown shape"
        return "[" + ", ".join(show(d) for d in value.shape) + "]" + (" or None" if value.maybe_none else "")
    if isinstance(value, Tup):
        inner = ", ".join(describe(v) for v in value.items)
        return f"({inner},)" if len(value.items) == 1 else f"({inner})"
    if isinstance(value, sp.Basic):
        return show(value)
    if isinstance(value, Unknown):
        return value.describe()
    if isinstance(value, Const):
        return repr(value.value)
    if isinstance(value, Ref):
        return value.qualname
    if isinstance(value, Callable_):
        return "a function"
    return repr(value)
