"""`@contract(C)`: check every call of a kernel against its contract before the kernel runs.

Two layers: jaxtyping + beartype check the annotations (tensor shapes and dtypes, and the plain types of
scalar arguments), then the contract adds the rules and checks annotations cannot say. When the
annotations fail, the contract's own binder re-reads the call to give one precise message (argument,
dimension, expected, found, every bound dim); jaxtyping's report is the fallback for anything the binder
does not model (a string where a float belongs).

Modes (argument `mode`, or the `SHAPECHECK_MODE` environment variable):
- "always": every call is fully checked, value checks included (default; tests and property runs);
- "shapes": every call is checked without reading device memory — no synchronisation, safe under CUDA
  graph capture; index ranges, cu_seqlens contents and NaN are not checked;
- "first": each distinct signature (shapes, strides, dtypes, devices, scalar arguments) is fully checked
  once and then trusted — for production loops, where a per-call device read would stall the stream;
- "off": no checks at all, the undecorated function is called.
"""

from __future__ import annotations

import functools
import inspect
import os
import types
from typing import Any, Callable, Optional, TypeVar

from beartype import beartype
from jaxtyping import TypeCheckError, jaxtyped
from torch import Tensor

from shapecheck.contract import Contract
from shapecheck.errors import ContractViolation

F = TypeVar("F", bound=Callable[..., Any])
MODES = ("always", "shapes", "first", "off")
REGISTRY: dict[str, Contract] = {}
"""Contracts by name, filled as contracts are applied; the CLI and static analyser look them up here."""


def _argument_gate(c: Contract) -> Callable[..., None]:
    """The contract's signature stub, minus its return annotation, checked by jaxtyping + beartype.

    A copy of the stub (same code object and parameters, so beartype sees real parameter names) is
    called with the user's arguments before the kernel runs; the return is checked by the contract.
    """
    stub = c.signature
    gate = types.FunctionType(stub.__code__, stub.__globals__, stub.__name__, stub.__defaults__, stub.__closure__)
    gate.__kwdefaults__ = stub.__kwdefaults__
    gate.__annotations__ = dict(c.gate_hints)
    return jaxtyped(typechecker=beartype)(gate)


def _precise(c: Contract, arguments: dict[str, Any], values: bool) -> Optional[ContractViolation]:
    """The contract binder's message for a call the annotations rejected, if the binder can say it."""
    try:
        c.validate(arguments, values)
    except ContractViolation as violation:
        return violation
    except Exception:  # noqa: BLE001 - ill-typed arguments may trip a check; jaxtyping's report stands
        return None
    return None


def _signature_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two calls the same for "first" mode: tensor shapes, dtypes and strides, other values.

    Kept to one list comprehension per argument kind because it runs on every call (~1-3 µs). Devices are
    not part of the key (reading `.device` costs as much as the rest). A tensor subclass keys by identity,
    so it is checked every call rather than trusted wrongly.
    """
    return (*[(x.shape, x.dtype, x.stride()) if type(x) is Tensor else x for x in args],
            *[(k, (x.shape, x.dtype, x.stride()) if type(x) is Tensor else x) for k, x in kwargs.items()])


def contract(c: Contract, *, mode: Optional[str] = None) -> Callable[[F], F]:
    """Decorate a kernel wrapper so each call is checked against contract `c` before it runs.

    The wrapper's parameter names must be the contract's. The undecorated function stays reachable as
    `__wrapped__` (for benchmarks), and the contract as `__contract__`.
    """
    chosen = mode or os.environ.get("SHAPECHECK_MODE", "always")
    if chosen not in MODES:
        raise ValueError(f"shapecheck: mode must be one of {MODES}, found {chosen!r}")
    REGISTRY[c.name] = c
    gate = _argument_gate(c)

    def decorate(fn: F) -> F:
        names = list(inspect.signature(fn).parameters)
        if names != list(c.parameters):
            raise ValueError(f"shapecheck: {fn.__qualname__} has parameters {names}, contract {c.name} declares {list(c.parameters)}")
        if chosen == "off":
            fn.__contract__ = c  # type: ignore[attr-defined]
            return fn
        seen: set[tuple[Any, ...]] = set()

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if chosen == "first":
                key = _signature_key(args, kwargs)
                try:
                    if key in seen:
                        return fn(*args, **kwargs)
                except TypeError:  # an unhashable argument (a list, say): check this call fully
                    key = None
            arguments = c.arguments(args, kwargs)
            try:
                gate(*args, **kwargs)
            except TypeCheckError as exc:
                raise _precise(c, arguments, chosen != "shapes") or ContractViolation(c.name, "(annotations)",
                                                                  str(exc).split("\n----")[0]) from None
            call = c.validate(arguments, values=chosen != "shapes")
            out = fn(*args, **kwargs)
            c.check_output(call, out)
            if chosen == "first" and key is not None:
                seen.add(key)
            return out

        checked.__contract__ = c  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate
