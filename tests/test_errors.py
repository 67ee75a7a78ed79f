"""One exception family: every error shapecheck raises for a caller derives from `ShapecheckError`, and keeps
the builtin base code written before it relied on."""

from __future__ import annotations

import pytest
from jaxtyping import Float
from torch import Tensor

import shapecheck
from shapecheck import errors, host
from shapecheck.axes import ShapeSyntaxError, parse
from shapecheck.spec import TracedViolation


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (shapecheck.UsageError, Exception),
        (shapecheck.NothingRan, shapecheck.UsageError),
        (shapecheck.ContractViolation, ValueError),
        (shapecheck.DtypeViolation, TypeError),
        (shapecheck.DtypeViolation, ValueError),
        (TracedViolation, ValueError),
        (shapecheck.InvalidContract, ValueError),
        (shapecheck.MemoryViolation, RuntimeError),
        (ShapeSyntaxError, ValueError),
    ],
)
def test_each_error_is_a_shapecheck_error_and_keeps_its_builtin_base(error: type, builtin: type) -> None:
    assert issubclass(error, shapecheck.ShapecheckError)
    assert issubclass(error, builtin)


def test_the_base_is_exported_and_catches_a_raised_error() -> None:
    assert shapecheck.ShapecheckError is errors.ShapecheckError
    assert {"ShapecheckError", "UsageError", "MemoryViolation", "NothingRan"} <= set(shapecheck.__all__)
    with pytest.raises(shapecheck.ShapecheckError) as raised:
        parse("*a *b")
    assert isinstance(raised.value, ValueError)
    violation = shapecheck.ContractViolation("f", "x", "wrong rank")
    assert str(violation) == "f: argument `x`: wrong rank"


def test_abort_stays_outside_the_family() -> None:
    """A BaseException on purpose: Hypothesis must not take it for a failing example."""
    assert not issubclass(errors.Abort, Exception)


@pytest.mark.interpreter
@pytest.mark.parametrize("backward", [False, True])
def test_a_kernel_missing_a_module_is_an_error_not_a_finding(backward: bool) -> None:
    """The same ImportError on every case says the environment lacks a module: exit 2, never a finding to shrink."""
    from shapecheck.contracts.segment import SEGMENT_MEAN
    from shapecheck.kernels.segment import segment_mean
    from shapecheck.profiles import PROFILES
    from shapecheck.runner import run_property
    from tests.conftest import DEVICE

    def needs_einops(*args: object, **kwargs: object) -> object:
        if backward and not any(getattr(a, "requires_grad", False) for a in kwargs.values()):
            return segment_mean(*args, **kwargs)  # the forward holds; the backward pass's import fails
        import shapecheck_no_such_module  # type: ignore[import-not-found]  # noqa: F401

        raise AssertionError("unreachable")

    with pytest.raises(errors.Abort) as aborted:
        run_property(
            SEGMENT_MEAN,
            needs_einops,
            "needs_einops",
            profile=PROFILES["ci"],
            device=DEVICE,
            examples=5,
            database=False,
        )
    assert "ModuleNotFoundError: No module named 'shapecheck_no_such_module'" in aborted.value.message
    assert "not a finding" in aborted.value.message


def test_a_contract_refused_while_drawing_is_the_users_error_not_an_internal_one() -> None:
    """A float scalar with no default and no `draw` strategy: one line naming the contract and the argument."""
    from shapecheck.profiles import PROFILES
    from shapecheck.runner import run_property

    def scale(x: Float[Tensor, "N"], alpha: float) -> Float[Tensor, "N"]: ...

    contract = shapecheck.Contract("scale_by", scale, reference=lambda x, alpha: alpha * x.double())
    with pytest.raises(errors.Abort) as aborted:
        run_property(
            contract,
            lambda x, alpha: alpha * x,
            "impl",
            profile=PROFILES["ci"],
            device="cpu",
            examples=3,
            database=False,
        )
    assert aborted.value.message == (
        "contract scale_by: `alpha`: has no default and cannot be drawn from its annotation; "
        "declare draw={'alpha': st.floats(...)} (any Hypothesis strategy) or pin it"
    ), aborted.value.message


def test_an_error_is_described_in_one_line_that_says_what_went_wrong() -> None:
    """Triton's CompilationError opens with its position and ends with the reason (fla's chunk_gla backward on an
    H100 was reported as "CompilationError: at 39:15:" alone); a one-line message stays as it is."""

    class CompilationError(Exception):
        pass

    triton_like = CompilationError("at 39:15:\n    b = tl.dot(x, y)\n        ^\nInput shapes should have K >= 16")
    assert host.described(triton_like) == "CompilationError: at 39:15: ... Input shapes should have K >= 16"
    assert host.described(ValueError("bad\nsecond")) == "ValueError: bad"
    assert host.described(RuntimeError()) == "RuntimeError"


@pytest.mark.interpreter
def test_a_kernel_that_fails_to_compile_is_a_finding_that_says_why() -> None:
    """A kernel raising Triton's CompilationError on a valid case is a finding, its line naming the reason that
    ends the message, not only the position that opens it ("kernel raised CompilationError: at 39:15:")."""
    from shapecheck.contracts.segment import SEGMENT_MEAN
    from shapecheck.profiles import PROFILES
    from shapecheck.runner import run_property
    from tests.conftest import DEVICE

    class CompilationError(Exception):
        pass

    def fails_to_compile(*args: object, **kwargs: object) -> object:
        raise CompilationError("at 39:15:\n    b = tl.dot(x, y)\n        ^\nInput shapes should have K >= 16")

    report = run_property(
        SEGMENT_MEAN,
        fails_to_compile,
        "fails_to_compile",
        profile=PROFILES["ci"],
        device=DEVICE,
        examples=3,
        database=False,
    )
    assert report.failure is not None
    assert "kernel raised CompilationError: at 39:15: ... Input shapes should have K >= 16" in report.failure.problems
