"""`--emit-contract` on a wrapper that only forwards (Liger-Kernel's style, `shapecheck.static.forwarded`): the
shapes come from the autograd Function's `forward` and the helper it calls in another module, read as files;
the draft loads, states them, and drafts the result it cannot see as a marked GUESS."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch
from typer.testing import CliRunner

import shapecheck
from shapecheck import cli

HELPERS = """
import torch


def norm_forward(X, W, eps):
    shape = X.shape
    dim = shape[-1]
    X = X.view(-1, dim)
    n_rows, n_cols = X.shape
    return (X * W).view(*shape)


def loss_forward(_input, target):
    BT, V = _input.shape
    return _input.sum()


class NormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W, eps):
        return norm_forward(X, W, eps)


class LossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, _input, target):
        return loss_forward(_input, target)
"""
WRAPPERS = """
from helpers import LossFunction, NormFunction


def norm(X, W, eps):
    return NormFunction.apply(X, W, eps)


def loss(input, target, scale: float = 1.0):
    return LossFunction.apply(input, target)


def opaque(a, b):
    return a
"""


def _draft(tmp_path: Path, name: str) -> tuple[str, Any]:
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "wrappers.py").write_text(WRAPPERS)
    result = CliRunner().invoke(cli.app, ["explain", f"{tmp_path / 'wrappers.py'}::{name}", "--emit-contract"])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{name}_draft.py"
    path.write_text(result.output)
    spec = importlib.util.spec_from_file_location(f"{name}_draft", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return result.output, getattr(module, name.upper())


def test_a_flattened_input_is_drafted_as_the_2d_view_its_helper_names(tmp_path: Path) -> None:
    text, contract = _draft(tmp_path, "norm")
    assert {n: s.describe() for n, s in contract.tensor_specs.items()} == {"X": 'Float[Tensor, "n_rows n_cols"]'}
    assert (
        '    X: Float[Tensor, "n_rows n_cols"],  # flattened to rows of its last axis at line 8 (any leading axes '
        "work; drafted as that 2-D view), in norm_forward (helpers.py)"
    ) in text.splitlines()
    assert "    W: Any,  # shape not stated by the code" in text.splitlines()
    assert contract.returns.describe() == 'output: Float[Tensor, "n_rows n_cols"]'
    assert "# GUESS: the code states no result shape; drafted as the first tensor's" in text
    call = contract.arguments((), {"X": torch.zeros(3, 4), "W": torch.zeros(4), "eps": 1e-6})
    contract.validate(call, values=False)  # accepted


def test_an_unpack_in_the_helper_names_the_wrappers_renamed_parameter(tmp_path: Path) -> None:
    text, contract = _draft(tmp_path, "loss")
    assert {n: s.describe() for n, s in contract.tensor_specs.items()} == {"input": 'Float[Tensor, "BT V"]'}
    assert "inferred from line 14, in loss_forward (helpers.py)" in text
    try:
        contract.validate(contract.arguments((), {"input": torch.zeros(2, 3, 4), "target": 0}), values=False)
    except shapecheck.ContractViolation as exc:
        assert exc.argument == "input"
    else:
        raise AssertionError("a 3-D input passed the drafted [BT, V]")


def test_a_wrapper_forwarding_nothing_gets_a_placeholder_result_and_still_loads(tmp_path: Path) -> None:
    text, contract = _draft(tmp_path, "opaque")
    assert contract.tensor_specs == {}
    assert contract.returns.describe() == 'output: Float[Tensor, "R"]'
    assert contract.dims["R"].meaning == "placeholder for the result's shape"
    assert "`R` is a placeholder to replace" in text


def test_a_name_two_modules_re_export_from_each_other_has_no_definition(tmp_path: Path) -> None:
    """The lookup ends after its hops instead of recursing until RecursionError; a class is a definition."""
    from shapecheck.static.imports import definition
    from shapecheck.static.source import ModuleSource

    (tmp_path / "ring_a.py").write_text("from .ring_b import x\nclass Fn:\n    pass\n")
    (tmp_path / "ring_b.py").write_text("from .ring_a import x\n")
    (tmp_path / "__init__.py").write_text("")
    module = ModuleSource.load(tmp_path / "ring_a.py")
    assert definition(module, "x") is None
    found = definition(module, "Fn")
    assert found is not None and found == (module, "Fn")
