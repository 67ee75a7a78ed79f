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

from shapecheck.outcomes import Report


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


def as_dict(report: Report) -> dict[str, Any]:
    """The report's JSON object (`Report.to_json`), its failure with the command that replays it: that command
    depends on how shapecheck was started (`program`), so it is written here and never read back."""
    data = report.to_json()
    if report.failure is not None:
        data["failure"]["reproduce"] = reproduction(report, report.failure.case.to_json())
    return data


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
        contract=first.contract,
        impl=first.impl,
        device=first.device,
        profile=first.profile,
        outcomes=[o for p in parts for o in p.outcomes],
        failure=next((p.failure for p in parts if p.failure is not None), None),
        regimes=sum((p.regimes for p in parts), Counter()),
        compilations=sum(p.compilations for p in parts),
        compile_keys=max(p.compile_keys for p in parts),
        seconds=max(p.seconds for p in parts) if seconds is None else seconds,
        rejected=sum((p.rejected for p in parts), Counter()),
        command=next((p.command for p in parts if p.command), ()),
        free_layouts=first.free_layouts,
        dtype_choices=first.dtype_choices,
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
