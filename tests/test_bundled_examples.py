"""The two bundled examples of general contracts, as a user would meet them: each holds under `shapecheck run`
on the CPU interpreter, and four realistic slips in each are found, shrunk and replayed verbatim.

`reshape_and_cache` (contracts/kv_cache.py) updates two caches in place and returns None; `segment_max`
(contracts/segment_max.py) returns a tuple with an integer result. The slips are edits of the bundled
kernel's source, written to a package of their own outside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import fails_and_replays, outside_env, shapecheck_command, shapecheck_outside

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

ROOT = Path(__file__).resolve().parents[1]

# bug -> (bundled kernel module, the edit, a piece of the finding it must produce)
BUGS = {
    "kv_never_writes_value_cache": (
        "kv_cache",
        ("    tl.store(value_cache + slot * stride_vcs + h * stride_vch + cols, v, mask=mask)\n", ""),
        "`value_cache`: updated rows differ from reference",
    ),
    "kv_writes_padding_slots": (
        "kv_cache",
        ("mask = (cols < D) & (slot >= 0)", "mask = cols < D"),
        "out-of-bounds store",
    ),
    "kv_cache_head_stride_from_key": (
        "kv_cache",
        ("key_cache + slot * stride_kcs + h * stride_kch", "key_cache + slot * stride_kcs + h * stride_kh"),
        "key_cache",
    ),
    "kv_value_cache_strides_from_key_cache": (  # a value cache viewed out of a combined K/V buffer
        "kv_cache",
        ("value_cache + slot * stride_vcs + h * stride_vch", "value_cache + slot * stride_kcs + h * stride_kch"),
        "`value_cache`: updated rows differ from reference",
    ),
    "kv_last_feature_dropped": (
        "kv_cache",
        ("mask = (cols < D) & (slot >= 0)", "mask = (cols < D - 1) & (slot >= 0)"),
        "updated rows differ from reference",
    ),
    "max_index_within_segment": (
        "segment_max",
        ("row = tl.where(better, t, row)", "row = tl.where(better, t - bos, row)"),
        "indices differs from reference",
    ),
    "max_empty_segment_unwritten": (
        "segment_max",
        ("    best = tl.where(row >= 0, best, 0.0)\n", ""),
        "values elements are NaN/inf",
    ),
    "max_last_token_skipped": (
        "segment_max",
        ("for t in range(bos, eos):", "for t in range(bos, eos - 1):"),
        "differs from reference",
    ),
    "max_unmasked_index_store": (
        "segment_max",
        (
            "tl.store(indices + n64 * stride_in + cols, row, mask=mask)",
            "tl.store(indices + n64 * stride_in + cols, row)",
        ),
        "out-of-bounds store",
    ),
}
SANITIZER_ONLY = {"kv_writes_padding_slots", "max_unmasked_index_store"}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planted-examples")
    (root / "planted").mkdir()
    (root / "planted" / "__init__.py").write_text("")
    for bug, (module, (old, new), _) in BUGS.items():
        source = (ROOT / "kernels" / f"{module}.py").read_text()
        assert source.count(old) == 1, bug
        (root / "planted" / f"{bug}.py").write_text(source.replace(old, new))
    return root


@pytest.mark.parametrize("name", ["reshape_and_cache", "segment_max"])
def test_the_bundled_example_holds(tmp_path: Path, name: str) -> None:
    report = tmp_path / "r.json"
    target = f"shapecheck.contracts.{'kv_cache' if name == 'reshape_and_cache' else name}:{name}"
    result = shapecheck_outside("run", target, "--no-db", "--json", str(report), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(report.read_text())["contracts"][0]
    assert found["held"] and found["cases"] >= 60
    assert {
        "empty segment" if name == "segment_max" else "padding index",
        "x float16" if name == "segment_max" else "key/value/key_cache/value_cache float16",
    } <= set(found["regimes"]), found["regimes"]


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_planted_bug_fails_with_its_shrunk_case_and_a_replay_line(planted: Path, bug: str) -> None:
    if bug in SANITIZER_ONLY and torch.cuda.is_available():
        pytest.skip("an out-of-bounds store is seen by the interpreter's sanitizer; on a GPU it lands in slack memory")
    module, _, finding = BUGS[bug]
    function = "reshape_and_cache" if module == "kv_cache" else "segment_max"
    line = f"{' '.join(shapecheck_command())} run --impl planted.{bug}:{function} --no-db --json r.json"
    failure = fails_and_replays(line, planted / "r.json", cwd=planted, env=outside_env())
    assert any(finding in problem for problem in failure["problems"]), failure["problems"]
