"""A contract that declares `operand_precision` holds a float32 result of float16 operands to float16's bound
(`harness.operand_bound`): a kernel that rounds its products to the operands' dtype, as a `tl.dot` on float16
operands does, holds; one 1 % off still fails, the line naming the bound; float32 operands keep float32's bound.
Without the declaration (the default) the same kernel fails float32's own bound."""

from __future__ import annotations

import dataclasses

import torch
from jaxtyping import Float16, Float32, Int64
from torch import Tensor

import shapecheck
from shapecheck.harness import Bound, operand_bound
from shapecheck.runner import check_case


def _sig(x: Float16[Tensor, "N D"], y: Float16[Tensor, "N D"]) -> Float32[Tensor, "N"]: ...


def _reference(x: Tensor, y: Tensor) -> Tensor:
    return (x.double() * y.double()).sum(-1).float()


def _float16_products(x: Tensor, y: Tensor) -> Tensor:
    """Products rounded to float16 (the operands' dtype), summed in float32: a float16 tensor-core dot."""
    return (x * y).float().sum(-1)


DOT16 = shapecheck.Contract("dot16", _sig, reference=_reference, operand_precision=True)
CASE = shapecheck.Case("dot16", {"N": 8, "D": 64}, {}, 3)


def test_the_coarsest_floating_operand_sets_the_bound() -> None:
    half, single = torch.zeros(2, dtype=torch.float16), torch.zeros(2)
    index = torch.zeros(2, dtype=torch.int64)
    assert operand_bound(torch.float32, {"x": half, "h0": single}, operands=True) == Bound(
        5e-3, "the bound of its float16 operands"
    )
    assert operand_bound(torch.float32, {"x": single, "index": index}, operands=True) == Bound(1e-5)
    assert operand_bound(torch.float16, {"x": half, "n": 3}, operands=True) == Bound(5e-3)
    assert operand_bound(torch.float32, {"x": half, "h0": single}, operands=False) == Bound(1e-5)


def test_without_the_declaration_a_float32_result_keeps_its_own_bound() -> None:
    strict = dataclasses.replace(DOT16, operand_precision=False)
    outcome = check_case(strict, CASE, _float16_products, "cpu")
    assert outcome.problems[0].startswith("output differs from reference: relative RMS error "), outcome.problems
    assert " > 1e-05 (float32; against a float64 reference)" in outcome.problems[0]


def test_a_float32_result_of_float16_products_holds_and_is_not_called_16_bit_arithmetic() -> None:
    outcome = check_case(DOT16, CASE, _float16_products, "cpu")
    assert outcome.problems == []
    assert 1e-5 < outcome.errors["output float32"] < 5e-3, outcome.errors  # fails float32's own bound


def test_a_float32_result_one_percent_off_still_fails_against_its_operands_bound() -> None:
    outcome = check_case(DOT16, CASE, lambda x, y: _float16_products(x, y) * 1.01, "cpu")
    [line] = outcome.problems
    assert line == (
        "output differs from reference: relative RMS error 0.00998 > 0.005 "
        "(float32; against a float64 reference, the bound of its float16 operands)"
    )
    assert abs(outcome.errors["output float32"] - 0.01) < 2e-4


def test_float32_operands_keep_the_float32_bound() -> None:
    def sig(x: Float32[Tensor, "N D"], i: Int64[Tensor, "N"]) -> Float32[Tensor, "N"]: ...

    contract = shapecheck.Contract("sum32", sig, reference=lambda x, i: x.double().sum(-1).float())
    case = shapecheck.Case("sum32", {"N": 4, "D": 16}, {}, 0)
    outcome = check_case(contract, case, lambda x, i: x.half().float().sum(-1), "cpu")
    assert outcome.problems[0].startswith("output differs from reference: relative RMS error "), outcome.problems
    assert " > 1e-05 (float32; against a float64 reference)" in outcome.problems[0]
    assert any(p.startswith("[precision] output float32 is accurate only to 16-bit level") for p in outcome.problems)
