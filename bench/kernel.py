"""Benchmark and GPU correctness check of the gated-delta-rule decode kernel (issue 5).

Modes (several may be given; they run in this order):
  --check   correctness on fresh random inputs against `kernels.reference` (float64), output poisoned with
            NaN before each call, pool rows compared (touched rows by error, untouched rows bit for bit);
            K != V shapes, both layouts, varlen with a zero-length sequence, padding index -1, strided
            q/k/v views, packed a/b, a slot offset past 2**31 elements (GPU only).
  --bench   the table: decode T=1 at N in {1, 8, 64, 256, 1024}, multi-token T in {16, 256} at N=8,
            fp32 and bf16 pools, both layouts, against `kernels.reference` (the project's one PyTorch
            reference) eager and under torch.compile(dynamic=True).
Without a GPU only --check runs (small cases, the kernel under TRITON_INTERPRET=1); --bench needs CUDA.
The launch-config sweep lives in bench/peers.py --sweep (through the wrapper, next to the peers).

Timing: `triton.testing.do_bench` (CUDA events around each call, L2 flushed before each call by do_bench),
median, after warm-up, over several rotating sets of inputs and state-pool rows (so a set is never hot in
L2, 50 MB on an H100). The kernel is called through the undecorated wrapper (`__wrapped__`), so contract
checks are not in the numbers (bench/overhead.py measures them).

Bytes counted once per call: state rows read + written, q, k, v, a, b read, o written (indices and the
per-head parameters too). Bandwidth is given as a fraction of a large device-to-device copy measured in
the same run (bytes read + written).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import torch

ROOT = Path(__file__).resolve().parent.parent

if not torch.cuda.is_available():  # CPU: kernels run through Triton's interpreter (set before any @triton.jit)
    os.environ.setdefault("TRITON_INTERPRET", "1")

import triton  # noqa: E402

from shapecheck import harness  # noqa: E402
from shapecheck.contracts.gdn import GDN_DECODE  # noqa: E402
from shapecheck.dims import dtype_name  # noqa: E402
from shapecheck.harness import relative_rms  # noqa: E402
from shapecheck.kernels import gdn  # noqa: E402
from shapecheck.kernels.reference import gated_delta_rule_reference  # noqa: E402

KERNEL_CALL = gdn.fused_sigmoid_gating_delta_rule_update.__wrapped__  # undecorated: no contract checks
CHECKED_CALL = gdn.fused_sigmoid_gating_delta_rule_update


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------
def rel_rms(x: torch.Tensor, ref: torch.Tensor) -> float:
    """shapecheck's error metric; inf for a result with a NaN/inf, so the worst of several is a max()."""
    return relative_rms(x, ref) if torch.isfinite(x).all() else math.inf


def reference_on(s: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`kernels.reference` on input set `s` (fp32 compute, pool untouched): o rounded to the kernel's output
    dtype (q's), the written pool rows, and their slots."""
    o, new_pool = gated_delta_rule_reference(**s)
    slots = s["initial_state_indices"].long()
    return o.to(s["q"].dtype), new_pool[slots], slots


def error_vs(ref: tuple[torch.Tensor, torch.Tensor, torch.Tensor], o: torch.Tensor, pool: torch.Tensor) -> float:
    """Max rel. RMS error of a kernel call's o and written pool rows against `reference_on`'s."""
    o_ref, rows_ref, slots = ref
    return max(rel_rms(o, o_ref), rel_rms(pool[slots], rows_ref))


def device_name() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def file_tag(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def bench_ms(fn: Callable[[], Any], rep: int = 100, warmup: int = 25) -> float:
    return triton.testing.do_bench(fn, warmup=warmup, rep=rep, return_mode="median")


class Rotor:
    """Cycle through input sets, one per call."""

    def __init__(self, sets: list[dict]):
        self.sets, self.i = sets, 0

    def __call__(self) -> dict:
        s = self.sets[self.i]
        self.i = (self.i + 1) % len(self.sets)
        return s


def make_sets(
    N: int,
    T: int,
    H: int,
    HV: int,
    K: int,
    V: int,
    act_dtype,
    pool_dtype,
    layout: str,
    device,
    R: int,
    gen: Optional[torch.Generator] = None,
):
    """R input sets sharing one pool of R*N slots; each set names a disjoint random subset of the slots."""
    S = R * N
    shape = (S, HV, K, V) if layout == "kv" else (S, HV, V, K)
    pool = torch.empty(shape, device=device, dtype=pool_dtype)
    pool.normal_(0.0, 0.1, generator=gen) if pool_dtype == torch.float32 else pool.copy_(
        torch.randn(shape, device=device, generator=gen) * 0.1
    )
    perm = torch.randperm(S, device=device, generator=gen).to(torch.int32)
    A_log = torch.log(torch.empty(HV, device=device).uniform_(1, 16, generator=gen))
    dt_bias = torch.randn(HV, device=device, generator=gen) * 0.5
    sets = []
    for r in range(R):
        rnd = lambda *s: torch.randn(*s, device=device, generator=gen).to(act_dtype)
        sets.append(
            dict(
                A_log=A_log,
                a=rnd(N * T, HV),
                dt_bias=dt_bias,
                softplus_beta=1.0,
                softplus_threshold=20.0,
                q=rnd(N, T, H, K),
                k=rnd(N, T, H, K),
                v=rnd(N, T, HV, V),
                b=rnd(N * T, HV),
                initial_state_source=pool,
                initial_state_indices=perm[r * N : (r + 1) * N].contiguous(),
                scale=None,
                use_qk_l2norm_in_kernel=True,
                cu_seqlens=None,
                state_layout=layout,
            )
        )
    return pool, sets


def bytes_moved(N, T, H, HV, K, V, act_dtype, pool_dtype) -> int:
    ea = torch.empty((), dtype=act_dtype).element_size()
    ep = torch.empty((), dtype=pool_dtype).element_size()
    state = 2 * N * HV * K * V * ep
    acts = N * T * (2 * H * K + HV * V + 2 * HV + HV * V) * ea  # q, k, v, a, b read; o written
    return state + acts + N * 4 + 2 * HV * 4


def rotation_count(per_set_bytes: int, l2_bytes: int = 50 * 2**20) -> int:
    """Input sets to cycle so that one pass over them is >= 3x the L2 (50 MB on an H100)."""
    return int(min(128, max(2, math.ceil(3 * l2_bytes / max(per_set_bytes, 1)))))


def copy_bandwidth(device) -> float:
    """Bytes/s of a large device-to-device copy, counting bytes read + written."""
    n = 2**28  # 1 GiB of fp32
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    ms = bench_ms(functools.partial(dst.copy_, src), rep=200)
    del src, dst
    torch.cuda.empty_cache()
    return 2 * n * 4 / (ms * 1e-3)


@triton.jit
def _empty_kernel(x):
    pass


def launch_latency(device) -> dict:
    """Empty Triton kernel: do_bench (events, GPU side), CUDA-graph replay, and host launch rate."""
    x = torch.empty(1, device=device)
    fn = lambda: _empty_kernel[(1,)](x)
    return timing_triplet(fn)


def timing_triplet(fn: Callable[[], Any], host_calls: int = 2000) -> dict:
    fn()
    torch.cuda.synchronize()
    ev = bench_ms(fn) * 1e3
    try:
        graph = triton.testing.do_bench_cudagraph(fn, rep=100, return_mode="median") * 1e3
    except Exception as exc:  # noqa: BLE001 - report, do not fail the run
        print(f"cudagraph timing failed: {exc!r}")
        graph = float("nan")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(host_calls):
        fn()
    torch.cuda.synchronize()
    host = (time.perf_counter() - t0) / host_calls * 1e6
    return {"event_us": ev, "graph_us": graph, "host_us": host}


def graph_us(calls: list[Callable[[], Any]], reps: int = 20) -> float:
    """Per-launch time of a CUDA graph holding one launch per input set (rotating: never hot in L2)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for c in calls:
            c()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for c in calls:
            c()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    del graph
    times.sort()
    return times[len(times) // 2] * 1e3 / len(calls)


# ----------------------------------------------------------------------------------------------------
# Correctness
# ----------------------------------------------------------------------------------------------------
def check_case(
    name,
    fn,
    device,
    *,
    B,
    T,
    H,
    HV,
    K,
    V,
    S,
    indices,
    layout="kv",
    act_dtype=torch.float32,
    pool_dtype=torch.float32,
    cu=None,
    l2norm=False,
    strided=False,
    packed_ab=False,
    gen=None,
) -> dict:
    """One hand-picked case through `fn`, judged by shapecheck's own checker (`harness.check`: shape, dtype,
    every element written, relative RMS error per dtype, untouched pool rows bit-identical)."""
    rnd = lambda *s: torch.randn(*s, device=device, generator=gen)
    if strided:  # q, k, v as views of one packed projection: token stride != H*K
        width = 2 * H * K + HV * V + 5
        proj = rnd(B, T, width).to(act_dtype)
        q = proj[..., : H * K].unflatten(-1, (H, K))
        k = proj[..., H * K : 2 * H * K].unflatten(-1, (H, K))
        v = proj[..., 2 * H * K : 2 * H * K + HV * V].unflatten(-1, (HV, V))
    else:
        q, k, v = rnd(B, T, H, K).to(act_dtype), rnd(B, T, H, K).to(act_dtype), rnd(B, T, HV, V).to(act_dtype)
    if not l2norm:  # keep |k| ~ 1 so the recurrence is stable and errors are not amplified step to step
        k = (k.float() * K**-0.5).to(act_dtype)
    ab_shape = (B * T, HV) if packed_ab else (B, T, HV)
    a, b = rnd(*ab_shape).to(act_dtype), rnd(*ab_shape).to(act_dtype)
    A_log = torch.log(torch.empty(HV, device=device).uniform_(1, 16, generator=gen))
    dt_bias = rnd(HV) * 0.5
    shape = (S, HV, K, V) if layout == "kv" else (S, HV, V, K)
    pool = (rnd(*shape) * 0.5).to(pool_dtype)
    idx = torch.tensor(indices, dtype=torch.int32, device=device)
    cu_t = None if cu is None else torch.tensor(cu, dtype=torch.int32, device=device)
    args = dict(
        A_log=A_log,
        a=a,
        dt_bias=dt_bias,
        softplus_beta=1.0,
        softplus_threshold=20.0,
        q=q,
        k=k,
        v=v,
        b=b,
        initial_state_source=pool,
        initial_state_indices=idx,
        scale=None,
        use_qk_l2norm_in_kernel=l2norm,
        cu_seqlens=cu_t,
        state_layout=layout,
    )
    dims = GDN_DECODE.validate(dict(args)).dims
    before = pool.clone()
    reference = gated_delta_rule_reference(**{**args, "initial_state_source": before}, compute_dtype=torch.float64)
    # Poison: free an o-sized block full of NaN just before the call; the caching allocator hands it back.
    poison = torch.full((B * T * HV * V,), float("nan"), dtype=q.dtype, device=device)
    ptr = poison.data_ptr()
    del poison
    o = fn(**args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    poisoned = o.data_ptr() == ptr
    errors: dict[str, float] = {}
    expected = harness.expected(GDN_DECODE, reference, {**args, "initial_state_source": before})
    problems = harness.check(
        GDN_DECODE, dims, args, o, reference=expected, before={"initial_state_source": before}, errors=errors
    )
    ok = not problems
    err_o = errors.get(f"output {dtype_name(o)}", math.inf)
    err_pool = errors.get(f"initial_state_source {dtype_name(pool)}", 0.0)  # 0: no row to update
    same = not any(p.kind == "untouched" for p in problems)
    nan_out = any(p.kind == "unwritten" for p in problems)
    row = dict(
        case=name,
        ok=ok,
        err_o=err_o,
        err_pool=err_pool,
        untouched_identical=same,
        nan_in_o=nan_out,
        poison_hit=poisoned,
        problems=[str(p) for p in problems],
    )
    print(
        f"{'PASS' if ok else 'FAIL'} {name:<44} err_o={err_o:.2e} err_pool={err_pool:.2e} "
        f"untouched_same={same} nan={nan_out} poison_hit={poisoned}"
    )
    return row


def run_checks(device, full: bool, fn=None) -> list[dict]:
    fn = fn or CHECKED_CALL
    gen = torch.Generator(device=device)
    gen.manual_seed(int(time.time()))  # fresh inputs each run
    rows = []
    kw = dict(fn=fn, device=device, gen=gen)
    for layout in ("kv", "vk"):
        rows.append(
            check_case(
                f"K48 V40 {layout} fp32 B3 T5 pad",
                B=3,
                T=5,
                H=2,
                HV=4,
                K=48,
                V=40,
                S=8,
                indices=[5, -1, 2],
                layout=layout,
                **kw,
            )
        )
        rows.append(
            check_case(
                f"K128 V64 {layout} fp32 l2norm strided packed-ab",
                B=2,
                T=3,
                H=2,
                HV=6,
                K=128,
                V=64,
                S=5,
                indices=[4, 1],
                layout=layout,
                l2norm=True,
                strided=True,
                packed_ab=True,
                **kw,
            )
        )
        rows.append(
            check_case(
                f"K48 V40 {layout} varlen zero-len + pad",
                B=1,
                T=8,
                H=1,
                HV=2,
                K=48,
                V=40,
                S=8,
                indices=[2, 5, -1, 6],
                cu=[0, 3, 3, 7, 8],
                layout=layout,
                **kw,
            )
        )
        rows.append(
            check_case(
                f"K48 V40 {layout} bf16 act + bf16 pool",
                B=2,
                T=4,
                H=2,
                HV=4,
                K=48,
                V=40,
                S=4,
                indices=[3, 0],
                layout=layout,
                act_dtype=torch.bfloat16,
                pool_dtype=torch.bfloat16,
                l2norm=True,
                **kw,
            )
        )
        # "wide" launch config (N*HV >= 256, one token per sequence): big tiles, K/V not multiples of 16
        rows.append(
            check_case(
                f"K48 V40 {layout} wide decode N16 HV16",
                B=16,
                T=1,
                H=4,
                HV=16,
                K=48,
                V=40,
                S=18,
                indices=[17, 3, -1, 5, 0, 9, 2, 11, 16, 4, 7, 13, 1, 15, 8, 6],
                layout=layout,
                **kw,
            )
        )
        rows.append(
            check_case(
                f"K48 V40 {layout} wide varlen N20 T16",
                B=1,
                T=16,
                H=2,
                HV=16,
                K=48,
                V=40,
                S=24,
                indices=[23, 1, -1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0],
                cu=[0, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 13, 14, 15, 16, 16],
                layout=layout,
                **kw,
            )
        )
        if full:
            rows.append(
                check_case(
                    f"K128 V64 {layout} fp32 wide decode N32 HV8",
                    B=32,
                    T=1,
                    H=2,
                    HV=8,
                    K=128,
                    V=64,
                    S=40,
                    indices=list(range(32)),
                    layout=layout,
                    l2norm=True,
                    **kw,
                )
            )
            rows.append(
                check_case(
                    f"K128 V128 {layout} fp32 decode N64 HV32",
                    B=64,
                    T=1,
                    H=16,
                    HV=32,
                    K=128,
                    V=128,
                    S=80,
                    indices=list(range(79, 15, -1)),
                    layout=layout,
                    l2norm=True,
                    **kw,
                )
            )
            rows.append(
                check_case(
                    f"K40 V200 {layout} fp32 T7",
                    B=2,
                    T=7,
                    H=1,
                    HV=3,
                    K=40,
                    V=200,
                    S=3,
                    indices=[2, 0],
                    layout=layout,
                    **kw,
                )
            )
            rows.append(
                check_case(
                    f"K128 V128 {layout} fp32 bf16-act T16",
                    B=3,
                    T=16,
                    H=2,
                    HV=4,
                    K=128,
                    V=128,
                    S=4,
                    indices=[1, 3, -1],
                    layout=layout,
                    act_dtype=torch.bfloat16,
                    l2norm=True,
                    **kw,
                )
            )
    if full:  # slot offset past 2**31 elements: idx * HV * K * V = 4150 * 524288 > 2**31
        rows.append(
            check_case(
                "K128 V128 kv fp32 slot 4150 (int64 offset)",
                B=2,
                T=1,
                H=16,
                HV=32,
                K=128,
                V=128,
                S=4200,
                indices=[4150, 7],
                l2norm=True,
                **kw,
            )
        )
        torch.cuda.empty_cache()
    return rows


# ----------------------------------------------------------------------------------------------------
# The benchmark table
# ----------------------------------------------------------------------------------------------------
CONFIG_NOTE = (
    "kernels/gdn.py v2 (final: int64 token offsets, no alignment specialisation on q/k/v/a/b): "
    "ALIGNED flag; when N*HV >= 256 with one token per sequence, kv BV=min(next_pow2(V), "
    "16384//BK) 4 warps, vk BV=32 2 warps; else BV=16 (kv 1 warp, vk 2); num_stages 2"
)


def time_compiled(compiled: Callable[..., Any], sets: list[dict]) -> tuple[float, float]:
    """(ms per call after warm-up, wall s of the first call: the compilation when a new graph is needed)."""
    rot = Rotor(sets)
    c_fn = lambda: compiled(**rot())
    torch.cuda.synchronize()
    t1 = time.perf_counter()
    c_fn()
    torch.cuda.synchronize()
    first_s = time.perf_counter() - t1
    return bench_ms(c_fn, rep=60, warmup=10), first_s


def run_bench(
    device, out: Path, copy_bw: float, quick: bool = False, compile_max_t: int = 16, long_compile: bool = False
) -> str:
    H, HV, K, V = 16, 32, 128, 128
    act = torch.bfloat16
    torch._dynamo.config.cache_size_limit = 64
    compiled = torch.compile(gated_delta_rule_reference, dynamic=True)
    x = torch.empty(1, device=device)
    empty = launch_latency(device)
    empty["graph_rot_us"] = graph_us([lambda: _empty_kernel[(1,)](x)] * 64)
    print(f"empty Triton kernel: {empty}")
    cases = [(N, 1) for N in (1, 8, 64, 256, 1024)] + [(8, 16), (8, 256)]
    dtypes, layouts = (torch.float32, torch.bfloat16), ("kv", "vk")
    if quick:  # smoke run of every code path
        cases, dtypes, layouts = [(1, 1), (256, 1), (8, 16)], (torch.float32,), ("kv",)
    rows: list[dict] = []
    n1_lat: dict = {}
    for pool_dtype in dtypes:
        for layout in layouts:
            for N, T in cases:
                t0 = time.perf_counter()
                per_set = bytes_moved(N, T, H, HV, K, V, act, pool_dtype)
                R = rotation_count(per_set)
                pool, sets = make_sets(N, T, H, HV, K, V, act, pool_dtype, layout, device, R)
                # correctness on set 0: kernel (on a clone of the pool) vs the reference (returns a new pool)
                p_ker = pool.clone()
                o_ker = KERNEL_CALL(**dict(sets[0], initial_state_source=p_ker))
                err = error_vs(reference_on(sets[0]), o_ker, p_ker)
                del p_ker, o_ker
                torch.cuda.empty_cache()
                rot = Rotor(sets)
                k_ms = bench_ms(lambda rot=rot: KERNEL_CALL(**rot()))
                g_us = graph_us([lambda s=s_: KERNEL_CALL(**s) for s_ in sets])
                rot = Rotor(sets)
                e_ms = bench_ms(lambda rot=rot: gated_delta_rule_reference(**rot()), rep=60, warmup=10)
                # compiled: the token loop unrolls, so long T is compiled once, last (below)
                c_ms, first_s = time_compiled(compiled, sets) if T <= compile_max_t else (math.nan, math.nan)
                row = dict(
                    N=N,
                    T=T,
                    pool=str(pool_dtype)[6:],
                    layout=layout,
                    kernel_us=k_ms * 1e3,
                    graph_us=g_us,
                    MB=per_set / 1e6,
                    GBps=per_set / (k_ms * 1e-3) / 1e9,
                    frac=per_set / (k_ms * 1e-3) / copy_bw,
                    frac_graph=per_set / (g_us * 1e-6) / copy_bw,
                    eager_us=e_ms * 1e3,
                    compiled_us=c_ms * 1e3,
                    speedup_eager=e_ms / k_ms,
                    speedup_compiled=c_ms / k_ms,
                    compile_s=first_s,
                    err=err,
                    R=R,
                )
                if N == 1 and T == 1:
                    t = timing_triplet(lambda sets=sets: KERNEL_CALL(**sets[0]))
                    t["graph_rot_us"] = g_us
                    n1_lat[(row["pool"], layout)] = t
                rows.append(row)
                print(json.dumps(row), f"({time.perf_counter() - t0:.1f}s)")
                del pool, sets
                torch.cuda.empty_cache()
                table = bench_table(
                    rows, empty, n1_lat, copy_bw, compile_max_t
                )  # written after every row: a timeout keeps rows
                (out / f"kernel_{file_tag(device_name())}.md").write_text(table)
    long_rows = [r for r in rows if r["T"] > compile_max_t and r["pool"] == "float32" and r["layout"] == "kv"]
    if long_compile and long_rows:  # one long-T compile (fp32 kv), after every other row: a timeout keeps them
        r = long_rows[0]
        print(f"compiling the reference for T={r['T']} (unrolled), N={r['N']} fp32 kv ...", flush=True)
        pool, sets = make_sets(r["N"], r["T"], H, HV, K, V, act, torch.float32, "kv", device, r["R"])
        c_ms, first_s = time_compiled(compiled, sets)
        r.update(compiled_us=c_ms * 1e3, speedup_compiled=c_ms * 1e3 / r["kernel_us"], compile_s=first_s)
        print(json.dumps(r))
        del pool, sets
        table = bench_table(rows, empty, n1_lat, copy_bw, compile_max_t)
        (out / f"kernel_{file_tag(device_name())}.md").write_text(table)
    (out / "bench.json").write_text(
        json.dumps(
            dict(rows=rows, empty=empty, n1={f"{k[0]} {k[1]}": v for k, v in n1_lat.items()}, copy_bw=copy_bw), indent=0
        )
    )
    print("\n" + table)
    return table


def _num(x: float, fmt: str = ".1f") -> str:
    return "—" if math.isnan(x) else format(x, fmt)


def bench_table(rows: list[dict], empty: dict, n1_lat: dict, copy_bw: float, compile_max_t: int) -> str:
    lines = [
        f"# Kernel benchmark: {device_name()}",
        "",
        f"torch {torch.__version__}, triton {triton.__version__}, CUDA {torch.version.cuda}; "
        f"measured copy bandwidth {copy_bw / 1e12:.2f} TB/s (device-to-device copy of 1 GiB, read + write). "
        f"Launch config: {CONFIG_NOTE}.",
        "",
        "Shapes: H=16, HV=32, K=V=128; activations (q, k, v, a, b, o) bf16; `pool` is the state pool's dtype; "
        "l2norm on; all slots real (no padding). `kernel µs` = `triton.testing.do_bench` median (CUDA events "
        "around each call, L2 flushed before each call, rotating input sets and pool rows, warm-up first); "
        "`graph µs` = per-launch time of a CUDA graph holding one launch per rotating input set (no host launch "
        "cost; at small N the event timing includes some of the ~70 µs host launch, see below). Kernel called "
        "via `__wrapped__` (no contract checks). `frac` = (state read + written + q,k,v,a,b read + o written) / "
        "kernel time / copy bandwidth. **PyTorch reference = kernels/reference.py** "
        "(`gated_delta_rule_reference`, fp32 compute: vectorised over sequences and heads, one Python loop over "
        "token positions; functional, so each call also clones the whole pool of R·N slots, `R` = rotating "
        "input sets, and returns the new pool); `compiled` = the same function under "
        "`torch.compile(dynamic=True)` (the token loop unrolls: one graph per T, pool dtype and layout), timed "
        "after a first call that compiles; `compile s` = wall time of that first call (compilation when the "
        f"row needs a new graph, else one call). The unrolled graph grows with T, and so does its compile time: "
        f"for T > {compile_max_t} the compiled reference is compiled and timed only with `--long-compile`, for "
        "the fp32 kv pool, after every other row (on the H100, T=16 took 50-55 s, 3.4 s per unrolled token step; "
        "T=256 had not finished after 250 s); `—` = not compiled. `×` = reference time / kernel time (events). `err` = max rel. "
        "RMS error of o and of the written pool rows, kernel vs the reference, same run (the reference's fp32 "
        "o rounded to bf16 first, so ~1e-5 is rounding of the output).",
        "",
        "| N | T | pool | layout | kernel µs | graph µs | MB moved | GB/s | frac of copy BW | R | eager ref µs | "
        "× eager | compiled ref µs | × compiled | compile s | err |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['N']} | {r['T']} | {r['pool']} | {r['layout']} | {r['kernel_us']:.1f} | {r['graph_us']:.1f} | "
            f"{r['MB']:.2f} | {r['GBps']:.0f} | {r['frac']:.2f} | {r['R']} | {r['eager_us']:.1f} | "
            f"{r['speedup_eager']:.1f} | {_num(r['compiled_us'])} | {_num(r['speedup_compiled'])} | "
            f"{_num(r['compile_s'])} | {r['err']:.1e} |"
        )
    lines += [
        "",
        "## N=1 decode latency vs an empty Triton kernel",
        "",
        "`graph (rotating)` = per-launch time in a CUDA graph of 64 (empty) or one-per-input-set launches "
        "(inputs never hot in L2): the device-side latency that matters under CUDA-graph decode; `graph (1 set)` = "
        "`do_bench_cudagraph` on one input set (L2-hot); `events` = do_bench median (L2 flushed; includes part of "
        "the host launch when that exceeds do_bench's cache flush); `host` = wall clock per call over 2000 "
        "back-to-back async calls (host launch cost: Python wrapper + Triton launcher).",
        "",
        "| what | graph (rotating) µs | graph (1 set) µs | events µs | host µs/call |",
        "|---|---:|---:|---:|---:|",
        f"| empty Triton kernel (1 program) | {empty['graph_rot_us']:.2f} | {empty['graph_us']:.2f} | "
        f"{empty['event_us']:.2f} | {empty['host_us']:.2f} |",
    ]
    for (p, lay), t in n1_lat.items():
        lines.append(
            f"| kernel N=1 T=1 pool {p} {lay} | {t['graph_rot_us']:.2f} | {t['graph_us']:.2f} | "
            f"{t['event_us']:.2f} | {t['host_us']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--quick", action="store_true", help="with --bench: a few rows only (smoke test)")
    ap.add_argument(
        "--compile-max-t",
        type=int,
        default=16,
        help="with --bench: compile the reference for every row up to this T (default 16)",
    )
    ap.add_argument(
        "--long-compile",
        action="store_true",
        help="with --bench: compile the reference once for T > --compile-max-t too (fp32 kv, last; "
        "minutes: T=256 had not finished after 250 s on an H100)",
    )
    ap.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "bench" / "results")))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        if args.bench:
            print("--bench needs CUDA: skipped")
        if args.check:
            rows = run_checks(torch.device("cpu"), full=False)
            print(f"checks: {sum(r['ok'] for r in rows)}/{len(rows)} pass")
        return
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    print(
        f"device {device_name()}, torch {torch.__version__}, triton {triton.__version__}, "
        f"SMs {torch.cuda.get_device_properties(0).multi_processor_count}"
    )
    if args.check:
        rows = run_checks(device, full=True)
        (out / "check.json").write_text(json.dumps(rows, indent=0))
        print(f"checks: {sum(r['ok'] for r in rows)}/{len(rows)} pass")
    if args.bench:
        copy_bw = copy_bandwidth(device)
        print(f"copy bandwidth: {copy_bw / 1e12:.3f} TB/s (read + write)")
        run_bench(
            device, out, copy_bw, quick=args.quick, compile_max_t=args.compile_max_t, long_compile=args.long_compile
        )


if __name__ == "__main__":
    main()
