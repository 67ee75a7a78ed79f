"""`segment_mean`: the mean of each segment of a packed `[T, D]` batch split by `cu_seqlens` (varlen pooling).

One program per (segment, block of BD features) walks its segment's tokens and accumulates in fp32; an
empty segment writes zeros (never 0/0). It is differentiable in `x`: the backward (a second kernel behind
`torch.autograd.Function`) spreads each segment's output gradient over its tokens, divided by its length. Token offsets are int64: `t * stride` passes 2**31 at 2M tokens of
D=1024. `kernels/reference.py::segment_mean_reference` is the same function in plain PyTorch.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from shapecheck.contracts.segment import SEGMENT_MEAN
from shapecheck.decorator import contract

MAX_BD = 128  # features per program: one vector of fp32 accumulators


@triton.jit
def _segment_program(cu_seqlens, D, BD: tl.constexpr):
    """This program's segment `n`, its feature columns and their mask, and the segment's token range (int64)."""
    n = tl.program_id(0)
    cols = tl.program_id(1) * BD + tl.arange(0, BD)
    bos = tl.load(cu_seqlens + n).to(tl.int64)
    eos = tl.load(cu_seqlens + n + 1).to(tl.int64)
    return n, cols, cols < D, bos, eos


@triton.jit
def _segment_mean_kernel(x, cu_seqlens, out, stride_xt, stride_on, D, BD: tl.constexpr):
    n, cols, mask, bos, eos = _segment_program(cu_seqlens, D, BD)
    acc = tl.zeros([BD], dtype=tl.float32)
    for t in range(bos, eos):
        acc += tl.load(x + t * stride_xt + cols, mask=mask, other=0.0).to(tl.float32)
    length = (eos - bos).to(tl.float32)
    mean = tl.where(length > 0, acc / tl.maximum(length, 1.0), 0.0)
    tl.store(out + n.to(tl.int64) * stride_on + cols, mean.to(out.dtype.element_ty), mask=mask)


@triton.jit
def _segment_mean_backward_kernel(dy, cu_seqlens, dx, stride_dyn, stride_dxt, D, BD: tl.constexpr):
    n, cols, mask, bos, eos = _segment_program(cu_seqlens, D, BD)
    scale = 1.0 / tl.maximum((eos - bos).to(tl.float32), 1.0)
    g = tl.load(dy + n.to(tl.int64) * stride_dyn + cols, mask=mask, other=0.0).to(tl.float32) * scale
    for row in range(bos, eos):
        tl.store(dx + row * stride_dxt + cols, g.to(dx.dtype.element_ty), mask=mask)


def _forward(x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    N, D = cu_seqlens.shape[0] - 1, x.shape[1]
    out = x.new_empty(N, D)
    BD = min(triton.next_power_of_2(D), MAX_BD)
    grid = (N, triton.cdiv(D, BD))
    _segment_mean_kernel[grid](
        x=x, cu_seqlens=cu_seqlens, out=out, stride_xt=x.stride(0), stride_on=out.stride(0), D=D, BD=BD
    )
    return out


def _backward(dy: torch.Tensor, cu_seqlens: torch.Tensor, T: int) -> torch.Tensor:
    """`dx [T, D]` from `dy [N, D]` (any row stride: `o.sum().backward()` hands an expanded one)."""
    dy = dy if dy.stride(-1) == 1 else dy.contiguous()
    N, D = dy.shape
    dx = dy.new_empty(T, D)  # every token belongs to one segment: every row is written
    BD = min(triton.next_power_of_2(D), MAX_BD)
    grid = (N, triton.cdiv(D, BD))
    _segment_mean_backward_kernel[grid](
        dy=dy, cu_seqlens=cu_seqlens, dx=dx, stride_dyn=dy.stride(0), stride_dxt=dx.stride(0), D=D, BD=BD
    )
    return dx


class _SegmentMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(cu_seqlens)
        ctx.tokens = x.shape[0]
        return _forward(x, cu_seqlens)

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor, None]:
        (cu_seqlens,) = ctx.saved_tensors
        return _backward(dy, cu_seqlens, ctx.tokens), None


@contract(SEGMENT_MEAN)
def segment_mean(x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Args: x `[T, D]` (last axis contiguous), cu_seqlens `[N+1]` int offsets from 0 to T.
    Returns `[N, D]` in x's dtype, differentiable in x."""
    return _SegmentMean.apply(x, cu_seqlens)
