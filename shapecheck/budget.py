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
   menu row first (the compile-relevant values of a few regime examples, then of probed cases, chosen so
   that dtypes and flags keep their free shares), pins those values through the strategy's overrides and
   draws the rest freely. Hypothesis still shrinks a failure (towards row 0 and small free
   values); a shrunk case may compile once more.

An attribute the contract never accepts changed alone (a batch size tied to the slot indices' length) is
found afterwards: budgeted cases of one row that still reach different key classes name it (`unexplained`).
Compile ahead (`shapecheck/ahead.py`) then draws the run's own cases from the budgeted strategy and seed, so
the keys it compiles are the run's. Only for in-process implementations: an isolated one runs in a worker,
where its keys cannot be observed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import threading
import time
from collections import Counter
from typing import Any, Callable, Collection, Hashable, Iterator, Mapping, Optional, Sequence

from hypothesis import strategies as st

from shapecheck import autotune
from shapecheck.case import Case
from shapecheck.inputs import input_builder
from shapecheck.markers import Index, Offsets
from shapecheck.outcomes import Summary
from shapecheck.spec import Contract
from shapecheck.strategies import Overrides, for_each_drawn

PASSED = "passed"  # a knob ("passed", name): whether an optional marked argument (offsets, slot indices) is given
Key = tuple[int, str]  # (the kernel's key cache, Triton's cache key): one compiled binary
Klass = tuple[int, str]  # (the kernel's key cache, its constexprs, argument types and options): keys up to alignment
PROBES = 32  # cases drawn to learn from; each costs one draw, one input build and one wrapper call
CHECKS = 24  # budgeted cases drawn to find a compile-relevant attribute the perturbations could not test
CHECK_ROWS = 3  # the rows those cases are drawn from
HONOUR = 4  # cases drawn to see whether the strategy keeps an attribute pinned
ROUNDS = 3  # of those checks, each adding one attribute at most
TRIES = 3  # perturbations of one attribute that reach a launch before it is called compile-free
ATTEMPTS = 8  # probed cases one attribute is perturbed in, at most (some perturbations reach no launch)


class _Refused(Exception):
    """Raised by the launch hook while probing: a kernel already compiled in memory is found, never run."""


def _klass(specialization: Sequence[Any], options: Any) -> str:
    """A key without Triton's divisibility/alignment attributes: constexpr values, argument types, options."""
    parts = [
        f"{s[0]}={s[1]!r}" if s[0] == "constexpr" else str(s[0]) if isinstance(s, tuple) else repr(s)
        for s in specialization
    ]
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

    def __init__(
        self, contract: Contract, impl: Callable[..., Any], device: str, *, autotune_configs: autotune.Mode = "drawn"
    ) -> None:
        self.contract, self.impl, self.device, self.build = contract, impl, device, input_builder(contract)
        self.autotune_configs = autotune_configs  # the run's: a probe meets its autotuned kernels as the run will
        self.calls = 0

    def __call__(self, case: Case) -> Probed:
        """A case the contract refuses is never called: a wrapper's own device work (a gather by slot index,
        say) could fail on the device and poison the context for the run."""
        self.calls += 1
        launches = Launches()
        with launches.active(dry=True), autotune.Dry(self.autotune_configs) as dry, dry.case(case.seed):
            try:
                args = self.build(case, self.device)
                self.contract.validate(dict(args))
                self.impl(**args)
            except Exception:  # noqa: BLE001 - refused launches, or a case the contract refuses: no keys then
                pass
        seen = launches.take()
        return Probed(case, tuple(k for k, _ in seen), tuple(c for _, c in seen))


def _value(case: Case, knob: tuple[str, str]) -> Hashable:
    where, name = knob
    value = (case.dims if where == "dims" else case.options).get(name)
    if where == PASSED:
        return value is not None
    return value if isinstance(value, Hashable) else json.dumps(value, sort_keys=True)


def _replaced(case: Case, knob: tuple[str, str], source: Case) -> Case:
    where, name = knob
    if where == "dims":
        return dataclasses.replace(case, dims={**case.dims, name: source.dims[name]})
    return dataclasses.replace(case, options={**case.options, name: source.options[name]})


def draw(strategy: st.SearchStrategy[Case], count: int, seed: int) -> list[Case]:
    """The first `count` cases Hypothesis draws from `strategy` under `seed` (generation only, no database)."""
    drawn: list[Case] = []
    for_each_drawn(strategy, count, seed, drawn.append)
    return drawn


def _knobs(cases: Sequence[Case]) -> list[tuple[str, str]]:
    return list(
        dict.fromkeys(
            (where, name)
            for c in cases
            for where, mapping in (("dims", c.dims), ("options", c.options))
            for name in mapping
        )
    )


def learn(
    probed: Sequence[Probed], probe: Callable[[Case], Probed], known: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """The case attributes whose change alone changes a compile key's class (see the module), in case order.
    One the contract never accepts changed alone (a batch size tied to the slot indices' length) is left to
    `unexplained`. The `known` ones are not tried again."""
    reached = [p for p in probed if p.klasses]
    relevant = []
    for knob in [k for k in _knobs([p.case for p in reached]) if k not in known]:
        tried = 0
        for i, base in enumerate(reached[:ATTEMPTS]):
            other = next(
                (p for p in reached[i + 1 :] + reached[:i] if _value(p.case, knob) != _value(base.case, knob)), None
            )
            if other is None:
                break  # one value in every probe: nothing to learn, and nothing to pin
            changed = probe(_replaced(base.case, knob, other.case))
            if not changed.klasses:
                continue  # the perturbed case reaches no launch: try another
            if changed.klasses != base.klasses:
                relevant.append(knob)
                break
            tried += 1
            if tried >= TRIES:
                break
    return relevant


def unexplained(
    probed: Sequence[Probed], pinned: Sequence[tuple[str, str]], honoured: Callable[[tuple[str, str]], bool]
) -> list[tuple[str, str]]:
    """Among cases drawn with the pinned attributes fixed per row, cases of one row that still reach different
    key classes name attributes the pins miss: the scalar one, or the two together (a batch size and a varlen flag
    that forces it to 1), not pinned yet, whose values decide the class within every row, with the fewest
    distinct values, one before two, dims first, and which the strategy `honoured` when pinned (a count it
    derives from others is not); none when each row reaches one class."""
    rows: dict[Hashable, list[Probed]] = {}
    for p in probed:
        if p.klasses:
            rows.setdefault(tuple(_value(p.case, k) for k in pinned), []).append(p)
    if all(len({p.klasses for p in group}) == 1 for group in rows.values()):
        return []

    def joint(case: Case, knobs: tuple[tuple[str, str], ...]) -> Hashable:
        return tuple(_value(case, k) for k in knobs)

    def decides(knobs: tuple[tuple[str, str], ...]) -> bool:
        return all(
            len({p.klasses for p in group if joint(p.case, knobs) == value}) == 1
            for group in rows.values()
            for value in {joint(p.case, knobs) for p in group}
        )

    def scalar(knob: tuple[str, str]) -> bool:  # lists (offsets, slot indices) are data drawn from scalars
        return all(
            isinstance(
                (p.case.dims if knob[0] == "dims" else p.case.options).get(knob[1]), (bool, int, float, str, type(None))
            )
            for p in probed
        )

    free = [k for k in _knobs([p.case for p in probed]) if k not in pinned and scalar(k)]
    cases = sum(len(group) for group in rows.values())

    def evidence(knobs: tuple[tuple[str, str], ...]) -> bool:  # a value in every case decides nothing
        return len({joint(p.case, knobs) for p in probed}) < cases and decides(knobs)

    found = [(k,) for k in free if evidence((k,))] + [
        (a, b) for i, a in enumerate(free) for b in free[i + 1 :] if evidence((a, b))
    ]
    found.sort(key=lambda ks: (len({joint(p.case, ks) for p in probed}), len(ks), [k[0] != "dims" for k in ks]))
    return list(next((ks for ks in found if all(map(honoured, ks))), ()))


def pinned_knobs(
    relevant: Sequence[tuple[str, str]], probed: Sequence[Probed], data: Collection[str]
) -> list[tuple[str, str]]:
    """The attributes to pin: the relevant ones, except the `data` ones, values of marked arguments (offsets,
    slot indices) that are drawn to fit the case's dims and cannot be pinned apart from them. Of such an optional
    argument, what can key a compilation is whether it is passed (a varlen flag): a scalar option that decides it
    in every probe is pinned instead (it must take two values at least; the fewest values win), else its presence
    is (`("passed", name)`), its values still drawn. A data attribute always passed is left free: its sizes are
    the dims'."""

    def raw(case: Case, knob: tuple[str, str]) -> Any:
        return (case.dims if knob[0] == "dims" else case.options).get(knob[1])

    scalars = sorted(
        {
            ("options", n)
            for p in probed
            for n, v in p.case.options.items()
            if isinstance(v, (bool, str, int)) or v is None
        },
        key=lambda k: len({_value(p.case, k) for p in probed}),
    )
    chosen = []
    for knob in relevant:
        values = [raw(p.case, knob) for p in probed]
        if knob[0] == "options" and knob[1] in data:
            if all(v is not None for v in values):
                continue
            deciding = (
                option
                for option in scalars
                if option[1] not in data
                and len(decides := _deciding(probed, option, values)) >= 2
                and all(len(found) == 1 for found in decides.values())
            )
            knob = next(deciding, (PASSED, knob[1]))
        chosen.append(knob)
    return list(dict.fromkeys(chosen))


def _deciding(probed: Sequence[Probed], option: tuple[str, str], values: Sequence[Any]) -> dict[Hashable, set[bool]]:
    """For each value of `option` in the probes, whether the data attribute with these `values` was left out."""
    decides: dict[Hashable, set[bool]] = {}
    for p, v in zip(probed, values):
        decides.setdefault(_value(p.case, option), set()).add(v is None)
    return decides


def estimated_keys(probed: Sequence[Probed]) -> float:
    """Distinct key classes a long run would reach, from the probes (Chao1: unseen classes from singletons)."""
    counts = Counter(p.klasses for p in probed if p.klasses)
    f1, f2 = sum(1 for n in counts.values() if n == 1), sum(1 for n in counts.values() if n == 2)
    return len(counts) + f1 * (f1 - 1) / (2 * (f2 + 1))


Row = tuple[tuple[tuple[str, str], Hashable], ...]  # the pinned (attribute, value) pairs of one menu row


def menu(examples: Sequence[Case], probes: Sequence[Case], knobs: Sequence[tuple[str, str]], size: int) -> list[Row]:
    """Up to `size` distinct rows of pinned values: the regime examples' rows first (a quarter at most: they
    hold the contract's hand-picked corners), then probed cases' rows chosen so that each pinned attribute with
    few values (dtypes, flags) takes each value in about the share the free draws gave it, so regime counts
    stay near a free run's; ties go to the earlier draw."""

    def row_of(case: Case) -> Row:
        return tuple((k, _value(case, k)) for k in knobs)

    chosen = list(dict.fromkeys(map(row_of, examples)))[: max(1, size // 4)] if examples else []
    pool = [row for row in dict.fromkeys(map(row_of, probes)) if row not in chosen]
    share = Counter(pair for case in probes for pair in row_of(case))
    few = {k for k in knobs if len({_value(c, k) for c in probes}) <= 4}
    targets = {pair: n / len(probes) for pair, n in share.items() if pair[0] in few}
    counts = Counter(pair for row in chosen for pair in row if pair in targets)
    while pool and len(chosen) < size:

        def miss(row: Row) -> float:
            after = counts + Counter(pair for pair in row if pair in targets)
            return sum(abs(after[pair] - (len(chosen) + 1) * p) for pair, p in targets.items())

        best = min(pool, key=miss)
        pool.remove(best)
        chosen.append(best)
        counts.update(pair for pair in best if pair in targets)
    return chosen


def _label(knob: tuple[str, str]) -> str:
    """A pinned attribute as the report names it: its name, or "cu_seqlens passed" for a presence."""
    return f"{knob[1]} passed" if knob[0] == PASSED else knob[1]


def _pins(row: Row, originals: Mapping[tuple[tuple[str, str], Hashable], Any]) -> dict[str, st.SearchStrategy[Any]]:
    """The strategy overrides of a row: its values; a data attribute's presence only as None when left out (when
    passed, the row's filter keeps the cases that pass it, with values drawn to fit them)."""
    pins = {}
    for knob, value in row:
        if knob[0] != PASSED:
            pins[knob[1]] = st.just(originals[(knob, value)])
        elif not value:
            pins[knob[1]] = st.none()
    return pins


@dataclasses.dataclass
class Plan:
    """What the budget decided for one run: its seed, the compile-relevant attributes and the menu rows (empty
    when the run draws freely: `off` says why) with a case of each, and its cost."""

    seed: int
    max_compiles: int
    off: str = ""
    relevant: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    rows: list[Row] = dataclasses.field(default_factory=list)
    strategy: Optional[st.SearchStrategy[Case]] = None
    sources: list[Case] = dataclasses.field(default_factory=list)  # a case of each row
    estimate: float = 0.0
    seconds: float = 0.0
    probes: int = 0

    def summary(self, outcomes_cases: Sequence[Case], launches: Launches) -> Summary:
        keys = Counter(key for case_keys in launches.cases for key in set(case_keys))
        values = {_label(knob): sorted({_value(c, knob) for c in outcomes_cases}, key=repr) for knob in self.relevant}
        return Summary(
            max_compiles=self.max_compiles,
            off=self.off,
            relevant=[_label(knob) for knob in self.relevant],
            rows=len(self.rows),
            keys=len(keys),
            cases_per_key=sorted(keys.values(), reverse=True),
            values=values,
            estimate=round(self.estimate, 1),
            seconds=round(self.seconds, 3),
            probes=self.probes,
            seed=self.seed,
        )


def plan(
    contract: Contract,
    impl: Callable[..., Any],
    factory: Callable[[Overrides], st.SearchStrategy[Case]],
    *,
    overrides: Overrides,
    device: str,
    seed: int,
    max_compiles: int,
    examples: Sequence[Case] = (),
    autotune_configs: autotune.Mode = "drawn",
) -> Plan:
    """Probe, learn and, where the keys would exceed `max_compiles`, build the budgeted strategy (see the
    module). `factory(overrides)` is the contract's case strategy under those overrides; `examples` are the run's
    regime examples, whose compile-relevant values come first in the menu (they run anyway)."""
    start, probe = time.perf_counter(), Prober(contract, impl, device, autotune_configs=autotune_configs)
    data = {name for name, marker in contract.markers.items() if isinstance(marker, (Offsets, Index))}
    free = factory(overrides)
    probed = [probe(case) for case in draw(free, PROBES, seed)]
    result = Plan(seed, max_compiles, estimate=estimated_keys(probed))
    reached = [p for p in probed if p.klasses]
    if not reached:
        result.off = "no probed case reached a kernel launch"
    elif result.estimate <= max_compiles:
        result.off = f"about {result.estimate:.0f} compile keys expected: within the budget"
    else:
        relevant, free_probes = learn(reached, probe), list(reached)  # the menu's shares: free draws only
        if not relevant:
            result.off = "no case attribute changes a compile key alone"
    if result.off:
        result.seconds, result.probes = time.perf_counter() - start, probe.calls
        return result
    for round_ in range(ROUNDS + 1):
        result.relevant = pinned_knobs(relevant, reached, data)
        result.rows, per_row, result.sources = _budgeted(
            factory, overrides, result.relevant, examples, free_probes, max_compiles
        )
        result.strategy = st.integers(0, len(per_row) - 1).flatmap(lambda i: per_row[i])  # noqa: B023 - used now
        if round_ == ROUNDS:
            break
        # Several cases in each of a few rows (the last ones: probed cases, whose free attributes vary most): an
        # attribute the probes never varied is tried as above, else the rows' classes name the missing ones.
        checks = st.sampled_from(per_row[-CHECK_ROWS:]).flatmap(lambda s: s)
        checked = [p for p in map(probe, draw(checks, CHECKS, seed + round_ + 1)) if p.klasses]
        missed = learn([*reached, *checked], probe, known=relevant) or unexplained(
            checked, result.relevant, functools.partial(_honoured, factory, overrides, reached=reached, seed=seed)
        )
        if not missed:
            break
        relevant += missed
        reached = [*reached, *checked]
    result.seconds, result.probes = time.perf_counter() - start, probe.calls
    return result


def _honoured(
    factory: Callable[[Overrides], st.SearchStrategy[Case]],
    overrides: Overrides,
    knob: tuple[str, str],
    reached: Sequence[Probed],
    seed: int,
) -> bool:
    """Whether cases drawn with `knob` pinned to its commonest probed value carry that value."""
    raw = Counter(_value(p.case, knob) for p in reached).most_common(1)[0][0]
    value = next(
        (p.case.dims if knob[0] == "dims" else p.case.options)[knob[1]] for p in reached if _value(p.case, knob) == raw
    )
    return all(_value(c, knob) == raw for c in draw(factory({**overrides, knob[1]: st.just(value)}), HONOUR, seed))


def _budgeted(
    factory: Callable[[Overrides], st.SearchStrategy[Case]],
    overrides: Overrides,
    pinned: list[tuple[str, str]],
    examples: Sequence[Case],
    reached: Sequence[Probed],
    max_compiles: int,
) -> tuple[list[Row], list[st.SearchStrategy[Case]], list[Case]]:
    """The menu rows over the `pinned` attributes and, for each, the strategy of its cases and a case in it."""

    def expresses(case: Case) -> bool:  # a case without some pinned attribute cannot be a row
        return all(name in (case.dims if where == "dims" else case.options) for where, name in pinned)

    corners, probes = [c for c in examples if expresses(c)], [p.case for p in reached if expresses(p.case)]
    originals = {
        (knob, _value(c, knob)): (c.dims if knob[0] == "dims" else c.options)[knob[1]]
        for c in [*corners, *probes]
        for knob in pinned
        if knob[0] != PASSED
    }
    rows = menu(corners, probes, pinned, max_compiles)

    def in_row(row: Row) -> Callable[[Case], bool]:
        return lambda case: all(_value(case, k) == v for k, v in row)

    sources = [next(c for c in [*corners, *probes] if in_row(row)(c)) for row in rows]
    return rows, [factory({**overrides, **_pins(row, originals)}).filter(in_row(row)) for row in rows], sources


def default_seed() -> int:
    """A fresh seed for an unseeded run, so the probes, compile ahead and the run draw from the same one."""
    import random

    return random.getrandbits(31)
