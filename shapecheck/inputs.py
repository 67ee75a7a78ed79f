"""Inputs for a contract that brings no builder of its own: one tensor per annotation, from the case.

Each tensor argument gets the shape of its first annotated pattern under the drawn dims and the case's
drawn dtype (else the first the annotation allows, float32/int32 by preference): floats filled with randn
from the case's seed; integer
tensors marked `Offsets`/`Index` take the values the case drew (so they print, shrink and replay); other
integer tensors get small random values; an optional tensor the case left out (`None`) is not passed;
tensors listed under the case's `strided_views` are views with a padded row stride, those under `spaced_views`
views of every other element of their last axis.
Scalar arguments take the drawn size (an int named like a dimension), the case's drawn or pinned value, or
their default.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from shapecheck.case import SPACED, Case
from shapecheck.errors import UsageError
from shapecheck.spec import Contract
from shapecheck.strategies import DTYPES, STRIDED

_FLOATS = ("float32", "float64", "bfloat16", "float16")
_INTS = ("int32", "int64", "int16", "int8", "uint8", "bool")


def generic_inputs(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """A builder `(case, device) -> arguments` for `contract`, from its annotations alone."""

    def build(case: Case, device: Any) -> dict[str, Any]:
        gen = torch.Generator(device).manual_seed(case.seed)
        drawn_dtypes = case.options.get(DTYPES, {})
        args: dict[str, Any] = {}
        for name, param in contract.parameters.items():
            spec = contract.tensor_specs.get(name)
            if spec is None:
                if name in contract.scalar_dims:
                    args[name] = case.dims[name]
                elif name in case.options:
                    args[name] = case.options[name]
                elif param.default is inspect.Parameter.empty:
                    raise UsageError(
                        f"contract {contract.name}: argument `{name}` has no default and no tensor "
                        f"annotation; pin it (--pin {name}=...) or give the contract an `inputs` builder"
                    )
                else:
                    args[name] = param.default
                continue
            chosen = case.options.get(name, [])
            if chosen is None:
                args[name] = None
                continue
            pattern = spec.patterns[0]
            shape = pattern.evaluate(case.dims)
            declared = {d for p in spec.patterns if p.axes == pattern.axes for d in p.dtypes}
            dtype = getattr(torch, drawn_dtypes.get(name) or next(d for d in (*_FLOATS, *_INTS) if d in declared))
            # a strided view: rows 3 elements apart further than packed (a slice of a wider projection); a spaced
            # view: every other element of the last axis (`x[..., ::2]`), for tensors the contract takes in any layout
            step = 2 if name in case.options.get(SPACED, ()) else 1
            pad = 3 if dtype.is_floating_point and name in case.options.get(STRIDED, ()) else 0
            wide = (*shape[:-1], shape[-1] * step + pad) if shape else shape
            if chosen:
                full = torch.zeros(wide, dtype=dtype, device=device)
            elif dtype.is_floating_point:
                full = torch.randn(wide, generator=gen, device=device).to(dtype)
            else:
                full = torch.randint(0, 4, wide, generator=gen, device=device).to(dtype)
            view = full[..., : shape[-1] * step : step] if shape else full
            if chosen:
                view.copy_(torch.tensor(chosen, dtype=dtype, device=device).reshape(shape))
            args[name] = view
        return args

    return build


def input_builder(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """The contract's own `inputs` builder, or one made from its annotations."""
    return contract.resolve("inputs") or generic_inputs(contract)
