"""Do Triton compilations of the GDN kernel overlap when the wrapper is called from several threads?

The cold `gpu`-profile property run is compile-bound (bench/results/h200/property_cold.txt). This draws the
profile's cases (seed 0), keeps one per dtype/layout/gate/index/alignment/multi-token set, and calls the
wrapper once per kept case, serially or from WORKERS threads, counting compilations. Use a fresh
TRITON_CACHE_DIR per run (the caller's job: the disk cache would serve the second run).

    TRITON_CACHE_DIR=$(mktemp -d) python bench/compile_overlap.py --threads 8
"""

from __future__ import annotations

import argparse
import concurrent.futures
import time
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed

from shapecheck import strategies
from shapecheck.case import Case
from shapecheck.compilations import CompileCounter
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.inputs import input_builder
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as wrapper

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=0, help="0: call serially")
parser.add_argument("--examples", type=int, default=423)
options = parser.parse_args()

drawn: list[Case] = []


@hypothesis_seed(0)
@settings(max_examples=options.examples, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.cases(GDN_DECODE, profile="gpu"))
def draw(case: Case) -> None:
    drawn.append(case)


start = time.perf_counter()
draw()
drawing = time.perf_counter() - start
kept: dict[tuple[Any, ...], Case] = {}
for case in drawn:
    o, d = case.options, case.dims
    kept.setdefault(
        (
            o["dtype"],
            o["pool_dtype"],
            o["layout"],
            o["gate_dtype"],
            o["index_dtype"],
            o["packed_gates"],
            o["strided_qkv"],
            d.get("T", 1) > 1,
            d.get("K", 0) % 16 == 0 and d.get("V", 0) % 16 == 0,
        ),
        case,
    )
calls = [input_builder(GDN_DECODE)(case, "cuda") for case in kept.values()]


def call(args: dict[str, Any]) -> None:
    wrapper(**args)
    torch.cuda.synchronize()


counter = CompileCounter()
torch.cuda.synchronize()
start = time.perf_counter()
with counter.active():
    if options.threads:
        with concurrent.futures.ThreadPoolExecutor(options.threads) as pool:
            list(pool.map(call, calls))
    else:
        for args in calls:
            call(args)
print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}; drew {len(drawn)} cases in {drawing:.1f} s")
print(f"{'threads':>8} {'calls':>6} {'seconds':>8} {'compilations':>13} {'keys':>5}")
print(
    f"{options.threads or 1:>8} {len(calls):>6} {time.perf_counter() - start:>8.2f} {counter.count:>13} {len(counter.keys):>5}"
)
