"""A user's decorated kernel end to end: runtime check on every call, property test from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import shapecheck
from tests.cli_helpers import shapecheck as cli
from tests.fixtures.user_kernel import row_scale

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out


def test_runtime_check_on_every_call(device: str) -> None:
    x, w = torch.randn(3, 5, device=device), torch.randn(5, device=device)
    torch.testing.assert_close(row_scale(x, w), x * w)
    with pytest.raises(
        shapecheck.ContractViolation, match=r"(?s)argument `w`, dimension D.*D=5 \(bound by x.shape\[1\]\)"
    ):
        row_scale(x, torch.randn(6, device=device))


def test_property_run_holds_on_the_correct_kernel(tmp_path: Path) -> None:
    result = cli(
        "run",
        "--impl",
        "tests.fixtures.user_kernel:row_scale",
        "--examples",
        "40",
        "--no-db",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())["contracts"][0]
    assert report["contract"] == "row_scale" and report["cases"] >= 40 and report["worst_errors"]


def test_property_run_catches_the_fixed_block_bug(tmp_path: Path) -> None:
    result = cli(
        "run",
        "--impl",
        "tests.fixtures.user_kernel:row_scale_fixed_block",
        "--examples",
        "40",
        "--no-db",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    failure = json.loads((tmp_path / "r.json").read_text())["contracts"][0]["failure"]
    assert "unwritten" in failure["problems"][0]
    assert failure["case"]["dims"]["D"] == 33  # shrunk to the smallest width past the block
