"""flash-linear-attention (fla-core 0.6.0) families through contracts of ours: fused recurrent forward with and
without initial/final state, chunk forward + backward, varlen (`cu_seqlens`, B == 1).

References are fla's own naive recurrences, loaded from the wheel at run time (`fla/ops/<family>/naive.py`),
run per sequence for varlen (they know no `cu_seqlens`) and with l2-normalised q/k where the kernel is asked
to normalise. What the adapters bridge, as in `bench/fla_chunk.py` (the chunked gated delta rule's contract,
audited too): decays arrive raw and become `logsigmoid(g)` in torch, betas arrive as logits and become
`sigmoid(beta)`, on both sides, so every drawn tensor is a valid input and autograd carries the gradient
through that step identically; delta rules normalise q and k in the kernel (`use_qk_l2norm_in_kernel`),
without which a drawn |k|^2 beta > 2 makes any implementation's recurrence grow without bound.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Callable, Optional

import torch
import torch.nn.functional as F
from jaxtyping import Float, Float32, Int
from torch import Tensor

from bench.audit import peers
from bench.fla_chunk import l2norm, sequence_spans
from shapecheck import Differentiable, Offsets
from shapecheck.spec import Contract, Dim, Rule, same_dtype

DIMS = {
    "B": Dim("batch rows (1 with cu_seqlens)", 1, 2, gpu_hi=4),
    "T": Dim("tokens per row; all packed tokens with cu_seqlens", 1, 8, gpu_hi=128),
    "H": Dim("heads", 1, 2, gpu_hi=8),
    "K": Dim("key size", 2, 16, gpu_hi=128),  # K >= 2: see bench/results/training/fla_chunk_cpu.md on K = 1
    "V": Dim("value size", 1, 16, gpu_hi=128),
    "N": Dim("sequences (B, or len(cu_seqlens) - 1)", 1, 3, gpu_hi=8),
}
RULES = [
    Rule("cu_seqlens is None or B == 1", blame=("q", "B"), why="varlen packs every sequence in one row"),
    Rule("cu_seqlens is not None or N == B", blame=("initial_state", "N"), why="one state per sequence"),
]
OUTPUTS = ("o", "final_state")
QKV = ("q", "k", "v")

Q = Annotated[Float[Tensor, "B T H K"], Differentiable()]
VV = Annotated[Float[Tensor, "B T H V"], Differentiable()]
GATE = Annotated[Float[Tensor, "B T H"], Differentiable()]
H0 = Annotated[Optional[Float32[Tensor, "N H K V"]], Differentiable()]  # fla asserts float32 states
CU = Optional[Annotated[Int[Tensor, "N+1"], Offsets("T")]]
RESULT = tuple[Float[Tensor, "B T H V"], Optional[Float32[Tensor, "N H K V"]]]


def _naive(family: str, name: str) -> Callable[..., Any]:
    return getattr(peers.load("fla", f"fla.ops.{family}.naive"), name)


def _op(family: str, name: str) -> Callable[..., Any]:
    return getattr(peers.load("fla", f"fla.ops.{family}"), name)


def _per_sequence(
    naive: Callable[..., tuple[Tensor, Optional[Tensor]]],
    tensors: dict[str, Tensor],
    initial_state: Optional[Tensor],
    output_final_state: bool,
    cu_seqlens: Optional[Tensor],
) -> tuple[Tensor, Optional[Tensor]]:
    """`naive(**tensors, initial_state=, output_final_state=True) -> (o, final)` over each sequence: a batch row,
    or a `cu_seqlens` segment of row 0 (fla's varlen convention), outputs concatenated and states stacked."""
    B, T = tensors["q"].shape[:2]
    rows: list[list[Tensor]] = [[] for _ in range(B)]
    finals = []
    for n, (b, start, end) in enumerate(sequence_spans(cu_seqlens, B, T)):
        part = {name: x[b : b + 1, start:end] for name, x in tensors.items()}
        h0 = initial_state[n : n + 1] if initial_state is not None else None
        o, final = naive(**part, initial_state=h0, output_final_state=True)
        rows[b].append(o[0])
        finals.append(final[0] if final is not None else None)  # fla keeps states in float32
    o = torch.stack([torch.cat(r) for r in rows])
    return o, torch.stack(finals) if output_final_state else None


def _contract(signature: Callable[..., Any], reference: Callable[..., Any], **declared: Any) -> Contract:
    """A family's contract, named as its stub: every family here has the same outputs, dims and rules."""
    return Contract(
        signature.__name__, signature, reference=reference, outputs=OUTPUTS, dims=DIMS, rules=RULES, **declared
    )


def _cu(cu_seqlens: Optional[Tensor]) -> Optional[Tensor]:
    return None if cu_seqlens is None else cu_seqlens.long()  # fla declares a LongTensor


# --- simple_gla: fused recurrent, a scalar decay per head -----------------------------------------------------


def fused_recurrent_simple_gla(
    q: Q, k: Q, v: VV, g: GATE, initial_state: H0 = None, output_final_state: bool = False, cu_seqlens: CU = None
) -> RESULT:
    """h = exp(logsigmoid(g)) h + k v^T; o = h^T q / sqrt(K), per head and sequence."""


def simple_gla_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    naive = _naive("simple_gla", "naive_recurrent_simple_gla")
    return _per_sequence(
        naive, {"q": q, "k": k, "v": v, "g": F.logsigmoid(g)}, initial_state, output_final_state, cu_seqlens
    )


SIMPLE_GLA = _contract(
    fused_recurrent_simple_gla,
    simple_gla_reference,
    checks=[same_dtype(*QKV, "g")],
    description="fla.ops.simple_gla.fused_recurrent_simple_gla",
)


def fla_fused_recurrent_simple_gla(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    o, final = _op("simple_gla", "fused_recurrent_simple_gla")(
        q,
        k,
        v,
        g=F.logsigmoid(g),
        initial_state=initial_state,
        output_final_state=output_final_state,
        cu_seqlens=_cu(cu_seqlens),
    )
    return o, final


# --- retention: fused recurrent, fixed decays 1 - 2^(-5-h) ------------------------------------------------------


def fused_recurrent_retention(
    q: Q, k: Q, v: VV, initial_state: H0 = None, output_final_state: bool = False, cu_seqlens: CU = None
) -> RESULT:
    """simple_gla with head h's decay fixed at 1 - 2^(-5-h) (RetNet)."""


def retention_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    H = q.shape[2]
    decay = torch.log1p(-(2.0 ** (-5.0 - torch.arange(H, dtype=torch.float64, device=q.device))))
    g = decay.to(q.dtype).expand(*q.shape[:2], H)
    naive = _naive("simple_gla", "naive_recurrent_simple_gla")
    return _per_sequence(naive, {"q": q, "k": k, "v": v, "g": g}, initial_state, output_final_state, cu_seqlens)


RETENTION = _contract(
    fused_recurrent_retention,
    retention_reference,
    checks=[same_dtype(*QKV)],
    description="fla.ops.retention.fused_recurrent_retention",
)


def fla_fused_recurrent_retention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    o, final = _op("retention", "fused_recurrent_retention")(
        q, k, v, initial_state=initial_state, output_final_state=output_final_state, cu_seqlens=_cu(cu_seqlens)
    )
    return o, final


# --- gla: chunked, a decay per key channel (forward and backward) -----------------------------------------------


def chunk_gla(
    q: Q, k: Q, v: VV, g: Q, initial_state: H0 = None, output_final_state: bool = False, cu_seqlens: CU = None
) -> RESULT:
    """h = diag(exp(logsigmoid(g))) h + k v^T; o = h^T q / sqrt(K), computed in chunks."""


def gla_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    naive = _naive("gla", "naive_recurrent_gla")
    return _per_sequence(
        naive, {"q": q, "k": k, "v": v, "gk": F.logsigmoid(g)}, initial_state, output_final_state, cu_seqlens
    )


GLA = _contract(
    chunk_gla,
    gla_reference,
    checks=[same_dtype(*QKV, "g")],
    operand_precision=True,  # tl.dot on 16-bit q/k/v: the float32 state and its gradient are 16-bit accurate
    description="fla.ops.gla.chunk_gla",
)
# The steered GPU audit's chunk_gla (bench/audit/run.py STEERING): V >= 16, as GLA otherwise. Judged: fla's backward
# does not compile on a GPU for V < 16 (`tl.dot` inner size BV = min(64, next_power_of_2(V)) below Triton's 16).
# A contract of its own, not a pin: a pin fixes one value, and the replay line then names this range.
GLA_V16 = dataclasses.replace(
    GLA, name="chunk_gla_v16", dims={**DIMS, "V": Dim("value size, >= 16 (fla's GPU backward)", 16, 16, gpu_hi=128)}
)


def fla_chunk_gla(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    o, final = _op("gla", "chunk_gla")(
        q,
        k,
        v,
        F.logsigmoid(g),
        initial_state=initial_state,
        output_final_state=output_final_state,
        cu_seqlens=_cu(cu_seqlens),
    )
    return o, final


# --- delta_rule: fused recurrent ----------------------------------------------------------------------------------


def fused_recurrent_delta_rule(
    q: Q, k: Q, v: VV, beta: GATE, initial_state: H0 = None, output_final_state: bool = False, cu_seqlens: CU = None
) -> RESULT:
    """Delta rule with q, k l2-normalised: h += k (sigmoid(beta) (v - h^T k))^T; o = h^T q / sqrt(K)."""


def _head_first(naive: Callable[..., Any]) -> Callable[..., Any]:
    """fla's delta_rule_recurrence takes [B, H, T, K] (head first): transpose in and out."""

    def call(
        q: Tensor, k: Tensor, v: Tensor, beta: Tensor, initial_state: Optional[Tensor], output_final_state: bool
    ) -> Any:
        o, final = naive(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            beta.transpose(1, 2),
            initial_state=initial_state,
            output_final_state=output_final_state,
        )
        return o.transpose(1, 2), final

    return call


def delta_rule_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    beta: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    naive = _head_first(_naive("delta_rule", "delta_rule_recurrence"))
    return _per_sequence(
        naive,
        {"q": l2norm(q), "k": l2norm(k), "v": v, "beta": torch.sigmoid(beta)},
        initial_state,
        output_final_state,
        cu_seqlens,
    )


DELTA_RULE = _contract(
    fused_recurrent_delta_rule,
    delta_rule_reference,
    checks=[same_dtype(*QKV, "beta")],
    operand_precision=True,  # fla l2-normalises q, k in a kernel of its own whose output is in their dtype (float16)
    description="fla.ops.delta_rule.fused_recurrent_delta_rule (l2norm in kernel)",
)


def fla_fused_recurrent_delta_rule(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    beta: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    o, final = _op("delta_rule", "fused_recurrent_delta_rule")(
        q,
        k,
        v,
        torch.sigmoid(beta),
        initial_state=initial_state,
        output_final_state=output_final_state,
        use_qk_l2norm_in_kernel=True,
        cu_seqlens=_cu(cu_seqlens),
    )
    return o, final


# --- gated_delta_rule: fused recurrent -------------------------------------------------------------------------------


def fused_recurrent_gated_delta_rule(
    q: Float[Tensor, "B T H K"],
    k: Float[Tensor, "B T H K"],
    v: Float[Tensor, "B T H V"],
    g: Float[Tensor, "B T H"],
    beta: Float[Tensor, "B T H"],
    initial_state: Optional[Float32[Tensor, "N H K V"]] = None,
    output_final_state: bool = False,
    cu_seqlens: CU = None,
) -> RESULT:
    """Forward only (a difference of contract: fla raises NotImplementedError for its backward, by design).
    Gated delta rule with q, k l2-normalised: h = exp(logsigmoid(g)) h; h += k (sigmoid(beta) (v - h^T k))^T;
    o = h^T q / sqrt(K)."""


def gated_delta_rule_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    beta: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    naive = _naive("gated_delta_rule", "naive_recurrent_gated_delta_rule")
    tensors = {"q": l2norm(q), "k": l2norm(k), "v": v, "beta": torch.sigmoid(beta), "g": F.logsigmoid(g)}
    return _per_sequence(naive, tensors, initial_state, output_final_state, cu_seqlens)


GATED_DELTA_RULE = _contract(
    fused_recurrent_gated_delta_rule,
    gated_delta_rule_reference,
    checks=[same_dtype(*QKV, "g", "beta")],
    operand_precision=True,  # fla l2-normalises q, k in a kernel of its own whose output is in their dtype (float16)
    description="fla.ops.gated_delta_rule.fused_recurrent_gated_delta_rule (l2norm in kernel)",
)


def fla_fused_recurrent_gated_delta_rule(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    beta: Tensor,
    initial_state: Optional[Tensor] = None,
    output_final_state: bool = False,
    cu_seqlens: Optional[Tensor] = None,
) -> tuple[Tensor, Any]:
    o, final = _op("gated_delta_rule", "fused_recurrent_gated_delta_rule")(
        q,
        k,
        v,
        g=F.logsigmoid(g),
        beta=torch.sigmoid(beta),
        initial_state=initial_state,
        output_final_state=output_final_state,
        use_qk_l2norm_in_kernel=True,
        cu_seqlens=_cu(cu_seqlens),
    )
    return o, final


CONTRACTS = [SIMPLE_GLA, RETENTION, GLA, DELTA_RULE, GATED_DELTA_RULE]
