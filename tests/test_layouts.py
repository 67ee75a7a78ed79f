"""Layouts: a contract that names no layout for a tensor takes it in any, so its cases draw it in more than one.

The decorator accepts any strides a check does not refuse; a property run that drew only packed tensors would
then hold for a kernel that addresses its inputs packed, and production calls with views would get garbage.
Generic cases pass such tensors as spaced views (every other element of the last axis) in about half the
cases; `shapecheck.contiguous` and `unit_stride_last` declare the layout a kernel needs, and the decorator then
refuses other layouts by name. The kernels here are real Triton (the interpreter on a CPU).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Callable

import pytest
import torch
import triton
import triton.language as tl
from hypothesis import given, settings
from hypothesis import strategies as st
from jaxtyping import Float, Int
from torch import Tensor

import shapecheck
from shapecheck import console, reports, strategies
from shapecheck.case import SPACED, Case
from shapecheck.inputs import input_builder, views
from shapecheck.integrity import bits
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property
from shapecheck.strategies import STRIDED


def _sig(x: Float[Tensor, "R C"], bias: Float[Tensor, "C"], alpha: float = 0.5) -> Float[Tensor, "R C"]: ...


def _reference(x: Tensor, bias: Tensor, alpha: float = 0.5) -> Tensor:
    return x + alpha * bias


@triton.jit
def _packed_kernel(x, bias, out, C, alpha, BC: tl.constexpr):
    r = tl.program_id(0)
    cols = tl.arange(0, BC)
    mask = cols < C
    row = tl.load(x + r * C + cols, mask=mask)  # assumes x packed
    b = tl.load(bias + cols, mask=mask)  # assumes bias packed
    tl.store(out + r * C + cols, row + alpha * b, mask=mask)


@triton.jit
def _strided_kernel(x, bias, out, C, alpha, sx_r, sx_c, sb, BC: tl.constexpr):
    r = tl.program_id(0)
    cols = tl.arange(0, BC)
    mask = cols < C
    row = tl.load(x + r * sx_r + cols * sx_c, mask=mask)
    b = tl.load(bias + cols * sb, mask=mask)
    tl.store(out + r * C + cols, row + alpha * b, mask=mask)


def _launch(kernel: Any, x: Tensor, bias: Tensor, alpha: float, **strides: int) -> Tensor:
    R, C = x.shape
    out = torch.empty(R, C, dtype=x.dtype, device=x.device)
    if out.numel():
        kernel[(R,)](x=x, bias=bias, out=out, C=C, alpha=alpha, BC=triton.next_power_of_2(C), **strides)
    return out


def packed(x: Tensor, bias: Tensor, alpha: float = 0.5) -> Tensor:
    return _launch(_packed_kernel, x, bias, alpha)


def strided(x: Tensor, bias: Tensor, alpha: float = 0.5) -> Tensor:
    return _launch(_strided_kernel, x, bias, alpha, sx_r=x.stride(0), sx_c=x.stride(1), sb=bias.stride(0))


def _contract(*checks: Any) -> shapecheck.Contract:
    return shapecheck.Contract(
        "bias_add",
        _sig,
        reference=_reference,
        dims={"R": shapecheck.Dim("rows", 1, 4), "C": shapecheck.Dim("columns", 1, 12)},
        checks=list(checks),
    )


def _run(contract: shapecheck.Contract, impl: Callable[..., Any], device: str) -> Report:
    return run_property(
        contract, impl, impl.__name__, profile=PROFILES["ci"], device=device, examples=30, database=False, seed=3
    )


def test_tensors_without_a_layout_check_are_drawn_spaced_and_a_packed_kernel_is_caught(device: str) -> None:
    assert _contract().free_layouts == ("x", "bias")
    report = _run(_contract(), packed, device)
    assert report.failure is not None
    # the packed read lands in the view's gaps, which hold NaN
    assert any("output elements are NaN/inf" in p for p in report.failure.problems), report.failure.problems
    spaced = report.failure.case.options[SPACED]
    assert spaced and set(spaced) <= {"x", "bias"}  # shrinking keeps only the views the failure needs
    with console.stdout.capture() as shown:
        console.print_failure(report)
    names = ", ".join(f'"{n}"' for n in spaced)
    assert f"layout: the failure needs {names} as a view of every other element" in shown.get()
    assert f"shapecheck.contiguous({names})" in shown.get()


def test_a_stride_aware_kernel_holds_over_spaced_views(device: str) -> None:
    report = _run(_contract(), strided, device)
    assert report.failure is None and len(report.outcomes) >= 30
    covered = report.regimes
    assert covered.get("spaced x", 0) > 0 and covered.get("spaced bias", 0) > 0, covered


def test_declared_layouts_are_not_drawn_spaced_and_the_packed_kernel_holds(device: str) -> None:
    declared = _contract(shapecheck.contiguous("x", "bias"))
    assert declared.free_layouts == ()
    report = _run(declared, packed, device)
    assert report.failure is None
    assert not any(name.startswith("spaced") for name in report.regimes)
    rows = _contract(shapecheck.unit_stride_last("x"), shapecheck.contiguous("bias"))
    assert rows.free_layouts == () and rows.free_strides == ("x",)


def test_the_decorator_refuses_a_layout_the_contract_does_not_take_by_name(device: str) -> None:
    checked = shapecheck.contract(_contract(shapecheck.contiguous("x", "bias")))(packed)
    x, bias = torch.randn(3, 8, device=device), torch.randn(4, device=device)
    with pytest.raises(shapecheck.ContractViolation) as info:
        checked(x[:, ::2], bias)
    text = str(info.value)
    assert "argument `x`: must be contiguous" in text
    assert "expected: strides [4, 1]" in text and "found:    strides [8, 2]" in text
    with pytest.raises(shapecheck.ContractViolation, match=r"argument `bias`: must be contiguous"):
        checked(x[:, :4].contiguous(), torch.randn(8, device=device)[::2])
    torch.testing.assert_close(checked(x[:, :4].contiguous(), bias), _reference(x[:, :4], bias))


def test_spaced_marked_values_keep_their_values() -> None:
    def offsets_sig(
        x: Float[Tensor, "T D"], cu: Annotated[Int[Tensor, "N+1"], shapecheck.Offsets("T")]
    ) -> Float[Tensor, "N D"]: ...

    c = shapecheck.Contract("pool", offsets_sig, reference=lambda x, cu: x[:0])
    case = Case("pool", {"T": 5, "D": 3, "N": 2}, {"cu": [0, 2, 5], SPACED: ["cu", "x"]}, seed=1)
    args = input_builder(c)(case, "cpu")
    assert args["cu"].tolist() == [0, 2, 5] and args["cu"].stride() == (2,)
    assert args["x"].shape == (5, 3) and args["x"].stride() == (6, 2)


def _build(case: Case, device: Any) -> dict[str, Any]:
    R, C = case.dims["R"], case.dims["C"]
    return {"x": torch.randn(R, C, device=device), "bias": torch.randn(C, device=device), "alpha": 0.5}


def _builder_contract(build: Callable[[Case, Any], dict[str, Any]], **hooks: Any) -> shapecheck.Contract:
    dims = {"R": shapecheck.Dim("rows", 1, 4), "C": shapecheck.Dim("columns", 1, 12)}
    return shapecheck.Contract("bias_add", _sig, reference=_reference, inputs=build, dims=dims, **hooks)


def test_a_builders_tensors_are_passed_as_spaced_views_too(device: str) -> None:
    """A contract's own builder makes packed tensors; the decorator still accepts views of them, so the run
    passes them spaced as it does generic ones: the packed kernel is caught, the stride-aware one holds."""
    caught = _run(_builder_contract(_build), packed, device)
    assert caught.failure is not None and caught.failure.case.options[SPACED]
    held = _run(_builder_contract(_build), strided, device)
    assert held.failure is None and held.packed_only == []
    assert held.regimes.get("spaced x", 0) > 0 and held.regimes.get("spaced bias", 0) > 0, held.regimes
    # the builder makes float32 only: the coverage rows name what was passed, never a drawn dtype that did not run
    assert held.regimes["x float32"] == held.regimes["bias float32"] == len(held.outcomes), held.regimes
    assert not [r for r in held.regimes if r.endswith(("float16", "bfloat16"))], held.regimes
    never = [f"{n} {d}" for n in ("x", "bias") for d in held.dtype_choices[n] if d != "float32"]
    assert never and held.untried_dtypes == never  # ... and the report names the dtypes that never ran
    with console.stdout.capture() as shown:
        console.stdout.print(console.report_table(held))
    assert "dtypes never run" in shown.get() and "the annotations accept them" in shown.get()
    assert all(name in shown.get() for name in never)
    assert _run(_contract(), strided, device).untried_dtypes == []  # generic cases draw every one


def test_a_builders_rows_are_passed_strided_where_the_contract_frees_them(device: str) -> None:
    """`unit_stride_last("x")` frees x's row stride: a builder's x is passed with rows further apart than packed
    too, so a kernel that steps rows by the row length is caught and one that takes the stride holds."""
    checks = [shapecheck.unit_stride_last("x"), shapecheck.contiguous("bias")]
    caught = _run(_builder_contract(_build, checks=checks), packed, device)
    assert caught.failure is not None and caught.failure.case.options[STRIDED] == ["x"]
    held = _run(_builder_contract(_build, checks=checks), strided, device)
    assert held.failure is None and 0 < held.regimes["strided x"] < len(held.outcomes), held.regimes
    x = input_builder(_builder_contract(_build, checks=checks))(
        Case("bias_add", {"R": 3, "C": 4}, {STRIDED: ["x"]}, 1), "cpu"
    )["x"]
    assert x.stride() == (7, 1) and torch.isnan(x._base[:, 4:]).all()


def _own_cases(profile: Any, overrides: Any) -> Any:
    return st.builds(
        lambda R, C, seed: Case("bias_add", {"R": R, "C": C}, {}, seed),
        st.integers(1, 4),
        st.integers(1, 12),
        st.integers(0, 2**31 - 1),
    )


@settings(max_examples=40, database=None)
@given(strategies.cases(_builder_contract(_build, cases=_own_cases)))
def test_a_contract_with_its_own_cases_draws_spaced_views_beside_them(drawn: Case) -> None:
    assert set(drawn.options[SPACED]) <= {"x", "bias"}


def test_views_keep_values_and_grad_and_leave_aliases_and_views_as_built() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    out = torch.zeros(3, 4)
    drawn = Case("c", {}, {SPACED: ["x", "out", "alias", "t"]}, 0)
    args = views({"x": x, "out": out, "alias": out[1], "t": torch.randn(4, 3).t(), "n": 2}, drawn)
    assert args["x"].stride() == (8, 2) and args["x"].requires_grad and torch.equal(args["x"], x)
    assert torch.isnan(args["x"]._base[..., 1::2]).all()  # the gaps: a packed read shows
    assert args["out"] is out and args["alias"].data_ptr() == out[1].data_ptr()  # `out` and a view of it share
    assert args["t"].stride() == (1, 3) and args["n"] == 2
    ints = views({"i": torch.arange(5, dtype=torch.int32)}, Case("c", {}, {SPACED: ["i"]}, 0))["i"]
    assert ints.tolist() == list(range(5)) and ints.stride() == (2,) and ints._base[1::2].eq(0).all()


def test_bytes_of_a_one_element_spaced_view() -> None:
    one = torch.tensor([7, 9], dtype=torch.int32)[::2]  # contiguous by torch's rule, yet stride 2
    assert one.stride() == (2,) and bits(one).tolist() == [7, 0, 0, 0]


def _aliased_build(case: Case, device: Any) -> dict[str, Any]:
    """x and bias as views of one buffer: `spaced` leaves both as built."""
    R, C = case.dims["R"], case.dims["C"]
    whole = torch.randn(R + 1, C, device=device)
    return {"x": whole[1:], "bias": whole[0], "alpha": 0.5}


def _aliased_spaced_x_build(case: Case, device: Any) -> dict[str, Any]:
    R, C = case.dims["R"], case.dims["C"]
    whole = torch.randn(R + 1, 2 * C, device=device)
    return {"x": whole[1:, ::2], "bias": whole[0, :C], "alpha": 0.5}  # x spaced by the builder itself


def test_a_builders_packed_only_layouts_are_reported_never_silently_held(device: str) -> None:
    """Tensors a builder made views of one buffer stay as built: the report names the free-layout tensors no
    case passed non-contiguous, in the table and the JSON, and through a merge of parts."""
    for build, untried in ((_aliased_build, ["x", "bias"]), (_aliased_spaced_x_build, ["bias"])):
        own = _builder_contract(build)
        report = _run(own, strided, device)
        assert report.failure is None and report.packed_only == untried
        again = Report.from_json(json.loads(json.dumps(report.to_json())))
        assert again.packed_only == untried and reports.merge([report, again]).packed_only == untried
        with console.stdout.capture() as shown:
            console.stdout.print(console.report_table(report))
        assert f"{', '.join(untried)}: the contract takes them in any layout" in shown.get().replace("\n", " ")
    assert _run(_contract(), strided, device).packed_only == []  # generic cases draw them spaced
