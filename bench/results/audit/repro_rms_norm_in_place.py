"""Upstream repro: Liger-Kernel 0.8.5's rms_norm with in_place=True (the default) writes dX over the gradient its
backward is handed; autograd hands that one gradient to both branches of a sum, so the other branch's gradient
is wrong. Run from the repository root after `bench/audit/peers.py` extracted the wheel (any device; on CPU the
interpreter shims let Liger's kernels run). Expected: grad of h all 3.0 in both lines."""

import os
import sys

if len(sys.argv) < 2 or sys.argv[1] != "cuda":
    os.environ["TRITON_INTERPRET"] = "1"
    from shapecheck.backend import interpreter_shims

    interpreter_shims()
sys.path.insert(0, ".peers/liger_kernel-0.8.5-py3-none-any")
import torch
from liger_kernel.transformers.functional import liger_rms_norm

device = "cuda" if len(sys.argv) > 1 and sys.argv[1] == "cuda" else "cpu"
torch.manual_seed(0)
x = torch.randn(2, 8, device=device, requires_grad=True)
w = torch.ones(8, device=device, requires_grad=True)
h = torch.randn(2, 8, device=device, requires_grad=True)
for in_place in (False, True):
    out = h * 3 + liger_rms_norm(x, w, 1e-6, in_place=in_place)
    gx, gh = torch.autograd.grad(out, (x, h), torch.ones_like(out))
    print("in_place", in_place, "grad of h (expected all 3):", gh[0, :4].tolist())
