"""`shapecheck mutate`: parse the target, generate its mutants, run them over the worker slots, report."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Optional, Sequence

from shapecheck.errors import UsageError
from shapecheck.mutate.execute import ERROR, SURVIVED, Result, RunConfig, baseline, run_mutants
from shapecheck.mutate.generate import contract_function, generate, parse_target
from shapecheck.mutate.operators import OPERATORS
from shapecheck.mutate.report import Summary, mark_equivalent, report_dict, table
from shapecheck.parallel import Shard


def main(
    spec: str,
    *,
    impl_function: Optional[str] = None,
    operators: Optional[Sequence[str]] = None,
    examples: int = 60,
    seed: int = 0,
    slots: Sequence[Optional[str]] = (None, None),
    shard: Optional[Shard] = None,
    device: str = "cpu",
    timeout: float = 600.0,
    json_path: Optional[Path] = None,
    equivalent: Sequence[str] = (),
    list_only: bool = False,
) -> int:
    """`shapecheck mutate`: 0 every mutant killed (or marked equivalent), 1 a survivor; UsageError -> 2.

    `slots` are the workers (one `CUDA_VISIBLE_DEVICES` value each on GPUs, None under the interpreter);
    `shard` keeps every n-th mutant from the i-th, so n CI jobs run each mutant once. Results are in the
    order of the full mutant list whatever the workers, so the report is a serial run's.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out, err = Console(), Console(stderr=True)
    if not slots or examples < 1:
        raise UsageError("--workers and --examples must be at least 1")
    target = parse_target(spec)
    wrapper = impl_function or contract_function(target.source, spec)
    if not any(isinstance(n, ast.FunctionDef) and n.name == wrapper for n in ast.parse(target.source).body):
        raise UsageError(f"--impl-function {wrapper}: no top-level function {wrapper!r} in {target.path}")
    everything = generate(target)
    chosen = everything if operators is None else generate(target, operators)
    if not chosen:
        raise UsageError(f"{spec}: no mutation site for operators {', '.join(operators or OPERATORS)}")
    mutants = chosen if shard is None else shard.take(chosen)
    if list_only:
        for m in mutants:
            out.print(f"{m.id}  {m.before}  →  {m.after}", markup=False, soft_wrap=True)
        out.print(f"{len(mutants)} mutants" + (f" (shard {shard} of {len(chosen)})" if shard else ""), markup=False)
        return 0
    if not mutants:
        raise UsageError(f"--shard {shard}: only {len(chosen)} mutants, none for this shard; use fewer shards")
    ids = [m.id for m in everything]
    mark_equivalent([], equivalent, ids)  # reject a stale id before spending minutes
    config = RunConfig(wrapper, examples, seed, timeout, device)
    start = time.perf_counter()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[survived]} survived"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("baseline (unmutated)", total=1, survived=0)
        base = baseline(target, config, slots[0])
        if base.status != SURVIVED:
            raise UsageError(
                f"the unmutated {target.spec} does not pass the suite through {wrapper} "
                f"({base.status}: {base.message}); mutation results would mean nothing"
            )
        progress.update(task, description=f"mutants of {target.function}", total=len(mutants), completed=0)

        def done(result: Result) -> None:
            progress.update(
                task, advance=1, survived=progress.tasks[task].fields["survived"] + (result.status == SURVIVED)
            )

        results = run_mutants(target, mutants, config, slots, done)
    seconds = time.perf_counter() - start
    mark_equivalent(results, equivalent, ids)
    summary = Summary.of(results)
    part = f", shard {shard}" if shard else ""
    out.print(table(results, f"mutants of {target.spec} (suite: {wrapper}, {examples} examples, seed {seed}{part})"))
    survivors = [r for r in results if r.status == SURVIVED and not r.equivalent]
    if survivors:
        out.print("[bold red]Survivors[/] (each is an equivalent mutant or a hole in the case strategies):")
        for r in survivors:
            assert r.mutant is not None
            out.print(
                f"  {escape(r.mutant.id)}: {escape(r.mutant.before)}  →  {escape(r.mutant.after)}", soft_wrap=True
            )
    for r in results:
        if r.status == ERROR:
            assert r.mutant is not None
            err.print(f"could not run {r.mutant.id}: {r.message}", markup=False, soft_wrap=True)
    out.print(
        escape(summary.line()) + f" in {seconds:.0f} s ({len(slots)} workers, baseline {base.seconds:.0f} s)",
        soft_wrap=True,
    )
    if json_path is not None:
        report = report_dict(
            target, config, base, results, seconds, len(slots), None if shard is None else str(shard), len(chosen)
        )
        json_path.write_text(json.dumps(report, indent=2))
    return 0 if summary.clean else 1
