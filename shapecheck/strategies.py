"""Hypothesis strategies drawn from a contract: dimensions, varlen partitions, slot indices, cases.

Everything here is a composable Hypothesis strategy (no hand-rolled randomness), so draws shrink to
minimal failing cases and replay from the example database.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from hypothesis import strategies as st

from shapecheck.case import Case
from shapecheck.contract import Contract, Dim
from shapecheck.profiles import Profile

Overrides = Mapping[str, st.SearchStrategy[int]]


def dim(d: Dim, profile: Profile, *, lo: Optional[int] = None) -> st.SearchStrategy[int]:
    """Sizes of one dimension within the profile's bound; shrinks towards the low end."""
    hi = d.gpu_hi if profile.large and d.gpu_hi else d.hi
    return st.integers(min_value=d.lo if lo is None else lo, max_value=max(hi, d.lo if lo is None else lo))


def dims(contract: Contract, profile: Profile, overrides: Overrides = {}) -> st.SearchStrategy[dict[str, int]]:
    """Every dimension of the contract, drawn independently then filtered by the contract's rules.

    Rules that mention non-tensor arguments do not apply here (their names are unbound). For contracts
    with strong coupling between dims (divisibility, varlen), write a case strategy with `dim()` instead.
    """
    parts = {name: overrides.get(name, dim(d, profile)) for name, d in contract.dims.items()}
    return st.fixed_dictionaries(parts).filter(lambda drawn: all(rule.holds(drawn) is not False for rule in contract.rules))


def partitions(total: int, parts: int) -> st.SearchStrategy[list[int]]:
    """`cu_seqlens` splitting `total` tokens into `parts` sequences (zero-length sequences included)."""
    cuts = st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1).map(sorted)
    return cuts.map(lambda inner: [0, *inner, total])


def slot_indices(n: int, slots: int, padding: bool = True) -> st.SearchStrategy[list[int]]:
    """`n` pool slots: distinct real slots in [0, slots), some -1 padding if allowed, others left unused."""
    real = st.lists(st.integers(0, slots - 1), min_size=n, max_size=n, unique=True) if n <= slots else st.nothing()
    if not padding:
        return real
    mask = st.lists(st.booleans(), min_size=n, max_size=n)
    return st.tuples(real, mask).map(lambda rm: [-1 if pad else s for s, pad in zip(*rm)])


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**31 - 1)


CaseFactory = Callable[[Profile, Overrides], st.SearchStrategy[Case]]


def generic_cases(contract: Contract, profile: Profile, overrides: Overrides = {}) -> st.SearchStrategy[Case]:
    """Cases for a contract without its own case strategy: rule-respecting dims and a seed."""
    return st.builds(lambda d, s: Case(contract.name, d, {}, s), dims(contract, profile, overrides), seeds())


def cases(contract: Contract, profile: Profile, overrides: Overrides = {}) -> st.SearchStrategy[Case]:
    """The contract's own case strategy (`Contract.cases`) if it has one, else `generic_cases`."""
    factory: Optional[CaseFactory] = contract.resolve("cases")
    return factory(profile, overrides) if factory else generic_cases(contract, profile, overrides)


def fixed(value: Any) -> st.SearchStrategy[Any]:
    """Pin a dimension or option (a per-dimension override from the CLI or a test)."""
    return st.just(value)
