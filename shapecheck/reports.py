"""Machine-readable reports of a property run: JSON for scripts, JUnit XML for CI systems, and the one-line
command that replays a case."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

from shapecheck.budget import Summary
from shapecheck.case import Case
from shapecheck.runner import Outcome, Report


def program() -> list[str]:
    """How the user can start shapecheck again from the same directory: `shapecheck` when that is what the
    PATH finds, else the script they ran (`.venv/bin/shapecheck`), else `python -m shapecheck.cli`."""
    argv0 = sys.argv[0] if sys.argv else ""
    script = Path(argv0) if Path(argv0).name == "shapecheck" else Path(sys.executable).with_name("shapecheck")
    if not script.exists():
        return [sys.executable, "-m", "shapecheck.cli"]
    on_path = shutil.which("shapecheck")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return ["shapecheck"]
    return [argv0 if script == Path(argv0) else str(script)]


def reproduction(report: Report, case_json: str) -> str:
    """The one-line command that replays a case: every flag that changes the outcome, then the case."""
    command = list(report.command) or [
        *program(),
        "run",
        report.contract,
        "--impl",
        report.impl,
        "--device",
        report.device,
    ]
    return shlex.join([*command, "--reproduce", case_json])


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "case": json.loads(outcome.case.to_json()),
        "label": outcome.label,
        "ok": outcome.ok,
        "problems": outcome.problems,
        "errors": outcome.errors,
        "seconds": round(outcome.seconds, 4),
        "raised": outcome.raised,
        "phases": {k: round(v, 6) for k, v in outcome.phases.items()},
        "bounds": outcome.bounds,
        "backward": outcome.backward,
        "configs": outcome.configs,
    }


def as_dict(report: Report) -> dict[str, Any]:
    failure = report.failure
    return {
        "contract": report.contract,
        "impl": report.impl,
        "device": report.device,
        "profile": report.profile,
        "held": report.held,
        "cases": len(report.outcomes),
        "backward_cases": report.backward_cases,
        "autotune_configs": {kernel: dict(used) for kernel, used in report.configs().items()},
        "failures": sum(not o.ok for o in report.outcomes),
        "rejected": sum(report.rejected.values()),
        "rejected_by_reason": dict(report.rejected),
        "regimes": dict(report.regimes),
        "worst_errors": report.worst_errors(),
        "compilations": report.compilations,
        "compile_keys": report.compile_keys,
        "seconds": round(report.seconds, 3),
        "compile_seconds": round(report.compile_seconds, 3),
        "ahead_seconds": round(report.ahead_seconds, 3),
        "compile_budget": None if report.compile_budget is None else report.compile_budget.as_dict(),
        "part_seconds": round(report.part_seconds, 3),
        "command": list(report.command),
        "failure": None
        if failure is None
        else {
            "case": json.loads(failure.case.to_json()),
            "label": failure.label,
            "problems": failure.problems,
            "raised": failure.raised,
            "reproduce": reproduction(report, failure.case.to_json()),
        },
        "outcomes": [_outcome(o) for o in report.outcomes],
    }


def write_json(reports: list[Report], path: Path, shard: Optional[object] = None) -> None:
    """`shard` ("i/n") marks the report of one CI job of a sharded run, for `shapecheck report merge`."""
    path.write_text(
        json.dumps(
            {
                "held": all(r.held for r in reports),
                "shard": None if shard is None else str(shard),
                "contracts": [as_dict(r) for r in reports],
            },
            indent=2,
        )
    )


def _outcome_from(d: dict[str, Any]) -> Outcome:
    return Outcome(
        Case.from_json(json.dumps(d["case"])),
        list(d["problems"]),
        dict(d["errors"]),
        d["seconds"],
        label=d["label"],
        phases=dict(d.get("phases", {})),
        raised=d.get("raised"),
        bounds=dict(d.get("bounds", {})),
        backward=d.get("backward", False),
        configs=dict(d.get("configs", {})),
    )


def from_dict(d: dict[str, Any]) -> Report:
    """The Report that `as_dict` wrote (KeyError/ValueError when `d` is not one)."""
    outcomes = [_outcome_from(o) for o in d["outcomes"]]
    failure = None
    if d["failure"] is not None:
        wanted = Case.from_json(json.dumps(d["failure"]["case"]))
        failure = next((o for o in reversed(outcomes) if o.case == wanted and not o.ok), None)
        if failure is None:
            raise ValueError("its failure is not among its outcomes")
    return Report(
        d["contract"],
        d["impl"],
        d["device"],
        d["profile"],
        outcomes,
        failure,
        Counter(d["regimes"]),
        d["compilations"],
        d["compile_keys"],
        d["seconds"],
        Counter(d["rejected_by_reason"]),
        tuple(d.get("command", ())),
        compile_seconds=d.get("compile_seconds", 0.0),
        ahead_seconds=d.get("ahead_seconds", 0.0),
        part_seconds=d.get("part_seconds", 0.0),
        compile_budget=Summary(**d["compile_budget"]) if d.get("compile_budget") else None,
    )


def merge(parts: Sequence[Report], *, seconds: Optional[float] = None) -> Report:
    """One report from the parts of one (contract, implementation) run: workers or shards.

    Cases, regimes, rejections and compilations add up; the failure is the first part's that has one; wall
    time is `seconds` (the parent's clock for workers) or else the slowest part's (shards run side by
    side), and `part_seconds` their sum (what the time split adds up to). `compile_keys` is the largest
    part's count: parts compile in separate processes, so keys are not shared and their union is not known;
    for the same reason each part plans its own compile budget, and the merged report shows none.
    """
    first = parts[0]
    return Report(
        first.contract,
        first.impl,
        first.device,
        first.profile,
        [o for p in parts for o in p.outcomes],
        next((p.failure for p in parts if p.failure is not None), None),
        sum((p.regimes for p in parts), Counter()),
        sum(p.compilations for p in parts),
        max(p.compile_keys for p in parts),
        max(p.seconds for p in parts) if seconds is None else seconds,
        sum((p.rejected for p in parts), Counter()),
        next((p.command for p in parts if p.command), ()),
        compile_seconds=sum(p.compile_seconds for p in parts),
        ahead_seconds=sum(p.ahead_seconds for p in parts),
        part_seconds=sum(p.part_seconds or p.seconds for p in parts),
    )


def write_junit(reports: list[Report], path: Path) -> None:
    """One testsuite per run; one testcase for the drawn cases of each (contract, implementation) run, one
    per regime example. Shrink steps are not failures: a failure is the shrunk case, with its problems and
    the line that replays it."""
    suites = ET.Element("testsuites", name="shapecheck")
    for report in reports:
        drawn = [o for o in report.outcomes if o.label is None]
        named = [o for o in report.outcomes if o.label is not None]
        failed_drawn = report.failure is not None and report.failure.label is None
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{report.contract} [{report.impl} on {report.device}]",
            tests=str(1 + len(named)),
            failures=str(int(not report.held)),
            errors="0",
            time=f"{report.seconds:.3f}",
        )
        groups = [
            (
                f"{len(drawn)} drawn cases ({sum(report.rejected.values())} rejected by the contract)",
                drawn,
                report.failure if failed_drawn else None,
            )
        ]
        groups += [(f"regime: {o.label}", [o], None if o.ok else o) for o in named]
        for name, outcomes, failure in groups:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{report.contract}[{report.impl}]",
                name=name,
                time=f"{sum(o.seconds for o in outcomes):.3f}",
            )
            if failure is not None:
                ET.SubElement(case, "failure", message=failure.problems[0]).text = (
                    "\n".join(failure.problems) + "\nreproduce: " + reproduction(report, failure.case.to_json())
                )
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)
