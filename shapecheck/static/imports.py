"""Resolving imports inside the analysed tree, by reading files: `from .sibling import f` and
`from pkg.mod import C` name a file next to (or above) the importing one. Nothing is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from pathlib import Path
from typing import Iterator, Optional

from shapecheck.static.source import ModuleSource

_cache: dict[str, Optional[ModuleSource]] = {}
_looked_at: list[dict[str, Optional[str]]] = []  # the open `recording()` blocks, innermost last


def digest(path: Path) -> Optional[str]:
    """sha256 of a file's bytes; None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


@contextlib.contextmanager
def recording() -> Iterator[dict[str, Optional[str]]]:
    """Every file an import resolution looks for while the block runs, with its digest (None: absent), so a
    lint result kept between runs can be checked against the tree it was computed from (a sibling edited,
    or a file appearing that an import would now find first)."""
    seen: dict[str, Optional[str]] = {}
    _looked_at.append(seen)
    try:
        yield seen
    finally:
        _looked_at.remove(seen)


def _note(path: Path, present: bool) -> None:
    if not _looked_at:
        return  # nothing records: no path to resolve, no file to read again
    key = str(path.resolve())
    for seen in _looked_at:
        if key not in seen:
            seen[key] = digest(path) if present else None


def _load(path: Path) -> Optional[ModuleSource]:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = f"{path}|{stat.st_mtime_ns}|{stat.st_size}"  # a long-lived process (`lint --watch`) sees edits
    if key not in _cache:
        try:
            _cache[key] = ModuleSource.load(path)
        except (OSError, SyntaxError, ValueError):
            _cache[key] = None
    return _cache[key]


def _candidates(parts: list[str], root: Path) -> list[Path]:
    return [root.joinpath(*parts[:-1], parts[-1] + ".py"), root.joinpath(*parts, "__init__.py")]


def resolve(module: ModuleSource, qualified: str, installed: bool = True) -> Optional[ModuleSource]:
    """The module named `qualified` (`.sibling`, `pkg.mod`) as imported from `module`, if its file is found.

    Absolute names are looked up from each directory above the importing file, also with leading package
    names dropped (a package installed through a `package-dir` mapping lives under another name), then on
    `sys.path` (unless not `installed`). Nothing is imported.
    """
    here = Path(module.path).resolve().parent
    level = len(qualified) - len(qualified.lstrip("."))
    parts = [p for p in qualified.lstrip(".").split(".") if p]
    if level:
        base = here
        for _ in range(level - 1):
            base = base.parent
        paths = _candidates(parts, base) if parts else [base / "__init__.py"]
    else:
        ancestors = [here, *list(here.parents)[:6]]
        paths = [p for k in range(len(parts)) for root in ancestors for p in _candidates(parts[k:], root)]
        paths += [p for entry in sys.path if entry and installed for p in _candidates(parts, Path(entry))]
    for path in paths:
        present = path.is_file()
        _note(path, present)
        if present:
            return _load(path)
    return None


def _defines(module: ModuleSource, name: str) -> bool:
    return name in module.constants or name in module.functions or name in module.classes


def definition(
    module: ModuleSource, name: str, installed: bool = True, hops: int = 8
) -> Optional[tuple[ModuleSource, str]]:
    """Where `name` (as used in `module`) is defined, as a constant, function or class: this module, or the one
    it is imported from (following up to `hops` re-exports: two modules that re-export a name from each other
    end the search, not the analyser)."""
    if _defines(module, name):
        return module, name
    qualified = module.imports.get(name)
    if qualified is None:
        return None
    owner, _, attr = qualified.rpartition(".")
    target = resolve(module, owner, installed) if owner.strip(".") else None
    if target is None or target is module:
        return None
    if _defines(target, attr):
        return target, attr
    return definition(target, attr, installed, hops - 1) if attr in target.imports and hops > 0 else None
