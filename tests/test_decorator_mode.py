"""When the decorator's mode is chosen: at decoration, from `mode=` or else `SHAPECHECK_MODE` (issue 13).

A serving process sets the variable before importing its kernels; changing it later does not change the
checks of functions already decorated, so one module's wrappers never run in two modes at once.
"""

from __future__ import annotations

import math

import pytest
import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck.spec import Call


def _finite(call: Call) -> None:
    """A value check (reads the tensor): only "always" runs it on every call."""
    if not bool(torch.isfinite(call.arguments["x"]).all()):
        raise call.fail("x", "contains NaN or inf", expected="finite values", found="NaN/inf")


def _double(x: Float[Tensor, "N"]) -> Float[Tensor, "N"]: ...


DOUBLE = shapecheck.Contract("double", _double, value_checks=[_finite])


def _decorated() -> object:
    @shapecheck.contract(DOUBLE)
    def double(x: Tensor) -> Tensor:
        return x * 2

    return double


def _nan() -> Tensor:
    x = torch.randn(5)
    x[int(torch.randint(0, 5, ()))] = math.nan
    return x


def test_the_environment_is_read_at_decoration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAPECHECK_MODE", "shapes")
    shapes = _decorated()
    monkeypatch.setenv("SHAPECHECK_MODE", "always")
    assert torch.isnan(shapes(_nan())).sum() == 1  # still "shapes": no device read, the NaN passes
    always = _decorated()
    with pytest.raises(shapecheck.ContractViolation, match="contains NaN or inf"):
        always(_nan())
    monkeypatch.setenv("SHAPECHECK_MODE", "shapes")
    with pytest.raises(shapecheck.ContractViolation, match="contains NaN or inf"):
        always(_nan())  # still "always"


def test_mode_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAPECHECK_MODE", "shapes")
    strict = shapecheck.contract(DOUBLE, mode="always")(lambda x: x * 2)
    with pytest.raises(shapecheck.ContractViolation, match="contains NaN or inf"):
        strict(_nan())


def test_an_unknown_mode_is_refused_at_decoration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAPECHECK_MODE", "fast")
    with pytest.raises(ValueError, match=r"mode must be one of .* found 'fast'"):
        _decorated()


def test_shapecheck_contract_is_the_decorator_whatever_is_imported() -> None:
    """The contract model is `shapecheck.spec`: no submodule named `contract` can shadow the decorator."""
    import shapecheck.decorator
    import shapecheck.spec

    assert shapecheck.contract is shapecheck.decorator.contract
    assert shapecheck.Contract is shapecheck.spec.Contract
