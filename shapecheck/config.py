"""`[tool.shapecheck]` of a project's pyproject.toml, read in one place.

Two commands read it (`run`/`list`: `contracts = [...]`; `lint`/`explain`: the `bounds` sub-table); one
reader means one TOML parser on every Python version (the standard library's `tomllib`, or its `tomli`
backport on 3.10, a dependency there), one error line for a file that is not TOML, and one check per key.
Standard library only: `shapecheck lint` imports it and must stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shapecheck.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the tomli backport (a dependency there)
    import tomli as tomllib


def table(directory: Path | None = None) -> dict[str, Any]:
    """`[tool.shapecheck]` of `directory`'s pyproject.toml (the current directory's), or {} without one."""
    path = (directory or Path.cwd()) / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        found = tomllib.loads(path.read_text()).get("tool", {}).get("shapecheck", {})
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    if not isinstance(found, dict):
        raise UsageError(f"{path}: [tool.shapecheck] must be a table, found {found!r}")
    return found


def contract_modules(directory: Path | None = None) -> list[str]:
    """`[tool.shapecheck] contracts = [...]`: modules whose contracts `run` and `list` know."""
    modules = table(directory).get("contracts", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        path = (directory or Path.cwd()) / "pyproject.toml"
        raise UsageError(f"{path}: [tool.shapecheck] contracts must be a list of module names, found {modules!r}")
    return modules


def bounds(directory: Path | None = None) -> dict[str, int]:
    """`[tool.shapecheck.bounds]`: the largest size of each named dimension, for `lint` and `explain`."""
    found = table(directory).get("bounds", {})
    try:
        return {str(k): int(v) for k, v in found.items()}
    except (AttributeError, TypeError, ValueError):
        path = (directory or Path.cwd()) / "pyproject.toml"
        raise UsageError(
            f"{path}: [tool.shapecheck.bounds] must map dimension names to integers (V = 256), found {found!r}"
        ) from None
