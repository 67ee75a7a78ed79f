"""The result model of a property run (shapecheck/outcomes.py): torch-free to import, and a report read back
from its JSON is the report that wrote it, field for field, under the keys the JSON format has always had."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from typing import Any

from shapecheck import reports
from shapecheck.case import Case
from shapecheck.outcomes import Outcome, Report, Summary


def test_reading_and_writing_reports_imports_no_torch_hypothesis_or_triton() -> None:
    """`shapecheck report merge` and the writers read JSON; a fresh process shows what importing them costs."""
    code = (
        "import sys, shapecheck.outcomes, shapecheck.reports, shapecheck.merge, shapecheck.console; "
        "print(sorted(m for m in ('torch', 'hypothesis', 'triton') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _case(seed: int) -> Case:
    return Case("gdn_decode", {"B": 2, "H": 4}, {"dtype": "float32", "cu_seqlens": [0, 3, 5]}, seed)


def _full_report() -> Report:
    held = Outcome(
        case=_case(1),
        label="ragged",
        problems=[],
        errors={"output float32": 2.5e-07, "pool bfloat16": 0.0039},
        seconds=0.5,
        raised=None,
        phases={"inputs": 0.125, "reference": 0.25, "kernel": 0.0625, "checks": 0.03125},
        bounds={"output float32": "bound 2.4e-05: against a float64 reference"},
        backward=True,
        configs={"fused_kernel": "config 3: BLOCK=64, num_warps=4"},
        layouts=["A_log"],
        regimes=["spaced A_log", "varlen", "q/k float32"],
    )
    failed = Outcome(
        case=_case(2),
        label=None,
        problems=["output float32: relative RMS error 0.5 > bound 1e-05"],
        errors={"output float32": 0.5},
        seconds=0.75,
        raised="IndexError",
        phases={"inputs": 0.5},
        configs={"fused_kernel": "config 1: BLOCK=32, num_warps=2"},
    )
    budget = Summary(
        max_compiles=8,
        off="",
        relevant=["H", "dtype"],
        rows=3,
        keys=5,
        cases_per_key=[9, 4, 1],
        values={"H": [2, 4], "dtype": ["float32"]},
        estimate=12.5,
        seconds=1.5,
        probes=40,
        seed=7,
    )
    return Report(
        contract="gdn_decode",
        impl="kernels.gdn:decode",
        device="cpu",
        profile="ci",
        regimes=Counter({"ragged": 2, "H=4": 1}),
        rejected=Counter({"B > slots": 3}),
        compilations=6,
        compile_keys=5,
        seconds=12.25,
        compile_seconds=2.5,
        ahead_seconds=1.25,
        compile_budget=budget,
        part_seconds=20.5,
        command=("shapecheck", "run", "gdn_decode", "--impl", "kernels.gdn:decode"),
        free_layouts=("A_log", "dt_bias"),
        dtype_choices={"q/k": ["float32", "float16"], "A_log": ["float32"]},
        failure=failed,
        outcomes=[held, failed],
    )


def test_every_field_of_a_report_survives_its_json() -> None:
    report = _full_report()
    unset = [f.name for f in dataclasses.fields(Report) if not getattr(report, f.name)]
    assert unset == []  # a field added to Report is set here too, so its round trip is tested
    unset_outcome = [
        f.name for f in dataclasses.fields(Outcome) if not any(getattr(o, f.name) for o in report.outcomes)
    ]
    assert unset_outcome == []

    again = Report.from_json(json.loads(json.dumps(reports.as_dict(report))))

    assert again == report
    assert again.failure is again.outcomes[1]  # the failure is the outcome among `outcomes`, not a copy of it
    assert type(again.regimes) is Counter and type(again.rejected) is Counter and again.rejected["B > slots"] == 3
    assert again.command == ("shapecheck", "run", "gdn_decode", "--impl", "kernels.gdn:decode")
    assert again.compile_budget == report.compile_budget and again.compile_budget is not None
    assert again.compile_budget.values == {"H": [2, 4], "dtype": ["float32"]}
    assert again.outcomes[0].case == _case(1) and again.outcomes[0].phases["checks"] == 0.03125
    assert again.time_split() == report.time_split()


def test_the_json_keeps_its_keys_and_figures() -> None:
    data = reports.as_dict(_full_report())

    assert set(data) == {
        "contract", "impl", "device", "profile", "held", "cases", "backward_cases", "autotune_configs", "failures",
        "rejected", "rejected_by_reason", "regimes", "worst_errors", "compilations", "compile_keys", "seconds",
        "compile_seconds", "ahead_seconds", "compile_budget", "part_seconds", "command", "failure", "outcomes",
        "free_layouts", "packed_only", "dtype_choices", "untried_dtypes",
    }  # fmt: skip
    assert (data["free_layouts"], data["packed_only"]) == (["A_log", "dt_bias"], ["dt_bias"])
    assert data["untried_dtypes"] == ["q/k float16", "A_log float32"]  # no case passed them
    assert (data["held"], data["cases"], data["failures"], data["backward_cases"]) == (False, 2, 1, 1)
    assert (data["rejected"], data["rejected_by_reason"]) == (3, {"B > slots": 3})
    assert data["regimes"] == {"ragged": 2, "H=4": 1}
    assert data["autotune_configs"] == {
        "fused_kernel": {"config 3: BLOCK=64, num_warps=4": 1, "config 1: BLOCK=32, num_warps=2": 1}
    }
    assert data["worst_errors"] == {"output float32": 0.5, "pool bfloat16": 0.0039}
    assert data["command"] == ["shapecheck", "run", "gdn_decode", "--impl", "kernels.gdn:decode"]
    assert data["compile_budget"]["cases_per_key"] == [9, 4, 1] and data["compile_budget"]["estimate"] == 12.5
    case = {
        "contract": "gdn_decode",
        "dims": {"B": 2, "H": 4},
        "options": {"cu_seqlens": [0, 3, 5], "dtype": "float32"},
    }
    assert data["failure"] == {
        "case": {**case, "seed": 2},
        "label": None,
        "problems": ["output float32: relative RMS error 0.5 > bound 1e-05"],
        "raised": "IndexError",
        "reproduce": "shapecheck run gdn_decode --impl kernels.gdn:decode --reproduce "
        + "'" + _case(2).to_json() + "'",
    }  # fmt: skip
    assert data["outcomes"][0] == {
        "ok": True,
        "case": {**case, "seed": 1},
        "label": "ragged",
        "problems": [],
        "errors": {"output float32": 2.5e-07, "pool bfloat16": 0.0039},
        "seconds": 0.5,
        "raised": None,
        "phases": {"inputs": 0.125, "reference": 0.25, "kernel": 0.0625, "checks": 0.03125},
        "bounds": {"output float32": "bound 2.4e-05: against a float64 reference"},
        "backward": True,
        "configs": {"fused_kernel": "config 3: BLOCK=64, num_warps=4"},
        "layouts": ["A_log"],
        "regimes": ["spaced A_log", "varlen", "q/k float32"],
    }


def test_times_are_written_rounded() -> None:
    report = _full_report()
    report.seconds, report.outcomes[0].seconds = 1.23456789, 0.123456789
    report.outcomes[0].phases = {"kernel": 0.0123456789}
    data = report.to_json()
    assert (data["seconds"], data["outcomes"][0]["seconds"], data["outcomes"][0]["phases"]) == (
        1.235,
        0.1235,
        {"kernel": 0.012346},
    )


def test_a_report_of_an_older_version_loads_with_the_defaults() -> None:
    """Fields added since (phases, bounds, compile budget, ...) take their defaults when the JSON lacks them."""
    old: dict[str, Any] = {
        "contract": "segment_mean",
        "impl": "kernels:segment_mean",
        "device": "cpu",
        "profile": "ci",
        "regimes": {"empty segment": 1},
        "rejected_by_reason": {},
        "compilations": 0,
        "compile_keys": 0,
        "seconds": 2.0,
        "failure": None,
        "outcomes": [
            {"case": json.loads(_case(3).to_json()), "label": None, "problems": [], "errors": {}, "seconds": 0.25}
        ],
    }
    report = Report.from_json(old)
    assert report.held and report.command == () and report.compile_budget is None and report.part_seconds == 0.0
    assert report.outcomes == [Outcome(case=_case(3), problems=[], errors={}, seconds=0.25)]
