"""`shapecheck run`: choose contracts and implementations, run them, print and write the reports.

Kept out of cli.py so the command module stays a thin typer layer; imported only after the Triton
backend is chosen (kernels must not be imported before TRITON_INTERPRET is set).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from shapecheck import autotune, cache, console, parallel, pins, registry, reports
from shapecheck.case import Case
from shapecheck.errors import ContractViolation, UsageError
from shapecheck.inputs import input_builder
from shapecheck.isolate import Isolated
from shapecheck.profiles import PROFILES, named
from shapecheck.runner import Report, check_case, run_property
from shapecheck.spec import Contract


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What `shapecheck run` was asked; `replay()` turns the outcome-changing part back into argv."""

    contract: Optional[str] = None
    impl: Optional[str] = None
    contracts: Sequence[str] = ()
    examples: Optional[int] = None
    seed: Optional[int] = None
    device: str = "cpu"
    profile: str = "ci"
    json_path: Optional[Path] = None
    junit_path: Optional[Path] = None
    reproduce: Optional[str] = None
    sanitize: Optional[bool] = None  # None: on under the CPU interpreter, where an OOB access is silent
    database: bool = True
    pins: Sequence[str] = ()
    isolate: Optional[bool] = None  # None: on for `run CONTRACT --impl FILE.py:fn`
    timeout: Optional[float] = None  # per isolated case; None: the profile's
    workers: int = 1  # processes, one device each (shapecheck/parallel.py); never part of a replay line
    shard: Optional[parallel.Shard] = None  # this CI job's part of the run
    compile_ahead: bool = True  # on a cold GPU cache, compile the kernels first from threads (shapecheck/ahead.py)
    backward: bool = True  # a differentiable contract's cases run backward too (shapecheck/gradients.py)
    autotune_configs: Optional[autotune.Mode] = None  # None: drawn under the interpreter, tuned on a GPU
    max_compiles: Optional[int] = None  # the compile budget (shapecheck/budget.py); None: the profile's

    @property
    def sanitizing(self) -> bool:
        return self.device == "cpu" if self.sanitize is None else self.sanitize

    def _isolated_by_default(self, contract_named: bool) -> bool:
        """A generated candidate arrives as a file checked against a contract the caller names; a file that
        brings its own contract, an installed module or the contract's own kernel is the user's code, run
        in-process at full speed (as the decorator and `property_test` do)."""
        return contract_named and self.impl is not None and self.impl.rpartition(":")[0].endswith(".py")

    @property
    def isolating(self) -> bool:
        return self._isolated_by_default(self.contract is not None) if self.isolate is None else self.isolate

    def replay(self, contract: str) -> tuple[str, ...]:
        """argv that runs one case of `contract` again, from the same directory, up to `--reproduce`."""
        argv = [*reports.program(), "run", contract]
        argv += ["--impl", self.impl] if self.impl else []
        argv += [flag for module in self.contracts for flag in ("--contracts", module)]
        argv += ["--device", self.device]
        if self.device == "cpu" and not self.sanitizing:
            argv.append("--no-sanitize")
        if self.isolating != self._isolated_by_default(contract_named=True):
            argv.append("--isolate" if self.isolating else "--no-isolate")
        argv += ["--timeout", f"{self.timeout:g}"] if self.timeout and self.isolating else []
        argv += [] if self.backward else ["--no-backward"]
        argv += ["--autotune-configs", self.autotune_configs] if self.autotune_configs else []
        argv += [flag for pin in self.pins for flag in ("--pin", pin)]
        return tuple(argv)


Isolation = Optional[Callable[[str], Isolated]]  # target -> a worker running it; None: import it here
Target = tuple[Contract, Callable[..., Any], str]  # (contract, implementation, implementation name)


def _isolation(options: RunOptions, stack: contextlib.ExitStack) -> Isolation:
    """Workers for `--isolate`, closed with `stack`; under the interpreter the sanitizer runs in the worker."""
    if not options.isolating:
        return None
    if options.sanitizing:
        sanitizable(options.device)
    profile = PROFILES[options.profile]
    return lambda target: stack.enter_context(Isolated(target, options.device, options.timeout or profile.timeout_s,
                                                       profile.settle_s, sanitize=options.sanitizing))


def _isolated_contract(options: RunOptions, worker: Isolated) -> Optional[Contract]:
    """The contract for an isolated --impl: named, or the one it carries if trusted code defines it.

    The candidate's module is never imported here, so a contract it defines itself (with its own reference)
    is unknown by design.
    """
    known = registry.contracts(options.contracts)
    name = options.contract or worker.contract_name
    if name is None:
        return None
    try:
        return registry.contract(name, known)
    except UsageError:
        raise UsageError(f"--isolate: contract {name!r} is not defined by code shapecheck imports itself (bundled, "
                         "--contracts, [tool.shapecheck], entry points), and the candidate's own module is not "
                         "imported under isolation; pass --contracts MODULE, or --no-isolate to trust the file") from None


def _targets(options: RunOptions, isolation: Isolation = None) -> list[Target]:
    """(contract, implementation, implementation name) pairs to run."""
    if options.impl is not None:
        c: Optional[Contract]
        fn: Callable[..., Any]
        if isolation is not None:
            worker = isolation(options.impl)
            fn, c = worker, _isolated_contract(options, worker)
        else:
            fn, near = registry.implementation_and_contracts(options.impl)
            known = registry.contracts(options.contracts, extra=near)
            carried = getattr(fn, "__contract__", None)
            c = registry.contract(options.contract, known, prefer=carried) if options.contract else carried
        if c is None:
            raise UsageError(f"--impl {options.impl} carries no @shapecheck.contract; name the contract to check it against")
        return _judgeable(options, isolation, [(c, fn, options.impl)])
    known = registry.contracts(options.contracts)
    chosen = [registry.contract(options.contract, known)] if options.contract else list(known.values())
    missing = [c.name for c in chosen if c.implementation is None]
    if missing:
        raise UsageError(f"contract {missing[0]} names no implementation; pass --impl module:function")
    return _judgeable(options, isolation, [(c, _implementation(c, isolation), c.implementation
                                            if isinstance(c.implementation, str) else c.name) for c in chosen])


def _judgeable(options: RunOptions, isolation: Isolation, targets: list[Target]) -> list[Target]:
    """Refuse what the run could not judge rather than leave it out of a "held": an isolated worker's results
    carry no autograd graph, so a differentiable contract's gradients cannot be judged under --isolate."""
    for c, _, _ in targets:
        if isolation is not None and options.backward and c.differentiable:
            raise UsageError(f"--isolate: contract {c.name} has differentiable inputs ({', '.join(c.differentiable)}), "
                             f"whose gradients an isolated worker cannot return (its results carry no autograd graph); "
                             "pass --no-backward to judge the forward alone, or --no-isolate")
    return targets


def _implementation(c: Contract, isolation: Isolation = None) -> Callable[..., Any]:
    if callable(c.implementation):
        if isolation is not None:
            raise UsageError(f"--isolate: contract {c.name}'s implementation is a Python object, not an importable "
                             "module:function a worker could import; pass --impl")
        return c.implementation
    return (isolation or registry.implementation)(c.implementation)  # type: ignore[arg-type]  # a hook string here (callables returned above)


def sanitizable(device: str) -> None:
    if device != "cpu":
        raise UsageError("--sanitize works under the CPU interpreter only; use --device cpu")


@contextlib.contextmanager
def _sanitizing(enabled: bool, device: str) -> Iterator[None]:
    """Bounds-check every interpreted load/store inside the block, then print what was checked."""
    if not enabled:
        yield
        return
    sanitizable(device)
    from shapecheck.sanitizer import sanitize

    with sanitize() as report:
        yield
    console.stdout.print(report.summary(), markup=False, soft_wrap=True)


def _check_replayable(c: Contract, case: Case) -> None:
    """A hand-edited case must still build valid inputs: otherwise it is a usage error, not a finding."""
    try:
        c.validate(input_builder(c)(case, "cpu"))
    except ContractViolation as exc:
        raise UsageError(f"--reproduce: the case breaks the contract itself: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - missing/garbled fields surface as KeyError/TypeError/...
        raise UsageError(f"--reproduce: the case does not fit contract {c.name}: {type(exc).__name__}: {exc}") from None


def _reproduce(options: RunOptions, isolation: Isolation) -> int:
    try:
        case = Case.from_json(options.reproduce or "")
    except ValueError as exc:
        raise UsageError(f"--reproduce: {exc}") from None
    targets = _targets(dataclasses.replace(options, contract=options.contract or case.contract), isolation)
    matching = [t for t in targets if case.contract in (t[0].name, t[0].qualname)]
    if not matching:
        raise UsageError(f"--reproduce: the case is for contract {case.contract!r}, not {options.contract!r}")
    c, fn, name = matching[0]
    pins.overrides(c, pins.parse(options.pins))
    _check_replayable(c, case)
    with _sanitizing(options.sanitizing and isolation is None, options.device):
        outcome = check_case(c, case, fn, options.device, strict=False, backward=options.backward,
                             autotune_configs=options.autotune_configs)
    status = "[green]held[/]" if outcome.ok else "[red]VIOLATED[/]"
    console.stdout.print(escape(f"{c.name} [{name} on {options.device}]: ") + f"{status} ({outcome.seconds:.2f} s)")
    for problem in outcome.problems:
        console.stdout.print(f"  - {problem}", markup=False, soft_wrap=True)
    for key, err in sorted(outcome.errors.items()):
        bound = f" ({outcome.bounds[key]})" if key in outcome.bounds else ""
        console.stdout.print(f"  {key}: relative RMS error {err:.2e}{bound}", markup=False, soft_wrap=True)
    return 0 if outcome.ok else 1


def _writable(path: Optional[Path], flag: str) -> None:
    """Fail before the run, not after it, when a report cannot be written."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name")
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: no directory {folder}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {path}: directory {folder} is not writable")


def run(options: RunOptions) -> int:
    """Run the property suite; 0 if every contract held, 1 if one was violated (errors raise)."""
    try:
        named(options.profile, "--profile")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _writable(options.json_path, "--json")
    _writable(options.junit_path, "--junit")
    cache.hypothesis_home()
    with contextlib.ExitStack() as workers:
        return _run(options, _isolation(options, workers))


def _run(options: RunOptions, isolation: Isolation) -> int:
    pinned = pins.parse(options.pins)
    if options.reproduce is not None:
        return _reproduce(options, isolation)
    results: list[Report] = []
    for c, fn, name in _targets(options, isolation):
        total = options.examples or PROFILES[options.profile].max_examples
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[failing]} failing"), TimeElapsedColumn())
        with Progress(*columns, console=console.stderr, transient=True) as progress:
            task = progress.add_task(escape(f"{c.name} [{name}]"), total=total, failing=0)

            def advance(ok: bool, task: TaskID = task) -> None:
                progress.update(task, advance=1, failing=progress.tasks[task].fields["failing"] + (not ok))

            def on_case(outcome: Any) -> None:
                advance(outcome.ok)

            if options.workers > 1 or options.shard is not None:
                if options.sanitizing:
                    sanitizable(options.device)
                report, summaries = parallel.run_contract(options, c, fn, name, advance)
                for summary in filter(None, summaries):
                    console.stdout.print(summary, markup=False, soft_wrap=True)
            else:
                with _sanitizing(options.sanitizing and isolation is None, options.device):
                    report = run_property(c, fn, name, profile=PROFILES[options.profile], device=options.device,
                                          examples=options.examples, seed=options.seed, pins=pinned, on_case=on_case,
                                          database=options.database, command=options.replay(c.qualname),
                                          compile_ahead=options.compile_ahead, backward=options.backward,
                                          autotune_configs=options.autotune_configs, max_compiles=options.max_compiles)
        console.stdout.print(console.report_table(report))
        console.print_failure(report)
        results.append(report)
    if options.json_path:
        reports.write_json(results, options.json_path, options.shard)
    if options.junit_path:
        reports.write_junit(results, options.junit_path)
    return 0 if all(r.held for r in results) else 1
