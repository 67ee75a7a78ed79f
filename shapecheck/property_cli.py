"""`shapecheck run`: choose contracts and implementations, run them, print and write the reports.

Kept out of cli.py so the command module stays a thin typer layer; imported only after the Triton
backend is chosen (kernels must not be imported before TRITON_INTERPRET is set).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from hypothesis import strategies as st
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shapecheck import console, registry, reports
from shapecheck.case import Case
from shapecheck.contract import Contract
from shapecheck.errors import ContractViolation, UsageError
from shapecheck.inputs import input_builder
from shapecheck.profiles import PROFILES
from shapecheck.runner import Report, check_case, run_property


def _targets(contract: Optional[str], impl: Optional[str]) -> list[tuple[Contract, Callable[..., Any], str]]:
    """(contract, implementation, implementation name) pairs to run."""
    known = registry.contracts()
    if impl is not None:
        fn = registry.implementation(impl)
        c = registry.contract(contract, known) if contract else getattr(fn, "__contract__", None)
        if c is None:
            raise UsageError(f"--impl {impl} carries no @shapecheck.contract; name the contract to check it against")
        return [(c, fn, impl)]
    chosen = [registry.contract(contract, known)] if contract else list(known.values())
    if not chosen:
        raise UsageError("no contracts found (package `contracts` is empty and nothing is registered)")
    missing = [c.name for c in chosen if c.implementation is None]
    if missing:
        raise UsageError(f"contract {missing[0]} names no implementation; pass --impl module:function")
    return [(c, registry.implementation(c.implementation), c.implementation) for c in chosen]  # type: ignore[arg-type]


@contextlib.contextmanager
def _sanitizing(enabled: bool, device: str) -> Iterator[None]:
    """Bounds-check every interpreted load/store inside the block, then print what was checked."""
    if not enabled:
        yield
        return
    if device != "cpu":
        raise UsageError("--sanitize works under the CPU interpreter only; use --device cpu")
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


def _reproduce(text: str, impl: Optional[str], contract: Optional[str], device: str, sanitize: bool) -> int:
    try:
        case = Case.from_json(text)
    except ValueError as exc:
        raise UsageError(f"--reproduce: {exc}") from None
    matching = [t for t in _targets(contract or case.contract, impl) if t[0].name == case.contract]
    if not matching:
        raise UsageError(f"--reproduce: the case is for contract {case.contract!r}, not {contract!r}")
    c, fn, name = matching[0]
    _check_replayable(c, case)
    with _sanitizing(sanitize, device):
        outcome = check_case(c, case, fn, device)
    status = "[green]held[/]" if outcome.ok else "[red]VIOLATED[/]"
    console.stdout.print(escape(f"{c.name} [{name} on {device}]: ") + f"{status} ({outcome.seconds:.2f} s)")
    for problem in outcome.problems:
        console.stdout.print(f"  - {problem}", markup=False, soft_wrap=True)
    for key, err in sorted(outcome.errors.items()):
        console.stdout.print(f"  {key}: relative RMS error {err:.2e}", markup=False)
    return 0 if outcome.ok else 1


def _pins(pins: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    """`NAME=VALUE` overrides: VALUE read as JSON (42, true, null, "vk", [0, 3]) or else as a plain string."""
    overrides: dict[str, st.SearchStrategy[Any]] = {}
    for text in pins:
        name, sep, raw = text.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--pin must look like NAME=VALUE, found {text!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[name] = st.just(value)
    return overrides


def run(contract: Optional[str], impl: Optional[str], examples: Optional[int], seed: Optional[int], device: str,
        profile: str, json_path: Optional[Path], junit_path: Optional[Path], reproduce: Optional[str],
        sanitize: bool, database: bool, pins: list[str]) -> int:
    """Run the property suite; 0 if every contract held, 1 if one was violated."""
    if profile not in PROFILES:
        raise UsageError(f"--profile must be one of {', '.join(PROFILES)}, found {profile!r}")
    overrides = _pins(pins)
    if reproduce is not None:
        return _reproduce(reproduce, impl, contract, device, sanitize)
    results: list[Report] = []
    for c, fn, name in _targets(contract, impl):
        total = examples or PROFILES[profile].max_examples
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[failing]} failing"), TimeElapsedColumn())
        with Progress(*columns, console=console.stderr, transient=True) as progress:
            task = progress.add_task(escape(f"{c.name} [{name}]"), total=total, failing=0)

            def on_case(outcome: Any) -> None:
                failing = progress.tasks[task].fields["failing"] + (not outcome.ok)
                progress.update(task, advance=1, failing=failing)

            with _sanitizing(sanitize, device):
                report = run_property(c, fn, name, profile=PROFILES[profile], device=device, examples=examples,
                                      seed=seed, overrides=overrides, on_case=on_case, database=database)
        console.stdout.print(console.report_table(report))
        console.print_failure(report)
        results.append(report)
    if json_path:
        reports.write_json(results, json_path)
    if junit_path:
        reports.write_junit(results, junit_path)
    return 0 if all(r.held for r in results) else 1
