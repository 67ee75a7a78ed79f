"""Named budgets for the property engine: how many cases, and how large the drawn dimensions may get.

The CPU interpreter costs about 1 ms per program per time step, so `ci` keeps every dimension near its
`Dim.hi`; `gpu` draws up to `Dim.gpu_hi`; `thorough` is `ci` sizes with many more cases. `timeout_s` bounds
one case of an isolated implementation (`shapecheck run --isolate`): the slowest interpreted CI case takes
a few seconds on 2 cores, a cold GPU case a few Triton compilations; a hang is a finding, not a stalled job.
`settle_s` is the wait for late writes after a device sync: with the 0.1 s of `ci` it dominated the isolated
GPU rate (4.1 cases/s on an H200, bench/results/isolation_NVIDIA_H200.txt), so `gpu` waits 20 ms.
`max_compiles` is the compile budget: `gpu` lets a run compile a few dozen kernels (the interpreter compiles
none, so the CPU profiles draw freely).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    large: bool  # draw up to Dim.gpu_hi instead of Dim.hi
    timeout_s: float = 120.0  # per case, under isolation
    settle_s: float = 0.1  # under isolation: wait after the device sync before looking for late writes
    max_compiles: int = 0  # distinct Triton compile keys a run may draw (shapecheck/budget.py); 0: draw freely


PROFILES = {
    "ci": Profile("ci", max_examples=60, large=False),
    "gpu": Profile("gpu", max_examples=400, large=True, timeout_s=60.0, settle_s=0.02, max_compiles=24),
    "thorough": Profile("thorough", max_examples=1000, large=False),
}


def named(name: str, label: str = "profile") -> Profile:
    """The profile called `name`, or a ValueError naming `label` (the argument the caller took it from)."""
    if name not in PROFILES:
        raise ValueError(f"{label} must be one of {', '.join(PROFILES)}, found {name!r}")
    return PROFILES[name]
