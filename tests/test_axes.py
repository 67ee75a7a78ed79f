"""One reader of jaxtyping shape strings: every form jaxtyping accepts is read, or refused by name where it
cannot be checked; what jaxtyping refuses is refused with its reason."""

from __future__ import annotations

import pytest
import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck import InvalidContract
from shapecheck.axes import Axis, ShapeSyntaxError, names, parse
from shapecheck.static.signature import parse_axes


@pytest.mark.parametrize(
    "text,axis",
    [
        ("T", Axis("T", "name", "T")),
        ("4", Axis("4", "fixed", 4)),
        ("rows=4", Axis("rows=4", "fixed", 4)),
        ("N+1", Axis("N+1", "expression", "N+1")),
        ("2*N-1", Axis("2*N-1", "expression", "2*N-1")),
        ("_", Axis("_", "anonymous", "_")),
        ("_heads", Axis("_heads", "anonymous", "_")),
        ("...", Axis("...", "variadic", "...")),
        ("*batch", Axis("*batch", "variadic", "...")),
        ("*_", Axis("*_", "variadic", "...")),
        ("#B", Axis("#B", "name", "B", broadcastable=True)),
        ("#1", Axis("#1", "fixed", 1, broadcastable=True)),
        ("?L", Axis("?L", "name", "L", treepath=True)),
    ],
)
def test_every_jaxtyping_form_is_read(text: str, axis: Axis) -> None:
    assert parse(f"B {text}") == (Axis("B", "name", "B"), axis)


@pytest.mark.parametrize(
    "text,words",
    [
        ("B,T", "separated by spaces"),
        ("B#", "with # first"),
        ("a...", "`...` stands on its own"),
        ("##B", "`#` is given twice"),
        ("**x", "`*` is given twice"),
        ("*4", "a fixed size cannot be variadic"),
        ("_4", "a fixed size cannot be variadic, anonymous"),
        ("#_", "anonymous axis cannot be broadcastable"),
        ("N+", "not supported (a name, an integer or an arithmetic expression)"),
        ("min(N,M)", "names, integers and + - * / // % ** only"),
        ("N.x", "names, integers and + - * / // % ** only"),
        ("*a *b", "at most one variadic axis"),
    ],
)
def test_what_jaxtyping_refuses_is_refused_naming_the_axis(text: str, words: str) -> None:
    with pytest.raises(ShapeSyntaxError) as info:
        parse(text)
    assert words in str(info.value) and f'"{text}"' in str(info.value)


def test_names_of_an_axis() -> None:
    assert names("T") == ("T",)
    assert names("2*N+N") == ("N",)
    assert names("N*M") == ("N", "M")
    assert names(4) == names("_") == names("...") == ()


def test_the_analyser_reads_the_same_axes() -> None:
    """Statically, modifiers change no size: `#B` is B, `*batch` any number of axes."""
    assert parse_axes("*batch #B rows=4 _x N+1") == ("...", "B", 4, "_", "N+1")
    with pytest.raises(ValueError, match='axis "N," in "N, D"'):
        parse_axes("N, D")


@pytest.mark.parametrize(
    "shape,words",
    [
        ("*batch D", 'axis "*batch" in "*batch D": variadic axes'),
        ("... D", 'axis "..." in "... D": variadic axes'),
        ("#B D", 'axis "#B" in "#B D": broadcastable axes'),
        ("?B D", 'axis "?B" in "?B D": tree-path axes'),
    ],
)
def test_forms_the_binder_cannot_check_are_refused_at_contract_definition(shape: str, words: str) -> None:
    def stub(x: Tensor) -> None: ...

    stub.__annotations__["x"] = Float[Tensor, shape]  # built here: this module's annotations are strings
    with pytest.raises(InvalidContract, match="contract c: `x`") as info:
        shapecheck.Contract("c", stub)
    assert words in str(info.value)


def test_fixed_named_and_anonymous_axes_are_checked_at_call_time() -> None:
    def stub(x: Float[Tensor, "_ rows=3 D"], y: Float[Tensor, "_skip D+1"]) -> None: ...

    c = shapecheck.Contract("c", stub)
    assert c.validate({"x": torch.randn(7, 3, 2), "y": torch.randn(5, 3)}).dims == {"D": 2}
    with pytest.raises(shapecheck.ContractViolation, match="argument `x`"):
        c.validate({"x": torch.randn(7, 4, 2), "y": torch.randn(5, 3)})
    with pytest.raises(shapecheck.ContractViolation, match="argument `y`"):
        c.validate({"x": torch.randn(7, 3, 2), "y": torch.randn(5, 2)})
