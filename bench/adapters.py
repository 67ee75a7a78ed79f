"""SGLang's and fla-core's decode kernels behind our calling convention, so the GDN contract can hold them to
the same properties as ours:

    shapecheck run fused --impl bench/adapters.py:sglang_gdn --device cuda --profile gpu
    shapecheck run fused --impl bench/adapters.py:fla_gdn --device cuda --profile gpu

The peers come from their PyPI wheels in the folder $PEERS (default .peers), as bench/peers.py loads them.
Each adapter bridges only what the calling conventions differ in, and says so:
- SGLang keeps only the K-last pool `[S,HV,V,K]` (our "vk"): a "kv" pool is transposed into a K-last copy
  of the named rows, run, and written back.
- fla-core has no pool, no slot indices and no padding: the named rows are gathered (a padding slot -1 as a
  zero state), its fp32 final states written back into the pool's real, non-empty rows. It has no
  softplus_beta / softplus_threshold arguments (its softplus is beta 1, threshold 20): they are not passed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # bench/peers.py: the wheels' entry points

PEERS = Path(os.environ.get("PEERS", ".peers"))


def _named_rows(indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(which indices name a slot, the slot row each names, padding -1 as row 0): the rows both adapters read."""
    real = indices >= 0
    return real, torch.where(real, indices, 0).long()


def sglang_gdn(
    *, initial_state_source: torch.Tensor, initial_state_indices: torch.Tensor, state_layout: str = "kv", **args: Any
) -> torch.Tensor:
    """SGLang takes our other arguments under our names: only the pool and its layout are bridged."""
    fn = peers.load_peers(PEERS)["sglang"]
    pool, indices = initial_state_source, initial_state_indices
    if state_layout == "vk":
        return fn(initial_state_source=pool, initial_state_indices=indices, **args)
    real, rows = _named_rows(indices)
    k_last = pool[rows].transpose(-1, -2).contiguous()  # [N, HV, V, K], one slot per sequence
    local = torch.where(real, torch.arange(len(indices), device=indices.device), -1).to(indices.dtype)
    o = fn(initial_state_source=k_last, initial_state_indices=local, **args)
    pool[rows[real]] = k_last[real].transpose(-1, -2)
    return o


def fla_gdn(
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
    fn = peers.load_peers(PEERS)["fla"]
    pool, indices = initial_state_source, initial_state_indices
    B, T = q.shape[:2]
    HV = v.shape[2]
    real, rows = _named_rows(indices)
    h0 = torch.where(real[:, None, None, None], pool[rows], torch.zeros((), dtype=pool.dtype, device=pool.device))
    o, ht = fn(
        q,
        k,
        v,
        g=a.reshape(B, T, HV),
        beta=b.reshape(B, T, HV),
        scale=scale,
        initial_state=h0,
        output_final_state=True,
        use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
        use_gate_in_kernel=True,
        A_log=A_log,
        dt_bias=dt_bias,
        use_beta_sigmoid_in_kernel=True,
        state_v_first=state_layout == "vk",
        cu_seqlens=None if cu_seqlens is None else cu_seqlens.long(),
    )
    lengths = torch.full_like(indices, T) if cu_seqlens is None else cu_seqlens[1:] - cu_seqlens[:-1]
    write = real & (lengths > 0)
    pool[rows[write]] = ht[write].to(pool.dtype)
    return o
