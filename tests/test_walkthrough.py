"""README's "your own kernel in five minutes", performed as a new user would, outside the repository.

The package's files are read from the README (so the walkthrough cannot drift from what is tested), written
to a temporary directory, and driven through the installed `shapecheck` command from there: the correct
kernel holds with cases run, each planted bug exits 1 without extra flags and its printed reproduction line,
run verbatim from that directory, exits 1 again; a contract whose every case is rejected exits 2; `list`
shows the user's contract next to the bundled ones; `property_test` runs in the package's own pytest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import fails_and_replays

pytestmark = pytest.mark.slow  # the CLI in fresh processes: the README's fast loop leaves it out

ROOT = Path(__file__).resolve().parents[1]
FILES = dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", (ROOT / "README.md").read_text(), re.S))

# One realistic slip each, as edits of the walkthrough's segops/ops.py.
BUGS = {
    "off_by_one_bound": ("for t in range(bos, eos):", "for t in range(bos, eos - 1):"),
    "unmasked_tail_store": ("mean.to(out.dtype.element_ty), mask=mask)", "mean.to(out.dtype.element_ty))"),
    "empty_segment_divides_by_zero": ("tl.where(length > 0, acc / tl.maximum(length, 1.0), 0.0)", "acc / length"),
    "wrong_row_stride": ("x + t * stride_x + cols", "x + t * D + cols"),
}
# A contract whose checks refuse every case the generic builder makes (it draws int32 and int64 offsets).
STRICT = """
import torch
import shapecheck
from segops.contract import SEGMENT_MEAN, segment_mean


def _int16(call):
    if call.arguments["cu_seqlens"].dtype != torch.int16:
        raise call.fail("cu_seqlens", "must be int16", expected="int16", found=str(call.arguments["cu_seqlens"].dtype))


STRICT = shapecheck.Contract("segops_strict", segment_mean, dims=SEGMENT_MEAN.dims, checks=[_int16],
                             reference=SEGMENT_MEAN.reference)
"""


def _shapecheck() -> str:
    script = Path(sys.executable).with_name("shapecheck")
    if not script.exists():
        pytest.skip("the shapecheck console script is not installed (pip install -e .)")
    return str(script)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("segops-project")
    assert not root.resolve().is_relative_to(ROOT)
    for name, text in {
        **FILES,
        "segops/__init__.py": "",
        "segops/strict.py": STRICT,
        # a user's own modules named like shapecheck's old top-level ones must not collide
        "cli.py": "app = 'not shapecheck'\n",
        "contracts/__init__.py": "",
        "kernels/__init__.py": "",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    ops = FILES["segops/ops.py"]
    for bug, (old, new) in BUGS.items():
        assert ops.count(old) == 1, bug
        (root / "segops" / f"{bug}.py").write_text(ops.replace(old, new))
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRITON_INTERPRET")}
    return {**env, "COLUMNS": "300", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}


def _run(project: Path, line: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(line, shell=True, cwd=project, env=_env(), capture_output=True, text=True, timeout=600)


def test_list_shows_the_users_contract_and_the_bundled_ones(project: Path) -> None:
    result = _run(project, f"{_shapecheck()} list")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "segops.contract:segment_mean",
        "shapecheck.contracts.segment:segment_mean",
        "fused_sigmoid_gating_delta_rule_update",
    ):
        assert name in result.stdout


def test_a_short_name_the_bundled_example_shares_is_ambiguous_never_a_silent_pick(project: Path) -> None:
    result = _run(project, f"{_shapecheck()} run segment_mean --examples 5 --no-db")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "shapecheck: error: contract name 'segment_mean' is ambiguous: "
        "segops.contract:segment_mean, shapecheck.contracts.segment:segment_mean; "
        "name one by its qualified name"
    )
    named = _run(
        project,
        f"{_shapecheck()} run segops.contract:segment_mean --impl segops.ops:segment_mean --examples 10 --no-db",
    )
    assert named.returncode == 0, named.stdout + named.stderr


def test_correct_kernel_holds_with_cases_run(project: Path) -> None:
    result = _run(project, f"{_shapecheck()} run --impl segops.ops:segment_mean --examples 40 --no-db --json r.json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((project / "r.json").read_text())["contracts"][0]
    assert report["held"] and report["contract"] == "segment_mean" and report["cases"] >= 40
    assert {"empty segment", "strided x"} <= set(report["regimes"]), report["regimes"]


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_fails_and_its_reproduction_line_fails_again(project: Path, bug: str) -> None:
    if bug == "unmasked_tail_store" and torch.cuda.is_available():
        pytest.skip("an out-of-bounds store is seen by the interpreter's sanitizer; on a GPU it lands in slack memory")
    fails_and_replays(
        f"{_shapecheck()} run --impl segops.{bug}:segment_mean --examples 60 --no-db --json r.json",
        project / "r.json",
        cwd=project,
        env=_env(),
    )


def test_contract_rejecting_every_case_is_an_error_never_a_pass(project: Path) -> None:
    result = _run(
        project,
        f"{_shapecheck()} run segops_strict --impl segops.ops:segment_mean --contracts segops.strict "
        "--examples 20 --no-db --json r2.json",
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no case ran" in result.stderr and "must be int16" in result.stderr and "held" not in result.stdout
    assert "@seed" not in result.stdout + result.stderr, "Hypothesis's own advice is not shapecheck's reproduction line"
    assert not (project / "r2.json").exists()


def test_property_test_in_the_packages_own_pytest(project: Path) -> None:
    result = _run(project, f"{sys.executable} -m pytest -q -p no:cacheprovider tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
