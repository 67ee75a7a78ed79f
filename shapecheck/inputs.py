"""Inputs for a contract that brings no builder of its own: one tensor per annotation, from the case.

Each tensor argument gets the shape of its first annotated pattern under the drawn dims and the case's
drawn dtype (else the first the annotation allows, float32/int32 by preference): floats filled with randn
from the case's seed; integer
tensors marked `Offsets`/`Index` take the values the case drew (so they print, shrink and replay); other
integer tensors get small random values; an optional tensor the case left out (`None`) is not passed;
tensors listed under the case's `strided_views` are views with a padded row stride.
Whatever built them, the contract's own builder included, tensors listed under `spaced_views` are then passed as
views of every other element of their last axis (`spaced`).
Scalar arguments take the drawn size (an int named like a dimension), the case's drawn or pinned value, or
their default.
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any, Callable, Iterable

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
            # a strided view: rows 3 elements apart further than packed (a slice of a wider projection)
            pad = 3 if dtype.is_floating_point and name in case.options.get(STRIDED, ()) else 0
            wide = (*shape[:-1], shape[-1] + pad) if shape else shape
            if chosen:
                full = torch.zeros(wide, dtype=dtype, device=device)
            elif dtype.is_floating_point:
                full = torch.randn(wide, generator=gen, device=device).to(dtype)
            else:
                full = torch.randint(0, 4, wide, generator=gen, device=device).to(dtype)
            view = full[..., : shape[-1]] if shape else full
            if chosen:
                view.copy_(torch.tensor(chosen, dtype=dtype, device=device).reshape(shape))
            args[name] = view
        return args

    return build


def spaced(args: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """`args` with each named tensor moved into a view of every other element of its last axis (`x[..., ::2]`),
    values and `requires_grad` kept: a layout the decorator accepts for a tensor no check names a layout for,
    so a kernel that addresses it packed fails a run instead of garbling production calls with views.

    The gaps hold NaN (zeros for integers), so a packed read shows. A tensor its builder made non-contiguous
    keeps that layout, and one sharing storage with another argument (`out=x`) is left as built: a copy would
    break the aliasing the call relies on. `Report.packed_only` names any tensor no case passed as a view."""

    def strided(t: Any) -> bool:
        return isinstance(t, torch.Tensor) and t.layout == torch.strided and t.numel() > 0

    shared = Counter(t.untyped_storage().data_ptr() for t in args.values() if strided(t))
    for name in names:
        t = args.get(name)
        if not isinstance(t, torch.Tensor) or not strided(t) or not t.dim() or not t.is_contiguous():
            continue
        if shared[t.untyped_storage().data_ptr()] > 1:
            continue
        gap = float("nan") if t.dtype.is_floating_point or t.dtype.is_complex else 0
        view = torch.full((*t.shape[:-1], 2 * t.shape[-1]), gap, dtype=t.dtype, device=t.device)[..., ::2]
        with torch.no_grad():
            view.copy_(t)
        args[name] = view.requires_grad_(t.requires_grad)
    return args


def own_builder(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """The contract's own `inputs` builder, or one made from its annotations, as it is: what the runner calls
    under `blame`, so a builder that cannot take `(case, device)` is named as such, before `spaced` views."""
    return contract.resolve("inputs") or generic_inputs(contract)


def input_builder(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """`own_builder`, with the case's spaced views (`spaced`) made from what it returns."""
    build = own_builder(contract)

    def with_views(case: Case, device: Any) -> Any:
        args = build(case, device)
        return spaced(args, case.options.get(SPACED, ())) if isinstance(args, dict) else args

    return with_views
