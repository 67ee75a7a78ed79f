"""A user's own kernel package, everything around the engine: contracts validated when built, discovery,
errors in the user's code reported as such (exit 2, one line and the user's frame), reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Annotated, Any, Optional

import pytest
import torch
from jaxtyping import Float, Int
from torch import Tensor

import shapecheck
from shapecheck import Dim, Index, InvalidContract, Offsets, Rule
from tests.cli_helpers import shapecheck as cli

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

SCRIPT = Path(sys.executable).with_name("shapecheck")


def _stub(x: Float[Tensor, "T D"], cu: Annotated[Int[Tensor, "N+1"], Offsets("T")]) -> Float[Tensor, "N D"]: ...


@pytest.mark.parametrize(
    "kwargs,field,words",
    [
        ({"dims": {"Q": Dim()}}, "dims", "'Q' appears in no annotation"),
        ({"dims": {"D": Dim("d", 5, 2)}}, "dims['D']", "hi must be an int >= lo=5"),
        ({"dims": {"D": Dim("d", -1, 2)}}, "dims['D']", "lo must be an int >= 0"),
        ({"rules": [Rule("E % 2 == 0", blame=("x", "E"))]}, "rules", "names 'E'"),
        ({"reference": "no colon here"}, "reference", "module.path:function"),
        ({"mutates": ["y"]}, "mutates", "'y' is not an annotated tensor parameter"),
        ({"output_dtype_like": "cu_seqlens"}, "output_dtype_like", "'cu_seqlens' is not an annotated tensor parameter"),
    ],
)
def test_malformed_contract_is_refused_where_it_is_built(kwargs: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidContract, match=re.escape(f"contract c: `{field}`")) as info:
        shapecheck.Contract("c", _stub, **kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "hook,words",
    [
        (
            "shapecheck.kernels.reference:no_such_reference",
            "AttributeError: module 'shapecheck.kernels.reference' has no",
        ),
        ("shapecheck.no_such_module:f", "ModuleNotFoundError: No module named 'shapecheck.no_such_module'"),
        ("shapecheck.kernels.reference:__name__", "is a str, not a function"),
    ],
)
def test_a_hook_typo_fails_in_one_line_when_the_strategy_is_built(hook: str, words: str) -> None:
    """Well-formed text that names nothing callable: refused before the first draw, naming the field."""
    c = shapecheck.Contract("c", _stub, reference=hook)
    with pytest.raises(InvalidContract) as info:
        shapecheck.strategies.cases(c)
    message = str(info.value)
    assert message.startswith("contract c: `reference`: ") and words in message and "\n" not in message


def test_unreadable_annotations_and_markers_are_refused() -> None:
    def star(x: Float[Tensor, "*batch D"]) -> None: ...

    def two_unknowns(x: Float[Tensor, "N+M"]) -> None: ...

    def bad_marker(x: Annotated[Int[Tensor, "N"], Index("S")]) -> None: ...

    for stub, field, words in [
        (star, "x", "cannot be read"),
        (two_unknowns, "x", "at most one can be solved"),
        (bad_marker, "x", "'S' is not a dimension"),
    ]:
        with pytest.raises(InvalidContract, match=f"`{field}`") as info:
            shapecheck.Contract("c", stub)
        assert words in str(info.value)


def test_ragged_signature_binds_n_from_the_offsets_length() -> None:
    c = shapecheck.Contract("c", _stub, dims={"T": Dim(lo=0)})
    call = c.validate({"x": torch.randn(5, 3), "cu": torch.tensor([0, 2, 2, 5], dtype=torch.int32)})
    assert call.dims == {"T": 5, "D": 3, "N": 3}
    with pytest.raises(
        shapecheck.ContractViolation, match=r"(?s)argument `cu`, dimension T: must end at T.*found:    4"
    ):
        c.validate({"x": torch.randn(5, 3), "cu": torch.tensor([0, 2, 4], dtype=torch.int32)})
    assert c.validate({"x": torch.randn(0, 3), "cu": torch.tensor([0, 0], dtype=torch.int32)}).dims["T"] == 0


def test_zero_dims_only_where_declared() -> None:
    strict = shapecheck.Contract("c", _stub)
    with pytest.raises(shapecheck.ContractViolation, match="declare Dim\\(lo=0\\) if T may be 0"):
        strict.validate({"x": torch.randn(0, 3), "cu": torch.tensor([0, 0], dtype=torch.int32)})


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _user_run(root: Path, *args: str, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRITON_INTERPRET")}
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=root,
        env={**base, "COLUMNS": "300", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


PKG = {
    "pkg/__init__.py": "",
    "pkg/contract.py": """
import torch
from jaxtyping import Float
from torch import Tensor
import shapecheck

def stub(x: Float[Tensor, "B D"]) -> Float[Tensor, "B D"]: ...

def reference(x):
    return x * 2 + undefined_name   # a typo in the user's reference

def builder(case, device):
    return {"x": torch.randn(case.dims["B"], case.dims["D"]), "y": 1}  # a builder passing an unknown argument

TWICE = shapecheck.Contract("pkg_twice", stub, reference=reference)
BUILT = shapecheck.Contract("pkg_built", stub, inputs=builder, reference="pkg.contract:reference")
""",
    "pkg/ops.py": """
from .contract import TWICE          # a relative import: --impl pkg/ops.py:twice imports it as pkg.ops
import shapecheck

@shapecheck.contract(TWICE)
def twice(x):
    return x * 2
""",
}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    if not SCRIPT.exists():
        pytest.skip("the shapecheck console script is not installed")
    return _write(tmp_path, PKG)


def test_error_in_the_users_reference_is_exit_2_with_its_frame(package: Path) -> None:
    result = _user_run(package, "run", "--impl", "pkg/ops.py:twice", "--examples", "5", "--no-db")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("shapecheck: error: the reference `reference` raised NameError")
    assert lines[1].strip().startswith(f"at {package / 'pkg' / 'contract.py'}:") and "undefined_name" in lines[1]
    assert "Traceback" not in result.stderr and len(lines) == 2
    verbose = _user_run(package, "run", "--impl", "pkg/ops.py:twice", "--examples", "5", "--no-db", "--traceback")
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_error_in_the_users_builder_is_exit_2(package: Path) -> None:
    result = _user_run(
        package,
        "run",
        "pkg_built",
        "--impl",
        "pkg.ops:twice",
        "--contracts",
        "pkg.contract",
        "--examples",
        "5",
        "--no-db",
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the contract's `inputs` builder `builder` returned ['y']" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_report_paths_are_checked_before_the_run(package: Path) -> None:
    result = _user_run(package, "run", "--impl", "pkg.ops:twice", "--json", "/no/such/dir/r.json")
    assert result.returncode == 2 and "--json /no/such/dir/r.json: no directory /no/such/dir" in result.stderr
    assert "cases run" not in result.stdout


def test_contracts_from_an_installed_packages_entry_point(tmp_path: Path) -> None:
    if not SCRIPT.exists():
        pytest.skip("the shapecheck console script is not installed")
    _write(
        tmp_path,
        {
            **PKG,
            "pkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: pkg\nVersion: 0.1\n",
            "pkg-0.1.dist-info/entry_points.txt": "[shapecheck.contracts]\npkg = pkg.contract\n",
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _user_run(elsewhere, "list", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "pkg_twice" in result.stdout and "pkg_built" in result.stdout and "segment_mean" in result.stdout


def test_unknown_contract_names_where_to_declare_it(package: Path) -> None:
    result = _user_run(package, "run", "pkg_twice")
    assert result.returncode == 2 and "unknown contract 'pkg_twice'" in result.stderr and "--contracts" in result.stderr


@pytest.mark.interpreter
def test_junit_has_one_testcase_per_run_and_per_regime_and_json_counts_rejections(tmp_path: Path) -> None:
    result = cli(
        "run",
        "--impl",
        "tests.fixtures.buggy_kernels:beta_without_sigmoid",
        "--examples",
        "30",
        "--no-db",
        "--device",
        "cpu",
        "--junit",
        str(tmp_path / "r.xml"),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    cases = list(ET.parse(tmp_path / "r.xml").iter("testcase"))
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(cases) == 1 and len(failures) == 1, "a failing drawn run is one testcase; regimes do not run after it"
    assert (
        cases[0].get("name").endswith("rejected by the contract)") and "reproduce: " in failures[0].find("failure").text
    )
    report = json.loads((tmp_path / "r.json").read_text())["contracts"][0]
    assert report["failures"] > 1 and report["rejected"] == 0, "shrink steps are failing outcomes, not JUnit failures"
    held = cli(
        "run", "segment_mean", "--examples", "10", "--no-db", "--device", "cpu", "--junit", str(tmp_path / "h.xml")
    )
    assert held.returncode == 0, held.stdout + held.stderr
    assert next(c.get("name") for c in ET.parse(tmp_path / "h.xml").iter("testcase")).startswith("10 drawn cases")


@pytest.mark.interpreter
def test_sanitizer_summary_counts_the_violation_it_reported() -> None:
    result = cli(
        "run", "--impl", "tests.fixtures.buggy_kernels:missing_v_mask", "--examples", "30", "--no-db", "--device", "cpu"
    )
    assert result.returncode == 1 and "MemoryViolation" in result.stdout
    summaries = [line for line in result.stdout.splitlines() if line.startswith("sanitizer")]
    assert summaries and all("no violation" not in line for line in summaries), summaries
