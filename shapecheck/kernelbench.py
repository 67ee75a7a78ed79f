"""A problem in KernelBench's format as a contract: its shapes drawn, its `Model` in float64 the reference.

Why: pipelines that generate kernels judge each candidate at the ONE shape the problem file names, so a
candidate that hard-codes that shape, or returns zeros where the outputs are tiny, passes. A problem file
defines `class Model(nn.Module)`, `get_inputs()`, `get_init_inputs()` and module-level constants
(`batch_size = 16`, `height = width = 64`); a candidate defines `ModelNew` with the same constructor.

How the constants are read: the file is executed again with one integer constant changed at a time (on
the meta device: no data, milliseconds), and each constant gets a role:

- `inputs`: changing it changes an input's shape (a batch, a length, a channel count the weights follow
  too): drawn;
- `weights`: it changes the weights' shapes only (a kernel size, an output width): drawn, since the file is
  executed again under the drawn values, so `get_init_inputs` and derived constants (`bias_shape =
  (out_channels, 1, 1)`) stay consistent with it;
- `held`: it changes neither (an axis index, a stride, a flag, an unused number), or varying it breaks the
  file: kept at the file's value.

Drawn values run from 1 to twice the file's own value, capped so a case's inputs stay within the profile's
budget (small under the interpreter, larger on a GPU): a candidate whose block covers exactly the file's size
(masked below it) holds at every size up to it, so only a size above shows the assumption. A combination the
file cannot run with (a convolution kernel larger than its input) is not drawn. A problem whose constants cannot be varied says so
(`Problem.note`) and runs at its own shapes, drawing values only.

The contract's arguments are the forward inputs (by `forward`'s parameter names), the problem's weights
(`weight_0`, ...: `Model`'s state, built under the case's seed) and `model`, the constructor arguments and
seed (`shapecheck.host.ModelCall` builds `ModelNew` from them, loads the weights, and calls it). Its
reference builds `Model` in float64 with the same weights; the result is judged by `shapecheck.harness`, as
every contract's is: shape against the reference's, dtype, NaN poison, relative RMS error.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import inspect
import keyword
import math
import types
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import jaxtyping
import torch
from hypothesis import strategies as st

from shapecheck import blame
from shapecheck.case import Case
from shapecheck.errors import UsageError
from shapecheck.host import MODEL
from shapecheck.profiles import Profile
from shapecheck.spec import Contract

# Input elements a case may hold: the interpreter runs about a million interpreted lane-operations a second on
# two cores, so CPU cases stay small; a GPU case is a few megabytes.
INTERPRETER_BUDGET = 4096
GPU_BUDGET = 1 << 22
OWN_SHAPES = "the problem's own shapes"  # the regime example run at the file's values, where they fit the budget

_DTYPES = {
    torch.float32: jaxtyping.Float32,
    torch.float64: jaxtyping.Float64,
    torch.float16: jaxtyping.Float16,
    torch.bfloat16: jaxtyping.BFloat16,
    torch.int64: jaxtyping.Int64,
    torch.int32: jaxtyping.Int32,
    torch.int16: jaxtyping.Int16,
    torch.int8: jaxtyping.Int8,
    torch.uint8: jaxtyping.UInt8,
    torch.bool: jaxtyping.Bool,
}


@dataclasses.dataclass(frozen=True)
class Constant:
    """A module-level integer of the problem file and what changing it changes."""

    name: str
    value: int
    role: str  # "inputs", "weights" or "held"
    why: str = ""


@dataclasses.dataclass(frozen=True)
class Probe:
    """What a problem builds under some constants, on the meta device: the shapes that say what a constant does."""

    inputs: tuple[Any, ...]  # shape tuples of tensor inputs, the value of others
    init: tuple[Any, ...]
    weights: tuple[tuple[str, tuple[int, ...], torch.dtype], ...]
    output: Any  # shape/dtype structure of the forward's result, or None where forward cannot run on meta


class _Constants(ast.NodeTransformer):
    """Module-level `name = <int>` (and `a = b = <int>`) assignments, each target set from `values`."""

    def __init__(self, values: Mapping[str, int]) -> None:
        self.values = values

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body: list[ast.stmt] = []
        for statement in node.body:
            names = _int_targets(statement)
            if names is None:
                body.append(statement)
                continue
            original = _int_value(statement)
            for name in names:
                value = ast.Constant(self.values.get(name, original))
                body.append(ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], value), statement))
        node.body = body
        return node


def _int_value(statement: ast.stmt) -> int:
    value: Any = getattr(statement, "value")  # noqa: B009 - an Assign, checked by _int_targets
    if isinstance(value, ast.UnaryOp):
        operand: Any = value.operand
        return -int(operand.value)
    return int(value.value)


def _int_targets(statement: ast.stmt) -> Optional[list[str]]:
    """The names a module-level integer assignment binds, or None for any other statement."""
    if not isinstance(statement, ast.Assign) or not all(isinstance(t, ast.Name) for t in statement.targets):
        return None
    value = statement.value
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        value = value.operand
    if not isinstance(value, ast.Constant) or type(value.value) is not int:
        return None
    return [t.id for t in statement.targets]  # type: ignore[attr-defined]


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Torch's global generator at `seed` inside, as it was outside (problem files draw from it)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _cuda_calls_to(device: str) -> Iterator[None]:
    """`.cuda()` in a problem's `get_inputs` (a common form) lands on `device`, also without a GPU."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self.to(device)  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]


def _structure(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape), value.dtype)
    if isinstance(value, (tuple, list)):
        return tuple(_structure(v) for v in value)
    return repr(value)


def _is_tensor(structure: Any) -> bool:
    """Whether a `_structure` is one tensor's (shape, dtype)."""
    return isinstance(structure, tuple) and len(structure) == 2 and isinstance(structure[0], tuple)


def _empty(structure: Any) -> bool:
    """Whether a result structure holds a tensor with a zero-size axis."""
    if _is_tensor(structure):
        return 0 in structure[0]
    return isinstance(structure, tuple) and any(_empty(s) for s in structure)


def _numel(shapes: tuple[Any, ...]) -> int:
    return sum(math.prod(s[0]) for s in shapes if _is_tensor(s))


class Problem:
    """A KernelBench-format problem file, executed under chosen constants (each set once, then cached)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.source = path.read_text()
            self._tree = ast.parse(self.source, str(path))
        except (OSError, SyntaxError, ValueError) as exc:
            raise UsageError(f"problem {path}: cannot read it: {type(exc).__name__}: {exc}") from None
        self.name = _identifier(path.stem)
        values: dict[str, int] = {}
        for statement in self._tree.body:
            for name in _int_targets(statement) or []:
                values[name] = _int_value(statement)
        self.values = values
        base = self.module(values)
        for needed in ("Model", "get_inputs", "get_init_inputs"):
            if not callable(getattr(base, needed, None)):
                raise UsageError(
                    f"problem {path}: defines no {needed} (KernelBench's format: class Model(nn.Module), "
                    "get_inputs(), get_init_inputs())"
                )
        self.baseline = self._probe(values, what="at its own constants")
        self.constants = {name: self._role(name, value) for name, value in values.items()}
        self.drawn = tuple(c.name for c in self.constants.values() if c.role != "held")
        self.input_names = self._input_names(base)

    # --- executing the file ---

    def module(self, values: Mapping[str, int]) -> types.ModuleType:
        """The problem file executed with its integer constants set to `values` (others at the file's)."""
        return self._module(tuple(sorted(values.items())))

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one problem per run; a few dozen constant sets
    def _module(self, values: tuple[tuple[str, int], ...]) -> types.ModuleType:
        tree = ast.fix_missing_locations(_Constants(dict(values)).visit(ast.parse(self.source, str(self.path))))
        module = types.ModuleType(f"kernelbench_{self.name}")
        module.__file__ = str(self.path)
        exec(compile(tree, str(self.path), "exec"), module.__dict__)
        return module

    def build(self, values: Mapping[str, int], seed: int, device: str) -> tuple[list[Any], list[Any], torch.nn.Module]:
        """(constructor arguments, forward inputs, `Model`) under `values`, from `seed` (inputs first, then the
        model from the seed again, as `ModelNew` is built by `host.ModelCall`)."""
        module = self.module(values)
        with _seeded(seed), _cuda_calls_to(device):
            inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in module.get_inputs()]
            init = list(module.get_init_inputs())
        with _seeded(seed):
            model = module.Model(*init)
        return init, inputs, model.to(device)

    def _probe(self, values: Mapping[str, int], *, what: str) -> Probe:
        """What the file builds under `values`, on the meta device; UsageError names the step that failed."""
        module = self.module(values)
        step = "get_inputs()"
        try:
            with torch.device("meta"), _cuda_calls_to("meta"):
                inputs = list(module.get_inputs())
                step = "get_init_inputs()"
                init = list(module.get_init_inputs())
                step = "Model(*get_init_inputs())"
                model = module.Model(*init)
        except Exception as exc:  # noqa: BLE001 - the problem's code failing is said in one line, with its frame
            raise UsageError(blame.describe(f"problem {self.path} {what}: {step}", exc)) from None
        weights = tuple((k, tuple(v.shape), v.dtype) for k, v in model.state_dict().items())
        try:
            output = _structure(model(*inputs))
        except Exception:  # noqa: BLE001 - an op without a meta kernel: the shape of the result is learnt per case
            output = None
        return Probe(tuple(_structure(x) for x in inputs), tuple(repr(v) for v in init), weights, output)

    def _role(self, name: str, value: int) -> Constant:
        if value < 1:
            return Constant(name, value, "held", "not a size (below 1)")
        try:
            changed = self._probe({**self.values, name: value + 1}, what=f"with {name}={value + 1}")
        except UsageError:
            return Constant(name, value, "held", "the file does not run with another value")
        if changed.inputs != self.baseline.inputs:
            return Constant(name, value, "inputs", "shapes the inputs")
        if [w[1] for w in changed.weights] != [w[1] for w in self.baseline.weights]:
            return Constant(name, value, "weights", "shapes the weights")
        return Constant(name, value, "held", "shapes neither the inputs nor the weights")

    def _input_names(self, module: types.ModuleType) -> tuple[str, ...]:
        """`forward`'s parameter names for the inputs (`x`, `A`, `B`), else `input_0`, ...; never `model` or a weight's."""
        try:
            params = [
                p.name
                for p in inspect.signature(module.Model.forward).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ][1:]
        except (TypeError, ValueError):
            params = []
        count = len(self.baseline.inputs)
        names = [params[i] if i < len(params) else f"input_{i}" for i in range(count)]
        reserved = {MODEL, *(f"weight_{i}" for i in range(len(self.baseline.weights)))}
        fixed = [
            n if n.isidentifier() and not keyword.iskeyword(n) and n not in reserved else f"input_{i}"
            for i, n in enumerate(names)
        ]
        return tuple(fixed) if len(set(fixed)) == len(fixed) else tuple(f"input_{i}" for i in range(count))

    # --- drawing ---

    @property
    def note(self) -> str:
        """How the problem's constants are drawn, one line (for the report)."""
        if not self.drawn:
            every = ", ".join(f"{c.name}={c.value}" for c in self.constants.values()) or "none"
            return f"no constant of {self.path.name} can be varied (integer constants: {every}): runs at its own shapes"
        parts = [f"{c.name} ({c.role})" for c in self.constants.values() if c.role != "held"]
        held = [f"{c.name}={c.value}" for c in self.constants.values() if c.role == "held"]
        return f"drawn: {', '.join(parts)}" + (f"; held: {', '.join(held)}" if held else "")

    def ranges(self, profile: Profile) -> dict[str, tuple[int, int]]:
        """Each drawn constant's range: 1 to twice the file's value, capped so inputs stay within the profile's
        budget."""
        count = max(1, sum(c.role == "inputs" for c in self.constants.values()))
        cap = max(2, int(_budget(profile) ** (1 / count)))
        return {n: (1, max(1, min(2 * self.constants[n].value, cap))) for n in self.drawn}

    def covered(self, profile: Profile) -> str:
        """The sizes `profile` draws against the file's own, one line: a verdict holds for these sizes only, and a
        range the budget stops below the file's value (the interpreter's) means the file's own shape never ran."""
        ranges = self.ranges(profile)
        if not ranges:
            return "sizes: the file's own"
        text = "sizes drawn: " + ", ".join(
            f"{n} 1..{hi} (file: {self.constants[n].value})" for n, (_, hi) in ranges.items()
        )
        below = [n for n, (_, hi) in ranges.items() if hi < self.constants[n].value]
        if below:
            text += (
                f"; {', '.join(below)} capped below the file's value by the {profile.name} profile's budget of "
                f"{_budget(profile)} input elements (a GPU profile draws larger)"
            )
        return text

    def fits(self, values: Mapping[str, int], profile: Profile) -> bool:
        """Whether the file runs under `values` with the weights' names it has at its own, within the budget."""
        try:
            probe = self._probe(values, what="")
        except UsageError:
            return False
        budget = _budget(profile)
        same_weights = [w[0] for w in probe.weights] == [w[0] for w in self.baseline.weights]
        # an output emptied by the drawn values (a convolution kernel wider than its input, where a torch's meta
        # kernel computes the size instead of refusing: the H100's torch 2.11 drew one, and the device refused it)
        emptied = probe.output is not None and _empty(probe.output) and not _empty(self.baseline.output)
        return (
            same_weights
            and _numel(probe.inputs) <= budget
            and (probe.output is not None or self.baseline.output is None)
            and not emptied
        )


def _budget(profile: Profile) -> int:
    """Input elements a case may hold under `profile`."""
    return GPU_BUDGET if profile.large else INTERPRETER_BUDGET


def _identifier(stem: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in stem)
    return name if name[:1].isalpha() else f"p_{name}"


def _annotation(structure: Any) -> Any:
    """The jaxtyping annotation of a tensor of this (shape, dtype): every axis `_` (the reference judges sizes)."""
    shape, dtype = structure
    kind = _DTYPES.get(dtype)
    if kind is None:
        raise UsageError(f"a tensor of dtype {dtype} cannot be judged (KernelBench format: float, int or bool tensors)")
    return kind[torch.Tensor, " ".join("_" for _ in shape) or "..."]


def contract(problem: Problem) -> Contract:
    """The problem as a contract: drawn constants, the file's inputs and weights, `Model` in float64 as reference."""
    baseline = problem.baseline
    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in problem.input_names]
    params.append(inspect.Parameter(MODEL, inspect.Parameter.KEYWORD_ONLY))
    weights = [f"weight_{i}" for i in range(len(baseline.weights))]
    params += [inspect.Parameter(w, inspect.Parameter.KEYWORD_ONLY) for w in weights]
    hints: dict[str, Any] = {
        n: _annotation(s)
        for n, s in zip(problem.input_names, baseline.inputs)
        if isinstance(s, tuple) and len(s) == 2 and isinstance(s[1], torch.dtype)
    }
    hints.update({w: _annotation((shape, dtype)) for w, (_, shape, dtype) in zip(weights, baseline.weights)})
    output = baseline.output
    if output is None:
        raise UsageError(
            f"problem {problem.path}: Model.forward cannot run on the meta device, so the form of its result is unknown"
        )
    if isinstance(output, tuple) and output and isinstance(output[0], tuple) and not isinstance(output[1], torch.dtype):
        hints["return"] = tuple.__class_getitem__(tuple(_annotation(o) for o in output))
    else:
        hints["return"] = _annotation(output)

    def signature(**arguments: Any) -> Any:
        """`Model.forward` of the problem, with its weights and constructor arguments as arguments."""

    signature.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # what inspect reads
    signature.__annotations__ = hints
    signature.__module__ = f"kernelbench.{problem.name}"
    signature.__qualname__ = signature.__name__ = problem.name

    def reference(**args: Any) -> Any:
        """`Model` of the problem in float64 (default dtype too, for tensors it makes in forward), same weights."""
        spec = args[MODEL]
        module = problem.module(spec["constants"])
        default = torch.get_default_dtype()
        device = next(x.device for x in args.values() if isinstance(x, torch.Tensor))
        try:
            torch.set_default_dtype(torch.float64)
            with _seeded(spec["seed"]):
                model = module.Model(*spec["init"]).to(device)
            model.load_state_dict({k: args[w] for k, w in zip(spec["keys"], spec["weights"])})
            inputs = [
                args[n].double() if isinstance(args[n], torch.Tensor) and args[n].is_floating_point() else args[n]
                for n in spec["inputs"]
            ]
            return model(*inputs)
        finally:
            torch.set_default_dtype(default)

    def inputs(case: Case, device: Any) -> dict[str, Any]:
        values = {**problem.values, **case.dims}
        init, tensors, model = problem.build(values, case.seed, str(device))
        state = model.state_dict()
        found = {n: x for n, x in zip(problem.input_names, tensors)}
        found.update({w: state[k].detach().clone() for w, k in zip(weights, state)})
        found[MODEL] = {
            "init": init,
            "keys": list(state),
            "weights": weights,
            "inputs": list(problem.input_names),
            "seed": case.seed,
            "constants": values,
        }
        return found

    def cases(profile: Profile, overrides: Mapping[str, Any]) -> st.SearchStrategy[Case]:
        ranges = problem.ranges(profile)
        drawn = st.fixed_dictionaries({n: overrides.get(n, st.integers(lo, hi)) for n, (lo, hi) in ranges.items()})
        fitting = drawn.filter(lambda dims: problem.fits({**problem.values, **dims}, profile))
        return st.builds(lambda dims, seed: Case(problem.name, dims, {}, seed), fitting, st.integers(0, 2**31 - 1))

    def examples(profile: Profile) -> dict[str, Case]:
        own = {n: problem.values[n] for n in problem.drawn}
        return (
            {OWN_SHAPES: Case(problem.name, own, {}, 0)}
            if problem.drawn and profile.large and problem.fits(problem.values, profile)
            else {}
        )

    return Contract(
        problem.name,
        signature,
        reference=reference,
        inputs=inputs,
        cases=cases,
        examples=examples,
        regimes=lambda case: {f"{n}={v}" for n, v in case.dims.items() if v == 1},
        pins=problem.drawn,
        description=problem.note,
    )
