"""Static shape analysis: derive a function's shapes from its source, without running it.

`analyse_function(path, name)` seeds the parameters from jaxtyping annotations (or `--assume`, or a
registered contract of the same name), interprets the body over symbolic sizes (sympy) and returns an
`Analysis`: the derivation steps, facts, kernel launches and the output compared with the declaration.
`explain` renders one analysis for a reviewer; `lint` turns analyses into findings.
"""

from shapecheck.static.analysis import Agreement, Analysis, analyse, analyse_function, analyse_module

__all__ = ["Agreement", "Analysis", "analyse", "analyse_function", "analyse_module"]
