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

from shapecheck.contracts.gdn import GDN_DECODE  # noqa: E402 - after the backend is chosen
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update  # noqa: E402
from shapecheck.profiles import PROFILES  # noqa: E402
from shapecheck.runner import run_property  # noqa: E402

if options.device == "cuda":
    where = f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
else:
    where = f"CPU ({platform.machine()}, {os.cpu_count()} cores), Triton interpreter, torch {torch.__version__}"
print(f"# property throughput: {where}; profile {options.profile}; {options.examples} examples, seed {options.seed}")
print(
    f"{'pass':<12} {'cases':>6} {'failing':>8} {'seconds':>8} {'cases/s':>8} {'compiles':>9} {'keys':>5} {'compiles/100':>13}"
)
for label in ("cold", "warm"):
    r = run_property(
        GDN_DECODE,
        fused_sigmoid_gating_delta_rule_update,
        "shapecheck.kernels.gdn",
        profile=PROFILES[options.profile],
        device=options.device,
        examples=options.examples,
        seed=options.seed,
        database=False,
    )
    n = len(r.outcomes)
    print(
        f"{label:<12} {n:>6} {sum(not o.ok for o in r.outcomes):>8} {r.seconds:>8.1f} {n / r.seconds:>8.1f} "
        f"{r.compilations:>9} {r.compile_keys:>5} {100 * r.compilations / n:>13.1f}"
    )
