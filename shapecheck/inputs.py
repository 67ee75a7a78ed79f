"""Inputs for a contract that brings no builder of its own: one tensor per annotation, from the case's seed.

Each tensor argument gets the shape of its first annotated pattern under the drawn dims, in float32 (or the
first float dtype the annotation allows) filled with randn, or an integer dtype filled with small values.
Scalar arguments take their defaults; a scalar without one cannot be invented, so it is a usage error.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from shapecheck.case import Case
from shapecheck.contract import Contract
from shapecheck.errors import UsageError

_FLOATS = ("float32", "float64", "bfloat16", "float16")
_INTS = ("int64", "int32", "int16", "int8", "uint8", "bool")


def generic_inputs(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """A builder `(case, device) -> arguments` for `contract`, from its annotations alone."""

    def build(case: Case, device: Any) -> dict[str, Any]:
        gen = torch.Generator(device).manual_seed(case.seed)
        args: dict[str, Any] = {}
        for name, param in contract.parameters.items():
            spec = contract.tensor_specs.get(name)
            if spec is None:
                if param.default is inspect.Parameter.empty:
                    raise UsageError(f"contract {contract.name}: argument `{name}` has no default and no tensor "
                                     "annotation; give the contract an `inputs` builder")
                args[name] = param.default
                continue
            pattern = spec.patterns[0]
            shape = pattern.evaluate(case.dims)
            floats = [d for d in _FLOATS if d in pattern.dtypes]
            if floats:
                args[name] = torch.randn(*shape, generator=gen, device=device).to(getattr(torch, floats[0]))
            else:
                dtype = next(d for d in _INTS if d in pattern.dtypes)
                args[name] = torch.randint(0, 4, shape, generator=gen, device=device).to(getattr(torch, dtype))
        return args

    return build


def input_builder(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """The contract's own `inputs` builder, or one made from its annotations."""
    return contract.resolve("inputs") or generic_inputs(contract)
