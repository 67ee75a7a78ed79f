"""`shapecheck run`: choose contracts and implementations, run them, print and write the reports.

Kept out of cli.py so the command module stays a thin typer layer; imported only after the Triton
backend is chosen (kernels must not be imported before TRITON_INTERPRET is set).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, Iterator, Optional

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from shapecheck import cache, console, parallel, pins, plan, reports
from shapecheck.case import Case
from shapecheck.errors import ContractViolation, UsageError
from shapecheck.inputs import input_builder
from shapecheck.outcomes import Report
from shapecheck.plan import Isolation as Isolation
from shapecheck.plan import RunOptions as RunOptions
from shapecheck.plan import sanitizable as sanitizable
from shapecheck.profiles import PROFILES, named
from shapecheck.runner import check_case, run_property
from shapecheck.spec import Contract


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
    targets = plan.targets(dataclasses.replace(options, contract=options.contract or case.contract), isolation)
    matching = [t for t in targets if case.contract in (t[0].name, t[0].qualname)]
    if not matching:
        raise UsageError(f"--reproduce: the case is for contract {case.contract!r}, not {options.contract!r}")
    c, fn, name = matching[0]
    pins.overrides(c, pins.parse(options.pins))
    _check_replayable(c, case)
    with _sanitizing(options.sanitizing and isolation is None, options.device):
        outcome = check_case(
            c,
            case,
            fn,
            options.device,
            strict=False,
            backward=options.backward,
            autotune_configs=options.autotune_configs,
        )
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
        return _run(options, plan.isolation(options, workers))


def _run(options: RunOptions, isolation: Isolation) -> int:
    pinned = pins.parse(options.pins)
    if options.reproduce is not None:
        return _reproduce(options, isolation)
    results: list[Report] = []
    for c, fn, name in plan.targets(options, isolation):
        total = options.examples or PROFILES[options.profile].max_examples
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failing]} failing"),
            TimeElapsedColumn(),
        )
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
                    report = run_property(
                        c,
                        fn,
                        name,
                        profile=PROFILES[options.profile],
                        device=options.device,
                        examples=options.examples,
                        seed=options.seed,
                        pins=pinned,
                        on_case=on_case,
                        database=options.database,
                        command=options.replay(c.qualname),
                        compile_ahead=options.compile_ahead,
                        backward=options.backward,
                        autotune_configs=options.autotune_configs,
                        max_compiles=options.max_compiles,
                    )
        console.stdout.print(console.report_table(report))
        console.print_failure(report)
        results.append(report)
    if options.json_path:
        reports.write_json(results, options.json_path, options.shard)
    if options.junit_path:
        reports.write_junit(results, options.junit_path)
    return 0 if all(r.held for r in results) else 1
