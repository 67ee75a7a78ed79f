import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _argmax(x, out, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    best = tl.full([BLOCK], float("-inf"), dtype=tl.float32)
    where = tl.zeros([BLOCK], dtype=tl.int64)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        v = tl.load(x + row * cols + offs, mask=offs < cols, other=float("-inf"))
        better = v > best
        best = tl.where(better, v, best)
        where = tl.where(better, offs.to(tl.int64), where)
    top = tl.max(best, axis=0)
    first = tl.min(tl.where(best == top, where, cols), axis=0)
    tl.store(out + row, first)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty(x.shape[0], device=x.device, dtype=torch.int64)
        _argmax[(x.shape[0],)](x, out, x.shape[1], BLOCK=32)
        return out
