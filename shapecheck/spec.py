"""The contract model: a jaxtyping-annotated signature plus the rules annotations cannot say.

A contract is a plain value. The runtime decorator checks calls against it, the property engine draws
cases from it, and the static analyser seeds shapes from its annotations. A user writes one in a few
lines::

    MY_OP = Contract(
        name="my_op",
        signature=my_op_signature,          # a stub whose parameters carry jaxtyping annotations
        rules=[Rule("HV % H == 0", blame=("v", "HV"), why="grouped heads")],
    )

Over 400 lines because the definition-time validation and the call-time binder share one parsed model.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import math
import typing
from typing import Annotated, Any, Callable, Mapping, Optional, Sequence, Union

import torch
from hypothesis.strategies import SearchStrategy

from shapecheck import axes as _axes
from shapecheck import dims as _dims
from shapecheck import harness
from shapecheck import outputs as _outputs
from shapecheck import scalars as _scalars
from shapecheck.call import Call as Call
from shapecheck.call import Check as Check
from shapecheck.call import TracedViolation as TracedViolation
from shapecheck.errors import ContractViolation, DtypeViolation, InvalidContract
from shapecheck.keywords import keyword_only_options
from shapecheck.markers import Differentiable, Index, InPlace, Marker, Offsets


@keyword_only_options
@dataclasses.dataclass(frozen=True)
class Dim:
    """What a dimension means and the range the property engine draws it from (per profile).

    `Dim(meaning, lo, hi)` positionally, as a range reads; the GPU profile's bound by name only
    (`Dim("tokens", 1, 8, gpu_hi=64)`): a fourth number could be anything.
    """

    meaning: str = ""
    lo: int = 1  # 0 declares that the dimension may be empty (calls with it are then valid)
    hi: int = 8  # CPU/CI profile upper bound; profiles may scale it
    _: dataclasses.KW_ONLY
    gpu_hi: Optional[int] = None

    def problem(self) -> Optional[str]:
        """Why this range cannot be drawn from, or None."""
        if not isinstance(self.lo, int) or self.lo < 0:
            return f"lo must be an int >= 0 (0 = may be empty), found {self.lo!r}"
        if not isinstance(self.hi, int) or self.hi < self.lo:
            return f"hi must be an int >= lo={self.lo}, found {self.hi!r}"
        if self.gpu_hi is not None and (not isinstance(self.gpu_hi, int) or self.gpu_hi < self.lo):
            return f"gpu_hi must be an int >= lo={self.lo} or None, found {self.gpu_hi!r}"
        return None


@dataclasses.dataclass(frozen=True)
class Rule:
    """A cross-dimension rule: a Python expression over dimension names and non-tensor arguments.

    `blame` names the (argument, dimension) the error message points at. A rule whose names are not all
    bound (an absent optional argument, the other branch of a Union) does not apply to that call.
    """

    expr: str
    blame: tuple[str, str]
    why: str = ""
    _expr: tuple[tuple[str, ...], Callable[..., Any]] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_expr", _dims.expression(self.expr, f"<rule {self.expr}>"))

    @property
    def names(self) -> tuple[str, ...]:
        return self._expr[0]

    def holds(self, namespace: Mapping[str, Any]) -> Optional[bool]:
        """True/False, or None when the rule does not apply (an unbound name)."""
        names, fn = self._expr
        if any(name not in namespace for name in names):
            return None
        return bool(fn(*[namespace[name] for name in names]))


Hook = Union[str, Callable[..., Any], None]
"""A function the property engine calls: the function itself, or `"module:function"` (resolved lazily, so a
contract can name code in modules that import it)."""
HOOKS = ("reference", "implementation", "cases", "examples", "inputs", "regimes")


def _unsolved_to_anonymous(annotation: Any, plain: set[str]) -> Any:
    """The annotation with every axis that jaxtyping cannot bind (an expression over a name no plain axis
    binds, `"N+1"` of the ragged signature) replaced by `_`: shapecheck's binder solves and checks those."""
    if hasattr(annotation, "dim_str") and hasattr(annotation, "array_type"):
        parsed = _axes.parse(annotation.dim_str)
        tokens = ["_" if a.kind == "expression" and set(_axes.names(a.value)) - plain else a.text for a in parsed]
        return (
            annotation.dtype[annotation.array_type, " ".join(tokens)]
            if tokens != [a.text for a in parsed]
            else annotation
        )
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metadata = typing.get_args(annotation)
        return Annotated[(_unsolved_to_anonymous(base, plain), *metadata)]
    if _dims.is_union(annotation):
        return Union[tuple(_unsolved_to_anonymous(a, plain) for a in typing.get_args(annotation))]
    return annotation


def _differentiable(annotation: Any) -> bool:
    """Whether the annotation carries `Differentiable()` (in `Annotated`, or in a union member's)."""
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        return any(isinstance(m, Differentiable) for m in metadata) or _differentiable(base)
    return _dims.is_union(annotation) and any(_differentiable(a) for a in typing.get_args(annotation))


def _split_markers(annotation: Any) -> tuple[Any, Optional[Any]]:
    """The annotation without `Annotated[...]` wrappers, and the shapecheck marker they carried (if any)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metadata = typing.get_args(annotation)
        stripped, inner = _split_markers(base)
        ours = [m for m in metadata if isinstance(m, (Offsets, Index, InPlace))]
        return stripped, ours[0] if ours else inner
    if _dims.is_union(annotation):
        parts = [_split_markers(member) for member in typing.get_args(annotation)]
        markers = [m for _, m in parts if m is not None]
        return Union[tuple(base for base, _ in parts)], markers[0] if markers else None
    return annotation, None


@keyword_only_options
@dataclasses.dataclass(frozen=True)
class Contract:
    """A kernel's shape contract: annotated signature, dimension meanings, rules and checks.

    `Contract(name, signature, dims=..., rules=..., ...)`: everything after the signature by name.

    Hooks (`reference`, `implementation`, `cases`, `examples`, `inputs`, `regimes`) are functions or
    `"module:function"` strings; strings are resolved lazily so contracts can be imported by the kernels they
    describe without a cycle, and checked for form when the contract is built. Tensor parameters annotated
    `Annotated[..., Offsets(...) | Index(...) | InPlace()]` (see `shapecheck.markers`) get their values
    checked and drawn without any hand-written code; `mutates` names in-place arguments too.
    Everything is validated here: a malformed contract raises `InvalidContract` naming the field.
    """

    name: str
    signature: Callable[..., Any]
    _: dataclasses.KW_ONLY
    dims: Mapping[str, Dim] = dataclasses.field(default_factory=dict)
    rules: Sequence[Rule] = ()
    checks: Sequence[Check] = ()
    value_checks: Sequence[Check] = ()  # read device memory (a sync per call): skipped in "shapes" mode
    reference: Hook = None  # fn(**arguments) -> the declared result (in-place arguments updated in its copies),
    #                         or (*outputs, *new values of the in-place arguments)
    implementation: Hook = None
    mutates: Sequence[str] = ()
    # The dtype of floating outputs must equal this argument's (a name), or per output ({output: argument}).
    output_dtype_like: Union[str, Mapping[str, str], None] = None
    outputs: Sequence[str] = ()  # names of the returned elements (default "output", or "output[i]" of a tuple)
    compare: Mapping[str, harness.Compare] = dataclasses.field(default_factory=dict)  # result -> its comparison
    draw: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # scalar parameter -> Hypothesis strategy
    finite: Sequence[str] = ()  # float arguments that must hold no NaN/inf (checked with the markers, one read)
    cases: Hook = None  # fn(profile, overrides) -> SearchStrategy[Case]
    examples: Hook = None  # fn(profile) -> {name: Case} or [Case]: regime cases every property run adds
    inputs: Hook = None  # fn(case, device) -> arguments by name
    regimes: Hook = None  # fn(case) -> set of regime names (coverage table)
    pins: Sequence[str] = ()  # names besides dimensions and parameters that `cases` reads from its overrides
    # The kernel computes with its operands' dtype (`tl.dot` of 16-bit operands, a 16-bit accumulator): hold a
    # result to the bound of its coarsest floating argument where looser than its own dtype's. Off by default,
    # so a float32 result of bfloat16 inputs keeps float32's bound.
    operand_precision: bool = False
    description: str = ""
    # Derived from `signature` once, in __post_init__ (not constructor arguments).
    hints: Mapping[str, Any] = dataclasses.field(init=False, repr=False, compare=False)
    gate_hints: Mapping[str, Any] = dataclasses.field(init=False, repr=False, compare=False)
    markers: Mapping[str, Marker] = dataclasses.field(init=False, repr=False, compare=False)
    differentiable: tuple[str, ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )  # `Differentiable()` inputs
    _sig: inspect.Signature = dataclasses.field(init=False, repr=False, compare=False)
    _specs: Mapping[str, _dims.TensorSpec] = dataclasses.field(init=False, repr=False, compare=False)
    returns: _outputs.Returns = dataclasses.field(init=False, repr=False, compare=False)
    scalar_dims: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)  # int parameters named
    #                                                  like a dimension: the scalar's value is the size

    def resolve(self, field: str) -> Optional[Callable[..., Any]]:
        """The function a hook field names, or None if unset; an import failure or a name that is not a function
        raises InvalidContract naming the field."""
        target = getattr(self, field)
        if target is None or callable(target):
            return target
        module, _, attr = target.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except Exception as exc:  # noqa: BLE001 - any import failure is the contract author's to fix
            raise InvalidContract(self.name, field, f"cannot load {target!r}: {type(exc).__name__}: {exc}") from None
        if not callable(found):
            raise InvalidContract(self.name, field, f"{target!r} is a {type(found).__name__}, not a function")
        return found

    def resolve_hooks(self) -> None:
        """Load every hook now, so a typo fails up front with one line naming the field: a property run does
        before its first case, `strategies.cases` when the strategy is built. The decorator calls no hook (it
        checks shapes and values only) and so loads none: loading them where a kernel module is decorated
        would import the reference and case strategies with every kernel import, and `implementation`, the
        kernel module itself, in the middle of its own import."""
        for field in HOOKS:
            if field != "implementation":
                self.resolve(field)

    def __post_init__(self) -> None:
        if not callable(self.signature):
            raise InvalidContract(
                self.name, "signature", f"must be a function stub, found {type(self.signature).__name__}"
            )
        sig = inspect.signature(self.signature)
        try:
            hints = typing.get_type_hints(self.signature, include_extras=True)  # resolves PEP 563 strings
        except Exception as exc:  # noqa: BLE001 - an unresolvable annotation is the contract's to fix
            raise InvalidContract(self.name, "signature", f"annotations cannot be resolved: {exc}") from None
        specs: dict[str, _dims.TensorSpec] = {}
        markers: dict[str, Marker] = {}
        differentiable: list[str] = []
        for name in sig.parameters:
            plain, marker = _split_markers(hints.get(name))
            if _differentiable(hints.get(name)):
                differentiable.append(name)
            try:
                spec = _dims.tensor_spec(plain)
            except (ValueError, SyntaxError) as exc:
                raise InvalidContract(self.name, name, f"annotation cannot be read: {exc}") from None
            if spec is not None:
                specs[name] = spec
            if marker is not None:
                if spec is None:
                    raise InvalidContract(self.name, name, f"{type(marker).__name__} marks tensor parameters only")
                markers[name] = marker
        try:
            returned = _outputs.returns(hints.get("return"), tuple(self.outputs), "return" not in hints)
        except (ValueError, SyntaxError) as exc:
            raise InvalidContract(
                self.name, "return" if not self.outputs or "outputs" not in str(exc) else "outputs", str(exc)
            ) from None
        plain = {n for spec in specs.values() for p in spec.patterns for n in p.names}
        object.__setattr__(self, "_sig", sig)
        object.__setattr__(self, "hints", hints)
        # What jaxtyping + beartype check at call time (the decorator's gate): the parameters' annotations,
        # minus the axes only shapecheck's binder can solve.
        object.__setattr__(
            self, "gate_hints", {k: _unsolved_to_anonymous(v, plain) for k, v in hints.items() if k != "return"}
        )
        object.__setattr__(self, "_specs", specs)
        object.__setattr__(self, "returns", returned)
        object.__setattr__(self, "markers", markers)
        object.__setattr__(self, "differentiable", tuple(differentiable))
        inplace = tuple(n for n, m in markers.items() if isinstance(m, InPlace) and n not in self.mutates)
        object.__setattr__(self, "mutates", (*self.mutates, *inplace))
        object.__setattr__(
            self,
            "scalar_dims",
            tuple(n for n in self.dim_names if n in self.scalars and int in self.scalars[n].classes),
        )
        self._validate_definition()

    def _validate_definition(self) -> None:
        """Every name a field uses must exist; every expression axis must be bindable; every result judgeable."""
        names, params = set(self.dim_names), set(self.parameters)
        outputs = [o.spec for o in self.returns.outputs]
        plain = {n for spec in (*self.tensor_specs.values(), *outputs) for p in spec.patterns for n in p.names}
        for arg, spec in [*self.tensor_specs.items(), *((o.name, o.spec) for o in self.returns.outputs)]:
            for pattern in spec.patterns:
                for axis in pattern.axes:
                    if isinstance(axis, str) and not axis.isidentifier():
                        unknown = sorted(set(_axes.names(axis)) - plain)
                        if len(unknown) > 1 or (unknown and arg not in self.tensor_specs):
                            raise InvalidContract(
                                self.name,
                                "return" if arg not in self.tensor_specs else arg,
                                f'axis "{axis}" has {len(unknown)} name{"s" if len(unknown) > 1 else ""} '
                                f"bound by no other axis ({', '.join(unknown)}): "
                                f"{'at most one can be solved for' if arg in self.tensor_specs else 'an output cannot bind it'}",
                            )
        for output in self.returns.outputs:
            if output.name in params:
                raise InvalidContract(
                    self.name, "outputs", f"{output.name!r} is also a parameter; results need names of their own"
                )
        if len({o.name for o in self.returns.outputs}) < len(self.returns.outputs):
            raise InvalidContract(self.name, "outputs", f"names must be distinct, found {list(self.outputs)}")
        int_scalars = {
            n for n, accepts in self.scalars.items() if int in accepts.classes and n not in self.tensor_specs
        }
        for dim_name, d in self.dims.items():
            if dim_name not in names and dim_name not in int_scalars:
                raise InvalidContract(
                    self.name,
                    "dims",
                    f"{dim_name!r} appears in no annotation and is no int parameter "
                    f"(dimensions: {', '.join(self.dim_names) or 'none'})",
                )
            if (problem := d.problem()) is not None:
                raise InvalidContract(self.name, f"dims[{dim_name!r}]", problem)
        for rule in self.rules:
            unknown = [n for n in rule.names if n not in names | params]
            if unknown:
                raise InvalidContract(
                    self.name,
                    "rules",
                    f"rule `{rule.expr}` names {unknown[0]!r}, which is neither a dimension nor a parameter",
                )
        for field, values in (("mutates", self.mutates), ("finite", self.finite)):
            for value in values:
                if value not in self.tensor_specs:
                    raise InvalidContract(self.name, field, f"{value!r} is not an annotated tensor parameter")
        for value in self.mutates:
            if self.reference is None:
                raise InvalidContract(
                    self.name,
                    value,
                    "is updated in place, but the contract has no `reference` to "
                    "judge its new rows against; give one (it may update its own copies in place)",
                )
        likes = self.output_dtype_like if isinstance(self.output_dtype_like, Mapping) else {}
        for result, like in [
            *likes.items(),
            *([(None, self.output_dtype_like)] if isinstance(self.output_dtype_like, str) else []),
        ]:
            if like not in self.tensor_specs:
                raise InvalidContract(self.name, "output_dtype_like", f"{like!r} is not an annotated tensor parameter")
            if result is not None and result not in {o.name for o in self.returns.outputs}:
                raise InvalidContract(
                    self.name,
                    "output_dtype_like",
                    f"{result!r} is not a result (results: "
                    f"{', '.join(o.name for o in self.returns.outputs) or 'none'})",
                )
        judged = {o.name for o in self.returns.outputs} | set(self.mutates)
        for result, fn in self.compare.items():
            if result not in judged:
                raise InvalidContract(
                    self.name,
                    "compare",
                    f"{result!r} is neither a result nor an in-place argument "
                    f"(results: {', '.join(sorted(judged)) or 'none'})",
                )
            if not callable(fn):
                raise InvalidContract(
                    self.name,
                    f"compare[{result!r}]",
                    f"must be a function (found, expected, results), found {type(fn).__name__}",
                )
            source = getattr(fn, "source", None)
            if source is not None and source not in self.tensor_specs:
                raise InvalidContract(
                    self.name, f"compare[{result!r}]", f"{source!r} is not an annotated tensor parameter"
                )
        for scalar, strategy in self.draw.items():
            if scalar not in params or scalar in self.tensor_specs:
                raise InvalidContract(self.name, "draw", f"{scalar!r} is not a scalar parameter")
            if not isinstance(strategy, SearchStrategy):
                raise InvalidContract(
                    self.name, f"draw[{scalar!r}]", f"must be a Hypothesis strategy, found {type(strategy).__name__}"
                )
        for arg in self.differentiable:
            declared = self.tensor_specs.get(arg)
            floats = declared is not None and any(
                d.startswith(("float", "bfloat")) for p in declared.patterns for d in p.dtypes
            )
            why = (
                "marks tensor parameters only"
                if declared is None
                else "marks float tensors only (an integer input has no gradient)"
                if not floats
                else "cannot mark an in-place argument (the call overwrites it; its gradient is undefined)"
                if arg in self.mutates
                else f"cannot mark an {type(self.markers[arg]).__name__}-marked tensor (integer values have no gradient)"
                if arg in self.markers
                else None
            )
            if why is not None:
                raise InvalidContract(self.name, arg, f"Differentiable() {why}")
        for arg, marker in self.markers.items():
            into = getattr(marker, "into", None)
            if into is not None and into not in names:
                raise InvalidContract(self.name, arg, f"{type(marker).__name__}({into!r}): {into!r} is not a dimension")
        for field in HOOKS:
            target = getattr(self, field)
            if target is not None and not callable(target) and not _is_hook_text(target):
                raise InvalidContract(
                    self.name, field, f'must be a function or "module.path:function", found {target!r}'
                )

    def like(self, output: _outputs.Output) -> Optional[str]:
        """The argument whose dtype `output` must have (`output_dtype_like`), or None. A plain name applies to
        every output whose declared dtypes admit that argument's (the floating ones, typically)."""
        if isinstance(self.output_dtype_like, Mapping):
            return self.output_dtype_like.get(output.name)
        if self.output_dtype_like is None:
            return None
        allowed = {d for p in self.tensor_specs[self.output_dtype_like].patterns for d in p.dtypes}
        return self.output_dtype_like if allowed & {d for p in output.spec.patterns for d in p.dtypes} else None

    @property
    def carried(self) -> tuple[str, ...]:
        """The results that carry a cotangent in a backward case: every float output (an Optional one when
        present)."""
        return tuple(
            o.name
            for o in self.returns.outputs
            if any(d.startswith(("float", "bfloat")) for p in o.spec.patterns for d in p.dtypes)
        )

    @property
    def qualname(self) -> str:
        """`module:name`, the identity runs and replay lines use: short names of two packages may collide."""
        return f"{self.signature.__module__}:{self.name}"

    @property
    def dim_names(self) -> tuple[str, ...]:
        """Every dimension name the annotations use (plain axes and names inside expressions), in order."""
        seen: dict[str, None] = {}
        for spec in (*self.tensor_specs.values(), *(o.spec for o in self.returns.outputs)):
            for pattern in spec.patterns:
                for axis in pattern.axes:
                    if isinstance(axis, str) and axis != "_":
                        seen.update(dict.fromkeys(_axes.names(axis)))
        return tuple(seen)

    @property
    def drawn_dims(self) -> tuple[str, ...]:
        """The dimensions a case draws: those the arguments' annotations name, and int parameters named like a
        dimension; a name only results use is bound by the results themselves."""
        named = {
            n
            for spec in self.tensor_specs.values()
            for p in spec.patterns
            for a in p.axes
            if isinstance(a, str)
            for n in _axes.names(a)
        }
        return tuple(n for n in self.dim_names if n in named or n in self.scalar_dims)

    @property
    def free_strides(self) -> tuple[str, ...]:
        """Tensors whose strides (but the last) the contract leaves free (`unit_stride_last`): generic cases
        pass them as views with a row stride of their own, as views of a packed projection would be."""
        return tuple(n for check in self.checks for n in getattr(check, "free_strides", ()))

    @property
    def free_layouts(self) -> tuple[str, ...]:
        """Tensors no check's layout names (`unit_stride_last`, `contiguous`): the contract takes them in any
        layout, so generic cases pass them as spaced views (every other element of the last axis) too."""
        declared = {n for check in self.checks for n in getattr(check, "layout_of", ())}
        return tuple(n for n, spec in self.tensor_specs.items() if n not in declared and spec.patterns[0].axes)

    def dim(self, name: str) -> Dim:
        """The declared range of a dimension, or the default one."""
        return self.dims.get(name, Dim())

    @property
    def parameters(self) -> Mapping[str, inspect.Parameter]:
        return self._sig.parameters

    @property
    def tensor_specs(self) -> Mapping[str, _dims.TensorSpec]:
        """Annotated tensor parameters in declaration order."""
        return self._specs

    def _marked_values(self, call: Call) -> None:
        """Offsets, indices and finiteness, read in ONE device-to-host transfer.

        Each read of device memory is a synchronisation, so every value check of a call shares one: the
        marked integer tensors, plus max |x| of each `finite` tensor (NaN and inf propagate into it; one
        fused launch per dtype). Large in-place tensors are not scanned: that would read the whole state,
        doubling the kernel's own memory traffic.
        """
        args = call.arguments
        marked = [
            (n, m)
            for n, m in self.markers.items()
            if isinstance(m, (Offsets, Index)) and isinstance(args.get(n), torch.Tensor)
        ]
        finite = [n for n in self.finite if isinstance(args.get(n), torch.Tensor) and args[n].numel() > 0]
        parts = (
            list(torch._foreach_norm([args[n] for n in finite], float("inf"), dtype=torch.float64)) if finite else []
        )
        parts += [args[n].flatten().double() for n, _ in marked]
        if not parts:
            return
        host = torch.cat([p.reshape(-1) for p in parts]).tolist()  # float64: exact for ints < 2**53
        peaks, at = host[: len(finite)], len(finite)
        for name, marker in marked:
            size = args[name].numel()
            marker.check(call, name, [int(x) for x in host[at : at + size]])
            at += size
        for name, peak in zip(finite, peaks):
            if not math.isfinite(peak):
                raise call.fail(name, "contains NaN or inf", expected="finite values", found=f"max |x| = {peak}")

    def arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments by name, defaults applied; a wrong call signature is a ContractViolation too."""
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise ContractViolation(self.name, "(call)", str(exc)) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def validate(self, arguments: dict[str, Any], values: bool = True) -> Call:
        """Check shapes, dtypes, devices, scalars, rules, checks and (if `values`) value checks; return the call or raise.

        Plain Python on sizes, types and devices: under `torch.compile` dynamo traces it into guards (only
        `values=True` reads device memory).
        """
        call = Call(self.name, arguments, {})
        matched = self._bind_shapes(call)
        empty = [
            (name, size, origin)
            for name, (size, origin) in call.bindings.items()
            if size == 0 and self.dim(name).lo > 0
        ]
        if empty:
            name, _, origin = empty[0]
            call.stop_if_traced()
            raise call.fail(
                origin.split(".")[0],
                "empty tensor: every dimension must be >= 1",
                dimension=name,
                expected=f">= 1 (declare Dim(lo=0) if {name} may be 0)",
                found=f"{name}=0 ({origin})",
            )
        self._check_scalars(call)
        self._bind_scalars(call)
        self._check_expressions(call, matched)
        self._check_devices(call)
        namespace = {**arguments, **call.dims}  # dims win over same-named arguments
        for rule in self.rules:
            held = rule.holds(namespace)
            if held is not None and not held:  # not `is False`: dynamo guards on `not`, not on identity
                call.stop_if_traced()
                argument, dimension = rule.blame
                found = ", ".join(f"{n}={namespace[n]!r}" for n in rule.names)
                raise call.fail(
                    argument,
                    f"rule `{rule.expr}` does not hold" + (f" ({rule.why})" if rule.why else ""),
                    dimension=dimension,
                    expected=rule.expr,
                    found=found,
                )
        for check in self.checks:
            check(call)
        if values:
            self._marked_values(call)
            for check in self.value_checks:
                check(call)
        return call

    def _bind_shapes(self, call: Call) -> dict[str, _dims.Pattern]:
        """Bind plain names argument by argument, then names only a linear axis determines (`N+1`)."""
        matched: dict[str, _dims.Pattern] = {}
        for name, spec in self.tensor_specs.items():
            value = call.arguments.get(name)
            if value is None:
                if spec.optional:
                    continue
                call.stop_if_traced()
                raise call.fail(name, "is required", expected=spec.describe(), found=None)
            if not isinstance(value, torch.Tensor):
                call.stop_if_traced()
                raise call.fail(
                    name,
                    "must be a torch.Tensor",
                    expected=spec.describe(),
                    found=type(value).__name__,
                    error=DtypeViolation,
                )
            if value.is_nested or value.layout != torch.strided:  # a nested tensor has no sizes to read
                call.stop_if_traced()
                raise call.fail(
                    name,
                    "must be a strided tensor",
                    expected=spec.describe(),
                    found=f"a {'nested' if value.is_nested else str(value.layout).removeprefix('torch.')} tensor",
                    error=DtypeViolation,
                )
            pattern = _dims.match(spec, value, name, call.bindings)
            if pattern is None:
                pattern, axis, dim = _dims.first_clash(spec, value, name, call.bindings)
                if axis is None:
                    call.stop_if_traced()
                    raise call.fail(name, dim, expected=f'"{pattern.text}"', found=list(value.shape))
                known = call.bindings.get(dim)
                expected = f"{dim}={known[0]} (bound by {known[1]})" if known else f"{dim}"
                call.stop_if_traced()
                raise call.fail(
                    name,
                    f'axis {axis} of "{pattern.text}" does not match',
                    dimension=dim,
                    expected=expected,
                    found=f"{value.shape[axis]} in shape {list(value.shape)}",
                )
            if _dims.dtype_name(value) not in pattern.dtypes:
                call.stop_if_traced()
                raise call.fail(
                    name,
                    f'wrong dtype for {pattern.dtype_kind}[Tensor, "{pattern.text}"]',
                    expected=pattern.dtype_kind,
                    found=_dims.dtype_name(value),
                    error=DtypeViolation,
                )
            matched[name] = pattern
        for name, pattern in matched.items():
            unsolvable = _dims.solve(pattern, call.arguments[name], name, call.bindings)
            if unsolvable:
                axis, expr, why = unsolvable
                raise _axis_mismatch(
                    call, name, pattern, axis, expr, f"{expr}: {why}", call.arguments[name].shape[axis]
                )
        return matched

    def _check_expressions(self, call: Call, matched: Mapping[str, _dims.Pattern]) -> None:
        dims = call.dims
        for name, pattern in matched.items():
            try:
                clash = _dims.check_expressions(pattern, call.arguments[name], dims)
            except NameError as exc:
                call.stop_if_traced()
                raise call.fail(name, f'cannot evaluate "{pattern.text}": {exc}') from None
            if clash:
                axis, expr, expected, found = clash
                raise _axis_mismatch(call, name, pattern, axis, expr, f"{expr} = {expected}", found)

    def _check_devices(self, call: Call) -> None:
        devices = {
            n: call.arguments[n].device for n in self.tensor_specs if isinstance(call.arguments.get(n), torch.Tensor)
        }
        if len(set(devices.values())) > 1:
            first = next(iter(devices))
            for name, device in devices.items():
                if device != devices[first]:
                    call.stop_if_traced()
                    raise call.fail(
                        name,
                        "all tensors must be on one device",
                        expected=f"{devices[first]} (like `{first}`)",
                        found=str(device),
                        error=DtypeViolation,
                    )

    def _check_scalars(self, call: Call) -> None:
        """Non-tensor arguments against their plain annotations (an int passes where float is declared)."""
        for name, accepts in self.scalars.items():
            value = call.arguments.get(name)
            if not accepts.admits(value):
                call.stop_if_traced()
                raise call.fail(
                    name,
                    f"must be {accepts.text}",
                    expected=accepts.text,
                    found=f"{value!r} ({type(value).__name__})",
                    error=DtypeViolation,
                )

    def _bind_scalars(self, call: Call) -> None:
        """An int parameter named like a dimension binds it (`topk` sizes the `"T topk"` result), or must agree
        with the size the tensors bound."""
        for name in self.scalar_dims:
            value, known = call.arguments.get(name), call.bindings.get(name)
            if value is None:
                continue
            if value < 0 or (value == 0 and self.dim(name).lo > 0):
                call.stop_if_traced()
                raise call.fail(
                    name,
                    "is a dimension's size",
                    dimension=name,
                    expected=f">= {max(self.dim(name).lo, 0)}"
                    f"{' (declare Dim(lo=0) if it may be 0)' if value == 0 else ''}",
                    found=value,
                )
            if known is None:
                call.bindings[name] = (value, f"argument {name}")
            elif known[0] != value:
                call.stop_if_traced()
                raise call.fail(
                    name,
                    f"must equal dimension {name}",
                    dimension=name,
                    expected=f"{name}={known[0]} (bound by {known[1]})",
                    found=value,
                )

    @functools.cached_property
    def scalars(self) -> dict[str, _scalars.Scalar]:
        """The scalar parameters' checks (computed on first use; the decorator warms it before any trace)."""
        found = {
            name: _scalars.scalar(self.hints[name])
            for name in self.parameters
            if name in self.hints and name not in self.tensor_specs
        }
        return {name: accepts for name, accepts in found.items() if accepts is not None}

    def check_output(self, call: Call, out: Any) -> None:
        """Every returned element must have its declared shape under the call's dims, a declared dtype and the
        arguments' device (`harness.check` without device reads); raises the first problem."""
        problems = harness.check(self, call.dims, call.arguments, out, values=False)
        if problems:
            raise problems[0].violation(call)


def _axis_mismatch(
    call: Call, name: str, pattern: _dims.Pattern, axis: int, expr: str, expected: str, found: object
) -> ContractViolation:
    """The refusal of an axis that does not match its pattern, naming the dimension, expected and found."""
    call.stop_if_traced()
    return call.fail(
        name,
        f'axis {axis} of "{pattern.text}" does not match',
        dimension=expr,
        expected=expected,
        found=f"{found} in shape {list(call.arguments[name].shape)}",
    )


def _is_hook_text(target: object) -> bool:
    module, sep, attr = str(target).partition(":")
    return (
        isinstance(target, str)
        and bool(sep)
        and attr.isidentifier()
        and all(p.isidentifier() for p in module.split("."))
    )


def same_dtype(*names: str) -> Check:
    """Check that the named tensors share one dtype (the kernel computes in one input precision)."""

    def check(call: Call) -> None:
        present = [n for n in names if isinstance(call.arguments.get(n), torch.Tensor)]
        for name in present[1:]:
            if call.arguments[name].dtype != call.arguments[present[0]].dtype:
                call.stop_if_traced()
                raise call.fail(
                    name,
                    f"must have the dtype of `{present[0]}`",
                    expected=_dims.dtype_name(call.arguments[present[0]]),
                    found=_dims.dtype_name(call.arguments[name]),
                    error=DtypeViolation,
                )

    check.__doc__ = f"same dtype: {', '.join(names)}"
    check.same_dtype = names  # type: ignore[attr-defined]  # so generic cases draw one dtype for them
    return check


def unit_stride_last(*names: str) -> Check:
    """Check that the named tensors have a contiguous last axis (other strides may be anything)."""

    def check(call: Call) -> None:
        for name in names:
            value = call.arguments.get(name)
            if isinstance(value, torch.Tensor) and value.numel() > 0 and value.stride(-1) != 1 and value.shape[-1] > 1:
                call.stop_if_traced()
                raise call.fail(
                    name,
                    "last axis must be contiguous",
                    dimension=f"axis {value.dim() - 1}",
                    expected="stride 1",
                    found=f"strides {list(value.stride())}",
                )

    check.__doc__ = f"contiguous last axis: {', '.join(names)}"
    check.free_strides = names  # type: ignore[attr-defined]  # so generic cases draw strided views of them
    check.layout_of = names  # type: ignore[attr-defined]  # ... and no spaced ones
    return check


def contiguous(*names: str) -> Check:
    """Check that the named tensors are contiguous: for a kernel that addresses them packed (no strides passed).

    Without a layout check a contract takes a tensor in any layout, and generic cases draw spaced views of it."""

    def check(call: Call) -> None:
        for name in names:
            value = call.arguments.get(name)
            if isinstance(value, torch.Tensor) and not value.is_contiguous():
                call.stop_if_traced()
                raise call.fail(
                    name,
                    "must be contiguous",
                    expected=f"strides {list(torch.empty(value.shape, device='meta').stride())}",
                    found=f"strides {list(value.stride())}",
                )

    check.__doc__ = f"contiguous: {', '.join(names)}"
    check.layout_of = names  # type: ignore[attr-defined]  # so generic cases draw no views of them
    return check
