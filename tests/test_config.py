"""One reader of `[tool.shapecheck]` (`shapecheck/config.py`): the contracts `run` knows and the bounds `lint`
uses come from the same table, parsed the same way on every Python version."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shapecheck import config
from shapecheck.errors import UsageError
from shapecheck.static.commands import configured_bounds

PACKAGE = Path(__file__).resolve().parent.parent / "shapecheck"


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(text)
    return tmp_path


def test_contracts_and_bounds_come_from_the_one_table(tmp_path: Path) -> None:
    root = _project(tmp_path, '[tool.shapecheck]\ncontracts = ["a.b"]\n[tool.shapecheck.bounds]\nV = 256\nK = 128\n')
    assert config.table(root) == {"contracts": ["a.b"], "bounds": {"V": 256, "K": 128}}
    assert config.contract_modules(root) == ["a.b"]
    assert config.bounds(root) == {"V": 256, "K": 128}


def test_no_pyproject_or_no_table_is_empty(tmp_path: Path) -> None:
    assert (config.table(tmp_path), config.contract_modules(tmp_path), config.bounds(tmp_path)) == ({}, [], {})
    root = _project(tmp_path, '[project]\nname = "p"\n')
    assert (config.table(root), config.contract_modules(root), config.bounds(root)) == ({}, [], {})


def test_command_line_bounds_override_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path, "[tool.shapecheck.bounds]\nV = 256\nK = 128\n"))
    assert configured_bounds(["V=64", "T=4096"]) == {"V": 64, "K": 128, "T": 4096}


@pytest.mark.parametrize(
    "text,message",
    [
        ("[tool.shapecheck\n", "not valid TOML: "),
        (
            '[tool.shapecheck]\ncontracts = "a.b"\n',
            "[tool.shapecheck] contracts must be a list of module names, found 'a.b'",
        ),
        (
            '[tool.shapecheck.bounds]\nV = "wide"\n',
            "[tool.shapecheck.bounds] must map dimension names to integers (V = 256), found {'V': 'wide'}",
        ),
    ],
)
def test_a_malformed_table_is_one_usage_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    root = _project(tmp_path, text)
    with pytest.raises(UsageError) as info:
        config.contract_modules(root) if "contracts" in text else config.bounds(root)
    assert str(info.value).startswith(f"{root / 'pyproject.toml'}: {message}"), str(info.value)


def test_only_the_config_module_reads_toml() -> None:
    """Two readers drifted before: one skipped `[tool.shapecheck.bounds]` on Python 3.10, which has no tomllib."""
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and {"tomllib", "tomli"} & {getattr(node, "module", None), *(a.name for a in node.names)}
    )
    assert readers == ["config.py", "config.py"]  # tomllib, or tomli on 3.10
