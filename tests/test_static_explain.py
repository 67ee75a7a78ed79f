"""`shapecheck explain` on our kernel wrapper: the `[NK,B,T,HV,V] -> [B,T,HV,V]` derivation with line
numbers, the guard fact that justifies the squeeze, the grid, and agreement with the contract.

Line numbers are looked up in kernels/gdn.py rather than written here, so editing the kernel above the
wrapper does not break the test while a change to the derivation does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shapecheck import cli
from shapecheck.contracts.gdn import GDN_DECODE
from tests import static_helpers as helpers
from tests.static_helpers import has_line

WRAPPER = "kernels/gdn.py::fused_sigmoid_gating_delta_rule_update"
runner = CliRunner()


def line_of(statement: str) -> int:
    return helpers.line_of("kernels/gdn.py", statement)


def explain(*args: str) -> str:
    return helpers.explain(WRAPPER, *args)


def test_text_derivation_of_the_wrapper() -> None:
    out = explain()
    guard, alloc, ret = line_of("if NK != 1:"), line_of("o = q.new_empty(NK, *v.shape)"), line_of("return o.squeeze(0)")
    assert out.splitlines()[:2] == [
        f"fused_sigmoid_gating_delta_rule_update  (kernels/gdn.py:{line_of('def fused_sigmoid_gating_delta_rule_update(')})",
        "shapes from contract `fused_sigmoid_gating_delta_rule_update`",
    ]
    assert has_line(out, r"^  q\s+\[B, T, H, K\]$")
    assert has_line(out, r"^  cu_seqlens\s+\[N\+1\] or None$")
    assert has_line(out, rf"^\s+{line_of('B, T, H, K = k.shape')}  B, T, H, K = k\.shape\s+binds B, T, H, K$")
    assert has_line(
        out, rf"^\s+{line_of('N = B if')}  N = B if cu_seqlens is None else len\(cu_seqlens\) - 1\s+binds N$"
    )
    assert (
        "because (B if cu_seqlens is None else N) = N, since N == B when cu_seqlens is None "
        "(contract rule `cu_seqlens is not None or N == B`)" in out
    )
    assert has_line(
        out,
        rf"^\s+{line_of('NK, NV =')}  NK, NV = triton\.cdiv\(K, BK\), triton\.cdiv\(V, BV\)\s+"
        r"NK = cdiv\(K, BK\), NV = cdiv\(V, BV\)$",
    )
    assert has_line(out, rf"^\s+{guard}  if NK != 1: raise \.\.\.\s+fact NK == 1$")
    assert "because the guard never fires: NK = cdiv(K, next_pow2(K)) = 1" in out
    assert has_line(out, rf"^\s+{alloc}  o = q\.new_empty\(NK, \*v\.shape\)\s+o: \[NK, B, T, HV, V\]$")
    assert has_line(
        out, rf"^\s+{line_of('grid = (N * HV * NV,)')}  grid = \(N \* HV \* NV,\)\s+launch grid \(NV\*HV\*N,\)$"
    )
    assert has_line(out, rf"^\s+{ret}  return o\.squeeze\(0\)\s+returns \[B, T, HV, V\]$")
    assert f"because squeeze(0) drops NK: NK == 1 (guard at line {guard})" in out
    assert has_line(
        out, r"^    axis 0  NV\*HV\*N\s+limit 2\*\*31 - 1$"
    )  # one axis: the (sequence, head, V block) product
    assert not has_line(out, r"^    axis 1")
    assert out.endswith(
        "output\n"
        "  inferred  [B, T, HV, V]\n"
        "  declared  [B, T, HV, V]  (contract `fused_sigmoid_gating_delta_rule_update`)\n"
        "  verdict   agree: inferred [B, T, HV, V] matches declared [B, T, HV, V]\n"
    )


def test_facts_list_rules_and_the_guard() -> None:
    out = explain()
    facts = out.split("\nfacts\n")[1].split("\n\n")[0].splitlines()
    assert [" ".join(line.split()) for line in facts] == [
        "HV % H == 0 contract rule `HV % H == 0`",
        "K <= 256 contract rule `K <= 256`",
        "BT == B*T contract rule `BT == B * T`",
        "N == B when cu_seqlens is None contract rule `cu_seqlens is not None or N == B`",
        "softplus_beta > 0 contract rule `softplus_beta > 0`",
        f"NK == 1 guard at line {line_of('if NK != 1:')}",
    ]


def test_markdown_report_with_a_worked_example() -> None:
    out = explain("--format", "markdown", "--example", "B=1,T=64,H=8,K=128,V=64,HV=8")
    assert out.startswith("# Shape derivation of `fused_sigmoid_gating_delta_rule_update`\n")
    hv = GDN_DECODE.dims["HV"]
    assert "| `K` | key head dim, <= 256 | 1 .. 256 |" in out  # the rule K <= 256 is the tightest bound
    assert f"| `HV` | {hv.meaning} | {hv.lo} .. {hv.gpu_hi} |" in out  # no rule: the contract's largest draw
    assert f"| {line_of('o = q.new_empty')} | `o = q.new_empty(NK, *v.shape)` | `o: [NK, B, T, HV, V]` |  |" in out
    assert "## Worked example: B=1, T=64, H=8, K=128, V=64, HV=8" in out
    nk = line_of("NK, NV =")
    assert f"| {nk} | `NK` | `cdiv(K, BK)` | `cdiv(128, 128)` | `1` |" in out
    assert f"| {nk} | `NV` | `cdiv(V, BV)` | `cdiv(64, 32)` | `2` |" in out  # T > 1: BV = 32, whatever the layout
    assert f"| {line_of('BK = triton.next_power_of_2(K)')} | `BK` | `next_pow2(K)` | `next_pow2(128)` | `128` |" in out
    assert (
        f"| {line_of('return o.squeeze(0)')} | `return` | `[B, T, HV, V]` | `[1, 64, 8, 64]` | `[1, 64, 8, 64]` |"
        in out
    )
    assert "| `K <= 256` | holds |" in out
    assert "| `NK == 1` | holds |" in out


def test_markdown_written_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "gdn.md"
    assert explain("--format", "markdown", "--output", str(target)) == ""
    assert target.read_text().startswith("# Shape derivation of `fused_sigmoid_gating_delta_rule_update`\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["explain", "kernels/nope.py::f"], "no such file: kernels/nope.py"),
        (["explain", "kernels/gdn.py"], "expected FILE.py::FUNCTION, found 'kernels/gdn.py'"),
        (
            ["explain", "kernels/gdn.py::nope"],
            "no function `nope` in kernels/gdn.py (functions: _token_inputs, "
            "_state_tile, _gated_delta_rule_update_kernel, _token_strides, launch_config, pdl_supported, "
            "fused_sigmoid_gating_delta_rule_update, with_launch_config)",
        ),
        (
            ["explain", WRAPPER, "--example", "B=one"],
            "--example expects NAME=INTEGER pairs separated by commas, found 'B=one'",
        ),
        (
            ["explain", WRAPPER, "--example", "Q=3"],
            "--example: Q is not a dimension of fused_sigmoid_gating_delta_rule_update "
            "(dimensions: B, BK, BT, BV, H, HV, K, N, NK, NV, S, T, V, num_warps)",
        ),
        (["explain", WRAPPER, "--format", "html"], "--format must be one of text, markdown, found 'html'"),
        (
            ["explain", WRAPPER, "--assume", "zz=B"],
            "--assume names zz, not parameters of fused_sigmoid_gating_delta_rule_update "
            "(A_log, a, dt_bias, softplus_beta, softplus_threshold, q, k, v, b, "
            "initial_state_source, initial_state_indices, scale, use_qk_l2norm_in_kernel, "
            "cu_seqlens, state_layout)",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert result.stderr == f"shapecheck: error: {message}\n"
