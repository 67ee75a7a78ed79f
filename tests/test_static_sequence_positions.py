"""SC007 on positions inside a sequence (`o_t = i_t * BT + tl.arange(0, BT)` times H*K): bounded by the
longest sequence, `T` (default `SEQUENCE_BOUND`, 2**20 tokens), which `--bound T=...` lowers."""

from __future__ import annotations

from pathlib import Path

from shapecheck.static.linter import lint_paths
from shapecheck.static.pointers import SEQUENCE_BOUND, unsafe_offsets
from shapecheck.static.source import ModuleSource

KERNEL = """import triton
import triton.language as tl


@triton.jit
def chunk_kernel(k, T, H: tl.constexpr, K: tl.constexpr, BT: tl.constexpr):
    for i_t in range(tl.cdiv(T, BT)):
        o_t = i_t * BT + tl.arange(0, BT)
        tl.store(k + o_t[:, None] * (H * K) + tl.arange(0, K)[None, :], 0.0)
"""


def test_default_bound_is_a_million_tokens_and_flags_the_product() -> None:
    assert SEQUENCE_BOUND == 2**20
    kernel = ModuleSource.parse(KERNEL).functions["chunk_kernel"]
    [overflow] = unsafe_offsets(kernel, {"H": 32, "K": 128})  # 2**20 * 4096 = 2**32
    assert (overflow.code, overflow.kind, overflow.sequence, overflow.source_line) == ("SC007", "loop", True, 7)


def test_a_shorter_longest_sequence_clears_it() -> None:
    kernel = ModuleSource.parse(KERNEL).functions["chunk_kernel"]
    dims = {"H": 32, "K": 128, "BT": 32}
    assert unsafe_offsets(kernel, {**dims, "T": 2**19 - 64}) == []  # (2**19 - 64 + BT) * 4096 < 2**31
    assert len(unsafe_offsets(kernel, {**dims, "T": 2**19})) == 1


def test_lint_passes_the_bound_through(tmp_path: Path) -> None:
    path = tmp_path / "chunk.py"
    path.write_text(KERNEL)
    [finding] = lint_paths([path], bounds={"H": 32, "K": 128}).findings
    assert (finding.code, finding.line, finding.col) == ("SC007", 9, 22)
    assert finding.message == (
        "`o_t[:, None] * (H * K)` multiplies `o_t[:, None]`, a loop over a sequence's blocks at line 7, a position "
        "inside a sequence (at most the longest one: --bound T=..., default 2**20 tokens), into a pointer offset "
        "without `.to(tl.int64)`: int32 wraps past 2**31 elements"
    )
    assert lint_paths([path], bounds={"H": 32, "K": 128, "T": 8192}).findings == []
