"""Compile ahead on a cold and then a warm Triton cache (GPU): the seconds the pass and the cases' own
compilations take. tests/test_gpu.py runs this script and checks its counts; the times are read here.

    TRITON_CACHE_DIR=$(mktemp -d) python bench/compile_ahead.py

Prints one JSON line per run ("cold", then "warm", same process), then what the times say: on a cold cache the
pass compiles the kernels (seconds, not a probe), the cases then find them compiled (their own compile time a
small part of the pass's), and on a warm cache the pass steps aside (a probe of under a second).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property


def main() -> None:
    runs = {}
    for label in ("cold", "warm"):
        r = run_property(
            GDN_DECODE, kernel, "gdn", profile=PROFILES["gpu"], device="cuda", examples=120, seed=3, database=False
        )
        runs[label] = {
            "run": label,
            "held": r.held,
            "cases": len(r.outcomes),
            "compilations": r.compilations,
            "compile_s": r.compile_seconds,
            "ahead_s": r.ahead_seconds,
        }
        print(json.dumps(runs[label]), flush=True)
    cold, warm = runs["cold"], runs["warm"]
    print(
        f"# cold: the pass compiled for {cold['ahead_s']:.1f} s (expected > 1 s); the cases' own compile time "
        f"{cold['compile_s']:.2f} s is {cold['compile_s'] / max(cold['ahead_s'], 1e-9):.0%} of it (expected < 25 %)"
    )
    print(f"# warm: the pass took {warm['ahead_s']:.2f} s (expected < 1 s: the probe finds the kernel)")


if __name__ == "__main__":
    main()
