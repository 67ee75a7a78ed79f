"""The bundled GDN kernel's property suite as the benchmarks run it: bench/property_throughput.py times it,
bench/soak.py repeats it over seeds. Import it after choosing the backend (TRITON_INTERPRET): it imports the
kernel."""

from __future__ import annotations

from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property


def run_gdn_suite(*, device: str, profile: str, examples: int, seed: int) -> Report:
    """One run of the suite, without the example database: each run draws afresh from its seed."""
    return run_property(
        GDN_DECODE,
        fused_sigmoid_gating_delta_rule_update,
        "shapecheck.kernels.gdn",
        profile=PROFILES[profile],
        device=device,
        examples=examples,
        seed=seed,
        database=False,
    )
