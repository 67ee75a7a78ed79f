"""`lint_paths`: every Python file under the given paths, each answered from the lint cache when it is
unchanged, else parsed and run through the rules (`shapecheck.static.lint`, imported at the first file that
needs it: it brings sympy and the analyser).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from shapecheck.static import imports
from shapecheck.static.findings import Finding, Report, chosen, python_files, suppressed
from shapecheck.static.lintcache import Entry, LintCache


def lint_file(path: Path, raw: bytes, bounds: Mapping[str, int]) -> Entry:
    """One file's findings (its suppression comments applied) and how many functions were checked."""
    from shapecheck.static.lint import lint_module
    from shapecheck.static.source import ModuleSource

    try:
        module = ModuleSource.from_bytes(raw, str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None) or 1
        return Entry(
            [
                Finding(
                    str(path),
                    line,
                    (getattr(exc, "offset", None) or 1),
                    "SC000",
                    f"cannot parse: {type(exc).__name__}: {getattr(exc, 'msg', exc)}",
                )
            ],
            0,
        )
    found, checked = lint_module(module, bounds)
    return Entry([f for f in found if not suppressed(module.lines, f)], checked)


def lint_paths(
    paths: Sequence[Union[str, Path]],
    bounds: Mapping[str, int] = {},
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    cache: Optional[LintCache] = None,
) -> Report:
    """Lint every Python file under `paths`; `bounds` caps named dimensions (`V=256`); `cache` keeps results."""
    files = python_files(paths)
    findings: list[Finding] = []
    functions, read = 0, set[str]()
    for path in files:
        raw = path.read_bytes()
        entry = cache.get(path, raw, bounds) if cache is not None else None
        if entry is None:
            with imports.recording() as looked_at:
                entry = lint_file(path, raw, bounds)
            entry = dataclasses.replace(entry, looked_at=looked_at)
            if cache is not None:
                cache.put(path, raw, bounds, entry)
        findings.extend(f for f in entry.findings if chosen(f.code, select, ignore))
        functions += entry.functions
        read.update(p for p, digest in entry.looked_at.items() if digest is not None)
    return Report(findings, len(files), functions, frozenset(read))
