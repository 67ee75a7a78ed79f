"""bench/audit/emit_counts.py's clause counts on two small contracts: what is kept, edited, renamed, added and
dropped between a draft and the contract written from it."""

from __future__ import annotations

from typing import Annotated, Any

from jaxtyping import Float
from torch import Tensor

from bench.audit.emit_counts import count
from shapecheck import Differentiable
from shapecheck.spec import Contract, Dim, Rule


def _draft(x: Float[Tensor, "n_rows n_cols"], w: Any, eps: float, in_place: bool = True) -> Float[Tensor, "R"]: ...


def _ours(
    x: Annotated[Float[Tensor, "N D"], Differentiable()], w: Float[Tensor, "D"], eps: float, scale: float = 1.0
) -> Float[Tensor, "N D"]: ...


DRAFT = Contract(
    "d", _draft, dims={"n_rows": Dim("", 1, 8), "n_cols": Dim("", 1, 8), "R": Dim("placeholder for the result", 1, 8)}
)
OURS = Contract(
    "o",
    _ours,
    dims={"N": Dim("rows", 1, 6), "D": Dim("hidden", 1, 48)},
    rules=[Rule("D <= 48", blame=("x", "D"), why="one block")],
    reference=lambda x, w, eps, scale=1.0: x,
)


def test_each_clause_of_our_contract_is_counted_once_against_the_draft() -> None:
    counted = count(OURS, DRAFT)
    assert dict(counted["clauses"]) == {
        "param x": "renamed",  # [n_rows, n_cols] -> [N, D]
        "param w": "edited",  # Any -> Float[D]
        "param eps": "kept",
        "param scale": "added",
        "result 0": "edited",  # the draft's placeholder [R] -> [N, D]
        "dim N": "added",
        "dim D": "added",
        "rule D <= 48": "added",
        "marker Differentiable on x": "added",
        "reference": "added",
    }
    assert counted["totals"] == {"kept": 1, "edited": 2, "renamed": 1, "added": 6, "dropped": 1}
    assert counted["dropped"] == ["in_place"]
