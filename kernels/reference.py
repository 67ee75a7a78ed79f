"""Reference recurrence of the gated delta rule, written as the math reads (no shared code with the kernel).

For sequence n, value head j, its query/key head i = j // (HV // H), and state S (a K x V matrix):

    g_t    = -exp(A_log[j]) * softplus(a_t + dt_bias[j]; beta, threshold)
    beta_t = sigmoid(b_t)
    S      = exp(g_t) * S
    S      = S + k_t (beta_t * (v_t - S^T k_t))^T
    o_t    = S^T (scale * q_t)

The pool is not modified: the function returns `(o, new_pool)`, where `new_pool` is a clone of the input
pool with the final states of real slots written back (in the pool's dtype) and every other row — padding
(-1) slots, unnamed slots, sequences of length zero — bit-identical to the input.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def _segments(B: int, T: int, cu_seqlens: Optional[torch.Tensor]) -> list[tuple[int, int, int]]:
    """(batch row, first token, end token) of every sequence."""
    if cu_seqlens is None:
        return [(n, 0, T) for n in range(B)]
    bounds = cu_seqlens.tolist()
    return [(0, bounds[n], bounds[n + 1]) for n in range(len(bounds) - 1)]


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
    compute_dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return `(o [B,T,HV,V], new pool)`: `o` in `compute_dtype`, to compare in high precision."""
    B, T, H, K = q.shape
    HV, V = v.shape[2], v.shape[3]
    group = HV // H
    scale = K**-0.5 if scale is None else scale
    up = lambda x: x.to(compute_dtype)  # noqa: E731 - the one precision every step runs in
    a = up(a).reshape(B, T, HV)
    b = up(b).reshape(B, T, HV)
    q, k, v = up(q), up(k), up(v)
    decay_rate = -torch.exp(up(A_log))
    bias = up(dt_bias)

    o = torch.zeros(B, T, HV, V, dtype=compute_dtype, device=q.device)
    new_pool = initial_state_source.clone()
    for n, (row, start, end) in enumerate(_segments(B, T, cu_seqlens)):
        slot = int(initial_state_indices[n])
        for j in range(HV):
            i = j // group
            if slot >= 0:
                S = up(initial_state_source[slot, j])
                S = S if state_layout == "kv" else S.transpose(0, 1)
            else:
                S = torch.zeros(K, V, dtype=compute_dtype, device=q.device)
            for t in range(start, end):
                q_t, k_t = q[row, t, i], k[row, t, i]
                if use_qk_l2norm_in_kernel:
                    q_t = q_t / torch.sqrt((q_t * q_t).sum() + 1e-6)
                    k_t = k_t / torch.sqrt((k_t * k_t).sum() + 1e-6)
                g = decay_rate[j] * F.softplus(a[row, t, j] + bias[j], beta=softplus_beta, threshold=softplus_threshold)
                beta = torch.sigmoid(b[row, t, j])
                S = torch.exp(g) * S
                S = S + torch.outer(k_t, beta * (v[row, t, j] - S.T @ k_t))
                o[row, t, j] = S.T @ (scale * q_t)
            if slot >= 0 and end > start:
                final = S if state_layout == "kv" else S.transpose(0, 1)
                new_pool[slot, j] = final.to(new_pool.dtype)
    return o, new_pool
