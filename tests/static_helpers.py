"""Helpers of the `explain` tests: run the command, find a statement's line, match an output line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Union

from typer.testing import CliRunner

from shapecheck import cli

runner = CliRunner()


def line_of(path: Union[str, Path], statement: str) -> int:
    """The line number of the one line of `path` that starts with `statement` (after indentation)."""
    lines = Path(path).read_text().splitlines()
    [number] = [i for i, text in enumerate(lines, start=1) if text.strip().startswith(statement)]
    return number


def explain(target: str, *args: str) -> str:
    """`shapecheck explain TARGET ARGS...`'s output; the command must succeed."""
    result = runner.invoke(cli.app, ["explain", target, *args])
    assert result.exit_code == 0, result.output
    return result.output


def has_line(output: str, pattern: str) -> bool:
    return re.search(pattern, output, flags=re.MULTILINE) is not None
