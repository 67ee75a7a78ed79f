"""Robustness: the analyser and lint over every .py file of the installed triton package.

Every function is analysed with unknown inputs (triton's own code carries no shape annotations) and every
`@triton.jit` function is linted; no exception may escape. All files, not a subset. Its wall time is measured by
`bench/static_speed.py` (the triton sweep), not asserted here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shapecheck.static.analysis import analyse_module
from shapecheck.static.lint import lint_module
from shapecheck.static.source import ModuleSource


def test_every_triton_file_is_analysed_without_an_exception() -> None:
    root = Path(importlib.util.find_spec("triton").origin).parent  # type: ignore[arg-type, union-attr]
    files = sorted(root.rglob("*.py"))
    functions = kernels_linted = 0
    for path in files:
        module = ModuleSource.load(path)  # triton's sources all parse; a SyntaxError here would be a failure
        functions += sum(1 for _ in analyse_module(module))
        kernels_linted += lint_module(module)[1]
    assert len(files) > 100 and functions > 2000
