"""Differentiable contracts: every case also runs backward, and each input's gradient is judged like a result.

The kernels here are plain PyTorch autograd Functions, so what is under test is the backward run and the judge:
a wrong term of the chain rule, a gradient never written, a forward outside autograd, each named `grad of ...`;
a contract that marks what cannot have a gradient is refused when built.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable

import pytest
import torch
from jaxtyping import Float, Int
from torch import Tensor

import shapecheck
from shapecheck import Differentiable, InPlace, Offsets
from shapecheck.errors import InvalidContract
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property


def _run(impl: Callable[..., Any], examples: int = 40, **kwargs: Any) -> Report:
    return run_property(
        SCALE,
        impl,
        getattr(impl, "__qualname__", "impl"),
        profile=PROFILES["ci"],
        device="cpu",
        examples=examples,
        database=False,
        **kwargs,
    )


def _scale_sig(
    x: Annotated[Float[Tensor, "T D"], Differentiable()], w: Annotated[Float[Tensor, "D"], Differentiable()]
) -> Float[Tensor, "T D"]: ...


def _scale_reference(x: Tensor, w: Tensor) -> Tensor:
    return x * w.tanh()


SCALE = shapecheck.Contract("scale", _scale_sig, reference=_scale_reference, dims={"T": shapecheck.Dim("rows", 0, 5)})


class _Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(x, w)
        return x * w.tanh()

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
        x, w = ctx.saved_tensors
        t = w.float().tanh()  # in float32, as a Triton backward computes: 1 - tanh^2 cancels in bfloat16
        return g * w.tanh(), ((g.float() * x.float()).sum(0) * (1 - t**2)).to(w.dtype)


class _ChainRuleDropped(_Scale):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
        x, w = ctx.saved_tensors
        return g * w.tanh(), (g * x).sum(0)  # tanh' forgotten


class _GradNeverWritten(_Scale):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
        _, w = ctx.saved_tensors
        return g * w.tanh(), torch.empty_like(w)  # a backward kernel that never stores dw


def scale(x: Tensor, w: Tensor) -> Tensor:
    return _Scale.apply(x, w)


def scale_chain_rule_dropped(x: Tensor, w: Tensor) -> Tensor:
    return _ChainRuleDropped.apply(x, w)


def scale_grad_never_written(x: Tensor, w: Tensor) -> Tensor:
    return _GradNeverWritten.apply(x, w)


def scale_detached(x: Tensor, w: Tensor) -> Tensor:
    return (x * w.tanh()).detach()  # a raw kernel launch: right values, no autograd graph


def test_the_correct_backward_holds_with_backward_cases_zero_and_strided_cotangents() -> None:
    report = _run(scale, examples=60)
    assert report.held, report.failure and report.failure.problems
    assert report.backward_cases == len(report.outcomes) > 0
    assert {"zero cotangent of output", "strided cotangent of output"} <= set(report.regimes), report.regimes
    assert {"grad of x float32", "grad of w float32", "grad of w float16"} <= set(report.worst_errors())


@pytest.mark.parametrize(
    ("impl", "finding"),
    [
        (scale_chain_rule_dropped, "grad of w differs from reference: relative RMS error"),
        (scale_grad_never_written, "grad of w elements are NaN/inf (unwritten or non-finite)"),
        (scale_detached, "no output carries a gradient to x, w: the kernel's results have no grad_fn"),
    ],
)
def test_a_wrong_backward_is_found_naming_the_gradient_and_a_forward_only_run_passes_it(
    impl: Callable[..., Any], finding: str
) -> None:
    report = _run(impl)
    assert report.failure is not None
    assert any(finding in p for p in report.failure.problems), report.failure.problems
    assert report.failure.case.dims["D"] == 1 and report.failure.case.dims["T"] <= 1, report.failure.case
    assert _run(impl, backward=False).held


def test_a_zero_cotangent_is_a_drawn_case_that_replays() -> None:
    case = shapecheck.Case("scale", {"T": 2, "D": 3}, {"cotangents": {"output": "zero"}}, seed=7)
    outcome = shapecheck.check_case(SCALE, case, scale_chain_rule_dropped, "cpu")
    assert outcome.ok and outcome.backward and outcome.errors["grad of w float32"] == 0.0
    drawn = shapecheck.check_case(
        SCALE, shapecheck.Case("scale", {"T": 2, "D": 3}, {}, seed=7), scale_chain_rule_dropped, "cpu"
    )
    assert [p.split(":")[0] for p in drawn.problems] == ["grad of w differs from reference"]


def _int_sig(
    x: Annotated[Float[Tensor, "T D"], Differentiable()], ids: Annotated[Int[Tensor, "T"], Differentiable()]
) -> Float[Tensor, "T D"]: ...


def _offsets_sig(
    x: Float[Tensor, "T D"], cu: Annotated[Int[Tensor, "N+1"], Offsets("T"), Differentiable()]
) -> Float[Tensor, "N D"]: ...


def _inplace_sig(x: Annotated[Float[Tensor, "T D"], InPlace(), Differentiable()]) -> None: ...


def _mutated_sig(x: Annotated[Float[Tensor, "T D"], Differentiable()]) -> None: ...


@pytest.mark.parametrize(
    ("sig", "kwargs", "message"),
    [
        (_int_sig, {}, "`ids`: Differentiable() marks float tensors only (an integer input has no gradient)"),
        (_offsets_sig, {}, "`cu`: Differentiable() marks float tensors only (an integer input has no gradient)"),
        (
            _inplace_sig,
            {},
            "`x`: Differentiable() cannot mark an in-place argument (the call overwrites it; its gradient "
            "is undefined)",
        ),
        (_mutated_sig, {"mutates": ("x",)}, "`x`: Differentiable() cannot mark an in-place argument"),
    ],
)
def test_what_has_no_gradient_cannot_be_marked_differentiable(
    sig: Callable[..., Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidContract) as error:
        shapecheck.Contract("bad", sig, reference=lambda **a: None, **kwargs)
    assert message in str(error.value), str(error.value)


class _ScaleNamedOtherwise(_Scale):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:  # other names than the contract's
        return _Scale.forward(ctx, a, b)


def test_an_autograd_functions_apply_is_called_in_the_contracts_parameter_order() -> None:
    """`Function.apply` takes no keyword arguments on torch 2.11, and its forward's names need not be the
    contract's: passed as the implementation, it gets the case's arguments by position (`call.by_keyword`)."""
    report = _run(_ScaleNamedOtherwise.apply, examples=10)
    assert report.held, report.failure and report.failure.problems
    assert report.backward_cases == len(report.outcomes) > 0


def test_the_references_gradients_follow_its_arguments_to_another_device() -> None:
    """The second opinion of a GPU case also evaluates the reference in float32 on the CPU, with the cotangents
    the kernel was handed (on the GPU); here the meta device stands in for the other one. Before, the cotangent
    stayed where it was, the evaluation raised, and the CPU floor was silently missing (Liger's layer norm at
    D=1 on an H100)."""
    from shapecheck.gradients import reference_grads

    grads_of = reference_grads(lambda a: {"y": a["x"] * 3}, ["x"], {"y": torch.ones(2, 3)})
    got = grads_of({"x": torch.randn(2, 3, device="meta", dtype=torch.float64)})["grad of x"]
    assert (got.device.type, got.dtype, tuple(got.shape)) == ("meta", torch.float64, (2, 3))
    assert torch.equal(grads_of({"x": torch.randn(2, 3)})["grad of x"], torch.full((2, 3), 3.0))
