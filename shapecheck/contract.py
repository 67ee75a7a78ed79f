"""The contract model: a jaxtyping-annotated signature plus the rules annotations cannot say.

A contract is a plain value. The runtime decorator checks calls against it, the property engine draws
cases from it, and the static analyser seeds shapes from its annotations. A user writes one in a few
lines::

    MY_OP = Contract(
        name="my_op",
        signature=my_op_signature,          # a stub whose parameters carry jaxtyping annotations
        rules=[Rule("HV % H == 0", blame=("v", "HV"), why="grouped heads")],
    )
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from typing import Any, Callable, Mapping, Optional, Sequence

import torch

from shapecheck import dims as _dims
from shapecheck.errors import ContractViolation, DtypeViolation


@dataclasses.dataclass(frozen=True)
class Dim:
    """What a dimension means and the range the property engine draws it from (per profile)."""

    meaning: str = ""
    lo: int = 1
    hi: int = 8  # CPU/CI profile upper bound; profiles may scale it
    gpu_hi: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Rule:
    """A cross-dimension rule: a Python expression over dimension names and non-tensor arguments.

    `blame` names the (argument, dimension) the error message points at. A rule whose names are not all
    bound (an absent optional argument, the other branch of a Union) does not apply to that call.
    """

    expr: str
    blame: tuple[str, str]
    why: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_code", compile(self.expr, f"<rule {self.expr}>", "eval"))

    @property
    def names(self) -> tuple[str, ...]:
        return self._code.co_names  # type: ignore[attr-defined]

    def holds(self, namespace: Mapping[str, Any]) -> Optional[bool]:
        """True/False, or None when the rule does not apply (an unbound name)."""
        if any(name not in namespace for name in self.names):
            return None
        return bool(eval(self._code, {}, namespace))  # type: ignore[attr-defined]


@dataclasses.dataclass
class Call:
    """One call being checked: its arguments by name and the dimensions bound from them."""

    function: str
    arguments: dict[str, Any]
    bindings: _dims.Bindings

    @property
    def dims(self) -> dict[str, int]:
        return {name: size for name, (size, _) in self.bindings.items()}

    def fail(self, argument: str, problem: str, *, dimension: Optional[str] = None, expected: object = None,
             found: object = None, error: type[ContractViolation] = ContractViolation) -> ContractViolation:
        """Build the exception (the caller raises it) with this call's bindings attached."""
        return error(self.function, argument, problem, dimension=dimension, expected=expected, found=found,
                     bindings=self.bindings)


Check = Callable[[Call], None]
"""A contract-specific check on values or layout; raises `call.fail(...)`."""


@dataclasses.dataclass(frozen=True)
class Contract:
    """A kernel's shape contract: annotated signature, dimension meanings, rules and checks.

    `reference` and `implementation` are `"module:function"` strings, resolved lazily so contracts can be
    imported by the kernels they describe without a cycle. `mutates` names arguments updated in place.
    """

    name: str
    signature: Callable[..., Any]
    dims: Mapping[str, Dim] = dataclasses.field(default_factory=dict)
    rules: Sequence[Rule] = ()
    checks: Sequence[Check] = ()
    value_checks: Sequence[Check] = ()  # read device memory (a sync per call): skipped in "shapes" mode
    reference: Optional[str] = None
    implementation: Optional[str] = None
    mutates: Sequence[str] = ()
    output_dtype_like: Optional[str] = None  # the output's dtype must equal this argument's
    cases: Optional[str] = None  # "module:fn(profile, overrides) -> SearchStrategy[Case]"
    examples: Optional[str] = None  # "module:fn(profile) -> list[Case]": regime cases every property run adds
    inputs: Optional[str] = None  # "module:fn(case, device) -> arguments by name"
    regimes: Optional[str] = None  # "module:fn(case) -> set of regime names" (coverage table)
    description: str = ""

    def resolve(self, field: str) -> Optional[Callable[..., Any]]:
        """Import the `"module:function"` named by a field, or None if the field is unset."""
        target = getattr(self, field)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def __post_init__(self) -> None:
        sig = inspect.signature(self.signature)
        hints = typing.get_type_hints(self.signature, include_extras=True)  # resolves PEP 563 strings
        specs = {name: _dims.tensor_spec(hints.get(name)) for name in sig.parameters}
        object.__setattr__(self, "_sig", sig)
        object.__setattr__(self, "hints", hints)
        object.__setattr__(self, "_specs", {n: s for n, s in specs.items() if s is not None})
        object.__setattr__(self, "_output", _dims.tensor_spec(hints.get("return")))

    @property
    def parameters(self) -> Mapping[str, inspect.Parameter]:
        return self._sig.parameters  # type: ignore[attr-defined]

    @property
    def tensor_specs(self) -> Mapping[str, _dims.TensorSpec]:
        """Annotated tensor parameters in declaration order."""
        return self._specs  # type: ignore[attr-defined]

    @property
    def output(self) -> Optional[_dims.TensorSpec]:
        return self._output  # type: ignore[attr-defined]

    def arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments by name, defaults applied; a wrong call signature is a ContractViolation too."""
        try:
            bound = self._sig.bind(*args, **kwargs)  # type: ignore[attr-defined]
        except TypeError as exc:
            raise ContractViolation(self.name, "(call)", str(exc)) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def validate(self, arguments: dict[str, Any], values: bool = True) -> Call:
        """Check shapes, dtypes, devices, rules, checks and (if `values`) value checks; return the call or raise."""
        call = Call(self.name, arguments, {})
        matched = self._bind_shapes(call)
        empty = [(name, size, origin) for name, (size, origin) in call.bindings.items() if size == 0]
        if empty:
            name, size, origin = empty[0]
            raise call.fail(origin.split(".")[0], "empty tensor: every dimension must be >= 1", dimension=name,
                            expected=">= 1", found=f"{name}=0 ({origin})")
        self._check_expressions(call, matched)
        self._check_devices(call)
        namespace = {**arguments, **call.dims}  # dims win over same-named arguments
        for rule in self.rules:
            if rule.holds(namespace) is False:
                argument, dimension = rule.blame
                found = ", ".join(f"{n}={namespace[n]!r}" for n in rule.names)
                raise call.fail(argument, f"rule `{rule.expr}` does not hold" + (f" ({rule.why})" if rule.why else ""),
                                dimension=dimension, expected=rule.expr, found=found)
        for check in (*self.checks, *(self.value_checks if values else ())):
            check(call)
        return call

    def _bind_shapes(self, call: Call) -> dict[str, _dims.Pattern]:
        matched: dict[str, _dims.Pattern] = {}
        for name, spec in self.tensor_specs.items():
            value = call.arguments.get(name)
            if value is None:
                if spec.optional:
                    continue
                raise call.fail(name, "is required", expected=spec.describe(), found=None)
            if not isinstance(value, torch.Tensor):
                raise call.fail(name, "must be a torch.Tensor", expected=spec.describe(), found=type(value).__name__,
                                error=DtypeViolation)
            pattern = _dims.match(spec, value, name, call.bindings)
            if pattern is None:
                pattern, axis, dim = _dims.first_clash(spec, value, name, call.bindings)
                if axis is None:
                    raise call.fail(name, dim, expected=f'"{pattern.text}"', found=list(value.shape))
                known = call.bindings.get(dim)
                expected = f"{dim}={known[0]} (bound by {known[1]})" if known else f"{dim}"
                raise call.fail(name, f'axis {axis} of "{pattern.text}" does not match', dimension=dim,
                                expected=expected, found=f"{value.shape[axis]} in shape {list(value.shape)}")
            if _dims.dtype_name(value) not in pattern.dtypes:
                raise call.fail(name, f"wrong dtype for {pattern.dtype_kind}[Tensor, \"{pattern.text}\"]",
                                expected=pattern.dtype_kind, found=_dims.dtype_name(value), error=DtypeViolation)
            matched[name] = pattern
        return matched

    def _check_expressions(self, call: Call, matched: Mapping[str, _dims.Pattern]) -> None:
        dims = call.dims
        for name, pattern in matched.items():
            try:
                clash = _dims.check_expressions(pattern, call.arguments[name], dims)
            except NameError as exc:
                raise call.fail(name, f'cannot evaluate "{pattern.text}": {exc}') from None
            if clash:
                axis, expr, expected, found = clash
                raise call.fail(name, f'axis {axis} of "{pattern.text}" does not match', dimension=expr,
                                expected=f"{expr} = {expected}", found=f"{found} in shape {list(call.arguments[name].shape)}")

    def _check_devices(self, call: Call) -> None:
        devices = {n: call.arguments[n].device for n in self.tensor_specs if isinstance(call.arguments.get(n), torch.Tensor)}
        if len(set(devices.values())) > 1:
            first = next(iter(devices))
            for name, device in devices.items():
                if device != devices[first]:
                    raise call.fail(name, "all tensors must be on one device", expected=f"{devices[first]} (like `{first}`)",
                                    found=str(device), error=DtypeViolation)

    def output_shape(self, dims: Mapping[str, int]) -> tuple[int, ...]:
        """The declared output shape evaluated under `dims` (first pattern of the return annotation)."""
        if self.output is None:
            raise ValueError(f"contract {self.name} declares no tensor output")
        return self.output.patterns[0].evaluate(dims)

    def check_output(self, call: Call, out: Any) -> None:
        """The returned tensor must have the declared shape under the call's dims and a declared dtype."""
        if self.output is None:
            return
        pattern = self.output.patterns[0]
        expected = pattern.evaluate(call.dims)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise call.fail("(return)", f'output does not match "{pattern.text}"', expected=list(expected), found=shape)
        like = call.arguments.get(self.output_dtype_like) if self.output_dtype_like else None
        expected_dtype = _dims.dtype_name(like) if isinstance(like, torch.Tensor) else None
        if _dims.dtype_name(out) not in pattern.dtypes or expected_dtype not in (None, _dims.dtype_name(out)):
            raise call.fail("(return)", "wrong output dtype" + (f" (must be `{self.output_dtype_like}`'s)" if like is not None else ""),
                            expected=expected_dtype or pattern.dtype_kind, found=_dims.dtype_name(out), error=DtypeViolation)


def same_dtype(*names: str) -> Check:
    """Check that the named tensors share one dtype (the kernel computes in one input precision)."""

    def check(call: Call) -> None:
        present = [n for n in names if isinstance(call.arguments.get(n), torch.Tensor)]
        for name in present[1:]:
            if call.arguments[name].dtype != call.arguments[present[0]].dtype:
                raise call.fail(name, f"must have the dtype of `{present[0]}`", expected=_dims.dtype_name(call.arguments[present[0]]),
                                found=_dims.dtype_name(call.arguments[name]), error=DtypeViolation)

    check.__doc__ = f"same dtype: {', '.join(names)}"
    return check


def unit_stride_last(*names: str) -> Check:
    """Check that the named tensors have a contiguous last axis (other strides may be anything)."""

    def check(call: Call) -> None:
        for name in names:
            value = call.arguments.get(name)
            if isinstance(value, torch.Tensor) and value.numel() > 0 and value.stride(-1) != 1 and value.shape[-1] > 1:
                raise call.fail(name, "last axis must be contiguous", dimension=f"axis {value.dim() - 1}",
                                expected="stride 1", found=f"strides {list(value.stride())}")

    check.__doc__ = f"contiguous last axis: {', '.join(names)}"
    return check
