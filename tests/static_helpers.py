"""Helpers of the `explain` tests: run the command, find a statement's line, match an output line, load an
emitted draft contract and judge a call by it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Union

from typer.testing import CliRunner

import shapecheck
from shapecheck import cli
from shapecheck.spec import Contract

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


def load_draft(text: str, folder: Path, name: str) -> ModuleType:
    """An `explain --emit-contract` draft, written to FOLDER/NAME_draft.py and imported as a module."""
    path = folder / f"{name}_draft.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"{name}_draft", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def verdict(contract: Contract, args: dict[str, Any]) -> str:
    """ "accepted", or the argument the contract's shape checks blame (values are not read)."""
    try:
        contract.validate(contract.arguments((), args), values=False)
    except shapecheck.ContractViolation as exc:
        return exc.argument
    return "accepted"
