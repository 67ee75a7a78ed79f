"""The exceptions shapecheck raises, so callers catch one family and messages stay uniform."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional

if TYPE_CHECKING:
    from shapecheck.regions import Region


class ShapecheckError(Exception):
    """The base of every error shapecheck raises for a caller to catch: `except shapecheck.ShapecheckError`
    catches them all. Each subclass keeps its builtin base too (a `ContractViolation` is a ValueError, a
    `MemoryViolation` a RuntimeError), so code written against those still catches them.

    `Abort` is not one: it is a BaseException on purpose, so Hypothesis does not take it for a failure."""


class UsageError(ShapecheckError):
    """Bad CLI input or environment (unknown contract, `--device cuda` without a GPU): exit code 2."""


class ContractViolation(ValueError, ShapecheckError):
    """A call broke its contract. Raised before the kernel runs, so nothing was modified.

    The message names the function, the argument, the dimension, what was expected and what was found,
    followed by every dimension bound so far and where it was bound (like jaxtyping's report).
    """

    def __init__(
        self,
        function: str,
        argument: str,
        problem: str,
        *,
        dimension: Optional[str] = None,
        expected: object = None,
        found: object = None,
        bindings: Optional[Mapping[str, tuple[int, str]]] = None,
    ) -> None:
        self.function, self.argument, self.dimension = function, argument, dimension
        self.expected, self.found = expected, found
        self.bindings = dict(bindings or {})
        where = f"argument `{argument}`" + (f", dimension {dimension}" if dimension else "")
        lines = [f"{function}: {where}: {problem}"]
        if expected is not None or found is not None:
            lines.append(f"  expected: {expected}")
            lines.append(f"  found:    {found}")
        if self.bindings:
            bound = ", ".join(f"{name}={value} ({origin})" for name, (value, origin) in self.bindings.items())
            lines.append(f"  bound dims: {bound}")
        super().__init__("\n".join(lines))


class DtypeViolation(ContractViolation, TypeError):
    """Wrong dtype or device: a type error as much as a value error, so both `except` forms catch it."""


class InvalidContract(ValueError, ShapecheckError):
    """A contract is malformed (an annotation shapecheck cannot read, a rule naming an unknown dimension, a
    hook that is not `"module:function"`): raised where the `Contract(...)` is built, naming the field."""

    def __init__(self, contract: str, field: str, problem: str) -> None:
        self.contract, self.field = contract, field
        super().__init__(f"contract {contract}: `{field}`: {problem}")


class MemoryViolation(RuntimeError, ShapecheckError):
    """A load/store/atomic lane that is not masked off addresses memory outside its tensor argument (found by
    `shapecheck.sanitizer`, which words the message).

    A RuntimeError, like the illegal-address fault it stands in for: the kernel is at fault, not the call.
    Every field is kept as an attribute so a CLI or test can use them without parsing the message.
    """

    def __init__(
        self,
        message: str,
        *,
        kernel: str,
        pid: tuple[int, int, int],
        op: str,
        region: Region,
        outside: str,
        derived: bool,
        offsets: list[int],
        unit: int,
        n_bad: int,
        n_active: int,
        frames: list[tuple[str, int, str]],
        location: str,
    ) -> None:
        self.kernel, self.pid, self.op, self.region, self.outside = kernel, pid, op, region, outside
        self.derived, self.offsets, self.unit, self.frames = derived, offsets, unit, frames
        self.n_bad, self.n_active, self.location = n_bad, n_active, location
        self.site = f"{kernel} {location} {op} {region.name}"  # one report entry per site
        super().__init__(message)


class NothingRan(UsageError):
    """A property run executed no case (every drawn case was rejected): an error, never a pass."""


class Abort(BaseException):
    """Stop a property run at once, without shrinking: code that is not the kernel under test failed.

    A BaseException, so Hypothesis lets it through instead of treating it as a failing example. `message`
    is the one line the CLI prints; `error` is the original exception (for `--traceback`).
    """

    def __init__(self, message: str, error: Optional[BaseException] = None) -> None:
        self.message, self.error = message, error
        super().__init__(message)
