"""Scalars as Python callers pass them (issue 9): an int where a float is declared passes (PEP 484's
numeric tower), a bool does not, and every refusal names the real argument, the expected type and the value.
"""

from __future__ import annotations

from typing import Any, NewType, Optional

import pytest
import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from tests.gdn_calls import valid_args


def test_gdn_takes_int_scalars(device: str) -> None:
    """`scale=1`, `softplus_beta=1`, `softplus_threshold=20` run, with the floats' result."""
    args = valid_args(device)
    as_floats = dict(
        args,
        scale=1.0,
        softplus_beta=1.0,
        softplus_threshold=20.0,
        initial_state_source=args["initial_state_source"].clone(),
    )
    as_ints = dict(
        args, scale=1, softplus_beta=1, softplus_threshold=20, initial_state_source=args["initial_state_source"].clone()
    )
    torch.testing.assert_close(kernel(**as_ints), kernel(**as_floats), rtol=0, atol=0)
    torch.testing.assert_close(as_ints["initial_state_source"], as_floats["initial_state_source"], rtol=0, atol=0)


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("softplus_beta", True, "float"),
        ("scale", False, "Optional[float]"),
        ("softplus_threshold", "20", "float"),
        ("scale", 1j, "Optional[float]"),
        ("use_qk_l2norm_in_kernel", 1.0, "bool"),
    ],
)
def test_gdn_refuses_wrong_scalar_types(device: str, name: str, value: Any, expected: str) -> None:
    """A bool is an int only by inheritance: refused where a float is declared, like a str or a complex."""
    args = valid_args(device)
    pool = args["initial_state_source"].clone()
    with pytest.raises(shapecheck.ContractViolation) as info:
        kernel(**dict(args, **{name: value}))
    assert (info.value.argument, info.value.expected, info.value.found) == (
        name,
        expected,
        f"{value!r} ({type(value).__name__})",
    )
    assert "(annotations)" not in str(info.value)
    assert torch.equal(args["initial_state_source"], pool)


Count = NewType("Count", int)


def _sig(
    x: Float[Tensor, "B D"],
    gain: Optional[float] = None,
    steps: int = 1,
    tags: list[str] = [],  # noqa: B006
    count: Count = Count(1),
) -> Float[Tensor, "B D"]: ...


SCALARS = shapecheck.Contract("scalars", _sig)


@shapecheck.contract(SCALARS, mode="first")
def scaled(
    x: Tensor,
    gain: Optional[float] = None,
    steps: int = 1,
    tags: list[str] = [],  # noqa: B006
    count: Count = Count(1),
) -> Tensor:
    return x * (1.0 if gain is None else gain) * steps


def test_user_kernel_scalars() -> None:
    x = torch.randn(2, 3)
    torch.testing.assert_close(scaled(x, 2), x * 2)  # int into Optional[float]
    torch.testing.assert_close(scaled(x, 2.0, 2), x * 4)
    with pytest.raises(shapecheck.DtypeViolation) as info:
        scaled(x, 2.0, True)  # a flag where a count is declared: refused, though bool is an int by inheritance
    assert (info.value.argument, info.value.expected, info.value.found) == ("steps", "int", "True (bool)")
    with pytest.raises(shapecheck.ContractViolation) as info:
        scaled(x, True)  # same "first"-mode key as a checked 1.0 would be, were types not keyed
    assert (info.value.argument, info.value.expected) == ("gain", "Optional[float]")
    with pytest.raises(shapecheck.ContractViolation) as info:
        scaled(x, 2.0, 1, "ab")  # a generic alias: its origin class is checked
    assert (info.value.argument, info.value.expected, info.value.found) == ("tags", "list[str]", "'ab' (str)")
    with pytest.raises(shapecheck.ContractViolation) as info:
        scaled(x, 2.0, 1, [], "3")  # an annotation the binder does not model: beartype's report, by argument
    assert (info.value.argument, info.value.found) == ("count", "'3'")
    assert "Count" in info.value.expected


def test_first_mode_keys_scalars_by_type() -> None:
    x = torch.randn(2, 3)
    scaled(x, 1.0)
    with pytest.raises(shapecheck.ContractViolation, match="argument `gain`"):
        scaled(x, True)  # True == 1.0, but a bool is refused where a float is declared
