"""How often a correct float32 kernel misses the fixed 1e-5 bound, and whether the second opinion holds it.

Draws small float32 cases (the dims of the GPU property job's 2026-12-01 finding: K=16, V=1, one sequence of
slot 0 with a zero q/k token, one of a padding slot: its output is one 16-term q.k dot product), fresh values per seed; runs
each through `check_case` twice: judged by the float32 reference alone (the old verdict) and as the runner
judges it now (`shapecheck/conditioning.py`). Prints counts and, for the cases the fixed bound fails, the
kernel's error against the float64 truth as a multiple of the case's noise floor: the evidence for
`conditioning.FACTOR`.

    python bench/precision_floor.py [--device cpu|cuda] [--seeds 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--seeds", type=int, default=2000)
options = parser.parse_args()
if options.device == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402 - after the backend is chosen
import triton  # noqa: E402

from shapecheck import conditioning, harness  # noqa: E402
from shapecheck.case import Case  # noqa: E402
from shapecheck.contracts.gdn import GDN_DECODE  # noqa: E402
from shapecheck.contracts.gdn_cases import BASE_OPTIONS  # noqa: E402
from shapecheck.inputs import input_builder  # noqa: E402
from shapecheck.kernels import gdn  # noqa: E402
from shapecheck.kernels.reference import gated_delta_rule_reference  # noqa: E402
from shapecheck.runner import check_case  # noqa: E402

DIMS = {"B": 2, "H": 1, "HV": 1, "K": 16, "N": 2, "S": 2, "T": 1, "V": 1}
OPTIONS = {**BASE_OPTIONS, "indices": [0, -1], "zero_token": True}


def main() -> None:
    kernel = gdn.fused_sigmoid_gating_delta_rule_update
    fixed_fails, now_fails, ratios = 0, [], []
    for seed in range(options.seeds):
        case = Case(GDN_DECODE.name, DIMS, OPTIONS, seed)
        outcome = check_case(GDN_DECODE, case, kernel, options.device)
        args = input_builder(GDN_DECODE)(case, options.device)
        pool = args["initial_state_source"].clone()
        ref32, _ = gated_delta_rule_reference(**{**args, "initial_state_source": pool.clone()})
        out = kernel(**{**args, "initial_state_source": pool.clone()})
        if harness.relative_rms(out, ref32) <= harness.tolerance(torch.float32):
            continue
        fixed_fails += 1
        opinion = conditioning.second_opinion(
            harness.reference_results(GDN_DECODE, gated_delta_rule_reference),
            {**args, "initial_state_source": pool},
            [(harness.RETURN, out)],
            seed,
        )
        assert opinion is not None, "the GDN reference runs in float64"
        bound = opinion.bounds["output float32"]
        err = harness.relative_rms(out, opinion.truth["output"])
        ratios.append(err / (bound.value / conditioning.FACTOR))
        if outcome.problems:
            now_fails.append((seed, outcome.problems[0]))
    name = torch.cuda.get_device_name() if options.device.startswith("cuda") else "CPU, Triton interpreter"
    print(f"# {name}; torch {torch.__version__}, triton {triton.__version__}; {options.seeds} seeds of {DIMS}")
    print(f"failing the fixed float32 bound (1e-5 vs the float32 reference): {fixed_fails}")
    print(
        f"failing as judged now (float64 reference, max(1e-5, {conditioning.FACTOR} x noise floor)): {len(now_fails)}"
    )
    if ratios:
        ratios.sort()
        print(
            f"error vs float64 truth / noise floor, over the fixed-bound failures: median "
            f"{statistics.median(ratios):.2f}, max {ratios[-1]:.2f}"
        )
    for seed, line in now_fails[:10]:
        print(f"  seed {seed}: {line}")


if __name__ == "__main__":
    main()
