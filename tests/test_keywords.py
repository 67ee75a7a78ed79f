"""Keyword-only options of the public face (`shapecheck/keywords.py`): a positional option is refused where it
is written, naming it; `strategies.cases` refuses an override it would otherwise draw as if it were not there."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
from hypothesis import strategies as st

import shapecheck
from shapecheck import Dim
from shapecheck.contracts.segment import SEGMENT_MEAN


def _stub(x: Any) -> None: ...


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: Dim("tokens", 1, 8, 64),
            "Dim() takes at most 3 positional arguments (4 given): `gpu_hi` is keyword-only, "
            "write Dim(meaning, lo, hi, gpu_hi=...)",
        ),
        (
            lambda: shapecheck.Contract("c", _stub, {}, ()),
            "Contract() takes at most 2 positional arguments (4 given): `dims`, `rules` are keyword-only, "
            "write Contract(name, signature, dims=..., rules=...)",
        ),
        (
            lambda: shapecheck.check_case(SEGMENT_MEAN, None, _stub, "cpu", "label"),  # type: ignore[arg-type]
            "check_case() takes at most 4 positional arguments (5 given): `label` is keyword-only, "
            "write check_case(contract, case, impl, device, label=...)",
        ),
        (
            lambda: shapecheck.strategies.cases(SEGMENT_MEAN, "gpu"),
            "cases() takes at most 1 positional argument (2 given): `profile` is keyword-only, "
            "write cases(contract, profile=...)",
        ),
    ],
)
def test_a_positional_option_is_refused_naming_it(call: Callable[[], object], message: str) -> None:
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        call()


def test_the_short_forms_stay_positional() -> None:
    assert Dim("tokens", 0, 12, gpu_hi=64) == Dim(meaning="tokens", lo=0, hi=12, gpu_hi=64)
    assert shapecheck.Contract("c", _stub).name == "c"


def test_strategies_cases_refuses_an_unknown_override_and_a_value_that_is_no_strategy() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "shapecheck.strategies.cases: overrides: contract segment_mean has no dimension, parameter or case option "
            "named 'Q' (known: D, N, T, cotangents, cu_seqlens, dtypes, strided_views, x)"
        ),
    ):
        shapecheck.strategies.cases(SEGMENT_MEAN, overrides={"Q": st.just(1)})
    with pytest.raises(
        TypeError,
        match=re.escape(
            "shapecheck.strategies.cases: overrides['T'] must be a Hypothesis strategy (st.just(3) for one value), "
            "found int"
        ),
    ):
        shapecheck.strategies.cases(SEGMENT_MEAN, overrides={"T": 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"profile must be a Profile or its name, found int"):
        shapecheck.strategies.cases(SEGMENT_MEAN, profile=3)  # type: ignore[arg-type]
