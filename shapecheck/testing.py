"""Run a contract's property suite from pytest in one line.

    # tests/test_my_kernel.py
    from shapecheck.testing import property_test
    test_my_kernel = property_test("mypkg.ops:my_kernel")                          # CPU interpreter or GPU
    test_my_kernel_gpu = property_test("mypkg.ops:my_kernel", device="cuda", profile="gpu")  # skips without a GPU

On CPU, Triton's interpreter must be on before the kernel module is imported: call
`use_interpreter_without_gpu()` at the top of your `conftest.py`.

Under pytest-xdist (`pytest -n auto`) each worker runs its GPU tests on one device, chosen from its worker
id (`gw3` -> device 3 modulo the visible count), so the workers spread over the GPUs instead of queueing
on the first. Workers share the example database and the patch cache safely: Hypothesis writes each
database entry by an atomic rename under a per-key directory, and patched files are written the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Callable, Mapping, Optional, Sequence

import torch

try:
    import pytest
except ModuleNotFoundError:  # pragma: no cover - exercised in a venv without pytest (tests/test_general_contracts.py)
    raise ModuleNotFoundError(
        "shapecheck.testing needs pytest: pip install 'shapecheck[pytest]' (or pytest itself)", name="pytest"
    ) from None

from shapecheck.backend import DEVICES
from shapecheck.parallel import xdist_device
from shapecheck.profiles import named
from shapecheck.reports import reproduction


def use_interpreter_without_gpu() -> None:
    """Without a visible GPU, set `os.environ["TRITON_INTERPRET"] = "1"` (Triton's CPU interpreter) for the process.

    The environment, because Triton reads the variable when `@triton.jit` decorates a function: call this
    before any kernel module is imported (the top of `conftest.py`); pytest-xdist workers inherit it.
    """
    if not torch.cuda.is_available():
        os.environ["TRITON_INTERPRET"] = "1"
        from shapecheck.backend import interpreter_shims

        interpreter_shims()


def property_test(
    impl: str,
    *,
    contract: Optional[str] = None,
    contracts: Sequence[str] = (),
    device: str = "auto",
    profile: str = "ci",
    examples: Optional[int] = None,
    seed: Optional[int] = None,
    pins: Optional[Mapping[str, Any]] = None,
) -> Callable[[], None]:
    """A pytest test function that draws cases for `impl` and fails with the shrunk case and its replay line.

    `pins` fix dimensions, scalars or case options for every case, as `shapecheck run --pin NAME=VALUE` does.

    `device="cuda"` marks the test `gpu` and skips it cleanly where no GPU is visible. A run in which no
    case executed, or whose reference/builder/strategy raised, fails the test with that one line. A bad
    `profile` or `device` raises ValueError here, where the test is defined (collection), not when it runs.
    """
    chosen_profile = named(profile, "property_test: profile")
    pinned = dict(pins or {})
    pin_args = tuple(f"{name}={json.dumps(value)}" for name, value in pinned.items())
    if device not in DEVICES:
        raise ValueError(f"property_test: device must be one of {', '.join(DEVICES)}, found {device!r}")

    def test() -> None:
        from shapecheck import errors, registry
        from shapecheck.property_cli import RunOptions
        from shapecheck.runner import run_property

        chosen = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
        error: Optional[str] = None
        try:
            fn, near = registry.implementation_and_contracts(impl)
            known = registry.contracts(contracts, extra=near)
            carried = getattr(fn, "__contract__", None)
            c = registry.contract(contract, known, prefer=carried) if contract else carried
            if c is None:
                pytest.fail(f"{impl} carries no @shapecheck.contract; pass contract=", pytrace=False)
            replay = RunOptions(
                contract=c.qualname, impl=impl, contracts=tuple(contracts), device=chosen, pins=pin_args
            ).replay(c.qualname)
            with contextlib.ExitStack() as stack:
                if chosen == "cuda" and (index := xdist_device(torch.cuda.device_count())) is not None:
                    stack.enter_context(torch.cuda.device(index))
                if chosen == "cpu":  # as the CLI does: an out-of-bounds access is a finding, not silent
                    from shapecheck.sanitizer import sanitize

                    stack.enter_context(sanitize())
                report = run_property(
                    c,
                    fn,
                    impl,
                    profile=chosen_profile,
                    device=chosen,
                    examples=examples,
                    seed=seed,
                    pins=pinned,
                    command=replay,
                )
        except (errors.UsageError, errors.InvalidContract, errors.Abort) as exc:
            error = exc.message if isinstance(exc, errors.Abort) else str(exc)
        if error is not None:  # failed outside the `except`, so pytest prints the one line, not the chained error
            pytest.fail(f"shapecheck: error: {error}", pytrace=False)
        assert c is not None  # a missing contract failed the test above
        if report.failure is not None:
            problems = "\n".join(f"  - {p}" for p in report.failure.problems)
            pytest.fail(
                f"{c.name} violated by {impl}:\n{problems}\nreproduce: "
                f"{reproduction(report, report.failure.case.to_json())}",
                pytrace=False,
            )

    test.__name__ = f"test_property_{impl.rpartition(':')[2]}"
    if device == "cuda":
        test = pytest.mark.gpu(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")(test))
    return test
