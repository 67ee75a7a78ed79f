"""The lint cache (shapecheck/static/lintcache.py): an unchanged file is answered without the analyser, and
every change that could change its findings (its bytes, a module its analysis resolved, a file an import
would now find first, the bounds) makes it analysed again, with the same findings as a run without a cache."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shapecheck.static import linter
from shapecheck.static.lintcache import LintCache
from shapecheck.static.linter import lint_paths

PLANTED = Path(__file__).parent / "fixtures" / "lint_planted.py"


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the analyser really ran on, in order."""
    seen: list[str] = []
    real = linter.lint_file

    def spy(path: Path, raw: bytes, bounds: dict[str, int]) -> linter.Entry:
        seen.append(path.name)
        return real(path, raw, bounds)

    monkeypatch.setattr(linter, "lint_file", spy)
    return seen


def test_an_unchanged_file_is_answered_from_the_cache_with_the_same_findings(
    tmp_path: Path, analysed: list[str]
) -> None:
    target = tmp_path / "planted.py"
    shutil.copy(PLANTED, target)
    cache = LintCache(tmp_path / "cache")
    fresh = lint_paths([target])
    assert len(fresh.findings) >= 7 and analysed == ["planted.py"]
    first, again = lint_paths([target], cache=cache), lint_paths([target], cache=cache)
    assert analysed == ["planted.py", "planted.py"], "the second cached run analysed nothing"
    assert first.findings == again.findings == fresh.findings and again.functions == fresh.functions
    only = lint_paths([target], select=["SC006"], cache=cache)
    assert only.findings == [f for f in fresh.findings if f.code == "SC006"] != [], "--select applies to cached results"
    assert len(analysed) == 2
    target.write_text(target.read_text() + "\n\ndef added(x):\n    return x\n")
    assert lint_paths([target], cache=cache).findings == lint_paths([target]).findings
    assert analysed == ["planted.py"] * 4, "an edited file is analysed again (and once without the cache)"
    assert lint_paths([target], {"V": 256}, cache=cache).findings == lint_paths([target], {"V": 256}).findings
    assert len(analysed) == 6, "other bounds are another entry"


def test_the_contract_module_a_wrapper_resolves_invalidates_it(tmp_path: Path, analysed: list[str]) -> None:
    """kernels/gdn.py declares its shapes through `@contract(GDN_DECODE)`, found statically in contracts/gdn.py."""
    root = Path(__file__).parent.parent
    for name in ("kernels/gdn.py", "contracts/gdn.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, tmp_path / name)
    wrapper, cache = tmp_path / "kernels" / "gdn.py", LintCache(tmp_path / "cache")
    lint_paths([wrapper], cache=cache)
    lint_paths([wrapper], cache=cache)
    assert analysed == ["gdn.py"]
    contract = tmp_path / "contracts" / "gdn.py"
    contract.write_text(contract.read_text() + "\n# edited\n")
    lint_paths([wrapper], cache=cache)
    assert analysed == ["gdn.py"] * 2, "the contract it resolved changed"
    shadow = tmp_path / "kernels" / "shapecheck" / "contracts" / "gdn.py"
    shadow.parent.mkdir(parents=True)
    shutil.copy(contract, shadow)
    lint_paths([wrapper], cache=cache)
    lint_paths([wrapper], cache=cache)
    assert analysed == ["gdn.py"] * 3, "a file the import now finds first; then cached again"


def test_an_unreadable_or_corrupt_entry_is_a_miss_never_an_error(tmp_path: Path, analysed: list[str]) -> None:
    target = tmp_path / "planted.py"
    shutil.copy(PLANTED, target)
    cache = LintCache(tmp_path / "cache")
    expected = lint_paths([target], cache=cache).findings
    for entry in (tmp_path / "cache").glob("*.json"):
        entry.write_text("{not json")
    assert lint_paths([target], cache=cache).findings == expected and len(analysed) == 2
    blocked = LintCache(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("")  # the folder cannot be created: results still come, uncached
    assert lint_paths([target], cache=blocked).findings == expected


@pytest.mark.slow  # the CLI in fresh processes
def test_the_command_line_caches_and_a_cached_run_imports_no_sympy(tmp_path: Path) -> None:
    target = tmp_path / "planted.py"
    shutil.copy(PLANTED, target)
    env_cache = str(tmp_path / "cache")
    probe = (
        "import sys\nfrom shapecheck.cli import app\nsys.argv = ['shapecheck', 'lint', *sys.argv[1:]]\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    print('sympy' in sys.modules, exit.code)\n"
    )
    run = [sys.executable, "-c", probe, str(target)]
    env = {"SHAPECHECK_CACHE_DIR": env_cache, "PATH": "", "HOME": str(tmp_path)}
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    second = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    uncached = subprocess.run([*run, "--no-cache"], capture_output=True, text=True, env=env, timeout=120)
    assert first.stdout.splitlines()[-1] == "True 1" and uncached.stdout.splitlines()[-1] == "True 1"
    assert second.stdout.splitlines()[-1] == "False 1", "answered from the cache: sympy never imported"
    assert first.stdout.splitlines()[:-1] == second.stdout.splitlines()[:-1] == uncached.stdout.splitlines()[:-1]


@pytest.mark.slow  # the CLI in a fresh process
def test_watch_lints_again_when_a_file_or_its_contract_changes(tmp_path: Path) -> None:
    """`lint --watch`: one long-lived process; an edit of the file, or of the contract module it resolves, is
    seen within a poll and reported with the new findings."""
    root = Path(__file__).parent.parent
    for name in ("kernels/gdn.py", "contracts/gdn.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, tmp_path / name)
    wrapper = tmp_path / "kernels" / "gdn.py"
    env = {**os.environ, "SHAPECHECK_CACHE_DIR": str(tmp_path / "cache")}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "shapecheck.cli", "lint", "--watch", str(wrapper)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout or []], daemon=True).start()

    def until(text: str) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            if text in seen[-1]:
                return seen
        raise AssertionError(f"no {text!r} in {seen}")

    try:
        assert until("All checks passed")[-1].startswith("All checks passed: 4 functions in 1 file")
        text = wrapper.read_text()
        wrapper.write_text(text.replace("return o.squeeze(0)", "return o.squeeze(1)"))
        report = until("Found ")
        assert any("changed: " in line and "gdn.py" in line for line in report)
        assert any(": SC002 " in line for line in report), report
        wrapper.write_text(text)
        assert until("All checks passed")
        contract = tmp_path / "contracts" / "gdn.py"
        contract.write_text(
            contract.read_text().replace(') -> Float[Tensor, "B T HV V"]', ') -> Float[Tensor, "B T HV K"]')
        )
        assert any(": SC001 " in line for line in until("Found ")), "the edited contract module was read again"
    finally:
        watcher.terminate()
        watcher.wait(10)
