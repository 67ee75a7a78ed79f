"""Static analysis on an unannotated wrapper in the upstream style (tests/fixtures/static_upstream_style.py):
shapes from the unpack lines with no --assume, the planted grid-axis and int32 slot-offset bugs reported
once each, a worked example over derived names, output formats and suppression comments; and the analyser
imports neither torch nor triton nor the project's contracts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from shapecheck import cli
from shapecheck.static.linter import lint_paths
from tests import static_helpers as helpers
from tests.static_helpers import has_line

FIXTURE = Path(__file__).parent / "fixtures" / "static_upstream_style.py"
TARGET = f"{FIXTURE}::gated_delta_rule_decode"
runner = CliRunner()


def line_of(statement: str) -> int:
    return helpers.line_of(FIXTURE, statement)


def explain(*args: str) -> str:
    return helpers.explain(TARGET, *args)


def test_explain_derives_the_shapes_from_the_unpack_lines_without_assume() -> None:
    out = explain()
    unpack, hv, n = line_of("B, T, H, K, V = *k.shape"), line_of("HV = v.shape[2]"), line_of("N = B if")
    assert "shapes from the code's own unpack lines" in out
    assert has_line(out, rf"^  k\s+\[B, T, H, K\]  inferred from line {unpack}$")
    assert has_line(out, rf"^  v\s+\[B, T, HV, V\]  inferred from lines {unpack}, {hv}; rank 4 assumed")
    assert has_line(out, rf"^  cu_seqlens\s+\[N\+1\] or None  inferred from line {n};")
    assert has_line(
        out,
        rf"^\s+{n}  N = B if cu_seqlens is None else len\(cu_seqlens\) - 1\s+"
        r"N = B if cu_seqlens is None else N$",
    )
    assert has_line(out, r"BK = next_pow2\(K\), BV = min\(next_pow2\(V\), 8\)$")
    assert has_line(out, r"NK = cdiv\(K, BK\), NV = cdiv\(V, BV\)$")
    assert has_line(out, rf"^  NK == 1\s+assert at line {line_of('assert NK == 1')}$")
    assert has_line(
        out, rf"^\s+{line_of('o = q.new_empty')}  o = q\.new_empty\(NK, \*v\.shape\)\s+o: \[NK, B, T, HV, V\]$"
    )
    assert has_line(out, rf"^\s+{line_of('o = o.squeeze(0)')}  o = o\.squeeze\(0\)\s+o: \[B, T, HV, V\]$")
    assert f"because squeeze(0) drops NK: NK == 1 (assert at line {line_of('assert NK == 1')})" in out
    assert has_line(out, r"launch grid \(NK, NV, N\*HV\)$")
    assert has_line(out, r"^    axis 2  N\*HV\s+limit 65535$")
    assert has_line(out, r"^  inferred  \[B, T, HV, V\]$")


def test_worked_example_accepts_every_derived_name_and_substitutes_block_sizes() -> None:
    out = explain("--example", "B=1,T=64,H=8,K=128,V=64,HV=8,N=1")
    nk = line_of("NK, NV =")
    assert has_line(out, rf"^\s+{nk}\s+NV\s+cdiv\(V, BV\) = cdiv\(64, 8\)\s+= 8$")
    assert has_line(out, rf"^\s+{nk}\s+NK\s+cdiv\(K, BK\) = cdiv\(128, 128\)\s+= 1$")
    assert has_line(out, rf"^\s+{line_of('o = o.squeeze(0)')}\s+o\s+\[B, T, HV, V\] = \[1, 64, 8, 64\]")
    assert "NK == 1 holds" in " ".join(out.split("facts under the example")[1].split())
    tuned = explain("--example", "B=1,T=64,H=8,K=128,V=64,HV=8,N=1,BV=32")  # a derived name can be pinned too
    assert has_line(tuned, rf"^\s+{nk}\s+NV\s+cdiv\(V, BV\) = cdiv\(64, 32\)\s+= 2$")


def test_lint_reports_the_grid_axis_and_the_slot_offset_once_each() -> None:
    report = lint_paths([FIXTURE])
    errors = Counter((f.code, f.line) for f in report.errors)
    assert errors == Counter(
        {
            ("SC005", line_of("gated_delta_rule_decode_kernel[grid](")): 1,
            ("SC006", line_of("p_h0 = h0_source + idx")): 1,
        }
    )
    [grid] = [f for f in report.errors if f.code == "SC005"]
    assert grid.message.startswith("grid axis 2 of `gated_delta_rule_decode_kernel` is N*HV")
    [offset] = [f for f in report.errors if f.code == "SC006"]
    assert offset.message.startswith("`idx * HV * K * V` multiplies")
    [note] = [f for f in report.findings if f.severity == "note"]  # NV grows with V, a head dim nobody bounded
    assert (note.code, note.message.split(" is ")[0]) == ("SC005", "grid axis 1 of `gated_delta_rule_decode_kernel`")
    assert not [f for f in lint_paths([FIXTURE], bounds={"V": 256}).findings if f.severity == "note"]


def test_formats_selection_and_suppression(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "--output-format", "github", "--select", "SC006", str(FIXTURE)])
    assert result.exit_code == 1
    assert result.output.startswith(f"::error file={FIXTURE},line={line_of('p_h0 = h0_source + idx')},col=")
    assert "title=SC006::`idx * HV * K * V`" in result.output and "SC005" not in result.output
    data = json.loads(runner.invoke(cli.app, ["lint", "--json", "--ignore", "SC005", str(FIXTURE)]).output)
    assert [f["code"] for f in data["findings"]] == ["SC006"]
    assert data["findings"][0]["end_line"] == data["findings"][0]["line"]
    silenced = tmp_path / "silenced.py"
    silenced.write_text(
        FIXTURE.read_text().replace(
            "o_v[None, :]\n    if USE_INITIAL_STATE and idx",
            "o_v[None, :]  # shapecheck: ignore[SC006]\n    if USE_INITIAL_STATE and idx",
        )
    )
    assert [f.code for f in lint_paths([silenced]).errors] == ["SC005"]
    bad = runner.invoke(cli.app, ["lint", "--bound", "V=big", str(FIXTURE)])
    assert (bad.exit_code, bad.stderr) == (
        2,
        "shapecheck: error: --bound expects NAME=POSITIVE_INTEGER (e.g. V=256), found 'V=big'\n",
    )


def test_lint_and_explain_import_neither_torch_nor_triton_nor_contracts() -> None:
    code = (
        "import sys\nfrom shapecheck.static.commands import explain_report, lint_report\n"
        "explain_report('kernels/gdn.py::fused_sigmoid_gating_delta_rule_update')\n"
        "lint_report(['kernels', 'contracts', 'tests/fixtures/user_kernel.py'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'triton', 'jaxtyping')"
        " or m.startswith(('shapecheck.contracts', 'shapecheck.kernels', 'shapecheck.spec', 'shapecheck.registry'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


def test_a_planted_output_bug_behind_the_decorator_is_found(tmp_path: Path) -> None:
    """issue 9: `@shapecheck.contract(C)` is followed to C's signature stub, parsed, never imported."""
    package = tmp_path / "segops"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "contracts.py").write_text(
        "import shapecheck\nfrom jaxtyping import Float, Int\nfrom torch import Tensor\n\n\n"
        "def _stub(x: Float[Tensor, 'T D'], cu_seqlens: Int[Tensor, 'N+1']) -> Float[Tensor, 'N D']: ...\n\n\n"
        "SEGMENT_MEAN = shapecheck.Contract('segment_mean', _stub, dims={'D': shapecheck.Dim('features', 1, 64)})\n"
    )
    (package / "ops.py").write_text(
        "import torch\nimport shapecheck\nfrom .contracts import SEGMENT_MEAN\n\n\n"
        "@shapecheck.contract(SEGMENT_MEAN)\ndef segment_mean(x, cu_seqlens):\n"
        "    N, D = len(cu_seqlens) - 1, x.shape[1]\n    return torch.empty((N + 1, D), dtype=x.dtype)\n"
    )
    [finding] = lint_paths([package]).findings
    assert (finding.code, finding.line) == ("SC001", 9)
    assert finding.message == "`segment_mean`: inferred [N + 1, D] but declared [N, D]"


def test_the_readme_derivation_is_what_explain_prints() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## Static analysis: `explain` and `lint`")[1].split("```\n")[1]
    out = explain().splitlines()
    for line in filter(None, block.splitlines()):
        assert line in out, f"README line not printed by explain: {line!r}"
