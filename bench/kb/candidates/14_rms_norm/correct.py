import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _rms_norm(x, w, out, cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        v = tl.load(x + row * cols + offs, mask=offs < cols, other=0.0)
        acc += v * v
    r = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / cols + eps)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < cols
        v = tl.load(x + row * cols + offs, mask=mask, other=0.0)
        tl.store(out + row * cols + offs, v * r * tl.load(w + offs, mask=mask, other=0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(dim) + 0.5)
        self.eps = 1e-6

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        rows = x.numel() // x.shape[-1]
        _rms_norm[(rows,)](x, self.weight, out, x.shape[-1], self.eps, BLOCK=32)
        return out
