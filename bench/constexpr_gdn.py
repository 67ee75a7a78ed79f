"""A gated-delta-rule decode kernel written the way upstream libraries write theirs, for the compile-budget bench.

Head counts and head sizes (`H, HV, K, V`) and the tiles (`BK, BV`) are `tl.constexpr`, as in SGLang's, vLLM's
and fla's recurrent kernels: each drawn combination of dims is its own Triton compilation. Strides are plain
ints, which Triton specialises only on divisibility by 16. It computes what the bundled contract describes
(shapecheck/contracts/gdn.py): both pool layouts, varlen with `cu_seqlens`, padding slots -1, in-kernel l2norm,
packed `[B*T, HV]` gates and strided q/k/v views; one key block (K <= 256), value tiles of up to 32.

    shapecheck run fused --impl bench/constexpr_gdn.py:fused_sigmoid_gating_delta_rule_update --device cuda --profile gpu
"""

from __future__ import annotations

from typing import Optional

import torch
import triton
import triton.language as tl


@triton.jit(do_not_specialize=["T"])
def _recurrent_step_kernel(
    q,
    k,
    v,
    a,
    b,
    A_log,
    dt_bias,
    o,
    pool,
    indices,
    cu_seqlens,
    softplus_beta,
    softplus_threshold,
    scale,
    T,
    stride_qb,
    stride_qt,
    stride_qh,
    stride_kb,
    stride_kt,
    stride_kh,
    stride_vb,
    stride_vt,
    stride_vh,
    stride_ab,
    stride_at,
    stride_bb,
    stride_bt,
    stride_slot,
    stride_head,
    H: tl.constexpr,
    HV: tl.constexpr,
    K: tl.constexpr,
    V: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
    IS_VARLEN: tl.constexpr,
    USE_L2NORM: tl.constexpr,
    STATE_VK: tl.constexpr,
):
    """One program: a value tile of one (sequence, value head), all of that sequence's tokens in order."""
    i_v, i_nh = tl.program_id(0), tl.program_id(1)
    n, j = i_nh // HV, i_nh % HV
    i_h = j // (HV // H)  # the query/key head this value head reads
    if IS_VARLEN:  # one batch row; the sequence is tokens [bos, eos) of it
        row = 0
        bos = tl.load(cu_seqlens + n).to(tl.int64)
        length = tl.load(cu_seqlens + n + 1).to(tl.int64) - bos
    else:
        row = n.to(tl.int64)
        bos = 0
        length = T
    offs_k = tl.arange(0, BK)
    offs_v = i_v * BV + tl.arange(0, BV)
    mask_k, mask_v = offs_k < K, offs_v < V
    mask_h = mask_k[:, None] & mask_v[None, :]

    slot = tl.load(indices + n).to(tl.int64)
    p_h = pool + tl.maximum(slot, 0) * stride_slot + j * stride_head
    if STATE_VK:
        p_h += offs_v[None, :] * K + offs_k[:, None]
    else:
        p_h += offs_k[:, None] * V + offs_v[None, :]
    h = tl.load(p_h, mask=mask_h & (slot >= 0), other=0.0).to(tl.float32)  # padding starts from zero

    neg_a = -tl.exp(tl.load(A_log + j).to(tl.float32))
    bias = tl.load(dt_bias + j).to(tl.float32)
    p_q = q + row * stride_qb + bos * stride_qt + i_h * stride_qh + offs_k
    p_k = k + row * stride_kb + bos * stride_kt + i_h * stride_kh + offs_k
    p_v = v + row * stride_vb + bos * stride_vt + j * stride_vh + offs_v
    p_a = a + row * stride_ab + bos * stride_at + j
    p_b = b + row * stride_bb + bos * stride_bt + j
    p_o = o + ((row * T + bos) * HV + j) * V + offs_v
    for _ in range(0, length):
        q_t = tl.load(p_q, mask=mask_k, other=0.0).to(tl.float32)
        k_t = tl.load(p_k, mask=mask_k, other=0.0).to(tl.float32)
        v_t = tl.load(p_v, mask=mask_v, other=0.0).to(tl.float32)
        x = tl.load(p_a).to(tl.float32) + bias
        softplus = tl.where(
            softplus_beta * x <= softplus_threshold, tl.log(1.0 + tl.exp(softplus_beta * x)) / softplus_beta, x
        )
        gate = tl.exp(neg_a * softplus)
        beta = tl.sigmoid(tl.load(p_b).to(tl.float32))
        if USE_L2NORM:
            q_t = q_t / tl.sqrt(tl.sum(q_t * q_t) + 1e-6)
            k_t = k_t / tl.sqrt(tl.sum(k_t * k_t) + 1e-6)
        h = h * gate
        delta = beta * (v_t - tl.sum(h * k_t[:, None], 0))
        h = h + k_t[:, None] * delta[None, :]
        tl.store(p_o, tl.sum(h * (q_t * scale)[:, None], 0).to(o.dtype.element_ty), mask=mask_v)
        p_q += stride_qt
        p_k += stride_kt
        p_v += stride_vt
        p_a += stride_at
        p_b += stride_bt
        p_o += HV * V
    if (slot >= 0) & (length > 0):  # a zero-length sequence leaves its slot untouched
        tl.store(p_h, h.to(pool.dtype.element_ty), mask=mask_h)


def _batch_token_strides(x: torch.Tensor, T: int) -> tuple[int, int]:
    """(batch stride, token stride) of gates given as `[B, T, HV]` or packed `[B*T, HV]`."""
    return (x.stride(0), x.stride(1)) if x.dim() == 3 else (T * x.stride(0), x.stride(0))


def fused_sigmoid_gating_delta_rule_update(
    A_log: torch.Tensor,
    a: torch.Tensor,
    dt_bias: torch.Tensor,
    softplus_beta: float,
    softplus_threshold: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    b: torch.Tensor,
    initial_state_source: torch.Tensor,
    initial_state_indices: torch.Tensor,
    scale: Optional[float] = None,
    use_qk_l2norm_in_kernel: bool = False,
    cu_seqlens: Optional[torch.Tensor] = None,
    state_layout: str = "kv",
) -> torch.Tensor:
    """`o [B, T, HV, V]` in q's dtype; the final states of real slots written into the pool in place."""
    B, T, H, K = k.shape
    HV, V = v.shape[2], v.shape[3]
    N = B if cu_seqlens is None else len(cu_seqlens) - 1
    BK = triton.next_power_of_2(K)
    BV = min(triton.next_power_of_2(V), 32)
    o = torch.empty(B, T, HV, V, dtype=q.dtype, device=q.device)
    pool = initial_state_source
    ab, at = _batch_token_strides(a, T)
    bb, bt = _batch_token_strides(b, T)
    _recurrent_step_kernel[(triton.cdiv(V, BV), N * HV)](
        q,
        k,
        v,
        a,
        b,
        A_log,
        dt_bias,
        o,
        pool,
        initial_state_indices,
        cu_seqlens,
        softplus_beta,
        softplus_threshold,
        K**-0.5 if scale is None else scale,
        T,
        q.stride(0),
        q.stride(1),
        q.stride(2),
        k.stride(0),
        k.stride(1),
        k.stride(2),
        v.stride(0),
        v.stride(1),
        v.stride(2),
        ab,
        at,
        bb,
        bt,
        pool.stride(0),
        pool.stride(1),
        H=H,
        HV=HV,
        K=K,
        V=V,
        BK=BK,
        BV=BV,
        IS_VARLEN=cu_seqlens is not None,
        USE_L2NORM=use_qk_l2norm_in_kernel,
        STATE_VK=state_layout == "vk",
        num_warps=1 if BK * BV <= 2048 else 4,
    )
    return o
