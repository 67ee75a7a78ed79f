"""The pytest helper: one line runs the property suite; failures carry the shrunk case and replay line."""

from __future__ import annotations

import pytest

from shapecheck.testing import property_test

KERNEL = "kernels.gdn:fused_sigmoid_gating_delta_rule_update"

test_gdn_kernel_property = property_test(KERNEL, examples=40)
test_gdn_kernel_property_gpu = property_test(KERNEL, device="cuda", profile="gpu")


def test_helper_reports_a_violation() -> None:
    check = property_test("tests.fixtures.buggy_kernels:beta_without_sigmoid", examples=40, seed=0)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)violated by .*beta_without_sigmoid.*reproduce: shapecheck run"):
        check()


def test_gpu_variant_carries_the_marker() -> None:
    marks = {m.name for m in getattr(test_gdn_kernel_property_gpu, "pytestmark", [])}
    assert {"gpu", "skipif"} <= marks
