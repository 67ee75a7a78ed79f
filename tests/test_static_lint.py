"""`shapecheck lint`: every planted problem flagged with its code and line, nothing else; the project clean."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp
from typer.testing import CliRunner

from shapecheck import cli
from shapecheck.static.bounds import Bounder
from shapecheck.static.findings import RULES
from shapecheck.static.linter import lint_paths
from shapecheck.static.pointers import unsafe_offsets
from shapecheck.static.source import ModuleSource
from shapecheck.static.symbols import cdiv, dim, next_pow2

PLANTED = Path(__file__).parent / "fixtures" / "lint_planted.py"
runner = CliRunner()


def expected_findings() -> Counter[tuple[int, str]]:
    """(line, code) for every `# expect: CODE ...` comment of the fixture."""
    found: Counter[tuple[int, str]] = Counter()
    for number, line in enumerate(PLANTED.read_text().splitlines(), start=1):
        match = re.search(r"# expect: ((?:SC\d{3} ?)+)$", line)
        if match:
            found.update((number, code) for code in match.group(1).split())
    return found


def test_each_planted_problem_is_flagged_with_its_code_and_line_and_nothing_else() -> None:
    report = lint_paths([PLANTED])
    assert Counter((f.line, f.code) for f in report.findings) == expected_findings()
    assert {f.code for f in report.findings} == set(RULES) - {"SC000"}


def test_planted_messages_name_the_cause() -> None:
    messages = {(f.code, f.line): f.message for f in lint_paths([PLANTED]).findings}
    assert messages[("SC002", 31)] == "squeeze(1) is a no-op: axis 1 has size 4, never 1"
    assert messages[("SC003", 49)] == "-1 is B*D*T / (3*B*T): not provably a whole number of elements"
    assert messages[("SC005", 88)] == (
        "grid axis 1 of `_copy_kernel` is B*H, which grows without bound with B, H; CUDA allows 65535 blocks "
        "on axes 1 and 2 (put the large product on axis 0)"
    )
    assert messages[("SC006", 105)] == (
        "`slot * stride` multiplies `slot`, loaded from memory at line 103, into a pointer offset without "
        "`.to(tl.int64)`: int32 wraps past 2**31 elements"
    )


def test_the_project_is_clean() -> None:
    report = lint_paths(["kernels", "contracts", "shapecheck"])
    assert report.findings == []
    assert report.summary().startswith("All checks passed: ")


def test_unparsable_file_is_sc000(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    [finding] = lint_paths([bad]).findings
    assert (finding.code, finding.line) == ("SC000", 1)


def test_grid_bounded_by_the_contract_is_clean_and_unbounded_is_flagged(tmp_path: Path) -> None:
    bounder = Bounder({dim("V"): (1.0, 256.0)}, {})
    BV = sp.Min(next_pow2(dim("V")), 32)
    assert bounder.interval(cdiv(dim("V"), BV)) == (1.0, 256.0)
    assert bounder.interval(dim("B") * dim("H"))[1] == math.inf
    assert bounder.unbounded(dim("B") * dim("V")) == ["B"]


def test_pointer_taint_is_cleared_by_an_int64_cast_before_the_product() -> None:
    module = ModuleSource.parse(
        "import triton.language as tl\n"
        "def k(pool, idx, out, s):\n"
        "    slot = tl.load(idx)\n"
        "    late = (slot * s).to(tl.int64)\n"
        "    tl.store(out + late, 1.0)\n"
        "    early = tl.cast(tl.load(idx), tl.int64)\n"
        "    tl.store(out + early * s, tl.load(pool + slot) * s)\n"
    )
    [overflow] = unsafe_offsets(module.functions["k"])
    assert (overflow.node.lineno, overflow.operand, overflow.source_line) == (4, "slot", 3)


def test_cli_lint_exit_codes_and_formats() -> None:
    clean = runner.invoke(cli.app, ["lint", "kernels", "contracts", "shapecheck"])
    assert clean.exit_code == 0, clean.output
    assert clean.output.startswith("All checks passed: ")
    found = runner.invoke(cli.app, ["lint", str(PLANTED)])
    assert found.exit_code == 1
    lines = found.output.splitlines()
    assert lines[0] == f"{PLANTED}:18:5: SC001 `heads_first`: inferred [B, H, T] but declared [B, T, H]"
    assert lines[-1] == (
        "Found 15 findings (SC001: 2, SC002: 2, SC003: 2, SC004: 3, SC005: 1, SC006: 1, SC007: 1, SC008: 1, "
        "SC009: 1, SC010: 1) "
        "in 27 functions in 1 file."
    )
    for flag in (["--json"], ["--output-format", "json"]):
        result = runner.invoke(cli.app, ["lint", *flag, str(PLANTED)])
        assert result.exit_code == 1
        data = json.loads(result.output)
        assert (data["files"], data["functions"], len(data["findings"])) == (1, 27, 15)
        assert data["findings"][0] == {
            "path": str(PLANTED),
            "line": 18,
            "col": 5,
            "code": "SC001",
            "message": "`heads_first`: inferred [B, H, T] but declared [B, T, H]",
            "function": "heads_first",
            "severity": "error",
            "end_line": 18,
            "end_col": 29,
        }


@pytest.mark.parametrize(
    "args, message",
    [
        (["lint", "no/such/path"], "shapecheck: error: no such file or directory: no/such/path\n"),
        (
            ["lint", "--output-format", "xml", "kernels"],
            "shapecheck: error: --output-format must be one of text, json, github, concise, found 'xml'\n",
        ),
    ],
)
def test_cli_lint_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert result.stderr == message
