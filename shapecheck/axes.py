"""The one reader of jaxtyping shape strings (`"B T HV V"`), for the decorator, the runner and the analyser.

It follows jaxtyping's own grammar (`jaxtyping/_array_types.py`): an axis is a name (`T`), an integer (`4`,
or `rows=4`, jaxtyping's alternate spelling of it), an arithmetic expression (`N+1`), anonymous (`_`,
`_name`), variadic (`...`, `*name`), broadcastable (`#name`) or tree-path dependent (`?name`), and what
jaxtyping refuses is refused here with the same reason. Each axis carries its `value` as both sides use
it: the name, the size, the expression text, `"_"` or `"..."`. What a consumer cannot check (the run-time
binder needs a fixed rank, so no variadic axes) it refuses by looking at `kind`, naming the axis.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Union

from shapecheck.errors import ShapecheckError

ANONYMOUS = "_"
VARIADIC = "..."
_ARITHMETIC = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.USub,
    ast.UAdd,
)


class ShapeSyntaxError(ValueError, ShapecheckError):
    """A shape string jaxtyping would refuse, or whose axis is no name, integer or arithmetic."""


@dataclasses.dataclass(frozen=True)
class Axis:
    """One axis as written (`text`) and read: its kind, its value, and jaxtyping's modifiers."""

    text: str
    kind: str  # "name" | "fixed" | "expression" | "anonymous" | "variadic"
    value: Union[str, int]  # the name, the size, the expression, "_" or "..."
    broadcastable: bool = False  # `#name`: size 1 matches too
    treepath: bool = False  # `?name`: the size may differ between the leaves of a PyTree


def parse(text: str) -> tuple[Axis, ...]:
    """The axes of a jaxtyping shape string; raises ShapeSyntaxError naming the axis and the string."""
    axes = tuple(_axis(token, text) for token in text.split())
    if sum(a.kind == "variadic" for a in axes) > 1:
        raise ShapeSyntaxError(f'"{text}": at most one variadic axis (`*name` or `...`), as in jaxtyping')
    return axes


def _axis(token: str, text: str) -> Axis:
    def refuse(why: str) -> ShapeSyntaxError:
        return ShapeSyntaxError(f'axis "{token}" in "{text}": {why}')

    if "," in token and "(" not in token:
        raise refuse("axes are separated by spaces, not commas")
    if token.endswith("#"):
        raise refuse("a broadcastable axis is written with # first (`#name`)")
    if "..." in token:
        if token != VARIADIC:
            raise refuse("`...` stands on its own")
        return Axis(token, "variadic", VARIADIC)
    flags, rest = set(), token
    while rest and rest[0] in "#*_?":
        if rest[0] in flags:
            raise refuse(f"`{rest[0]}` is given twice")
        flags.add(rest[0])
        rest = rest[1:]
    if rest.count("=") == 1:  # `rows=4`: jaxtyping's named spelling of a fixed size
        rest = rest.split("=")[1]
    broadcastable, treepath = "#" in flags, "?" in flags
    if rest == "" or rest.isidentifier():
        if "_" in flags:
            if broadcastable:
                raise refuse("an anonymous axis cannot be broadcastable")
            return Axis(
                token,
                "variadic" if "*" in flags else "anonymous",
                VARIADIC if "*" in flags else ANONYMOUS,
                treepath=treepath,
            )
        if not rest:
            raise refuse("a modifier without a name")
        return Axis(
            token, "variadic" if "*" in flags else "name", VARIADIC if "*" in flags else rest, broadcastable, treepath
        )
    if rest.isdigit():
        if flags - {"#"}:
            raise refuse("a fixed size cannot be variadic, anonymous or tree-path dependent")
        return Axis(token, "fixed", int(rest), broadcastable)
    if flags - {"#"}:
        raise refuse("an expression cannot be variadic, anonymous or tree-path dependent")
    try:
        tree = ast.parse(rest, mode="eval")
    except SyntaxError:
        raise refuse("not supported (a name, an integer or an arithmetic expression)") from None
    if not all(isinstance(node, _ARITHMETIC) for node in ast.walk(tree)) or any(
        isinstance(node, ast.Constant) and type(node.value) is not int for node in ast.walk(tree)
    ):
        raise refuse("not supported: an expression may use names, integers and + - * / // % ** only")
    return Axis(token, "expression", rest, broadcastable)


def names(value: Union[str, int]) -> tuple[str, ...]:
    """The dimension names an axis value uses: itself for a name, the free names of an expression."""
    if isinstance(value, int) or value in (ANONYMOUS, VARIADIC):
        return ()
    if value.isidentifier():
        return (value,)
    return tuple(dict.fromkeys(n.id for n in ast.walk(ast.parse(value, mode="eval")) if isinstance(n, ast.Name)))
