"""`--pin NAME=VALUE`: a dimension, scalar, optional or marked tensor, dtype or case option fixed for every case.

Parsed once from the command line (`parse`), then checked against the contract before the first draw
(`overrides`): an unknown name, a value the scalar's annotation refuses, a dimension that is no size, a pin on a tensor the engine cannot
take a value for, a dtype the tensor's group cannot have, or pins that leave a rule no way to hold are usage
errors naming the pin — never a run that silently ignores the pin or rejects every draw.
"""

from __future__ import annotations

import ast
import itertools
import json
from typing import Any, Optional, Sequence

from hypothesis import strategies as st

from shapecheck import strategies
from shapecheck.errors import UsageError
from shapecheck.markers import Index, Offsets
from shapecheck.profiles import Profile
from shapecheck.spec import Contract

_ENUMERATED = 20_000  # dimension combinations tried to show that pinned values leave a rule satisfiable


def parse(pins: Sequence[str]) -> dict[str, Any]:
    """`NAME=VALUE` pins: VALUE read as JSON (42, true, null, "vk", [0, 3]), else as a Python literal (True,
    None, 0.5, ('a', 1)), else as a plain string."""
    values: dict[str, Any] = {}
    for text in pins:
        name, sep, raw = text.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--pin must look like NAME=VALUE, found {text!r}")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            try:
                values[name] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                values[name] = raw
    return values


def overrides(contract: Contract, pins: dict[str, Any], profile: Optional[Profile] = None) -> strategies.Overrides:
    """The pins as the strategies' overrides, each checked first; with `profile`, pins that no drawable value of
    the other dimensions reconciles with a rule are refused too."""
    generic = not contract.cases
    known = strategies.override_names(contract)
    unknown = sorted(set(pins) - known)
    if unknown:
        raise UsageError(
            f"--pin {unknown[0]}: contract {contract.name} has no dimension, parameter or case option "
            f"named {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    for name, value in pins.items():
        accepts = contract.scalars.get(name) if name not in contract.tensor_specs else None
        if accepts is not None and not accepts.admits(value):
            raise UsageError(
                f"--pin {name}={value!r}: argument `{name}` must be {accepts.text}, found {type(value).__name__}"
            )
        if name in contract.dim_names and (type(value) is not int or value < 0):
            raise UsageError(f"--pin {name}={value!r}: dimension {name} is a size, a non-negative int")
        spec = contract.tensor_specs.get(name)
        marked = isinstance(contract.markers.get(name), (Offsets, Index))
        if generic and spec is not None and name not in contract.dim_names and not (spec.optional or marked):
            raise UsageError(
                f"--pin {name}: `{name}` is a tensor drawn from the case's seed; pin its dimensions "
                "(or its dtype with --pin 'dtypes={...}') instead"
            )
    found = {name: st.just(value) for name, value in pins.items() if name != strategies.DTYPES}
    if generic and strategies.DTYPES in pins:
        found[strategies.DTYPES] = _dtypes(contract, pins[strategies.DTYPES])
    if profile is not None:
        _satisfiable(contract, pins, profile)
    return found


def _dtypes(contract: Contract, pinned: Any) -> st.SearchStrategy[dict[str, str]]:
    """A dtypes pin for some tensors: each pinned tensor's whole `same_dtype` group takes its dtype, the other
    groups are still drawn."""
    choices = strategies.dtype_choices(contract)
    if not isinstance(pinned, dict):
        raise UsageError(
            f'--pin dtypes: expected a mapping of tensor to dtype, e.g. \'dtypes={{"x": "float16"}}\', found {pinned!r}'
        )
    fixed: dict[tuple[str, ...], str] = {}
    for name, dtype in pinned.items():
        group = next((g for g in choices if name in g), None)
        if group is None:
            raise UsageError(
                f"--pin dtypes: `{name}` has no dtype to choose (tensors with several: "
                f"{', '.join(n for g in choices for n in g) or 'none'})"
            )
        if dtype not in choices[group]:
            raise UsageError(f"--pin dtypes: `{name}` may be {', '.join(choices[group])}, found {dtype!r}")
        if fixed.get(group, dtype) != dtype:
            raise UsageError(
                f"--pin dtypes: {', '.join(group)} share one dtype (same_dtype), found {fixed[group]!r} and {dtype!r}"
            )
        fixed[group] = dtype
    return strategies.dtypes(choices, fixed)


def _satisfiable(contract: Contract, pins: dict[str, Any], profile: Profile) -> None:
    """A rule over pinned names and drawable dimensions must hold for some values of the unpinned dimensions."""
    ranges = {
        n: range(d.lo, max(d.gpu_hi if profile.large and d.gpu_hi else d.hi, d.lo) + 1)
        for n in contract.drawn_dims
        for d in [contract.dim(n)]
    }
    for rule in contract.rules:
        if not any(n in pins for n in rule.names) or not all(n in pins or n in ranges for n in rule.names):
            continue
        free = [n for n in rule.names if n not in pins]
        combos = itertools.product(*(ranges[n] for n in free))
        if not any(rule.holds({**pins, **dict(zip(free, values))}) for values in itertools.islice(combos, _ENUMERATED)):
            shown = ", ".join(f"{n}={pins[n]!r}" for n in rule.names if n in pins)
            within = (
                f" for any {', '.join(f'{n} in [{ranges[n].start}, {ranges[n].stop - 1}]' for n in free)}"
                if free
                else ""
            )
            raise UsageError(f"--pin {shown}: rule `{rule.expr}` cannot hold{within}")
