"""`@contract(C)`: check every call of a kernel against its contract before the kernel runs.

Two layers: jaxtyping + beartype check the annotations (tensor shapes and dtypes, and the plain types of
scalar arguments, with PEP 484's numeric tower: `scale=1` is a float), then the contract adds the rules
and checks annotations cannot say. When the annotations fail, the contract's own binder re-reads the call
to give one precise message (argument, dimension, expected, found, every bound dim). An axis expression
over a name no plain axis binds (`"N+1"` of the ragged signature) is the binder's alone: jaxtyping sees `_`.

Modes (argument `mode`, or else the `SHAPECHECK_MODE` environment variable, read when the decorator is applied,
not per call: set it before importing the kernels; tests/test_decorator_mode.py):
- "always": every call is fully checked, value checks included (default; tests and property runs);
- "shapes": every call is checked without reading device memory — no synchronisation, safe under CUDA
  graph capture; index ranges, cu_seqlens contents and NaN are not checked;
- "first": each distinct signature (shapes, strides, dtypes, devices, scalar arguments) is fully checked
  once and then trusted — for production loops, where a per-call device read would stall the stream;
- "off": no checks at all, the undecorated function is called.

Under `torch.compile` (dynamo tracing the call) jaxtyping and beartype are skipped — they see traced
values and refuse valid calls (jaxtyping #196, #384) — and the contract's own checks, plain Python on
sizes, dtypes and types, are traced instead: dynamo turns them into guards, so "first" and "shapes" add
no graph break. A call that breaks the contract fails its guards; retraced, the check raises a bare
`TracedViolation` (formatting symbolic sizes is not traceable), and the call is refused off the graph by
the eager check, with the eager message. Compiled "first" is "shapes": each compiled graph is already
specialised to the signatures its guards admit, and reading device memory once per signature would cost
a graph break on every call. "always" reads device memory, so under compile its checked call runs
eagerly behind `torch.compiler.disable`: one graph break, refused under `fullgraph=True` with a message
naming the modes to use. Device reads during CUDA-graph capture raise a clear error in "always"; "first"
skips them during capture and checks that signature fully on its next uncaptured call.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import types
from typing import Any, Callable, Optional, TypeVar

import torch
from beartype import BeartypeConf, beartype
from jaxtyping import TypeCheckError, jaxtyped
from torch import Tensor

from shapecheck import registry
from shapecheck.errors import ContractViolation
from shapecheck.spec import Call, Contract, TracedViolation

F = TypeVar("F", bound=Callable[..., Any])
MODES = ("always", "shapes", "first", "off")
CAPTURE_ERROR = "device reads cannot run during CUDA-graph capture; use mode='shapes' (or 'first') for captured calls"
FULLGRAPH_REASON = ("shapecheck mode='always' reads device memory on every call, so the checked call runs "
                    "outside the graph; under fullgraph=True use mode='shapes' or mode='first'")
REFUSED_REASON = ("shapecheck: this call breaks its contract; the check runs again eagerly to say how (under "
                  "fullgraph=True, make the same call uncompiled to read the message)")
_capturing: Callable[[], bool] = torch.cuda.is_current_stream_capturing if torch.backends.cuda.is_built() else (lambda: False)


def _argument_gate(c: Contract) -> Callable[..., None]:
    """The contract's signature stub, minus its return annotation, checked by jaxtyping + beartype.

    A copy of the stub (same code object and parameters, so beartype sees real parameter names) is
    called with the user's arguments before the kernel runs; the return is checked by the contract.
    """
    stub = c.signature
    gate = types.FunctionType(stub.__code__, stub.__globals__, stub.__name__, stub.__defaults__, stub.__closure__)
    gate.__kwdefaults__ = stub.__kwdefaults__
    gate.__annotations__ = dict(c.gate_hints)  # axes only shapecheck's binder can solve are `_` there
    return jaxtyped(typechecker=beartype(conf=BeartypeConf(is_pep484_tower=True)))(gate)


_PARAMETER = re.compile(r"parameter '(\w+)'.\nActual value: (.*)\nExpected type: (.*?)\.?\n")


def _refusal(c: Contract, arguments: dict[str, Any], values: bool, exc: TypeCheckError) -> ContractViolation:
    """The contract binder's message for a call the annotations rejected; else jaxtyping's, by parameter.

    The binder models shapes, dtypes and plain scalar types; an annotation it does not model (`list[int]`)
    is reported from beartype's report, still naming the real argument, expected type and found value.
    """
    try:
        c.validate(arguments, values)
    except ContractViolation as violation:
        return violation
    except Exception:  # noqa: BLE001 - ill-typed arguments may trip a check; jaxtyping's report stands
        pass
    found = _PARAMETER.search(str(exc))
    if found is None:
        return ContractViolation(c.name, "(call)", str(exc).split("\n----")[0])
    name, actual, expected = found.groups()
    return ContractViolation(c.name, name, "does not match its annotation", expected=expected, found=actual)


def _signature_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two calls the same for "first" mode: tensor shapes, dtypes and strides, other values.

    Kept to one list comprehension per argument kind because it runs on every call (~1-3 µs). Devices are
    not part of the key (reading `.device` costs as much as the rest). A tensor subclass keys by identity,
    so it is checked every call rather than trusted wrongly. Other values key with their type: `True == 1`,
    but a bool where a float is declared is refused, so it must not ride on a checked `1.0`.
    """
    return (*[(x.shape, x.dtype, x.stride()) if type(x) is Tensor else (type(x), x) for x in args],
            *[(k, (x.shape, x.dtype, x.stride()) if type(x) is Tensor else (type(x), x)) for k, x in kwargs.items()])


def contract(c: Contract, *, mode: Optional[str] = None) -> Callable[[F], F]:
    """Decorate a kernel wrapper so each call is checked against contract `c` before it runs.

    The wrapper's parameter names must be the contract's. The undecorated function stays reachable as
    `__wrapped__` (for benchmarks), and the contract as `__contract__`.
    """
    chosen = mode or os.environ.get("SHAPECHECK_MODE", "always")
    if chosen not in MODES:
        raise ValueError(f"shapecheck: mode must be one of {MODES}, found {chosen!r}")
    registry.register(c)
    gate = _argument_gate(c)

    def decorate(fn: F) -> F:
        names = list(inspect.signature(fn).parameters)
        if names != list(c.parameters):
            raise ValueError(f"shapecheck: {fn.__qualname__} has parameters {names}, contract {c.name} declares {list(c.parameters)}")
        if chosen == "off":
            fn.__contract__ = c  # type: ignore[attr-defined]  # a function attribute the CLI reads
            return fn
        seen: set[tuple[Any, ...]] = set()
        c.scalars  # computed now, not inside a trace  # noqa: B018

        @torch.compiler.disable(reason=REFUSED_REASON)
        def check(args: tuple[Any, ...], kwargs: dict[str, Any], values: bool) -> Call:
            """The eager check: annotation gate, then the contract. Never traced — not even as a frame of its
            own when a compiled model falls back to eager — so it always raises the full message."""
            arguments = c.arguments(args, kwargs)
            try:
                gate(*args, **kwargs)
            except TypeCheckError as exc:
                raise _refusal(c, arguments, values, exc) from None
            return c.validate(arguments, values=values)

        @torch.compiler.disable(reason=REFUSED_REASON)
        def check_output(args: tuple[Any, ...], kwargs: dict[str, Any], call: Optional[Call], out: Any) -> None:
            c.check_output(call or c.validate(c.arguments(args, kwargs), values=False), out)

        def eager(*args: Any, **kwargs: Any) -> Any:
            key = None
            if chosen == "first":
                key = _signature_key(args, kwargs)
                try:
                    if key in seen:
                        return fn(*args, **kwargs)
                except TypeError:  # an unhashable argument (a list, say): check this call fully
                    key = None
            capturing = chosen != "shapes" and _capturing()
            if chosen == "always" and capturing:
                raise RuntimeError(f"shapecheck: {c.name} (mode='always'): {CAPTURE_ERROR}")
            values = chosen == "always" or (chosen == "first" and not capturing)  # "first" reads next time
            call = check(args, kwargs, values)
            out = fn(*args, **kwargs)
            check_output(args, kwargs, call, out)
            if key is not None and values:
                seen.add(key)
            return out

        outside_graph = torch.compiler.disable(eager, reason=FULLGRAPH_REASON)
        refused = torch.compiler.disable(eager, reason=REFUSED_REASON)

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not torch.compiler.is_compiling():
                return eager(*args, **kwargs)
            if chosen == "always":  # device reads: the checked call runs eagerly, one graph break
                return outside_graph(*args, **kwargs)
            # Traced: dynamo turns these checks into guards. A call that fails them is refused off the graph,
            # by the eager check (the graph break sits outside the `try`, where dynamo can resume).
            call: Optional[Call] = None
            try:
                call = c.validate(c.arguments(args, kwargs), values=False)
            except TracedViolation:
                pass
            if call is None:
                return refused(*args, **kwargs)
            out = fn(*args, **kwargs)
            output_ok = True
            try:
                c.check_output(call, out)
            except TracedViolation:
                output_ok = False
            if not output_ok:
                check_output(args, kwargs, None, out)
            return out

        checked.__contract__ = c  # type: ignore[attr-defined]  # a function attribute the CLI reads
        return checked  # type: ignore[return-value]  # same signature as fn (functools.wraps)

    return decorate
