"""The Triton kernel against the reference recurrence, on a table of hand-picked cases.

Every case runs through `shapecheck.runner.check_case`: inputs from a fresh seed, output memory poisoned
with NaN, shape/dtype per contract, relative RMS error per dtype, pool rows updated or bit-identical.
"""

from __future__ import annotations

import random

import pytest
import torch

from contracts.gdn import GDN_DECODE
from kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from shapecheck.case import Case
from shapecheck.runner import check_case, tolerance

BASE = {"dtype": "float32", "pool_dtype": "float32", "layout": "kv", "l2norm": False, "scale": None,
        "softplus_beta": 1.0, "softplus_threshold": 20.0, "packed_gates": False, "strided_qkv": False,
        "index_dtype": "int32", "cu_seqlens": None}


def case(B: int = 2, T: int = 1, H: int = 2, HV: int = 4, K: int = 48, V: int = 40, S: int = 4,
         indices: tuple[int, ...] = (2, 0), **options: object) -> Case:
    N = len(indices)
    dims = {"B": B, "T": T, "H": H, "HV": HV, "K": K, "V": V, "S": S, "N": N}
    return Case(GDN_DECODE.name, dims, {**BASE, "indices": list(indices), **options}, random.randrange(2**31))


CASES = {
    "decode T=1": case(),
    "multi-token T=5": case(T=5),
    "varlen with a zero-length sequence": case(B=1, T=6, indices=(1, 3, 0), cu_seqlens=[0, 2, 2, 6]),
    "padding index -1": case(indices=(-1, 1)),
    "unused slots": case(S=6, indices=(5, 2)),
    "HV = 4 H (grouped)": case(H=1, HV=4),
    "HV = H": case(H=3, HV=3),
    "K=48 V=40 non-pow2, kv": case(K=48, V=40),
    "K=48 V=40 non-pow2, vk": case(K=48, V=40, layout="vk"),
    "K=33 V=65 (two V blocks), vk": case(K=33, V=65, layout="vk"),
    "bf16 inputs": case(dtype="bfloat16"),
    "fp16 inputs": case(dtype="float16"),
    "bf16 pool": case(pool_dtype="bfloat16", T=3),
    "bf16 pool, vk, varlen": case(B=1, T=4, indices=(0, -1), pool_dtype="bfloat16", layout="vk", cu_seqlens=[0, 3, 4]),
    "l2norm on": case(l2norm=True, T=3),
    "softplus linear branch": case(softplus_threshold=2.0, softplus_beta=2.0, T=3),
    "custom scale": case(scale=0.3),
    "packed gates [B*T, HV]": case(T=3, packed_gates=True),
    "strided q/k/v views": case(T=3, strided_qkv=True),
    "int64 indices": case(index_dtype="int64"),
    "K=256 (largest key block)": case(B=1, K=256, V=8, indices=(1,)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_matches_reference(name: str, device: str) -> None:
    outcome = check_case(GDN_DECODE, CASES[name], kernel, device)
    assert outcome.ok, "\n".join(outcome.problems)
    assert outcome.errors, "no comparison was made"


def test_padding_slot_output_uses_zero_state(device: str) -> None:
    """Index -1: output from a zero state, i.e. the same output as a real slot holding zeros."""
    c = case(indices=(-1, 1), T=2)
    args = GDN_DECODE.resolve("inputs")(c, device)
    zero_slot = dict(args, initial_state_indices=torch.tensor([0, 1], device=device))
    zero_slot["initial_state_source"] = args["initial_state_source"].clone()
    zero_slot["initial_state_source"][0] = 0
    padded = kernel(**args)
    real = kernel(**zero_slot)
    torch.testing.assert_close(padded, real, rtol=0, atol=0)


def test_zero_length_sequence_writes_nothing(device: str) -> None:
    c = case(B=1, T=3, indices=(2, 1), cu_seqlens=[0, 0, 3])
    args = GDN_DECODE.resolve("inputs")(c, device)
    before = args["initial_state_source"].clone()
    kernel(**args)
    assert torch.equal(args["initial_state_source"][2], before[2])
    assert not torch.equal(args["initial_state_source"][1], before[1])


def test_runner_detects_a_planted_bug(device: str) -> None:
    """The comparison can fail: a kernel whose output is off by 1e-3 relative is caught."""

    def off(**kwargs: object) -> torch.Tensor:
        return kernel(**kwargs) * 1.001

    outcome = check_case(GDN_DECODE, case(), off, device)
    assert any("relative RMS error" in p for p in outcome.problems)


def test_bf16_bound_covers_the_backends_rounding(device: str) -> None:
    """The bf16 bound is justified by the backend's fp32 -> bf16 cast: measure that cast's worst error."""
    import triton
    import triton.language as tl

    @triton.jit
    def cast(x, y, n: tl.constexpr):
        offs = tl.arange(0, n)
        tl.store(y + offs, tl.load(x + offs).to(tl.bfloat16))

    x = torch.randn(4096, device=device)
    y = torch.empty(4096, dtype=torch.bfloat16, device=device)
    cast[(1,)](x, y, 4096)
    worst = ((y.float() - x) / x).abs().max().item()
    assert 2**-9 < worst < tolerance(torch.bfloat16), worst
