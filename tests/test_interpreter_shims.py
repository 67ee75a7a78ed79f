"""The interpreter shims run kernels written for compiled Triton: float arguments are fp32 scalars (`eps.to`)
and libdevice functions compute (Liger-Kernel's norms and tanh GELU failed on both before)."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice

pytestmark = pytest.mark.interpreter


@triton.jit
def _scaled_rsqrt_tanh(x, y, eps, n, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    mask = cols < n
    v = tl.load(x + cols, mask=mask, other=1.0)
    eps = eps.to(tl.float32)  # a float argument is a scalar tensor when compiled
    tl.store(y + cols, libdevice.rsqrt(v + eps) + libdevice.tanh(v), mask=mask)


def test_float_argument_and_libdevice_run_like_compiled() -> None:
    if torch.cuda.is_available():
        pytest.skip("the shims are for the CPU interpreter")
    x = torch.tensor([0.25, 1.0, 4.0], dtype=torch.float32)
    y = torch.empty_like(x)
    _scaled_rsqrt_tanh[(1,)](x, y, 1e-6, 3, BLOCK=4)
    expected = torch.rsqrt(x.double() + 1e-6) + torch.tanh(x.double())
    assert torch.allclose(y.double(), expected, rtol=1e-6)
    assert y.dtype == torch.float32
