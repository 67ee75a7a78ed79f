import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _log_softmax(x, out, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    m = tl.full([BLOCK], float("-inf"), dtype=tl.float32)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        m = tl.maximum(m, tl.load(x + row * cols + offs, mask=offs < cols, other=float("-inf")))
    top = tl.max(m, axis=0)
    s = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        s += tl.exp(tl.load(x + row * cols + offs, mask=offs < cols, other=float("-inf")) - top)
    lse = top + tl.log(tl.sum(s, axis=0))
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        v = tl.load(x + row * cols + offs, mask=offs < cols, other=0.0)
        tl.store(out + row * cols + offs, v - lse, mask=offs < cols)


class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        _log_softmax[(x.shape[0],)](x, out, x.shape[1], BLOCK=64)
        return out
