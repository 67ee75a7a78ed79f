"""The cache-hit check of tensors (`shapecheck.native`): built where a compiler is, answering as dynamo's
TensorGuards answers, and never the reason a call goes unchecked or the process dies (issue 23)."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import torch
from torch import Tensor
from torch._C._dynamo.guards import TensorGuards

import shapecheck
from shapecheck import native
from tests.scaled_matmul import SCALED_MATMUL, good_calls, scaled_matmul


class Sub(Tensor):
    pass


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The native check as this machine builds it, whatever the environment says; the cache restored after."""
    monkeypatch.delenv(native.ENV, raising=False)
    native.forget()
    if native.module() is None:
        pytest.skip("the native check could not be built here (test_built_where_a_compiler_is says whether it should)")
    yield
    native.forget()


@pytest.fixture(params=["native", "TensorGuards"])
def either(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each check the decorator may use: native (where built) and dynamo's, by SHAPECHECK_NATIVE=0."""
    if request.param == "TensorGuards":
        monkeypatch.setenv(native.ENV, "0")
    else:
        monkeypatch.delenv(native.ENV, raising=False)
    native.forget()
    if request.param == "native" and native.module() is None:
        pytest.skip("the native check could not be built here")
    yield request.param
    native.forget()


def test_built_where_a_compiler_is() -> None:
    """Where torch's extension machinery has what it needs, the build succeeds: a broken source or build
    would otherwise only show as a slower hit."""
    if not (shutil.which("c++") and shutil.which("ninja")):
        pytest.skip("no C++ compiler or ninja here: the decorator uses TensorGuards")
    native.forget()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback's warning would say why it failed
        built = native.module()
    assert built is not None
    check = native.tensor_check((torch.randn(2, 3),))
    assert type(check).__name__ == "builtin_function_or_method" and check.__name__ == "check"


def _base() -> list[Tensor]:
    return [torch.randn(2, 3, 4), torch.randn(5, dtype=torch.float16), torch.zeros(3, dtype=torch.int64)]


def _variants() -> dict[str, tuple[list[Any], bool]]:
    """Calls against `_base()`'s signature, and whether they have it."""
    x, h, i = _base()
    with torch.inference_mode():
        inference = torch.randn(2, 3, 4)
    return {
        "fresh tensors, same metadata": ([torch.randn(2, 3, 4), torch.randn(5).half(), torch.ones(3).long()], True),
        "another storage offset": ([torch.randn(30)[6:].view(2, 3, 4), h, i], True),
        "another size": ([torch.randn(2, 3, 5), h, i], False),
        "another rank": ([torch.randn(2, 3, 4, 1), h, i], False),
        "another stride": ([torch.randn(2, 4, 3).transpose(1, 2), h, i], False),
        "another dtype": ([x.double(), h, i], False),
        "another device": ([x.to("meta"), h, i], False),
        "requires_grad": ([x.clone().requires_grad_(), h, i], False),
        "a Parameter for a Tensor": ([torch.nn.Parameter(x.clone()), h, i], False),
        "a subclass": ([x.as_subclass(Sub), h, i], False),
        "an inference tensor": ([inference, h, i], False),
        "a sparse tensor": ([x.to_sparse(), h, i], False),
        "an int": ([1, h, i], False),
        "None": ([None, h, i], False),
        "one tensor fewer": ([x, h], False),
    }


@pytest.mark.parametrize("name", list(_variants()))
def test_native_check_answers_as_tensorguards(built: None, name: str) -> None:
    base = _base()
    call, same = _variants()[name]
    native_check = native.tensor_check(tuple(base))
    assert native_check(*call) is same
    if name != "one tensor fewer":  # TensorGuards raises on a count it was not made for; native says False
        assert TensorGuards(*base, dynamic_dims_sizes=None, dynamic_dims_strides=None).check(*call) is same


def test_a_nested_tensor_after_a_checked_call_is_not_the_checked_one(either: str) -> None:
    """TensorGuards alone aborts the process on a strided nested tensor (an uncaught C++ error): neither check
    lets one reach it, and the native one reads it safely."""
    x = torch.randn(3, 4)
    check = native.tensor_check((x,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype API
        nested = torch.nested.nested_tensor([x, x])
    assert check(nested) is False
    assert check(torch.randn(3, 4)) is True


@pytest.mark.parametrize("mode", ["first", "shapes", "always"])
def test_nested_and_sparse_tensors_are_refused_after_a_checked_call(either: str, mode: str) -> None:
    """A tensor without plain sizes (nested, jagged) or strides (sparse) is refused by name, in every mode and
    with either check, where it was an internal RuntimeError (or, under TensorGuards, a process abort)."""
    fn = shapecheck.contract(SCALED_MATMUL, mode=mode)(scaled_matmul)
    x, w, scale = good_calls()[0]
    expected = fn(x, w, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = [
            ("a nested tensor", torch.nested.nested_tensor([x, x])),
            ("a nested tensor", torch.nested.nested_tensor([x, x], layout=torch.jagged)),
            ("a sparse_coo tensor", x.to_sparse()),
        ]
    for found, tensor in bad:
        with pytest.raises(shapecheck.DtypeViolation, match="must be a strided tensor") as err:
            fn(tensor, w, scale)
        assert str(err.value).endswith(f"found:    {found}")
    torch.testing.assert_close(fn(x, w, scale), expected)


def test_a_failed_build_warns_and_keeps_every_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """No compiler: one warning naming the way to skip the build; hits and misses as before."""
    import torch.utils.cpp_extension

    def no_compiler(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Ninja is required to load C++ extensions\nmore detail")

    monkeypatch.delenv(native.ENV, raising=False)
    monkeypatch.setattr(torch.utils.cpp_extension, "load", no_compiler)
    native.forget()
    try:
        with pytest.warns(RuntimeWarning, match=r"RuntimeError: Ninja is required.*SHAPECHECK_NATIVE=0 skips"):
            assert native.module() is None
        fn: Callable[..., Tensor] = shapecheck.contract(SCALED_MATMUL, mode="first")(scaled_matmul)
        x, w, scale = good_calls()[0]
        fn(x, w, scale)
        assert torch.isnan(fn(torch.full_like(x, float("nan")), w, scale)).all()  # a hit: values trusted
        with pytest.raises(shapecheck.ContractViolation, match="dimension D"):
            fn(x, torch.randn(4, 4), scale)  # a miss: checked
    finally:
        native.forget()


def _calls() -> tuple[tuple[tuple[Any, ...], dict[str, Any]], dict[str, tuple[tuple[Any, ...], dict[str, Any], bool]]]:
    """A checked call (x passed twice, scalars of each kind, a NaN) and calls against its signature, with
    whether they have it."""
    x, w, nan = torch.randn(2, 3), torch.randn(3, 4), float("nan")
    checked = (x, w, 2.0, None, True, "a", nan), {"scale": 1.5, "y": x}
    fresh_x, fresh_w = torch.randn(2, 3), torch.randn(3, 4)

    def call(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, kwargs

    base = (x, w, 2.0, None, True, "a", nan)
    return checked, {
        "the same objects": (*call(*base, scale=1.5, y=x), True),
        "fresh tensors, x passed twice": (*call(fresh_x, fresh_w, *base[2:], scale=1.5, y=fresh_x), True),
        "keywords in another order": (*call(*base, y=x, scale=1.5), True),
        "an equal float object": (*call(x, w, float("2.0"), *base[3:], scale=1.5, y=x), True),
        "x and y other objects of x's metadata": (*call(*base, scale=1.5, y=fresh_x), False),
        "an int for a float": (*call(x, w, 2, *base[3:], scale=1.5, y=x), False),
        "1 for True": (*call(*base[:4], 1, *base[5:], scale=1.5, y=x), False),
        "another str": (*call(*base[:5], "b", nan, scale=1.5, y=x), False),
        "another NaN object": (*call(*base[:6], float("nan"), scale=1.5, y=x), False),
        "another keyword value": (*call(*base, scale=2.5, y=x), False),
        "a keyword missing": (*call(*base, scale=1.5), False),
        "a keyword more": (*call(*base, scale=1.5, y=x, z=None), False),
        "another keyword": (*call(*base, scale=1.5, z=x), False),
        "a positional argument fewer": (*call(*base[:-1], scale=1.5, y=x), False),
        "the keyword by position": (*call(*base, 1.5, y=x), False),
        "a scalar for a tensor": (*call(x, 1.0, *base[2:], scale=1.5, y=x), False),
        "a tensor for a scalar": (*call(x, w, torch.tensor(2.0), *base[3:], scale=1.5, y=x), False),
        "another stride": (*call(x, w.T.contiguous().T, *base[2:], scale=1.5, y=x), False),
    }


@pytest.mark.parametrize("name", list(_calls()[1]))
def test_native_call_check_answers_as_the_generated_expression(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The native whole-call check and the generated Python expression (where it is not built) are one
    question: the same answer on every variant of a call."""
    from shapecheck import guards

    (args, kwargs), calls = _calls()
    monkeypatch.setenv(native.ENV, "0")
    native.forget()
    expression = guards.signature(args, kwargs)
    monkeypatch.delenv(native.ENV)
    native.forget()
    try:
        if native.module() is None:
            pytest.skip("the native check could not be built here")
        built = guards.signature(args, kwargs)
        assert built is not None and expression is not None
        assert type(built.matches).__name__ == "builtin_function_or_method"  # the native one answers below
        call_args, call_kwargs, same = calls[name]
        assert built.matches(call_args, call_kwargs) is same
        assert expression.matches(call_args, call_kwargs) is same
    finally:
        native.forget()
