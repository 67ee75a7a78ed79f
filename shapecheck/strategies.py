"""Hypothesis strategies drawn from a contract: dimensions, marked integer tensors, optional arguments, cases.

Everything here is a composable Hypothesis strategy (no hand-rolled randomness), so draws shrink to
minimal failing cases and replay from the example database. A contract with nothing but annotations gets
complete cases: every dimension the annotations name (ranges from `Contract.dims`, else `Dim()`), values
for `Offsets`/`Index`-marked tensors, and whether each optional tensor is passed. Use them in your own tests:

    @given(shapecheck.strategies.cases(MY_CONTRACT))          # the "ci" profile; or profile="gpu", "thorough"
    def test_my_kernel(case):
        assert shapecheck.check_case(MY_CONTRACT, case, my_kernel, "cpu").problems == []
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import types
from typing import Any, Callable, Mapping, Optional, Sequence

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from shapecheck.backend import interpreter_bfloat16_arithmetic
from shapecheck.case import SPACED, Case
from shapecheck.errors import InvalidContract
from shapecheck.keywords import refuse_positional_options
from shapecheck.markers import Index, Offsets
from shapecheck.profiles import Profile, named
from shapecheck.spec import Contract, Dim

Overrides = Mapping[str, st.SearchStrategy[Any]]
NO_OVERRIDES: Overrides = types.MappingProxyType({})  # the default: read-only, so one shared value is safe
# The health checks real runs trip, each for its reason (the others stay on). filter_too_much: contracts refuse
# drawn cases by design (`reject()`), and a run where every case was refused raises NothingRan naming why.
# too_slow: drawing shares the process and CI's two cores with kernel work; a slow draw is load, not a bug.
SUPPRESSED_HEALTH_CHECKS = [HealthCheck.filter_too_much, HealthCheck.too_slow]


def for_each_drawn(
    strategy: st.SearchStrategy[Case], count: int, seed: Optional[int], each: Callable[[Case], object]
) -> None:
    """`each` on the first `count` cases Hypothesis draws from `strategy` under `seed` (generation only, no
    database): the draws a run will make, known before it, for compiling ahead and budgeting compile keys."""

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=SUPPRESSED_HEALTH_CHECKS,
    )
    @given(strategy)
    def draw(case: Case) -> None:
        each(case)

    (hypothesis_seed(seed)(draw) if seed is not None else draw)()


STRIDED = "strided_views"
"""Generic-case option: the tensors passed as views with a padded row stride (pinnable: --pin strided_views=[])."""
COTANGENTS = "cotangents"
"""Generic-case option of a differentiable contract: output name -> "zero" or "strided" for its cotangent
(`shapecheck.gradients`; absent: packed random values). Pinnable: --pin 'cotangents={"output": "zero"}'."""
DTYPES = "dtypes"
"""Generic-case option: each tensor's drawn dtype by name (pinnable: --pin 'dtypes={"x": "bfloat16"}')."""


def dim(d: Dim, profile: Profile, *, lo: Optional[int] = None) -> st.SearchStrategy[int]:
    """Sizes of one dimension within the profile's bound; shrinks towards the low end."""
    hi = d.gpu_hi if profile.large and d.gpu_hi else d.hi
    return st.integers(min_value=d.lo if lo is None else lo, max_value=max(hi, d.lo if lo is None else lo))


def dims(
    contract: Contract, profile: Profile, overrides: Overrides = NO_OVERRIDES
) -> st.SearchStrategy[dict[str, int]]:
    """Every dimension the contract's annotations name, drawn independently then filtered by its rules.

    Rules that mention non-tensor arguments do not apply here (their names are unbound). For contracts
    with strong coupling between dims (divisibility, varlen), write a case strategy with `dim()` instead.
    """
    parts = {name: overrides.get(name, dim(contract.dim(name), profile)) for name in contract.drawn_dims}
    return st.fixed_dictionaries(parts).filter(
        lambda drawn: all(rule.holds(drawn) is not False for rule in contract.rules)
    )


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


def scalar(contract: Contract, name: str) -> Optional[st.SearchStrategy[Any]]:
    """Values of one scalar parameter, or None to keep its default: the contract's `draw` strategy; bools
    both ways and every `Literal` choice; an int declared in `dims` or without a default from its `Dim`
    range (the contract's rules then filter the case). A float without a default needs a `draw` strategy."""
    if name in contract.draw:
        return contract.draw[name]
    accepts = contract.scalars.get(name)
    if accepts is None:
        return None
    choices: list[st.SearchStrategy[Any]] = []
    if bool in accepts.classes:
        choices.append(st.booleans())
    if accepts.literals:
        choices.append(st.sampled_from(accepts.literals))
    no_default = contract.parameters[name].default is inspect.Parameter.empty
    if int in accepts.classes and bool not in accepts.classes and (name in contract.dims or no_default):
        d = contract.dim(name)
        choices.append(st.integers(d.lo, d.hi))
    if not choices:
        return None
    drawn = st.one_of(*choices)
    return st.one_of(st.none(), drawn) if type(None) in accepts.classes else drawn


_FLOAT_ORDER = ("float32", "bfloat16", "float16", "float64")
_INT_ORDER = ("int32", "int64", "int16", "int8", "uint8", "bool")


def dtype_choices(contract: Contract) -> dict[tuple[str, ...], list[str]]:
    """Tensor groups that share one drawn dtype (`same_dtype` checks tie them) and the dtypes each may take:
    every member of a union (`Float32[...] | BFloat16[...]`), and for a plain `Float[...]` the three a GPU
    kernel runs in (float32, bfloat16, float16; float64 only where named; bf16 not under an interpreter that
    cannot compute in it), for `Int[...]` int32 and int64.
    The first is float32/int32, so a failure shrinks towards it. Groups with one choice are left out."""
    # Under an interpreter that cannot compute in bf16 (backend.interpreter_bfloat16_arithmetic), a generic
    # Float is not drawn as bf16: its failures there would be the interpreter's. A named BFloat16 still is.
    interpreted = os.environ.get("TRITON_INTERPRET") == "1"
    skip_bf16 = interpreted and not interpreter_bfloat16_arithmetic()
    allowed: dict[str, list[str]] = {}
    for name, spec in contract.tensor_specs.items():
        axes = spec.patterns[0].axes
        declared = {d for p in spec.patterns if p.axes == axes for d in p.dtypes}
        generic_float = {"float32", "bfloat16", "float16", "float64"} <= declared
        generic_int = {"int32", "int64", "int16"} <= declared
        left_out = {"float64", *(["bfloat16"] if skip_bf16 else [])} if generic_float else set()
        allowed[name] = [
            d
            for d in (*_FLOAT_ORDER, *_INT_ORDER)
            if d in declared and d not in left_out and not (generic_int and d not in ("int32", "int64"))
        ]
    groups: list[tuple[str, ...]] = []
    for check in contract.checks:
        tied = tuple(n for n in getattr(check, "same_dtype", ()) if n in allowed)
        groups += [tied] if tied else []
    for name in allowed:
        if not any(name in g for g in groups):
            groups.append((name,))
    choices = {}
    for group in dict.fromkeys(groups):
        common = [d for d in allowed[group[0]] if all(d in allowed[n] for n in group)]
        if len(common) > 1:
            choices[group] = common
    return choices


def dtypes(
    choices: Mapping[tuple[str, ...], list[str]], fixed: Mapping[tuple[str, ...], str] = types.MappingProxyType({})
) -> st.SearchStrategy[dict[str, str]]:
    """One dtype per group of `dtype_choices` (the groups in `fixed` take theirs), as each tensor's dtype by name."""
    per_group = st.tuples(*(st.just(fixed[g]) if g in fixed else st.sampled_from(c) for g, c in choices.items()))
    return per_group.map(lambda picked: {n: d for group, d in zip(choices, picked) for n in group})


def options(
    contract: Contract, drawn: Mapping[str, int], overrides: Overrides = NO_OVERRIDES
) -> st.SearchStrategy[dict[str, Any]]:
    """Per-argument choices of a generic case: marked tensors' values, None for an optional tensor left out,
    scalar parameters (`scalar`; dimension-named ints take the drawn size), and each dtype group's dtype."""
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for name in contract.parameters:
        spec = contract.tensor_specs.get(name)
        if spec is None:
            if name in contract.scalar_dims:
                continue  # the drawn dimension is the value
            values = overrides.get(name, scalar(contract, name))
            if values is not None:
                parts[name] = values
            continue
        values = (
            marked_values(contract, name, drawn) if isinstance(contract.markers.get(name), (Offsets, Index)) else None
        )
        if spec.optional:  # None = left out; [] = passed, values from the seed
            present = st.just([]) if values is None else values
            parts[name] = overrides.get(name, st.one_of(st.none(), present))
        elif values is not None:
            parts[name] = overrides.get(name, values)
    strided = [n for n in contract.free_strides if len(contract.tensor_specs[n].patterns[0].axes) >= 2]
    if strided:
        parts[STRIDED] = overrides.get(STRIDED, _some_of(strided))
    if contract.free_layouts:
        parts[SPACED] = overrides.get(SPACED, _some_of(contract.free_layouts))
    if contract.differentiable:
        carried = contract.carried
        kinds = st.tuples(*(st.sampled_from(("random", "zero", "strided")) for _ in carried))
        parts[COTANGENTS] = overrides.get(
            COTANGENTS, kinds.map(lambda picked: {n: k for n, k in zip(carried, picked) if k != "random"})
        )
    choices = dtype_choices(contract)
    if choices:
        parts[DTYPES] = overrides.get(DTYPES, dtypes(choices))
    return st.fixed_dictionaries(parts)


def _some_of(names: Sequence[str]) -> st.SearchStrategy[list[str]]:
    """A sublist of `names`, each in about half the cases (shrinks to none): which tensors a case passes as views."""
    return st.tuples(*(st.booleans() for _ in names)).map(lambda flags: [n for n, f in zip(names, flags) if f])


def generic_cases(contract: Contract, profile: Profile, overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[Case]:
    """Cases for a contract without its own case strategy: rule-respecting dims, argument options, a seed.

    A scalar that can be neither drawn nor left at a default is refused here, naming it, before any draw."""
    for name, param in contract.parameters.items():
        if (
            name not in contract.tensor_specs
            and name not in contract.scalar_dims
            and name not in overrides
            and param.default is inspect.Parameter.empty
            and scalar(contract, name) is None
        ):
            raise InvalidContract(
                contract.name,
                name,
                "has no default and cannot be drawn from its annotation; "
                f"declare draw={{{name!r}: st.floats(...)}} (any Hypothesis strategy) or pin it",
            )

    @st.composite
    def draw(draw: st.DrawFn) -> Case:
        drawn = draw(dims(contract, profile, overrides))
        chosen = draw(options(contract, drawn, overrides))
        namespace = {**{n: v for n, v in chosen.items() if n in contract.parameters}, **drawn}
        assume(all(rule.holds(namespace) is not False for rule in contract.rules))
        return Case(contract.name, drawn, chosen, draw(seeds()))

    return draw()


CaseFactory = Callable[[Profile, Overrides], st.SearchStrategy[Case]]


def override_names(contract: Contract) -> set[str]:
    """The names an override (a `--pin`, or `strategies.cases(..., overrides=)`) may fix: dimensions, parameters,
    the case options the contract's own `cases` reads (`Contract.pins`), or the generic strategy's own."""
    generic = [STRIDED, DTYPES, COTANGENTS] if not contract.cases else []
    spaced = [SPACED] if contract.free_layouts else []
    return {*contract.dim_names, *contract.parameters, *contract.pins, *generic, *spaced}


def case_strategy(contract: Contract, profile: Profile, overrides: Overrides = NO_OVERRIDES) -> st.SearchStrategy[Case]:
    """The contract's own case strategy (`Contract.cases`) if it has one, else `generic_cases`, with `overrides`
    taken as they are: the run's own, checked once as pins, and the compile budget's probes of a case's values."""
    contract.resolve_hooks()  # a typo in any hook fails here, where the strategy is built, not at a draw
    factory: Optional[CaseFactory] = contract.resolve("cases")
    if factory is None:
        return generic_cases(contract, profile, overrides)
    if not contract.free_layouts:
        return factory(profile, overrides)
    # the contract's own cases know nothing of layouts it leaves free: spaced views are drawn beside them
    views = overrides.get(SPACED, _some_of(contract.free_layouts))
    own = factory(profile, {k: v for k, v in overrides.items() if k != SPACED})
    return st.tuples(own, views).map(lambda drawn: _with_views(*drawn))


def _with_views(case: Case, views: list[str]) -> Case:
    """`case` with `views` as its spaced views, unless its own strategy already chose them."""
    if SPACED in case.options:
        return case
    return dataclasses.replace(case, options={**case.options, SPACED: views})


@refuse_positional_options
def cases(
    contract: Contract, *, profile: Profile | str = "ci", overrides: Overrides = NO_OVERRIDES
) -> st.SearchStrategy[Case]:
    """The contract's cases, for a `@given` test of your own: its own strategy (`Contract.cases`) or the generic one.

    `profile` is a `Profile` or its name (`"ci"`, `"gpu"`, `"thorough"`); `overrides` fixes a dimension, parameter
    or case option to a strategy (`{"D": st.just(33)}`). Both are validated now, not at the first draw: an unknown
    name would otherwise be drawn as if it were not there.
    """
    where = "shapecheck.strategies.cases"
    if isinstance(profile, str):
        profile = named(profile, f"{where}: profile")
    elif not isinstance(profile, Profile):
        raise TypeError(f"{where}: profile must be a Profile or its name, found {type(profile).__name__}")
    known = override_names(contract)
    for name, value in overrides.items():
        if name not in known:
            raise ValueError(
                f"{where}: overrides: contract {contract.name} has no dimension, parameter or case option "
                f"named {name!r} (known: {', '.join(sorted(known))})"
            )
        if not isinstance(value, st.SearchStrategy):
            raise TypeError(
                f"{where}: overrides[{name!r}] must be a Hypothesis strategy (st.just({value!r}) for one "
                f"value), found {type(value).__name__}"
            )
    return case_strategy(contract, profile, overrides)
