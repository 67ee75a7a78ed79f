"""Run the `shapecheck` command as a user would: the installed console script, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shapecheck_command() -> list[str]:
    script = Path(sys.executable).with_name("shapecheck")
    return [str(script)] if script.exists() else [sys.executable, "-m", "shapecheck.cli"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}


def shapecheck(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*shapecheck_command(), *args], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def run_line(line: str, *, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a printed command line verbatim, through the shell, as a user pasting it would."""
    return subprocess.run(line, shell=True, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
