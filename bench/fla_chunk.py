"""fla-core 0.6.0's `chunk_gated_delta_rule` (a training kernel: Triton forward and backward behind an autograd
Function, autotuned) through a differentiable contract of ours, forward `(o, final_state)` and backward
`dq, dk, dv, dg, dbeta, dh0`, varlen included:

    pip download --no-deps fla-core==0.6.0 -d .peers     # never committed; extracted to .peers/fla_core
    shapecheck run bench.fla_chunk:chunk_gdn --contracts bench.fla_chunk --impl bench.fla_chunk:fla_chunk_gdn --device cpu

The contract's reference is our own naive recurrence (one token at a time, per sequence), differentiable by
autograd. What the adapter bridges, and why:
- `g` arrives raw and `beta` as logits: decays are `logsigmoid(g)` (applied here, in torch, so autograd
  carries dg through it on both sides) and betas `sigmoid(beta)` (fla's `use_beta_sigmoid_in_kernel`);
- q and k are l2-normalised in the kernel (`use_qk_l2norm_in_kernel`): without it a drawn |k|^2 * beta > 2
  makes the delta rule's recurrence grow without bound, in every implementation;
- `cu_seqlens` goes to fla as int64 (its declared LongTensor), with B == 1 (its varlen convention).
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Annotated, Any, Optional

import torch
import torch.nn.functional as F
from jaxtyping import Float32, Int
from torch import Tensor

from shapecheck import Differentiable, Offsets
from shapecheck.spec import Contract, Dim, Rule

PEERS = Path(os.environ.get("PEERS", ".peers"))


def chunk_gdn(
    q: Annotated[Float32[Tensor, "B T H K"], Differentiable()],
    k: Annotated[Float32[Tensor, "B T H K"], Differentiable()],
    v: Annotated[Float32[Tensor, "B T HV V"], Differentiable()],
    g: Annotated[Float32[Tensor, "B T HV"], Differentiable()],
    beta: Annotated[Float32[Tensor, "B T HV"], Differentiable()],
    initial_state: Annotated[Optional[Float32[Tensor, "N HV K V"]], Differentiable()] = None,
    output_final_state: bool = True,
    cu_seqlens: Optional[Annotated[Int[Tensor, "N+1"], Offsets("T")]] = None,
) -> tuple[Float32[Tensor, "B T HV V"], Optional[Float32[Tensor, "N HV K V"]]]:
    """Gated delta rule over each sequence (a batch row, or a `cu_seqlens` segment with B == 1): per token,
    `h = exp(logsigmoid(g)) h; h += k (sigmoid(beta) (v - hᵀk))ᵀ; o = hᵀ q / sqrt(K)` with q, k l2-normalised
    and value head j reading query/key head j // (HV // H). Returns o and, if asked, the final states."""
    ...


def l2norm(x: Tensor) -> Tensor:
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-6)  # fla's l2norm, eps 1e-6


def sequence_spans(cu_seqlens: Optional[Tensor], B: int, T: int) -> list[tuple[int, int, int]]:
    """(batch row, start, end) of each sequence: a batch row, or a `cu_seqlens` segment of row 0 (fla's varlen
    convention). The references here and in bench/audit/fla.py walk the same sequences."""
    if cu_seqlens is None:
        return [(b, 0, T) for b in range(B)]
    offsets = cu_seqlens.tolist()
    return [(0, a, b) for a, b in zip(offsets[:-1], offsets[1:])]


def reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    beta: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = True,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Optional[Tensor]]:
    """The recurrence token by token, in the inputs' dtype (the second opinion passes float64)."""
    B, T, H, K = q.shape
    HV = v.shape[2]
    group = HV // H
    q, k = l2norm(q).repeat_interleave(group, 2) * K**-0.5, l2norm(k).repeat_interleave(group, 2)
    decay, rate = F.logsigmoid(g).exp(), torch.sigmoid(beta)
    rows: list[list[Tensor]] = [[] for _ in range(B)]
    finals = []
    for n, (b, start, end) in enumerate(sequence_spans(cu_seqlens, B, T)):
        h = initial_state[n] if initial_state is not None else v.new_zeros(HV, K, v.shape[3])
        for t in range(start, end):
            h = h * decay[b, t][:, None, None]
            update = rate[b, t][:, None] * (v[b, t] - torch.einsum("hkv,hk->hv", h, k[b, t]))
            h = h + torch.einsum("hk,hv->hkv", k[b, t], update)
            rows[b].append(torch.einsum("hkv,hk->hv", h, q[b, t]))
        finals.append(h)
    o = torch.stack([torch.stack(r) if r else v.new_zeros(0, HV, v.shape[3]) for r in rows])
    return o, torch.stack(finals) if output_final_state else None


CHUNK_GDN = Contract(
    name="chunk_gdn",
    signature=chunk_gdn,
    description="fla's chunked gated delta rule (training): forward and backward against a naive recurrence.",
    dims={
        "B": Dim("batch rows (1 with cu_seqlens)", 1, 2),
        "T": Dim("tokens per row; all packed tokens with cu_seqlens", 1, 12),
        "H": Dim("query/key heads", 1, 2),
        "HV": Dim("value heads (a multiple of H)", 1, 4),
        # K = 1 included: there the l2-normalised q is a sign, its true gradient a cancellation no float32
        # evaluation resolves; the second opinion's float32-evaluation floor judges it (shapecheck/conditioning.py).
        "K": Dim("key size", 1, 16),
        "V": Dim("value size", 1, 16),
        "N": Dim("sequences (B, or len(cu_seqlens) - 1)", 1, 3),
    },
    rules=[
        Rule("HV % H == 0", blame=("v", "HV"), why="grouped value heads"),
        Rule("cu_seqlens is None or B == 1", blame=("q", "B"), why="varlen packs every sequence in one row"),
        Rule("cu_seqlens is not None or N == B", blame=("initial_state", "N"), why="one state per batch row"),
    ],
    reference=reference,
    outputs=("o", "final_state"),
)


def _fla() -> Any:
    """fla's entry point, from the wheel in $PEERS (extracted once into $PEERS/fla_core)."""
    root = PEERS / "fla_core"
    if not (root / "fla").is_dir():
        [wheel] = sorted(PEERS.glob("fla_core-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(root, [m for m in z.namelist() if m.startswith("fla/")])
    if str(root.resolve()) not in sys.path:
        sys.path.insert(0, str(root.resolve()))
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    return chunk_gated_delta_rule


def fla_chunk_gdn(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    beta: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = True,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Optional[Tensor]]:
    o, final = _fla()(
        q,
        k,
        v,
        F.logsigmoid(g),
        beta,
        initial_state=initial_state,
        output_final_state=output_final_state,
        use_qk_l2norm_in_kernel=True,
        use_beta_sigmoid_in_kernel=True,
        cu_seqlens=None if cu_seqlens is None else cu_seqlens.long(),
    )
    return o, final
