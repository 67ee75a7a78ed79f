"""Run drawn cases through the REAL kernel and hold it to its contract and its reference.

For each case: build inputs from the seed, snapshot every argument the kernel may mutate, run the kernel
with uninitialised memory poisoned (torch fills `empty` tensors with NaN while deterministic mode is on,
so an element the kernel never writes shows up as NaN), then assert:
shape and dtype of the output as the contract evaluates them, every element finite, values against the
reference by relative RMS error `‖out − ref‖₂ / ‖ref‖₂` under a per-dtype bound, and for in-place
arguments: elements the reference changes match it, every other element is bit-identical.
Hypothesis drives the cases, shrinks failures and stores them in an example database, so the next run
replays them first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase

from shapecheck import strategies
from shapecheck.case import Case
from shapecheck.contract import Contract
from shapecheck.dims import dtype_name
from shapecheck.errors import ContractViolation
from shapecheck.inputs import input_builder
from shapecheck.profiles import Profile

# Relative RMS bounds by dtype. fp32 follows fla's kernels tests (the soak's worst is ~2e-6, see
# bench/results/soak_cpu.txt). A 16-bit result carries at most one final rounding: round-to-nearest
# costs <= 2**-8 relative for bf16 and <= 2**-11 for fp16, so 5e-3 bounds both on a GPU. Triton's CPU
# interpreter converts fp32 -> bf16 by TRUNCATION (measured with triton 3.7.1: 49% of 1024 casts differ
# from torch's round-to-nearest, max relative error 7.4e-3, just under 2**-7, and `fp_downcast_rounding=
# "rtne"` does not change it), so under the interpreter a one-element bf16 output can be 2**-7 off: the
# bound there is 1e-2. The soak's worst bf16 errors are recorded next to these bounds.
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10, torch.bfloat16: 5e-3, torch.float16: 5e-3}
INTERPRETER_TOLERANCE = {**TOLERANCE, torch.bfloat16: 1e-2}


def tolerance(dtype: torch.dtype) -> float:
    """The relative RMS bound for results stored in `dtype` on the current Triton backend."""
    table = INTERPRETER_TOLERANCE if os.environ.get("TRITON_INTERPRET") == "1" else TOLERANCE
    return table[dtype]


CACHE_DIR = Path(".shapecheck_cache")


@dataclasses.dataclass
class Outcome:
    """What one case did: problems found (empty = held) and the errors measured."""

    case: Case
    problems: list[str]
    errors: dict[str, float]  # "output float32" / "pool bfloat16" -> relative RMS error
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


@contextlib.contextmanager
def poisoned_allocations() -> Iterator[None]:
    """While active, torch.empty/new_empty return NaN-filled floats (and max-filled ints)."""
    was_det, was_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    was_fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = was_fill
        torch.use_deterministic_algorithms(was_det, warn_only=was_warn)


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


def _compare_output(contract: Contract, call_dims: dict[str, int], args: dict[str, Any], out: Any,
                    ref: Optional[torch.Tensor], outcome: Outcome) -> None:
    """Shape, dtype, every element written and finite; values too when the contract has a reference."""
    expected = contract.output_shape(call_dims)
    if not isinstance(out, torch.Tensor):
        outcome.problems.append(f"output is {type(out).__name__}, expected a tensor of shape {list(expected)}")
        return
    if tuple(out.shape) != expected:
        outcome.problems.append(f"output shape {list(out.shape)} != contract {list(expected)} "
                                f"(\"{contract.output.patterns[0].text}\" with {call_dims})")
        return
    like = args.get(contract.output_dtype_like) if contract.output_dtype_like else None
    if isinstance(like, torch.Tensor) and out.dtype != like.dtype:
        outcome.problems.append(f"output dtype {dtype_name(out)} != {contract.output_dtype_like}'s {dtype_name(like)}")
    bad = (~torch.isfinite(out)).sum().item()
    if bad:
        outcome.problems.append(f"{bad} of {out.numel()} output elements are NaN/inf (unwritten or non-finite)")
        return
    if ref is None:
        return
    err = relative_rms(out, ref)
    outcome.errors[f"output {dtype_name(out)}"] = err
    bound = tolerance(out.dtype)
    if err > bound:
        outcome.problems.append(f"output differs from reference: relative RMS error {err:.3g} > {bound:g} ({dtype_name(out)})")


def _compare_mutated(name: str, before: torch.Tensor, after: torch.Tensor, ref: torch.Tensor, outcome: Outcome) -> None:
    """Rows (first axis) the reference updates must match it; every other row must keep its exact bits.

    `ref` is computed from an unrounded (fp32+) copy of `before`, so a row counts as updated even when
    its change is below one ulp of a 16-bit pool, and the error measured is the kernel's own rounding.
    """
    updated = (ref != before.to(ref.dtype)).reshape(ref.shape[0], -1).any(dim=1)
    moved = (_bits(after) != _bits(before)).reshape(after.shape[0], -1).any(dim=1) & ~updated
    if moved.any():
        rows = moved.nonzero().flatten().tolist()
        outcome.problems.append(f"`{name}`: rows the contract leaves untouched were modified: {rows[:8]}"
                                f"{'...' if len(rows) > 8 else ''}")
    if updated.any():
        err = relative_rms(after[updated], ref[updated])
        outcome.errors[f"{name} {dtype_name(after)}"] = err
        bound = tolerance(after.dtype)
        if not torch.isfinite(after[updated]).all() or err > bound:
            outcome.problems.append(f"`{name}`: updated rows differ from reference: relative RMS error {err:.3g} > {bound:g}")


def _unrounded(x: torch.Tensor) -> torch.Tensor:
    """A copy in at least fp32, so the reference's in-place results are not rounded to 16 bits."""
    return x.to(torch.float32) if x.is_floating_point() and x.element_size() < 4 else x.clone()


def check_case(contract: Contract, case: Case, impl: Callable[..., Any], device: str) -> Outcome:
    """Run one case through `impl` and the contract's reference; collect every problem found."""
    start = time.perf_counter()
    outcome = Outcome(case, [], {}, 0.0)
    args = input_builder(contract)(case, device)
    try:
        call = contract.validate(dict(args))
    except ContractViolation as exc:
        raise AssertionError(f"shapecheck bug: the drawn case violates its own contract:\n{exc}") from None
    before = {name: args[name].clone() for name in contract.mutates}
    reference = contract.resolve("reference")
    if reference is not None:
        ref_out, *ref_mutated = _as_tuple(reference(**{**args, **{n: _unrounded(t) for n, t in before.items()}}))
    try:
        with poisoned_allocations():
            out = impl(**args)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001 - any failure of the kernel under test is a finding
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        outcome.problems.append(f"kernel raised {type(exc).__name__}: {first}")
    else:
        _compare_output(contract, call.dims, args, out, ref_out if reference else None, outcome)
        for name, ref in zip(contract.mutates, ref_mutated if reference else ()):
            _compare_mutated(name, before[name], args[name], ref, outcome)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return x if isinstance(x, tuple) else (x,)


class CompileCounter:
    """Counts Triton compilations (not cache hits) through triton's post-compile hook.

    `keys` collects each compilation's argument types, constexprs and launch options (warps, stages).
    Compilations beyond the number of distinct keys were caused by value specialisation (an int argument equal to 1 or divisible by 16, a
    pointer's alignment): drawn shapes forcing recompiles, which property testing wants to avoid.
    """

    def __init__(self) -> None:
        self.count = 0
        self.keys: set[tuple[Any, ...]] = set()

    @contextlib.contextmanager
    def active(self) -> Iterator["CompileCounter"]:
        try:
            from triton import knobs
        except ImportError:  # triton without knobs: nothing to count
            yield self
            return
        previous = knobs.runtime.jit_post_compile_hook

        def hook(*args: Any, **kwargs: Any) -> bool:
            self.count += 1
            info = kwargs.get("compile", {})
            self.keys.add((str(kwargs.get("fn")), repr(info.get("signature")), repr(info.get("constants")),
                           info.get("num_warps"), info.get("num_stages")))
            return bool(previous(*args, **kwargs)) if previous else False

        knobs.runtime.jit_post_compile_hook = hook
        try:
            yield self
        finally:
            knobs.runtime.jit_post_compile_hook = previous


@dataclasses.dataclass
class Report:
    """One contract's property run, as the CLI table and the JSON/JUnit reports show it."""

    contract: str
    impl: str
    device: str
    profile: str
    outcomes: list[Outcome]
    failure: Optional[Outcome]  # the shrunk failing case, if any
    regimes: Counter[str]  # regime name -> cases that exercised it
    compilations: int
    compile_keys: int  # distinct (argument types, constexprs) among the compilations
    seconds: float

    @property
    def held(self) -> bool:
        return self.failure is None

    def worst_errors(self) -> dict[str, float]:
        worst: dict[str, float] = {}
        for outcome in self.outcomes:
            for key, err in outcome.errors.items():
                worst[key] = max(err, worst.get(key, 0.0))
        return worst


def run_property(contract: Contract, impl: Callable[..., Any], impl_name: str, *, profile: Profile, device: str,
                 examples: Optional[int] = None, seed: Optional[int] = None, overrides: strategies.Overrides = {},
                 on_case: Callable[[Outcome], None] = lambda o: None, database: bool = True) -> Report:
    """Draw cases with Hypothesis, run each through `impl`, shrink the first failure to a minimal case."""
    outcomes: list[Outcome] = []
    failures: list[Outcome] = []

    def property_(case: Case) -> None:
        outcome = check_case(contract, case, impl, device)
        outcomes.append(outcome)
        on_case(outcome)
        if not outcome.ok:
            failures.append(outcome)
            raise AssertionError("\n".join(outcome.problems))

    # Separate example-database entries per contract, implementation and device.
    property_._hypothesis_internal_add_digest = f"{contract.name}|{impl_name}|{device}".encode()  # type: ignore[attr-defined]
    db = DirectoryBasedExampleDatabase(str(CACHE_DIR / "hypothesis")) if database else None
    test = given(strategies.cases(contract, profile, overrides))(property_)
    test = settings(max_examples=examples or profile.max_examples, deadline=None, database=db, derandomize=False,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])(test)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    counter = CompileCounter()
    start = time.perf_counter()
    with counter.active():
        try:
            test()
        except AssertionError:
            pass
        # The contract's hand-picked regime cases, when the drawn ones held. Not Hypothesis @examples: a
        # failing explicit example is reported unshrunk and stops the search, these are small already.
        for case in () if failures else (contract.resolve("examples") or (lambda p: []))(profile):
            outcome = check_case(contract, case, impl, device)
            outcomes.append(outcome)
            on_case(outcome)
            if not outcome.ok:
                failures.append(outcome)
                break
    # Hypothesis replays the minimal failing example last, so the last failure is the shrunk one (or the
    # failing regime case).
    regimes_of = contract.resolve("regimes") or (lambda case: set())
    regimes = Counter(name for outcome in outcomes for name in regimes_of(outcome.case))
    return Report(contract.name, impl_name, device, profile.name, outcomes, failures[-1] if failures else None,
                  regimes, counter.count, len(counter.keys), time.perf_counter() - start)
