"""SC006/SC007 on the idioms of real kernels: each case is a kernel body and the products lint must report
(outermost product text, reported once per chain), so a precision fix that loses a true positive fails
here too."""

from __future__ import annotations

import ast

import pytest

from shapecheck.static.pointers import unsafe_offsets
from shapecheck.static.source import ModuleSource

HEADER = ("import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
          "def k(x, y, idx, cu_seqlens, chunk_indices, stride, T, H: tl.constexpr, K: tl.constexpr, V: tl.constexpr,"
          " BT: tl.constexpr):\n")

CASES = {
    "slot offset, int32 (the upstream bug)": (
        "    i_n = tl.program_id(0)\n    slot = tl.load(idx + i_n)\n"
        "    tl.store(y + slot * H * K * V + tl.arange(0, V), 1.0)\n", [("SC006", "slot * H * K * V")]),
    "slot offset after .to(tl.int64)": (
        "    slot = tl.load(idx + tl.program_id(0)).to(tl.int64)\n"
        "    tl.store(y + slot * H * K * V, 1.0)\n", []),
    "a runtime stride is unbounded": (
        "    slot = tl.load(idx + tl.program_id(0))\n    tl.store(y + slot * stride, 1.0)\n", [("SC006", "slot * stride")]),
    "tuple targets are element-wise": (
        "    i_t = tl.program_id(0)\n"
        "    i_n, i_t = tl.load(chunk_indices + i_t * 2).to(tl.int32), tl.load(chunk_indices + i_t * 2 + 1).to(tl.int64)\n"
        "    tl.store(y + (i_t * BT + tl.arange(0, BT)) * H * K, 1.0)\n", []),
    "an int64 operand makes the sum int64": (
        "    bos = tl.load(cu_seqlens + tl.program_id(0)).to(tl.int64)\n    i_t = tl.load(chunk_indices)\n"
        "    tl.store(y + (bos + i_t * BT) * H * K, 1.0)\n", []),
    "int32 token offsets from cu_seqlens": (
        "    bos = tl.load(cu_seqlens + tl.program_id(0))\n"
        "    tl.store(y + (bos * H + tl.program_id(1)) * K + tl.arange(0, K), 1.0)\n", [("SC006", "(bos * H + tl.program_id(1)) * K")]),
    "a block index times its block size is a position": (
        "    i_t = tl.load(chunk_indices + tl.program_id(0))\n    tl.store(y + i_t * BT + tl.arange(0, BT), 1.0)\n", []),
    "a row of a [T, H] view is bounded": (
        "    i_t = tl.load(chunk_indices + tl.program_id(0))\n    last = i_t * BT + BT - 1\n"
        "    tl.store(y + last * H, 1.0)\n", []),
    "the branch a finding sits in": (
        "    if T > 0:\n        bos = tl.load(cu_seqlens + tl.program_id(0)).to(tl.int64)\n"
        "    else:\n        bos = tl.program_id(0).to(tl.int64) * T\n    tl.store(y + bos * H * K, 1.0)\n", []),
    "a loop bound over a loaded length": (
        "    n_end = tl.load(cu_seqlens + tl.program_id(0))\n    for t in range(0, n_end):\n"
        "        tl.store(y + t * stride, 1.0)\n", [("SC006", "t * stride")]),
    "min(BC, ...) is bounded by BC": (
        "    i_t = tl.load(chunk_indices)\n    for j in range(0, min(BT, T - i_t * BT)):\n"
        "        tl.store(y + j * H * K, 1.0)\n", []),
    "program id scaled by two dims (fla #1080)": (
        "    i_nh = tl.program_id(0)\n    tl.store(y + i_nh * K * V + tl.arange(0, V), 1.0)\n", [("SC007", "i_nh * K * V")]),
    "head index from % is bounded": (
        "    i_h = tl.program_id(0) % H\n    tl.store(y + i_h * K * V, 1.0)\n", []),
    "block pointer offsets are int64 in Triton": (
        "    i_t = tl.load(chunk_indices)\n"
        "    p = tl.make_block_ptr(y, (T, K), (stride, 1), (i_t * BT * stride, 0), (BT, K), (1, 0))\n"
        "    tl.store(p, 1.0)\n", []),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_int32_offsets(name: str) -> None:
    body, expected = CASES[name]
    kernel = ModuleSource.parse(HEADER + body).functions["k"]
    found = [(o.code, ast.unparse(o.node)) for o in unsafe_offsets(kernel)]
    assert found == expected

