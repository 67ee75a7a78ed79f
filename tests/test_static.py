"""Static shape inference on the corpus: every function's output against a hand-derived shape.

Expected shapes are sympy expressions over positive-integer dimension symbols; a case split is a
`Piecewise` over the condition symbol the analyser names by its source text. Equality is sympy equality
after simplification, axis by axis, and the rank must match exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from shapecheck.static.analysis import Analysis, analyse, analyse_function
from shapecheck.static.seeding import signature_for
from shapecheck.static.signature import assumption
from shapecheck.static.source import ModuleSource
from shapecheck.static.symbols import cdiv, condition, dim, minimum, next_pow2, show
from shapecheck.static.values import Tensor, Tup, Unknown

CORPUS = Path(__file__).parent / "fixtures" / "static_corpus.py"
B, T, H, K, D, E, S, V, HV, N = (dim(n) for n in "B T H K D E S V HV N".split())


def case(cond: str, then: sp.Expr, otherwise: sp.Expr) -> sp.Expr:
    return sp.Piecewise((then, condition(cond)), (otherwise, True))


EXPECTED: dict[str, tuple[sp.Expr, ...] | tuple[tuple[sp.Expr, ...], ...]] = {
    "identity_contiguous": (B, T, D),
    "merge_heads": (B, T, H * K),
    "flatten_tokens": (B * T, H, K),
    "view_last_minus_one": (B, T, H * K),
    "transpose_heads": (B, H, T, K),
    "permute_keys_last": (B, H, K, T),
    "movedim_time_last": (B, H, K, T),
    "unsqueeze_then_squeeze": (B, D),
    "flatten_heads": (B, T, H * K),
    "unflatten_heads": (B, T, H, K),
    "expand_bias": (B, T, D),
    "broadcast_add": (B, T, D),
    "project": (B, T, E),
    "attention": (B, H, T, V),
    "concat_time": (B, T + S, D),
    "stack_pair": (B, sp.Integer(2), D),
    "key_blocks_by_definition": (B, T, HV, V),
    "varlen_rows": (case("cu_seqlens is None", B, N), D),
    "grouped_heads": (B, T, HV, K),
    "grouped_heads_interleaved": (B, T, HV, K),
    "rank_dispatch": (B, T, D),
    "strides_and_constructors": (B, T, D),
    "einops_merge": (B, T, H * K),
    "einops_split": (B, H, T, K),
    "einops_ellipsis": (B, T, H * K),
    "first_token": (B, D),
    "drop_first_token": (B, T - 1, D),
    "new_axis": (B, T, sp.Integer(1), D),
    "token_sums": ((B, D), (B, T, sp.Integer(1))),
    "size_product": (B * T, D),
    "star_unpack": (B, T * H * K),
    "block_count": (B, T, cdiv(D, minimum(next_pow2(D), 64))),
    "floor_and_mod": (sp.floor(D / 2) + sp.Mod(D, 2), B),
    "decode_guard": (B, D),
    "assert_same_length": (B, T, D),
    "early_return": (case("time_major", T, B), case("time_major", B, T), D),
    "conditional_expression": (case("time_major", T, B), case("time_major", B, T), D),
    "calls_helper": (B, T, H * K),
    "functional_reshape": (B * T, D),
    "allocate_like_index": (B, T),
    "masked_fill": (B, T, D),
    "new_full_rows": (B, sp.Integer(4)),
    "doubled_rows": (2 * B, D),
    "gdn_like": (B, T, HV, V),
}
UNKNOWN = {"squeeze_time": "rank depends on whether T == 1", "loop_carried": "changes from one iteration to the next"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, Analysis]:
    module = ModuleSource.load(CORPUS)
    return {
        name: analyse(module, fn, name, signature_for(fn, contracts=False), record=False)
        for name, fn in module.definitions()
        if not name.startswith("_")
    }


def same_shape(found: tuple[sp.Expr, ...], expected: tuple[sp.Expr, ...]) -> bool:
    return len(found) == len(expected) and all(sp.simplify(a - b) == 0 for a, b in zip(found, expected))


def test_corpus_is_large_and_fully_specified(corpus: dict[str, Analysis]) -> None:
    assert len(EXPECTED) + len(UNKNOWN) >= 30
    assert set(corpus) == set(EXPECTED) | set(UNKNOWN)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inferred_output_shape(corpus: dict[str, Analysis], name: str) -> None:
    output, expected = corpus[name].output, EXPECTED[name]
    if isinstance(expected[0], tuple):
        assert isinstance(output, Tup) and len(output.items) == len(expected)
        pairs = list(zip(output.items, expected))
    else:
        pairs = [(output, expected)]
    for value, shape in pairs:
        assert isinstance(value, Tensor) and value.shape is not None, f"{name}: {value}"
        assert same_shape(value.shape, shape), f"{name}: {value.shape} != {shape}"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inferred_output_agrees_with_declaration(corpus: dict[str, Analysis], name: str) -> None:
    assert corpus[name].agreement().status == "agree"
    assert corpus[name].issues == []


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_unknown_is_explicit_with_its_line(corpus: dict[str, Analysis], name: str) -> None:
    output = corpus[name].output
    assert isinstance(output, Unknown)
    assert output.why == UNKNOWN[name]
    assert output.line is not None and output.line > corpus[name].node.lineno


def test_squeeze_of_a_dimension_not_provably_one_is_reported(corpus: dict[str, Analysis]) -> None:
    [issue] = corpus["squeeze_time"].issues
    assert (issue.code, issue.node.lineno, issue.message) == (
        "SC002",
        corpus["squeeze_time"].node.lineno + 1,
        "squeeze(1): axis 1 has size T, not provably 1",
    )


def test_view_minus_one_is_solved_with_a_note() -> None:
    module = ModuleSource.load(CORPUS)
    fn = module.find("flatten_tokens")
    analysis = analyse(module, fn, "flatten_tokens", signature_for(fn, contracts=False))
    [step] = [s for s in analysis.steps if s.kind == "return"]
    assert step.notes == ("-1 = B*H*K*T / (H*K) = B*T",)


def test_case_split_and_guard_facts_are_recorded(corpus: dict[str, Analysis]) -> None:
    facts = [(show(f.relation), f.origin) for f in corpus["decode_guard"].knowledge.facts]
    assert facts == [("T == 1", f"guard at line {corpus['decode_guard'].node.lineno + 1}")]
    facts = [show(f.relation) for f in corpus["grouped_heads"].knowledge.facts]
    assert facts == ["HV % H == 0"]


def test_a_guard_proved_by_definitions_still_justifies_the_squeeze() -> None:
    module = ModuleSource.load(CORPUS)
    fn = module.find("gdn_like")
    analysis = analyse(module, fn, "gdn_like", signature_for(fn, contracts=False))
    guard = next(s.node.lineno for s in analysis.steps if s.kind == "fact")
    assert [(show(f.relation), f.origin) for f in analysis.knowledge.facts] == [("NK == 1", f"guard at line {guard}")]
    assert [s.notes for s in analysis.steps if s.notes] == [
        ("the guard never fires: NK = cdiv(K, next_pow2(K)) = 1",),
        (f"squeeze(0) drops NK: NK == 1 (guard at line {guard})",),
    ]


def test_assume_seeds_an_unannotated_function(tmp_path: Path) -> None:
    source = tmp_path / "plain.py"
    source.write_text("def merge(q, scale):\n    B, T, H, K = q.shape\n    return q.reshape(B * T, H * K)\n")
    analysis = analyse_function(source, "merge", dict([assumption("q=B T H K")]))
    assert isinstance(analysis.output, Tensor) and analysis.output.shape == (B * T, H * K)
    assert analysis.signature.origin == "--assume"
    inferred = analyse_function(source, "merge")  # no --assume: the unpack line says q's shape
    assert isinstance(inferred.output, Tensor) and inferred.output.shape == (B * T, H * K)
    assert (inferred.signature.origin, inferred.signature.inferred) == (
        "the code's own unpack lines",
        {"q": "inferred from line 2"},
    )
    source.write_text("def same(q, scale):\n    return q * scale\n")
    without = analyse_function(source, "same")  # nothing unpacked: nothing guessed
    assert isinstance(without.output, Unknown) and without.output.why == "a parameter without a declared shape"


def test_assume_rejects_unknown_parameters_and_bad_dims(tmp_path: Path) -> None:
    source = tmp_path / "plain.py"
    source.write_text("def f(q):\n    return q\n")
    with pytest.raises(ValueError, match="not parameters of f"):
        analyse_function(source, "f", dict([assumption("k=B T")]))
    with pytest.raises(ValueError, match="expects NAME=DIMS"):
        assumption("B T H K")
    with pytest.raises(ValueError, match="not supported"):
        assumption("q=B @T")


def test_registered_contract_seeds_the_kernel_wrapper() -> None:
    analysis = analyse_function("kernels/gdn.py", "fused_sigmoid_gating_delta_rule_update")
    assert analysis.signature.origin == "contract `fused_sigmoid_gating_delta_rule_update`"
    assert isinstance(analysis.output, Tensor) and analysis.output.shape == (B, T, HV, V)
    assert analysis.agreement().status == "agree"
    assert analysis.issues == []


def test_missing_function_names_the_known_ones() -> None:
    with pytest.raises(
        LookupError, match=r"no function `nope` in kernels/gdn.py .*fused_sigmoid_gating_delta_rule_update"
    ):
        analyse_function("kernels/gdn.py", "nope")
