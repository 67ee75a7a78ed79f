"""`explain --emit-contract`: the draft contract read from our own wrapper's code (its decorator's contract
is not consulted), once loaded, rejects and accepts calls like the hand-written GDN_DECODE on the part of
the bad-input matrix (tests/test_bad_inputs.py) that the wrapper's own unpack lines and divisions speak to.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from shapecheck import cli
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.spec import Contract
from tests.gdn_calls import BAD_CALLS, valid_args, varlen_args
from tests.static_helpers import explain, load_draft, verdict

WRAPPER = "kernels/gdn.py::fused_sigmoid_gating_delta_rule_update"
# What the code states: k's unpack (B T H K), v's axes 2 and -1 (rank 4, leading axes after k), `HV // H`.
SPOKEN_TO = [
    "k rank 5",
    "v rank 2",
    "k batch differs from q",
    "k time differs",
    "v batch differs",
    "v time differs",
    "HV not a multiple of H",
]
CASES = {name: edit for name, edit, _, _ in BAD_CALLS}


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> Contract:
    draft = explain(WRAPPER, "--emit-contract")
    return load_draft(draft, tmp_path_factory.mktemp("emitted"), "gdn").FUSED_SIGMOID_GATING_DELTA_RULE_UPDATE


def test_the_draft_states_what_the_code_states(emitted: Contract) -> None:
    assert {n: s.describe() for n, s in emitted.tensor_specs.items()} == {
        "k": 'Float[Tensor, "B T H K"]',
        "v": 'Float[Tensor, "B T HV V"]',
        "cu_seqlens": 'Int[Tensor, "N+1"]',
    }
    assert emitted.returns.describe() == 'output: Float[Tensor, "B T HV V"]'
    assert [r.expr for r in emitted.rules] == ["HV % H == 0"]
    assert set(emitted.dims) == {"B", "T", "H", "K", "HV", "V", "N"}


@pytest.mark.parametrize("start", [valid_args, varlen_args], ids=["dense", "varlen"])
def test_valid_calls_pass_both(emitted: Contract, start: Callable[[str], dict[str, Any]]) -> None:
    args = start("cpu")
    assert verdict(GDN_DECODE, args) == verdict(emitted, args) == "accepted"


@pytest.mark.parametrize("name", SPOKEN_TO)
def test_bad_call_rejected_like_the_hand_written_contract(emitted: Contract, name: str) -> None:
    args = valid_args("cpu")
    CASES[name](args)
    assert verdict(GDN_DECODE, args) != "accepted"
    assert verdict(emitted, args) in {"k", "v"}  # rejected, blamed on a tensor the draft declares


LIBRARY_STYLE = """
import torch
from .context import LibraryContext


def fused_op(q: torch.Tensor, scale: float | None = None, ctx: LibraryContext | None = None, *extra,
             flag: bool = False, **kwargs) -> torch.Tensor:
    B, T, H, K = q.shape
    return q.new_empty(B, T, H, K)
"""


def test_a_draft_of_a_library_style_wrapper_parses_and_says_what_it_left_out(tmp_path: Any) -> None:
    """`*args`/`**kwargs` after defaults and a type the draft cannot import (a library's own context class)
    made drafts that did not parse or resolve; they are dropped or become `Any`, each with a note."""
    source = tmp_path / "lib_ops.py"
    source.write_text(LIBRARY_STYLE)
    result = CliRunner().invoke(cli.app, ["explain", f"{source}::fused_op", "--emit-contract"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "    ctx: Any = None,  # was `LibraryContext | None`: LibraryContext not imported in the draft" in lines
    assert "    # *extra dropped: a contract's stub names each argument it judges" in lines
    assert "    # **kwargs dropped: a contract's stub names each argument it judges" in lines
    draft = tmp_path / "draft.py"
    draft.write_text(result.output)
    spec = importlib.util.spec_from_file_location("lib_draft", draft)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.FUSED_OP.returns.describe() == 'output: Float[Tensor, "B T H K"]'
    assert list(module.FUSED_OP.parameters) == ["q", "scale", "ctx", "flag"]


DOCUMENTED = '''
import torch


def recurrent_op(q, v, initial_state=None, cu_seqlens=None, output_final_state: bool = False):
    r"""
    Args:
        q (torch.Tensor):
            queries of shape `[B, T, H, K]`.
        v (torch.Tensor):
            values of shape `[B, T, H, V]`.
        initial_state (Optional[torch.Tensor]):
            Initial state of shape `[N, H, K, V]` for `N` input sequences.
        cu_seqlens (torch.LongTensor):
            Cumulative sequence lengths of shape `[N+1]`.
        output_final_state (Optional[bool]):
            Whether to output the final state of shape `[N, H, K, V]`.

    Returns:
        o (torch.Tensor):
            Outputs of shape `[B, T, H, V]`.
        final_state (torch.Tensor):
            Final state of shape `[N, H, K, V]` if `output_final_state=True` else `None`.
    """
    return q, None
'''


def test_a_draft_states_the_shapes_a_docstring_gives_and_its_tuple_result(tmp_path: Any) -> None:
    """Libraries that annotate nothing document every shape (fla's `Args:`/`Returns:` convention): the draft
    starts from them, results as a tuple with the Optional state."""
    source = tmp_path / "doc_ops.py"
    source.write_text(DOCUMENTED)
    result = CliRunner().invoke(cli.app, ["explain", f"{source}::recurrent_op", "--emit-contract"])
    assert result.exit_code == 0, result.output
    draft = tmp_path / "doc_draft.py"
    draft.write_text(result.output)
    spec = importlib.util.spec_from_file_location("doc_draft", draft)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    c = module.RECURRENT_OP
    assert {n: s.describe() + (" | None" if s.optional else "") for n, s in c.tensor_specs.items()} == {
        "q": 'Float[Tensor, "B T H K"]',
        "v": 'Float[Tensor, "B T H V"]',
        "initial_state": 'Float[Tensor, "N H K V"] | None',
        "cu_seqlens": 'Int[Tensor, "N+1"] | None',
    }
    assert c.returns.describe() == 'tuple(o: Float[Tensor, "B T H V"], final_state: Float[Tensor, "N H K V"] | None)'
    assert "output_final_state" not in c.tensor_specs  # a flag whose text mentions a shape is no tensor
