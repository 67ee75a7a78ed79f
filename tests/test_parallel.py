"""Scaling out: parts of a run (seed streams, shards, regime examples) never overlap and cover the whole;
2 workers give the verdicts of 1, with reproduction lines that work verbatim; shards 1/2 and 2/2 run
exactly what one `--workers 2` run runs, and their merged report is a valid report of the whole; mutate's
report does not depend on its workers; property_test under pytest-xdist.

Kept small for the 2-core CI: the bundled `segment_mean` contract (fast under the interpreter) and two
buggy GDN variants with few examples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from shapecheck import parallel
from shapecheck.contracts.segment import examples as segment_examples
from shapecheck.errors import UsageError
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from tests.cli_helpers import ROOT, run_line, shapecheck

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

SEGMENT = ["run", "segment_mean", "--device", "cpu", "--no-db", "--examples", "12", "--seed", "7"]
CASES = 12 + len(segment_examples(PROFILES["ci"]))  # drawn, then the contract's regime cases


def _cases(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    return sorted(json.dumps(o["case"], sort_keys=True) for c in data["contracts"] for o in c["outcomes"])


# --- the partition, without running anything ------------------------------------------------------


def test_stream_parts_are_disjoint_and_cover_the_run() -> None:
    whole = parallel.Stream(seed=11, examples=23)
    assert whole.part(0, 1) is whole, "one part is the serial run itself"
    regimes = list(range(10))
    for parts in (2, 3, 5):
        split = whole.split(parts)
        assert (
            sum(p.examples for p in split) == 23
            and max(p.examples for p in split) - min(p.examples for p in split) <= 1
        )
        chosen = [r for p in split for r in p.select(regimes)]
        assert sorted(chosen) == regimes, "every regime example in exactly one part"
        assert len({p.seed for p in split}) == parts and whole.seed not in {p.seed for p in split}
        assert [p.seed for p in split] == [p.seed for p in whole.split(parts)], "derived seeds are reproducible"
    nested = [q for p in whole.split(2) for q in p.split(3)]  # shards of 2, 3 workers each
    assert sorted(r for q in nested for r in q.select(regimes)) == regimes
    assert sum(q.examples for q in nested) == 23 and len({q.seed for q in nested}) == 6
    assert all(p.seed is None for p in parallel.Stream(None, 8).split(2)), "an unseeded run stays unseeded"


def test_shard_parse_and_take() -> None:
    assert parallel.Shard.parse("2/3").take(list(range(8))) == [1, 4, 7]
    assert sorted(x for i in (1, 2, 3) for x in parallel.Shard.parse(f"{i}/3").take(list(range(8)))) == list(range(8))
    for bad in ("0/2", "3/2", "1", "a/b", "1/0"):
        with pytest.raises(UsageError, match="--shard must look like i/n"):
            parallel.Shard.parse(bad)


def test_workers_and_device_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parallel.worker_count("auto", "cpu") == parallel.cpu_count()
    assert parallel.worker_count("3", "cpu") == 3 and parallel.device_slots(2, "cpu") == [None, None]
    for bad in ("0", "-1", "two"):
        with pytest.raises(UsageError, match="--workers"):
            parallel.worker_count(bad, "cpu")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,GPU-5a")
    assert parallel.worker_count("auto", "cuda") == 2
    assert parallel.device_slots(3, "cuda") == ["3", "GPU-5a", "3"], "one visible device per worker, in turn"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(UsageError, match="no CUDA device"):
        parallel.device_slots(1, "cuda")


def test_xdist_worker_picks_its_device() -> None:
    assert parallel.xdist_device(2, "gw3") == 1 and parallel.xdist_device(4, "gw0") == 0
    assert parallel.xdist_device(2, "") is None and parallel.xdist_device(0, "gw1") is None


# --- runs ----------------------------------------------------------------------------------------


@pytest.mark.interpreter
def test_shards_together_run_exactly_the_parallel_run_and_merge(tmp_path: Path) -> None:
    whole = shapecheck(*SEGMENT, "--workers", "2", "--json", str(tmp_path / "w.json"))
    assert whole.returncode == 0, whole.stdout + whole.stderr
    for i in (1, 2):
        part = shapecheck(*SEGMENT, "--shard", f"{i}/2", "--json", str(tmp_path / f"{i}.json"))
        assert part.returncode == 0, part.stdout + part.stderr
        assert json.loads((tmp_path / f"{i}.json").read_text())["shard"] == f"{i}/2"
    parts = _cases(tmp_path / "1.json") + _cases(tmp_path / "2.json")
    assert len(parts) == CASES
    assert sorted(parts) == _cases(tmp_path / "w.json"), "shards 1/2 + 2/2 == --workers 2, case for case"
    merged = shapecheck(
        "report",
        "merge",
        str(tmp_path / "1.json"),
        str(tmp_path / "2.json"),
        "--json",
        str(tmp_path / "all.json"),
        "--junit",
        str(tmp_path / "all.xml"),
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    data = json.loads((tmp_path / "all.json").read_text())
    assert data["held"] and [c["cases"] for c in data["contracts"]] == [CASES]
    assert _cases(tmp_path / "all.json") == _cases(tmp_path / "w.json")
    (report,) = [Report.from_json(c) for c in data["contracts"]]  # the merged JSON reads back as a report
    assert report.held and len(report.outcomes) == CASES
    suite = ET.parse(tmp_path / "all.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and "12 drawn cases" in suite.find("testcase").get("name")
    missing = shapecheck("report", "merge", str(tmp_path / "1.json"))
    assert missing.returncode == 2 and "shard 2/2 is missing" in missing.stderr


@pytest.mark.interpreter
@pytest.mark.parametrize("variant", ["beta_without_sigmoid", "varlen_off_by_one"])
def test_two_workers_find_what_one_finds_with_a_working_reproduction(variant: str, tmp_path: Path) -> None:
    from shapecheck.contracts.gdn import GDN_DECODE
    from shapecheck.profiles import PROFILES
    from shapecheck.runner import run_property
    from tests.fixtures.buggy_kernels import __getattr__ as buggy

    one = run_property(
        GDN_DECODE, buggy(variant), variant, profile=PROFILES["ci"], device="cpu", examples=30, seed=1, database=False
    )
    assert not one.held, "one worker finds the bug"
    result = shapecheck(
        "run",
        "--impl",
        f"tests.fixtures.buggy_kernels:{variant}",
        "--device",
        "cpu",
        "--no-db",
        "--examples",
        "30",
        "--seed",
        "1",
        "--workers",
        "2",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (contract,) = json.loads((tmp_path / "r.json").read_text())["contracts"]
    failure = contract["failure"]
    assert failure["problems"] and "--workers" not in failure["reproduce"]
    again = run_line(failure["reproduce"])
    assert again.returncode == 1, again.stdout + again.stderr
    assert failure["problems"][0].split(":")[0] in again.stdout


@pytest.mark.interpreter
def test_mutate_report_is_the_same_whatever_the_workers_and_shards(tmp_path: Path) -> None:
    """--workers 2 over both mutants == shard 1/2 + shard 2/2 at one worker each, merged."""
    common = ["mutate", "kernels/segment.py::_segment_mean_kernel", "--operators", "loop-bound", "--examples", "6"]
    runs = {}
    for name, extra in {
        "whole": ["--workers", "2"],
        "1": ["--workers", "1", "--shard", "1/2"],
        "2": ["--workers", "1", "--shard", "2/2"],
    }.items():
        result = shapecheck(*common, *extra, "--json", str(tmp_path / f"{name}.json"))
        assert result.returncode in (0, 1), result.stdout + result.stderr
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert [len(runs[k]["mutants"]) for k in ("whole", "1", "2")] == [2, 1, 1]
    merged = shapecheck(
        "report", "merge", str(tmp_path / "2.json"), str(tmp_path / "1.json"), "--json", str(tmp_path / "all.json")
    )
    whole, everything = runs["whole"], json.loads((tmp_path / "all.json").read_text())
    assert merged.returncode == (0 if whole["score"]["survived"] == 0 else 1), merged.stdout + merged.stderr
    assert [(m["id"], m["status"]) for m in everything["mutants"]] == [(m["id"], m["status"]) for m in whole["mutants"]]
    assert everything["score"] == whole["score"] and whole["score"]["killed"] >= 1
    assert shapecheck("report", "merge", str(tmp_path / "1.json")).returncode == 2, "shard 2/2 is missing"


XDIST_SUITE = '''
import os
import pytest
from shapecheck.testing import property_test

test_segment_mean = property_test("shapecheck.kernels.segment:segment_mean", examples=6, seed=0)


@pytest.mark.parametrize("attempt", [0, 1])
def test_same_variant_in_two_workers(attempt):
    """Both workers load the same patched module from the shared cache at about the same time."""
    check = property_test("tests.fixtures.buggy_kernels:beta_without_sigmoid", examples=10, seed=attempt)
    with pytest.raises(pytest.fail.Exception, match="violated by"):
        check()
    print("worker", os.environ.get("PYTEST_XDIST_WORKER"))
'''


@pytest.mark.interpreter
def test_property_test_under_pytest_xdist(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "from shapecheck.testing import use_interpreter_without_gpu\nuse_interpreter_without_gpu()\n"
    )
    (tmp_path / "test_suite.py").write_text(XDIST_SUITE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-s"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout
