"""The one folder shapecheck keeps between runs: Hypothesis's example database and patched sources.

Set by `--cache-dir` or `SHAPECHECK_CACHE_DIR` (the option sets the variable, so worker and mutant processes
use the same folder); by default `.shapecheck_cache` next to the project's pyproject.toml (the nearest one
above the working directory), so a run from a subfolder finds the examples a run from the root stored.
Read when used, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "SHAPECHECK_CACHE_DIR"
DEFAULT_NAME = ".shapecheck_cache"


def cache_dir() -> Path:
    """The cache folder now (not created)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    here = Path.cwd()
    project = next((d for d in (here, *here.parents) if (d / "pyproject.toml").is_file()), here)
    return project / DEFAULT_NAME


def hypothesis_home() -> None:
    """Point Hypothesis's own storage (its `.hypothesis/` folder of harvested constants) into the cache folder,
    so a `shapecheck run` leaves nothing in the working directory but what the user asked for. Only for the
    commands' processes: a user's own pytest session keeps Hypothesis's default."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(cache_dir() / "hypothesis-home")
