"""User errors on the command line: exit 2 with one clear error line, never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import shapecheck

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

GOOD_CASE = {
    "contract": "fused_sigmoid_gating_delta_rule_update",
    "dims": {"B": 1, "H": 1, "HV": 1, "K": 1, "N": 1, "S": 1, "T": 1, "V": 1},
    "options": {
        "cu_seqlens": None,
        "dtype": "float32",
        "index_dtype": "int32",
        "indices": [0],
        "l2norm": False,
        "layout": "kv",
        "packed_gates": False,
        "pool_dtype": "float32",
        "scale": None,
        "softplus_beta": 1.0,
        "softplus_threshold": 20.0,
        "strided_qkv": False,
    },
    "seed": 3,
}

BAD = [
    (["run", "no_such_contract"], "unknown contract"),
    (["run", "--impl", "no_such_module:fn"], "cannot import no_such_module"),
    (["run", "--impl", "shapecheck.kernels.gdn"], "must look like"),
    (["run", "--impl", "shapecheck.kernels.gdn:no_such_function"], "has no function"),
    (["run", "--impl", "missing/file.py:fn"], "no file missing/file.py"),
    (["run", "--impl", "shapecheck.errors:UsageError"], "carries no @shapecheck.contract"),
    (["run", "--device", "tpu"], "--device must be"),
    (["run", "--profile", "huge"], "--profile must be"),
    (["run", "--reproduce", "not json"], "case is not JSON"),
    (["run", "--reproduce", '{"contract": "x"}'], "case is missing"),
    (["run", "--reproduce", json.dumps({**GOOD_CASE, "contract": "other"})], "unknown contract"),
    (["run", "--reproduce", json.dumps({**GOOD_CASE, "options": {}})], "does not fit contract"),
    (
        ["run", "--reproduce", json.dumps({**GOOD_CASE, "dims": {**GOOD_CASE["dims"], "HV": 3, "H": 2}})],
        "breaks the contract",
    ),
    (["run", "--reproduce", json.dumps({**GOOD_CASE, "seed": "x"})], "seed an integer"),
    (["run", "--examples", "0"], "Invalid value for '--examples'"),
    (["no_such_command"], "No such command"),
]


@pytest.mark.parametrize("args,words", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_usage_error_exits_2_without_traceback(args: list[str], words: str) -> None:
    result = shapecheck(*args)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert words in output


def test_device_cuda_without_gpu_is_a_usage_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = shapecheck("run", "--device", "cuda")
    assert result.returncode == 2 and "no CUDA device" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.interpreter
def test_good_case_replays_and_holds() -> None:
    result = shapecheck("run", "--reproduce", json.dumps(GOOD_CASE), "--device", "cpu")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "held" in result.stdout and "relative RMS error" in result.stdout


def test_broken_interpreter_is_an_environment_error_not_a_finding() -> None:
    """On a GPU machine whose Triton interpreter cannot run runtime-bound loops, `--device cpu` is exit 2
    naming the Triton version; where the interpreter works, the probe finds nothing."""
    import torch

    from shapecheck.backend import interpreter_problem

    problem = interpreter_problem()
    if not torch.cuda.is_available():
        assert problem is None, problem  # CI's triton 3.7.1 runs the kernels (every interpreter test shows it)
        return
    if problem is None:
        pytest.skip("this GPU machine's Triton interpreter works")
    result = shapecheck("run", "--device", "cpu", "--examples", "1")
    assert result.returncode == 2 and "Triton" in result.stderr and "Traceback" not in result.stderr
