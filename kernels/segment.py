"""`segment_mean`: the mean of each segment of a packed `[T, D]` batch split by `cu_seqlens` (varlen pooling).

One program per (segment, block of BD features) walks its segment's tokens and accumulates in fp32; an
empty segment writes zeros (never 0/0). Token offsets are int64: `t * stride` passes 2**31 at 2M tokens of
D=1024. `kernels/reference.py::segment_mean_reference` is the same function in plain PyTorch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from shapecheck.contracts.segment import SEGMENT_MEAN
from shapecheck.decorator import contract

MAX_BD = 128  # features per program: one vector of fp32 accumulators


@triton.jit
def _segment_mean_kernel(x, cu_seqlens, out, stride_xt, stride_on, D, BD: tl.constexpr):
    n = tl.program_id(0)
    cols = tl.program_id(1) * BD + tl.arange(0, BD)
    mask = cols < D
    bos = tl.load(cu_seqlens + n).to(tl.int64)
    eos = tl.load(cu_seqlens + n + 1).to(tl.int64)
    acc = tl.zeros([BD], dtype=tl.float32)
    for t in range(bos, eos):
        acc += tl.load(x + t * stride_xt + cols, mask=mask, other=0.0).to(tl.float32)
    length = (eos - bos).to(tl.float32)
    mean = tl.where(length > 0, acc / tl.maximum(length, 1.0), 0.0)
    tl.store(out + n.to(tl.int64) * stride_on + cols, mean.to(out.dtype.element_ty), mask=mask)


@contract(SEGMENT_MEAN)
def segment_mean(x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Args: x `[T, D]` (last axis contiguous), cu_seqlens `[N+1]` int offsets from 0 to T.
    Returns `[N, D]` in x's dtype."""
    N, D = cu_seqlens.shape[0] - 1, x.shape[1]
    out = x.new_empty(N, D)
    BD = min(triton.next_power_of_2(D), MAX_BD)
    grid = (N, triton.cdiv(D, BD))
    _segment_mean_kernel[grid](x=x, cu_seqlens=cu_seqlens, out=out, stride_xt=x.stride(0), stride_on=out.stride(0),
                               D=D, BD=BD)
    return out
