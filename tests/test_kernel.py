"""The Triton kernel against the reference recurrence, on the contract's hand-picked regime cases.

Every case runs through `shapecheck.runner.check_case`: inputs from a fresh seed, output memory poisoned
with NaN, shape/dtype per contract, relative RMS error per dtype, pool rows updated or bit-identical.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from shapecheck.case import Case
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import EXAMPLES
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from shapecheck.runner import check_case, tolerance


def fresh(case: Case, **changes: object) -> Case:
    """The case with a fresh random seed (new input values every run) and optional changes."""
    dims = {k: v for k, v in changes.items() if k in case.dims}
    options = {k: v for k, v in changes.items() if k not in case.dims}
    return dataclasses.replace(
        case, dims={**case.dims, **dims}, options={**case.options, **options}, seed=random.randrange(2**31)
    )


CASES = EXAMPLES


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_matches_reference(name: str, device: str) -> None:
    outcome = check_case(GDN_DECODE, fresh(CASES[name]), kernel, device)
    assert outcome.ok, "\n".join(outcome.problems)
    assert outcome.errors, "no comparison was made"


def test_padding_slot_output_uses_zero_state(device: str) -> None:
    """Index -1: output from a zero state, i.e. the same output as a real slot holding zeros."""
    c = fresh(EXAMPLES["padding index -1"], T=2)
    args = GDN_DECODE.resolve("inputs")(c, device)
    zero_slot = dict(args, initial_state_indices=torch.tensor([0, 1], device=device))
    zero_slot["initial_state_source"] = args["initial_state_source"].clone()
    zero_slot["initial_state_source"][0] = 0
    padded = kernel(**args)
    real = kernel(**zero_slot)
    torch.testing.assert_close(padded, real, rtol=0, atol=0)


def test_zero_length_sequence_writes_nothing(device: str) -> None:
    c = fresh(EXAMPLES["varlen with a zero-length sequence"], T=3, N=2, indices=[2, 1], cu_seqlens=[0, 0, 3])
    args = GDN_DECODE.resolve("inputs")(c, device)
    before = args["initial_state_source"].clone()
    kernel(**args)
    assert torch.equal(args["initial_state_source"][2], before[2])
    assert not torch.equal(args["initial_state_source"][1], before[1])


@pytest.mark.parametrize("config", [(4, 1, 2, True), (32, 2, 3, False), (128, 4, 2, True)])
def test_launch_config_variants_compute_the_same_and_replace_nothing(
    config: tuple[int, int, int, bool], device: str
) -> None:
    """bench/peers.py --sweep runs the wrapper through `with_launch_config`: each variant (another V tile,
    warps, stages, PDL) must hold against the reference, and the module's own heuristic stays in place."""
    from shapecheck.kernels import gdn

    heuristic, supported = gdn.launch_config, gdn.pdl_supported
    variant = gdn.with_launch_config(*config)
    outcome = check_case(GDN_DECODE, fresh(EXAMPLES["varlen with a zero-length sequence"]), variant, device)
    assert outcome.ok and outcome.errors, "\n".join(outcome.problems)
    assert (gdn.launch_config, gdn.pdl_supported) == (heuristic, supported)
    assert variant.__code__ is kernel.__wrapped__.__code__  # the wrapper's own body, not a copy


def test_runner_detects_a_planted_bug(device: str) -> None:
    """The comparison can fail: a kernel whose output is off by 1e-3 relative is caught."""

    def off(**kwargs: object) -> torch.Tensor:
        return kernel(**kwargs) * 1.001

    outcome = check_case(GDN_DECODE, fresh(EXAMPLES["decode T=1"]), off, device)
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
