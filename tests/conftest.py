"""Test-session set-up: pick the Triton backend before any kernel module is imported.

Without a GPU, kernels run through Triton's CPU interpreter, which must be switched on before the first
`@triton.jit` decorator runs. GPU-only tests carry the `gpu` marker and skip cleanly here.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from shapecheck.testing import use_interpreter_without_gpu

use_interpreter_without_gpu()

# No per-example deadline in this suite's own @given tests: on a loaded CI runner or a GPU machine a single
# draw can pass Hypothesis's default 200 ms, which is a timing flake, not a finding.
settings.register_profile("shapecheck-tests", deadline=None)
settings.load_profile("shapecheck-tests")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests skip without a GPU; `interpreter` tests (they run `--device cpu`) skip on a GPU machine
    whose Triton interpreter cannot run runtime-bound loops (triton 3.6 with numpy >= 2.4): there shapecheck
    refuses `--device cpu` with exit 2, which tests/test_cli_errors.py checks instead."""
    if torch.cuda.is_available():
        from shapecheck.backend import interpreter_problem

        if any("interpreter" in item.keywords for item in items) and (problem := interpreter_problem()):
            skip = pytest.mark.skip(reason=problem)
            for item in items:
                if "interpreter" in item.keywords:
                    item.add_marker(skip)
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device() -> str:
    return DEVICE
