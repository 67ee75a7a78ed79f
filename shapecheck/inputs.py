"""Inputs for a contract that brings no builder of its own: one tensor per annotation, from the case.

Each tensor argument gets the shape of its first annotated pattern under the drawn dims and the case's
drawn dtype (else the first the annotation allows, float32/int32 by preference): floats filled with randn
from the case's seed; integer
tensors marked `Offsets`/`Index` take the values the case drew (so they print, shrink and replay); other
integer tensors get small random values; an optional tensor the case left out (`None`) is not passed;
whatever built them, the contract's own builder included, tensors listed under the case's `strided_views` and
`spaced_views` are then passed as views (`views`).
Scalar arguments take the drawn size (an int named like a dimension), the case's drawn or pinned value, or
their default.
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any, Callable, TypeGuard

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
            if chosen:
                args[name] = torch.tensor(chosen, dtype=dtype, device=device).reshape(shape)
            elif dtype.is_floating_point:
                args[name] = torch.randn(shape, generator=gen, device=device).to(dtype)
            else:
                args[name] = torch.randint(0, 4, shape, generator=gen, device=device).to(dtype)
        return args

    return build


def views(args: dict[str, Any], case: Case) -> dict[str, Any]:
    """`args` with the case's drawn views made from the tensors as built, values and `requires_grad` kept: those
    under `strided_views` (floats of two axes or more) with rows 3 elements further apart than packed (a slice of
    a wider projection), those under `spaced_views` as every other element of their last axis (`x[..., ::2]`).
    The decorator accepts these layouts, so a kernel that assumes packed ones fails a run instead of garbling
    production calls with views.

    The gaps hold NaN (zeros for integers), so a read of them shows. A tensor its builder made non-contiguous
    keeps that layout, and one sharing storage with another argument (`out=x`) is left as built: a copy would
    break the aliasing the call relies on. `Report.packed_only` names any tensor no case passed as a view."""

    def movable(t: Any) -> TypeGuard[torch.Tensor]:
        return isinstance(t, torch.Tensor) and t.layout == torch.strided and t.dim() > 0 and t.numel() > 0

    shared = Counter(t.untyped_storage().data_ptr() for t in args.values() if movable(t))
    # (step, pad): every `step`-th element of a last axis `pad` elements longer than `step` times packed
    layouts = {n: (1, 3) for n in case.options.get(STRIDED, ())} | {n: (2, 0) for n in case.options.get(SPACED, ())}
    for name, (step, pad) in layouts.items():
        t = args.get(name)
        if not movable(t) or not t.is_contiguous() or shared[t.untyped_storage().data_ptr()] > 1:
            continue
        if pad and (t.dim() < 2 or not t.dtype.is_floating_point):
            continue
        gap = float("nan") if t.dtype.is_floating_point or t.dtype.is_complex else 0
        wide = torch.full((*t.shape[:-1], t.shape[-1] * step + pad), gap, dtype=t.dtype, device=t.device)
        view = wide[..., : t.shape[-1] * step : step]
        with torch.no_grad():
            view.copy_(t)
        args[name] = view.requires_grad_(t.requires_grad)
    return args


def own_builder(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """The contract's own `inputs` builder, or one made from its annotations, as it is: what the runner calls
    under `blame`, so a builder that cannot take `(case, device)` is named as such, before the case's `views`."""
    return contract.resolve("inputs") or generic_inputs(contract)


def input_builder(contract: Contract) -> Callable[[Case, Any], dict[str, Any]]:
    """`own_builder`, with the case's drawn `views` made from what it returns."""
    build = own_builder(contract)

    def with_views(case: Case, device: Any) -> Any:
        args = build(case, device)
        return views(args, case) if isinstance(args, dict) else args

    return with_views
