"""shapecheck inside a user's own Hypothesis test (issue 13's public surface): `strategies.cases(C)` draws a
`Case`, `check_case` runs it through the user's kernel and the contract's reference."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, find, given, settings

import shapecheck
from shapecheck.contracts.segment import SEGMENT_MEAN
from shapecheck.kernels.segment import segment_mean


@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(shapecheck.strategies.cases(SEGMENT_MEAN))
def test_the_bundled_kernel_holds_in_a_users_given(case: shapecheck.Case) -> None:
    outcome = shapecheck.check_case(SEGMENT_MEAN, case, segment_mean, "cuda" if torch.cuda.is_available() else "cpu")
    assert outcome.problems == [], outcome.problems


def _last_row_dropped(x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """A planted bug: the mean of every segment but the last is right, the last segment's row stays 0."""
    out = torch.zeros(len(cu_seqlens) - 1, x.shape[1], dtype=x.dtype, device=x.device)
    for n in range(len(cu_seqlens) - 2):
        lo, hi = int(cu_seqlens[n]), int(cu_seqlens[n + 1])
        if hi > lo:
            out[n] = x[lo:hi].float().mean(0).to(x.dtype)
    return out


@pytest.mark.slow  # a search and its shrinking
def test_a_planted_bug_is_found_and_shrunk() -> None:
    """The strategy and the check find the bug; Hypothesis shrinks to one segment with one token. Forward only:
    the planted function has no backward, which a backward case would report first (at T=0)."""
    failing = find(
        shapecheck.strategies.cases(SEGMENT_MEAN, profile="ci"),
        lambda case: bool(shapecheck.check_case(SEGMENT_MEAN, case, _last_row_dropped, "cpu", backward=False).problems),
        settings=settings(max_examples=200, database=None),
    )
    assert (failing.dims["N"], failing.dims["T"]) == (1, 1)
    problems = shapecheck.check_case(SEGMENT_MEAN, failing, _last_row_dropped, "cpu", backward=False).problems
    assert any("output differs from reference" in p for p in problems), problems


def test_an_unknown_profile_is_refused_when_the_strategy_is_built() -> None:
    with pytest.raises(
        ValueError, match=r"^shapecheck\.strategies\.cases: profile must be one of ci, gpu, thorough, found 'fast'$"
    ):
        shapecheck.strategies.cases(SEGMENT_MEAN, profile="fast")
