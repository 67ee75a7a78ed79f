"""A second opinion on a value mismatch: the case's own float32 noise floor, against a float64 reference.

Why: a fixed relative bound (1e-5 for float32) is too strict for an ill-conditioned result. When a result
is a small difference of large terms, every float32 evaluation order is far from the exact answer. An
example is a 16-term `q·k` that cancels 300-fold (drawn by the GPU property job, 2026-12-01 on an H200):
the kernel was 1.56e-5 off the exact answer and torch's own float32 reference 4.9e-6. Judged by the float32
reference, the kernel failed (1.07e-5 > 1e-5), though no float32 evaluation order can promise better there.

How: only after a value check fails, the reference runs again with every floating argument upcast to
float64 (the truth), and on `SAMPLES` copies whose floating arguments carry relative noise of one float32
unit roundoff (2**-24). The median relative RMS change of each result is the case's noise floor: what merely
rounding its inputs to float32 costs. Rounding inside the computation can cost more than rounding its inputs
(a gradient through `x / sqrt(x^2 + eps)` at one element is `eps / (x^2 + eps)^1.5`, a cancellation no float32
order resolves: fla-core's chunk_gated_delta_rule at K=1, bench/results/training/fla_chunk_cpu.md), so the
reference also runs once with its floating arguments in float32, and its distance from the truth is a second
floor; for a case on a GPU, once on the device and once on the CPU (two float32 evaluation orders: on an H100,
torch's CUDA layer-norm gradient at D=1 came within 1e-5/16 of the true 0, lending Liger's 1.1e-5 no floor,
while its CPU one is 3.8e-5 off). A result then holds if it is within max(bound, `FACTOR` x the larger floor) of
the truth. A well-conditioned case has a floor near 1e-7, so its bound does not move; a genuine bug is off
by far more than its floor. The noise is drawn from the case's seed, so the verdict replays exactly.

A third floor is the result's own dtype: the truth merely stored in it. Where the values lie in a 16-bit
dtype's subnormal range no kernel can store them to the dtype's usual bound (Liger's float16 KL-divergence
gradient at V=1579, `reduction="mean"`: values near 1e-7, the exact gradient stored in float16 already 1.9e-2
to 2.6e-2 off against float16's 5e-3, the kernel 3.0e-2 on an H100). A result holds within `STORED` x that
floor: one rounding to store it, one more for a 16-bit intermediate its API hands on (a gradient passed between
autograd nodes in the inputs' dtype). In a dtype's normal range the floor is ~1/10 of the bound and changes
nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
from typing import Any, Callable, Mapping, Optional, Sequence

import torch

from shapecheck import harness
from shapecheck.dims import dtype_name
from shapecheck.harness import Bound, error_key, operand_bound, relative_rms, updated_rows
from shapecheck.outcomes import FACTOR as FACTOR  # in the torch-free result model: the report's table states them
from shapecheck.outcomes import STORED as STORED

NOISE = 2.0**-24  # float32 unit roundoff: the input rounding every float32 implementation starts from
SAMPLES = 5
JUDGED = (torch.float32, torch.bfloat16, torch.float16)  # results whose bound is float32-or-coarser


@dataclasses.dataclass(frozen=True)
class SecondOpinion:
    """The reference's results in float64 by name (outputs, then in-place arguments), and each result's bound."""

    truth: Mapping[str, Any]
    bounds: dict[str, Bound]


def _upcast(x: Any) -> Any:
    """A float64 copy (never the tensor itself: a reference that writes its arguments must not reach ours)."""
    if not isinstance(x, torch.Tensor):
        return x
    return x.to(torch.float64, copy=True) if x.is_floating_point() else x.clone()


def _single(x: Any) -> Any:
    """A float32 copy of a float64 one (what one float32 evaluation of the reference starts from)."""
    return x.to(torch.float32, copy=True) if isinstance(x, torch.Tensor) and x.is_floating_point() else _upcast(x)


def _noisy(x: Any, gen: torch.Generator) -> Any:
    if not isinstance(x, torch.Tensor):
        return x
    if not x.is_floating_point():
        return x.clone()
    u = torch.rand(x.shape, generator=gen, dtype=torch.float64).to(x.device)
    return x * (1 + NOISE * (2 * u - 1))


def second_opinion(
    results_of: Callable[[dict[str, Any]], Mapping[str, Any]],
    arguments: Mapping[str, Any],
    judged: Sequence[tuple[str, Any]],
    seed: int,
    *,
    operands: bool = False,
    on_cpu: Optional[bool] = None,
) -> Optional[SecondOpinion]:
    """Run the reference (`results_of(arguments) -> results by name`, `harness.expected` of the reference's
    return) in float64 on `arguments` (as they were before the call) and on noisy copies, each time on copies
    of its own, so a reference that updates its arguments in place reaches none of ours. `judged` names the
    results being judged: (name, result). Only float32-or-coarser results get a bound; a float64 one keeps
    its own. None when the reference cannot run in float64: the float32 comparison already failed, and its
    verdict stands. `on_cpu`: also evaluate in float32 on the CPU (default: when any argument is elsewhere)."""
    exact = {n: _upcast(x) for n, x in arguments.items()}
    gen = torch.Generator().manual_seed(seed)
    try:
        truth = results_of({n: _upcast(x) for n, x in exact.items()})
        noisy = [results_of({n: _noisy(x, gen) for n, x in exact.items()}) for _ in range(SAMPLES)]
        singles = [("float32 evaluation's error", results_of({n: _single(x) for n, x in exact.items()}))]
    except Exception:  # noqa: BLE001 - any failure of the user's reference in float64 leaves the first verdict
        return None
    elsewhere = any(isinstance(x, torch.Tensor) and x.device.type != "cpu" for x in exact.values())
    if elsewhere if on_cpu is None else on_cpu:
        with contextlib.suppress(Exception):  # a reference that runs only on its device keeps the device's floor
            cpu = results_of({n: _single(x.cpu() if isinstance(x, torch.Tensor) else x) for n, x in exact.items()})
            singles.append(("float32 evaluation's error on the CPU", cpu))
    bounds = {}
    for subject, result in judged:
        true = truth.get(subject)
        if not isinstance(result, torch.Tensor) or result.dtype not in JUDGED or not isinstance(true, torch.Tensor):
            continue
        # the harness judges the rows the reference updates of an in-place argument; so is the floor
        rows = updated_rows(true, exact[subject]) if subject in exact else ...  # `...` indexes a 0-d loss too
        inputs = statistics.median(relative_rms(sample[subject][rows], true[rows]) for sample in noisy)
        inside = [
            (relative_rms(one[subject].to(true.device)[rows], true[rows]), which)
            for which, one in singles
            if isinstance(one.get(subject), torch.Tensor)
        ]
        floor, which = max([(inputs, "float32 noise floor"), *inside])
        stored = relative_rms(true[rows].to(result.dtype), true[rows])
        base = operand_bound(result.dtype, arguments, operands=operands)
        value, why = max(
            (base.value, ""),
            (FACTOR * floor, f"{FACTOR} x this case's {which} {floor:.2g}"),
            (
                STORED * stored,
                f"{STORED} x the exact result's error merely stored in {dtype_name(result)} {stored:.2g}",
            ),
            key=lambda bound: bound[0],
        )
        bounds[error_key(subject, result.dtype)] = Bound(
            value, ", ".join(filter(None, ["against a float64 reference", base.why, why]))
        )
    return SecondOpinion(truth, bounds)


@dataclasses.dataclass(frozen=True)
class Judge:
    """One case's judgement of a call's results (`harness.check`), and, where a value missed its bound, the
    second opinion against a float64 reference within the case's own float32 noise floor (`conditioning.py`
    says why). A reference that cannot run in float64 leaves the float32 verdict. The fresh-input twin of
    `--isolate` is judged by the same object."""

    contract: harness.Judged
    seed: int
    results_of: Optional[Callable[[dict[str, Any]], dict[str, Any]]]
    dims: Mapping[str, int]

    def __call__(
        self,
        args: dict[str, Any],
        before: dict[str, torch.Tensor],
        out: Any,
        expected: Optional[Mapping[str, Any]],
        errors: dict[str, float],
        seed: Optional[int] = None,
    ) -> tuple[list[harness.Problem], dict[str, harness.Bound]]:
        found = harness.check(self.contract, self.dims, args, out, reference=expected, before=before, errors=errors)
        if self.results_of is None or not any(p.kind == harness.Kind.VALUES for p in found):
            return found, {}
        results = harness.found(self.contract, out, args)
        judged = [(p.subject, results.get(p.subject)) for p in found if p.kind == harness.Kind.VALUES]
        opinion = second_opinion(
            self.results_of,
            {**args, **before},
            judged,
            self.seed if seed is None else seed,
            operands=self.contract.operand_precision,
        )
        if opinion is None:
            return found, {}
        # Only the results that missed are judged again: one that held against the reference in its own dtypes
        # keeps that verdict (a float32 gradient that rounds a bfloat16 input's tanh, as the reference did, is
        # not held to the float64 truth because another result missed).
        missed = {subject for subject, _ in judged}
        again: dict[str, float] = {}
        rechecked = harness.check(
            self.contract,
            self.dims,
            args,
            out,
            reference=opinion.truth,
            before=before,
            errors=again,
            bounds=opinion.bounds,
        )
        keys = {error_key(subject, result.dtype) for subject, result in judged if isinstance(result, torch.Tensor)}
        errors.update({key: err for key, err in again.items() if key in keys})
        return (
            [p for p in found if p.kind != harness.Kind.VALUES]
            + [p for p in rechecked if p.kind == harness.Kind.VALUES and p.subject in missed]
        ), opinion.bounds
