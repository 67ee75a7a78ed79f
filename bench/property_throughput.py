"""Property-engine throughput: cases per second and Triton compilations per 100 cases.

Runs the GDN contract's suite twice with the same seed: the first pass pays JIT compilation (GPU) and
warms caches, the second is the steady state. Prints a table naming the device.

    python bench/property_throughput.py --device cpu --profile ci --examples 200
    python bench/property_throughput.py --device cuda --profile gpu --examples 400
"""

from __future__ import annotations

import argparse
import os
import platform

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--profile", default="ci")
parser.add_argument("--examples", type=int, default=200)
parser.add_argument("--seed", type=int, default=0)
options = parser.parse_args()
if options.device == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"

from gdn_suite import run_gdn_suite  # noqa: E402 - after the backend is chosen (bench/gdn_suite.py)

if options.device == "cuda":
    where = f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
else:
    where = f"CPU ({platform.machine()}, {os.cpu_count()} cores), Triton interpreter, torch {torch.__version__}"
print(f"# property throughput: {where}; profile {options.profile}; {options.examples} examples, seed {options.seed}")
print(
    f"{'pass':<12} {'cases':>6} {'failing':>8} {'seconds':>8} {'cases/s':>8} {'compiles':>9} {'keys':>5} {'compiles/100':>13}"
)
for label in ("cold", "warm"):
    r = run_gdn_suite(device=options.device, profile=options.profile, examples=options.examples, seed=options.seed)
    n = len(r.outcomes)
    print(
        f"{label:<12} {n:>6} {sum(not o.ok for o in r.outcomes):>8} {r.seconds:>8.1f} {n / r.seconds:>8.1f} "
        f"{r.compilations:>9} {r.compile_keys:>5} {100 * r.compilations / n:>13.1f}"
    )
