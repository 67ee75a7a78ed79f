"""`shapecheck run` exits 1 on every buggy variant within the CI budget, and 0 on the real kernel.

Each failure must come with a shrunk case and a reproduction command that itself fails again.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.cli_helpers import run_line, shapecheck
from tests.fixtures.buggy_kernels import VARIANTS

pytestmark = [pytest.mark.interpreter, pytest.mark.slow]  # slow: the CLI in fresh processes
BUDGET = ["--examples", "60", "--device", "cpu", "--no-db"]


def test_real_kernel_holds(tmp_path: Path) -> None:
    result = shapecheck(
        "run",
        "--impl",
        "shapecheck.kernels.gdn:fused_sigmoid_gating_delta_rule_update",
        *BUDGET,
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["held"] and report["contracts"][0]["cases"] >= 60


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_is_caught_and_reproducible(variant: str, tmp_path: Path) -> None:
    """Without extra flags (the sanitizer is on by default under the interpreter: out-of-bounds variants
    are findings too), and the printed line, run verbatim, fails again."""
    result = shapecheck(
        "run", "--impl", f"tests.fixtures.buggy_kernels:{variant}", *BUDGET, "--json", str(tmp_path / "r.json")
    )
    assert result.returncode == 1, result.stdout + result.stderr
    failure = json.loads((tmp_path / "r.json").read_text())["contracts"][0]["failure"]
    assert failure["problems"], failure
    assert "Reproduce:" in result.stdout and "Traceback" not in result.stdout + result.stderr
    replay = shlex.split(failure["reproduce"])
    assert Path(replay[0]).name == "shapecheck" and replay[1] == "run"
    assert failure["reproduce"] in result.stdout.replace("\n", "")
    again = run_line(failure["reproduce"])
    assert again.returncode == 1, again.stdout + again.stderr
    assert failure["problems"][0].split(":")[0] in again.stdout
