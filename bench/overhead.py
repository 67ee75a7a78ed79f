"""Per-call cost of the `@contract` decorator on the GDN decode kernel (issues 5, 15, 23).

One command, on a CUDA machine or a CPU one: `python bench/overhead.py` (writes `bench/results/overhead_<device>.md`).

Decode shapes: T=1, H=16, HV=32, K=V=128, fp32 state pool, bf16 activations, l2norm on, N in {1, 256}.
Four callables, each also inside a small model (`kernel(...) * 2`) for the compiled rows:
  unchecked  the kernel's undecorated wrapper (`__wrapped__`)
  first      `contract(GDN_DECODE, mode="first")(wrapper)`: checks each new signature once, then trusts it
  shapes     `contract(GDN_DECODE, mode="shapes")(wrapper)`: every call, no device reads (no sync)
  always     the decorated wrapper as shipped (default mode "always": every call checked, values included)

The table (issue 23): for N=1 and N=256, eager and under `torch.compile` (inductor; on CUDA also
`mode="reduce-overhead"`, inductor's CUDA graphs), host wall of each call (modes interleaved call by call in
random order, the device idle at each call's start, garbage collection off while timing), Δ against the
unchecked row: mode's median call − unchecked's (a host's load moves both alike), and dynamo's guard count
per mode (`torch._dynamo.explain`: the guards dynamo evaluates before each call of the compiled graph, made
before any backend runs).

On a CPU the Triton kernel cannot be compiled (it runs in Triton's interpreter), so the rows time a pure-torch
stand-in with the wrapper's signature that reads every argument (`bench/gdn_stand_in.py`), K=V=32 to keep the pool
small: what is timed is the decorator's own host cost. A per-part breakdown of one "always" check follows.
`--settings` picks compile settings (comma-separated; `eager` is the uncompiled row); `--modes` and `--calls`
narrow a run to the cache-hit path (bench/results/overhead_cpu_hitpath.md: `--modes first,shapes --calls
3000,3000`, rounds long enough to time a few µs on a shared CPU).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable
from unittest import mock

os.environ.pop("SHAPECHECK_MODE", None)  # the shipped default ("always") for the decorated kernel

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
    torch.set_num_threads(1)  # the stand-in's ops are too small to share; on a shared CPU a second thread stalls

import jaxtyping  # noqa: E402
import triton  # noqa: E402

import shapecheck.kernels.gdn as gdn  # noqa: E402
from bench.gdn_stand_in import gdn_stand_in  # noqa: E402
from shapecheck import guards, native  # noqa: E402
from shapecheck.contracts.gdn import GDN_DECODE  # noqa: E402
from shapecheck.decorator import _argument_gate, contract  # noqa: E402

CUDA = torch.cuda.is_available()
H, HV = 16, 32
K = V = 128 if CUDA else 32  # the CPU pool of 256 slots stays at 32 MiB


UNCHECKED = gdn.fused_sigmoid_gating_delta_rule_update.__wrapped__ if CUDA else gdn_stand_in
MODES = {
    "unchecked": UNCHECKED,
    "first": contract(GDN_DECODE, mode="first")(UNCHECKED),
    "shapes": contract(GDN_DECODE, mode="shapes")(UNCHECKED),
    "always": contract(GDN_DECODE, mode="always")(UNCHECKED),
}


def make_args(N: int, device: torch.device, R: int = 2) -> list[tuple[tuple, dict]]:
    """R input sets (positional args) sharing one fp32 pool of R*N slots, disjoint random rows per set."""
    pool = torch.randn(R * N, HV, K, V, device=device) * 0.1
    perm = torch.randperm(R * N, device=device).to(torch.int32)
    A_log = torch.log(torch.empty(HV, device=device).uniform_(1, 16))
    dt_bias = torch.randn(HV, device=device) * 0.5
    bf = lambda *s: torch.randn(*s, device=device).to(torch.bfloat16)
    sets = []
    for r in range(R):
        args = (
            A_log,
            bf(N, HV),
            dt_bias,
            1.0,
            20.0,
            bf(N, 1, H, K),
            bf(N, 1, H, K),
            bf(N, 1, HV, V),
            bf(N, HV),
            pool,
            perm[r * N : (r + 1) * N].contiguous(),
        )
        sets.append((args, {"use_qk_l2norm_in_kernel": True}))
    return sets


def _sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def _us(fn: Callable[[], Any], reps: int) -> float:
    """Microseconds per call of `fn`: the fastest of 5 runs of up to `reps` calls (about 0.3 s at most)."""
    t0 = time.perf_counter()
    fn()
    _sync()
    n = int(max(3, min(reps, 0.06 / max(time.perf_counter() - t0, 1e-9))))
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return min(runs)


def _which() -> str:
    """Which C++ check the decorator's hit uses in this process (`shapecheck.native`)."""
    return "native tensor check" if native.module() is not None else "TensorGuards (native check not built)"


def _dynamo_guard(tensors: tuple[torch.Tensor, ...]) -> Callable[..., bool]:
    """Dynamo's C++ tensor guard, what the hit used before the native check (and uses where it is not built)."""
    from torch._C._dynamo.guards import TensorGuards

    return TensorGuards(*tensors, dynamic_dims_sizes=None, dynamic_dims_strides=None).check


def breakdown(args: tuple, kwargs: dict, out: torch.Tensor, reps: int) -> dict[str, float]:
    """Microseconds per call of each part of one check (no launch)."""
    c = GDN_DECODE
    gate = _argument_gate(c)
    bound = c.arguments(args, kwargs)
    call = c.validate(dict(bound))
    namespace = {**bound, **call.dims}
    sig = guards.signature(args, kwargs)
    assert sig is not None
    tensors = tuple(v for v in (*args, *kwargs.values()) if type(v) is torch.Tensor)
    check, dynamo = native.tensor_check(tensors), _dynamo_guard(tensors)
    parts = {
        "first/shapes cache hit (`matches`: counts, keywords, scalars, tensors)": _us(
            lambda: sig.matches(args, kwargs), 100 * reps
        ),
        f"  {_which()} alone ({len(tensors)} tensors)": _us(lambda: check(*tensors), 100 * reps),
        f"  dynamo's TensorGuards alone ({len(tensors)} tensors)": _us(lambda: dynamo(*tensors), 100 * reps),
        "  torch.compiler.is_compiling() (a first/shapes miss asks it; a hit no longer does)": _us(
            torch.compiler.is_compiling, 100 * reps
        ),
        "arguments (bind)": _us(lambda: c.arguments(args, kwargs), reps),
        "jaxtyping+beartype gate (not run for this contract: the contract models every annotation)": _us(
            lambda: gate(*args, **kwargs), reps
        ),
        "validate(values=False): binder, rules, layout checks": _us(
            lambda: c.validate(dict(bound), values=False), reps
        ),
        "validate(values=True): + value checks (device read)": _us(lambda: c.validate(dict(bound)), reps),
        "  _bind_shapes": _us(lambda: c._bind_shapes(type(call)(c.name, dict(bound), {})), reps),
        "  rules (all)": _us(lambda: [r.holds(namespace) for r in c.rules], reps),
        "check_output": _us(lambda: c.check_output(call, out), reps),
    }
    for check in c.checks:
        name = getattr(check, "__name__", "check")
        parts[f"  check {(check.__doc__ or name).split(':')[0] if name == 'check' else name}"] = _us(
            lambda check=check: check(call), reps
        )
    return parts


ACTIVATIONS = (1, 5, 6, 7, 8, 10)  # a, q, k, v, b and the slot indices: a decode step's fresh tensors


def fresh_views(args: tuple) -> tuple:
    """The activations as new tensor objects (views, no device work), as a serving step hands its kernel
    tensors made just before; the weights and the state pool stay the same objects."""
    return tuple(x.view(x.shape) if i in ACTIVATIONS else x for i, x in enumerate(args))


def _on_fresh_views(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    return fn(*fresh_views(args), **kwargs)


def host_calls(fns: dict[str, Callable], sets: list, calls: int, rounds: int) -> dict[str, list[float]]:
    """Host wall of every call (µs), the modes interleaved call by call in a fresh random order each time (no mode
    always follows the same one), the device synced before each call and outside its timing (every call launches
    into an idle queue: what is timed is its host cost, never the kernel's), garbage collection off as `timeit`
    has it. Interleaving per call, not per round of calls, puts every mode under the same moment's host load: on a
    shared host round-level medians moved by ±3 µs from run to run (bench/results/h100/gpu_session_2026-12-07h.md)."""
    names = list(fns)
    order = random.Random(0)
    per: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(rounds):
            for i in range(calls):
                a, kw = sets[i % len(sets)]
                for name in order.sample(names, len(names)):
                    fn = fns[name]
                    _sync()
                    t0 = clock()
                    fn(*a, **kw)
                    per[name].append((clock() - t0) / 1e3)
            _sync()
            gc.collect()  # between rounds, untimed: no round inherits another's garbage
    finally:
        gc.enable()
    return per


def quartile(values: list[float]) -> float:
    """The lower quartile: a second robust figure beside the median (a preempted call moves neither)."""
    return statistics.quantiles(values, n=4)[0]


def delta(host: dict[str, list[float]], mode: str) -> tuple[float, float]:
    """µs the decorator adds per call: `mode`'s median call − unchecked's, and the same at the lower quartile."""
    return (
        statistics.median(host[mode]) - statistics.median(host["unchecked"]),
        quartile(host[mode]) - quartile(host["unchecked"]),
    )


def _first_on_tensorguards(sets: list) -> Callable:
    """A `first`-decorated kernel whose remembered signatures check their tensors with dynamo's TensorGuards,
    as every hit did before the native check (and does where it is not built: SHAPECHECK_NATIVE=0)."""
    fn = contract(GDN_DECODE, mode="first")(UNCHECKED)
    with mock.patch.dict(os.environ, {native.ENV: "0"}):
        native.forget()
        for a, kw in sets:  # each set's signature remembered now, with TensorGuards
            fn(*a, **kw)
    native.forget()
    return fn


def anatomy(N: int, calls: int, rounds: int, fresh: bool = False) -> list[str]:
    """Where the eager `first` hit's time goes inside a decode step: wrappers around the real kernel that each add
    one part of the hit path, timed interleaved with the undecorated call as the main table's rows are (Δ of
    medians, of lower quartiles in brackets). Parts timed alone (the breakdown below) miss what they cost in situ."""
    fn = UNCHECKED
    sets = make_args(N, torch.device("cuda" if CUDA else "cpu"))
    args, kwargs = sets[0]
    where = [i for i, v in enumerate(args) if type(v) is torch.Tensor]
    sig = guards.signature(args, kwargs)
    assert sig is not None
    check, dynamo = native.tensor_check(tuple(args[i] for i in where)), _dynamo_guard(tuple(args[i] for i in where))
    pick = eval(f"lambda a: ({', '.join(f'a[{i}]' for i in where)},)")  # the tensors, as the hit reads them
    is_compiling = torch.compiler.is_compiling

    def wrapper(*a: Any, **k: Any) -> Any:
        return fn(*a, **k)

    def compiling_test(*a: Any, **k: Any) -> Any:
        if is_compiling():
            raise AssertionError
        return fn(*a, **k)

    def tensor_check(*a: Any, **k: Any) -> Any:
        if check(*pick(a)):
            return fn(*a, **k)
        raise AssertionError

    def dynamo_guard(*a: Any, **k: Any) -> Any:
        if dynamo(*pick(a)):
            return fn(*a, **k)
        raise AssertionError

    def matches(*a: Any, **k: Any) -> Any:
        if sig.matches(a, k):
            return fn(*a, **k)
        raise AssertionError

    fns = {
        "unchecked": fn,
        "a Python wrapper `(*a, **k)` passing the call on": wrapper,
        "+ `torch.compiler.is_compiling()` (the hit asked it before dynamo's substitute)": compiling_test,
        "+ dynamo's TensorGuards alone (instead)": dynamo_guard,
        f"+ the {_which()} alone (instead)": tensor_check,
        f"+ the {'native whole-call check' if native.module() else 'generated hit expression'} (counts, keywords, "
        "scalars, tensors; instead)": matches,
        "`first` (the decorator: its hit check, no compile test)": MODES["first"],
        "`shapes` (+ the output's check)": MODES["shapes"],
        "`first` on TensorGuards (the hit before the native check; SHAPECHECK_NATIVE=0)": _first_on_tensorguards(sets),
    }
    for f in fns.values():
        for i in range(6):
            f(*sets[i % 2][0], **sets[i % 2][1])
    if fresh:  # every callable, unchecked too, gets its activations as views made just before the call
        fns = {name: functools.partial(_on_fresh_views, f) for name, f in fns.items()}
    host = host_calls(fns, sets, calls, rounds)
    lines = [
        "",
        f"## The eager hit in situ, N={N}{', fresh activations' if fresh else ''}: each wrapper adds one part "
        f"(µs per call, median; {rounds} rounds of {calls} calls interleaved call by call,",
        "Δ of medians against unchecked, Δ of lower quartiles in brackets)",
        "",
        "| callable | µs per call | Δ µs |",
        "|---|---:|---:|",
    ]
    for name, per in host.items():
        shown = "—" if name == "unchecked" else "{:+.2f} ({:+.2f})".format(*delta(host, name))
        lines.append(f"| {name} | {statistics.median(per):.1f} | {shown} |")
    print("\n".join(lines), flush=True)
    return lines


def _model(fn: Callable) -> Callable:
    """A model around the kernel: the call plus one op for inductor to compile (the output scaled)."""

    def model(*args: Any, **kwargs: Any) -> torch.Tensor:
        return fn(*args, **kwargs) * 2

    return model


SETTINGS = {"eager": None, "inductor": {}, "reduce-overhead": {"mode": "reduce-overhead"}}
"""`eager`: no torch.compile. `reduce-overhead` records CUDA graphs: CUDA only."""


def guard_counts(sets: list, modes: dict[str, Callable]) -> dict[str, int]:
    """Guards dynamo evaluates before each call of the compiled model, per mode (made before any backend runs,
    so the same under inductor and reduce-overhead; with a graph break, the guards of every graph)."""
    a, kw = sets[0]
    counts = {}
    for name, fn in modes.items():
        torch._dynamo.reset()
        counts[name] = len(torch._dynamo.explain(_model(fn))(*a, **kw).out_guards)
    return counts


def rows(
    N: int, settings: list[str], calls: int, rounds: int, modes: dict[str, Callable]
) -> tuple[list[str], dict[str, Any]]:
    """One table row per setting at this N: µs per call of the unchecked model, Δ per mode, guard counts."""
    device = torch.device("cuda" if CUDA else "cpu")
    sets = make_args(N, device)
    for args, _ in sets:  # the pool is a persistent buffer, as in a serving engine: CUDA graphs may update it
        torch._dynamo.mark_static_address(args[9])
    guards_per_mode = guard_counts(sets, modes)
    lines, results = [], {"guards": guards_per_mode}
    for setting in settings:
        options = SETTINGS[setting]
        torch._dynamo.reset()
        fns = modes if options is None else {name: torch.compile(_model(fn), **options) for name, fn in modes.items()}
        try:
            for fn in fns.values():
                for i in range(6):  # compile, warm up, record the CUDA graph; fill the first/shapes caches
                    fn(*sets[i % len(sets)][0], **sets[i % len(sets)][1])
            _sync()
            host = host_calls(fns, sets, calls, rounds)
        except Exception as exc:  # noqa: BLE001 - one failed setting is reported in its row; the others still run
            lines.append(
                f"| {setting} | {N} | failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200].replace('|', '/')} |||||"
            )
            continue
        median = {m: statistics.median(v) for m, v in host.items()}
        print(N, setting, median, flush=True)
        deltas = " | ".join(
            "{:+.1f} ({:+.1f})".format(*delta(host, m)) if m in host else "—" for m in ("first", "shapes", "always")
        )
        counted = " / ".join(str(guards_per_mode.get(m, "—")) for m in MODES) if options is not None else "—"
        lines.append(
            f"| {setting} | {N} | {median['unchecked']:.1f} ({quartile(host['unchecked']):.1f}) | {deltas} | {counted} |"
        )
        print(lines[-1], flush=True)  # each row as it is measured: a run cut short still shows them
        results[setting] = host
    return lines, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "bench" / "results")))
    ap.add_argument(
        "--settings",
        default=",".join(s for s in SETTINGS if CUDA or s != "reduce-overhead"),
        help="comma-separated: eager, inductor, reduce-overhead (CUDA)",
    )
    ap.add_argument("--rounds", type=int, default=21 if CUDA else 15, help="interleaved rounds per setting")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated modes to time (unchecked always)")
    ap.add_argument("--calls", help="calls per mode per round at N=1,N=256 (default: 200,100 on CUDA, 300,100 on CPU)")
    ap.add_argument(
        "--anatomy", action="store_true", help="only the eager hit in situ, part by part, at N=1 (41 rounds, 400 calls)"
    )
    ap.add_argument(
        "--fresh", action="store_true", help="with --anatomy: also with each call's activations new views (fresh_views)"
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = args.settings.split(",")
    tag = torch.cuda.get_device_name() if CUDA else "cpu"
    where = (
        f"{tag}"
        if CUDA
        else f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(`{_cpu_model()}`), the kernel replaced by a pure-torch stand-in"
    )
    calls = [int(n) for n in args.calls.split(",")] if args.calls else [200 if CUDA else 300, 100]
    lines = [
        f"# Contract-check overhead: {tag}",
        "",
        f"{where}. torch {torch.__version__}, triton {triton.__version__}, jaxtyping {jaxtyping.__version__}, "
        f"Python {platform.python_version()}. Decode T=1, H={H}, HV={HV}, K=V={K}, fp32 pool, bf16 activations, "
        f"l2norm on, 2 rotating input sets. Host wall of each call, modes interleaved call by call in random order "
        f"({args.rounds} rounds of {calls[0]} calls at N=1, {calls[1]} at N=256), the device synced before each call and outside its timing, "
        "GC off: unchecked = median call (and lower quartile); Δ = mode's median call − unchecked's (and the same "
        "at the lower quartile); guards = dynamo's guards before "
        "each call of the compiled model (`torch._dynamo.explain`), unchecked / first / shapes / always.",
        "",
        "| setting | N | unchecked µs | first Δ µs | shapes Δ µs | always Δ µs | guards |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    if args.anatomy:
        found = anatomy(1, 400, 41) + (anatomy(1, 400, 41, fresh=True) if args.fresh else [])
        name = "overhead_anatomy_" + "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in tag)
        (out / f"{name}.md").write_text("\n".join([f"# The eager `first` hit in situ: {where}", *found[1:]]) + "\n")
        return
    results: dict[str, Any] = {}
    modes = {name: fn for name, fn in MODES.items() if name == "unchecked" or name in args.modes.split(",")}
    for N, n in zip((1, 256), calls):
        found, results[f"N{N}"] = rows(N, settings, n, args.rounds, modes)
        lines += found
    args_1 = make_args(1, torch.device("cuda" if CUDA else "cpu"), R=1)[0]
    parts = breakdown(*args_1, out=UNCHECKED(*args_1[0], **args_1[1]), reps=300)
    results["breakdown_N1"] = parts
    lines += [
        "",
        "## One check at N=1, by part (µs per call, fastest of 5 runs, syncs included)",
        "",
        "| part | µs |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in parts.items()] + [""]
    name = "overhead_" + "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in tag)
    (out / f"{name}.md").write_text("\n".join(lines))
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    print("\n".join(lines))


def _cpu_model() -> str:
    """The CPU's model name (Linux), for the results' header."""
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
