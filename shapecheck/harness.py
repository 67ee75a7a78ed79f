"""One checker of a call's results: the output (and in-place arguments) against the contract and a reference.

`check` returns every problem found; its callers decide what a problem is. The decorator raises the first
(shape and dtype only: no device reads, no reference at call time), the property runner reports them all as
the case's findings, and `bench/` judges its correctness cases with it. So "the output is right" means one
thing everywhere.

Relative RMS error `‖out − ref‖₂ / ‖ref‖₂` (float64, fla's metric) is held to a per-dtype bound; rows of an
in-place argument that the reference updates must match it, every other row must keep its exact bits.
Problems keep their sizes unformatted until printed: under `torch.compile` they are symbolic, and formatting
them would specialise the graph (the decorator stops tracing before it raises).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, Mapping, Optional

import torch

from shapecheck.dims import dtype_name
from shapecheck.errors import ContractViolation, DtypeViolation

if TYPE_CHECKING:
    from shapecheck.spec import Call, Contract

# Relative RMS bounds by dtype. fp32 follows fla's kernels tests (the soak's worst is ~2e-6, see
# bench/results/soak_cpu.txt). A 16-bit result carries at most one final rounding: round-to-nearest
# costs <= 2**-8 relative for bf16 and <= 2**-11 for fp16, so 5e-3 bounds both on a GPU. Triton's CPU
# interpreter converts fp32 -> bf16 by TRUNCATION (measured with triton 3.7.1: 49% of 1024 casts differ
# from torch's round-to-nearest, max relative error 7.4e-3, just under 2**-7, and `fp_downcast_rounding=
# "rtne"` does not change it), so under the interpreter a one-element bf16 output can be 2**-7 off: the
# bound there is 1e-2. The soak's worst bf16 errors are recorded next to these bounds.
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10, torch.bfloat16: 5e-3, torch.float16: 5e-3}
INTERPRETER_TOLERANCE = {**TOLERANCE, torch.bfloat16: 1e-2}
RETURN = "(return)"


def tolerance(dtype: torch.dtype) -> float:
    """The relative RMS bound for results stored in `dtype` on the current Triton backend."""
    table = INTERPRETER_TOLERANCE if os.environ.get("TRITON_INTERPRET") == "1" else TOLERANCE
    return table[dtype]


def as_tuple(x: Any) -> tuple[Any, ...]:
    """A reference's results as a tuple: it returns the output alone, or (output, *updated in-place arguments)."""
    return x if isinstance(x, tuple) else (x,)


def error_key(subject: str, dtype: torch.dtype) -> str:
    """How an error is named in `errors` and `bounds`: "output float32", "pool bfloat16"."""
    return f"{'output' if subject == RETURN else subject} {str(dtype).removeprefix('torch.')}"


@dataclasses.dataclass(frozen=True)
class Bound:
    """A result's relative RMS bound, and where a non-default one came from (printed with the error)."""

    value: float
    why: str = ""


def relative_rms(out: torch.Tensor, ref: torch.Tensor) -> float:
    """‖out − ref‖₂ / ‖ref‖₂ in float64 (fla's metric); exact agreement on a zero reference gives 0."""
    out, ref = out.double(), ref.double()
    diff = (out - ref).norm().item()
    scale = ref.norm().item()
    return diff / scale if scale > 0 else diff


def _bits(x: torch.Tensor) -> torch.Tensor:
    """Reinterpret floats as same-width integers, so comparison is bit-exact (NaN, -0.0 included)."""
    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
    return x.contiguous().view(width)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One way a result breaks its contract or disagrees with its reference.

    `kind` is "type", "shape" or "dtype" (what the decorator checks too), or "unwritten", "values",
    "untouched" (read from the device, against the reference: the runner's). `str()` is the runner's line.
    """

    kind: str
    subject: str = RETURN  # "(return)" or the in-place argument's name
    expected: Any = None
    found: Any = None
    pattern: str = ""  # the return annotation's shape text
    dims: Optional[Mapping[str, int]] = None
    like: Optional[str] = None  # `output_dtype_like`: the argument whose dtype the output must have
    line: str = ""  # the whole line, for the kinds only the runner checks

    def __str__(self) -> str:
        if self.line:
            return self.line
        if self.kind == "type":
            return f"output is {self.found}, expected a tensor of shape {self.expected}"
        if self.kind == "shape":
            return f'output shape {self.found} != contract {self.expected} ("{self.pattern}" with {dict(self.dims or {})})'
        if self.like is not None and self.expected != self.found:
            return f"output dtype {self.found} != {self.like}'s {self.expected}"
        return f'output dtype {self.found} is not one of "{self.pattern}"\'s {self.expected}'

    def violation(self, call: Call) -> ContractViolation:
        """The decorator's exception for this problem (shape and dtype kinds), with the call's bindings."""
        if self.kind == "dtype":
            why = "wrong output dtype" + (f" (must be `{self.like}`'s)" if self.like is not None else "")
            return call.fail(RETURN, why, expected=self.expected, found=self.found, error=DtypeViolation)
        return call.fail(RETURN, f'output does not match "{self.pattern}"', expected=self.expected, found=self.found)


def check(contract: Contract, dims: Mapping[str, int], arguments: Mapping[str, Any], out: Any, *,
          values: bool = True, reference: Optional[tuple[Any, ...]] = None,
          before: Optional[Mapping[str, torch.Tensor]] = None,
          errors: Optional[dict[str, float]] = None, bounds: Optional[Mapping[str, Bound]] = None) -> list[Problem]:
    """Every problem of a call's results, output first.

    `dims` are the call's bindings, `arguments` its arguments after the call (in-place ones updated).
    `values=False` checks the output's type, shape and dtype only, reading no device memory (the
    decorator). Otherwise every output element must also be written and finite, and with `reference` (the
    reference's results: output, then each in-place argument of `before`, in order) values are compared;
    `before` holds copies of the in-place arguments taken before the call. Each relative error measured is
    recorded in `errors` ("output float32", "pool bfloat16"); `bounds`, keyed the same way, replaces the
    dtype's bound for a result (`conditioning.py`'s second opinion). A tensor subclass output gets no value
    checks: it could answer the comparison itself (`integrity.after_call` reports it).
    """
    trusted = not values or type(out) is torch.Tensor or not isinstance(out, torch.Tensor)
    problems = _output(contract, dims, arguments, out) if trusted and contract.output is not None else []
    if not values:
        return problems
    expected, updated = (reference[0], reference[1:]) if reference is not None else (None, ())
    if trusted and contract.output is not None and not any(p.kind in ("type", "shape") for p in problems):
        problems += _output_values(out, expected, errors, bounds or {})
    for name, ref in zip(before or {}, updated):
        problems += _inplace(name, (before or {})[name], arguments[name], ref, errors, bounds or {})
    return problems


def _output(contract: Contract, dims: Mapping[str, int], arguments: Mapping[str, Any], out: Any) -> list[Problem]:
    """Type, shape and dtype of the output as the return annotation declares them under `dims`."""
    assert contract.output is not None  # check() asks only for a contract with a tensor output
    pattern = contract.output.patterns[0]
    shape = list(pattern.evaluate(dims))
    if not isinstance(out, torch.Tensor):
        return [Problem("type", expected=shape, found=type(out).__name__, pattern=pattern.text, dims=dims)]
    if list(out.shape) != shape:
        return [Problem("shape", expected=shape, found=list(out.shape), pattern=pattern.text, dims=dims)]
    like_name = contract.output_dtype_like
    like = arguments.get(like_name) if like_name else None
    like_dtype = dtype_name(like) if isinstance(like, torch.Tensor) else None
    if dtype_name(out) not in pattern.dtypes or like_dtype not in (None, dtype_name(out)):
        return [Problem("dtype", expected=like_dtype or pattern.dtype_kind, found=dtype_name(out), pattern=pattern.text,
                        like=like_name if like is not None else None)]
    return []


def _output_values(out: torch.Tensor, ref: Optional[torch.Tensor], errors: Optional[dict[str, float]],
                   bounds: Mapping[str, Bound]) -> list[Problem]:
    bad = (~torch.isfinite(out)).sum().item()
    if bad:
        return [Problem("unwritten", line=f"{bad} of {out.numel()} output elements are NaN/inf (unwritten or non-finite)")]
    if ref is None:
        return []
    err = relative_rms(out, ref)
    key = error_key(RETURN, out.dtype)
    if errors is not None:
        errors[key] = err
    bound = bounds.get(key, Bound(tolerance(out.dtype)))
    if err > bound.value:
        return [Problem("values", line=f"output differs from reference: relative RMS error {err:.3g} > {bound.value:.3g} "
                                       f"({dtype_name(out)}{'; ' + bound.why if bound.why else ''})")]
    return []


def updated_rows(ref: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """Which rows (first axis) of an in-place argument the reference changed: the rows its values are judged on."""
    return (ref != before.to(ref.dtype)).reshape(ref.shape[0], -1).any(dim=1)


def _inplace(name: str, before: torch.Tensor, after: torch.Tensor, ref: torch.Tensor,
             errors: Optional[dict[str, float]], bounds: Mapping[str, Bound]) -> list[Problem]:
    """Rows (first axis) the reference updates must match it; every other row must keep its exact bits.

    `ref` is computed from an unrounded (fp32+) copy of `before`, so a row counts as updated even when
    its change is below one ulp of a 16-bit pool, and the error measured is the kernel's own rounding.
    """
    problems = []
    updated = updated_rows(ref, before)
    moved = (_bits(after) != _bits(before)).reshape(after.shape[0], -1).any(dim=1) & ~updated
    if moved.any():
        rows = moved.nonzero().flatten().tolist()
        problems.append(Problem("untouched", name, line=f"`{name}`: rows the contract leaves untouched were modified: "
                                                        f"{rows[:8]}{'...' if len(rows) > 8 else ''}"))
    if updated.any():
        err = relative_rms(after[updated], ref[updated])
        key = error_key(name, after.dtype)
        if errors is not None:
            errors[key] = err
        bound = bounds.get(key, Bound(tolerance(after.dtype)))
        if not torch.isfinite(after[updated]).all() or err > bound.value:
            problems.append(Problem("values", name, line=f"`{name}`: updated rows differ from reference: "
                                                         f"relative RMS error {err:.3g} > {bound.value:.3g}"
                                                         f"{' (' + bound.why + ')' if bound.why else ''}"))
    return problems
