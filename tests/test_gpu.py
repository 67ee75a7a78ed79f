"""Cases only a GPU can afford: slot offsets past 2**31 elements and more than 65535 (sequence, head) programs.

Both are bug classes fixed upstream (int32 `idx*HV*K*V` wrap, fla #1080; grid axis limit, fla #1097).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from shapecheck.case import Case
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import BASE_OPTIONS
from shapecheck.harness import relative_rms
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from shapecheck.kernels.reference import gated_delta_rule_reference as reference
from shapecheck.runner import check_case

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parent.parent

OPTIONS = {**BASE_OPTIONS, "dtype": "bfloat16", "l2norm": True, "packed_gates": True}


def test_slot_offsets_beyond_int32() -> None:
    """Pool of 4200 slots at HV=32, K=V=128 (8.8 GB fp32): slot 4199 starts at element 2.2e9 > 2**31."""
    S, HV, K, V, H = 4200, 32, 128, 128, 16
    assert (S - 1) * HV * K * V > 2**31
    for layout in ("kv", "vk"):
        slots = [S - 1, 4100, -1, 7]
        case = Case(
            GDN_DECODE.name,
            {"B": 4, "T": 1, "H": H, "HV": HV, "K": K, "V": V, "S": 8, "N": 4},
            {**OPTIONS, "layout": layout, "indices": [3, 2, -1, 1]},
            random.randrange(2**31),
        )
        small = GDN_DECODE.resolve("inputs")(case, "cuda")
        pool = torch.randn(S, HV, *((K, V) if layout == "kv" else (V, K)), device="cuda")
        pool[slots[0]], pool[slots[1]], pool[slots[3]] = (
            small["initial_state_source"][3],
            small["initial_state_source"][2],
            small["initial_state_source"][1],
        )
        args = dict(
            small,
            initial_state_source=pool,
            initial_state_indices=torch.tensor(slots, dtype=torch.int32, device="cuda"),
        )
        sums = pool.sum(dim=(1, 2, 3), dtype=torch.float64)  # per-row fingerprint of every slot, before
        ref_o, ref_pool = reference(**{**small, "initial_state_source": small["initial_state_source"].clone()})
        o = kernel(**args)
        torch.cuda.synchronize()
        assert relative_rms(o, ref_o) < 5e-3
        for big, little in ((slots[0], 3), (slots[1], 2), (slots[3], 1)):
            assert relative_rms(pool[big], ref_pool[little]) < 1e-5, (layout, big)
        untouched = torch.ones(S, dtype=torch.bool, device="cuda")
        untouched[[slots[0], slots[1], slots[3]]] = False
        assert torch.equal(pool.sum(dim=(1, 2, 3), dtype=torch.float64)[untouched], sums[untouched])
        del pool, args


def test_more_than_65535_programs() -> None:
    """N * HV = 2100 * 32 = 67200 (sequence, head) programs, past CUDA's 65535 limit of grid axes 1 and 2."""
    N, HV = 2100, 32
    indices = random.sample(range(N + 10), N)
    indices[::7] = [-1] * len(indices[::7])
    case = Case(
        GDN_DECODE.name,
        {"B": N, "T": 1, "H": 16, "HV": HV, "K": 16, "V": 24, "S": N + 10, "N": N},
        {**OPTIONS, "indices": indices},
        random.randrange(2**31),
    )
    outcome = check_case(GDN_DECODE, case, kernel, "cuda")
    assert outcome.ok, outcome.problems
    assert outcome.errors


def test_a_cold_run_compiles_ahead_and_its_cases_then_compile_nothing(tmp_path: Path) -> None:
    """shapecheck/ahead.py on a fresh Triton cache: the kernels are compiled before the cases, in parallel (the
    seconds it saves are read from bench/compile_ahead.py, which this runs, not asserted here)."""
    env = {**os.environ, "TRITON_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "compile_ahead.py")], env=env, capture_output=True, text=True, timeout=400
    )
    assert out.returncode == 0, out.stderr[-2000:]
    cold, warm = (json.loads(line) for line in out.stdout.splitlines() if line.startswith("{"))
    assert cold["held"] and warm["held"] and cold["cases"] >= 120
    assert cold["compilations"] >= 5, "a cold cache: the pass compiled the kernels"
    assert warm["compilations"] == 0, "warm: the probe finds the kernel, the pass steps aside"


def test_a_bug_in_one_autotune_config_is_found_on_the_gpu_with_configs_drawn() -> None:
    from tests.autotune_helpers import assert_a_bug_in_one_config_is_found

    assert_a_bug_in_one_config_is_found("cuda")


def test_kb_candidates_on_the_gpu_honest_held_and_the_verifier_detecting_one_rejected_isolated() -> None:
    """`shapecheck kb` on the device: the honest matmul holds, the candidate correct only under test is rejected."""
    from shapecheck import kb_cli, kernelbench

    root = Path(__file__).resolve().parents[1] / "bench" / "kb"
    path = root / "problems" / "16_matmul.py"
    options = kb_cli.KbOptions(path, examples=20, seed=0, database=False, device="cuda", profile="gpu")
    verdicts = {
        name: kb_cli.judge(options, kernelbench.Problem(path), root / "candidates" / "16_matmul" / f"{name}.py")
        for name in ("correct", "under_test_only", "stale")
    }
    assert verdicts["correct"].held, verdicts["correct"].failure
    assert verdicts["under_test_only"].failure is not None
    stale = verdicts["stale"].failure
    assert stale is not None and any("[stale-result]" in p for p in stale.problems), stale
