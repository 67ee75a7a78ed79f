"""Compile-aware drawing: a budget of distinct Triton compile keys per property run.

Kernels written in the upstream style pass head counts and head sizes as `tl.constexpr`, so every drawn
combination of dims is a fresh compilation (0.3-0.8 s each), and a run drawing freely is compile-bound at a
few cases per second. This module learns, per run, which parts of a case the kernel specialises on, and then
draws those from a small per-run menu while everything else stays free:

1. Probe: draw cases from the contract's strategy with the run's seed, build their inputs and call the
   implementation with every compilation skipped and every launch refused (Triton's `jit_cache_hook` and
   launch hook), recording the compile key of each launch (`triton.runtime.jit.compute_cache_key`). Nothing
   runs on the device; a probe costs the input build and the wrapper's Python.
2. Learn: a case attribute (a dim, or an option such as a dtype or a flag) is compile-relevant when changing
   it alone in a probed case changes a key's constexpr values, argument types or launch options. Changes of
   Triton's divisibility/alignment attributes alone do not count: they multiply keys by a small factor and
   such attributes (strides, views) are what should stay free.
3. Budget: when the probes suggest more distinct keys than the budget (`--max-compiles`), the run draws a
   menu row first (the compile-relevant values of the contract's regime examples, then of probed cases,
   chosen greedily to cover the most values and pairs of values), pins those values through the strategy's
   overrides and draws the rest freely. Hypothesis still shrinks a failure (towards row 0 and small free
   values); a shrunk case may compile once more.

The same probe gives compile ahead (`shapecheck/ahead.py`) the cases whose keys the run will need. Only for
in-process implementations: an isolated one runs in a worker, where its keys cannot be observed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections import Counter
from typing import Any, Callable, Hashable, Iterator, Mapping, Optional, Sequence

from hypothesis import Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from shapecheck.case import Case
from shapecheck.inputs import input_builder
from shapecheck.spec import Contract
from shapecheck.strategies import SUPPRESSED_HEALTH_CHECKS, Overrides

Key = tuple[int, str]  # (the kernel's key cache, Triton's cache key): one compiled binary
Klass = tuple[int, str]  # (the kernel's key cache, its constexprs, argument types and options): keys up to alignment
PROBES = 64  # cases drawn to learn from; each costs one draw, one input build and one wrapper call
TRIES = 3  # perturbations of one attribute that reach a launch before it is called compile-free
ATTEMPTS = 8  # probed cases one attribute is perturbed in, at most (some perturbations reach no launch)


class _Refused(Exception):
    """Raised by the launch hook while probing: a kernel already compiled in memory is found, never run."""


def _klass(specialization: Sequence[Any], options: Any) -> str:
    """A key without Triton's divisibility/alignment attributes: constexpr values, argument types, options."""
    parts = [f"{s[0]}={s[1]!r}" if s[0] == "constexpr" else str(s[0]) if isinstance(s, tuple) else repr(s)
             for s in specialization]
    return ",".join(parts) + "|" + str(options)


class Launches:
    """The compile keys of the kernel launches made on the thread that activated it.

    `dry`: compilations are skipped and launches refused, so a call only reports the keys it would need.
    `cases` groups the keys by property case (`close_case`), for the report's cases per key."""

    def __init__(self) -> None:
        self.pending: list[tuple[Key, Klass]] = []
        self.cases: list[tuple[Key, ...]] = []

    @contextlib.contextmanager
    def active(self, *, dry: bool = False) -> Iterator["Launches"]:
        from triton import knobs
        from triton.runtime import jit

        owner, original = threading.get_ident(), jit.compute_cache_key
        runtime = knobs.runtime
        previous = runtime.jit_cache_hook, runtime.launch_enter_hook

        def record(cache: Any, specialization: Any, options: Any) -> str:
            key = original(cache, specialization, options)
            if threading.get_ident() == owner:
                self.pending.append(((id(cache), key), (id(cache), _klass(specialization, options))))
            return key

        def skip(*args: Any, **kwargs: Any) -> bool:
            return True  # Triton then returns without compiling or launching

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise _Refused

        jit.compute_cache_key = record
        if dry:
            runtime.jit_cache_hook, runtime.launch_enter_hook = skip, refuse
        try:
            yield self
        finally:
            jit.compute_cache_key = original
            if dry:
                runtime.jit_cache_hook, runtime.launch_enter_hook = previous

    def take(self) -> list[tuple[Key, Klass]]:
        taken, self.pending = self.pending, []
        return taken

    def close_case(self) -> None:
        self.cases.append(tuple(key for key, _ in self.take()))


def available(impl: Callable[..., Any]) -> str:
    """Why keys cannot be observed for `impl` here ("" when they can)."""
    if getattr(impl, "untrusted", False):
        return "an isolated implementation compiles in its own process"
    try:
        from triton import knobs
        from triton.runtime import jit
    except ImportError:
        return "triton is not installed"
    if not hasattr(jit, "compute_cache_key") or not hasattr(knobs.runtime, "jit_cache_hook"):
        return "this triton does not expose its compile keys"
    return ""


@dataclasses.dataclass(frozen=True)
class Probed:
    """A case and what its call would compile: keys (exact) and classes (up to alignment); empty: no launch."""

    case: Case
    keys: tuple[Key, ...]
    klasses: tuple[Klass, ...]


class Prober:
    """Calls an implementation on cases with compilations skipped and launches refused (see the module)."""

    def __init__(self, contract: Contract, impl: Callable[..., Any], device: str) -> None:
        self.impl, self.device, self.build = impl, device, input_builder(contract)
        self.calls = 0

    def __call__(self, case: Case) -> Probed:
        self.calls += 1
        launches = Launches()
        with launches.active(dry=True):
            try:
                self.impl(**self.build(case, self.device))
            except Exception:  # noqa: BLE001 - refused launches, or a case the wrapper rejects: no keys then
                pass
        seen = launches.take()
        return Probed(case, tuple(k for k, _ in seen), tuple(c for _, c in seen))


def _value(case: Case, knob: tuple[str, str]) -> Hashable:
    where, name = knob
    value = (case.dims if where == "dims" else case.options).get(name)
    return value if isinstance(value, Hashable) else json.dumps(value, sort_keys=True)


def _replaced(case: Case, knob: tuple[str, str], source: Case) -> Case:
    where, name = knob
    if where == "dims":
        return dataclasses.replace(case, dims={**case.dims, name: source.dims[name]})
    return dataclasses.replace(case, options={**case.options, name: source.options[name]})


def draw(strategy: st.SearchStrategy[Case], count: int, seed: int) -> list[Case]:
    """The first `count` cases Hypothesis draws from `strategy` under `seed` (generation only, no database)."""
    drawn: list[Case] = []

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=SUPPRESSED_HEALTH_CHECKS)
    @given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    hypothesis_seed(seed)(collect)()
    return drawn


def learn(probed: Sequence[Probed], probe: Callable[[Case], Probed]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(relevant, weak): the case attributes whose change alone changes a compile key's class, and those whose
    change alone only changes its alignment attributes (see the module), each in case order."""
    reached = [p for p in probed if p.klasses]
    knobs = list(dict.fromkeys((where, name) for p in reached for where, mapping in
                               (("dims", p.case.dims), ("options", p.case.options)) for name in mapping))
    relevant, weak = [], []
    for knob in knobs:
        tried, aligned = 0, False
        for i, base in enumerate(reached[:ATTEMPTS]):
            other = next((p for p in reached[i + 1:] + reached[:i] if _value(p.case, knob) != _value(base.case, knob)), None)
            if other is None:
                break  # one value in every probe: nothing to learn, and nothing to pin
            changed = probe(_replaced(base.case, knob, other.case))
            if not changed.klasses:
                continue  # the perturbed case reaches no launch: try another
            if changed.klasses != base.klasses:
                relevant.append(knob)
                break
            aligned |= changed.keys != base.keys
            tried += 1
            if tried >= TRIES:
                break
        if aligned and knob not in relevant:
            weak.append(knob)
    return relevant, weak


def variants(case: Case, weak: Sequence[tuple[str, str]], seen: Sequence[Case]) -> list[Case]:
    """`case` under every combination of the values the weak attributes took in `seen` (two each, the four with
    the fewest values): the alignment variants a run drawing the rest freely will meet, for compile ahead."""
    def values(knob: tuple[str, str]) -> list[Case]:
        return list({_value(c, knob): c for c in seen}.values())[:2]

    out = [case]
    for knob in sorted(weak, key=lambda k: len({_value(c, k) for c in seen}))[:4]:
        out = [_replaced(c, knob, source) for c in out for source in values(knob)]
    return out


def pinned_knobs(relevant: Sequence[tuple[str, str]], probed: Sequence[Probed]) -> list[tuple[str, str]]:
    """The attributes to pin: the relevant ones, except an optional list (offsets left out as None, say) whose
    presence a scalar option decides in every probe (a `varlen` flag): that option is pinned instead, so the
    list itself is still drawn. Each candidate option must take two values at least; the fewest values win."""
    def raw(case: Case, knob: tuple[str, str]) -> Any:
        return (case.dims if knob[0] == "dims" else case.options).get(knob[1])

    scalars = sorted({("options", n) for p in probed for n, v in p.case.options.items()
                      if isinstance(v, (bool, str, int)) or v is None},
                     key=lambda k: len({_value(p.case, k) for p in probed}))
    chosen = []
    for knob in relevant:
        values = [raw(p.case, knob) for p in probed]
        if any(v is None for v in values) and any(isinstance(v, list) for v in values):
            for option in scalars:
                decides: dict[Hashable, set[bool]] = {}
                for p, v in zip(probed, values):
                    decides.setdefault(_value(p.case, option), set()).add(v is None)
                if len(decides) >= 2 and all(len(found) == 1 for found in decides.values()):
                    knob = option
                    break
        chosen.append(knob)
    return list(dict.fromkeys(chosen))


def estimated_keys(probed: Sequence[Probed]) -> float:
    """Distinct key classes a long run would reach, from the probes (Chao1: unseen classes from singletons)."""
    counts = Counter(p.klasses for p in probed if p.klasses)
    f1, f2 = sum(1 for n in counts.values() if n == 1), sum(1 for n in counts.values() if n == 2)
    return len(counts) + f1 * (f1 - 1) / (2 * (f2 + 1))


Row = tuple[tuple[tuple[str, str], Hashable], ...]  # the pinned (attribute, value) pairs of one menu row


def menu(candidates: Sequence[Case], knobs: Sequence[tuple[str, str]], size: int, first: int = 0) -> list[Row]:
    """Up to `size` distinct rows from the candidates' pinned values: the first `first` candidates' rows as they
    come (the regime examples), then greedily the row covering the most new values, then new pairs of values."""
    def pairs_of(row: Row) -> set[tuple[Any, Any]]:
        return {(a, b) for i, a in enumerate(row) for b in row[i + 1:]}

    rows = list(dict.fromkeys(tuple((k, _value(c, k)) for k in knobs) for c in candidates))
    head = list(dict.fromkeys(tuple((k, _value(c, k)) for k in knobs) for c in candidates[:first]))[:size]
    singles = {pair for row in head for pair in row}
    pairs = {pair for row in head for pair in pairs_of(row)}
    chosen, rest = list(head), [row for row in rows if row not in head]
    while rest and len(chosen) < size:
        best = max(rest, key=lambda row: (len(set(row) - singles), len(pairs_of(row) - pairs)))
        rest.remove(best)
        chosen.append(best)
        singles |= set(best)
        pairs |= pairs_of(best)
    return chosen


def _pins(row: Row, originals: Mapping[tuple[tuple[str, str], Hashable], Any]) -> dict[str, st.SearchStrategy[Any]]:
    return {name: st.just(originals[(knob, value)]) for (knob, value) in row for name in [knob[1]]}


@dataclasses.dataclass
class Plan:
    """What the budget decided for one run: its seed, the compile-relevant attributes and the menu rows (empty
    when the run draws freely: `off` says why), the cases compile ahead should compile, and its cost."""

    seed: int
    max_compiles: int
    off: str = ""
    relevant: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    rows: list[Row] = dataclasses.field(default_factory=list)
    strategy: Optional[st.SearchStrategy[Case]] = None
    ahead: list[Case] = dataclasses.field(default_factory=list)
    estimate: float = 0.0
    seconds: float = 0.0
    probes: int = 0

    def summary(self, outcomes_cases: Sequence[Case], launches: Launches) -> "Summary":
        keys = Counter(key for case_keys in launches.cases for key in set(case_keys))
        values = {name: sorted({_value(c, (where, name)) for c in outcomes_cases}, key=repr)
                  for where, name in self.relevant}
        return Summary(self.max_compiles, self.off, [name for _, name in self.relevant], len(self.rows),
                       len(keys), sorted(keys.values(), reverse=True), values, round(self.estimate, 1),
                       round(self.seconds, 3), self.probes, self.seed)


@dataclasses.dataclass
class Summary:
    """The report's view of the budget: what was pinned, the keys the run compiled and how many cases each ran,
    and the values each compile-relevant attribute took."""

    max_compiles: int
    off: str
    relevant: list[str]
    rows: int
    keys: int
    cases_per_key: list[int]
    values: dict[str, list[Any]]
    estimate: float
    seconds: float
    probes: int
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def plan(contract: Contract, impl: Callable[..., Any], factory: Callable[[Overrides], st.SearchStrategy[Case]], *,
         overrides: Overrides, device: str, seed: int, max_compiles: int, examples: Sequence[Case] = ()) -> Plan:
    """Probe, learn and, where the keys would exceed `max_compiles`, build the budgeted strategy (see the
    module). `factory(overrides)` is the contract's case strategy under those overrides; `examples` are the run's
    regime examples, whose compile-relevant values come first in the menu (they run anyway)."""
    start, probe = time.perf_counter(), Prober(contract, impl, device)
    free = factory(overrides)
    probed = [probe(case) for case in draw(free, PROBES, seed)]
    result = Plan(seed, max_compiles, estimate=estimated_keys(probed))
    reached = [p for p in probed if p.klasses]
    if not reached:
        result.off = "no probed case reached a kernel launch"
    elif result.estimate <= max_compiles:
        result.off = f"about {result.estimate:.0f} compile keys expected: within the budget"
    else:
        relevant, weak = learn(reached, probe)
        result.relevant = pinned_knobs(relevant, reached)
        if not result.relevant:
            result.off = "no case attribute changes a compile key alone"
    if result.off:
        result.ahead = [p.case for p in reached]
        result.seconds, result.probes = time.perf_counter() - start, probe.calls
        return result

    def expresses(case: Case) -> bool:  # a case without some pinned attribute cannot be a row
        return all(name in (case.dims if where == "dims" else case.options) for where, name in result.relevant)

    candidates = [c for c in examples if expresses(c)]
    first = len(candidates)
    candidates += [p.case for p in reached if expresses(p.case)]
    originals = {(knob, _value(c, knob)): (c.dims if knob[0] == "dims" else c.options)[knob[1]]
                 for c in candidates for knob in result.relevant}
    result.rows = menu(candidates, result.relevant, max_compiles, first=first)
    sources = {tuple((k, _value(c, k)) for k in result.relevant): c for c in reversed(candidates)}

    def in_row(row: Row) -> Callable[[Case], bool]:
        return lambda case: all(_value(case, k) == v for k, v in row)

    per_row = [factory({**overrides, **_pins(row, originals)}).filter(in_row(row)) for row in result.rows]
    result.strategy = st.integers(0, len(per_row) - 1).flatmap(lambda i: per_row[i])
    # Compile ahead: each row's case under the alignment variants its free attributes will bring.
    seen = [p.case for p in reached]
    result.ahead = [variant for row in result.rows for variant in variants(sources[row], weak, seen)]
    result.seconds, result.probes = time.perf_counter() - start, probe.calls
    return result


def default_seed() -> int:
    """A fresh seed for an unseeded run, so the probes, compile ahead and the run draw from the same one."""
    import random

    return random.getrandbits(31)


def describe(summary: Summary) -> list[tuple[str, str]]:
    """The report's rows for the budget: what it pinned and what the run covered."""
    if summary.off:
        return [("compile budget", f"off ({summary.off}; budget {summary.max_compiles} keys)")]
    per = summary.cases_per_key
    spread = f"{per[-1]}-{per[0]} cases per key, median {per[len(per) // 2]}" if per else "no key observed"
    values = "; ".join(f"{name}: {', '.join(map(str, vals[:12]))}{' ...' if len(vals) > 12 else ''} ({len(vals)})"
                       for name, vals in summary.values.items())
    return [("compile budget", f"{summary.keys} keys for a budget of {summary.max_compiles} ({summary.rows} menu rows "
                               f"over {', '.join(summary.relevant)}); {spread}; planned in {summary.seconds:.1f} s "
                               f"from {summary.probes} probes"),
            ("compile-relevant values", values)]

