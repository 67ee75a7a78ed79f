"""One cache-folder setting: --cache-dir / SHAPECHECK_CACHE_DIR, else next to the project's pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shapecheck import cache, cli, patching


def test_default_is_next_to_the_nearest_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.ENV, raising=False)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "deep")
    assert cache.cache_dir() == tmp_path / ".shapecheck_cache"
    assert patching.patch_dir() == tmp_path / ".shapecheck_cache" / "patched"


def test_the_variable_wins_and_the_option_sets_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    result = CliRunner().invoke(cli.app, ["--cache-dir", str(tmp_path / "other"), "list"])
    assert result.exit_code == 0, result.output
    assert cache.cache_dir() == tmp_path / "other"  # what the commands and their worker processes read
