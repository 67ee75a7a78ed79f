import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _relu_scale(x, out, n, scale, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(x + offs, mask=mask, other=0.0)
    tl.store(out + offs, tl.maximum(v, 0.0) * scale, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        _relu_scale[(triton.cdiv(n, 256),)](x, out, n, float(self.scale), BLOCK=256)
        return out
