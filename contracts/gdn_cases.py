"""How the property engine draws and builds cases for the gated-delta-rule contract.

Dimensions couple here in ways independent draws would rarely hit (HV = H * G, B == 1 with cu_seqlens,
N == B without), so the strategy draws them in dependency order from the contract's `Dim` ranges. The
drawn case keeps structured inputs (cu_seqlens, slot indices) explicit so they shrink; tensor values come
from the seed.
"""

from __future__ import annotations

import random
from typing import Any, Optional

import torch
from hypothesis import strategies as st

from shapecheck.case import Case
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.profiles import Profile
from shapecheck.strategies import NO_OVERRIDES, Overrides, dim, seeds

# Every dtype the contract's annotations accept is drawn: the report names any that no case passed.
DTYPES = ("float32", "bfloat16", "float16")
POOL_DTYPES = ("float32", "bfloat16", "float16")
GATE_DTYPES = ("float32", "bfloat16", "float16")  # A_log, dt_bias
INDEX_DTYPES = ("int32", "int64")  # initial_state_indices and cu_seqlens


def _is_pow2(x: int) -> bool:
    return x & (x - 1) == 0


def cases(profile: Profile, overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[Case]:
    """Cases in dependency order; any dimension or option can be pinned through `overrides`.

    Under the `gpu` profile every case first draws one of `COMPILE_MENU`'s configurations, which fix what
    keys Triton's compile cache (dtypes, flags, layout, the K/V block classes, decode or multi-token), and
    draws the rest freely within it: a run then compiles a few dozen variants instead of one per case (a
    compilation costs ~0.9 s on an H200 host, a case ~15 ms), while every pair of compile-relevant values
    still meets in some case. The CPU interpreter compiles nothing: `ci` and `thorough` draw all of it freely.
    """
    D = GDN_DECODE.dims

    @st.composite
    def draw_case(draw: Any) -> Case:
        def pick(name: str, default: st.SearchStrategy[Any]) -> Any:
            return draw(overrides.get(name, default))

        menu = draw(st.sampled_from(COMPILE_MENU)) if profile.large else {}

        def fixed(name: str, free: st.SearchStrategy[Any]) -> Any:
            return pick(name, st.just(menu[name]) if name in menu else free)

        H = pick("H", dim(D["H"], profile))
        HV = pick("HV", overrides.get("G", st.integers(1, 4)).map(lambda g: H * g))
        # Multiples of 16 take the kernel's ALIGNED path (16-byte vector loads), which real models
        # (K = V = 128) always take; plain ranges rarely hit them.
        if menu:
            K = pick("K", _in_class(K_CLASSES[menu["k"]], menu["aligned"]))
            V = pick("V", _in_class(V_CLASSES[menu["v"]], menu["aligned"] or None))
        else:
            K = pick("K", st.one_of(dim(D["K"], profile), st.sampled_from((16, 32, 48))))
            V = pick("V", st.one_of(dim(D["V"], profile), st.sampled_from((16, 32))))
        varlen = fixed("varlen", st.booleans())
        decode = menu.get("decode")  # one token per sequence, several, or (no menu) either
        if varlen:
            B = 1
            if decode is None:
                N, T = pick("N", dim(D["N"], profile)), pick("T", dim(D["T"], profile))
            elif decode:  # at most one token per sequence on average: the kernel's decode launch
                N = pick("N", dim(D["N"], profile))
                T = pick("T", st.integers(1, N))
            else:
                N = pick("N", st.integers(D["N"].lo, D["N"].gpu_hi - 1))
                T = pick("T", st.integers(N + 1, D["T"].gpu_hi))
            cu_seqlens = draw(GDN_DECODE.markers["cu_seqlens"].strategy(T, N))
        else:
            B = pick("B", dim(D["B"], profile))
            free_t = st.one_of(st.just(1), dim(D["T"], profile))  # decode (T == 1) is the common call
            T = pick("T", free_t if decode is None else st.just(1) if decode else dim(D["T"], profile, lo=2))
            N, cu_seqlens = B, None
        S = N + pick("spare_slots", st.integers(0, 3))
        options = {
            "dtype": fixed("dtype", st.sampled_from(DTYPES)),
            "pool_dtype": fixed("pool_dtype", st.sampled_from(POOL_DTYPES)),
            "layout": fixed("layout", st.sampled_from(("kv", "vk"))),
            "l2norm": fixed("l2norm", st.booleans()),
            "scale": pick("scale", st.one_of(st.none(), st.floats(0.05, 2.0))),
            "softplus_beta": pick("softplus_beta", st.sampled_from((1.0, 0.5, 2.0))),
            "softplus_threshold": pick("softplus_threshold", st.sampled_from((20.0, 2.0))),
            "packed_gates": pick("packed_gates", st.booleans()),
            "strided_qkv": pick("strided_qkv", st.booleans()),
            "index_dtype": fixed("index_dtype", st.sampled_from(INDEX_DTYPES)),
            "gate_dtype": fixed("gate_dtype", st.sampled_from(GATE_DTYPES)),
            "at_threshold": pick("at_threshold", st.booleans()),  # one gate exactly at softplus's threshold
            "zero_token": pick("zero_token", st.booleans()),  # q = k = 0 at one token (l2norm's epsilon)
            "cu_seqlens": cu_seqlens,
            "varlen": varlen,  # decides whether cu_seqlens is given: a compile budget pins this, not the offsets
            "indices": pick("indices", GDN_DECODE.markers["initial_state_indices"].strategy(N, S)),
        }
        dims = {"B": B, "T": T, "H": H, "HV": HV, "K": K, "V": V, "S": S, "N": N}
        return Case(GDN_DECODE.name, dims, options, draw(seeds()))

    return draw_case()


# Compile-relevant classes for the `gpu` profile: the key block BK = next_pow2(K), and V either below every
# launch tile (BV = 16) or above every tile cap (BV = the layout's and T's cap); ALIGNED is its own factor.
K_CLASSES = {"k16": (9, 16), "k64": (33, 64), "k128": (65, 128), "k256": (129, 256)}
V_CLASSES = {"v16": (9, 16), "vbig": (33, 256)}
_FACTORS: dict[str, tuple[Any, ...]] = {
    "dtype": DTYPES,
    "pool_dtype": POOL_DTYPES,
    "gate_dtype": GATE_DTYPES,
    "index_dtype": INDEX_DTYPES,
    "varlen": (False, True),
    "l2norm": (False, True),
    "layout": ("kv", "vk"),
    "decode": (True, False),
    "k": tuple(K_CLASSES),
    "v": tuple(V_CLASSES),
    "aligned": (True, False),
}


def _in_class(bounds: tuple[int, int], aligned: Optional[bool]) -> st.SearchStrategy[int]:
    """Sizes in `bounds`: multiples of 16 when `aligned`, non-multiples when False, any when None."""
    lo, hi = bounds
    if aligned:
        return st.sampled_from([x for x in range(lo, hi + 1) if x % 16 == 0])
    return st.integers(lo, hi).filter(lambda x: aligned is None or x % 16 != 0)


def _factors_of(case: Case) -> Optional[dict[str, Any]]:
    """A case's compile configuration as `_FACTORS` values; None if its K or V is in no class."""
    d, o = case.dims, case.options
    k = [name for name, (lo, hi) in K_CLASSES.items() if lo <= d["K"] <= hi]
    v = [name for name, (lo, hi) in V_CLASSES.items() if lo <= d["V"] <= hi]
    if not (k and v):
        return None
    decode = d["T"] <= d["N"] if o["cu_seqlens"] is not None else d["T"] == 1
    return {
        **{n: o[n] for n in ("dtype", "pool_dtype", "gate_dtype", "index_dtype", "l2norm", "layout")},
        "varlen": o["cu_seqlens"] is not None,
        "decode": decode,
        "k": k[0],
        "v": v[0],
        "aligned": d["K"] % 16 == 0 and d["V"] % 16 == 0,
    }


def _pairwise_menu(seeded: list[dict[str, Any]], seed: int = 0, candidates: int = 40) -> list[dict[str, Any]]:
    """The `seeded` configurations plus as few more as a greedy covering array needs for every pair of values
    of two `_FACTORS` to occur in some row (deterministic): all pairwise interactions of the compile-relevant
    options in ~20 rows instead of the 4608 of the full product."""
    rng = random.Random(seed)
    names = list(_FACTORS)
    pairs = lambda row: {(p, row[p], q, row[q]) for i, p in enumerate(names) for q in names[i + 1 :]}
    rows = [dict(row) for row in {tuple(row.items()): row for row in seeded}.values()]
    uncovered = {
        (a, x, b, y) for i, a in enumerate(names) for b in names[i + 1 :] for x in _FACTORS[a] for y in _FACTORS[b]
    }
    for row in rows:
        uncovered -= pairs(row)
    while uncovered:
        (a, x, b, y) = min(uncovered, key=repr)  # each new row covers at least this pair
        options = [{**{n: rng.choice(_FACTORS[n]) for n in names}, a: x, b: y} for _ in range(candidates)]
        best = max(options, key=lambda row: len(pairs(row) & uncovered))
        rows.append(best)
        uncovered -= pairs(best)
    return rows


def inputs(case: Case, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Arguments of the kernel, rebuilt deterministically from the case (values from `case.seed`)."""
    d, o = case.dims, case.options
    B, T, H, HV, K, V, S = (d[x] for x in ("B", "T", "H", "HV", "K", "V", "S"))
    # Drawn on the target device (a CPU-side draw of a large pool, then a copy, dominated GPU runs); a case
    # therefore replays on the device it was drawn on, which the reproduction line names.
    gen = torch.Generator(device).manual_seed(case.seed)
    rand = lambda *shape: torch.randn(*shape, generator=gen, device=device)
    dtype, pool_dtype = getattr(torch, o["dtype"]), getattr(torch, o["pool_dtype"])
    if o["strided_qkv"]:  # q, k, v as views of one packed projection: token stride != H*K
        proj = rand(B, T, 2 * H * K + HV * V + 3).to(dtype)
        q = proj[..., : H * K].unflatten(-1, (H, K))
        k = proj[..., H * K : 2 * H * K].unflatten(-1, (H, K))
        v = proj[..., 2 * H * K : 2 * H * K + HV * V].unflatten(-1, (HV, V))
    else:
        q, k, v = rand(B, T, H, K).to(dtype), rand(B, T, H, K).to(dtype), rand(B, T, HV, V).to(dtype)
    if not o["l2norm"]:
        # Without in-kernel l2norm, callers pass normalised keys: the delta rule is only stable for
        # beta * |k|^2 < 2, and randn keys (|k|^2 ~ K) make the exact recurrence itself diverge (seen on the
        # GPU profile: |o| = 8.6e13 in fp64 at K=105, T=43), which tests arithmetic, not the kernel.
        k = (k.float() / K**0.5).to(dtype)
    if o.get("zero_token"):
        q, k = q.clone(), k.clone()
        q[0, 0], k[0, 0] = 0, 0
    a, b = rand(B, T, HV) * 3, rand(B, T, HV)  # a spans softplus's linear branch for low thresholds
    dt_bias = rand(HV)
    if o.get("at_threshold"):  # beta * (a + dt_bias) == threshold exactly, in every dtype drawn
        dt_bias[0] = 0
        a[..., 0] = o["softplus_threshold"] / o["softplus_beta"]
    if o["packed_gates"]:
        a, b = a.reshape(B * T, HV), b.reshape(B * T, HV)
    pool_shape = (S, HV, K, V) if o["layout"] == "kv" else (S, HV, V, K)
    cu = o["cu_seqlens"]
    gate_dtype = getattr(torch, o.get("gate_dtype", "float32"))
    args = {
        "A_log": (rand(HV) * 0.5 - 1.0).to(gate_dtype),
        "a": a.to(dtype),
        "dt_bias": dt_bias.to(gate_dtype),
        "softplus_beta": o["softplus_beta"],
        "softplus_threshold": o["softplus_threshold"],
        "q": q,
        "k": k,
        "v": v,
        "b": b.to(dtype),
        "initial_state_source": rand(*pool_shape).to(pool_dtype),
        "initial_state_indices": torch.tensor(o["indices"], dtype=getattr(torch, o["index_dtype"])),
        "scale": o["scale"],
        "use_qk_l2norm_in_kernel": o["l2norm"],
        "cu_seqlens": None if cu is None else torch.tensor(cu, dtype=getattr(torch, o["index_dtype"])),
        "state_layout": o["layout"],
    }
    return {name: x.to(device) if isinstance(x, torch.Tensor) else x for name, x in args.items()}  # indices, cu_seqlens


def regimes(case: Case) -> set[str]:
    """The behaviours a case exercises, for the coverage table."""
    d, o = case.dims, case.options
    cu, idx = o["cu_seqlens"], o["indices"]
    found = {f"layout={o['layout']}", f"dtype={o['dtype']}", f"pool={o['pool_dtype']}"}
    found |= {
        name
        for name, hit in [
            ("decode", cu is None and d["T"] == 1),
            ("multi-token", cu is None and d["T"] > 1),
            ("varlen", cu is not None),
            ("zero-length seq", cu is not None and any(e == s for s, e in zip(cu[:-1], cu[1:]))),
            ("padding slot", -1 in idx),
            ("unused slots", d["S"] > len([i for i in idx if i >= 0])),
            ("grouped heads", d["HV"] > d["H"]),
            ("non-pow2", not (_is_pow2(d["K"]) and _is_pow2(d["V"]))),
            ("K!=V", d["K"] != d["V"]),
            ("l2norm", o["l2norm"]),
            ("custom scale", o["scale"] is not None),
            ("packed gates", o["packed_gates"]),
            ("strided qkv", o["strided_qkv"]),
            ("aligned K,V", d["K"] % 16 == 0 and d["V"] % 16 == 0),
            ("bf16 gates", o.get("gate_dtype") == "bfloat16"),
            ("gate at threshold", o.get("at_threshold", False)),
            ("zero q/k token", o.get("zero_token", False)),
        ]
        if hit
    }
    return found


# Hand-picked cases, one per regime, that every property run adds to its drawn cases: random draws favour
# small shapes and rarely combine B >= 2 with T >= 2 outside varlen, which let
# mutants swapping batch and token strides survive (bench/results/mutation_cpu.md). Also the kernel test table.
BASE_OPTIONS: dict[str, Any] = {
    "dtype": "float32",
    "pool_dtype": "float32",
    "layout": "kv",
    "l2norm": False,
    "scale": None,
    "softplus_beta": 1.0,
    "softplus_threshold": 20.0,
    "packed_gates": False,
    "strided_qkv": False,
    "index_dtype": "int32",
    "cu_seqlens": None,
    "gate_dtype": "float32",
    "at_threshold": False,
    "zero_token": False,
}


def _case(
    B: int = 2,
    T: int = 1,
    H: int = 2,
    HV: int = 4,
    K: int = 48,
    V: int = 40,
    S: int = 4,
    indices: tuple[int, ...] = (2, 0),
    seed: int = 0,
    **options: Any,
) -> Case:
    dims = {"B": B, "T": T, "H": H, "HV": HV, "K": K, "V": V, "S": S, "N": len(indices)}
    chosen = {**BASE_OPTIONS, "indices": list(indices), **options}
    return Case(GDN_DECODE.name, dims, {**chosen, "varlen": chosen["cu_seqlens"] is not None}, seed)


EXAMPLES: dict[str, Case] = {
    "decode T=1": _case(),
    "multi-token T=5, B=2": _case(T=5),
    "varlen with a zero-length sequence": _case(B=1, T=6, indices=(1, 3, 0), cu_seqlens=[0, 2, 2, 6]),
    "padding index -1": _case(indices=(-1, 1)),
    "unused slots": _case(S=6, indices=(5, 2)),
    "HV = 4 H (grouped)": _case(H=1, HV=4),
    "HV = H": _case(H=3, HV=3),
    "K=48 V=40 non-pow2, kv": _case(K=48, V=40),
    "K=48 V=40 non-pow2, vk": _case(K=48, V=40, layout="vk"),
    "K=33 V=65 (two V blocks), vk": _case(K=33, V=65, layout="vk"),
    "K=32 V=16 aligned, multi-token": _case(K=32, V=16, T=3),
    "bf16 inputs": _case(dtype="bfloat16"),
    "fp16 inputs": _case(dtype="float16"),
    "bf16 pool": _case(pool_dtype="bfloat16", T=3),
    "bf16 pool, vk, varlen": _case(B=1, T=4, indices=(0, -1), pool_dtype="bfloat16", layout="vk", cu_seqlens=[0, 3, 4]),
    "l2norm on, a zero q/k token": _case(l2norm=True, T=3, zero_token=True),
    "softplus linear branch, a gate at the threshold": _case(
        softplus_threshold=2.0, softplus_beta=2.0, T=3, at_threshold=True
    ),
    # The case above straddles softplus's jump at the threshold, so its noisy copies' float32 floor (0.6%) bounds
    # it loosely: a kernel without the threshold (0.35% off there) held. Off the threshold it is caught (0.43%).
    "softplus linear branch, gates off the threshold": _case(softplus_threshold=2.0, softplus_beta=2.0, T=3),
    "bf16 gate parameters": _case(gate_dtype="bfloat16", T=2),
    "custom scale": _case(scale=0.3),
    "packed gates [B*T, HV]": _case(T=3, packed_gates=True),
    "strided q/k/v views": _case(T=3, strided_qkv=True),
    "int64 indices": _case(index_dtype="int64"),
    "K=256 (largest key block)": _case(B=1, K=256, V=8, indices=(1,)),
}


# The regime examples' own configurations come first, so the drawn cases add few compilations of their own.
COMPILE_MENU = _pairwise_menu([f for f in map(_factors_of, EXAMPLES.values()) if f is not None])


def examples(profile: Profile) -> dict[str, Case]:
    """The regime cases every property run adds, by name (the same under every profile)."""
    return dict(EXAMPLES)
