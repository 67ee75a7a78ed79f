import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _cumsum(x, out, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    carry = 0.0
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < cols
        v = tl.load(x + row * cols + offs, mask=mask, other=0.0)
        s = tl.cumsum(v, axis=0) + carry
        tl.store(out + row * cols + offs, s, mask=mask)
        carry += tl.sum(v, axis=0)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        _cumsum[(x.shape[0],)](x, out, x.shape[1], BLOCK=16)
        return out
