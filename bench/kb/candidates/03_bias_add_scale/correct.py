import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _bias_scale(x, bias, out, n, features, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(x + offs, mask=mask, other=0.0)
    b = tl.load(bias + offs % features, mask=mask, other=0.0)
    tl.store(out + offs, (v + b) * 0.5, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(features))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        _bias_scale[(triton.cdiv(x.numel(), 256),)](x, self.bias, out, x.numel(), x.shape[-1], BLOCK=256)
        return out
