"""`explain --emit-contract` on every public wrapper of the ops the audit covers (bench/audit/): fla-core's
drafts parse, load, state the docstring's shapes and tuple result, accept a well-shaped call and refuse a
misshaped one; Liger-Kernel's wrappers (no annotations, no docstrings, shapes only inside the autograd
Function they forward to) give drafts that parse. Needs the wheels in .peers/ (bench/audit/peers.py); skips
cleanly without them, as on CI, which never downloads them."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import shapecheck
from bench.audit import peers
from shapecheck import cli
from shapecheck.spec import Contract

FLA_WRAPPERS = [
    "simple_gla/fused_recurrent.py::fused_recurrent_simple_gla",
    "gla/chunk.py::chunk_gla",
    "delta_rule/fused_recurrent.py::fused_recurrent_delta_rule",
    "gated_delta_rule/fused_recurrent.py::fused_recurrent_gated_delta_rule",
    "gated_delta_rule/chunk.py::chunk_gated_delta_rule",
]
# fused_recurrent_retention has no docstring and forwards to fused_recurrent_simple_gla: its draft states no
# shape (following the forwarded call is open work), so it is among the drafts that only parse.
UNSTATED = ["retention/fused_recurrent.py::fused_recurrent_retention"]
LIGER_WRAPPERS = [
    "rms_norm",
    "fused_add_rms_norm",
    "layer_norm",
    "group_norm",
    "dyt",
    "swiglu",
    "geglu",
    "softmax",
    "rope",
    "cross_entropy",
    "kl_div",
    "jsd",
]


def _root(library: str) -> Path:
    if peers.wheel(library) is None:
        pytest.skip(
            f"no {peers.LIBRARIES[library][0]} in {peers.peers_dir()} (bench/audit/peers.py says how to get it)"
        )
    return peers.root(library)


def _draft(target: str, tmp_path: Path) -> str:
    result = CliRunner().invoke(cli.app, ["explain", target, "--emit-contract"])
    assert result.exit_code == 0, result.output
    return result.output


def _load(text: str, tmp_path: Path, name: str) -> Any:
    path = tmp_path / f"{name}_draft.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"{name}_draft", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _accepts(contract: Contract, args: dict[str, Any]) -> str:
    try:
        contract.validate(contract.arguments((), args), values=False)
    except shapecheck.ContractViolation as exc:
        return exc.argument
    return "accepted"


@pytest.mark.parametrize("wrapper", FLA_WRAPPERS)
def test_fla_draft_loads_states_the_documented_shapes_and_checks_a_call(wrapper: str, tmp_path: Path) -> None:
    root = _root("fla")
    name = wrapper.split("::")[1]
    module = _load(_draft(f"{root}/fla/ops/{wrapper}", tmp_path), tmp_path, name)
    contract = getattr(module, name.upper())
    specs = {n: s.describe() for n, s in contract.tensor_specs.items()}
    assert specs["q"] == specs["k"] == 'Float[Tensor, "B T H K"]'
    assert specs["v"] in ('Float[Tensor, "B T H V"]', 'Float[Tensor, "B T HV V"]')
    assert specs["cu_seqlens"] == 'Int[Tensor, "N+1"]'
    assert contract.returns.describe().startswith('tuple(o: Float[Tensor, "B T H')
    sizes = {"B": 1, "T": 5, "H": 2, "HV": 2, "K": 8, "V": 4, "N": 1}
    good = {
        n: torch.zeros(*(sizes[a] for a in s.split('"')[1].split()))
        for n, s in specs.items()
        if not contract.tensor_specs[n].optional
    }
    assert _accepts(contract, good) == "accepted"
    assert _accepts(contract, {**good, "k": torch.zeros(1, 6, 2, 8)}) == "k"  # T differs from q's


@pytest.mark.parametrize(
    "target",
    [
        *(f"liger:liger_kernel/transformers/functional.py::liger_{op}" for op in LIGER_WRAPPERS),
        *(f"fla:fla/ops/{w}" for w in UNSTATED),
    ],
)
def test_a_draft_without_stated_shapes_parses_and_names_every_argument(target: str, tmp_path: Path) -> None:
    library, path = target.split(":", 1)
    text = _draft(f"{_root(library)}/{path}", tmp_path)
    tree = ast.parse(text)  # parses: a draft a user can start from
    [stub] = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert stub.name == path.split("::")[1] and stub.args.args
    assert "shape not stated by the code" in text
