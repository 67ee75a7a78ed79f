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


def outside_env() -> dict[str, str]:
    """The environment of a user's shell outside this repository: no PYTHONPATH to it, the CLI's own choice of
    interpreter or GPU (no TRITON_INTERPRET), this venv's console script first on PATH, wide lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRITON_INTERPRET")}
    return {**env, "COLUMNS": "300", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}


def shapecheck(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*shapecheck_command(), *args], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def shapecheck_outside(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script run from `cwd` in a user's shell outside this repository (`outside_env`)."""
    return subprocess.run(
        [*shapecheck_command(), *args], cwd=cwd, env=outside_env(), capture_output=True, text=True, timeout=600
    )


def run_line(line: str, *, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a printed command line verbatim, through the shell, as a user pasting it would."""
    return subprocess.run(line, shell=True, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def fails_and_replays(line: str, report: Path, *, cwd: Path, env: dict[str, str]) -> dict[str, object]:
    """Run a `shapecheck run ... --json REPORT` line that must find a violation (exit 1), then its printed
    reproduction line verbatim, which must fail again; returns the report's failure."""
    import json

    result = subprocess.run(line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    failure = json.loads(report.read_text())["contracts"][0]["failure"]
    assert failure["problems"] and "Traceback" not in result.stdout + result.stderr
    again_line = failure["reproduce"]
    assert again_line in result.stdout, "the printed line is the one in the report"
    again = subprocess.run(again_line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again_line + "\n" + again.stdout + again.stderr
    assert "VIOLATED" in again.stdout
    assert all(problem in again.stdout for problem in failure["problems"]), (failure["problems"], again.stdout)
    return failure
