"""Helpers of the per-rule lint tests (SC008-SC010): the `# expect: CODE` lines a fixture plants, and what
`lint` reports for one rule on it (through `lint_paths`, so suppression comments and `--select` apply)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from shapecheck.static.findings import Finding
from shapecheck.static.linter import lint_paths

FIXTURES = Path(__file__).parent / "fixtures"


def planted(path: Path, code: str) -> Counter[int]:
    """Lines of `path` ending in `# expect: CODE` (with this code)."""
    return Counter(
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(rf"# expect: (?:SC\d{{3}} )*{code}(?: SC\d{{3}})*$", line)
    )


def found(path: Path, *codes: str) -> list[Finding]:
    """`lint PATH --select CODE...`'s findings, uncached."""
    return lint_paths([path], select=list(codes)).findings


def suppressed_line(path: Path, code: str) -> int:
    """The one line of `path` carrying `# shapecheck: ignore[CODE]`."""
    [number] = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if f"ignore[{code}]" in line]
    return number
