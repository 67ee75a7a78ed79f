"""A backward that writes over what it was handed is named, not mistaken for wrong values: the incoming
gradient (Liger's rms_norm with in_place=True, which corrupts the other branch of a sum) and its saved inputs
(Liger's swiglu/geglu/cross_entropy store gradients in them). The reference then uses the values as handed."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck import Differentiable


def _sig(x: Annotated[Float[Tensor, "N D"], Differentiable()]) -> Float[Tensor, "N D"]: ...


DOUBLE = shapecheck.Contract("double", _sig, reference=lambda x: 2 * x)


class _OverwritesGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return 2 * x

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        g.mul_(2)  # the right gradient, computed in the incoming buffer
        return g


class _OverwritesInput(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return 2 * x

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        x.data.copy_(2 * g)  # the right gradient, stored over the saved input
        return x


def _problems(fn: Any) -> list[str]:
    case = shapecheck.Case("double", {"N": 3, "D": 4}, {}, seed=0)
    return shapecheck.check_case(DOUBLE, case, fn, "cpu").problems


def test_a_backward_writing_over_its_incoming_gradient_is_named_and_its_values_hold() -> None:
    assert _problems(_OverwritesGradient.apply) == [
        "backward wrote over the gradient it was handed for `output` (its cotangent): another consumer of that "
        "gradient, such as the other branch of a sum, reads the new values"
    ]


def test_a_backward_writing_over_an_input_is_named_and_its_values_hold() -> None:
    assert _problems(_OverwritesInput.apply) == [
        "backward wrote over the input `x`: a caller that reads `x` after backward (another loss, a recomputation) "
        "gets the new values"
    ]


def test_a_clean_backward_holds() -> None:
    assert _problems(lambda x: 2 * x) == []
