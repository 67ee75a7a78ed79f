"""One checker of a call's results: each kind of problem found, named, and nothing found where all is right."""

from __future__ import annotations

from typing import Annotated

import pytest
import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck import InPlace, harness


def _sig(x: Float[Tensor, "N D"], pool: Annotated[Float[Tensor, "S D"], InPlace()]) -> Float[Tensor, "N D"]: ...


C = shapecheck.Contract("h", _sig, reference=lambda x, pool: x)


def _call(n: int = 3, s: int = 4, d: int = 5) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    args = {"x": torch.randn(n, d), "pool": torch.randn(s, d)}
    return args, C.validate(dict(args)).dims


def test_a_right_result_has_no_problem_and_its_errors_are_recorded() -> None:
    args, dims = _call()
    before = {"pool": args["pool"].clone()}
    ref_pool = before["pool"].clone()
    ref_pool[1] += 1.0
    args["pool"][1] += 1.0  # the kernel's in-place update, as the reference's
    errors: dict[str, float] = {}
    out = args["x"] * 2
    assert (
        harness.check(
            C, dims, args, out, reference={"output": out.clone(), "pool": ref_pool}, before=before, errors=errors
        )
        == []
    )
    assert errors == {"output float32": 0.0, "pool float32": 0.0}


@pytest.mark.parametrize(
    "out,kind,line",
    [
        ([1, 2], "type", "output is list, expected a tensor of shape [3, 5]"),
        (torch.zeros(3, 4), "shape", "output shape [3, 4] != contract [3, 5] (\"N D\" with {'N': 3, 'D': 5, 'S': 4})"),
        (torch.zeros(3, 5, dtype=torch.int32), "dtype", 'output dtype int32 is not one of "N D"\'s Float'),
    ],
)
def test_type_shape_and_dtype_are_checked_without_device_reads(out: object, kind: str, line: str) -> None:
    args, dims = _call()
    problems = harness.check(C, dims, args, out, values=False)
    assert [(p.kind, str(p)) for p in problems] == [(kind, line)]
    call = C.validate(dict(args))
    with pytest.raises(shapecheck.ContractViolation, match=r"argument `\(return\)`"):
        raise problems[0].violation(call)


def test_values_against_the_reference() -> None:
    args, dims = _call()
    before = {"pool": args["pool"].clone()}
    nan = torch.full((3, 5), float("nan"))
    assert harness.check(C, dims, args, nan, values=False) == []  # the decorator's check reads no values
    assert [
        p.kind
        for p in harness.check(C, dims, args, nan, reference={"output": nan, "pool": before["pool"]}, before=before)
    ] == ["unwritten"]
    ref = torch.randn(3, 5)
    problems = harness.check(C, dims, args, ref * 1.1, reference={"output": ref, "pool": before["pool"]}, before=before)
    assert [p.kind for p in problems] == ["values"] and "relative RMS error 0.1 > 1e-05" in str(problems[0])


def test_inplace_rows_the_reference_leaves_must_keep_their_bits() -> None:
    args, dims = _call()
    before = {"pool": args["pool"].clone()}
    ref_pool = before["pool"].clone()
    ref_pool[0] += 1.0
    args["pool"][0] += 1.5  # updated row off
    args["pool"][2] += 1.0  # a row the reference does not touch
    out = args["x"].clone()
    problems = harness.check(C, dims, args, out, reference={"output": out, "pool": ref_pool}, before=before)
    assert [(p.kind, p.subject) for p in problems] == [("untouched", "pool"), ("values", "pool")]
    assert "rows the contract leaves untouched were modified: [2]" in str(problems[0])


def test_a_tensor_subclass_output_gets_no_value_checks() -> None:
    """It could answer the comparison itself; integrity.after_call names it ([output-type])."""

    class Sneaky(torch.Tensor):
        pass

    args, dims = _call()
    out = torch.zeros(9, 9).as_subclass(Sneaky)
    assert (
        harness.check(C, dims, args, out, reference={"output": torch.ones(3, 5), "pool": args["pool"]}, before={}) == []
    )
    assert [p.kind for p in harness.check(C, dims, args, out, values=False)] == ["shape"]
