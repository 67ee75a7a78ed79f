"""`Call`: one call being checked (its arguments and the dimensions bound from them), and `Check`.

Its own module, below the contract model (`shapecheck.spec`) and the judge (`shapecheck.harness`) and the
markers, which all word a failure through `Call.fail`, so none of them has to import the contract module.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Iterable, Optional

import torch

from shapecheck import dims as _dims
from shapecheck.errors import ContractViolation


class TracedViolation(ContractViolation):
    """A violation found while dynamo traces a call. Its message is not built there: dynamo cannot trace
    the formatting of symbolic sizes (torch 2.11 even fails on raising the result of a graph break). The
    decorator catches it in the traced code and refuses the call off the graph, where the eager check
    raises the full ContractViolation."""

    def __init__(self) -> None:  # deliberately no message: see the class docstring
        pass

    def __str__(self) -> str:
        return "a call broke its contract while torch.compile traced it; the same call uncompiled says how"


@dataclasses.dataclass
class Call:
    """One call being checked: its arguments by name and the dimensions bound from them."""

    function: str
    arguments: dict[str, Any]
    bindings: _dims.Bindings

    @property
    def dims(self) -> dict[str, int]:
        return {name: size for name, (size, _) in self.bindings.items()}

    @staticmethod
    def stop_if_traced() -> None:
        """Under torch.compile tracing, stop at a failure before its message is formatted (dynamo cannot
        format symbolic sizes; a graph break there would make it skip the checking frame from then on).
        Checks call it first in a failure branch; `fail` then builds the message, eagerly."""
        if torch.compiler.is_compiling():
            raise TracedViolation()

    def fail(
        self,
        argument: str,
        problem: str,
        *,
        dimension: Optional[str] = None,
        expected: object = None,
        found: object = None,
        error: type[ContractViolation] = ContractViolation,
    ) -> ContractViolation:
        """Build the exception (the caller raises it) with this call's bindings attached."""
        self.stop_if_traced()
        return error(
            self.function,
            argument,
            problem,
            dimension=dimension,
            expected=expected,
            found=found,
            bindings=self.bindings,
        )


Check = Callable[[Call], None]
"""A contract-specific check on values or layout; raises `call.fail(...)`."""


def by_keyword(impl: Callable[..., Any], parameters: Iterable[str]) -> Callable[..., Any]:
    """`impl`, callable with a case's arguments by keyword (`impl(**args)`, as every run calls it).

    Why: an autograd Function's `apply`, the entry point of most training kernels, takes its arguments by position
    only on torch 2.11 ("apply() takes no keyword arguments"): passed as the implementation, a correct kernel would
    fail every case. It gets them in the contract's parameter order; any other callable is returned as it is.
    """
    owner = getattr(impl, "__self__", None)
    if not (isinstance(owner, type) and issubclass(owner, torch.autograd.Function) and impl.__name__ == "apply"):
        return impl
    order = tuple(parameters)

    @functools.wraps(impl)
    def apply(**args: Any) -> Any:
        return impl(*(args[name] for name in order if name in args))

    return apply
