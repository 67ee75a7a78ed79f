"""What `shapecheck lint` reports, without the analysis behind it: the rule table, a finding, a report, which
files a path names, suppression comments and `--select`/`--ignore`.

Nothing here imports sympy or the analyser, so a lint run whose every file is answered from the cache
(`shapecheck.static.lintcache`) never pays for them (sympy alone imports in ~0.5 s on a CI core).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence, Union

RULES = {
    "SC000": "file cannot be parsed",
    "SC001": "inferred output shape differs from the declared one",
    "SC002": "squeeze of an axis not provably of size 1",
    "SC003": "view/reshape whose element count is not provably equal",
    "SC004": "dimension name used inconsistently",
    "SC005": "grid axis 1 or 2 can exceed 65535",
    "SC006": "loaded value multiplied into a pointer offset without an int64 cast",
    "SC007": "program id or sequence position scaled into a pointer offset that can pass 2**31 without an int64 cast",
    "SC008": "Optional argument dereferenced on a path where it is None",
    "SC009": "argument the kernel writes in place rebound to a copy before the launch",
    "SC010": "offset steps one axis by another axis's stride",
}
_SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache", ".tox"}


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int
    code: str
    message: str
    function: str = ""
    severity: str = "error"  # "error" (counts for the exit code) or "note"
    end_line: int = 0
    end_col: int = 0

    def format(self) -> str:
        note = "[note] " if self.severity == "note" else ""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {note}{self.message}"

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Report:
    findings: list[Finding]
    files: int
    functions: int
    looked_at: frozenset[str] = (
        frozenset()
    )  # other files the analyses read through imports (`lint --watch` watches them)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def summary(self) -> str:
        checked = (
            f"{self.functions} function{'s' * (self.functions != 1)} in {self.files} file{'s' * (self.files != 1)}"
        )
        if not self.findings:
            return f"All checks passed: {checked}."
        counts = ", ".join(f"{code}: {n}" for code, n in sorted(Counter(f.code for f in self.findings).items()))
        return f"Found {len(self.findings)} finding{'s' * (len(self.findings) != 1)} ({counts}) in {checked}."

    def to_json(self) -> str:
        return json.dumps(
            {
                "findings": [f.to_json() for f in self.findings],
                "files": self.files,
                "functions": self.functions,
                "rules": RULES,
            },
            indent=2,
        )


def python_files(paths: Iterable[Union[str, Path]]) -> list[Path]:
    """The .py files under `paths` (files as given, directories recursively); FileNotFoundError if missing."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*.py"))
                if not any(part in _SKIPPED_DIRS for part in p.relative_to(path).parts)
            )
        else:
            raise FileNotFoundError(f"no such file or directory: {raw}")
    return found


_SUPPRESS = re.compile(r"#\s*shapecheck:\s*ignore(?:\[([A-Z0-9, ]+)\])?")


def suppressed(lines: Sequence[str], finding: Finding) -> bool:
    """`# shapecheck: ignore` (every code) or `# shapecheck: ignore[SC005, SC006]` on the finding's lines."""
    for number in {finding.line, finding.end_line}:
        match = _SUPPRESS.search(lines[number - 1]) if 0 < number <= len(lines) else None
        if match and (match.group(1) is None or finding.code in {c.strip() for c in match.group(1).split(",")}):
            return True
    return False


def chosen(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """ruff's --select/--ignore: prefixes (`SC00`, `SC006`); ignore wins."""
    return (not select or any(code.startswith(p) for p in select)) and not any(code.startswith(p) for p in ignore)
