"""Per-call cost of the `@contract` decorator on the GDN decode kernel (issue 5, part 4).

Decode shapes: T=1, H=16, HV=32, K=V=128, fp32 state pool, bf16 activations, l2norm on, N in {256, 1}.
Four callables:
  unchecked  `fused_sigmoid_gating_delta_rule_update.__wrapped__` (no checks)
  first      `contract(GDN_DECODE, mode="first")(__wrapped__)`: checks each new signature once, then trusts it
  shapes     `contract(GDN_DECODE, mode="shapes")(__wrapped__)`: every call, no device reads (no sync)
  always     the decorated wrapper as shipped (default mode "always": every call checked, values included)

On the GPU, for each: host wall clock per call over many back-to-back calls with one synchronize at the
end (the check's cost is host-side plus whatever device syncs it forces), and CUDA-event time (events
recorded around each call on the stream: the median span, and the total span / calls). A cProfile of the
"always" calls and a per-part breakdown of one check (binder, rules, each value check, the
jaxtyping/beartype gate, the "first"-mode signature key) say what dominates.

Compiled rows (issue 15), GPU: a small model (`kernel(...) * 2`) under `torch.compile` (inductor, and
inductor with `mode="reduce-overhead"`: CUDA graphs), with the undecorated kernel and with each mode; host
wall per call (modes interleaved over rounds, median), graph breaks by `torch._dynamo.explain`, and the
model's compiled entries after both input sets (recompiles).

On the CPU (here or anywhere) the breakdown runs on CPU tensors without launching: the check's own cost.
`--compiled-only` skips the eager rows, `--settings` picks compile settings (a shorter device run).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.pop("SHAPECHECK_MODE", None)  # the shipped default ("always") for the decorated kernel

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import triton  # noqa: E402

import shapecheck.kernels.gdn as gdn  # noqa: E402
from shapecheck.contracts.gdn import GDN_DECODE  # noqa: E402
from shapecheck.decorator import _argument_gate, _signature_key, contract  # noqa: E402

UNCHECKED = gdn.fused_sigmoid_gating_delta_rule_update.__wrapped__
ALWAYS = gdn.fused_sigmoid_gating_delta_rule_update
FIRST = contract(GDN_DECODE, mode="first")(UNCHECKED)
SHAPES = contract(GDN_DECODE, mode="shapes")(UNCHECKED)  # every call, no device reads
MODES = {"unchecked": UNCHECKED, "first": FIRST, "shapes": SHAPES, "always": ALWAYS}
H, HV, K, V = 16, 32, 128, 128


def make_args(N: int, device, R: int = 2) -> list[tuple[tuple, dict]]:
    """R input sets (positional args) sharing one fp32 pool of R*N slots, disjoint random rows per set."""
    pool = torch.randn(R * N, HV, K, V, device=device) * 0.1
    perm = torch.randperm(R * N, device=device).to(torch.int32)
    A_log = torch.log(torch.empty(HV, device=device).uniform_(1, 16))
    dt_bias = torch.randn(HV, device=device) * 0.5
    bf = lambda *s: torch.randn(*s, device=device).to(torch.bfloat16)
    sets = []
    for r in range(R):
        args = (A_log, bf(N, HV), dt_bias, 1.0, 20.0, bf(N, 1, H, K), bf(N, 1, H, K), bf(N, 1, HV, V),
                bf(N, HV), pool, perm[r * N:(r + 1) * N].contiguous())
        sets.append((args, {"use_qk_l2norm_in_kernel": True}))
    return sets


def breakdown(args: tuple, kwargs: dict, reps: int) -> dict[str, float]:
    """Microseconds per call of each part of one "always" check (no launch)."""
    c = GDN_DECODE
    gate = _argument_gate(c)

    def us(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        one = time.perf_counter() - t0
        n = int(max(3, min(reps, 0.3 / max(one, 1e-9))))  # about 0.3 s per part at most
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n * 1e6

    bound = c.arguments(args, kwargs)
    call = c.validate(dict(bound))
    namespace = {**bound, **call.dims}
    parts = {
        "arguments (bind)": us(lambda: c.arguments(args, kwargs)),
        "jaxtyping+beartype gate": us(lambda: gate(*args, **kwargs)),
        "validate(values=False): binder, rules, layout checks": us(lambda: c.validate(dict(bound), values=False)),
        "validate(values=True): + value checks (device read)": us(lambda: c.validate(dict(bound))),
        "  _bind_shapes": us(lambda: c._bind_shapes(type(call)(c.name, dict(bound), {}))),
        "  rules (all)": us(lambda: [r.holds(namespace) for r in c.rules]),
        "check_output": us(lambda: c.check_output(call, _FAKE_OUT[0])),
        "first-mode _signature_key": us(lambda: _signature_key(args, kwargs)),
    }
    for kind, checks in (("check", c.checks), ("value check", getattr(c, "value_checks", ()))):
        for check in checks:
            name = getattr(check, "__name__", "check")
            if name == "check":
                name = (check.__doc__ or "check").split(":")[0]
            parts[f"  {kind} {name}"] = us(lambda check=check: check(call))
    return parts


_FAKE_OUT: list[torch.Tensor] = []


def time_loop(fn: Callable, sets: list, calls: int) -> dict[str, float]:
    """Host wall per call (one sync at the end) and CUDA-event spans per call."""
    for i in range(10):
        a, kw = sets[i % len(sets)]
        fn(*a, **kw)
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(calls)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(calls)]
    t0 = time.perf_counter()
    for i in range(calls):
        a, kw = sets[i % len(sets)]
        starts[i].record()
        fn(*a, **kw)
        ends[i].record()
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / calls * 1e6
    spans = [s.elapsed_time(e) * 1e3 for s, e in zip(starts, ends)]
    total = starts[0].elapsed_time(ends[-1]) * 1e3 / calls
    return {"wall_us": wall, "event_median_us": statistics.median(spans), "event_total_per_call_us": total}


def host_rounds(fns: dict[str, Callable], sets: list, calls: int, rounds: int = 7) -> dict[str, float]:
    """Host wall per call without events (one sync per round), modes interleaved round by round; median."""
    per: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for i in range(calls):
                a, kw = sets[i % len(sets)]
                fn(*a, **kw)
            torch.cuda.synchronize()
            per[name].append((time.perf_counter() - t0) / calls * 1e6)
    return {name: statistics.median(v) for name, v in per.items()}


def _model(fn: Callable) -> Callable:
    """A model around the kernel: the call plus one op for inductor to compile (the output scaled)."""
    def model(*args: Any, **kwargs: Any) -> torch.Tensor:
        return fn(*args, **kwargs) * 2
    return model


SETTINGS = (("aot_eager", {"backend": "aot_eager"}), ("cudagraphs", {"backend": "cudagraphs"}),
            ("inductor", {}), ("reduce-overhead", {"mode": "reduce-overhead"}))
"""aot_eager and cudagraphs launch the Triton kernel through Triton's own JIT; inductor generates the launch."""


def compiled_rows(sets: list, calls: int, settings: tuple, rounds: int = 5) -> tuple[list[str], dict[str, Any]]:
    """Per mode and compile setting: host wall per call, graph breaks, compiled entries of the model.

    A setting that cannot compile the undecorated kernel reports its error in its row (measured on an H200,
    torch 2.11: inductor passes the kernel's float scalars as fp64 and specialises T=1 to a constant).
    """
    from torch._dynamo.eval_frame import _debug_get_cache_entry_list
    from torch._dynamo.utils import counters

    a, kw = sets[0]
    breaks = {}
    for name, fn in MODES.items():
        torch._dynamo.reset()
        found = torch._dynamo.explain(_model(fn))(*a, **kw)
        breaks[name] = f"{found.graph_break_count} ({found.graph_count} graphs)"
    lines = ["| compile | " + " | ".join(f"{n} µs (Δ)" for n in MODES) + " |", "|---|" + "---:|" * len(MODES)]
    results: dict[str, Any] = {"graph_breaks": breaks}
    for args, _ in sets:  # the pool is a persistent buffer, as in a serving engine: CUDA graphs may update it
        torch._dynamo.mark_static_address(args[9])
    for setting, options in settings:
        torch._dynamo.reset()
        counters.clear()
        models = {name: _model(fn) for name, fn in MODES.items()}
        fns = {name: torch.compile(model, **options) for name, model in models.items()}
        try:
            for fn in fns.values():
                for i in range(6):  # compile, warm up, record the CUDA graph
                    fn(*sets[i % len(sets)][0], **sets[i % len(sets)][1])
            torch.cuda.synchronize()
            host = host_rounds(fns, sets, calls, rounds=rounds)
        except Exception as exc:  # noqa: BLE001 - one failed setting is reported in its row; the others still run
            lines.append(f"| {setting} | failed: {type(exc).__name__}: {' '.join(str(exc).split())[:240].replace('|', '/')} |")
            continue
        entries = {name: len(_debug_get_cache_entry_list(model.__code__)) for name, model in models.items()}
        skips = sum(counters["inductor"].get(k, 0) for k in ("cudagraph_skips",))
        print(setting, host, entries, "cudagraph skips", skips)
        base = host["unchecked"]
        lines.append(f"| {setting} | " + " | ".join(f"{v:.1f} ({v - base:+.1f})" for v in host.values()) + " |")
        results[setting] = {"host_us": host, "compiled_entries": entries, "cudagraph_skips": skips}
    lines += ["", "Graph breaks (`torch._dynamo.explain`): " + ", ".join(f"{k} {v}" for k, v in breaks.items())
              + "; compiled entries of the model after both input sets: "
              + ", ".join(f"{k} {v}" for k, v in results.get("aot_eager", {}).get("compiled_entries", {}).items())
              + f"; graphs inductor declined to CUDA-graph under reduce-overhead: "
              f"{results.get('reduce-overhead', {}).get('cudagraph_skips')}.", ""]
    return lines, results


def gpu(out: Path, eager_rows: bool = True, settings: tuple = SETTINGS) -> str:
    device = torch.device("cuda")
    lines = [f"# Contract-check overhead: {torch.cuda.get_device_name()}", "",
             f"torch {torch.__version__}, triton {triton.__version__}. Decode T=1, H=16, HV=32, K=V=128, fp32 pool, "
             "bf16 activations, l2norm on; 2 rotating input sets. `wall` = host wall clock per call over back-to-back "
             "calls, one synchronize at the end; `event median` = median CUDA-event span around one call; "
             "`event total` = first start to last end / calls. Overhead = mode − unchecked, as % of the unchecked "
             "call (wall) and of the kernel alone (do_bench median).", ""]
    results: dict[str, Any] = {}
    for N, calls in ((256, 300), (1, 1500)):
        sets = make_args(N, device)
        rows_c, results[f"compiled_N{N}"] = compiled_rows(sets, max(20, calls // 3), settings)
        lines += [f"## N={N}, compiled model (`kernel(...) * 2` under torch.compile), host wall per call, median of "
                  "5 interleaved rounds; Δ vs the compiled undecorated model", ""] + rows_c
        if not eager_rows:
            continue
        kernel_us = triton.testing.do_bench(lambda sets=sets: UNCHECKED(*sets[0][0], **sets[0][1]), return_mode="median") * 1e3
        rows = {}
        for name, fn in (*MODES.items(), ("unchecked (again)", UNCHECKED)):
            rows[name] = time_loop(fn, sets, calls)
            print(N, name, rows[name])
        host = host_rounds(MODES, sets, calls=max(20, calls // 3))
        print(N, "host rounds", host)
        results[f"host_rounds_N{N}"] = host
        base = rows["unchecked"]["wall_us"]
        lines += [f"## N={N} (kernel alone, do_bench median: {kernel_us:.1f} µs)", "",
                  "| mode | wall µs/call | event median µs | event total µs/call | overhead µs (wall) | % of unchecked call | % of kernel |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, r in rows.items():
            d = r["wall_us"] - base
            lines.append(f"| {name} | {r['wall_us']:.1f} | {r['event_median_us']:.1f} | {r['event_total_per_call_us']:.1f} | "
                         f"{d:+.1f} | {100 * d / base:+.1f}% | {100 * d / kernel_us:+.1f}% |")
        hb = host["unchecked"]
        lines += ["", "Host wall clock without events, modes interleaved over 7 rounds (median of rounds): "
                  + ", ".join(f"{k} {v:.1f} µs ({v - hb:+.1f})" for k, v in host.items()) + ".", ""]
        results[N] = dict(kernel_us=kernel_us, rows=rows)
        _FAKE_OUT[:] = [UNCHECKED(*sets[0][0], **sets[0][1])]
        parts = breakdown(*sets[0], reps=200)
        results[f"breakdown_gpu_N{N}"] = parts
        lines += [f"### Breakdown of one \"always\" check at N={N}, GPU tensors (µs per call, syncs included)", "",
                  "| part | µs |", "|---|---:|"] + [f"| {k} | {v:.1f} |" for k, v in parts.items()] + [""]
        if N == 256:
            prof = cProfile.Profile()
            prof.enable()
            for i in range(100):
                ALWAYS(*sets[i % 2][0], **sets[i % 2][1])
            torch.cuda.synchronize()
            prof.disable()
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
            (out / "overhead_profile.txt").write_text(s.getvalue())
        del sets
        torch.cuda.empty_cache()
    (out / "overhead.json").write_text(json.dumps({str(k): v for k, v in results.items()}, indent=0))
    return "\n".join(lines) + "\n"


def cpu(reps: int = 300) -> str:
    """The check alone on CPU tensors (no launch): what the decorator costs before any device work."""
    lines = ["## Check alone on CPU tensors (no launch), µs per call", "",
             f"torch {torch.__version__}; host CPU: {os.cpu_count()} cores. Same shapes, N=256 and N=1.", ""]
    for N in (256, 1):
        sets = make_args(N, torch.device("cpu"), R=1)
        _FAKE_OUT[:] = [torch.empty(N, 1, HV, V, dtype=torch.bfloat16)]
        parts = breakdown(*sets[0], reps=reps)
        lines += [f"### N={N}", "", "| part | µs |", "|---|---:|"] + [f"| {k} | {v:.1f} |" for k, v in parts.items()] + [""]
        print(N, json.dumps(parts))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "bench" / "results")))
    ap.add_argument("--compiled-only", action="store_true", help="GPU: only the compiled-model rows")
    ap.add_argument("--settings", default=",".join(name for name, _ in SETTINGS),
                    help="GPU: compile settings for the compiled rows, comma-separated")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if torch.cuda.is_available():
        chosen = tuple(st for st in SETTINGS if st[0] in args.settings.split(","))
        text = gpu(out, eager_rows=not args.compiled_only, settings=chosen)
        tag = torch.cuda.get_device_name()
    else:
        text = "# Contract-check overhead: CPU only\n\n" + cpu()
        tag = "cpu"
    name = "overhead_" + "".join(c if c.isalnum() or c in "._-" else "_" for c in tag) + ".md"
    (out / name).write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
