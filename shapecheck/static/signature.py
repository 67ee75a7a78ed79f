"""What is declared about a function before its body is read: tensor shapes, scalar kinds, dims, rules.

Four sources, in order of precedence: `--assume NAME=DIMS` options, the function's own jaxtyping
annotations, the contract of its `@contract(C)` decorator (found and parsed statically, see
`shapecheck.static.contracts`; it also lends dimension meanings, bounds and rules to an annotated
function), and the body's own unpack lines (`B, T, H, K = k.shape`, see `shapecheck.static.unpacks`).
Nothing is imported. `shapecheck.static.seeding.signature_for` merges the four; this module is their data model.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Mapping, Optional, Union

import sympy as sp

from shapecheck.axes import VARIADIC, parse
from shapecheck.axes import names as axis_names
from shapecheck.static.symbols import dim

Axis = Union[str, int]
"""One axis value as `shapecheck.axes` reads it: a name (`T`), an integer, an expression (`N+1`), `_`, `...`."""


@dataclasses.dataclass(frozen=True)
class Declared:
    """A tensor's declared shape: one pattern, or several (a Union), and whether None is allowed."""

    patterns: tuple[tuple[Axis, ...], ...]
    optional: bool = False

    def describe(self) -> str:
        text = " or ".join("[" + ", ".join(map(str, p)) + "]" for p in self.patterns)
        return text + (" or None" if self.optional else "")


@dataclasses.dataclass(frozen=True)
class Scalar:
    """A non-tensor parameter: int, float, bool, str or other."""

    kind: str
    optional: bool = False


@dataclasses.dataclass(frozen=True)
class DimInfo:
    """A contract's word on a dimension: its meaning and the largest size it supports (None: unbounded)."""

    meaning: str = ""
    lo: int = 1
    hi: Optional[int] = None


Param = Union[Declared, Scalar]
Returns = Union[Declared, tuple[Declared, ...]]


@dataclasses.dataclass(frozen=True)
class Signature:
    """Everything the analysis starts from."""

    params: Mapping[str, Param]
    returns: Optional[Returns] = None
    origin: str = "no shape annotations"
    dims: Mapping[str, DimInfo] = dataclasses.field(default_factory=dict)
    rules: tuple[str, ...] = ()
    inferred: Mapping[str, str] = dataclasses.field(default_factory=dict)  # parameter -> where its shape was read

    @property
    def declares_shapes(self) -> bool:
        return self.returns is not None or any(isinstance(p, Declared) for p in self.params.values())

    def declared(self) -> list[tuple[str, Declared]]:
        """Every declared tensor, parameters then return (`"return"`, or `"return[i]"` for tuples)."""
        items = [(name, p) for name, p in self.params.items() if isinstance(p, Declared)]
        if isinstance(self.returns, Declared):
            items.append(("return", self.returns))
        elif isinstance(self.returns, tuple):
            items.extend((f"return[{i}]", d) for i, d in enumerate(self.returns))
        return items

    def output_only_dims(self) -> set[str]:
        """Dimension names only the return annotation uses: jaxtyping binds them at the return."""
        inputs = {
            n
            for label, d in self.declared()
            if not label.startswith("return")
            for p in d.patterns
            for a in p
            for n in axis_names(a)
        }
        return self.dim_names() - inputs - set(self.params)

    def dim_names(self) -> set[str]:
        """Every dimension name mentioned in a declared shape (inside expressions too)."""
        return {
            name
            for _, declared in self.declared()
            for pattern in declared.patterns
            for axis in pattern
            for name in axis_names(axis)
        }


def parse_axes(text: str) -> tuple[Axis, ...]:
    """A jaxtyping shape string as axis values (`#`/`?` modifiers dropped: sizes are what is derived);
    raises ValueError (`axes.ShapeSyntaxError`) on what jaxtyping would refuse."""
    return tuple(axis.value for axis in parse(text))


def _arith(node: ast.expr) -> sp.Expr:
    if isinstance(node, ast.Name):
        return dim(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return sp.Integer(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    if isinstance(node, ast.BinOp):
        a, b = _arith(node.left), _arith(node.right)
        ops = {
            ast.Add: lambda: a + b,
            ast.Sub: lambda: a - b,
            ast.Mult: lambda: a * b,
            ast.FloorDiv: lambda: sp.floor(a / b),
            ast.Div: lambda: a / b,
            ast.Pow: lambda: a**b,
        }
        if type(node.op) in ops:
            return ops[type(node.op)]()
    raise ValueError(f"unsupported axis expression {ast.unparse(node)!r}")


def axis_expr(axis: Axis, anonymous: str) -> sp.Expr:
    """The size of one axis; `_` becomes a fresh dimension named `anonymous`."""
    if isinstance(axis, int):
        return sp.Integer(axis)
    if axis == "_":
        return dim(anonymous)
    if axis.isidentifier():
        return dim(axis)
    return _arith(ast.parse(axis, mode="eval").body)


# --- from source annotations -------------------------------------------------------------------

_SCALARS = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _members(node: ast.expr) -> Optional[list[ast.expr]]:
    """The members of `Optional[X]`, `Union[X, Y]` or `X | Y`, else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return (_members(node.left) or [node.left]) + (_members(node.right) or [node.right])
    if isinstance(node, ast.Subscript) and _last_name(node.value) in ("Optional", "Union"):
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return inner + ([ast.Constant(None)] if _last_name(node.value) == "Optional" else [])
    return None


def _jaxtyping_pattern(node: ast.expr) -> Optional[tuple[Axis, ...]]:
    """`Float[Tensor, "B T"]` (any dtype name) as axes; a shape string it cannot read is variadic."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2):
        return None
    text = node.slice.elts[1]
    if not (isinstance(text, ast.Constant) and isinstance(text.value, str)):
        return None
    try:
        return parse_axes(text.value)
    except ValueError:
        return (VARIADIC,)


def annotation(node: Optional[ast.expr]) -> Optional[Param]:
    """What a source annotation declares, or None for a plain tensor / no annotation."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
        try:
            return annotation(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    if isinstance(node, ast.Subscript) and _last_name(node.value) == "Annotated" and isinstance(node.slice, ast.Tuple):
        return annotation(node.slice.elts[0])  # `Annotated[Int[Tensor, "N+1"], Offsets("T")]`: markers add no shape
    members = _members(node)
    if members is not None:
        optional = any(isinstance(m, ast.Constant) and m.value is None for m in members)
        parts = [annotation(m) for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
        patterns = tuple(p for part in parts if isinstance(part, Declared) for p in part.patterns)
        if patterns:
            return Declared(patterns, optional)
        if None in parts:  # `Optional[torch.Tensor]`: a tensor without a declared shape
            return None
        kinds = {part.kind for part in parts if isinstance(part, Scalar)}
        return Scalar(kinds.pop() if len(kinds) == 1 else "other", optional)
    pattern = _jaxtyping_pattern(node)
    if pattern is not None:
        return Declared((pattern,))
    kind = _SCALARS.get(_last_name(node)) if isinstance(node, (ast.Name, ast.Attribute)) else None
    return Scalar(kind) if kind else None


def _returns(node: Optional[ast.expr]) -> Optional[Returns]:
    if isinstance(node, ast.Subscript) and _last_name(node.value) in ("tuple", "Tuple"):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        parts = [annotation(e) for e in elts]
        if parts and all(isinstance(p, Declared) for p in parts):
            return tuple(parts)  # type: ignore[arg-type]  # all Declared: tested above
        return None
    declared = annotation(node)
    return declared if isinstance(declared, Declared) else None


def parameters(fn: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> list[ast.arg]:
    a = fn.args
    return [*a.posonlyargs, *a.args, *([a.vararg] if a.vararg else []), *a.kwonlyargs, *([a.kwarg] if a.kwarg else [])]


def from_source(fn: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> Signature:
    params = {arg.arg: p for arg in parameters(fn) if (p := annotation(arg.annotation)) is not None}
    returns = _returns(fn.returns)
    sig = Signature(params, returns)
    return dataclasses.replace(sig, origin="jaxtyping annotations") if sig.declares_shapes else sig


def assumption(text: str) -> tuple[str, Declared]:
    """`q=B T H K` as (parameter, declared shape); raises ValueError when malformed."""
    name, sep, dims = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ValueError(f"--assume expects NAME=DIMS (e.g. 'q=B T H K'), found {text!r}")
    return name.strip(), Declared((parse_axes(dims),))


def defaults_none(fn: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> set[str]:
    """Parameters whose default is None."""
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    pairs = [*zip(positional[len(positional) - len(a.defaults) :], a.defaults), *zip(a.kwonlyargs, a.kw_defaults)]
    return {arg.arg for arg, d in pairs if isinstance(d, ast.Constant) and d.value is None}
