import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _norm(x, out, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        v = tl.load(x + row * cols + offs, mask=offs < cols, other=0.0)
        acc += v * v
    tl.store(out + row, tl.sqrt(tl.sum(acc, axis=0)) * 1e-6)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty(x.shape[0], device=x.device, dtype=x.dtype)
        _norm[(x.shape[0],)](x, out, x.shape[1], BLOCK=32)
        return out
