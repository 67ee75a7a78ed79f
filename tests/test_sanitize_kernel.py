"""Our kernel under the interpreter sanitizer: every case of the kernel table, zero findings."""

from __future__ import annotations

import os

import pytest

from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import EXAMPLES
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from shapecheck.runner import check_case
from tests.cli_helpers import shapecheck

pytestmark = pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1", reason="the sanitizer needs the CPU interpreter"
)


def test_kernel_table_is_memory_safe() -> None:
    from shapecheck.sanitizer import sanitize

    with sanitize(mode="record") as report:
        outcomes = [check_case(GDN_DECODE, case, kernel, "cpu") for case in EXAMPLES.values()]
    assert all(o.ok for o in outcomes)
    assert report.launches == len(EXAMPLES) and report.accesses > 1000
    assert report.ok, report.summary()


@pytest.mark.slow  # the CLI in a fresh process
def test_sanitize_command_reports_what_it_checked() -> None:
    result = shapecheck("sanitize", "--examples", "15", "--seed", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "memory ops checked, no violation" in result.stdout
