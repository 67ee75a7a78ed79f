"""Liger-Kernel 0.8.5's layer norm at D=1 (a degenerate row: it normalises to a constant, so the exact grad of X
is 0): how far from 0 Liger's dX lands, against torch's float32 and float64 layer norm on the same inputs. Run
from the repository root after `bench/audit/peers.py` extracted the wheel: `python <this> cuda` on a GPU, no
argument for the CPU interpreter."""

import os
import sys

if len(sys.argv) < 2 or sys.argv[1] != "cuda":
    os.environ["TRITON_INTERPRET"] = "1"
    from shapecheck.backend import interpreter_shims

    interpreter_shims()
sys.path.insert(0, ".peers/liger_kernel-0.8.5-py3-none-any")
import torch
import torch.nn.functional as F
from liger_kernel.ops.layer_norm import LigerLayerNormFunction

device = "cuda" if len(sys.argv) > 1 and sys.argv[1] == "cuda" else "cpu"
torch.manual_seed(0)
for D in (1, 2, 64):
    x, w, b, dy = (torch.randn(*s, device=device) for s in ((9, D), (D,), (D,), (9, D)))
    grads = {}
    for name, dtype, fn in (
        ("liger float32", torch.float32, lambda x, w, b: LigerLayerNormFunction.apply(x, w, b, 1e-6)),
        ("torch float32", torch.float32, lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, 1e-6)),
        ("torch float64", torch.float64, lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, 1e-6)),
    ):
        xi = x.detach().to(dtype, copy=True).requires_grad_()
        fn(xi, w.to(dtype), b.to(dtype)).backward(dy.to(dtype))
        grads[name] = xi.grad.double()
    truth = grads["torch float64"]
    print(
        f"D={D}: |grad of X| (float64) {truth.norm().item():.3g}; "
        + "; ".join(
            f"{n} off by {(g - truth).norm().item():.3g} (max |dX| {g.abs().max().item():.3g})"
            for n, g in grads.items()
            if n != "torch float64"
        )
    )
