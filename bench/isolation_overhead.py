"""What `--isolate` costs: property cases per second with the kernel in-process and in a worker process.

Runs the GDN contract's suite with the same seed in-process (the default for trusted code) and isolated
(worker process, copies through shared memory / CUDA IPC, a fresh-input second run of every case and a
settle delay for late writes), each twice so that compilation and cache loading stay out of the ratio. A second table
splits the isolated cost per call: one round trip through the worker for a fixed case, against the same
call in-process. Prints tables naming the device.

    python bench/isolation_overhead.py --device cpu --profile ci --examples 60
    python bench/isolation_overhead.py --device cuda --profile gpu --examples 200
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any, Callable

import torch

TARGET = "shapecheck.kernels.gdn:fused_sigmoid_gating_delta_rule_update"


def _median_call(fn: Callable[..., Any], make_args: Callable[[], dict[str, Any]], device: str, repeat: int) -> float:
    """Median seconds of one call (inputs built outside the timing), synchronised on a GPU."""
    times = []
    for _ in range(repeat):
        args = make_args()
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(**args)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=20, help="calls per row of the per-call table")
    options = parser.parse_args()
    if options.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"

    from shapecheck import registry
    from shapecheck.contracts.gdn import GDN_DECODE
    from shapecheck.contracts.gdn_cases import EXAMPLES, inputs
    from shapecheck.isolate import Isolated
    from shapecheck.profiles import PROFILES
    from shapecheck.runner import run_property

    device, profile = options.device, PROFILES[options.profile]
    if device == "cuda":
        where = f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
    else:
        where = f"CPU ({platform.machine()}, {os.cpu_count()} cores), Triton interpreter, torch {torch.__version__}"
    import triton

    print(
        f"# isolation overhead: {where}, triton {triton.__version__}; profile {profile.name}; "
        f"{options.examples} examples + {len(EXAMPLES)} regime cases, seed {options.seed}; settle delay {profile.settle_s} s"
    )
    print(f"{'mode':<22} {'cases':>6} {'failing':>8} {'seconds':>8} {'cases/s':>8}")
    honest = registry.implementation(TARGET)
    rates = {}
    with Isolated(TARGET, device, profile.timeout_s, profile.settle_s) as worker:
        # Each mode twice: the first pass pays Triton compilation (in-process) or loads the compiled kernels
        # from the disk cache into the worker; the second is the steady state the ratio compares.
        for label, impl in (
            ("in-process, first", honest),
            ("in-process, again", honest),
            ("isolated, first", worker),
            ("isolated, again", worker),
        ):
            r = run_property(
                GDN_DECODE,
                impl,
                TARGET,
                profile=profile,
                device=device,
                examples=options.examples,
                seed=options.seed,
                database=False,
            )
            n = len(r.outcomes)
            rates[label] = n / r.seconds
            print(f"{label:<22} {n:>6} {sum(not o.ok for o in r.outcomes):>8} {r.seconds:>8.1f} {rates[label]:>8.2f}")
        print(
            f"isolated / in-process (steady state): {rates['isolated, again'] / rates['in-process, again']:.3f}x "
            "the case rate"
        )
        print()
        print(
            f"{'one call (median of ' + str(options.repeat) + ')':<34} {'in-process ms':>14} {'isolated ms':>12} {'overhead ms':>12}"
        )
        for name in ("decode T=1", "K=256 (largest key block)"):
            local = _median_call(honest, lambda name=name: inputs(EXAMPLES[name], device), device, options.repeat)
            remote = _median_call(worker, lambda name=name: inputs(EXAMPLES[name], device), device, options.repeat)
            print(f"{name:<34} {1e3 * local:>14.1f} {1e3 * remote:>12.1f} {1e3 * (remote - local):>12.1f}")


if __name__ == "__main__":  # workers start from a fork server that re-imports the main module
    main()
