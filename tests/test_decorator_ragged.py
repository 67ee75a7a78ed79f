"""The ragged signature in the decorator: `cu_seqlens: Int[Tensor, "N+1"]` with N bound nowhere else.

jaxtyping refuses such an annotation (it evaluates `N+1` only once N is bound); the contract's binder
solves the one-unknown linear axis instead (N = length - 1) and checks the rest against it, eagerly and
under `torch.compile`.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from jaxtyping import Float, Int
from torch import Tensor

import shapecheck
from shapecheck.spec import Call


def _segment_sum(x: Float[Tensor, "T D"], cu_seqlens: Int[Tensor, "N+1"]) -> Float[Tensor, "N D"]: ...


def _offsets(call: Call) -> None:
    """A value check: offsets into the packed axis start at 0 and end at T."""
    cu = call.arguments["cu_seqlens"].tolist()
    if cu[0] != 0 or cu[-1] != call.dims["T"]:
        raise call.fail(
            "cu_seqlens", "must run from 0 to T", dimension="N+1", expected=f"0 ... {call.dims['T']}", found=cu
        )


SEGMENT_SUM = shapecheck.Contract("segment_sum", _segment_sum, value_checks=[_offsets])


def _sums(x: Tensor, cu_seqlens: Tensor) -> Tensor:
    """Per-segment sums as differences of a running sum (no data-dependent shapes: it compiles)."""
    running = torch.cat([x.new_zeros(1, x.shape[1]), torch.cumsum(x, 0)])
    return running[cu_seqlens[1:]] - running[cu_seqlens[:-1]]


@shapecheck.contract(SEGMENT_SUM)
def segment_sum(x: Tensor, cu_seqlens: Tensor) -> Tensor:
    return _sums(x, cu_seqlens)


@shapecheck.contract(SEGMENT_SUM)
def segment_sum_one_short(x: Tensor, cu_seqlens: Tensor) -> Tensor:
    return _sums(x, cu_seqlens)[:-1]


def test_ragged_call_binds_n_from_cu_seqlens() -> None:
    x, cu = torch.randn(7, 3), torch.tensor([0, 2, 2, 7])
    out = segment_sum(x, cu)
    torch.testing.assert_close(out, torch.stack([x[0:2].sum(0), x[2:2].sum(0), x[2:7].sum(0)]))
    call = SEGMENT_SUM.validate(SEGMENT_SUM.arguments((x, cu), {}))
    assert call.dims == {"T": 7, "D": 3, "N": 3}
    assert call.bindings["N"][1] == "cu_seqlens.shape[0] = N+1"


BAD: list[tuple[str, tuple[Any, ...], str, tuple[str, ...]]] = [
    ("output one row short", (torch.randn(7, 3), torch.tensor([0, 2, 7])), "(return)", ("[2, 3]", "[1, 3]")),
    (
        "cu_seqlens empty",
        (torch.randn(7, 3), torch.tensor([], dtype=torch.int64)),
        "cu_seqlens",
        ("dimension N+1", ">= 1", "0 in shape [0]"),
    ),
    ("cu_seqlens float", (torch.randn(7, 3), torch.tensor([0.0, 7.0])), "cu_seqlens", ("Int", "float32")),
    ("cu_seqlens rank 2", (torch.randn(7, 3), torch.tensor([[0, 7]])), "cu_seqlens", ("rank 1", "rank 2")),
    (
        "offsets do not end at T",
        (torch.randn(7, 3), torch.tensor([0, 2, 6])),
        "cu_seqlens",
        ("dimension N+1", "0 ... 7", "[0, 2, 6]"),
    ),
]


@pytest.mark.parametrize("name", [b[0] for b in BAD])
def test_ragged_bad_calls_name_argument_dimension_expected_found(name: str) -> None:
    _, args, argument, words = next(b for b in BAD if b[0] == name)
    fn = segment_sum_one_short if name == "output one row short" else segment_sum
    with pytest.raises(shapecheck.ContractViolation) as info:
        fn(*args)
    assert info.value.argument == argument
    for word in words:
        assert word in str(info.value), str(info.value)


def _scaled_rows(
    x: Float[Tensor, "R D"], lengths: Int[Tensor, "2*R"], tail: Int[Tensor, "R-1"]
) -> Float[Tensor, "R D"]: ...


def test_multiplied_and_subtracted_axes_solve_and_check() -> None:
    """`2*R` binds nothing new (R is bound by x) and is checked; `R-1` likewise; `c*name` alone must divide."""
    c = shapecheck.Contract("scaled_rows", _scaled_rows)
    ok = c.validate(
        c.arguments((torch.randn(3, 2), torch.zeros(6, dtype=torch.int64), torch.zeros(2, dtype=torch.int64)), {})
    )
    assert ok.dims == {"R": 3, "D": 2}
    with pytest.raises(shapecheck.ContractViolation, match=r"dimension 2\*R"):
        c.validate(
            c.arguments((torch.randn(3, 2), torch.zeros(5, dtype=torch.int64), torch.zeros(2, dtype=torch.int64)), {})
        )

    def _pairs(lengths: Int[Tensor, "2*R"]) -> None: ...

    pairs = shapecheck.Contract("pairs", _pairs)
    assert pairs.validate(pairs.arguments((torch.zeros(6, dtype=torch.int64),), {})).dims == {"R": 3}
    with pytest.raises(shapecheck.ContractViolation, match="a multiple of 2") as info:
        pairs.validate(pairs.arguments((torch.zeros(5, dtype=torch.int64),), {}))
    assert info.value.argument == "lengths"


@pytest.mark.parametrize("mode", ["always", "shapes", "first"])
def test_ragged_under_torch_compile(mode: str) -> None:
    """Compiled, N binds the same way; a bad offsets value is refused where eager refuses it ("always")."""
    checked = shapecheck.contract(SEGMENT_SUM, mode=mode)(_sums)

    def model(x: Tensor, cu: Tensor) -> Tensor:
        return checked(x * 2, cu)

    torch._dynamo.reset()
    compiled = torch.compile(model, backend="eager")
    for T, cu in ((7, [0, 2, 2, 7]), (9, [0, 4, 9])):
        x = torch.randn(T, 3)
        torch.testing.assert_close(compiled(x, torch.tensor(cu)), _sums(x * 2, torch.tensor(cu)))
    with pytest.raises(shapecheck.ContractViolation, match="argument `cu_seqlens`, dimension N\\+1") as info:
        compiled(torch.randn(7, 3), torch.tensor([], dtype=torch.int64))
    assert ">= 1" in str(info.value)
    bad_values = (torch.randn(7, 3), torch.tensor([0, 2, 6]))
    if mode == "always":
        with pytest.raises(shapecheck.ContractViolation, match="must run from 0 to T"):
            compiled(*bad_values)
    else:  # no device reads in compiled "shapes"/"first"
        assert compiled(*bad_values).shape == (2, 3)
