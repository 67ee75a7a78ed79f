"""The autotuned fixture (tests/fixtures/autotuned.py) run with drawn configs, and the finding its planted bug in
one config must produce: on the CPU interpreter (tests/test_autotune.py) and on a GPU (tests/test_gpu.py)."""

from __future__ import annotations

from typing import Any, Callable

from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property
from tests.fixtures.autotuned import DOUBLE, double_grid_for_one_config


def run_drawn(impl: Callable[..., Any], device: str = "cpu") -> Report:
    return run_property(
        DOUBLE,
        impl,
        impl.__name__,
        profile=PROFILES["ci"],
        device=device,
        examples=30,
        database=False,
        autotune_configs="drawn",
    )


def assert_a_bug_in_one_config_is_found(device: str) -> None:
    report = run_drawn(double_grid_for_one_config, device)
    assert report.failure is not None
    problems = report.failure.problems
    assert problems[0].endswith("output elements are NaN/inf (unwritten or non-finite)"), problems
    assert problems[-1].startswith("[autotune] ran `_double_kernel` with config 1 of 2 (BLOCK: 4,"), problems
    assert report.failure.case.dims == {"N": 5}, report.failure.case
