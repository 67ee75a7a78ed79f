"""Lint results kept between runs, as ruff keeps its own: `shapecheck lint` on a tree answers every unchanged
file from here, without importing sympy or the analyser (a cold run spends ~0.5 s importing sympy alone on a
CI core, bench/results/static_speed_cpu.txt).

An entry holds one file's findings after its own suppression comments (`--select`/`--ignore` apply on the way
out) and is valid while four things are unchanged: the analyser (a digest of shapecheck's own source), the
file's bytes, the bounds, and every other file the analysis looked for through an import (sibling modules,
statically found contracts), present or absent. Entries live under `cache_dir()/lint/`, one JSON file per
linted path, each written whole (a temporary file, then a rename), so parallel runs never read half of one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional

from shapecheck.static.findings import Finding
from shapecheck.static.imports import digest

FORMAT = 1  # bump when an entry's layout changes


@functools.lru_cache(maxsize=1)
def analyser_digest() -> str:
    """The analyser's identity: shapecheck's own source files (an edit in development counts) and Python's version."""
    h = hashlib.sha256(f"{FORMAT}|{sys.version}".encode())
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class Entry:
    findings: list[Finding]
    functions: int  # functions checked, for the summary line
    looked_at: Mapping[str, Optional[str]] = dataclasses.field(default_factory=dict)  # path -> digest (None: absent)


class LintCache:
    """One folder of entries; every failure to read or write one is a miss, never an error."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, path: Path) -> Path:
        return self.folder / (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24] + ".json")

    @staticmethod
    def _key(raw: bytes, bounds: Mapping[str, int]) -> str:
        h = hashlib.sha256(analyser_digest().encode())
        h.update(json.dumps(sorted(bounds.items())).encode())
        h.update(raw)
        return h.hexdigest()

    def get(self, path: Path, raw: bytes, bounds: Mapping[str, int]) -> Optional[Entry]:
        try:
            data = json.loads(self._file(path).read_text())
            if data["key"] != self._key(raw, bounds):
                return None
            if any(digest(Path(p)) != d for p, d in data["looked_at"].items()):
                return None
            return Entry([Finding(**f) for f in data["findings"]], int(data["functions"]), data["looked_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, path: Path, raw: bytes, bounds: Mapping[str, int], entry: Entry) -> None:
        data = {
            "key": self._key(raw, bounds),
            "path": str(path),
            "functions": entry.functions,
            "findings": [f.to_json() for f in entry.findings],
            "looked_at": dict(entry.looked_at),
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out)
            os.replace(tmp, self._file(path))
        except OSError:
            pass  # a read-only or full disk costs speed, not the verdict
