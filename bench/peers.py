"""Our decode kernel next to the kernels users would pick instead, in one run on the same inputs (issue 11).

Peers, taken from their PyPI wheels at run time (never committed, never copied into this repository):
  - SGLang's `fused_sigmoid_gating_delta_rule_update` (sglang==0.5.23, file
    sglang/kernels/ops/attention/linear/fused_sigmoid_gating_recurrent.py): K-last pool `[S,HV,V,K]` with
    slot indices, i.e. our `state_layout="vk"`. It imports a few sglang helpers (device queries); they are
    stubbed here with what they answer on this device, so sglang's dependency tree is not needed.
  - fla-core's `fused_recurrent_gated_delta_rule` (fla-core==0.6.0) with the gate fused in the kernel
    (`use_gate_in_kernel`, `use_beta_sigmoid_in_kernel`; `state_v_first` for the K-last layout). It has no
    pool: it reads `initial_state [N,HV,...]` and writes a new fp32 final state, the same traffic for an fp32
    pool (the rows are gathered once, outside the timing).

Get the wheels first (any machine with pip):  pip download --no-deps sglang==0.5.23 fla-core==0.6.0 -d .peers
    python bench/peers.py --peers .peers [--sweep] [--baseline old_gdn.py]

Every implementation runs on the same input sets; before timing, each one's output and written state are
compared with `kernels/reference.py` (fp32 compute) on set 0, and ours with SGLang's directly. Timing:
`triton.testing.do_bench_cudagraph` median (one CUDA graph of back-to-back launches, no host launch cost),
each launch on the next of R rotating input sets whose bytes together are >= 3x the L2, so no launch reads
state hot in L2. Copy bandwidth: a 1 GiB device-to-device copy timed the same way, in the same run.

`--sweep` times launch-config variants of our kernel (tile BV, warps, stages, PDL) through the real
wrapper's code with another configuration (`gdn.with_launch_config`), each checked against the reference
first. Triton compiles for every variant are done up front in parallel worker processes (they fill
Triton's disk cache).
`--baseline FILE` adds another version of kernels/gdn.py (e.g. main's) as a row, for a before/after in one run.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import os
import sys
import tempfile
import types
import zipfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernel as kb  # bench/kernel.py: input sets, byte counts, reference, error metric

from shapecheck.kernels import gdn

H, HV, K, V = 16, 32, 128, 128
BF16, FP32 = torch.bfloat16, torch.float32
# (N, T, activation dtype, pool dtype): the issue's table plus T = 16
ROWS = [
    (1, 1, BF16, FP32),
    (32, 1, BF16, FP32),
    (256, 1, BF16, FP32),
    (1024, 1, BF16, FP32),
    (256, 1, BF16, BF16),
    (256, 1, FP32, FP32),
    (64, 4, BF16, FP32),
    (8, 16, BF16, FP32),
    (8, 64, BF16, FP32),
]
SGLANG_FILE = "sglang/kernels/ops/attention/linear/fused_sigmoid_gating_recurrent.py"
SMALL_N = 32  # rows this small are timed in several interleaved rounds
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # cpu: --smoke, under the interpreter


# ----------------------------------------------------------------------------------------------------
# Peers from their wheels
# ----------------------------------------------------------------------------------------------------
def _extract(wheel_glob: str, peers: Path, members: Callable[[str], bool], into: Path) -> None:
    [wheel] = sorted(peers.glob(wheel_glob))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(into, [m for m in z.namelist() if members(m)])


def _package(name: str, path: Path, **attrs: Any) -> types.ModuleType:
    """An importable package whose __init__ is not run (it would import the peer's whole tree)."""
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


@functools.lru_cache(maxsize=None)
def load_peers(peers: Path) -> dict[str, Callable[..., Any]]:
    """SGLang's and fla-core's entry points, imported from files extracted out of the wheels in `peers`."""
    root = Path(tempfile.mkdtemp(prefix="peers_"))
    _extract("sglang-*.whl", peers, lambda m: m == SGLANG_FILE, root)
    _extract("fla_core-*.whl", peers, lambda m: m.startswith("fla/"), root)
    major, minor = torch.cuda.get_device_capability() if DEVICE.type == "cuda" else (0, 0)
    # The helpers the SGLang file imports, answering for this device.
    for name in ("sglang", "sglang.kernels", "sglang.kernels.jit", "sglang.srt"):
        _package(name, root / name.replace(".", "/"))
    utils = types.ModuleType("sglang.srt.utils")
    utils.is_cuda = lambda: DEVICE.type == "cuda"
    utils.is_hip, utils.is_gfx95_supported = (lambda: False), (lambda: False)
    utils.get_device_sm = lambda: major * 10 + minor
    utils.is_sm90_supported = lambda: major == 9
    jit_utils = types.ModuleType("sglang.kernels.jit.utils")
    jit_utils.is_arch_support_pdl = lambda: major >= 9
    sys.modules.update({"sglang.srt.utils": utils, "sglang.kernels.jit.utils": jit_utils})
    spec = importlib.util.spec_from_file_location("sglang_gdn_peer", root / SGLANG_FILE)
    sglang = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sglang)
    for name in ("fla", "fla.ops", "fla.ops.gated_delta_rule"):  # skip fla's __init__ chain (models, layers)
        _package(name, root / name.replace(".", "/"), __version__="0.6.0")
    from fla.ops.gated_delta_rule.fused_recurrent import fused_recurrent_gated_delta_rule

    return {"sglang": sglang.fused_sigmoid_gating_delta_rule_update, "fla": fused_recurrent_gated_delta_rule}


# ----------------------------------------------------------------------------------------------------
# Calls on one input set (a dict as bench/kernel.py's make_sets builds)
# ----------------------------------------------------------------------------------------------------
def ours(s: dict, cfg: Optional[tuple[int, int, int, int]] = None) -> Callable[[], Any]:
    """Our wrapper, unchecked: the heuristic's launch configuration, or `cfg` = (BV, warps, stages, pdl)."""
    fn = (
        gdn.fused_sigmoid_gating_delta_rule_update.__wrapped__
        if cfg is None
        else gdn.with_launch_config(*cfg[:3], bool(cfg[3]))
    )
    return lambda: fn(**s)


def sglang_call(fn: Callable[..., Any], s: dict) -> Callable[[], Any]:
    args = {k: x for k, x in s.items() if k != "state_layout"}
    return lambda: fn(**args)


def fla_call(fn: Callable[..., Any], s: dict, h0: torch.Tensor) -> Callable[[], Any]:
    N, T = s["q"].shape[:2]
    g, beta = s["a"].view(N, T, HV), s["b"].view(N, T, HV)
    return lambda: fn(
        s["q"],
        s["k"],
        s["v"],
        g=g,
        beta=beta,
        A_log=s["A_log"],
        dt_bias=s["dt_bias"],
        initial_state=h0,
        output_final_state=True,
        use_qk_l2norm_in_kernel=True,
        use_gate_in_kernel=True,
        use_beta_sigmoid_in_kernel=True,
        state_v_first=s["state_layout"] == "vk",
    )


def fla_states(sets: list[dict]) -> list[torch.Tensor]:
    """fla-core takes one state per sequence, not a pool: each set's rows, gathered once."""
    return [s["initial_state_source"][s["initial_state_indices"].long()].contiguous() for s in sets]


# ----------------------------------------------------------------------------------------------------
# Our launch variants (for --sweep): the real wrapper launching with another configuration (gdn.with_launch_config)
# ----------------------------------------------------------------------------------------------------
# (BV, num_warps, num_stages, pdl). The first sweep (bench/results/h200_sweep/) also varied a next-token
# prefetch, now always on: without it T=64 ran 1.5-1.7x slower.
DECODE_VARIANTS = [
    (4, 1, 2, 1),
    (8, 1, 2, 1),
    (16, 1, 2, 1),
    (32, 1, 2, 1),
    (64, 1, 2, 1),
    (32, 2, 2, 1),
    (64, 2, 2, 1),
    (128, 4, 2, 1),
    (32, 1, 2, 0),
    (8, 1, 2, 0),
    (32, 1, 3, 1),
]
MULTI_VARIANTS = [(4, 1, 2, 1), (8, 1, 2, 1), (16, 1, 2, 1), (32, 1, 2, 1), (64, 2, 2, 1), (16, 2, 2, 1)]


def variant_name(cfg: Optional[tuple]) -> str:
    if cfg is None:
        return "heuristic"
    BV, w, st, pdl = cfg
    return f"BV{BV} w{w} s{st}{' pdl' if pdl else ''}"


def without_pdl(T: int, layout: str) -> tuple[int, int, int, int]:
    """The heuristic's own configuration for a row, with programmatic dependent launch off."""
    return (*gdn.launch_config(T, V, layout), 0)


def _warm(job: tuple) -> str:
    """Worker: compile one implementation/variant for one row's dtypes, layout and T by one launch.

    Only SGLang's kernel keys on the batch size (its B is a constexpr); the others launch with N = 2.
    """
    impl, cfg, N, T, act, pool, layout, peers, baseline = job
    _, sets = kb.make_sets(N, T, H, HV, K, V, act, pool, layout, DEVICE, 1)
    s = sets[0]
    if impl == "ours":
        ours(s, cfg)()
    elif impl == "baseline":
        load_baseline(baseline)(**s)
    elif impl == "sglang":
        sglang_call(load_peers(peers)["sglang"], s)()
    else:
        fla_call(load_peers(peers)["fla"], s, fla_states(sets)[0])()
    torch.cuda.synchronize()
    return f"{impl} {variant_name(cfg)}"


def warm_compiles(jobs: list[tuple], workers: int) -> None:
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for job, done in zip(jobs, pool.map(_warm_or_say, jobs)):
            if done.startswith("failed"):
                print(f"warm-up {job[:3]}: {done}", flush=True)


def _warm_or_say(job: tuple) -> str:
    try:
        return _warm(job)
    except Exception as exc:  # noqa: BLE001 - the measurement reports it again, per row
        return f"failed: {type(exc).__name__}: {str(exc).strip()[:200]}"


# ----------------------------------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------------------------------
def graph_us(calls: list[Callable[[], Any]], rep: int) -> float:
    """do_bench_cudagraph median, µs per launch, each launch on the next rotating input set."""
    i = [0]

    def step() -> None:
        calls[i[0] % len(calls)]()
        i[0] += 1

    return triton.testing.do_bench_cudagraph(step, rep=rep, return_mode="median") * 1e3


@triton.jit
def _copy_kernel(src, dst, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst + offs, tl.load(src + offs, mask=offs < n), mask=offs < n)


def copy_bandwidths(rep: int) -> dict[str, float]:
    """Bytes/s (read + write) of a 1 GiB device-to-device copy three ways: torch's copy_ in a CUDA graph (a
    memcpy node), the same by do_bench events, and a Triton streaming kernel in a graph. The ceiling is the
    best of them."""
    n = 2**28
    src = torch.randn(n, device="cuda")
    dst = torch.empty_like(src)
    triton_copy = lambda: _copy_kernel[(triton.cdiv(n, 4096),)](src, dst, n, BLOCK=4096, num_warps=4)
    triton_copy()
    us = {
        "memcpy graph": graph_us([lambda: dst.copy_(src)], rep),
        "memcpy events": triton.testing.do_bench(lambda: dst.copy_(src), rep=4 * rep, return_mode="median") * 1e3,
        "triton graph": graph_us([triton_copy], rep),
    }
    assert torch.equal(dst, src)
    return {name: 2 * 4 * n / (t * 1e-6) for name, t in us.items()}


def state_bytes(N: int, pool: torch.dtype, out_dtype: Optional[torch.dtype] = None) -> int:
    """State bytes read + written; fla-core writes its final state in fp32 whatever it read."""
    e_in, e_out = pool.itemsize, (out_dtype or pool).itemsize
    return N * HV * K * V * (e_in + e_out)


def agreement(call: Callable[[], Any], ref: tuple, rows: Callable[[Any], torch.Tensor]) -> tuple[float, Any]:
    """(max rel. RMS error of o and written state vs the reference, the output) for one call on set 0."""
    o_ref, rows_ref, _ = ref
    result = call()
    o = result[0] if isinstance(result, tuple) else result
    return max(kb.rel_rms(o, o_ref), kb.rel_rms(rows(result), rows_ref)), o


def measure_row(
    N: int,
    T: int,
    act: torch.dtype,
    pool_dtype: torch.dtype,
    layout: str,
    impls: dict,
    variants: list,
    rep: int,
    sweep_rep: int,
    l2: int,
    rounds: int = 1,
) -> list[dict]:
    """Check every implementation on set 0, then time them in `rounds` interleaved rounds (the best median
    counts: small rows are at the mercy of clocks and launch queues, and interleaving gives each the same)."""
    per_set = kb.bytes_moved(N, T, H, HV, K, V, act, pool_dtype)
    R = kb.rotation_count(per_set, l2)
    pool, sets = kb.make_sets(N, T, H, HV, K, V, act, pool_dtype, layout, DEVICE, R)
    ref = kb.reference_on(sets[0])
    orig = pool.clone()  # the timing loops advance `pool`: every check starts from this snapshot
    slots = sets[0]["initial_state_indices"].long()
    acts = per_set - state_bytes(N, pool_dtype)
    base = dict(N=N, T=T, act=str(act)[6:], pool=str(pool_dtype)[6:], layout=layout, R=R)
    out, o_ours, pending = [], None, []

    def run(
        impl: str,
        name: str,
        calls: list,
        rows: Callable[[Any], torch.Tensor],
        bytes_: int,
        check: Callable[[], Any],
        cfg: Optional[tuple] = None,
    ) -> None:
        nonlocal o_ours
        row = dict(base, impl=impl, variant=name, err=math.nan, bytes=bytes_, us=math.nan, us_rounds=[])
        out.append(row)
        try:  # a variant or peer that fails to compile or launch is recorded, not fatal to the run
            row["err"], o = agreement(check, ref, rows)
            if impl == "ours" and name == "heuristic":
                o_ours = o
            if impl == "sglang" and o_ours is not None:
                row["vs_ours"] = kb.rel_rms(o, o_ours)
            reps = sweep_rep if cfg else rep
            if reps and row["err"] < (1e-2 if act == BF16 or pool_dtype == BF16 else 1e-4):
                pending.append((row, calls, reps))
        except Exception as exc:  # noqa: BLE001
            row["failed"] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"

    def on_clone(make: Callable[[dict], Callable[[], Any]]) -> tuple[Callable[[], Any], torch.Tensor]:
        p = orig.clone()
        return make(dict(sets[0], initial_state_source=p)), p

    for cfg in [None, *variants]:
        check, p = on_clone(lambda s, cfg=cfg: ours(s, cfg))
        run("ours", variant_name(cfg), [ours(s, cfg) for s in sets], lambda _r, p=p: p[slots], per_set, check, cfg)
    if "baseline" in impls:
        check, p = on_clone(lambda s: lambda: impls["baseline"](**s))
        run(
            "baseline",
            "main",
            [lambda s=s: impls["baseline"](**s) for s in sets],
            lambda _r, p=p: p[slots],
            per_set,
            check,
        )
    if layout == "vk" and "sglang" in impls:
        check, p = on_clone(lambda s: sglang_call(impls["sglang"], s))
        run(
            "sglang",
            "0.5.23",
            [sglang_call(impls["sglang"], s) for s in sets],
            lambda _r, p=p: p[slots],
            per_set,
            check,
        )
    if "fla" in impls:
        h0 = fla_states(sets)
        run(
            "fla",
            "0.6.0",
            [fla_call(impls["fla"], s, h) for s, h in zip(sets, h0)],
            lambda r: r[1],
            acts + state_bytes(N, pool_dtype, FP32),
            fla_call(impls["fla"], sets[0], fla_states([dict(sets[0], initial_state_source=orig)])[0]),
        )
    for _ in range(rounds):
        for row, calls, reps in pending:
            try:
                row["us_rounds"].append(graph_us(calls, reps))
            except Exception as exc:  # noqa: BLE001
                row["failed"] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
    for row in out:
        row["us"] = min(row["us_rounds"], default=math.nan)
        print(json.dumps(row), flush=True)
    return out


# ----------------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------------
def _f(x: Optional[float], fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def peers_table(rows: list[dict], copy_bw: float, header: str) -> str:
    def get(N, T, act, pool, layout, impl, name=None):
        for r in rows:
            if (r["N"], r["T"], r["act"], r["pool"], r["layout"], r["impl"]) == (N, T, act, pool, layout, impl) and (
                name is None or r["variant"] == name
            ):
                return r
        return None

    frac = lambda r: None if r is None else r["bytes"] / (r["us"] * 1e-6) / copy_bw
    us = lambda r: None if r is None else r["us"]
    lines = [
        header,
        "",
        "| N | T | act | pool | ours vk µs | ours kv µs | SGLang µs | fla vk µs | fla kv µs | main vk / kv µs | "
        "ours vk / SGLang speed | ours kv / SGLang speed | ours frac vk | ours frac kv | SGLang frac | "
        "fla frac vk | err ours vk / kv | err SGLang | err fla vk | ours vs SGLang |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    present = {(r["N"], r["T"], r["act"], r["pool"]) for r in rows}
    for N, T, act, pool in [(N, T, str(a)[6:], str(p)[6:]) for N, T, a, p in ROWS]:
        if (N, T, act, pool) not in present:
            continue
        ovk, okv = get(N, T, act, pool, "vk", "ours", "heuristic"), get(N, T, act, pool, "kv", "ours", "heuristic")
        sg = get(N, T, act, pool, "vk", "sglang")
        fvk, fkv = get(N, T, act, pool, "vk", "fla"), get(N, T, act, pool, "kv", "fla")
        mvk, mkv = get(N, T, act, pool, "vk", "baseline"), get(N, T, act, pool, "kv", "baseline")
        speed = lambda o, sg=sg: None if o is None or sg is None else sg["us"] / o["us"]
        lines.append(
            f"| {N} | {T} | {act} | {pool} | {_f(us(ovk), '.1f')} | {_f(us(okv), '.1f')} | {_f(us(sg), '.1f')} | "
            f"{_f(us(fvk), '.1f')} | {_f(us(fkv), '.1f')} | {_f(us(mvk), '.1f')} / {_f(us(mkv), '.1f')} | "
            f"**{_f(speed(ovk), '.2f')}** | "
            f"{_f(speed(okv), '.2f')} | {_f(frac(ovk), '.2f')} | {_f(frac(okv), '.2f')} | "
            f"{_f(frac(sg), '.2f')} | {_f(frac(fvk), '.2f')} | "
            f"{_f(ovk and ovk['err'], '.1e')} / {_f(okv and okv['err'], '.1e')} | {_f(sg and sg['err'], '.1e')} | "
            f"{_f(fvk and fvk['err'], '.1e')} | {_f(sg and sg.get('vs_ours'), '.1e')} |"
        )
    return "\n".join(lines) + "\n"


def rounds_table(rows: list[dict]) -> str:
    """Rows timed in several interleaved rounds: every implementation's best and median round."""
    lines = ["| N | T | layout | implementation | best µs | median µs | rounds |", "|---:|---:|---|---|---:|---:|---|"]
    for r in rows:
        if len(r["us_rounds"]) > 1:
            rs = sorted(r["us_rounds"])
            lines.append(
                f"| {r['N']} | {r['T']} | {r['layout']} | {r['impl']} {r['variant']} | {rs[0]:.2f} | "
                f"{rs[len(rs) // 2]:.2f} | {', '.join(f'{x:.1f}' for x in r['us_rounds'])} |"
            )
    return "\n".join(lines) + "\n"


def sweep_table(rows: list[dict], copy_bw: float) -> str:
    lines = [
        "| N | T | act | pool | layout | best variants (µs, frac of copy BW) | heuristic µs | SGLang µs |",
        "|---:|---:|---|---|---|---|---:|---:|",
    ]
    cases = sorted({(r["T"], r["N"], r["act"], r["pool"], r["layout"]) for r in rows})
    for T, N, act, pool, layout in cases:
        mine = [r for r in rows if (r["T"], r["N"], r["act"], r["pool"], r["layout"]) == (T, N, act, pool, layout)]
        ours_ = sorted(
            [r for r in mine if r["impl"] == "ours" and r["variant"] != "heuristic"],
            key=lambda r: (math.isnan(r["us"]), r["us"]),
        )
        best = "; ".join(
            f"{r['variant']} {r['us']:.1f} ({r['bytes'] / (r['us'] * 1e-6) / copy_bw:.2f})" for r in ours_[:5]
        )
        heur = [r["us"] for r in mine if r["impl"] == "ours" and r["variant"] == "heuristic"]
        sg = [r["us"] for r in rows if (r["T"], r["N"], r["act"], r["pool"], r["impl"]) == (T, N, act, pool, "sglang")]
        lines.append(
            f"| {N} | {T} | {act} | {pool} | {layout} | {best} | {_f(heur[0] if heur else None, '.1f')} | "
            f"{_f(sg[0] if sg else None, '.1f')} |"
        )
    return "\n".join(lines) + "\n"


def load_baseline(path: Path) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location("baseline_gdn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fused_sigmoid_gating_delta_rule_update.__wrapped__


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", type=Path, default=Path(".peers"), help="folder holding the two wheels")
    ap.add_argument("--sweep", action="store_true", help="also time launch-config variants of our kernel")
    ap.add_argument("--baseline", type=Path, help="another kernels/gdn.py to time as a row (e.g. main's)")
    ap.add_argument("--rep", type=int, default=25, help="do_bench_cudagraph rep (ms) for the table")
    ap.add_argument("--sweep-rep", type=int, default=10)
    ap.add_argument("--variants", help="with --sweep: 'BV,warps,stages,pdl;...' instead of the built-in lists")
    ap.add_argument("--layouts", default="vk,kv", help="pool layouts to measure, comma-separated")
    ap.add_argument("--min-n", type=int, default=0, help="only the rows with N at least this (a shorter sweep)")
    ap.add_argument("--rounds", type=int, default=5, help=f"interleaved timing rounds for rows with N <= {SMALL_N}")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="agreement only, two small rows, no timing (runs on CPU under the interpreter)",
    )
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench/results")))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows_wanted = [(1, 1, BF16, FP32), (2, 3, FP32, FP32)] if args.smoke else [r for r in ROWS if r[0] >= args.min_n]
    layouts = args.layouts.split(",")
    chosen = [tuple(int(x) for x in v.split(",")) for v in args.variants.split(";")] if args.variants else None

    def variants_of(N: int, T: int, layout: str) -> list[tuple]:
        if args.sweep:
            return chosen or (DECODE_VARIANTS if T == 1 else MULTI_VARIANTS)
        return [without_pdl(T, layout)] if N <= SMALL_N else []  # what PDL buys where launches dominate

    if DEVICE.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        name, l2 = props.name, props.L2_cache_size
        where = f"{props.multi_processor_count} SMs, L2 {l2 / 2**20:.0f} MiB"
    else:
        name, l2, where = "cpu", 50 * 2**20, "Triton interpreter"
    header = (
        f"# Decode kernel vs peers: {name}\n\ntorch {torch.__version__}, triton {triton.__version__}, "
        f"CUDA {torch.version.cuda}; {where}"
    )
    print(header, flush=True)
    if not args.smoke:
        # Our variants and fla-core's kernel key on no dimension here; SGLang's on N and next_pow2(T), the
        # launch heuristics (ours, main's) on N and T.
        jobs = {
            (impl, cfg, *((2, 1) if cfg or impl == "fla" else (N, T)), a, p, lay, args.peers, args.baseline)
            for N, T, a, p in rows_wanted
            for lay in layouts
            for impl, cfg in [
                ("ours", None),
                *(("ours", c) for c in variants_of(N, T, lay)),
                ("fla", None),
                *([("sglang", None)] if lay == "vk" else []),
                *([("baseline", None)] if args.baseline else []),
            ]
        }
        warm_compiles(sorted(jobs, key=str), args.workers)
        print(f"warmed {len(jobs)} compiles with {args.workers} workers", flush=True)
    impls: dict[str, Any] = load_peers(args.peers)
    if args.baseline:
        impls["baseline"] = load_baseline(args.baseline)
    copies = {} if args.smoke else copy_bandwidths(args.rep)
    copy_bw = max(copies.values(), default=math.nan)
    copy_text = ", ".join(f"{name} {bw / 1e12:.2f}" for name, bw in copies.items())
    print(f"copy bandwidth (TB/s, read + write): {copy_text}", flush=True)
    rows: list[dict] = []
    for N, T, act, pool in rows_wanted:
        for layout in layouts:
            rows += measure_row(
                N,
                T,
                act,
                pool,
                layout,
                impls,
                variants_of(N, T, layout),
                0 if args.smoke else args.rep,
                0 if args.smoke else args.sweep_rep,
                l2,
                rounds=args.rounds if N <= SMALL_N else 1,
            )
            if DEVICE.type == "cuda":
                torch.cuda.empty_cache()  # the row's input sets are gone with measure_row's frame
    if args.smoke:
        bad = [r for r in rows if not r["err"] < 1e-2]
        print(f"smoke: {len(rows) - len(bad)}/{len(rows)} calls agree with the reference")
        sys.exit(1 if bad else 0)
    header += (
        f"; copy bandwidth {copy_bw / 1e12:.2f} TB/s, the best of three ways to copy 1 GiB device to device "
        f"(TB/s, read + write, same run: {copy_text}). "
        "H=16, HV=32, K=V=128, l2norm on; µs = do_bench_cudagraph median per launch over rotating input "
        "sets (>= 3x L2); frac = bytes (state read + written, q/k/v/a/b read, o written) / time / copy "
        "bandwidth; fla-core writes an fp32 final state (counted); err = max rel. RMS error of o and the "
        "written state vs kernels/reference.py (fp32); `ours vs SGLang` = rel. RMS difference of o. "
        "`main` = kernels/gdn.py as on main before this change."
    )
    table = peers_table(rows, copy_bw, header)
    tag = kb.file_tag(name)
    sweep = "\n## Sweep\n\n" + sweep_table(rows, copy_bw) if args.sweep else ""
    sweep += (
        f"\n## Rows with N <= {SMALL_N}, {args.rounds} interleaved rounds (the table above shows the best)\n\n"
        + rounds_table(rows)
    )
    (args.out / f"peers_{tag}.md").write_text(table + sweep)
    dump = dict(copy_bw=copy_bw, copies=copies, rows=rows)
    (args.out / f"peers_{tag}.json").write_text(json.dumps(dump, indent=0))
    print("\n" + table + sweep)


if __name__ == "__main__":
    main()
