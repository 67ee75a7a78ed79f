"""Autotuned kernels as drawn cases: under the interpreter (where Triton's autotuner cannot benchmark) each case
runs every `@triton.autotune` kernel with a config drawn from its own list, so a bug in one config is found,
the finding names the config, and the replay line runs that config again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.autotune_helpers import assert_a_bug_in_one_config_is_found, run_drawn
from tests.cli_helpers import ROOT, fails_and_replays, outside_env, shapecheck, shapecheck_command
from tests.fixtures.autotuned import double

pytestmark = pytest.mark.interpreter
FIXTURE = "tests.fixtures.autotuned"


def test_every_config_of_an_autotuned_kernel_runs_and_the_report_lists_them() -> None:
    report = run_drawn(double)
    assert report.held, report.failure and report.failure.problems
    used = report.configs()["_double_kernel"]
    assert sorted(c.split(",")[0] for c in used) == ["config 0 of 2 (BLOCK: 8", "config 1 of 2 (BLOCK: 4"], used
    assert sum(used.values()) == len(report.outcomes)


def test_a_bug_in_one_config_is_found_with_the_config_named() -> None:
    """Also on a GPU with configs drawn (tests/test_gpu.py), where the autotuner would run its fastest only."""
    assert_a_bug_in_one_config_is_found("cpu")


@pytest.mark.slow  # the CLI and its replay line in fresh processes
def test_the_replay_line_runs_the_drawn_config_again(tmp_path: Path) -> None:
    line = (
        f"{' '.join(shapecheck_command())} run {FIXTURE}:double --impl {FIXTURE}:double_grid_for_one_config "
        f"--contracts {FIXTURE} --no-db --json r.json"
    )
    failure = fails_and_replays(line, tmp_path / "r.json", cwd=tmp_path, env={**outside_env(), "PYTHONPATH": str(ROOT)})
    assert any("with config 1 of 2 (BLOCK: 4" in p for p in failure["problems"]), failure["problems"]
    report = json.loads((tmp_path / "r.json").read_text())["contracts"][0]
    assert set(report["autotune_configs"]) == {"_double_kernel"}


@pytest.mark.slow  # the CLI in a fresh process
def test_tuned_configs_under_the_interpreter_fail_as_triton_does() -> None:
    result = shapecheck(
        "run",
        f"{FIXTURE}:double",
        "--impl",
        f"{FIXTURE}:double",
        "--contracts",
        FIXTURE,
        "--no-db",
        "--device",
        "cpu",
        "--autotune-configs",
        "tuned",
        "--examples",
        "3",
    )
    assert result.returncode == 1 and "kernel raised RuntimeError: 0 active drivers" in result.stdout, result.stdout


def test_loop_variables_are_tensors_under_the_interpreter_as_compiled() -> None:
    import torch

    from tests.fixtures.autotuned import prefix_sum

    x = torch.randn(6, device="cuda" if torch.cuda.is_available() else "cpu")
    torch.testing.assert_close(prefix_sum(x), x.cumsum(0))


@pytest.mark.slow  # the CLI in a fresh process
def test_an_unknown_autotune_mode_is_a_usage_error() -> None:
    result = shapecheck("run", "segment_mean", "--device", "cpu", "--autotune-configs", "fastest")
    assert result.returncode == 2
    assert result.stderr.strip() == "shapecheck: error: --autotune-configs must be drawn or tuned, found 'fastest'"
