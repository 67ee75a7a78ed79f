"""Contract of `fused_sigmoid_gating_delta_rule_update`, the gated-delta-rule decode kernel.

Annotations say the shapes; rules say what annotations cannot (divisibility, bounds, the varlen mode);
checks read layout and scalars (state pool order, contiguous last axes and vectors, scale); markers say what the integer
and in-place tensors mean (`cu_seqlens` offsets into T, slot indices into S with -1 padding, the pool updated
in place), so their values are checked (one device read per call, with the finiteness of the float inputs;
skipped in the decorator's "shapes" mode) and drawn by the property engine.
"""

from __future__ import annotations

from typing import Annotated, Optional, Union

from jaxtyping import Float, Int
from torch import Tensor

from shapecheck.markers import Index, InPlace, Offsets
from shapecheck.spec import Call, Contract, Dim, Rule, contiguous, same_dtype, unit_stride_last

MAX_K = 256  # one key block in registers: BK = next_pow2(K) columns of fp32 state per program


def fused_sigmoid_gating_delta_rule_update(
    A_log: Float[Tensor, "HV"],
    a: Union[Float[Tensor, "B T HV"], Float[Tensor, "BT HV"]],
    dt_bias: Float[Tensor, "HV"],
    softplus_beta: float,
    softplus_threshold: float,
    q: Float[Tensor, "B T H K"],
    k: Float[Tensor, "B T H K"],
    v: Float[Tensor, "B T HV V"],
    b: Union[Float[Tensor, "B T HV"], Float[Tensor, "BT HV"]],
    initial_state_source: Annotated[Union[Float[Tensor, "S HV K V"], Float[Tensor, "S HV V K"]], InPlace()],
    initial_state_indices: Annotated[Int[Tensor, "N"], Index("S", padding=-1, distinct=True)],
    scale: Optional[float] = None,
    use_qk_l2norm_in_kernel: bool = False,
    cu_seqlens: Optional[Annotated[Int[Tensor, "N+1"], Offsets("T")]] = None,
    state_layout: str = "kv",
) -> Float[Tensor, "B T HV V"]:
    """Signature of the kernel: `o [B,T,HV,V]`, state pool `[S,HV,K,V]` (kv) or `[S,HV,V,K]` (vk)."""
    ...


def _state_layout(call: Call) -> None:
    """The pool's last two axes must be (K, V) for layout "kv" and (V, K) for "vk"."""
    layout, pool, d = call.arguments["state_layout"], call.arguments["initial_state_source"], call.dims
    expected = {"kv": (d["K"], d["V"]), "vk": (d["V"], d["K"])}
    if layout not in expected:
        raise call.fail("state_layout", "unknown state layout", expected='"kv" or "vk"', found=repr(layout))
    if tuple(pool.shape[2:]) != expected[layout]:
        call.stop_if_traced()  # before formatting symbolic sizes (torch.compile)
        order = "K V" if layout == "kv" else "V K"
        raise call.fail(
            "initial_state_source",
            f'state_layout="{layout}" needs a pool "S HV {order}"',
            dimension=order,
            expected=f"[S, {d['HV']}, {expected[layout][0]}, {expected[layout][1]}]",
            found=list(pool.shape),
        )


def _scale(call: Call) -> None:
    """scale multiplies q: it must be positive (None means K**-0.5)."""
    scale = call.arguments["scale"]
    if scale is not None and not scale > 0:
        raise call.fail("scale", "must be > 0 (None means K**-0.5)", expected="> 0", found=scale)


# NaN/inf are rejected rather than propagated: a NaN written into a recurrent state never decays away.
FLOAT_INPUTS = ("A_log", "a", "dt_bias", "q", "k", "v", "b")


GDN_DECODE = Contract(
    name="fused_sigmoid_gating_delta_rule_update",
    signature=fused_sigmoid_gating_delta_rule_update,
    description="Gated delta rule decode/prefill step with an in-place state pool (Qwen3-Next linear attention).",
    dims={
        # lo, hi (CI profile: the CPU interpreter), gpu_hi (GPU profile; pools up to ~0.6 GB — the huge
        # cases, 2**31-element slot offsets and 65535+ programs, have dedicated tests in tests/test_gpu.py)
        "B": Dim("batch rows (1 with cu_seqlens)", 1, 3, gpu_hi=16),
        "T": Dim("tokens per row (1 = decode); all packed tokens with cu_seqlens", 1, 6, gpu_hi=64),
        "H": Dim("query/key heads", 1, 3, gpu_hi=8),
        "HV": Dim("value heads, a multiple of H (grouped value heads)", 1, 8, gpu_hi=32),
        "K": Dim("key head dim, <= 256", 1, 48, gpu_hi=256),
        "V": Dim("value head dim", 1, 40, gpu_hi=256),
        "S": Dim("state pool slots", 1, 8, gpu_hi=64),
        "N": Dim("sequences (B, or len(cu_seqlens) - 1)", 1, 4, gpu_hi=64),
        "BT": Dim("packed token count of a/b given as [B*T, HV]"),
    },
    rules=[
        Rule("HV % H == 0", blame=("v", "HV"), why="each query/key head serves HV // H value heads"),
        Rule(f"K <= {MAX_K}", blame=("k", "K"), why="the kernel keeps one key block of next_pow2(K) <= 256"),
        Rule("BT == B * T", blame=("a", "BT"), why="packed gates [B*T, HV] cover every token"),
        Rule("cu_seqlens is None or B == 1", blame=("q", "B"), why="varlen packs all sequences on the T axis"),
        Rule(
            "cu_seqlens is not None or N == B",
            blame=("initial_state_indices", "N"),
            why="without cu_seqlens there is one sequence per batch row",
        ),
        Rule("softplus_beta > 0", blame=("softplus_beta", "-"), why="softplus(x, beta) divides by beta"),
    ],
    checks=[
        same_dtype("q", "k", "v"),
        unit_stride_last("q", "k", "v", "a", "b", "initial_state_source"),
        contiguous("A_log", "dt_bias", "initial_state_indices", "cu_seqlens"),
        _state_layout,
        _scale,
    ],
    finite=FLOAT_INPUTS,
    reference="shapecheck.kernels.reference:gated_delta_rule_reference",
    implementation="shapecheck.kernels.gdn:fused_sigmoid_gating_delta_rule_update",
    output_dtype_like="q",
    cases="shapecheck.contracts.gdn_cases:cases",
    examples="shapecheck.contracts.gdn_cases:examples",
    inputs="shapecheck.contracts.gdn_cases:inputs",
    regimes="shapecheck.contracts.gdn_cases:regimes",
    # What `--pin` may fix besides dimensions and parameters: the names `cases` reads from its overrides
    # (G: value heads per query/key head; spare_slots: pool slots beyond N).
    pins=(
        "G",
        "varlen",
        "spare_slots",
        "dtype",
        "pool_dtype",
        "layout",
        "l2norm",
        "scale",
        "softplus_beta",
        "softplus_threshold",
        "packed_gates",
        "strided_qkv",
        "index_dtype",
        "gate_dtype",
        "at_threshold",
        "zero_token",
        "indices",
    ),
)
