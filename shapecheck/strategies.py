"""Hypothesis strategies drawn from a contract: dimensions, marked integer tensors, optional arguments, cases.

Everything here is a composable Hypothesis strategy (no hand-rolled randomness), so draws shrink to
minimal failing cases and replay from the example database. A contract with nothing but annotations gets
complete cases: every dimension the annotations name (ranges from `Contract.dims`, else `Dim()`), values
for `Offsets`/`Index`-marked tensors, and whether each optional tensor is passed. Use them in your own tests:

    @given(shapecheck.strategies.cases(MY_CONTRACT))          # the "ci" profile; or "gpu", "thorough"
    def test_my_kernel(case):
        assert shapecheck.check_case(MY_CONTRACT, case, my_kernel, "cpu").problems == []
"""

from __future__ import annotations

import types
from typing import Any, Callable, Mapping, Optional

from hypothesis import HealthCheck
from hypothesis import strategies as st

from shapecheck.case import Case
from shapecheck.markers import Index, Offsets
from shapecheck.profiles import Profile, named
from shapecheck.spec import Contract, Dim

Overrides = Mapping[str, st.SearchStrategy[Any]]
NO_OVERRIDES: Overrides = types.MappingProxyType({})  # the default: read-only, so one shared value is safe
# The health checks real runs trip, each for its reason (the others stay on). filter_too_much: contracts refuse
# drawn cases by design (`reject()`), and a run where every case was refused raises NothingRan naming why.
# too_slow: drawing shares the process and CI's two cores with kernel work; a slow draw is load, not a bug.
SUPPRESSED_HEALTH_CHECKS = [HealthCheck.filter_too_much, HealthCheck.too_slow]
STRIDED = "strided_views"
"""Generic-case option: the tensors passed as views with a padded row stride (pinnable: --pin strided_views=[])."""


def dim(d: Dim, profile: Profile, *, lo: Optional[int] = None) -> st.SearchStrategy[int]:
    """Sizes of one dimension within the profile's bound; shrinks towards the low end."""
    hi = d.gpu_hi if profile.large and d.gpu_hi else d.hi
    return st.integers(min_value=d.lo if lo is None else lo, max_value=max(hi, d.lo if lo is None else lo))


def dims(contract: Contract, profile: Profile, overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[dict[str, int]]:
    """Every dimension the contract's annotations name, drawn independently then filtered by its rules.

    Rules that mention non-tensor arguments do not apply here (their names are unbound). For contracts
    with strong coupling between dims (divisibility, varlen), write a case strategy with `dim()` instead.
    """
    parts = {name: overrides.get(name, dim(contract.dim(name), profile)) for name in contract.dim_names}
    return st.fixed_dictionaries(parts).filter(lambda drawn: all(rule.holds(drawn) is not False for rule in contract.rules))


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**31 - 1)


def _length(contract: Contract, name: str, drawn: Mapping[str, int]) -> int:
    """Entries of a rank-1 marked tensor under the drawn dims (its first pattern's only axis)."""
    return contract.tensor_specs[name].patterns[0].evaluate(drawn)[0]


def marked_values(contract: Contract, name: str, drawn: Mapping[str, int]) -> st.SearchStrategy[list[int]]:
    """Valid values of an `Offsets`- or `Index`-marked tensor under the drawn dims."""
    marker, length = contract.markers[name], _length(contract, name, drawn)
    if isinstance(marker, Offsets):
        return marker.strategy(drawn[marker.into], length - 1) if length >= 1 else st.nothing()
    assert isinstance(marker, Index), f"{name} carries no value marker"
    return marker.strategy(length, drawn[marker.into])


def options(contract: Contract, drawn: Mapping[str, int], overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[dict[str, Any]]:
    """Per-argument choices of a generic case: marked tensors' values, None for an optional tensor left out,
    and scalar parameters that are pinned (unpinned scalars take their defaults)."""
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for name in contract.parameters:
        spec = contract.tensor_specs.get(name)
        if spec is None:
            if name in overrides:
                parts[name] = overrides[name]
            continue
        values = marked_values(contract, name, drawn) if isinstance(contract.markers.get(name), (Offsets, Index)) else None
        if spec.optional:  # None = left out; [] = passed, values from the seed
            present = st.just([]) if values is None else values
            parts[name] = overrides.get(name, st.one_of(st.none(), present))
        elif values is not None:
            parts[name] = overrides.get(name, values)
    strided = [n for n in contract.free_strides if len(contract.tensor_specs[n].patterns[0].axes) >= 2]
    if strided:
        each = st.tuples(*(st.booleans() for _ in strided))  # half the cases per tensor
        parts[STRIDED] = overrides.get(STRIDED, each.map(lambda flags: [n for n, f in zip(strided, flags) if f]))
    return st.fixed_dictionaries(parts)


def generic_cases(contract: Contract, profile: Profile, overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[Case]:
    """Cases for a contract without its own case strategy: rule-respecting dims, argument options, a seed."""

    @st.composite
    def draw(draw: st.DrawFn) -> Case:
        drawn = draw(dims(contract, profile, overrides))
        return Case(contract.name, drawn, draw(options(contract, drawn, overrides)), draw(seeds()))

    return draw()


CaseFactory = Callable[[Profile, Overrides], st.SearchStrategy[Case]]


def cases(contract: Contract, profile: Profile | str = "ci", overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[Case]:
    """The contract's own case strategy (`Contract.cases`) if it has one, else `generic_cases`.

    `profile` is a `Profile` or its name (`"ci"`, `"gpu"`, `"thorough"`), validated now, not at the first draw.
    """
    if isinstance(profile, str):
        profile = named(profile, "shapecheck.strategies.cases: profile")
    contract.resolve_hooks()  # a typo in any hook fails here, where the strategy is built, not at a draw
    factory: Optional[CaseFactory] = contract.resolve("cases")
    return factory(profile, overrides) if factory else generic_cases(contract, profile, overrides)
