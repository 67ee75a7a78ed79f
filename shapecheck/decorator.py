"""`@contract(C)`: check every call of a kernel against its contract before the kernel runs.

Two layers: the contract's own checks (binder, scalar types under PEP 484's numeric tower: `scale=1` is a
float; rules; layout checks), and, where an annotation says more than they model (`list[int]`'s items, a
beartype validator), jaxtyping + beartype on the annotations. When the annotations fail, the contract's binder
re-reads the call to give one precise message (argument, dimension, expected, found, every bound dim). An
axis expression over a name no plain axis binds (`"N+1"` of the ragged signature) is the binder's alone.

Modes (argument `mode`, or else the `SHAPECHECK_MODE` environment variable, read when the decorator is applied,
not per call: set it before importing the kernels; tests/test_decorator_mode.py):
- "always": every call is fully checked, value checks included (default; tests and property runs);
- "shapes": every call is checked without reading device memory — no synchronisation, safe under CUDA
  graph capture; index ranges, cu_seqlens contents and NaN are not checked;
- "first": each distinct signature (shapes, strides, dtypes, devices, scalar arguments) is fully checked
  once and then trusted — for production loops, where a per-call device read would stall the stream;
- "off": no checks at all, the undecorated function is called.

"shapes" and "first" decide whether a call's signature was checked before with one C++ call made for the
last signature matched (`shapecheck.guards`): argument counts, keywords, scalars and every tensor's metadata
(`shapecheck.native`: a check built once per torch version; else a generated expression around dynamo's
TensorGuards). That is the least a hit can do: C++ compares a tensor for less than Python pays to read one of
its attributes, so no key is built, hashed or bound to parameter names.
Everything "shapes" checks is a function of the signature, so a repeated signature gets the verdict it got,
and its output is checked again only when its metadata differs from the output checked with it.

Under `torch.compile` "shapes" and "first" are decided once per graph, at trace time. Dynamo never traces the
eager wrapper: `torch.compiler.substitute_in_graph` has it inline the compiled path in its place, so an eager
hit asks nothing about compiling (bench/results/overhead_anatomy_*.md: what asking cost); only a miss asks,
for non-strict export, which runs the wrapper itself on fake tensors that never match a remembered signature.
The traced code hands
the arguments to the custom op `shapecheck::refuse`, whose fake implementation runs the contract's checks
on the traced values and answers with the static size of its output (`shapecheck.compiled` says why this
and not traced checks: those left 284 guards per call where the undecorated model has 13). A valid call
compiles to the undecorated model's graph plus a handful of guards; a call that breaks the contract is
refused off the graph by the eager check, with the eager message, under every backend and `dynamic`
setting (with `fullgraph=True` the error says to make the same call uncompiled to read it). Compiled "first"
is "shapes": reading device memory once per signature would cost a graph break on every call. "always"
reads device memory, so under compile its checked call runs eagerly behind `torch.compiler.disable`: one
graph break, refused under `fullgraph=True` with a message naming the modes to use. Device reads during
CUDA-graph capture raise a clear error in "always"; "first" skips them during capture and checks that
signature fully on its next uncaptured call.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import types
import typing
from typing import Any, Callable, Optional, TypeVar

import torch
from beartype import BeartypeConf, beartype
from jaxtyping import TypeCheckError, jaxtyped

from shapecheck import compiled, guards, registry
from shapecheck.errors import ContractViolation
from shapecheck.markers import Index, InPlace, Offsets
from shapecheck.spec import Call, Contract

F = TypeVar("F", bound=Callable[..., Any])
MODES = ("always", "shapes", "first", "off")
CAPTURE_ERROR = "device reads cannot run during CUDA-graph capture; use mode='shapes' (or 'first') for captured calls"
FULLGRAPH_REASON = (
    "shapecheck mode='always' reads device memory on every call, so the checked call runs "
    "outside the graph; under fullgraph=True use mode='shapes' or mode='first'"
)
REFUSED_REASON = (
    "shapecheck: this call breaks its contract; the check runs again eagerly to say how (under "
    "fullgraph=True, make the same call uncompiled to read the message)"
)
_capturing: Callable[[], bool] = (
    torch.cuda.is_current_stream_capturing if torch.backends.cuda.is_built() else (lambda: False)
)


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


def _unchecked_by_contract(hint: Any) -> bool:
    """Whether jaxtyping + beartype would check something in `hint` that the contract's own checks do not:
    items of a generic alias (`list[int]`), a beartype validator (`Annotated[int, Is[...]]`), a protocol."""
    if hint is None or hint is type(None) or hint is Any or isinstance(hint, type) or hasattr(hint, "dim_str"):
        return False  # nothing, a class (one isinstance, as the contract's), or a jaxtyping array (the binder)
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(hint)
        return _unchecked_by_contract(base) or not all(isinstance(m, (Offsets, Index, InPlace)) for m in metadata)
    if origin is typing.Union or origin is types.UnionType:
        return any(_unchecked_by_contract(member) for member in typing.get_args(hint))
    return origin is not typing.Literal


def _gate_needed(c: Contract) -> bool:
    """Whether a call needs the jaxtyping/beartype gate at all: only where an annotation says more than the
    contract's binder and scalar checks model (they then give the same verdict and message without it)."""
    return any(_unchecked_by_contract(hint) for hint in c.gate_hints.values())


def contract(c: Contract, *, mode: Optional[str] = None) -> Callable[[F], F]:
    """Decorate a kernel wrapper so each call is checked against contract `c` before it runs.

    The wrapper's parameter names must be the contract's. The undecorated function stays reachable as
    `__wrapped__` (for benchmarks), and the contract as `__contract__`.
    """
    chosen = mode or os.environ.get("SHAPECHECK_MODE", "always")
    if chosen not in MODES:
        raise ValueError(f"shapecheck: mode must be one of {MODES}, found {chosen!r}")
    registry.register(c)
    gate = _argument_gate(c) if _gate_needed(c) else None

    def decorate(fn: F) -> F:
        names = list(inspect.signature(fn).parameters)
        if names != list(c.parameters):
            raise ValueError(
                f"shapecheck: {fn.__qualname__} has parameters {names}, contract {c.name} declares {list(c.parameters)}"
            )
        if chosen == "off":
            fn.__contract__ = c  # type: ignore[attr-defined]  # a function attribute the CLI reads
            return fn
        checked_calls = guards.Checked()
        refusal = compiled.refusal(c) if chosen != "always" else None
        c.scalars  # computed now, not inside a trace  # noqa: B018
        is_compiling = torch.compiler.is_compiling  # a cell: one guard where a module global costs two

        @torch.compiler.disable(reason=REFUSED_REASON)
        def check(args: tuple[Any, ...], kwargs: dict[str, Any], values: bool) -> Call:
            """The eager check: annotation gate (where it adds anything), then the contract. Never traced — not
            even as a frame of its own when a compiled model falls back to eager — so it always raises the full message."""
            arguments = c.arguments(args, kwargs)
            if gate is not None:
                try:
                    gate(*args, **kwargs)
                except TypeCheckError as exc:
                    raise _refusal(c, arguments, values, exc) from None
            return c.validate(arguments, values=values)

        @torch.compiler.disable(reason=REFUSED_REASON)
        def check_output(args: tuple[Any, ...], kwargs: dict[str, Any], call: Optional[Call], out: Any) -> None:
            c.check_output(call or c.validate(c.arguments(args, kwargs), values=False), out)

        def eager(*args: Any, **kwargs: Any) -> Any:
            """A call checked in full: every call in "always", a new signature in "first" and "shapes"."""
            capturing = chosen != "shapes" and _capturing()
            if chosen == "always" and capturing:
                raise RuntimeError(f"shapecheck: {c.name} (mode='always'): {CAPTURE_ERROR}")
            values = chosen == "always" or (chosen == "first" and not capturing)  # "first" reads next time
            call = check(args, kwargs, values)
            sig = guards.signature(args, kwargs) if chosen == "shapes" or (values and chosen == "first") else None
            out = fn(*args, **kwargs)
            check_output(args, kwargs, call, out)
            if sig is not None:
                if chosen == "shapes":
                    guards.remember_output(sig, out)
                checked_calls.add(sig, args, kwargs)
            return out

        outside_graph = torch.compiler.disable(eager, reason=FULLGRAPH_REASON)
        refused = torch.compiler.disable(eager, reason=REFUSED_REASON)

        def compiling(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            """Under dynamo ("shapes", "first"): decided once per graph, at trace time (`shapecheck.compiled`)."""
            assert refusal is not None  # "always" never compiles its check
            if refusal(args, kwargs, ()):
                return refused(*args, **kwargs)
            out = fn(*args, **kwargs)
            if refusal(args, kwargs, (out,)):
                check_output(args, kwargs, None, out)
            return out

        if chosen == "always":

            @functools.wraps(fn)
            def checked(*args: Any, **kwargs: Any) -> Any:
                # device reads: under dynamo the checked call runs eagerly, one graph break
                return outside_graph(*args, **kwargs) if is_compiling() else eager(*args, **kwargs)
        elif chosen == "first":

            @functools.wraps(fn)
            def checked(*args: Any, **kwargs: Any) -> Any:
                # a cache hit: one C++ call (or the expression around one), no contract check, no output check
                if checked_calls.last.matches(args, kwargs) or checked_calls.find(args, kwargs) is not None:
                    return fn(*args, **kwargs)
                return compiling(args, kwargs) if is_compiling() else eager(*args, **kwargs)
        else:

            @functools.wraps(fn)
            def checked(*args: Any, **kwargs: Any) -> Any:
                last = checked_calls.last  # a cache hit: this signature's checks already held; the output is
                sig = last if last.matches(args, kwargs) else checked_calls.find(args, kwargs)  # checked unless
                if sig is None:  # its metadata is the checked one's
                    return compiling(args, kwargs) if is_compiling() else eager(*args, **kwargs)
                out = fn(*args, **kwargs)
                if not sig.same_output(out):
                    check_output(args, kwargs, None, out)
                return out

        if chosen != "always":
            # Dynamo inlines `compiling` where the model calls `checked` (the module docstring says why)
            torch.compiler.substitute_in_graph(checked)(lambda *args, **kwargs: compiling(args, kwargs))

        checked.__contract__ = c  # type: ignore[attr-defined]  # a function attribute the CLI reads
        return checked  # type: ignore[return-value]  # same signature as fn (functools.wraps)

    return decorate
