"""Proofs of equality under case splits stay cheap: sympy's piecewise_fold simplifies the combined conditions,
exponential in their propositions (one function of torch's _inductor/fx_passes/pad_mm.py took 23 s)."""

from __future__ import annotations

import pytest
import sympy as sp

from shapecheck.static import facts


def test_a_small_case_split_is_still_folded_for_a_proof() -> None:
    x, c = sp.Symbol("x", integer=True), sp.Symbol("x is None")
    split = sp.Piecewise((x * (x + 1) - x**2, c), (x, True))  # equal branches, not equal as written
    assert isinstance(split, sp.Piecewise) and facts._is_zero(split - x), "both branches are x"
    assert not facts._is_zero(sp.Piecewise((x, c), (x + 1, True)) - (x + 1))


def test_a_case_split_over_many_propositions_is_not_folded_and_answers_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never folded: piecewise_fold, the exponential step, is not called (its time is in bench/static_speed.py)."""
    x = sp.Symbol("x", integer=True)
    props = [sp.Symbol(f"p{i}") for i in range(facts.FOLD_LIMIT + 1)]
    tangled = sp.ITE(sp.And(*[sp.Or(*props[: i + 2]) for i in range(len(props) - 1)]), props[0], props[-1])
    split = sp.Piecewise((x * (x + 1) - x**2, tangled), (x, True))
    assert len(facts._conditions(split)) == facts.FOLD_LIMIT + 1, "ITE, And and Or are looked through"
    folded: list[sp.Basic] = []
    monkeypatch.setattr(sp, "piecewise_fold", lambda expr, *args, **kwargs: folded.append(expr))
    assert facts._is_zero(split - x) is False, "not provable cheaply: unknown, never a wrong shape"
    assert folded == []
