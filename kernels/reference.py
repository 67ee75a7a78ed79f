"""Reference recurrence of the gated delta rule, written as the math reads (no shared code with the kernel).

For sequence n, value head j, its query/key head i = j // (HV // H), and state S (a K x V matrix):

    g_t    = -exp(A_log[j]) * softplus(a_t + dt_bias[j]; beta, threshold)
    beta_t = sigmoid(b_t)
    S      = exp(g_t) * S
    S      = S + k_t (beta_t * (v_t - S^T k_t))^T
    o_t    = S^T (scale * q_t)

All sequences and heads advance together, one token position at a time; a sequence that has ended keeps
its state (`torch.where` on a per-sequence mask). The pool is not modified: the function returns
`(o, new_pool)`, where `new_pool` is a clone of the input pool with the final states of real slots written
back (in the pool's dtype) and every other row — padding (-1) slots, unnamed slots, sequences of length
zero — bit-identical to the input.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def _token_positions(B: int, T: int, cu_seqlens: Optional[torch.Tensor], device: torch.device) -> torch.Tensor:
    """`[N, L]` flat token index (row * T + t) of each sequence's l-th token, -1 past its end."""
    if cu_seqlens is None:
        return torch.arange(B * T, device=device).reshape(B, T)
    bounds = cu_seqlens.tolist()
    lengths = [end - start for start, end in zip(bounds[:-1], bounds[1:])]
    positions = torch.full((len(lengths), max(lengths, default=0)), -1, dtype=torch.long)
    for n, (start, length) in enumerate(zip(bounds[:-1], lengths)):
        positions[n, :length] = torch.arange(start, start + length)
    return positions.to(device)


def gated_delta_rule_reference(
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
    compute_dtype: Optional[torch.dtype] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return `(o [B,T,HV,V], new pool)`: `o` in `compute_dtype`, to compare in high precision.

    `compute_dtype` defaults to q's dtype, at least float32: float64 inputs (the second opinion of
    `shapecheck/conditioning.py`) are computed in float64.
    """
    compute_dtype = compute_dtype or torch.promote_types(q.dtype, torch.float32)
    B, T, H, K = q.shape
    HV, V = v.shape[2], v.shape[3]
    scale = K**-0.5 if scale is None else scale
    # Flatten tokens, give every value head its query/key head (grouped value heads), upcast once.
    q = q.reshape(B * T, H, K).repeat_interleave(HV // H, dim=1).to(compute_dtype)
    k = k.reshape(B * T, H, K).repeat_interleave(HV // H, dim=1).to(compute_dtype)
    v = v.reshape(B * T, HV, V).to(compute_dtype)
    a = a.reshape(B * T, HV).to(compute_dtype)
    b = b.reshape(B * T, HV).to(compute_dtype)
    if use_qk_l2norm_in_kernel:
        q = q / torch.sqrt((q * q).sum(-1, keepdim=True) + 1e-6)
        k = k / torch.sqrt((k * k).sum(-1, keepdim=True) + 1e-6)
    q = q * scale
    g = -torch.exp(A_log.to(compute_dtype)) * F.softplus(
        a + dt_bias.to(compute_dtype), beta=softplus_beta, threshold=softplus_threshold
    )
    beta = torch.sigmoid(b)

    positions = _token_positions(B, T, cu_seqlens, q.device)  # [N, L]
    slots = initial_state_indices.long()
    real = slots >= 0
    pool_rows = initial_state_source[slots.clamp(min=0)].to(compute_dtype)  # [N, HV, K, V] or [N, HV, V, K]
    if state_layout == "vk":
        pool_rows = pool_rows.transpose(-1, -2)
    S = torch.where(real[:, None, None, None], pool_rows, torch.zeros_like(pool_rows))

    # Every sequence's j-th token, gathered once: [N, L, HV, ...]; `live` marks real (not past-the-end) tokens.
    live = positions >= 0
    tok = positions.clamp(min=0)
    k_seq, q_seq, v_seq = k[tok], q[tok], v[tok]
    decay_seq, beta_seq = torch.exp(g[tok]), beta[tok]
    outputs = []
    for j in range(positions.shape[1]):
        decayed = decay_seq[:, j, :, None, None] * S
        delta = beta_seq[:, j, :, None] * (v_seq[:, j] - torch.einsum("nhkv,nhk->nhv", decayed, k_seq[:, j]))
        updated = decayed + k_seq[:, j, :, :, None] * delta[:, :, None, :]
        S = torch.where(live[:, j, None, None, None], updated, S)
        outputs.append(torch.einsum("nhkv,nhk->nhv", updated, q_seq[:, j]))

    o = torch.zeros(B * T, HV, V, dtype=compute_dtype, device=q.device)
    if outputs:
        o[tok[live]] = torch.stack(outputs, dim=1)[live]
    new_pool = initial_state_source.clone()
    ran = real & (positions >= 0).any(dim=1)  # real slots of sequences with at least one token
    final = S if state_layout == "kv" else S.transpose(-1, -2)
    new_pool[slots[ran]] = final[ran].to(new_pool.dtype)
    return o.reshape(B, T, HV, V), new_pool


def segment_mean_reference(x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Mean of each segment `x[cu_seqlens[n]:cu_seqlens[n+1]]` in fp64; an empty segment is 0."""
    bounds = cu_seqlens.tolist()
    rows = [
        x[a:b].double().mean(0) if b > a else x.new_zeros(x.shape[1], dtype=torch.float64)
        for a, b in zip(bounds[:-1], bounds[1:])
    ]
    return torch.stack(rows) if rows else x.new_zeros(0, x.shape[1], dtype=torch.float64)


def reshape_and_cache_reference(
    key: torch.Tensor,
    value: torch.Tensor,
    key_cache: torch.Tensor,
    value_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> None:
    """Token `t`'s rows written to cache row `slot_mapping[t]` (skipped where it is -1), in place."""
    for t, slot in enumerate(slot_mapping.tolist()):
        if slot >= 0:
            key_cache[slot] = key[t]
            value_cache[slot] = value[t]


def segment_max_reference(x: torch.Tensor, cu_seqlens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per segment and feature: the max (fp64) and the first row of `x` holding it; 0 and -1 when empty."""
    bounds = cu_seqlens.tolist()
    values = torch.zeros(len(bounds) - 1, x.shape[1], dtype=torch.float64, device=x.device)
    indices = torch.full((len(bounds) - 1, x.shape[1]), -1, dtype=torch.int64, device=x.device)
    for n, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        if b > a:
            segment = x[a:b].double()
            values[n] = segment.max(dim=0).values
            indices[n] = a + (segment == values[n]).int().argmax(dim=0)  # argmax: the first of equal maxima
    return values, indices
