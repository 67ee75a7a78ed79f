"""Rich rendering of contracts and property runs for the terminal.

Rendering a report imports no torch, Hypothesis or Triton (`shapecheck report merge` prints merged JSON
reports); only a contract's table, which has a contract and so torch already, imports the strategies.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shapecheck.case import SPACED
from shapecheck.outcomes import FACTOR, STORED, Report, Summary
from shapecheck.reports import reproduction

if TYPE_CHECKING:
    from shapecheck.spec import Contract

stdout = Console()
stderr = Console(stderr=True)
_EXACT = {"bool", *(f"{u}int{bits}" for u in ("", "u") for bits in (8, 16, 32, 64))}  # compared element by element


def contract_table(c: Contract) -> Table:
    """Arguments with their declared shapes, then the rules and checks annotations cannot say."""
    table = Table(
        title=escape(f"{c.name}  ({c.qualname})"), caption=c.description, show_lines=False, title_justify="left"
    )
    table.add_column("argument")
    table.add_column("declared shape")
    for name, spec in c.tensor_specs.items():
        marker = c.markers.get(name)
        table.add_row(
            name,
            escape(spec.describe() + (" | None" if spec.optional else ""))
            + (f"  [dim]{escape(repr(marker))}[/]" if marker is not None else ""),
        )
    for name, accepts in c.scalars.items():
        default = c.parameters[name].default
        shown = "" if default is inspect.Parameter.empty else f" = {default!r}"
        table.add_row(
            name, escape(f"{accepts.text}{shown}") + (f"  [dim]{escape(_drawn(c, name))}[/]" if _drawn(c, name) else "")
        )
    if c.returns.form == "none":
        table.add_row("[bold]returns[/]", "None (in-place: " + (", ".join(c.mutates) or "nothing") + ")")
    for output in c.returns.outputs:
        table.add_row(
            f"[bold]returns[/] {escape(output.name)}",
            escape(output.spec.describe() + (" | None" if output.spec.optional else "")),
        )
    for name in c.drawn_dims:
        d = c.dim(name)
        table.add_row(
            f"[dim]dim[/] {name}",
            escape(f"{d.lo}..{d.hi}" + (f" (gpu {d.gpu_hi})" if d.gpu_hi else ""))
            + (f"  [dim]{escape(d.meaning)}[/]" if d.meaning else ""),
        )
    for rule in c.rules:
        table.add_row("[dim]rule[/]", f"{rule.expr}  [dim]{rule.why}[/]")
    for check in c.checks:
        table.add_row("[dim]check[/]", (check.__doc__ or check.__name__).strip().splitlines()[0])
    return table


def _drawn(c: Contract, name: str) -> str:
    """How a scalar is drawn by generic cases ("" when it keeps its default)."""
    if c.cases:
        return ""
    if name in c.scalar_dims:
        return f"= dimension {name}"
    from shapecheck import strategies  # Hypothesis: here, not at the top, so that rendering a report needs none

    return "drawn" if strategies.scalar(c, name) is not None else ""


def _error(key: str, err: float) -> str:
    """A result's worst relative RMS error; "exact" for an integer or bool result whose every element agreed."""
    return "exact" if err == 0 and key.rsplit(" ", 1)[-1] in _EXACT else f"{err:.2e}"


def report_table(report: Report) -> Table:
    status = "[green]held[/]" if report.held else "[red]VIOLATED[/]"
    table = Table(
        title=escape(f"{report.contract}  [{report.impl} on {report.device}, profile {report.profile}]: ") + status,
        title_justify="left",
        show_header=False,
    )
    table.add_column("what", style="bold")
    table.add_column("value")
    failures = sum(not o.ok for o in report.outcomes)
    table.add_row("cases run", f"{len(report.outcomes)} ({failures} failing, shrinking included)")
    shapes = len({tuple(sorted(o.case.dims.items())) for o in report.outcomes})
    table.add_row("distinct shapes", f"{shapes} (Hypothesis draws the smallest dimensions often, with other values)")
    if report.backward_cases:
        table.add_row("backward cases", f"{report.backward_cases} (gradients of the differentiable inputs judged)")
    if report.configs():  # which configs ran, by index in each kernel's list (the JSON report has them in full)
        table.add_row(
            "autotune configs",
            "; ".join(
                f"{kernel} " + ", ".join(f"#{config.split()[1]} x{n}" for config, n in sorted(used.items()))
                for kernel, used in sorted(report.configs().items())
            ),
        )
    if report.rejected:
        reasons = "; ".join(f"{reason} ({n})" for reason, n in report.rejected.most_common(3))
        table.add_row(
            "rejected", f"{sum(report.rejected.values())} drawn cases broke the contract's own checks: {reasons}"
        )
    table.add_row("regimes covered", ", ".join(f"{name} {count}" for name, count in sorted(report.regimes.items())))
    if report.outcomes and report.packed_only:
        table.add_row(
            "drawn packed only",
            f"{', '.join(report.packed_only)}: the contract takes them in any layout, yet no case passed them "
            "otherwise (declare `shapecheck.contiguous` or `unit_stride_last`, or make views in the `inputs` builder)",
        )
    if report.outcomes and report.untried_dtypes:
        table.add_row(
            "dtypes never run",
            f"{', '.join(report.untried_dtypes)}: the annotations accept them, yet no case passed them (narrow the "
            "annotation, or build them in the `inputs` builder: the case's drawn dtypes are `case.options['dtypes']`)",
        )
    table.add_row(
        "worst error", ", ".join(f"{key}: {_error(key, err)}" for key, err in sorted(report.worst_errors().items()))
    )
    reconsidered = sum(o.ok and bool(o.bounds) for o in report.outcomes)
    if reconsidered:  # their errors above are against float64, held to a floor of their own
        table.add_row(
            "second opinions",
            f"{reconsidered} cases held against a float64 reference within a floor of their own: {FACTOR} x their "
            f"float32 noise or evaluation error, or {STORED} x the exact result's error merely stored in its dtype "
            "(ill-conditioned or beyond the dtype's range; shapecheck/conditioning.py; each case's bound in --json)",
        )
    compiled = (
        "none (CPU interpreter)"
        if report.device == "cpu"
        else f"{report.compilations} for {report.compile_keys} distinct dtype/block-size/flag sets"
    )
    table.add_row("triton compilations", compiled)
    for what, value in budget_rows(report.compile_budget) if report.compile_budget else ():
        table.add_row(what, value)
    rate = len(report.outcomes) / report.seconds if report.seconds else 0.0
    table.add_row("wall time", f"{report.seconds:.1f} s ({rate:.1f} cases/s)")
    split = sorted(report.time_split().items(), key=lambda item: -item[1])
    table.add_row("time split", ", ".join(f"{step} {seconds:.1f} s" for step, seconds in split))
    return table


def budget_rows(summary: Summary) -> list[tuple[str, str]]:
    """The report's rows for the budget: what it pinned and what the run covered."""
    if summary.off:
        return [("compile budget", f"off ({summary.off}; budget {summary.max_compiles} keys)")]
    per = summary.cases_per_key
    spread = f"{per[-1]}-{per[0]} cases per key, median {per[len(per) // 2]}" if per else "no key observed"
    values = "; ".join(
        f"{name}: {', '.join(map(str, vals[:12]))}{' ...' if len(vals) > 12 else ''} ({len(vals)})"
        for name, vals in summary.values.items()
    )
    return [
        (
            "compile budget",
            f"{summary.keys} keys for a budget of {summary.max_compiles} ({summary.rows} menu rows "
            f"over {', '.join(summary.relevant)}); {spread}; planned in {summary.seconds:.1f} s "
            f"from {summary.probes} probes",
        ),
        ("compile-relevant values", values),
    ]


def print_failure(report: Report) -> None:
    failure = report.failure
    if failure is None:
        return
    stdout.print("[red bold]Shrunk failing case:[/]")
    for problem in failure.problems:
        stdout.print(f"  - {problem}", markup=False, soft_wrap=True)
    stdout.print(f"  case: {failure.case.to_json()}", markup=False, soft_wrap=True)
    spaced = failure.case.options.get(SPACED) or []
    if spaced:  # shrinking keeps a view only where the failure needs it
        names = ", ".join(f'"{n}"' for n in spaced)
        stdout.print(
            f"  layout: the failure needs {names} as a view of every other element of the last axis (no check names "
            f"a layout for it, so the contract takes any); a kernel that addresses it packed declares "
            f"`shapecheck.contiguous({names})`, one that takes a row stride but a packed last axis "
            f"`shapecheck.unit_stride_last({names})`",
            markup=False,
            soft_wrap=True,
        )
    stdout.print("[bold]Reproduce:[/]")
    stdout.print(reproduction(report, failure.case.to_json()), markup=False, soft_wrap=True)
