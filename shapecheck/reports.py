"""Machine-readable reports of a property run: JSON for scripts, JUnit XML for CI systems."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from shapecheck.runner import Report


def reproduction(report: Report, case_json: str) -> str:
    """The one-line command that replays a case."""
    return (f"shapecheck run {report.contract} --impl {report.impl} --device {report.device} "
            f"--reproduce '{case_json}'")


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
        "regimes": dict(report.regimes),
        "worst_errors": report.worst_errors(),
        "compilations": report.compilations,
        "compile_keys": report.compile_keys,
        "seconds": round(report.seconds, 3),
        "failure": None if failure is None else {
            "case": json.loads(failure.case.to_json()),
            "problems": failure.problems,
            "reproduce": reproduction(report, failure.case.to_json()),
        },
    }


def write_json(reports: list[Report], path: Path) -> None:
    path.write_text(json.dumps({"held": all(r.held for r in reports), "contracts": [as_dict(r) for r in reports]}, indent=2))


def write_junit(reports: list[Report], path: Path) -> None:
    """One testsuite per contract, one testcase per drawn case (failing cases carry their problems)."""
    suites = ET.Element("testsuites", name="shapecheck")
    for report in reports:
        failing = [o for o in report.outcomes if not o.ok]
        suite = ET.SubElement(suites, "testsuite", name=report.contract, tests=str(len(report.outcomes)),
                              failures=str(len(failing)), errors="0", time=f"{report.seconds:.3f}")
        for i, outcome in enumerate(report.outcomes):
            case = ET.SubElement(suite, "testcase", classname=f"{report.contract}[{report.impl}]",
                                 name=f"case {i}: {outcome.case.to_json()}", time=f"{outcome.seconds:.3f}")
            if not outcome.ok:
                ET.SubElement(case, "failure", message=outcome.problems[0]).text = (
                    "\n".join(outcome.problems) + "\n" + reproduction(report, outcome.case.to_json()))
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)
