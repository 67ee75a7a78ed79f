"""`reshape_and_cache`: write each token's key and value rows into cache rows chosen by a slot mapping.

One program per (token, head) copies one `[D]` row of the key and of the value into row `slot_mapping[t]`
of each cache; a slot of -1 (a padded token) masks both stores off, so the row is never written. Slot
offsets are int64: `slot * stride` passes 2**31 at 2M slots of H*D=1024. No arithmetic on the values: the
cache holds the inputs' exact bits. `kernels/reference.py::reshape_and_cache_reference` is the same
function in plain PyTorch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from shapecheck.contracts.kv_cache import RESHAPE_AND_CACHE
from shapecheck.decorator import contract


@triton.jit
def _reshape_and_cache_kernel(
    key,
    value,
    key_cache,
    value_cache,
    slot_mapping,
    stride_kt,
    stride_kh,
    stride_vt,
    stride_vh,
    stride_kcs,
    stride_kch,
    stride_vcs,
    stride_vch,
    D,
    BD: tl.constexpr,
):
    t = tl.program_id(0)
    h = tl.program_id(1)
    slot = tl.load(slot_mapping + t).to(tl.int64)
    cols = tl.arange(0, BD)
    mask = (cols < D) & (slot >= 0)
    k = tl.load(key + t * stride_kt + h * stride_kh + cols, mask=mask)
    v = tl.load(value + t * stride_vt + h * stride_vh + cols, mask=mask)
    tl.store(key_cache + slot * stride_kcs + h * stride_kch + cols, k, mask=mask)
    tl.store(value_cache + slot * stride_vcs + h * stride_vch + cols, v, mask=mask)


@contract(RESHAPE_AND_CACHE)
def reshape_and_cache(
    key: torch.Tensor,
    value: torch.Tensor,
    key_cache: torch.Tensor,
    value_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> None:
    """Args: key, value `[T, H, D]`, key_cache, value_cache `[S, H, D]` updated in place (each with a
    contiguous last axis, other strides its own: a cache may be a view of a combined K/V buffer), slot_mapping `[T]` int slots in `[-1, S)`. Returns None."""
    T, H, D = key.shape
    if T == 0:
        return
    _reshape_and_cache_kernel[(T, H)](
        key=key,
        value=value,
        key_cache=key_cache,
        value_cache=value_cache,
        slot_mapping=slot_mapping,
        stride_kt=key.stride(0),
        stride_kh=key.stride(1),
        stride_vt=value.stride(0),
        stride_vh=value.stride(1),
        stride_kcs=key_cache.stride(0),
        stride_kch=key_cache.stride(1),
        stride_vcs=value_cache.stride(0),
        stride_vch=value_cache.stride(1),
        D=D,
        BD=triton.next_power_of_2(D),
    )
