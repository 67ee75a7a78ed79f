"""Source patches of a kernel module, loaded as real modules.

Buggy variants (test fixtures) and mutants (`shapecheck mutate`) are the real kernel file with one edit.
Triton reads a kernel's source through `inspect`, so a patched module must live in a real file: it is
written under the cache folder and imported from there under a fresh module name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Optional

from shapecheck.cache import cache_dir


def patch_dir() -> Path:
    """Where patched and mutated sources are written: `patched/` in the cache folder."""
    return cache_dir() / "patched"


@dataclasses.dataclass(frozen=True)
class Patch:
    """Replace the `occurrence`-th (0-based) exact occurrence of `old` by `new`."""

    old: str
    new: str
    occurrence: int = 0

    def apply(self, source: str) -> str:
        start = -1
        for _ in range(self.occurrence + 1):
            start = source.find(self.old, start + 1)
            if start < 0:
                raise ValueError(f"patch target not found (occurrence {self.occurrence}): {self.old!r}")
        return source[:start] + self.new + source[start + len(self.old) :]


def load_source(source: str, label: str, directory: Optional[Path] = None) -> ModuleType:
    """Write `source` to a file named after `label` and its hash (in `patch_dir()` by default), import it,
    and return the module."""
    directory = directory or patch_dir()
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    name = f"_shapecheck_{label}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    path = directory / f"{name}.py"
    write_if_changed(path, source)
    return load_file(path, name)


def write_if_changed(path: Path, text: str) -> None:
    """Write `text` to `path` unless it holds it already, atomically (a temporary file renamed over it):
    processes sharing the cache (pytest-xdist workers, `run --workers`, mutant runs) may import the same
    patched file at once, and none may read it half-written."""
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def load_file(path: Path, name: str | None = None) -> ModuleType:
    """Import a Python file as a module (used for `--impl path/to/file.py:function` too)."""
    name = name or f"_shapecheck_file_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"
    if name in sys.modules:  # imported once per process, like any module
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def patched_module(path: Path, patches: list[Patch], label: str) -> ModuleType:
    """The module at `path` with every patch applied in order."""
    source = path.read_text()
    for patch in patches:
        source = patch.apply(source)
    return load_source(source, label)
