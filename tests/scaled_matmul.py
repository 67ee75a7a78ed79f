"""A pure-torch stand-in kernel under a contract with a rule and a value check: the decorator's verdicts
inside `torch.compile` (tests/test_compile.py) and its C++ guards (tests/test_guards.py) use the same one."""

from __future__ import annotations

from typing import Any, Callable

import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck.spec import Call


def _finite_x(call: Call) -> None:
    """A value check: reads device memory, so only "always" (and "first", once) runs it."""
    x = call.arguments["x"]
    if not bool(torch.isfinite(x).all()):
        raise call.fail("x", "contains NaN or inf", expected="finite values", found="NaN/inf")


def _scaled_matmul(x: Float[Tensor, "B D"], w: Float[Tensor, "D E"], scale: float = 1.0) -> Float[Tensor, "B E"]: ...


SCALED_MATMUL = shapecheck.Contract(
    "scaled_matmul",
    _scaled_matmul,
    value_checks=[_finite_x],
    rules=[shapecheck.Rule("scale > 0", blame=("scale", "-"))],
)


def scaled_matmul(x: Tensor, w: Tensor, scale: float = 1.0) -> Tensor:
    return (x @ w) * scale


def model_around(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def model(x: Tensor, w: Tensor, scale: Any = 1.0) -> Tensor:
        return torch.relu(fn(torch.tanh(x), w, scale))

    return model


def good_calls() -> list[tuple[Any, ...]]:
    """Valid calls of changing shapes (a recompile, or a dynamic graph) and an int scale."""
    return [
        (torch.randn(2, 3), torch.randn(3, 4), 2.0),
        (torch.randn(5, 3), torch.randn(3, 6), 1),
        (torch.randn(7, 3), torch.randn(3, 8), 0.5),
    ]
