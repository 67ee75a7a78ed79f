"""`explain --emit-contract` on every public wrapper of the ops the audit covers (bench/audit/): every draft
parses and loads; fla-core's drafts state the docstring's shapes and tuple result, Liger-Kernel's the shapes
the code it forwards to states (`shapecheck.static.forwarded`: the autograd Function's `forward` and its
helper), and each accepts a well-shaped call and refuses a misshaped one. Needs the wheels in .peers/
(bench/audit/peers.py); skips cleanly without them, as on CI, which never downloads them."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

from bench.audit import peers
from tests.static_helpers import explain, load_draft, verdict

FLA_WRAPPERS = [
    "simple_gla/fused_recurrent.py::fused_recurrent_simple_gla",
    "gla/chunk.py::chunk_gla",
    "delta_rule/fused_recurrent.py::fused_recurrent_delta_rule",
    "gated_delta_rule/fused_recurrent.py::fused_recurrent_gated_delta_rule",
    "gated_delta_rule/chunk.py::chunk_gated_delta_rule",
]
# fused_recurrent_retention has no docstring: it forwards to fused_recurrent_simple_gla, whose docstring is read.
FORWARDING = ["retention/fused_recurrent.py::fused_recurrent_retention"]
# What each Liger wrapper's draft states, read from the helper its autograd Function calls: the 2-D view a
# row-wise kernel flattens its input to, or the helper's own unpack (`BT, V = _input.shape`); parameters no
# code states stay `Any`, and the result is the first stated tensor's shape, marked GUESS.
LIGER_STATED: dict[str, dict[str, str]] = {
    "rms_norm": {"X": "n_rows n_cols"},
    "fused_add_rms_norm": {"X": "n_rows n_cols", "R": "n_rows n_cols"},
    "layer_norm": {"X": "n_rows n_cols"},
    "group_norm": {},
    "dyt": {"x": "M N"},
    "swiglu": {"a": "n_rows n_cols", "b": "n_rows n_cols"},
    "geglu": {"a": "n_rows n_cols", "b": "n_rows n_cols"},
    "softmax": {"x": "N n_cols"},
    "rope": {},
    "cross_entropy": {"input": "BT V"},
    "kl_div": {"input": "BT V"},
    "jsd": {"input": "BT V"},
}
LIGER_WRAPPERS = list(LIGER_STATED)


def _root(library: str) -> Path:
    if peers.wheel(library) is None:
        pytest.skip(
            f"no {peers.LIBRARIES[library][0]} in {peers.peers_dir()} (bench/audit/peers.py says how to get it)"
        )
    return peers.root(library)


@pytest.mark.parametrize("wrapper", FLA_WRAPPERS)
def test_fla_draft_loads_states_the_documented_shapes_and_checks_a_call(wrapper: str, tmp_path: Path) -> None:
    root = _root("fla")
    name = wrapper.split("::")[1]
    module = load_draft(explain(f"{root}/fla/ops/{wrapper}", "--emit-contract"), tmp_path, name)
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
    assert verdict(contract, good) == "accepted"
    assert verdict(contract, {**good, "k": torch.zeros(1, 6, 2, 8)}) == "k"  # T differs from q's


def _shape(spec: str) -> tuple[str, ...]:
    return tuple(spec.split('"')[1].split())


@pytest.mark.parametrize("op", LIGER_WRAPPERS)
def test_liger_draft_loads_states_the_forwarded_shapes_and_checks_a_call(op: str, tmp_path: Path) -> None:
    root = _root("liger")
    name = f"liger_{op}"
    text = explain(f"{root}/liger_kernel/transformers/functional.py::{name}", "--emit-contract")
    contract = getattr(load_draft(text, tmp_path, name), name.upper())
    specs = {n: s.describe() for n, s in contract.tensor_specs.items()}
    assert {n: " ".join(_shape(s)) for n, s in specs.items()} == LIGER_STATED[op]
    assert "# GUESS: the code states no result shape" in text
    result = contract.returns.describe()
    stated = next(iter(LIGER_STATED[op].values()), "R")
    assert result == f'output: Float[Tensor, "{stated}"]'
    if not specs:
        return
    sizes = {"n_rows": 3, "n_cols": 5, "M": 3, "N": 3, "BT": 3, "V": 5}
    unstated = [p for p in inspect.signature(contract.signature).parameters.values() if p.default is p.empty]
    good = {
        **{p.name: 0 for p in unstated},
        **{n: torch.zeros(*(sizes[a] for a in _shape(s))) for n, s in specs.items()},
    }
    assert verdict(contract, good) == "accepted"  # `Any` parameters (W, eps) take anything
    first = next(iter(good))
    bad = torch.zeros(3, 5, 2)  # one axis too many: the kernel's 2-D view is stated
    assert verdict(contract, {**good, first: bad}) == first


@pytest.mark.parametrize("wrapper", FORWARDING)
def test_a_forwarding_fla_wrapper_states_its_callees_documented_shapes(wrapper: str, tmp_path: Path) -> None:
    root = _root("fla")
    name = wrapper.split("::")[1]
    text = explain(f"{root}/fla/ops/{wrapper}", "--emit-contract")
    contract = getattr(load_draft(text, tmp_path, name), name.upper())
    specs = {n: s.describe() for n, s in contract.tensor_specs.items()}
    assert specs == {
        "q": 'Float[Tensor, "B T H K"]',
        "k": 'Float[Tensor, "B T H K"]',
        "v": 'Float[Tensor, "B T H V"]',
        "initial_state": 'Float[Tensor, "N H K V"]',
        "cu_seqlens": 'Int[Tensor, "N+1"]',
    }
    assert contract.tensor_specs["initial_state"].optional and contract.tensor_specs["cu_seqlens"].optional
    assert "from its docstring, in fused_recurrent_simple_gla" in text
    good = {"q": torch.zeros(1, 5, 2, 8), "k": torch.zeros(1, 5, 2, 8), "v": torch.zeros(1, 5, 2, 4)}
    assert verdict(contract, good) == "accepted"
    assert verdict(contract, {**good, "v": torch.zeros(1, 5, 3, 4)}) == "v"  # H differs from q's
