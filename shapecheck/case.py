"""A drawn case: small, JSON-serialisable, and enough to rebuild every input tensor.

Hypothesis draws (and shrinks) the case — dimensions, structured inputs such as `cu_seqlens` and slot
indices, options — while tensor values come from `seed`. Printing the case as JSON therefore reproduces
a failure exactly: `shapecheck run CONTRACT --reproduce '<json>'`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

SPACED = "spaced_views"
"""Generic-case option: the tensors passed as views of every other element of their last axis, drawn for those the
contract takes in any layout (`Contract.free_layouts`; pinnable: --pin spaced_views=[]). Here, not beside the other
options in `shapecheck.strategies`, because a printed failure names them without importing Hypothesis."""


@dataclasses.dataclass(frozen=True)
class Case:
    contract: str
    dims: Mapping[str, int]
    options: Mapping[str, Any]
    seed: int

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Case":
        """Parse a case; raises ValueError naming what is missing or malformed."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"case is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("case must be a JSON object with keys contract, dims, options, seed")
        missing = {"contract", "dims", "options", "seed"} - set(data)
        if missing:
            raise ValueError(f"case is missing {sorted(missing)}")
        if not isinstance(data["dims"], dict) or not all(isinstance(v, int) for v in data["dims"].values()):
            raise ValueError("case.dims must map dimension names to integers")
        if not isinstance(data["options"], dict) or not isinstance(data["seed"], int):
            raise ValueError("case.options must be an object and case.seed an integer")
        return cls(data["contract"], data["dims"], data["options"], data["seed"])
