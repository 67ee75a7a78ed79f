import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _avg_pool(x, out, L, OL, K, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    for start in range(0, OL, BLOCK):
        o = start + tl.arange(0, BLOCK)
        mask = o < OL
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for k in range(0, K):
            acc += tl.load(x + row * L + o * K + k, mask=mask, other=0.0)
        tl.store(out + row * OL + o, acc / K, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, window):
        super().__init__()
        self.window = window

    def forward(self, x):
        x = x.contiguous()
        N, C, L = x.shape
        OL = L // self.window
        out = torch.empty(N, C, OL, device=x.device, dtype=x.dtype)
        _avg_pool[(N * C,)](x, out, L, OL, self.window, BLOCK=32)
        return out
