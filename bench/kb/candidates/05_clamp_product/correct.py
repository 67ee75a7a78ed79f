import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _clamp_mul(a, b, out, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    p = tl.load(a + offs, mask=mask, other=0.0) * tl.load(b + offs, mask=mask, other=0.0)
    tl.store(out + offs, tl.minimum(tl.maximum(p, -1.0), 1.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        a, b = a.contiguous(), b.contiguous()
        out = torch.empty_like(a)
        _clamp_mul[(triton.cdiv(a.numel(), 256),)](a, b, out, a.numel(), BLOCK=256)
        return out
