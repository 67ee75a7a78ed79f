"""The bundled training example: `segment_mean` (kernels/segment.py) with a Triton backward behind an autograd
Function, its contract annotations, markers, a reference and one regime case (contracts/segment.py).

It holds with every case run backward too. Four realistic slips in the backward kernel, each invisible to a
forward-only run (`--no-backward` exits 0), are found by the backward run with the gradient named, shrunk,
and replayed verbatim from the printed line. The slips are edits of the bundled kernel's source, written to a
package of their own outside the repository.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import fails_and_replays, outside_env, shapecheck_command, shapecheck_outside

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

ROOT = Path(__file__).resolve().parents[1]

# bug -> (the edit of kernels/segment.py, a piece of the finding it must produce)
BUGS = {
    "mean_scale_dropped": ((".to(tl.float32) * scale", ".to(tl.float32)"), "grad of x differs from reference"),
    "last_token_skipped": (
        ("for row in range(bos, eos):", "for row in range(bos, eos - 1):"),
        "grad of x elements are NaN/inf",
    ),
    "packed_cotangent_assumed": (("stride_dyn=dy.stride(0)", "stride_dyn=D"), "grad of x differs from reference"),
    "unmasked_tail_store": (
        ("g.to(dx.dtype.element_ty), mask=mask)", "g.to(dx.dtype.element_ty))"),
        "backward (grad of x) raised MemoryViolation: out-of-bounds store",
    ),
}
SANITIZER_ONLY = {"unmasked_tail_store"}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planted-backward")
    (root / "planted").mkdir()
    (root / "planted" / "__init__.py").write_text("")
    source = (ROOT / "kernels" / "segment.py").read_text()
    for bug, ((old, new), _) in BUGS.items():
        assert source.count(old) == 1, bug
        (root / "planted" / f"{bug}.py").write_text(source.replace(old, new))
    return root


def test_the_training_example_holds_with_backward_cases(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = shapecheck_outside(
        "run", "shapecheck.contracts.segment:segment_mean", "--no-db", "--json", str(report), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(report.read_text())["contracts"][0]
    assert found["held"] and found["backward_cases"] == found["cases"] >= 60
    assert {"empty segment", "zero cotangent of output", "strided cotangent of output"} <= set(found["regimes"])
    assert {"grad of x float32", "grad of x float16"} <= set(found["worst_errors"])
    assert "backward cases" in result.stdout


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_planted_backward_bug_passes_forward_only_and_fails_backward_naming_the_gradient(
    planted: Path, bug: str
) -> None:
    if bug in SANITIZER_ONLY and torch.cuda.is_available():
        pytest.skip("an out-of-bounds store is seen by the interpreter's sanitizer; on a GPU it lands in slack memory")
    line = f"{' '.join(shapecheck_command())} run --impl planted.{bug}:segment_mean --no-db --json r.json"
    forward_only = subprocess.run(
        f"{line} --no-backward", shell=True, cwd=planted, env=outside_env(), capture_output=True, text=True, timeout=600
    )
    assert forward_only.returncode == 0, forward_only.stdout + forward_only.stderr
    failure = fails_and_replays(line, planted / "r.json", cwd=planted, env=outside_env())
    assert any(BUGS[bug][1] in problem for problem in failure["problems"]), failure["problems"]


def test_an_isolated_run_of_a_differentiable_contract_is_refused_not_a_forward_only_held(tmp_path: Path) -> None:
    """The worker's results carry no autograd graph: rather than report "held" for gradients never judged, the
    run says so and names the way out."""
    result = shapecheck_outside(
        "run",
        "shapecheck.contracts.segment:segment_mean",
        "--impl",
        str(ROOT / "kernels" / "segment.py") + ":segment_mean",
        "--examples",
        "3",
        "--no-db",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "shapecheck: error: --isolate: contract segment_mean has differentiable inputs (x), whose gradients an "
        "isolated worker cannot return (its results carry no autograd graph); pass --no-backward to judge the "
        "forward alone, or --no-isolate"
    )
