"""Static shape analysis: derive a function's shapes from its source, without running or importing it.

- `analyse_function(path, name)` seeds the parameters from jaxtyping annotations (or `--assume`, or a
  registered contract of the same name), interprets the body over symbolic sizes (sympy) and returns an
  `Analysis`: derivation steps, facts, kernel launches, and the output against the declaration.
- `explain.text(analysis)` / `explain.markdown(analysis, example)` render it for a reviewer.
- `lint_paths(paths)` turns analyses into findings SC000-SC010 (see `shapecheck.static.lint`).

Modules, one concept each: symbols (sympy vocabulary, printing), values (abstract values), facts (what is
known, proofs), signature (declared shapes), source (parsed modules), operators / tensorops / library /
einops_patterns (semantics), engine (the interpreter), analysis (one function), bounds (interval bounds),
pointers (SC006 taint), explain, findings (what lint reports), lint (the rules), lintcache, linter (files, cache, rules),
commands (CLI glue).
"""

import importlib
from typing import Any

_HOMES = {
    "Agreement": "analysis",
    "Analysis": "analysis",
    "analyse": "analysis",
    "analyse_function": "analysis",
    "analyse_module": "analysis",
    "Finding": "findings",
    "Report": "findings",
    "lint_paths": "linter",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Imported on first use: a lint run answered from its cache must not pay for sympy (see lintcache)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
