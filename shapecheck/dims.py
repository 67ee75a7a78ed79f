"""Reading jaxtyping annotations as shape patterns, and binding dimension names to sizes.

jaxtyping checks annotations in argument order and evaluates `"N+1"` only once `N` is bound (jaxtyping
#126), and refuses an expression whose name no other argument binds. We bind in passes instead — plain
names first, then names that only appear in a linear axis (`N+1`, `N-1`, `2*N`: the ragged `cu_seqlens`
signature), expressions checked last — so an expression may refer to a name bound by a later argument,
and a mismatch is reported with the argument, axis and the origin of the expected value.

Everything here is plain Python on sizes (no `eval` at call time, no sympy): under `torch.compile`,
dynamo traces it and turns each comparison into a guard on symbolic sizes.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch

from shapecheck import axes as _axes

Bindings = dict[str, tuple[int, str]]  # dim name -> (size, "arg.shape[axis]" that bound it)


def expression(text: str, where: str) -> tuple[tuple[str, ...], Callable[..., Any]]:
    """A Python expression as a function of its free names, compiled once.

    A real function rather than `eval(code, namespace)` on every call: dynamo can trace a function call
    into guards, while `eval` is a graph break.
    """
    names = compile(text, where, "eval").co_names
    return names, eval(compile(f"lambda {', '.join(names)}: ({text})", where, "eval"), {})


@dataclasses.dataclass(frozen=True)
class Pattern:
    """One jaxtyping `Dtype[Tensor, "..."]` annotation: the axes (names, ints, expressions) and dtypes."""

    text: str
    axes: tuple[Union[str, int], ...]
    dtypes: frozenset[str]
    dtype_kind: str  # "Float", "Int", ... as written, for messages
    _exprs: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = dataclasses.field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Expressions are compiled once: `evaluate` runs on every checked call.
        exprs = {a: expression(a, f'<axis "{a}">') for a in self.axes if isinstance(a, str) and not a.isidentifier()}
        object.__setattr__(self, "_exprs", exprs)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(axis for axis in self.axes if isinstance(axis, str) and axis.isidentifier())

    def size(self, axis: Union[str, int], dims: Mapping[str, int]) -> int:
        """One axis's size under `dims`: an int, a bound name, or an expression over bound names."""
        if isinstance(axis, int):
            return axis
        if axis not in self._exprs:
            return dims[axis]
        names, fn = self._exprs[axis]
        missing = [n for n in names if n not in dims]
        if missing:
            raise NameError(f"name '{missing[0]}' is not bound by any argument")
        size = fn(*[dims[n] for n in names])
        return size if isinstance(size, int) else int(size)  # int() on a symbolic int would specialise it

    def evaluate(self, dims: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete shape under `dims` (all names must be bound)."""
        return tuple(self.size(axis, dims) for axis in self.axes)


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """An argument's annotation: one or more patterns (a Union), and whether None is allowed."""

    patterns: tuple[Pattern, ...]
    optional: bool

    def describe(self) -> str:
        return " | ".join(f'{p.dtype_kind}[Tensor, "{p.text}"]' for p in self.patterns)


_UNCHECKED = {
    "variadic": "variadic axes (`*name`, `...`) are not checked: the binder needs every axis, write them out",
    "broadcastable": "broadcastable axes (`#name`) are not checked: write the axis as 1 or as a name",
    "treepath": "tree-path axes (`?name`) are for PyTrees, which a contract's tensors are not",
}


def _pattern(annotation: Any) -> Pattern:
    """The run-time pattern of one annotation; a form the binder cannot check is refused, naming the axis."""
    axes: list[Union[str, int]] = []
    for axis in _axes.parse(annotation.dim_str):
        why = (
            _UNCHECKED["variadic"]
            if axis.kind == "variadic"
            else _UNCHECKED["broadcastable"]
            if axis.broadcastable
            else _UNCHECKED["treepath"]
            if axis.treepath
            else None
        )
        if why is not None:
            raise _axes.ShapeSyntaxError(f'axis "{axis.text}" in "{annotation.dim_str}": {why}')
        axes.append(axis.value)
    kind = getattr(annotation, "__name__", "Tensor").split("[")[0]
    return Pattern(annotation.dim_str, tuple(axes), frozenset(annotation.dtypes), kind)


def is_union(annotation: Any) -> bool:
    """`Union[A, B]`, `Optional[A]` or PEP 604's `A | B` (a different origin at run time)."""
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _is_jaxtyping(annotation: Any) -> bool:
    return hasattr(annotation, "dim_str") and hasattr(annotation, "dtypes")


def tensor_spec(annotation: Any) -> Optional[TensorSpec]:
    """The TensorSpec of a jaxtyping annotation (possibly inside Optional/Union), or None if not a tensor."""
    if _is_jaxtyping(annotation):
        return TensorSpec((_pattern(annotation),), optional=False)
    if is_union(annotation):
        members = typing.get_args(annotation)
        patterns = tuple(_pattern(m) for m in members if _is_jaxtyping(m))
        if patterns:
            return TensorSpec(patterns, optional=type(None) in members)
    return None


def _bind_names(pattern: Pattern, shape: Sequence[int], arg: str, bound: Bindings) -> Optional[tuple[int, str, int]]:
    """Bind plain names of `pattern` to `shape` in place; return (axis, name, size) of the first clash."""
    fresh: Bindings = {}
    for axis, (token, size) in enumerate(zip(pattern.axes, shape)):
        if isinstance(token, int):
            if token != size:
                return axis, str(token), size
        elif token.isidentifier() and token != "_":
            known = bound.get(token) or fresh.get(token)
            if known is None:
                fresh[token] = (size, f"{arg}.shape[{axis}]")
            elif known[0] != size:
                return axis, token, size
    bound.update(fresh)
    return None


def match(spec: TensorSpec, value: torch.Tensor, arg: str, bound: Bindings) -> Optional[Pattern]:
    """The first pattern of `spec` whose rank, plain names and dtype agree with `value`, else the first whose
    rank and names do (its dtype is then the error); binds its names. A union of dtypes (`Float32[...] |
    BFloat16[...]`) is a union of patterns of one shape."""
    for typed in (True, False):
        for pattern in spec.patterns:
            if typed and dtype_name(value) not in pattern.dtypes:
                continue
            if len(pattern.axes) == value.dim() and _bind_names(pattern, value.shape, arg, bound) is None:
                return pattern
    return None


def first_clash(spec: TensorSpec, value: torch.Tensor, arg: str, bound: Bindings) -> tuple[Pattern, Optional[int], str]:
    """Explain why no pattern matched: (closest pattern, axis or None for rank, reason)."""
    same_rank = [p for p in spec.patterns if len(p.axes) == value.dim()]
    if not same_rank:
        ranks = " or ".join(str(len(p.axes)) for p in spec.patterns)
        return spec.patterns[0], None, f"expected rank {ranks}, found rank {value.dim()}"
    pattern = same_rank[0]
    axis, name, _ = _bind_names(pattern, value.shape, arg, dict(bound))  # type: ignore[misc]  # a same-rank pattern match() refused: it clashes
    return pattern, axis, name


def check_expressions(
    pattern: Pattern, value: torch.Tensor, dims: Mapping[str, int]
) -> Optional[tuple[int, str, int, int]]:
    """(axis, expression, expected, found) of the first arithmetic axis that disagrees, else None."""
    for axis, token in enumerate(pattern.axes):
        if isinstance(token, str) and not token.isidentifier():
            expected = pattern.size(token, dims)
            if expected != value.shape[axis]:
                return axis, token, expected, int(value.shape[axis])
    return None


def solve(pattern: Pattern, value: torch.Tensor, arg: str, bound: Bindings) -> Optional[tuple[int, str, str]]:
    """Bind a name that only an expression axis names (`cu_seqlens: "N+1"` with N nowhere else).

    jaxtyping cannot (it evaluates expressions only once their names are bound). An expression with one
    unbound name, linear in it (`N+1`, `2*N`, `N-1`), determines it from the axis's size: N = size - 1.
    Returns (axis, expression, why) when no whole N >= 0 gives the axis's size. No `int()` on sizes: under
    `torch.compile` they are symbolic, and `int()` would specialise them (a recompile per size).
    """
    for axis, token in enumerate(pattern.axes):
        if not isinstance(token, str) or token not in pattern._exprs:
            continue
        free = [n for n in pattern._exprs[token][0] if n not in bound]
        if len(free) != 1:
            continue
        known = {k: v for k, (v, _) in bound.items()}
        at = lambda x, token=token, known=known, name=free[0]: pattern.size(token, {**known, name: x})
        base, slope, size = at(0), at(1) - at(0), value.shape[axis]
        if slope <= 0:
            continue  # not a size that grows with its name: left for check_expressions to report
        if size < base:
            return axis, token, f">= {base} ({free[0]} >= 0)"
        if (size - base) % slope != 0 or at((size - base) // slope) != size:
            return axis, token, f"{base} + a multiple of {slope}" if base else f"a multiple of {slope}"
        bound[free[0]] = ((size - base) // slope, f"{arg}.shape[{axis}] = {token}")
    return None


def dtype_name(x: torch.Tensor) -> str:
    return str(x.dtype).removeprefix("torch.")
