"""SC010 (a stride of axis d stepping whole multiples of axis d's extent, i.e. an outer axis): the fixture's
planted lines and nothing else; the varlen branch (a loaded `bos`), a contiguous or asserted input, and the
outer axis's own stride stay clean."""

from __future__ import annotations

from collections import Counter

from shapecheck.static.source import ModuleSource
from shapecheck.static.strides import crossed_strides
from tests.lint_rule_helpers import FIXTURES, found, planted, suppressed_line

FIXTURE = FIXTURES / "lint_sc010_strides.py"


def test_the_varlen_branch_alone_is_not_a_crossing() -> None:
    """`bos * stride_q` sits in the branch where `bos` is loaded from cu_seqlens: flow-sensitive, not flagged."""
    module = ModuleSource.load(FIXTURE)
    crossed = list(crossed_strides(module, module.functions["gate_token_stride"]))
    assert [(c.parameter, c.tensor, c.axis, c.size) for c in crossed] == [("stride_g", "g", 1, "T")]


def test_suppression() -> None:
    line = suppressed_line(FIXTURE, "SC010")
    module = ModuleSource.load(FIXTURE)
    assert [c.read.lineno for c in crossed_strides(module, module.functions["gate_suppressed"])] == [line]
    assert line not in {f.line for f in found(FIXTURE, "SC010")}


def test_the_upstream_wrapper_patterns_of_issue_24() -> None:
    """vLLM's Optional `cu_seqlens` and lost pool update, SGLang's token stride over the batch: one finding each."""
    fixture = FIXTURES / "lint_vllm_style.py"
    findings = found(fixture, "SC008", "SC009", "SC010")
    expected = planted(fixture, "SC008") + planted(fixture, "SC009") + planted(fixture, "SC010")
    assert Counter(f.line for f in findings) == expected
    assert sorted((f.line, f.code) for f in findings) == [(37, "SC008"), (39, "SC009"), (41, "SC010"), (44, "SC010")]
