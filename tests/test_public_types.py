"""The public face as a type checker sees it: `shapecheck`'s names resolve lazily at run time (PEP 562), and
`if TYPE_CHECKING:` re-exports in `shapecheck/__init__.py` give mypy and pyright their real types, not Any."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import shapecheck

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

ROOT = Path(__file__).resolve().parent.parent


def _revealed(tmp_path: Path, script: str) -> dict[int, str]:
    """mypy (this interpreter's) on `script`, as a user's project would run it: line -> revealed type."""
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(script)
    (tmp_path / "mypy.ini").write_text("[mypy]\nfollow_imports = silent\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache"), "user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        int(m[1]): m[2] for m in re.finditer(r'^user\.py:(\d+): note: Revealed type is "(.*)"$', result.stdout, re.M)
    }


def test_mypy_sees_the_real_types_of_the_public_names(tmp_path: Path) -> None:
    script = (
        "from shapecheck import Contract, Dim, contract\n"
        "import shapecheck\n"
        "reveal_type(Contract)\n"
        "reveal_type(Dim)\n"
        "reveal_type(contract)\n"
        "reveal_type(Dim('heads', 1, 4))\n"
        + "".join(f"reveal_type(shapecheck.{name})\n" for name in shapecheck.__all__)
    )
    revealed = _revealed(tmp_path, script)
    assert revealed[3].endswith("-> shapecheck.spec.Contract")
    assert revealed[4].endswith("-> shapecheck.spec.Dim")
    assert revealed[5].startswith("def (c: shapecheck.spec.Contract, *, mode:")
    assert revealed[6] == "shapecheck.spec.Dim"
    typed = {name: revealed[7 + i] for i, name in enumerate(shapecheck.__all__)}
    assert [name for name, t in typed.items() if "Any" == t] == []
    assert typed["strategies"] == "types.ModuleType"  # mypy's word for a module object
