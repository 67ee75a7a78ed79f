"""Named budgets for the property engine: how many cases, and how large the drawn dimensions may get.

The CPU interpreter costs about 1 ms per program per time step, so `ci` keeps every dimension near its
`Dim.hi`; `gpu` draws up to `Dim.gpu_hi`; `thorough` is `ci` sizes with many more cases. `timeout_s` bounds
one case of an isolated implementation (`shapecheck run --isolate`): the slowest interpreted CI case takes
a few seconds on 2 cores, a cold GPU case a few Triton compilations; a hang is a finding, not a stalled job.
`settle_s` is the wait for late writes after a device sync: with the 0.1 s of `ci` it dominated the isolated
GPU rate (4.1 cases/s on an H200, bench/results/isolation_NVIDIA_H200.txt), so `gpu` waits 20 ms.
`check_every` samples the isolated checks that cost a delay or a second run (the settle wait, the fresh-input
twin): the first case and each case whose seed is a multiple of it (`shapecheck.isolate.Isolated.sampled`).
`max_compiles` is the compile budget: `gpu` lets a run compile a few dozen kernels (the interpreter compiles
none, so the CPU profiles draw freely).

`PROFILES` is read-only; `register_profile` adds one (Hypothesis's `settings.register_profile` pattern):
a parent's values with the changes given, checked when registered, so a typo fails in the conftest that
made it and not deep in a run.
"""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any, Mapping, Union


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    large: bool  # draw up to Dim.gpu_hi instead of Dim.hi
    timeout_s: float = 120.0  # per case, under isolation
    settle_s: float = 0.1  # under isolation: wait after the device sync before looking for late writes
    max_compiles: int = 0  # distinct Triton compile keys a run may draw (shapecheck/budget.py); 0: draw freely
    check_every: int = 4  # under isolation: the settle wait and fresh-input twin on the first case and 1 seed in N


_BUILT_IN = {
    "ci": Profile("ci", max_examples=60, large=False),
    "gpu": Profile("gpu", max_examples=400, large=True, timeout_s=60.0, settle_s=0.02, max_compiles=24, check_every=8),
    "thorough": Profile("thorough", max_examples=1000, large=False),
}
_registered: dict[str, Profile] = dict(_BUILT_IN)
PROFILES: Mapping[str, Profile] = types.MappingProxyType(_registered)
"""Every profile by name: the built-in `ci`, `gpu` and `thorough`, then those `register_profile` added.
Read-only; a view, so it shows profiles registered after it was imported."""


def _problem(field: str, value: Any) -> str | None:
    """What is wrong with `value` for `field`, or None."""
    if field == "large":
        return None if isinstance(value, bool) else "must be True or False"
    if field in ("max_examples", "max_compiles", "check_every"):
        least = 0 if field == "max_compiles" else 1
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
        return None if ok else f"must be an int >= {least}"
    positive = field == "timeout_s"
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    return None if ok else f"must be a finite number {'> 0' if positive else '>= 0'}"


def register_profile(name: str, /, *, parent: Union[str, Profile] = "ci", **changes: Any) -> Profile:
    """Register the profile `name`: `parent`'s values (a registered name or a `Profile`) with `changes`
    (`max_examples`, `large`, `timeout_s`, `settle_s`, `max_compiles`, `check_every`), and return it.

    Checked here, each mistake a ValueError naming the argument: an empty name, a built-in name (`ci`,
    `gpu`, `thorough` stay as documented), an unknown parent, an unknown field, a value of the wrong type or
    range. Registering a name again replaces the earlier registration (as in Hypothesis), so a conftest
    imported twice does not fail::

        register_profile("nightly", parent="ci", max_examples=5000)
        property_test("mypkg.ops:my_kernel", profile="nightly")

    The registration lives in this process: `shapecheck run` and the workers of a parallel run (separate
    processes) see only the profiles their own imports register.
    """
    if not isinstance(name, str) or not name or name != name.strip() or any(c.isspace() for c in name):
        raise ValueError(f"register_profile: `name` must be a non-empty string without spaces, found {name!r}")
    if name in _BUILT_IN:
        raise ValueError(
            f"register_profile: {name!r} is a built-in profile and cannot be replaced; choose another "
            f"name (with parent={name!r} to start from it)"
        )
    if isinstance(parent, Profile):
        base = parent
    elif isinstance(parent, str) and parent in _registered:
        base = _registered[parent]
    else:
        raise ValueError(
            f"register_profile: `parent` must be a Profile or one of {', '.join(_registered)}, found {parent!r}"
        )
    fields = [f.name for f in dataclasses.fields(Profile) if f.name != "name"]
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise ValueError(
            f"register_profile: unknown setting{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; a profile has {', '.join(fields)}"
        )
    for field in fields:
        problem = _problem(field, changes.get(field, getattr(base, field)))
        if problem is not None:
            raise ValueError(
                f"register_profile: `{field}` {problem}, found {changes.get(field, getattr(base, field))!r}"
            )
    profile = dataclasses.replace(base, name=name, **changes)
    _registered[name] = profile
    return profile


def named(name: str, label: str = "profile") -> Profile:
    """The profile called `name`, or a ValueError naming `label` (the argument the caller took it from)."""
    if name not in PROFILES:
        raise ValueError(f"{label} must be one of {', '.join(PROFILES)}, found {name!r}")
    return PROFILES[name]
