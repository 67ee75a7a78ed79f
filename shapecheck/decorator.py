"""`@contract(C)`: check every call of a kernel against its contract before the kernel runs.

Two layers: jaxtyping + beartype check the annotations (tensor shapes and dtypes, and the plain types of
scalar arguments), then the contract adds the rules and checks annotations cannot say. When the
annotations fail, the contract's own binder re-reads the call to give one precise message (argument,
dimension, expected, found, every bound dim); jaxtyping's report is the fallback for anything the binder
does not model (a string where a float belongs).

Modes (argument `mode`, or the `SHAPECHECK_MODE` environment variable):
- "always": every call is checked (default; the property engine and tests use this);
- "first": each distinct signature (shapes, dtypes, devices and scalar arguments) is checked once and
  then trusted — for production, where value checks would cost a device sync per call;
- "off": no checks at all, the undecorated function is called.
"""

from __future__ import annotations

import functools
import inspect
import os
import types
from typing import Any, Callable, Optional, TypeVar

import torch
from beartype import beartype
from jaxtyping import TypeCheckError, jaxtyped

from shapecheck.contract import Contract
from shapecheck.errors import ContractViolation

F = TypeVar("F", bound=Callable[..., Any])
MODES = ("always", "first", "off")
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
    gate.__annotations__ = {k: v for k, v in c.hints.items() if k != "return"}
    return jaxtyped(typechecker=beartype)(gate)


def _precise(c: Contract, arguments: dict[str, Any]) -> Optional[ContractViolation]:
    """The contract binder's message for a call the annotations rejected, if the binder can say it."""
    try:
        c.validate(arguments)
    except ContractViolation as violation:
        return violation
    except Exception:  # noqa: BLE001 - ill-typed arguments may trip a check; jaxtyping's report stands
        return None
    return None


def _signature_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    def key(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return (x.shape, x.dtype, x.device, x.stride())
        return x if isinstance(x, (int, float, str, bool, type(None))) else id(type(x))

    return tuple(map(key, args)) + tuple((k, key(v)) for k, v in kwargs.items())


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
                if key in seen:
                    return fn(*args, **kwargs)
            arguments = c.arguments(args, kwargs)
            try:
                gate(*args, **kwargs)
            except TypeCheckError as exc:
                raise _precise(c, arguments) or ContractViolation(c.name, "(annotations)",
                                                                  str(exc).split("\n----")[0]) from None
            call = c.validate(arguments)
            out = fn(*args, **kwargs)
            c.check_output(call, out)
            if chosen == "first":
                seen.add(key)
            return out

        checked.__contract__ = c  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate
