"""Liger-Kernel 0.8.5 through contracts of ours, forward and backward (its ops are autograd Functions).

Each op: a stub with annotations and markers, a float64 reference written from the math with PyTorch's own
ops (`F.layer_norm`, `F.cross_entropy`, ...), and an adapter calling Liger's Function from the wheel in
`.peers/` (`bench/audit/peers.py`). Where an op takes probabilities or log-probabilities, the contract takes
logits and both sides apply `log_softmax`/`softmax` in torch, so every drawn tensor is a valid input and
autograd carries the gradient through that step identically on both sides.

    shapecheck run bench.audit.liger:rms_norm --contracts bench.audit.liger --impl bench.audit.liger:liger_rms_norm
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Annotated, Any, Callable, Literal, Optional, TypeVar

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from jaxtyping import Float, Float32, Int64
from torch import Tensor

from bench.audit import peers
from shapecheck import Differentiable, Index
from shapecheck.spec import Contract, Dim, Rule, same_dtype

ROWS = Dim("rows (tokens)", 1, 6, gpu_hi=64)
HIDDEN = Dim("hidden size", 1, 48, gpu_hi=1024)
VOCAB = Dim("vocabulary", 1, 48, gpu_hi=2048)
EPS = st.sampled_from([1e-6, 1e-5])  # a few values: under @triton.jit a float is runtime, but keep replays short


R = TypeVar("R")


def _ops() -> Any:
    return peers.load("liger", "liger_kernel.ops")


def _on_copies(adapter: Callable[..., R], *names: str) -> Callable[..., R]:
    """`adapter` handed clones of its arguments `names`, so what Liger writes over them lands in the clones while
    autograd carries each gradient through its clone back to the caller's tensor. The steered audit's way round
    a judged difference of contract (bench/audit/run.py STEERING): outputs and gradients are still judged."""
    signature = inspect.signature(adapter)

    def call(*args: Any, **kwargs: Any) -> R:
        bound = signature.bind(*args, **kwargs)
        for name in names:
            bound.arguments[name] = bound.arguments[name].clone()
        return adapter(*bound.args, **bound.kwargs)

    call.__signature__ = signature  # type: ignore[attr-defined]
    call.__name__ = f"{adapter.__name__}_cloned"
    return call


class _CopiedGrad(torch.autograd.Function):
    """Identity whose backward hands on a copy of the incoming gradient: a backward downstream that writes over
    the gradient it receives (Liger's rope) writes over the copy, not over the caller's cotangent."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad.clone()


# --- rms_norm ------------------------------------------------------------------------------------------------


def rms_norm(
    X: Annotated[Float[Tensor, "N D"], Differentiable()],
    W: Annotated[Float[Tensor, "D"], Differentiable()],
    eps: float,
    offset: float = 0.0,
    casting_mode: Literal["llama", "gemma", "none"] = "llama",
    in_place: bool = True,
) -> Float[Tensor, "N D"]:
    """X / rms(X) * (offset + W), per row. `in_place` lets the backward write dX over the incoming gradient."""


def _rms(x: Tensor, eps: float) -> Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rms_norm_reference(
    X: Tensor, W: Tensor, eps: float, offset: float = 0.0, casting_mode: str = "llama", in_place: bool = True
) -> Tensor:
    return _rms(X, eps) * (offset + W)


RMS_NORM = Contract(
    "rms_norm",
    rms_norm,
    reference=rms_norm_reference,
    output_dtype_like="X",
    dims={"N": ROWS, "D": HIDDEN},
    checks=[same_dtype("X", "W")],
    draw={"eps": EPS, "offset": st.sampled_from([0.0, 1.0])},
    description="LigerRMSNormFunction: llama/gemma/none casting, offset 0 (Llama) or 1 (Gemma)",
)


def liger_rms_norm(
    X: Tensor, W: Tensor, eps: float, offset: float = 0.0, casting_mode: str = "llama", in_place: bool = True
) -> Tensor:
    return _ops().LigerRMSNormFunction.apply(X, W, eps, offset, casting_mode, in_place)


# --- fused_add_rms_norm ------------------------------------------------------------------------------------------


def fused_add_rms_norm(
    X: Annotated[Float[Tensor, "N D"], Differentiable()],
    R: Annotated[Float[Tensor, "N D"], Differentiable()],
    W: Annotated[Float[Tensor, "D"], Differentiable()],
    eps: float,
    offset: float = 0.0,
    casting_mode: Literal["llama", "gemma", "none"] = "llama",
) -> tuple[Float[Tensor, "N D"], Float[Tensor, "N D"]]:
    """S = X + R (the new residual) and rms_norm(S) * (offset + W)."""


def fused_add_rms_norm_reference(
    X: Tensor, R: Tensor, W: Tensor, eps: float, offset: float = 0.0, casting_mode: str = "llama"
) -> tuple[Tensor, Tensor]:
    S = X + R
    return _rms(S, eps) * (offset + W), S


FUSED_ADD_RMS_NORM = Contract(
    "fused_add_rms_norm",
    fused_add_rms_norm,
    reference=fused_add_rms_norm_reference,
    outputs=("Y", "S"),
    output_dtype_like="X",
    dims={"N": ROWS, "D": HIDDEN},
    checks=[same_dtype("X", "R", "W")],
    draw={"eps": EPS, "offset": st.sampled_from([0.0, 1.0])},
    description="LigerFusedAddRMSNormFunction (in_place=False)",
)


def liger_fused_add_rms_norm(
    X: Tensor, R: Tensor, W: Tensor, eps: float, offset: float = 0.0, casting_mode: str = "llama"
) -> tuple[Tensor, Tensor]:
    Y, S = _ops().LigerFusedAddRMSNormFunction.apply(X, R, W, eps, offset, casting_mode, False)
    return Y, S


# --- layer_norm --------------------------------------------------------------------------------------------------


def layer_norm(
    X: Annotated[Float[Tensor, "N D"], Differentiable()],
    W: Annotated[Float[Tensor, "D"], Differentiable()],
    B: Annotated[Float[Tensor, "D"], Differentiable()],
    eps: float,
) -> Float[Tensor, "N D"]:
    """F.layer_norm over the last axis with weight W and bias B."""


def layer_norm_reference(X: Tensor, W: Tensor, B: Tensor, eps: float) -> Tensor:
    return F.layer_norm(X, X.shape[-1:], W, B, eps)


LAYER_NORM = Contract(
    "layer_norm",
    layer_norm,
    reference=layer_norm_reference,
    output_dtype_like="X",
    dims={"N": ROWS, "D": HIDDEN},
    checks=[same_dtype("X", "W", "B")],
    draw={"eps": EPS},
    description="LigerLayerNormFunction",
)


def liger_layer_norm(X: Tensor, W: Tensor, B: Tensor, eps: float) -> Tensor:
    return _ops().LigerLayerNormFunction.apply(X, W, B, eps)


# --- group_norm --------------------------------------------------------------------------------------------------


def group_norm(
    X: Annotated[Float[Tensor, "B C L"], Differentiable()],
    affine_scaling_weight: Annotated[Float[Tensor, "C"], Differentiable()],
    affine_shifting_bias: Annotated[Float[Tensor, "C"], Differentiable()],
    C: int,
    G: int,
    eps: float,
) -> Float[Tensor, "B C L"]:
    """F.group_norm with G groups of C // G channels each (C is num_channels, G num_groups)."""


def group_norm_reference(
    X: Tensor, affine_scaling_weight: Tensor, affine_shifting_bias: Tensor, C: int, G: int, eps: float
) -> Tensor:
    """By hand: F.group_norm refuses a group of one value ("more than 1 value per channel when training")."""
    x = X.reshape(X.shape[0], G, -1)
    x = (x - x.mean(-1, keepdim=True)) * torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + eps)
    return x.reshape(X.shape) * affine_scaling_weight[:, None] + affine_shifting_bias[:, None]


GROUP_NORM = Contract(
    "group_norm",
    group_norm,
    reference=group_norm_reference,
    output_dtype_like="X",
    dims={
        "B": Dim("batch", 1, 3, gpu_hi=16),
        "C": Dim("channels", 1, 8, gpu_hi=64),
        "G": Dim("groups", 1, 4, gpu_hi=16),
        "L": Dim("positions", 1, 12, gpu_hi=256),
    },
    rules=[Rule("C % G == 0", blame=("X", "C"), why="equal groups of channels")],
    checks=[same_dtype("X", "affine_scaling_weight", "affine_shifting_bias")],
    draw={"eps": EPS},
    description="LigerGroupNormFunction",
)

# Groups of 16 elements or more, where a one-pass float32 variance does not cancel at float32's bound on drawn
# inputs: the steered run goes round Liger's one-pass variance (judged) to judge the rest at 100 cases.
GROUP_NORM_WIDE = dataclasses.replace(
    GROUP_NORM,
    name="group_norm_wide",
    rules=[*GROUP_NORM.rules, Rule("C * L >= 16 * G", blame=("X", "L"), why="groups of 16 elements or more")],
)


def liger_group_norm(
    X: Tensor, affine_scaling_weight: Tensor, affine_shifting_bias: Tensor, C: int, G: int, eps: float
) -> Tensor:
    return _ops().LigerGroupNormFunction.apply(X, affine_scaling_weight, affine_shifting_bias, C, G, eps)


# --- dyt ---------------------------------------------------------------------------------------------------------


def dyt(
    x: Annotated[Float[Tensor, "N D"], Differentiable()],
    alpha: Annotated[Float[Tensor, "1"], Differentiable()],
    gamma: Annotated[Float[Tensor, "D"], Differentiable()],
    beta: Annotated[Optional[Float[Tensor, "D"]], Differentiable()] = None,
) -> Float[Tensor, "N D"]:
    """Dynamic tanh: gamma * tanh(alpha * x) + beta."""


def dyt_reference(x: Tensor, alpha: Tensor, gamma: Tensor, beta: Optional[Tensor] = None) -> Tensor:
    y = gamma * torch.tanh(alpha * x)
    return y if beta is None else y + beta


DYT = Contract(
    "dyt",
    dyt,
    reference=dyt_reference,
    output_dtype_like="x",
    dims={"N": ROWS, "D": HIDDEN},
    checks=[same_dtype("x", "alpha", "gamma", "beta")],
    description="LigerDyTFunction (autotuned)",
)


def liger_dyt(x: Tensor, alpha: Tensor, gamma: Tensor, beta: Optional[Tensor] = None) -> Tensor:
    return _ops().LigerDyTFunction.apply(x, alpha, gamma, beta)


# --- swiglu, geglu -----------------------------------------------------------------------------------------------


def swiglu(
    a: Annotated[Float[Tensor, "N D"], Differentiable()], b: Annotated[Float[Tensor, "N D"], Differentiable()]
) -> Float[Tensor, "N D"]:
    """silu(a) * b."""


SWIGLU = Contract(
    "swiglu",
    swiglu,
    reference=lambda a, b: F.silu(a) * b,
    output_dtype_like="a",
    dims={"N": ROWS, "D": HIDDEN},
    checks=[same_dtype("a", "b")],
    description="LigerSiLUMulFunction",
)


def liger_swiglu(a: Tensor, b: Tensor) -> Tensor:
    return _ops().LigerSiLUMulFunction.apply(a, b)


liger_swiglu_cloned = _on_copies(liger_swiglu, "a", "b")  # its backward stores da, db over a, b


def geglu(
    a: Annotated[Float[Tensor, "N D"], Differentiable()], b: Annotated[Float[Tensor, "N D"], Differentiable()]
) -> Float[Tensor, "N D"]:
    """gelu(a, approximate="tanh") * b."""


GEGLU = Contract(
    "geglu",
    geglu,
    reference=lambda a, b: F.gelu(a, approximate="tanh") * b,
    output_dtype_like="a",
    dims={"N": ROWS, "D": HIDDEN},
    checks=[same_dtype("a", "b")],
    description="LigerGELUMulFunction",
)


def liger_geglu(a: Tensor, b: Tensor) -> Tensor:
    return _ops().LigerGELUMulFunction.apply(a, b)


liger_geglu_cloned = _on_copies(liger_geglu, "a", "b")  # as swiglu's


# --- softmax -----------------------------------------------------------------------------------------------------


def softmax(x: Annotated[Float[Tensor, "N D"], Differentiable()]) -> Float[Tensor, "N D"]:
    """softmax over the last axis."""


SOFTMAX = Contract(
    "softmax",
    softmax,
    reference=lambda x: x.softmax(-1),
    output_dtype_like="x",
    dims={"N": ROWS, "D": HIDDEN},
    description="LigerSoftmaxFunction",
)


def liger_softmax(x: Tensor) -> Tensor:
    return _ops().LigerSoftmaxFunction.apply(x)


# --- rope --------------------------------------------------------------------------------------------------------


def rope(
    q: Annotated[Float[Tensor, "B HQ T D"], Differentiable()],
    k: Annotated[Float[Tensor, "B HK T D"], Differentiable()],
    cos: Float[Tensor, "1 T R"],
    sin: Float[Tensor, "1 T R"],
) -> tuple[Float[Tensor, "B HQ T D"], Float[Tensor, "B HK T D"]]:
    """Hugging Face's rotary embedding: x * cos + rotate_half(x) * sin, cos/sin broadcast over heads. Liger reads
    the first half of a full-width cos/sin, so (contract difference) they are Hugging Face's `cat(f, f)`: drawn
    at half width R = D / 2 and duplicated on both sides."""


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_reference(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    c, s = torch.cat((cos, cos), -1).unsqueeze(1), torch.cat((sin, sin), -1).unsqueeze(1)
    return q * c + _rotate_half(q) * s, k * c + _rotate_half(k) * s


ROPE = Contract(
    "rope",
    rope,
    reference=rope_reference,
    outputs=("q_out", "k_out"),
    output_dtype_like="q",
    dims={
        "B": Dim("batch", 1, 2, gpu_hi=8),
        "HQ": Dim("query heads", 1, 4, gpu_hi=32),
        "HK": Dim("key heads", 1, 4, gpu_hi=8),
        "T": Dim("positions", 1, 6, gpu_hi=256),
        "D": Dim("head size", 2, 16, gpu_hi=128),
        "R": Dim("rotary half width", 1, 8, gpu_hi=64),
    },
    rules=[Rule("D == 2 * R", blame=("cos", "R"), why="rotate_half pairs the two halves")],
    checks=[same_dtype("q", "k", "cos", "sin")],
    description="LigerRopeFunction (Hugging Face layout)",
)


def liger_rope(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    qo, ko = _ops().LigerRopeFunction.apply(q, k, torch.cat((cos, cos), -1), torch.cat((sin, sin), -1))
    return qo, ko


def liger_rope_cloned(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """Liger's rope on clones of q and k (it rotates them in place on some layouts), each result behind
    `_CopiedGrad` (its backward rotates the incoming gradient in place)."""
    qo, ko = _on_copies(liger_rope, "q", "k")(q, k, cos, sin)
    return _CopiedGrad.apply(qo), _CopiedGrad.apply(ko)


# --- cross_entropy -----------------------------------------------------------------------------------------------


def cross_entropy(
    logits: Annotated[Float[Tensor, "N V"], Differentiable()],
    target: Annotated[Int64[Tensor, "N"], Index("V", padding=-100)],
    reduction: Literal["mean", "sum"] = "mean",
    label_smoothing: float = 0.0,
) -> Float[Tensor, ""]:
    """F.cross_entropy with ignore_index -100 (a padding target), reduced to one value."""


def cross_entropy_reference(
    logits: Tensor, target: Tensor, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    return F.cross_entropy(logits, target, ignore_index=-100, reduction=reduction, label_smoothing=label_smoothing)


CROSS_ENTROPY = Contract(
    "cross_entropy",
    cross_entropy,
    reference=cross_entropy_reference,
    output_dtype_like="logits",
    dims={"N": ROWS, "V": VOCAB},
    draw={"label_smoothing": st.sampled_from([0.0, 0.1])},
    description="LigerCrossEntropyFunction (its forward writes the gradient over a copy)",
)


def liger_cross_entropy(
    logits: Tensor, target: Tensor, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    loss, *_ = _ops().LigerCrossEntropyFunction.apply(logits, target, None, -100, 0.0, label_smoothing, reduction)
    return loss


liger_cross_entropy_cloned = _on_copies(liger_cross_entropy, "logits")  # its forward stores the gradient over logits


# --- kl_div ------------------------------------------------------------------------------------------------------


def kl_div(
    logits: Annotated[Float[Tensor, "N V"], Differentiable()],
    target_logits: Float[Tensor, "N V"],
    reduction: Literal["batchmean", "sum", "mean"] = "batchmean",
    log_target: bool = False,
) -> Float32[Tensor, ""]:
    """F.kl_div(log_softmax(logits), softmax(target_logits) or its log_softmax when log_target). The loss is float32
    whatever the inputs' dtype (Liger accumulates and returns it in float32: a contract difference, stated here)."""


def _kl_inputs(logits: Tensor, target_logits: Tensor, log_target: bool) -> tuple[Tensor, Tensor]:
    return logits.log_softmax(-1), target_logits.log_softmax(-1) if log_target else target_logits.softmax(-1)


def kl_div_reference(
    logits: Tensor, target_logits: Tensor, reduction: str = "batchmean", log_target: bool = False
) -> Tensor:
    return F.kl_div(*_kl_inputs(logits, target_logits, log_target), reduction=reduction, log_target=log_target)


KL_DIV = Contract(
    "kl_div",
    kl_div,
    reference=kl_div_reference,
    dims={"N": ROWS, "V": VOCAB},
    checks=[same_dtype("logits", "target_logits")],
    operand_precision=True,  # the float32 loss is reduced from float16 log-probabilities in their dtype
    description="LigerKLDivLossFunction on log-softmax inputs",
)


def liger_kl_div(
    logits: Tensor, target_logits: Tensor, reduction: str = "batchmean", log_target: bool = False
) -> Tensor:
    return _ops().LigerKLDivLossFunction.apply(*_kl_inputs(logits, target_logits, log_target), reduction, log_target)


# --- jsd ---------------------------------------------------------------------------------------------------------


def jsd(
    logits: Annotated[Float[Tensor, "N V"], Differentiable()], target_logits: Float[Tensor, "N V"], beta: float = 0.5
) -> Float[Tensor, ""]:
    """Generalized JSD of student Q = softmax(logits) and teacher P = softmax(target_logits), per token summed
    over the vocabulary, averaged over tokens: beta = 0 is KL(P || Q), beta = 1 is KL(Q || P), otherwise
    beta KL(P || M) + (1 - beta) KL(Q || M) with M = beta P + (1 - beta) Q (Liger's docstring)."""


def jsd_reference(logits: Tensor, target_logits: Tensor, beta: float = 0.5) -> Tensor:
    log_q, log_p = logits.log_softmax(-1), target_logits.log_softmax(-1)
    p, q = log_p.exp(), log_q.exp()
    if beta == 0.0:
        per_token = (p * (log_p - log_q)).sum(-1)
    elif beta == 1.0:
        per_token = (q * (log_q - log_p)).sum(-1)
    else:
        log_m = torch.log(beta * p + (1 - beta) * q)
        per_token = (beta * p * (log_p - log_m) + (1 - beta) * q * (log_q - log_m)).sum(-1)
    return per_token.mean()


JSD = Contract(
    "jsd",
    jsd,
    reference=jsd_reference,
    output_dtype_like="logits",
    dims={"N": ROWS, "V": VOCAB},
    checks=[same_dtype("logits", "target_logits")],
    draw={"beta": st.sampled_from([0.0, 0.5, 1.0, 0.25])},  # beta is a constexpr: a compile per value
    description="LigerJSDFunction on log-softmax inputs",
)


def liger_jsd(logits: Tensor, target_logits: Tensor, beta: float = 0.5) -> Tensor:
    return _ops().LigerJSDFunction.apply(logits.log_softmax(-1), target_logits.log_softmax(-1), None, beta)


CONTRACTS = [
    RMS_NORM,
    FUSED_ADD_RMS_NORM,
    LAYER_NORM,
    GROUP_NORM,
    GROUP_NORM_WIDE,
    DYT,
    SWIGLU,
    GEGLU,
    SOFTMAX,
    ROPE,
    CROSS_ENTROPY,
    KL_DIV,
    JSD,
]
