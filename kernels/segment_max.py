"""`segment_max`: the max of each segment of a packed `[T, D]` batch, and the first row holding it.

One program per (segment, block of BD features) walks its segment's tokens, comparing in fp32 (exact for
fp16/bf16 inputs) with a strict `>`, so the first of equal maxima wins; an empty segment writes 0 and -1.
Row indices are int64, as `torch.max` returns them. `kernels/reference.py::segment_max_reference` is the
same function in plain PyTorch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from shapecheck.contracts.segment_max import SEGMENT_MAX
from shapecheck.decorator import contract

MAX_BD = 128  # features per program: one vector of fp32 maxima and one of int64 rows


@triton.jit
def _segment_max_kernel(x, cu_seqlens, values, indices, stride_xt, stride_vn, stride_in, D, BD: tl.constexpr):
    n = tl.program_id(0)
    cols = tl.program_id(1) * BD + tl.arange(0, BD)
    mask = cols < D
    bos = tl.load(cu_seqlens + n).to(tl.int64)
    eos = tl.load(cu_seqlens + n + 1).to(tl.int64)
    best = tl.full([BD], float("-inf"), dtype=tl.float32)
    row = tl.full([BD], -1, dtype=tl.int64)
    for t in range(bos, eos):
        x_t = tl.load(x + t * stride_xt + cols, mask=mask, other=float("-inf")).to(tl.float32)
        better = x_t > best
        best = tl.where(better, x_t, best)
        row = tl.where(better, t, row)
    best = tl.where(row >= 0, best, 0.0)
    n64 = n.to(tl.int64)
    tl.store(values + n64 * stride_vn + cols, best.to(values.dtype.element_ty), mask=mask)
    tl.store(indices + n64 * stride_in + cols, row, mask=mask)


@contract(SEGMENT_MAX)
def segment_max(x: torch.Tensor, cu_seqlens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Args: x `[T, D]` (last axis contiguous), cu_seqlens `[N+1]` int offsets from 0 to T.
    Returns (values `[N, D]` in x's dtype, indices `[N, D]` int64 rows of x)."""
    N, D = cu_seqlens.shape[0] - 1, x.shape[1]
    values = x.new_empty(N, D)
    indices = torch.empty(N, D, dtype=torch.int64, device=x.device)
    BD = min(triton.next_power_of_2(D), MAX_BD)
    _segment_max_kernel[(N, triton.cdiv(D, BD))](
        x=x,
        cu_seqlens=cu_seqlens,
        values=values,
        indices=indices,
        stride_xt=x.stride(0),
        stride_vn=values.stride(0),
        stride_in=indices.stride(0),
        D=D,
        BD=BD,
    )
    return values, indices
