"""Test tables kept as TOML beside the tests that read them: rows of data, not code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the tomli backport (a dependency there)
    import tomli as tomllib


def read_toml(path: Path) -> dict[str, Any]:
    """The table in `path`."""
    return tomllib.loads(path.read_text())
