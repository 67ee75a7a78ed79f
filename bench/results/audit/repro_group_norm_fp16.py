"""Upstream repro: Liger-Kernel 0.8.5's group_norm backward with float16 inputs rounds each batch row's partial
weight and bias gradients to bfloat16 (its backward picks `tl.bfloat16` for any non-float32 input) before adding
them into the float16 result, so rows whose partials cancel lose the answer. Run from the repository root after
`bench/audit/peers.py` extracted the wheel (any device; on CPU the interpreter shims let Liger's kernels run).

Per draw, each against float64: Liger's float16 dW; an emulation of what Liger does (mean and rstd stored in
float16, each row's partial rounded to bfloat16, partials added in float16); and a float32-accumulating kernel
(float32 statistics and partials, one rounding to float16 at the end, as PyTorch's CUDA group_norm does)."""

import os
import sys

if len(sys.argv) < 2 or sys.argv[1] != "cuda":
    os.environ["TRITON_INTERPRET"] = "1"
    from shapecheck.backend import interpreter_shims

    interpreter_shims()
sys.path.insert(0, ".peers/liger_kernel-0.8.5-py3-none-any")
import torch
from liger_kernel.ops import LigerGroupNormFunction

device = "cuda" if len(sys.argv) > 1 and sys.argv[1] == "cuda" else "cpu"


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


B, C, G, L = 2, 1, 1, 11
worst = [0.0, 0.0, 0.0]
for seed in range(40):
    torch.manual_seed(seed)
    x = torch.randn(B, C, L, device=device).half().requires_grad_()
    w = torch.randn(C, device=device).half().requires_grad_()
    b = torch.randn(C, device=device).half().requires_grad_()
    dy = torch.randn(B, C, L, device=device).half()
    y = LigerGroupNormFunction.apply(x, w, b, C, G, 1e-6)
    dw = torch.autograd.grad(y, w, dy)[0]
    x64 = x.detach().double().reshape(B, G, -1)
    xhat = ((x64 - x64.mean(-1, keepdim=True)) / torch.sqrt(x64.var(-1, unbiased=False, keepdim=True) + 1e-6)).reshape(
        B, C, L
    )
    partial = (dy.double() * xhat).sum(-1)  # [B, C]: one row's share of dW
    truth = partial.sum(0)
    x32 = x.detach().float().reshape(B, G, -1)
    mean = x32.mean(-1, keepdim=True)
    rstd = torch.rsqrt(x32.var(-1, unbiased=False, keepdim=True) + 1e-6)
    xhat16 = ((x32 - mean.half().float()) * rstd.half().float()).reshape(B, C, L)
    like_liger = (dy.float() * xhat16).sum(-1).to(torch.bfloat16).half().sum(0)
    fp32_kernel = (dy.float() * ((x32 - mean) * rstd).reshape(B, C, L)).sum((0, -1)).half()
    errors = [rel(dw, truth), rel(like_liger, truth), rel(fp32_kernel, truth)]
    worst = [max(a, e) for a, e in zip(worst, errors)]
    if seed < 5 or errors[0] > 5e-3:
        print(
            f"seed {seed}: dW liger {errors[0]:.2e} | emulated {errors[1]:.2e} | float32 kernel {errors[2]:.2e}"
            f" | cancellation {float(partial.abs().sum() / truth.abs().sum()):.1f}x"
        )
print(f"worst of 40: liger {worst[0]:.2e}, emulated {worst[1]:.2e}, float32 kernel {worst[2]:.2e} (bound 5e-3)")
