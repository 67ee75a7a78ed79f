import os, sys
os.environ["TRITON_INTERPRET"] = "1"
from shapecheck.backend import interpreter_shims; interpreter_shims()
sys.path.insert(0, ".peers/liger_kernel-0.8.5-py3-none-any")
import torch
from liger_kernel.transformers.functional import liger_rms_norm
torch.manual_seed(0)
x = torch.randn(2, 8, requires_grad=True); w = torch.ones(8, requires_grad=True); h = torch.randn(2, 8, requires_grad=True)
for in_place in (False, True):
    out = liger_rms_norm(x, w, 1e-6, in_place=in_place) + h * 3  # the sum hands one gradient to both branches
    gx, gh = torch.autograd.grad(out, (x, h), torch.ones_like(out), retain_graph=False)
    print("in_place", in_place, "grad of h (expected all 3):", gh[0, :4].tolist())
