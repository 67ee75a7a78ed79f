"""Named budgets for the property engine: how many cases, and how large the drawn dimensions may get.

The CPU interpreter costs about 1 ms per program per time step, so `ci` keeps every dimension near its
`Dim.hi`; `gpu` draws up to `Dim.gpu_hi`; `thorough` is `ci` sizes with many more cases.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    large: bool  # draw up to Dim.gpu_hi instead of Dim.hi


PROFILES = {
    "ci": Profile("ci", max_examples=60, large=False),
    "gpu": Profile("gpu", max_examples=400, large=True),
    "thorough": Profile("thorough", max_examples=1000, large=False),
}
