"""Keyword-only options on the public face, refused positionally with a message that names them.

`Dim("tokens", 1, 8, 64)` or `strategies.cases(C, "gpu")` read fine to their author and wrong a year later
(which number is the GPU bound? is "gpu" a profile or a device?), and a field added to `Contract` would
silently shift every positional call after it. So options are keyword-only, as Hypothesis's are, and a
positional call is refused where it is made: Python's own "takes 4 positional arguments but 5 were given"
says that, not which option to name, so the message here does.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T", bound=type)


def refuse_positional_options(function: F) -> F:
    """Wrap `function` (whose options are keyword-only parameters) so that extra positional arguments raise a
    TypeError naming the options they stood for, in declaration order, and how to pass them."""
    parameters = list(inspect.signature(function).parameters.values())
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    options = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
    method = bool(positional) and positional[0] == "self"
    shown = positional[1:] if method else positional
    qualname = function.__qualname__.removesuffix(".__init__")

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) > len(positional):
            meant = options[: len(args) - len(positional)] or options[:1]
            names = ", ".join(f"`{name}`" for name in meant)
            example = ", ".join([*shown, *(f"{name}=..." for name in meant)])
            raise TypeError(
                f"{qualname}() takes at most {len(shown)} positional argument"
                f"{'s' if len(shown) != 1 else ''} ({len(args) - method} given): {names} "
                f"{'is' if len(meant) == 1 else 'are'} keyword-only, write {qualname}({example})"
            )
        return function(*args, **kwargs)

    return checked  # type: ignore[return-value]


def keyword_only_options(cls: T) -> T:
    """The same for a dataclass's `__init__` (fields after `dataclasses.KW_ONLY`); applied above
    `@dataclasses.dataclass`."""
    setattr(cls, "__init__", refuse_positional_options(vars(cls)["__init__"]))  # noqa: B010 - replaces the method
    return cls
