"""Soak: many drawn cases on the correct kernel, to show the property suite raises no false alarms.

Prints, per seed, cases run and failures, then the worst relative RMS error seen per dtype next to the
bound the runner enforces — the evidence behind `shapecheck.runner.TOLERANCE`.

    python bench/soak.py --seeds 0 1 2 3 --examples 500 [--device cpu|cuda] [--profile ci|gpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
parser.add_argument("--examples", type=int, default=500)
parser.add_argument("--device", default="cpu")
parser.add_argument("--profile", default="ci")
options = parser.parse_args()
if options.device == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"

from gdn_suite import run_gdn_suite  # noqa: E402 - after the backend is chosen (bench/gdn_suite.py)

from shapecheck.runner import tolerance  # noqa: E402

where = (
    torch.cuda.get_device_name()
    if options.device == "cuda"
    else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), Triton interpreter"
)
print(f"# soak: {where}; torch {torch.__version__}; profile {options.profile}")
print(f"{'seed':>6} {'cases':>6} {'failing':>8} {'seconds':>8}")
worst: dict[str, float] = {}
total = failing = 0
for seed in options.seeds:
    start = time.perf_counter()
    report = run_gdn_suite(device=options.device, profile=options.profile, examples=options.examples, seed=seed)
    bad = sum(not o.ok for o in report.outcomes)
    total, failing = total + len(report.outcomes), failing + bad
    for key, err in report.worst_errors().items():
        worst[key] = max(err, worst.get(key, 0.0))
    print(f"{seed:>6} {len(report.outcomes):>6} {bad:>8} {time.perf_counter() - start:>8.1f}", flush=True)
    if report.failure:
        print("  FAILURE:", report.failure.problems, report.failure.case.to_json())
print(f"\ntotal: {total} cases, {failing} failing")
print(f"\n{'quantity':<34} {'worst rel. RMS':>15} {'bound':>8} {'margin':>8}")
for key, err in sorted(worst.items()):
    bound = tolerance(getattr(torch, key.split()[-1]))
    print(f"{key:<34} {err:>15.3e} {bound:>8.0e} {bound / err if err else float('inf'):>7.1f}x")
