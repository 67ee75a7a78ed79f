"""The result model of a property run: what each case did (`Outcome`), the run (`Report`), its compile budget
(`Summary`), and their JSON form.

Torch-free on purpose (no torch, Hypothesis or Triton, tests/test_outcomes.py checks it): `shapecheck report
merge`, the JSON/JUnit writers and the console read and write reports without importing the engine. The JSON
form is derived from the dataclass fields, so a field added here is written and read back without a second
list to keep in step; a field's metadata (`_Json`) says only where its JSON differs from its plain value.
The models are built by keyword (`kw_only`): a positional `Report(...)` of 16 fields is easy to misorder.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, TypeVar

from shapecheck.case import Case

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A case's `bounds` come from the second opinion (shapecheck/conditioning.py): held within max(bound, FACTOR x
# the case's own float32 noise floor) of a float64 reference. On 1,500 cancelling cases the H200 kernel was
# 1.9x its floor at the median, 4.3x at most (bench/results/h200/precision_floor.txt); 16 leaves room for
# longer reductions, and still fails a 1 % error on 3e-4-cancelling rows (tests/test_conditioning.py). Here,
# not in conditioning.py (torch), because the report's table states it.
FACTOR = 16
STORED = 2  # x the truth's error merely stored in the result's dtype: one rounding to store, one intermediate


@dataclasses.dataclass(frozen=True)
class _Json:
    """Where a field's JSON differs from its plain value: another key, floats rounded, a conversion on load."""

    key: Optional[str] = None
    places: Optional[int] = None
    load: Optional[Callable[[Any], Any]] = None


def _json(
    key: Optional[str] = None, places: Optional[int] = None, load: Optional[Callable[[Any], Any]] = None
) -> dict[str, _Json]:
    return {"json": _Json(key, places, load)}


def _plain(value: Any, places: Optional[int] = None) -> Any:
    """A field's value as JSON: mappings (Counter included) as objects, tuples as lists, models by their own
    JSON, floats (also inside mappings and lists) rounded to `places` where the field says so."""
    if isinstance(value, (Outcome, Summary)):
        return value.to_json()
    if isinstance(value, Case):
        return json.loads(value.to_json())
    if isinstance(value, float) and places is not None:
        return round(value, places)
    if isinstance(value, Mapping):
        return {key: _plain(item, places) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, places) for item in value]
    return value


def _dumped(model: DataclassInstance) -> dict[str, Any]:
    """The fields of `model` under their JSON keys, in declaration order."""
    found = {}
    for field in dataclasses.fields(model):
        spec = field.metadata.get("json", _Json())
        found[spec.key or field.name] = _plain(getattr(model, field.name), spec.places)
    return found


M = TypeVar("M", bound="DataclassInstance")


def _loaded(cls: type[M], data: Mapping[str, Any], **values: Any) -> M:
    """`cls` from its JSON keys in `data` and the given `values`; a key an older report lacks leaves the field's
    default (a required one missing: TypeError); keys that are no field (figures derived for readers) are
    not read."""
    for field in dataclasses.fields(cls):
        spec = field.metadata.get("json", _Json())
        key = spec.key or field.name
        if field.name not in values and key in data:
            values[field.name] = data[key] if spec.load is None else spec.load(data[key])
    return cls(**values)


def _case(data: Any) -> Case:
    """A case's JSON object as a Case, checked as a `--reproduce` case is (ValueError when malformed)."""
    return Case.from_json(json.dumps(data))


@dataclasses.dataclass(kw_only=True)
class Outcome:
    """What one case did: problems found (empty = held) and the errors measured."""

    case: Case = dataclasses.field(metadata=_json(load=_case))
    label: Optional[str] = None  # the regime example's name; None for a drawn case
    problems: list[str]
    errors: dict[str, float]  # "output float32" / "pool bfloat16" -> relative RMS error
    seconds: float = dataclasses.field(metadata=_json(places=4))
    raised: Optional[str] = None  # type name of the exception the implementation raised, if it did
    # seconds: inputs, reference, kernel, checks
    phases: dict[str, float] = dataclasses.field(default_factory=dict, metadata=_json(places=6))
    bounds: dict[str, str] = dataclasses.field(default_factory=dict)  # errors key -> a bound other than the dtype's
    backward: bool = False  # a backward case ran (a differentiable contract's gradients were judged)
    configs: dict[str, str] = dataclasses.field(default_factory=dict)  # autotuned kernel -> the config it ran (drawn)
    layouts: list[str] = dataclasses.field(default_factory=list)  # free-layout tensors passed non-contiguous here
    regimes: list[str] = dataclasses.field(default_factory=list)  # the coverage rows this case counts in, as passed

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this case: `ok`, then the fields."""
        return {"ok": self.ok, **_dumped(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The Outcome `to_json` wrote."""
        return _loaded(cls, data)


@dataclasses.dataclass(kw_only=True)
class Summary:
    """The report's view of the compile budget (shapecheck/budget.py): what was pinned, the keys the run compiled
    and how many cases each ran, and the values each compile-relevant attribute took."""

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

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the budget: its fields."""
        return _dumped(self)


def _outcomes(data: Any) -> list[Outcome]:
    return [Outcome.from_json(item) for item in data]


def _budget(data: Any) -> Optional[Summary]:
    return _loaded(Summary, data) if data else None


# What a report's failure says in JSON: its case and what went wrong; the whole outcome is among `outcomes`.
_FAILURE = ("case", "label", "problems", "raised")


@dataclasses.dataclass(kw_only=True)
class Report:
    """One contract's property run, as the CLI table and the JSON/JUnit reports show it."""

    contract: str
    impl: str
    device: str
    profile: str
    regimes: Counter[str] = dataclasses.field(metadata=_json(load=Counter))  # regime name -> cases that exercised it
    rejected: Counter[str] = dataclasses.field(  # reason -> drawn cases the contract refused
        default_factory=Counter, metadata=_json(key="rejected_by_reason", load=Counter)
    )
    compilations: int
    compile_keys: int  # distinct (argument types, constexprs) among the compilations
    seconds: float = dataclasses.field(metadata=_json(places=3))
    # Triton compilations (inside the kernel calls)
    compile_seconds: float = dataclasses.field(default=0.0, metadata=_json(places=3))
    # the compile-ahead pass before the cases (shapecheck/ahead.py)
    ahead_seconds: float = dataclasses.field(default=0.0, metadata=_json(places=3))
    # the compile budget; None: not attempted
    compile_budget: Optional[Summary] = dataclasses.field(default=None, metadata=_json(load=_budget))
    # a merged run (workers, shards): its parts' wall times added up; 0 for one part
    part_seconds: float = dataclasses.field(default=0.0, metadata=_json(places=3))
    # argv that replays a case of this run, up to `--reproduce`
    command: tuple[str, ...] = dataclasses.field(default=(), metadata=_json(load=tuple))
    # tensors the contract takes in any layout (`Contract.free_layouts`)
    free_layouts: tuple[str, ...] = dataclasses.field(default=(), metadata=_json(load=tuple))
    # each dtype group the annotations let vary ("q/k"), with the dtypes it may take (`strategies.dtype_choices`)
    dtype_choices: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    failure: Optional[Outcome]  # the shrunk failing case, if any (one of `outcomes`)
    outcomes: list[Outcome] = dataclasses.field(metadata=_json(load=_outcomes))

    @property
    def held(self) -> bool:
        return self.failure is None

    def time_split(self) -> dict[str, float]:
        """Wall seconds by step over all cases: compilation taken out of `kernel`, the rest is Hypothesis's
        (drawing, shrinking, rejected cases). For a merged run, seconds summed over its parts."""
        split: dict[str, float] = {}
        for outcome in self.outcomes:
            for step, seconds in outcome.phases.items():
                split[step] = split.get(step, 0.0) + seconds
        split["kernel"] = split.get("kernel", 0.0) - self.compile_seconds
        split["compile"] = self.compile_seconds
        if self.ahead_seconds:
            split["compile ahead"] = self.ahead_seconds
        planned = self.compile_budget.seconds if self.compile_budget else 0.0
        if planned:
            split["compile budget"] = planned
        split["hypothesis"] = (
            (self.part_seconds or self.seconds) - sum(o.seconds for o in self.outcomes) - self.ahead_seconds - planned
        )
        return dict(split)

    @property
    def packed_only(self) -> list[str]:
        """Tensors the contract takes in any layout that no case passed non-contiguous: layouts the decorator
        accepts and this run never tried (tensors a builder made views of one buffer, which stay as built)."""
        tried = {name for outcome in self.outcomes for name in outcome.layouts}
        return [name for name in self.free_layouts if name not in tried]

    @property
    def untried_dtypes(self) -> list[str]:
        """Dtypes the annotations accept that no case passed, as "group dtype": what the decorator lets through
        and this run never ran (a contract whose own `inputs` builder ignores the drawn dtypes)."""
        passed = {name for outcome in self.outcomes for name in outcome.regimes}
        return [f"{g} {d}" for g, choices in self.dtype_choices.items() for d in choices if f"{g} {d}" not in passed]

    @property
    def backward_cases(self) -> int:
        return sum(o.backward for o in self.outcomes)

    def configs(self) -> dict[str, Counter[str]]:
        """Autotuned kernel -> the configs its cases ran, with how many cases ran each."""
        used: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            for kernel, config in outcome.configs.items():
                used.setdefault(kernel, Counter())[config] += 1
        return used

    def worst_errors(self) -> dict[str, float]:
        worst: dict[str, float] = {}
        for outcome in self.outcomes:
            for key, err in outcome.errors.items():
                worst[key] = max(err, worst.get(key, 0.0))
        return worst

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this run: figures derived for readers (scripts, CI; not read back), then the
        fields, the failure as `_FAILURE` says."""
        fields = _dumped(self)
        if self.failure is not None:
            fields["failure"] = {key: fields["failure"][key] for key in _FAILURE}
        return {
            "held": self.held,
            "cases": len(self.outcomes),
            "failures": sum(not o.ok for o in self.outcomes),
            "rejected": sum(self.rejected.values()),
            "backward_cases": self.backward_cases,
            "packed_only": self.packed_only,
            "untried_dtypes": self.untried_dtypes,
            "autotune_configs": {kernel: dict(used) for kernel, used in self.configs().items()},
            "worst_errors": self.worst_errors(),
            **fields,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """The Report `to_json` wrote (KeyError, TypeError or ValueError when `data` is not one): its failure is
        the last failing outcome of the failure's case."""
        outcomes = _outcomes(data["outcomes"])
        failure = None
        if data["failure"] is not None:
            wanted = _case(data["failure"]["case"])
            failure = next((o for o in reversed(outcomes) if o.case == wanted and not o.ok), None)
            if failure is None:
                raise ValueError("its failure is not among its outcomes")
        return _loaded(cls, data, outcomes=outcomes, failure=failure)
