"""What "first" and "shapes" trust on a repeated signature, and what the compiled check adds (issue 23).

A cache hit is decided by one C++ comparison of the tensors (`shapecheck.native`) plus the scalars' types and
values: any difference a check could see (a bool for a float, another device, a new stride, a tensor subclass)
is checked again.
Under `torch.compile` the checks run at trace time: a valid call's graph is the undecorated model's plus a
handful of guards.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from jaxtyping import Float
from torch import Tensor

import shapecheck
from bench.gdn_stand_in import gdn_stand_in
from shapecheck.contracts.gdn import GDN_DECODE
from tests.gdn_calls import valid_args
from tests.scaled_matmul import SCALED_MATMUL, good_calls, model_around, scaled_matmul

EXTRA_GUARDS = 10  # what the compiled check may add to the undecorated model's guards (issue 23)


@pytest.mark.parametrize("mode", ["first", "shapes"])
def test_a_hit_needs_the_scalars_type_too(mode: str) -> None:
    """`True == 1.0`, but a bool where a float is declared is refused even after `1.0` was checked."""
    fn = shapecheck.contract(SCALED_MATMUL, mode=mode)(scaled_matmul)
    x, w, _ = good_calls()[0]
    fn(x, w, 1.0)
    with pytest.raises(shapecheck.ContractViolation, match="must be float"):
        fn(x, w, True)


@pytest.mark.parametrize("mode", ["first", "shapes"])
def test_a_hit_needs_the_devices_and_strides_too(mode: str) -> None:
    """Same shapes on another device, or a new stride, is a new signature: checked again."""
    fn = shapecheck.contract(SCALED_MATMUL, mode=mode)(scaled_matmul)
    x, w, scale = good_calls()[0]
    fn(x, w, scale)
    with pytest.raises(shapecheck.ContractViolation, match="one device"):
        fn(x, w.to("meta"), scale)
    fn(x, w.T.contiguous().T, scale)  # strided: checked, valid
    fn(x, w, scale)  # the first signature again: found among those checked


def test_a_hit_needs_the_same_argument_layout() -> None:
    """A hit trusts the checked call's values (a NaN passes in "first"), whichever float object holds an equal
    scalar; a scalar by keyword where it came by position, an argument left to its default, another scalar
    value or a keyword the checked call did not pass is a new signature: checked in full."""
    fn = shapecheck.contract(SCALED_MATMUL, mode="first")(scaled_matmul)
    x, w = torch.randn(2, 3), torch.randn(3, 4)
    nan = torch.full_like(x, math.nan)
    fn(x, w, 2.0)
    fn(x=x, w=w, scale=2.0)
    for args, kwargs in [((nan, w, float("2")), {}), ((), {"x": nan, "w": w, "scale": 2.0})]:
        assert torch.isnan(fn(*args, **kwargs)).all()  # the checked signatures: trusted
    for args, kwargs in [
        ((nan, w), {"scale": 2.0}),
        ((nan, w), {}),
        ((nan, w, 3.0), {}),
        ((nan,), {"w": w, "scale": 2.0}),
        ((), {"x": nan, "w": w}),
    ]:
        with pytest.raises(shapecheck.ContractViolation, match="NaN"):
            fn(*args, **kwargs)


def test_one_tensor_given_twice_is_remembered_as_such() -> None:
    """dynamo's tensor guard refuses a tensor passed for two arguments; a call that does so (a square x as its
    own w) still hits its checked signature, and the aliasing is part of it: distinct tensors are a new one."""
    fn = shapecheck.contract(SCALED_MATMUL, mode="first")(scaled_matmul)
    x, nan = torch.randn(3, 3), torch.full((3, 3), math.nan)
    fn(x, x, 2.0)
    assert torch.isnan(fn(nan, nan, 2.0)).all()  # trusted: the hit read no values
    with pytest.raises(shapecheck.ContractViolation, match="NaN"):
        fn(nan, torch.full((3, 3), math.nan), 2.0)
    fn(x, torch.randn(3, 3), 2.0)
    assert torch.isnan(fn(nan, nan.clone(), 2.0)).all()  # both signatures remembered
    assert torch.isnan(fn(nan, nan, 2.0)).all()


def test_a_compiled_call_runs_no_shapecheck_code() -> None:
    """Under inductor the checks ran while dynamo traced: a later call of the compiled model runs none of
    shapecheck's Python, in either mode (the op's unused result is dropped from the compiled graph)."""
    package = str(Path(shapecheck.__file__).parent)
    ran: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(package):
            ran.append(frame.f_code.co_qualname)

    x, w, scale = good_calls()[0]
    for mode in ("first", "shapes"):
        torch._dynamo.reset()
        compiled = torch.compile(model_around(shapecheck.contract(SCALED_MATMUL, mode=mode)(scaled_matmul)))
        compiled(x, w, scale)
        sys.setprofile(profile)
        try:
            out = compiled(x, w, scale)
        finally:
            sys.setprofile(None)
        assert ran == [], mode
        torch.testing.assert_close(out, torch.relu((torch.tanh(x) @ w) * scale))


def test_shapes_checks_an_output_whose_metadata_changed() -> None:
    """A repeated input signature skips the checks, not the output's: an output unlike the checked one is
    checked in full."""
    outputs: list[Callable[[Tensor, Tensor], Tensor]] = [lambda x, w: x @ w, lambda x, w: (x @ w).T]

    def kernel(x: Tensor, w: Tensor, scale: float = 1.0) -> Tensor:
        return outputs[0](x, w)

    fn = shapecheck.contract(SCALED_MATMUL, mode="shapes")(kernel)
    x, w = torch.randn(2, 3), torch.randn(3, 4)
    fn(x, w)
    outputs.pop(0)
    with pytest.raises(shapecheck.ContractViolation, match=r"\[2, 4\]"):
        fn(x, w)


def test_parameters_are_remembered_and_subclasses_checked_every_call() -> None:
    """A model's weights (`nn.Parameter`) are tensors to the guard; another subclass may report sizes of its
    own: its calls are never remembered."""
    fn = shapecheck.contract(SCALED_MATMUL, mode="first")(scaled_matmul)
    x, w, scale = good_calls()[0]
    weight = torch.nn.Parameter(w, requires_grad=False)
    fn(x, weight, scale)
    assert torch.isnan(fn(torch.full_like(x, math.nan), weight, scale)).all()  # trusted: values not read again

    class Sub(Tensor):
        pass

    fn = shapecheck.contract(SCALED_MATMUL, mode="first")(scaled_matmul)
    x, w, scale = good_calls()[0]
    fn(x.as_subclass(Sub), w, scale)
    with pytest.raises(shapecheck.ContractViolation, match="dimension D"):
        fn(x.as_subclass(Sub), torch.randn(4, 4), scale)


def _by_keyword(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def model(**kwargs: Any) -> Tensor:
        return fn(**kwargs) * 2

    return model


def _guards(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    torch._dynamo.reset()
    return len(torch._dynamo.explain(fn)(*args, **kwargs).out_guards)


@pytest.mark.parametrize("mode", ["first", "shapes"])
def test_compiled_check_adds_a_handful_of_guards(mode: str) -> None:
    """The contract's checks leave no guards of their own: the GDN contract's 11 tensors, 6 rules and 4
    layout checks add at most EXTRA_GUARDS to the undecorated model's (the encoding's builtins and cells)."""
    args = valid_args("cpu")
    plain = _guards(_by_keyword(gdn_stand_in), **args)
    checked = _guards(_by_keyword(shapecheck.contract(GDN_DECODE, mode=mode)(gdn_stand_in)), **args)
    assert plain < checked <= plain + EXTRA_GUARDS
    x, w, scale = good_calls()[0]
    small = _guards(model_around(shapecheck.contract(SCALED_MATMUL, mode=mode)(scaled_matmul)), x, w, scale)
    assert small <= _guards(model_around(scaled_matmul), x, w, scale) + EXTRA_GUARDS


def _sig(x: Float[Tensor, "N"], extra: list) -> Float[Tensor, "N"]: ...


LISTED = shapecheck.Contract("listed", _sig)


@pytest.mark.parametrize("extra", [[1, 2.5, "a", None], [torch.ones(2)]], ids=["literals", "tensor"])
def test_compiled_arguments_of_any_kind_keep_the_verdict(extra: list[Any]) -> None:
    """A list of literals reaches the trace-time check as its repr; a list holding a tensor has no repr dynamo
    can build (a graph break in the encoding), so the op decides when the call runs. Either way valid calls
    run and a broken one is refused with the eager message."""
    fn = shapecheck.contract(LISTED, mode="shapes")(lambda x, extra: x * 2)
    torch._dynamo.reset()
    compiled = torch.compile(lambda x, extra: fn(x, extra) + 1, backend="eager")
    torch.testing.assert_close(compiled(torch.ones(3), extra), torch.full((3,), 3.0))
    with pytest.raises(shapecheck.ContractViolation) as eager:
        fn(torch.ones(3, 1), extra)
    with pytest.raises(shapecheck.ContractViolation) as found:
        compiled(torch.ones(3, 1), extra)
    assert str(found.value) == str(eager.value)


@pytest.mark.parametrize("kernel,refused", [("route", False), ("route_int64_ids", True)])
def test_compiled_tuple_results_are_checked_in_the_graph(kernel: str, refused: bool) -> None:
    """A tuple result reaches the trace-time check item by item: `fullgraph=True` compiles a kernel that
    keeps its contract, and one returning int64 ids where int32 is declared is refused with the eager message."""
    from tests import test_general_contracts as general

    fn = shapecheck.contract(general.ROUTE, mode="shapes")(getattr(general, kernel))
    torch._dynamo.reset()
    compiled = torch.compile(lambda logits: fn(logits, 2), backend="eager", fullgraph=not refused)
    logits = torch.randn(3, 5)
    if not refused:
        torch.testing.assert_close(compiled(logits), general.route(logits, 2))
        return
    with pytest.raises(shapecheck.ContractViolation) as eager:
        fn(logits, 2)
    with pytest.raises(shapecheck.ContractViolation) as found:
        compiled(logits)
    assert str(found.value) == str(eager.value)


def test_shapes_remembers_a_tuple_result_and_checks_one_that_changed() -> None:
    """A tuple result's metadata is remembered like a tensor's: int64 ids after checked int32 ones are refused."""
    from tests import test_general_contracts as general

    ids = [torch.int32]

    def route(logits: Tensor, topk: int, renormalize: bool = False) -> tuple[Tensor, Tensor]:
        weights, found = general.route(logits, topk, renormalize)
        return weights, found.to(ids[0])

    fn = shapecheck.contract(general.ROUTE, mode="shapes")(route)
    logits = torch.randn(3, 5)
    fn(logits, 2)
    fn(logits, 2)
    ids[0] = torch.int64
    with pytest.raises(shapecheck.DtypeViolation, match="int64"):
        fn(logits, 2)
