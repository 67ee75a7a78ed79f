"""Shapes a wrapper's docstring states, in the convention of fla-core and Liger-Kernel: `Args:` / `Returns:`
sections whose entries read `name (type):` followed by text holding "of shape `[B, T, H, K]`".

Libraries that annotate nothing still document every shape there; `--emit-contract` reads them where the
code states none, so a draft starts from what the author wrote rather than "shape not stated".
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

_ENTRY = re.compile(r"^(\s*)(\w+)\s*\(([^)]*)\)\s*:(.*)$")
_SHAPE = re.compile(r"shape\s+`+\[([^\]`]*)\]`+")
_AXIS = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\s*[-+*]\s*[A-Za-z_0-9]+)*$")


@dataclasses.dataclass(frozen=True)
class Documented:
    """One documented tensor: its axes as written, whether it may be None, whether it holds integers."""

    name: str
    axes: tuple[str, ...]
    optional: bool
    integer: bool


def _entries(doc: str, section: str) -> list[tuple[str, str, str]]:
    """(name, type, text) of each entry under `section:`."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"{section}:"), None)
    if start is None:
        return []
    indent = len(lines[start]) - len(lines[start].lstrip())
    found: list[tuple[str, str, list[str]]] = []
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break  # the next section
        entry = _ENTRY.match(line)
        if entry:
            found.append((entry.group(2), entry.group(3), [entry.group(4)]))
        elif found:
            found[-1][2].append(line)
    return [(name, kind, " ".join(text)) for name, kind, text in found]


def _documented(name: str, kind: str, text: str) -> Optional[Documented]:
    shape = _SHAPE.search(text)
    if shape is None or "Tensor" not in kind:
        return None
    axes = tuple(a.strip() for a in shape.group(1).split(","))
    if not axes or not all(_AXIS.match(a) for a in axes):
        return None
    optional = "Optional" in kind or "None" in kind or "else `None`" in text
    return Documented(name, tuple(a.replace(" ", "") for a in axes), optional, "Long" in kind or "Int" in kind)


def arguments(doc: Optional[str]) -> dict[str, Documented]:
    """Documented tensor arguments by name."""
    found = (_documented(*entry) for entry in _entries(doc or "", "Args"))
    return {d.name: d for d in found if d is not None}


def results(doc: Optional[str]) -> list[Documented]:
    """Documented results in order; empty unless every entry states a shape (a partial list would misnumber)."""
    entries = _entries(doc or "", "Returns")
    found = [_documented(*entry) for entry in entries]
    return [d for d in found if d is not None] if entries and all(found) else []
