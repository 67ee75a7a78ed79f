"""Static shape analysis: derive a function's shapes from its source, without running or importing it.

- `analyse_function(path, name)` seeds the parameters from jaxtyping annotations (or `--assume`, or a
  registered contract of the same name), interprets the body over symbolic sizes (sympy) and returns an
  `Analysis`: derivation steps, facts, kernel launches, and the output against the declaration.
- `explain.text(analysis)` / `explain.markdown(analysis, example)` render it for a reviewer.
- `lint_paths(paths)` turns analyses into findings SC000-SC006 (see `shapecheck.static.lint`).

Modules, one concept each: symbols (sympy vocabulary, printing), values (abstract values), facts (what is
known, proofs), signature (declared shapes), source (parsed modules), operators / tensorops / library /
einops_patterns (semantics), engine (the interpreter), analysis (one function), bounds (interval bounds),
pointers (SC006 taint), explain, lint, commands (CLI glue).
"""

from shapecheck.static.analysis import Agreement, Analysis, analyse, analyse_function, analyse_module
from shapecheck.static.lint import Finding, Report, lint_paths

__all__ = ["Agreement", "Analysis", "Finding", "Report", "analyse", "analyse_function", "analyse_module", "lint_paths"]
