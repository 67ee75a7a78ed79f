"""The pytest helper: one line runs the property suite; failures carry the shrunk case and replay line."""

from __future__ import annotations

import pytest

from shapecheck.testing import property_test

KERNEL = "shapecheck.kernels.gdn:fused_sigmoid_gating_delta_rule_update"

test_gdn_kernel_property = pytest.mark.slow(property_test(KERNEL, examples=40))  # a whole property run
test_gdn_kernel_property_gpu = property_test(KERNEL, device="cuda", profile="gpu")


def test_helper_reports_a_violation() -> None:
    check = property_test("tests.fixtures.buggy_kernels:beta_without_sigmoid", examples=40, seed=0)
    with pytest.raises(
        pytest.fail.Exception, match=r"(?s)violated by .*beta_without_sigmoid.*reproduce: \S*shapecheck run"
    ):
        check()


def test_gpu_variant_carries_the_marker() -> None:
    marks = {m.name for m in getattr(test_gdn_kernel_property_gpu, "pytestmark", [])}
    assert {"gpu", "skipif"} <= marks


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"profile": "fast"}, "property_test: profile must be one of ci, gpu, thorough, found 'fast'"),
        ({"device": "gpu"}, "property_test: device must be one of auto, cpu, cuda, found 'gpu'"),
    ],
)
def test_a_bad_profile_or_device_fails_where_the_test_is_defined(option: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        property_test(KERNEL, **option)
    assert str(caught.value) == message


@pytest.mark.slow  # two whole property runs
def test_failing_case_is_replayed_first_next_run(tmp_path, monkeypatch, device: str) -> None:
    """The shrunk failure is saved under the cache folder; the next run starts with it.

    Unseeded runs only: Hypothesis bypasses the database when a seed is given, so a seeded draw stays
    reproducible.
    """
    from shapecheck import runner
    from shapecheck.contracts.gdn import GDN_DECODE
    from shapecheck.profiles import PROFILES
    from tests.fixtures.buggy_kernels import __getattr__ as variant

    monkeypatch.setenv("SHAPECHECK_CACHE_DIR", str(tmp_path))
    buggy = variant("padding_written_back")
    first = runner.run_property(
        GDN_DECODE, buggy, "padding_written_back", profile=PROFILES["ci"], device=device, examples=40
    )
    assert first.failure is not None and any(tmp_path.rglob("*"))
    second = runner.run_property(
        GDN_DECODE, buggy, "padding_written_back", profile=PROFILES["ci"], device=device, examples=40
    )
    assert not second.outcomes[0].ok
    assert second.outcomes[0].case.dims == first.failure.case.dims
