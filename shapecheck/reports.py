"""Machine-readable reports of a property run: JSON for scripts, JUnit XML for CI systems, and the one-line
command that replays a case."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

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
    command = list(report.command) or [*program(), "run", report.contract, "--impl", report.impl, "--device", report.device]
    return shlex.join([*command, "--reproduce", case_json])


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {"case": json.loads(outcome.case.to_json()), "label": outcome.label, "ok": outcome.ok,
            "problems": outcome.problems, "errors": outcome.errors, "seconds": round(outcome.seconds, 4)}


def as_dict(report: Report) -> dict[str, Any]:
    failure = report.failure
    return {
        "contract": report.contract,
        "impl": report.impl,
        "device": report.device,
        "profile": report.profile,
        "held": report.held,
        "cases": len(report.outcomes),
        "failures": sum(not o.ok for o in report.outcomes),
        "rejected": sum(report.rejected.values()),
        "rejected_by_reason": dict(report.rejected),
        "regimes": dict(report.regimes),
        "worst_errors": report.worst_errors(),
        "compilations": report.compilations,
        "compile_keys": report.compile_keys,
        "seconds": round(report.seconds, 3),
        "failure": None if failure is None else {
            "case": json.loads(failure.case.to_json()),
            "label": failure.label,
            "problems": failure.problems,
            "reproduce": reproduction(report, failure.case.to_json()),
        },
        "outcomes": [_outcome(o) for o in report.outcomes],
    }


def write_json(reports: list[Report], path: Path) -> None:
    path.write_text(json.dumps({"held": all(r.held for r in reports), "contracts": [as_dict(r) for r in reports]}, indent=2))


def write_junit(reports: list[Report], path: Path) -> None:
    """One testsuite per run; one testcase for the drawn cases of each (contract, implementation) run, one
    per regime example. Shrink steps are not failures: a failure is the shrunk case, with its problems and
    the line that replays it."""
    suites = ET.Element("testsuites", name="shapecheck")
    for report in reports:
        drawn = [o for o in report.outcomes if o.label is None]
        named = [o for o in report.outcomes if o.label is not None]
        failed_drawn = report.failure is not None and report.failure.label is None
        suite = ET.SubElement(suites, "testsuite", name=f"{report.contract} [{report.impl} on {report.device}]",
                              tests=str(1 + len(named)), failures=str(int(not report.held)), errors="0",
                              time=f"{report.seconds:.3f}")
        groups = [(f"{len(drawn)} drawn cases ({sum(report.rejected.values())} rejected by the contract)", drawn,
                   report.failure if failed_drawn else None)]
        groups += [(f"regime: {o.label}", [o], None if o.ok else o) for o in named]
        for name, outcomes, failure in groups:
            case = ET.SubElement(suite, "testcase", classname=f"{report.contract}[{report.impl}]", name=name,
                                 time=f"{sum(o.seconds for o in outcomes):.3f}")
            if failure is not None:
                ET.SubElement(case, "failure", message=failure.problems[0]).text = (
                    "\n".join(failure.problems) + "\nreproduce: " + reproduction(report, failure.case.to_json()))
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)
