"""KernelBench-format problems as contracts (`shapecheck kb`): every fixture problem in bench/kb, its honest
candidate held at drawn shapes, its shape-hard-coding candidate and its cheats rejected with a replay line that
fails again, and the batch table with the exit codes a pipeline rewards on.

In-process runs (`isolate=False`) keep the suite fast; the cheats only an isolated run can see (a stale
result, a late write, a candidate correct only under test) run isolated, one worker per candidate.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from shapecheck import cli, kb_cli, kernelbench
from shapecheck.errors import UsageError
from shapecheck.isolate import Isolated
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from tests.tables import read_toml

ROOT = Path(__file__).resolve().parents[1] / "bench" / "kb"
PROBLEMS = sorted(p.stem for p in (ROOT / "problems").glob("*.py"))
EXPECTED = read_toml(ROOT / "catalogue.toml")
IN_PROCESS = ("hardcoded", "zeros", "identity", "bf16", "scribble")
ISOLATED = ("stale", "late_write", "under_test_only")

pytestmark = pytest.mark.interpreter


def _judge(problem: str, candidate: str, *, isolate: bool = False, examples: int = 4) -> Report:
    path = ROOT / "problems" / f"{problem}.py"
    options = kb_cli.KbOptions(path, examples=examples, seed=0, database=False, isolate=isolate)
    return kb_cli.judge(options, kernelbench.Problem(path), ROOT / "candidates" / problem / f"{candidate}.py")


def _replays(report: Report) -> str:
    """The failure's printed line, run through the CLI: it must fail again; returns what it printed."""
    assert report.failure is not None
    line = kb_cli.replay_argv(kb_cli.reports.reproduction(report, report.failure.case.to_json()))
    result = CliRunner().invoke(cli.app, line)
    assert result.exit_code == 1, result.output
    return result.output


def test_the_fixtures_cover_the_issue() -> None:
    """At least 20 problems, each with an honest and a shape-hard-coding candidate and the applicable cheats."""
    assert len(PROBLEMS) >= 20
    for problem in PROBLEMS:
        found = {p.stem for p in (ROOT / "candidates" / problem).glob("*.py")}
        assert {"correct", "hardcoded", "zeros", "stale", "scribble"} <= found, problem
    kinds = {
        "elementwise": "01 02 03 04 05",
        "reductions": "06 07 08 09 10",
        "softmax/norms": "11 12 13 14 15",
        "matmul-like": "16 17 18 19",
        "conv-like": "20 21 22 23",
    }
    assert all(any(p.startswith(n) for p in PROBLEMS) for group in kinds.values() for n in group.split())


def test_each_constant_gets_its_role() -> None:
    conv = kernelbench.Problem(ROOT / "problems" / "21_conv2d.py")
    roles = {c.name: c.role for c in conv.constants.values()}
    assert roles == {
        "batch": "inputs",
        "in_channels": "inputs",
        "out_channels": "weights",
        "height": "inputs",
        "width": "inputs",
        "kernel_size": "weights",
    }  # `height = width = 12`: two constants
    pool = kernelbench.Problem(ROOT / "problems" / "22_avg_pool1d.py")
    assert pool.constants["window"].role == "held" and "window" not in pool.drawn
    assert pool.note == "drawn: batch (inputs), channels (inputs), length (inputs); held: window=4"


def test_values_that_empty_the_output_are_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A convolution kernel wider than its input: this torch's meta kernel refuses it, torch 2.11's (the H100's)
    computed an empty output and the device refused the case, so an output emptied where the file's own is not
    is out of the problem, whatever the meta kernel does."""
    conv = kernelbench.Problem(ROOT / "problems" / "21_conv2d.py")
    profile = PROFILES["gpu"]
    narrow = {**conv.values, "width": 1, "kernel_size": 2}
    assert not conv.fits(narrow, profile)  # refused by the meta kernel here
    real = conv._probe

    def lenient(values: dict[str, int], *, what: str) -> kernelbench.Probe:
        """The probe as torch 2.11 answers it: the output's width computed as W - k + 1 = 0."""
        if values.get("width") == 1:
            probe = real({**values, "width": values["kernel_size"]}, what=what)
            (shape, dtype) = probe.output
            return kernelbench.Probe(probe.inputs, probe.init, probe.weights, ((*shape[:-1], 0), dtype))
        return real(values, what=what)

    monkeypatch.setattr(conv, "_probe", lenient)
    assert not conv.fits(narrow, profile)
    assert conv.fits({**conv.values, "width": 2, "kernel_size": 2}, profile)


def test_a_problem_whose_constants_cannot_vary_says_so_and_runs_at_its_own_shapes(tmp_path: Path) -> None:
    path = tmp_path / "fixed.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
        "        return x * 2\n\nscale = 2\n\ndef get_inputs():\n    return [torch.randn(3, 5)]\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    cand = tmp_path / "cand.py"
    cand.write_text(
        "import torch.nn as nn\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n        return x + x\n"
    )
    problem = kernelbench.Problem(path)
    assert problem.drawn == () and problem.note.startswith("no constant of fixed.py can be varied")
    report = kb_cli.judge(kb_cli.KbOptions(path, examples=3, seed=0, database=False, isolate=False), problem, cand)
    assert report.held and len(report.outcomes) >= 1 and all(o.case.dims == {} for o in report.outcomes)


UP_TO_ITS_SIZE = """
import torch
import torch.nn as nn

class ModelNew(nn.Module):  # right up to the file's length (a block of exactly 64, masked below it)
    def forward(self, x):
        out = torch.zeros_like(x)
        out[:, :64] = torch.cumsum(x[:, :64], dim=1)
        return out
"""


def test_sizes_are_drawn_past_the_files_own_and_the_report_says_which(tmp_path: Path) -> None:
    """A candidate built for exactly the file's size holds at every size up to it: only a drawn size above it fails
    it. Where the budget caps a range below the file's value, the line says so (the file's shape never ran)."""
    path = tmp_path / "cumsum.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\nbatch = 2\nlength = 64\n\nclass Model(nn.Module):\n"
        "    def forward(self, x):\n        return torch.cumsum(x, dim=1)\n\n"
        "def get_inputs():\n    return [torch.randn(batch, length)]\n\ndef get_init_inputs():\n    return []\n"
    )
    cand = tmp_path / "cand.py"
    cand.write_text(UP_TO_ITS_SIZE)
    problem = kernelbench.Problem(path)
    assert problem.ranges(PROFILES["ci"]) == {"batch": (1, 4), "length": (1, 64)}  # 4096 ** 0.5 caps length
    assert problem.ranges(PROFILES["gpu"]) == {"batch": (1, 4), "length": (1, 128)}
    assert "length 1..128 (file: 64)" in problem.covered(PROFILES["gpu"])
    assert "capped" not in problem.covered(PROFILES["gpu"])
    options = kb_cli.KbOptions(path, examples=40, seed=0, database=False, isolate=False, profile="gpu")
    report = kb_cli.judge(options, problem, cand)
    assert report.failure is not None and report.failure.case.dims["length"] > 64, report.failure
    capped = kernelbench.Problem(ROOT / "problems" / "16_matmul.py").covered(PROFILES["ci"])
    assert "capped below the file's value by the ci profile's budget of 4096 input elements" in capped


def test_a_broken_problem_is_one_usage_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text(
        "import torch\n\nclass Model(torch.nn.Module):\n    pass\n\ndef get_inputs():\n"
        "    return [torch.randn(-1)]\n\ndef get_init_inputs():\n    return []\n"
    )
    with pytest.raises(UsageError, match=r"problem .*broken.py at its own constants: get_inputs\(\)"):
        kernelbench.Problem(path)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_the_honest_candidate_holds_at_drawn_shapes(problem: str) -> None:
    report = _judge(problem, "correct")
    assert report.held, report.failure and report.failure.problems
    shapes = {json.dumps(o.case.dims, sort_keys=True) for o in report.outcomes}
    assert len(shapes) >= 2  # more than one shape was drawn


@pytest.mark.parametrize("problem", PROBLEMS)
def test_the_shape_hard_coding_candidate_fails_at_a_drawn_shape(problem: str) -> None:
    report = _judge(problem, "hardcoded")
    assert report.failure is not None, f"{problem}: the hard-coded candidate held"
    own = kernelbench.Problem(ROOT / "problems" / f"{problem}.py").values
    assert any(own[n] != v for n, v in report.failure.case.dims.items())  # a drawn shape, not the file's


@pytest.mark.parametrize(
    ("problem", "cheat"),
    [(p, c) for c in IN_PROCESS[1:] for p in PROBLEMS if (ROOT / "candidates" / p / f"{c}.py").is_file()],
)
def test_every_cheat_fails_with_its_finding(problem: str, cheat: str) -> None:
    report = _judge(problem, cheat)
    assert report.failure is not None, f"{problem}/{cheat} held"
    assert any(EXPECTED["findings"][cheat] in p for p in report.failure.problems), report.failure.problems


def test_zeros_fail_even_where_the_outputs_are_tiny() -> None:
    """Outputs of 1e-6: a relative error, not an absolute one, rejects zeros."""
    report = _judge("10_row_l2_norm", "zeros")
    assert report.failure is not None and "relative RMS error 1 >" in report.failure.problems[0]


@pytest.mark.parametrize("problem", ["06_row_sum", "21_conv2d"])
def test_a_failure_replays_from_its_printed_line(problem: str) -> None:
    report = _judge(problem, "hardcoded")
    assert "VIOLATED" in _replays(report)


@pytest.mark.parametrize(
    ("problem", "cheat"), [("01_scaled_relu", "stale"), ("16_matmul", "late_write"), ("20_conv1d", "under_test_only")]
)
def test_an_isolated_cheat_fails_and_replays(problem: str, cheat: str) -> None:
    report = _judge(problem, cheat, isolate=True, examples=3)
    assert report.failure is not None, f"{problem}/{cheat} held under isolation"
    assert any(EXPECTED["findings"][cheat] in p for p in report.failure.problems), report.failure.problems
    assert EXPECTED["findings"][cheat] in _replays(report)


def test_a_candidate_correct_only_under_test_holds_in_process() -> None:
    """Why the hidden worker matters: in the verifier's own process the candidate sees the verifier."""
    assert _judge("20_conv1d", "under_test_only", examples=2).held


@pytest.mark.slow
@pytest.mark.parametrize(
    ("problem", "cheat"),
    [(p, c) for c in ISOLATED for p in PROBLEMS if (ROOT / "candidates" / p / f"{c}.py").is_file()],
)
def test_every_isolated_cheat_fails(problem: str, cheat: str) -> None:
    report = _judge(problem, cheat, isolate=True, examples=3)
    assert report.failure is not None
    assert any(EXPECTED["findings"][cheat] in p for p in report.failure.problems), report.failure.problems


def test_the_worker_shows_the_candidate_nothing_of_the_verifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sys.modules, the stack's module names and the environment of the candidate's process, as it reads them."""
    spy = tmp_path / "spy.py"
    spy.write_text(
        "import os, sys\nimport torch\n\n"
        "def kernel(x):\n"
        "    names = {m.split('.')[0] for m in sys.modules}\n"
        "    frame, stack = sys._getframe(), []\n"
        "    while frame is not None:\n"
        "        if frame.f_code.co_filename != __file__:  # its own file lies under pytest's tmp_path\n"
        "            stack.append(str(frame.f_globals.get('__name__')) + ' ' + frame.f_code.co_filename)\n"
        "        frame = frame.f_back\n"
        "    seen = [n in names for n in ('shapecheck', 'hypothesis', 'pytest', '_pytest')]\n"
        "    seen.append(any(k.startswith(('SHAPECHECK', 'PYTEST', 'HYPOTHESIS')) for k in os.environ))\n"
        "    seen.append(any('shapecheck' in s or 'hypothesis' in s or 'pytest' in s for s in stack))\n"
        "    seen.append(any('shapecheck' in a for a in sys.argv) or 'shapecheck' in open('/proc/self/cmdline').read())\n"
        "    return x + torch.tensor(seen, dtype=x.dtype)\n"
    )
    monkeypatch.setenv("SHAPECHECK_CACHE_DIR", str(tmp_path / "cache"))
    with Isolated(f"{spy}:kernel", "cpu", timeout_s=60) as worker:
        seen = worker(x=torch.zeros(7))
    assert seen.tolist() == [0.0] * 7, "modules, env, stack, argv: " + str(seen.tolist())


def _batch_dir(root: Path, candidates: dict[str, list[str]]) -> Path:
    """A batch directory: each problem with its honest candidate (the cheats wrap it) and the named ones."""
    (root / "problems").mkdir(parents=True)
    for problem, names in candidates.items():
        shutil.copy(ROOT / "problems" / f"{problem}.py", root / "problems")
        folder = root / "candidates" / problem
        folder.mkdir(parents=True)
        for name in {"correct", *names}:
            shutil.copy(ROOT / "candidates" / problem / f"{name}.py", folder)
    return root


@pytest.mark.parametrize(
    ("candidates", "code"),
    [
        ({"06_row_sum": [], "19_matvec": []}, 0),
        ({"06_row_sum": ["zeros"], "19_matvec": ["hardcoded"]}, 1),
    ],
)
def test_batch_mode_writes_one_table_and_exits_as_a_pipeline_rewards(
    tmp_path: Path, candidates: dict[str, list[str]], code: int
) -> None:
    root = _batch_dir(tmp_path / "batch", candidates)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        cli.app,
        [
            "kb",
            str(root),
            "--no-isolate",
            "--examples",
            "3",
            "--seed",
            "0",
            "--no-db",
            "--json",
            str(out / "b.json"),
            "--junit",
            str(out / "b.xml"),
            "--markdown",
            str(out / "b.md"),
        ],
    )
    assert result.exit_code == code, result.output
    report = json.loads((out / "b.json").read_text())
    rows = {(r["problem"], r["candidate"]): r for r in report["rows"]}
    assert set(rows) == {(p, c) for p, names in candidates.items() for c in {"correct", *names}}
    for (_, name), row in rows.items():
        assert row["verdict"] == ("held" if name == "correct" else "failed"), row
        assert (row["reproduce"] is None) == (name == "correct") and row["seconds"] > 0
        assert (row["findings"] == []) == (name == "correct")
    assert report["candidates_per_hour"] > 0 and "candidates/hour" in (out / "b.md").read_text()
    assert "<testsuite" in (out / "b.xml").read_text()


def test_batch_mode_an_unimportable_candidate_is_an_error_row_and_exit_2(tmp_path: Path) -> None:
    root = _batch_dir(tmp_path / "batch", {"06_row_sum": []})
    (root / "candidates" / "06_row_sum" / "broken.py").write_text("raise ImportError('no helper')\n")
    result = CliRunner().invoke(cli.app, ["kb", str(root), "--no-isolate", "--examples", "2", "--seed", "0", "--no-db"])
    assert result.exit_code == 2, result.output
    assert "| 06_row_sum | broken | error |" in result.output and "no helper" in result.output


def test_kb_usage_errors_name_the_argument(tmp_path: Path) -> None:
    problem = str(ROOT / "problems" / "01_scaled_relu.py")
    missing = CliRunner().invoke(cli.app, ["kb", problem])
    assert missing.exit_code == 2 and "--impl" in missing.output
    nowhere = CliRunner().invoke(cli.app, ["kb", str(tmp_path / "nope.py"), "--impl", "x.py"])
    assert nowhere.exit_code == 2 and "no such file" in nowhere.output
