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
import hashlib
import os
import time
from collections import Counter
from typing import Any, Callable, Mapping, Optional

import torch
from hypothesis import Phase, Verbosity, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky, Unsatisfiable

from shapecheck import ahead, autotune, blame, budget, gradients, harness, integrity, strategies
from shapecheck import pins as pin_values
from shapecheck.cache import cache_dir
from shapecheck.call import by_keyword
from shapecheck.case import Case
from shapecheck.compilations import CompileCounter
from shapecheck.conditioning import Judge
from shapecheck.errors import Abort, ContractViolation, NothingRan
from shapecheck.harness import poisoned_allocations
from shapecheck.harness import tolerance as tolerance  # re-exported: test_kernel.py and bench/soak.py use it
from shapecheck.host import described
from shapecheck.inputs import own_builder, views
from shapecheck.keywords import refuse_positional_options
from shapecheck.markers import Index, Offsets
from shapecheck.outcomes import Outcome, Report
from shapecheck.profiles import Profile
from shapecheck.spec import Contract


class Rejected(Exception):
    """A drawn case broke the contract's own checks: not run, counted under `reason`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _hook_name(contract: Contract, field: str) -> str:
    target = getattr(contract, field)
    return f"`{target}`" if isinstance(target, str) else f"`{getattr(target, '__qualname__', target)}`"


@refuse_positional_options
def check_case(
    contract: Contract,
    case: Case,
    impl: Callable[..., Any],
    device: str,
    *,
    label: Optional[str] = None,
    strict: Optional[bool] = None,
    backward: bool = True,
    autotune_configs: Optional[autotune.Mode] = None,
) -> Outcome:
    """Run one case through `impl` and the contract's reference; collect every problem found. A differentiable
    contract's case runs backward too (`shapecheck.gradients`) unless `backward` is off; autotuned kernels run
    a config the case draws (`shapecheck.autotune`; default: drawn under the interpreter, tuned on a GPU).

    Only `impl` failing is a finding. A case that breaks the contract raises `Rejected` when the case came
    from shapecheck's own generic strategy (`strict=False`), and `Abort` naming the hand-written strategy,
    builder or example that produced it otherwise (`strict` defaults to "the contract has its own `cases`
    or `inputs`"); the builder or reference raising is an `Abort` naming it, with the user's frame.
    """
    impl = by_keyword(impl, contract.parameters)
    start = time.perf_counter()
    outcome = Outcome(case=case, label=label, problems=[], errors={}, seconds=0.0)
    lap = _Laps(outcome.phases, device)
    builder = (
        "the contract's `inputs` builder " + _hook_name(contract, "inputs")
        if contract.inputs
        else "shapecheck's generic input builder"
    )
    args = blame.calling(builder, own_builder(contract), case, device)
    if not isinstance(args, dict) or set(args) - set(contract.parameters):
        extra = sorted(set(args) - set(contract.parameters)) if isinstance(args, dict) else type(args).__name__
        raise Abort(
            f"{builder} returned {extra!r}: expected a dict of the contract's parameters "
            f"({', '.join(contract.parameters)})"
        )
    args = views(args, case)
    try:
        call = contract.validate(dict(args))
    except ContractViolation as exc:
        reason = str(exc).splitlines()[0].removeprefix(f"{contract.name}: ")
        if strict if strict is not None else bool(contract.cases or contract.inputs):
            source = (
                f"regime example {label!r}"
                if label
                else f"the case strategy {_hook_name(contract, 'cases')}"
                if contract.cases
                else builder
            )
            raise Abort(
                f"{source} produced a case that breaks contract {contract.name}: {reason}\n  case: {case.to_json()}"
            ) from None
        raise Rejected(reason) from None
    outcome.layouts = [
        n for n in contract.free_layouts if isinstance(args.get(n), torch.Tensor) and not args[n].is_contiguous()
    ]
    outcome.regimes = sorted(passed_regimes(contract, case, args, {**case.dims, **call.dims}, outcome.layouts))
    before = {name: args[name].clone() for name in contract.mutates if isinstance(args.get(name), torch.Tensor)}
    untouched = integrity.snapshot_inputs(contract, args)
    lap("inputs")
    reference = contract.resolve("reference")
    results_of = harness.reference_results(contract, reference) if reference is not None else None
    expected: Optional[dict[str, Any]] = None
    if reference is not None:
        role = f"the reference {_hook_name(contract, 'reference')}"
        ref_args = harness.unrounded(args, before)
        returned = blame.calling(role, reference, **ref_args)
        try:
            expected = harness.expected(contract, returned, ref_args)
        except ValueError as exc:  # the reference's result has the wrong form: its author's to fix, at its def
            where = blame.defined_at(reference)
            raise Abort(f"{role} {exc}" + (f"\n  at {where}" if where else "")) from None
    lap("reference")
    tuning = autotune.Configs(autotune_configs or autotune.default_mode(device), case.seed)
    sampled = getattr(impl, "sampled", lambda seed: True)(
        case.seed
    )  # an isolated worker's costly checks (twin, settle)
    try:
        with poisoned_allocations(), tuning:
            out = impl(**args)
        lap("kernel")  # waits for the device: an asynchronous kernel error surfaces here, as a finding
    except integrity.Finding as exc:  # an isolated call that timed out or crashed: the message names it
        outcome.problems.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of the kernel under test is a finding
        blame.not_a_finding("the implementation", exc)
        said = described(exc)  # one line; a Triton CompilationError's "at 39:15:" with what is wrong after it
        if isinstance(exc, ContractViolation) and (exc.expected is not None or exc.found is not None):
            said += f" (expected {exc.expected}, found {exc.found})"  # its own decorator refused a call or result
        outcome.problems.append(f"kernel raised {said}")
        outcome.raised = type(exc).__name__
    else:
        judge = Judge(contract, case.seed, results_of, call.dims)
        found, bounds = judge(args, before, out, expected, outcome.errors)
        outcome.problems += [str(p) for p in found]
        # --- integrity (shapecheck/integrity.py): named findings against implementations that fake a pass ---
        outcome.problems += integrity.after_call(args, untouched, contract.returns.elements(out), impl, device)
        outcome.problems += integrity.precision(
            outcome.errors,
            lambda dtype: harness.operand_bound(dtype, args, operands=contract.operand_precision).value,
            bounds,
        )
        if getattr(impl, "untrusted", False) and sampled and results_of is not None and expected is not None:
            outcome.problems += integrity.stale_result(
                contract, case, impl, device, harness.found(contract, out, args), expected, judge, held=not found
            )
        lap("checks")
        if backward and not getattr(impl, "untrusted", False):  # an isolated worker's results carry no autograd graph
            with tuning:
                grads = gradients.run_backward(
                    contract, case, impl, args, before, call.dims, results_of, outcome.errors, bounds
                )
            outcome.problems += grads.problems
            outcome.backward = grads.ran
            lap("backward")
        outcome.bounds = {key: f"bound {b.value:.3g}: {b.why}" for key, b in bounds.items()}
    lap("checks")
    outcome.configs = tuning.used
    outcome.problems += tuning.named() if outcome.problems else []
    outcome.seconds = time.perf_counter() - start
    return outcome


class _Laps:
    """Adds the wall time since the previous lap to `phases[name]`; on a GPU it waits for the device first, so
    asynchronous work is charged to the step that launched it (the kernel's sync is the one the check needs)."""

    def __init__(self, phases: dict[str, float], device: str) -> None:
        self.phases, self.cuda, self.last = phases, device.startswith("cuda"), time.perf_counter()

    def __call__(self, name: str) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + now - self.last
        self.last = now


def pinned(case: Case, pins: dict[str, Any]) -> Case:
    """A regime example with the pins applied to the dimensions and options it carries."""
    return dataclasses.replace(
        case,
        dims={**case.dims, **{k: v for k, v in pins.items() if k in case.dims}},
        options={**case.options, **{k: v for k, v in pins.items() if k in case.options}},
    )


class _Failed(Exception):
    """Raised inside the Hypothesis test for a failing case, so Hypothesis shrinks it; nothing else is caught."""


class _Stopped(BaseException):
    """Raised inside the Hypothesis test when `stop()` says so (another worker claimed the run's failure): a
    BaseException, so Hypothesis lets it through without shrinking or retrying."""


def _as_examples(found: Any) -> list[tuple[Optional[str], Case]]:
    items = found.items() if isinstance(found, dict) else ((None, case) for case in found)
    return [(name, case) for name, case in items]


def run_property(
    contract: Contract,
    impl: Callable[..., Any],
    impl_name: str,
    *,
    profile: Profile,
    device: str,
    examples: Optional[int] = None,
    seed: Optional[int] = None,
    pins: Optional[dict[str, Any]] = None,
    on_case: Callable[[Outcome], None] = lambda o: None,
    database: bool = True,
    command: tuple[str, ...] = (),
    stop: Callable[[], bool] = lambda: False,
    pick_examples: Callable[[list[Any]], list[Any]] = lambda found: found,
    compile_ahead: bool = True,
    backward: bool = True,
    autotune_configs: Optional[autotune.Mode] = None,
    max_compiles: Optional[int] = None,
) -> Report:
    """Draw cases with Hypothesis, run each through `impl`, shrink the first failure to a minimal case.

    Raises `NothingRan` when no case executed (every drawn case was refused by the contract: never a pass),
    `Abort` when code other than `impl` failed (the reference, a builder, a strategy, shapecheck itself).
    For one part of a parallel run (shapecheck/parallel.py): `stop()` true ends the run before its next
    case with what ran so far, and `pick_examples` chooses the part's share of the regime examples.
    `compile_ahead`: on a cold GPU cache, compile the run's kernels first from threads (shapecheck/ahead.py).
    `backward`: off, a differentiable contract's cases run forward only. `autotune_configs`: "drawn" runs
    each autotuned kernel with a config the case picks, "tuned" with the autotuner's (default by device).
    `max_compiles`: the compile budget (shapecheck/budget.py; None: the profile's, 0: draw freely).
    """
    impl = by_keyword(impl, contract.parameters)
    pins = dict(pins or {})
    overrides = pin_values.overrides(contract, pins, profile)
    contract.resolve_hooks()
    outcomes: list[Outcome] = []
    failures: list[Outcome] = []
    rejected: Counter[str] = Counter()

    def property_(case: Case) -> None:
        if stop():
            raise _Stopped
        try:
            outcome = check_case(contract, case, impl, device, backward=backward, autotune_configs=autotune_configs)
        except Rejected as refused:
            rejected[refused.reason] += 1
            reject()
        except Exception as exc:  # the contract's own checks (user code) or shapecheck failing
            raise Abort(blame.describe(f"contract {contract.name}'s checks", exc), exc) from exc
        outcomes.append(outcome)
        on_case(outcome)
        if not outcome.ok:
            failures.append(outcome)
            raise _Failed("\n".join(outcome.problems))

    # One example database per contract, implementation, device and outcome-changing flags (`command`, the replay
    # argv: sanitizer, isolation, pins, backward, autotune configs): a failure stored under one set of flags is
    # not replayed, unshrunk, as the failure of a run under another. Every run's test function is this closure.
    key = hashlib.sha256(f"{contract.qualname}|{impl_name}|{device}|{' '.join(command)}".encode()).hexdigest()[:16]
    db = DirectoryBasedExampleDatabase(str(cache_dir() / "hypothesis" / key)) if database else None
    strategy_name = (
        f"the case strategy {_hook_name(contract, 'cases')}" if contract.cases else "shapecheck's generic case strategy"
    )
    strategy = blame.calling(strategy_name, strategies.case_strategy, contract, profile, overrides)
    count = examples or profile.max_examples
    # The contract's hand-picked regime cases, run when the drawn ones held. Not Hypothesis @examples: a
    # failing explicit example is reported unshrunk and stops the search, these are small already.
    found = blame.calling(
        f"the contract's `examples` {_hook_name(contract, 'examples')}",
        contract.resolve("examples") or (lambda p: []),
        profile,
    )
    regime_cases = pick_examples(_as_examples(found))
    # One seed for the compile budget's probes, compile ahead and the run, so the keys they see match; an
    # unseeded run with an example database stays unseeded (Hypothesis bypasses the database under a seed), and
    # compile ahead then draws other cases from the same rows.
    drawn_seed = budget.default_seed() if seed is None else seed
    also = [pinned(case, pins) for _, case in regime_cases]
    # the budget's probes and compile ahead meet the run's autotuned kernels as the run does (autotune.Dry)
    tuning = autotune_configs or autotune.default_mode(device)
    plan, launches = _plan_budget(
        contract, impl, profile, overrides, device, drawn_seed, max_compiles, strategy_name, also, tuning
    )
    budgeted = plan is not None and plan.strategy is not None
    if plan is not None and plan.strategy is not None:
        strategy, seen = plan.strategy, on_case

        def on_case(outcome: Outcome) -> None:
            launches.close_case()
            seen(outcome)

    test = given(strategy)(property_)
    # Quiet: the report is shapecheck's, whose reproduction line is `--reproduce`; Hypothesis would add its own
    # "@seed(...)" advice on stdout, also before a run that ends in "no case ran".
    test = settings(
        max_examples=count,
        deadline=None,
        database=db,
        derandomize=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=strategies.SUPPRESSED_HEALTH_CHECKS,
        report_multiple_bugs=False,
        print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    )(test)
    if seed is not None or db is None:
        test = hypothesis_seed(drawn_seed)(test)
    counter = CompileCounter()
    start = time.perf_counter() - (plan.seconds if plan else 0.0)
    stopped = False
    with counter.active(), launches.active() if budgeted else contextlib.nullcontext():
        if not compile_ahead:
            compiled = ahead.Ahead(skipped="turned off")
        else:  # the run's own cases, seed and autotune mode, so the keys compiled are the run's
            shared: dict[str, Any] = {
                "device": device,
                "examples": count,
                "seed": drawn_seed,
                "also": also,
                "autotune_configs": tuning,
            }
            compiled = (
                ahead.compile_run(contract, impl, strategy, rows=plan.sources, **shared)
                if plan is not None and budgeted
                else ahead.compile_ahead(contract, impl, strategy, **shared)
            )
        launches.take()  # the owner thread's probes above are no case of the run
        try:
            test()
        except (_Failed, Unsatisfiable):
            pass  # a shrunk failure (recorded in `failures`); or nothing valid was drawn (checked below)
        except _Stopped:
            stopped = True
        except Flaky:
            if not failures:
                raise
        except Exception as exc:  # raised while drawing: the strategy's code, or shapecheck's
            raise Abort(blame.describe(strategy_name, exc), exc) from exc
        for label, case in () if failures or stopped else regime_cases:
            if stop():
                stopped = True
                break
            try:
                outcome = check_case(
                    contract,
                    pinned(case, pins),
                    impl,
                    device,
                    label=label,
                    strict=not pins,
                    backward=backward,
                    autotune_configs=autotune_configs,
                )
            except Rejected as refused:
                rejected[f"regime example {label or case.to_json()} under the pins: {refused.reason}"] += 1
                continue
            outcomes.append(outcome)
            on_case(outcome)
            if not outcome.ok:
                failures.append(outcome)
                break
    if not outcomes and not stopped:
        reasons = (
            "; ".join(f"{reason} ({n})" for reason, n in rejected.most_common()) or "Hypothesis drew no valid case"
        )
        raise NothingRan(
            f"contract {contract.name}: no case ran — all {sum(rejected.values())} drawn cases were "
            f"rejected by the contract's own checks: {reasons}"
        )
    # Hypothesis replays the minimal failing example last, so the last failure is the shrunk one (or the
    # failing regime case).
    regimes = Counter(name for outcome in outcomes for name in outcome.regimes)
    return Report(
        contract=contract.name,
        impl=impl_name,
        device=device,
        profile=profile.name,
        outcomes=outcomes,
        failure=failures[-1] if failures else None,
        regimes=regimes,
        compilations=counter.count,
        compile_keys=len(counter.keys),
        seconds=time.perf_counter() - start,
        rejected=rejected,
        command=command,
        free_layouts=contract.free_layouts,
        dtype_choices={"/".join(group): choices for group, choices in strategies.dtype_choices(contract).items()},
        compile_seconds=counter.seconds,
        ahead_seconds=compiled.seconds,
        compile_budget=None if plan is None else plan.summary([o.case for o in outcomes], launches),
    )


def _plan_budget(
    contract: Contract,
    impl: Callable[..., Any],
    profile: Profile,
    overrides: strategies.Overrides,
    device: str,
    seed: int,
    max_compiles: Optional[int],
    strategy_name: str,
    examples: list[Case],
    tuning: autotune.Mode,
) -> tuple[Optional[budget.Plan], budget.Launches]:
    """The run's compile budget (shapecheck/budget.py), or None where none is asked for or keys cannot be seen:
    no budget, the interpreter (it compiles nothing), an isolated implementation, a triton without the hooks."""
    limit = profile.max_compiles if max_compiles is None else max_compiles
    launches = budget.Launches()
    if not limit or os.environ.get("TRITON_INTERPRET") == "1" or budget.available(impl):
        return None, launches
    plan = budget.plan(
        contract,
        impl,
        lambda o: blame.calling(strategy_name, strategies.case_strategy, contract, profile, o),
        overrides=overrides,
        device=device,
        seed=seed,
        max_compiles=limit,
        examples=examples,
        autotune_configs=tuning,
    )
    return plan, launches


def passed_regimes(
    contract: Contract, case: Case, args: Mapping[str, Any], dims: Mapping[str, int], spaced: list[str]
) -> set[str]:
    """Regimes one case covered, named from its arguments as passed: a contract's own builder may ignore what
    was drawn, and a coverage row must not claim a dtype or a view that never ran. A contract's own `regimes`
    hook names them from the case instead; dtypes and views are named from the arguments either way (`spaced`:
    the free-layout tensors passed non-contiguous, `Outcome.layouts`)."""
    hook = contract.resolve("regimes")
    found = set(hook(case)) if hook else _argument_regimes(contract, case, args, dims)
    for group in strategies.dtype_choices(contract):
        if isinstance(args.get(group[0]), torch.Tensor):
            found.add(f"{'/'.join(group)} {str(args[group[0]].dtype).removeprefix('torch.')}")
    found |= {f"spaced {name}" for name in spaced}
    return found | {f"strided {name}" for name in contract.free_strides if _rows_apart(args.get(name))}


def _argument_regimes(contract: Contract, case: Case, args: Mapping[str, Any], dims: Mapping[str, int]) -> set[str]:
    """Marked values, optional marked tensors left out, literal and boolean scalars; and the cotangents drawn
    (the backward pass makes them from the case)."""
    found: set[str] = set()
    for name, marker in contract.markers.items():
        value = args.get(name)
        if isinstance(value, torch.Tensor) and isinstance(marker, (Offsets, Index)):
            found |= marker.regimes([int(v) for v in value.flatten().tolist()], dims)
        elif value is None and name in contract.tensor_specs:
            found.add(f"{name} omitted")
    found |= {
        f"{name}={value!r}"
        for name, value in args.items()
        if name in contract.scalars and (isinstance(value, bool) or contract.scalars[name].literals or value is None)
    }
    return found | {
        f"{kind} cotangent of {name}" for name, kind in (case.options.get(strategies.COTANGENTS) or {}).items()
    }


def _rows_apart(t: Any) -> bool:
    """Whether `t` was passed as a strided view: rows further apart than packed, the last axis unit-stride."""
    return (
        isinstance(t, torch.Tensor)
        and t.dim() >= 2
        and t.numel() > 0
        and t.stride(-1) == 1
        and t.stride(-2) != t.shape[-1]
    )
