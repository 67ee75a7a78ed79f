"""Reach of the analyser on upstream idioms: import aliases and re-exports, calls into sibling modules,
Optional outputs, a known branch next to an unknown one, `new_empty(..., dtype=)`, guards in `else`
branches, and output-only dimensions that jaxtyping binds at the return.
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from shapecheck.static.analysis import analyse_function
from shapecheck.static.linter import lint_paths
from shapecheck.static.symbols import cdiv, dim
from shapecheck.static.values import Tensor, Tup

B, T, H, K, V, HV, M, D = (dim(n) for n in "B T H K V HV M D".split())


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_sibling_modules_aliases_optional_and_a_partly_known_branch(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/utils.py": "from vllm.triton_utils import tl, triton\n\n\n"
            "def alloc(k, v, chunk: int = 64):\n    B, T, H, K = k.shape\n"
            "    return k.new_empty(B, triton.cdiv(T, chunk), H, K, v.shape[-1])\n",
            "pkg/ops.py": "from .utils import alloc\n\n\n"
            "def run(k, v, cu_seqlens=None, final: bool = False, initial_state=None):\n"
            "    B, T, H, K, V = *k.shape, v.shape[-1]\n    HV = v.shape[2]\n"
            "    h = alloc(k, v)\n"
            "    ht = k.new_empty(B, HV, K, V, dtype=initial_state.dtype) if final else None\n"
            "    NT = len(cu_seqlens) if cu_seqlens is not None else h.shape[1]\n"
            "    return h, ht, NT\n",
        },
    )
    analysis = analyse_function(tmp_path / "pkg" / "ops.py", "run")
    assert isinstance(analysis.output, Tup)
    h, ht, nt = analysis.output.items
    assert isinstance(h, Tensor) and h.shape == (B, cdiv(T, 64), H, K, V)  # followed into pkg/utils.py
    assert isinstance(ht, Tensor) and ht.shape == (B, HV, K, V) and ht.maybe_none  # "[B, HV, K, V] or None"
    assert isinstance(nt, sp.Piecewise) and nt.args[1].expr == cdiv(T, 64)  # the known branch survives
    assert str(nt.args[0].expr).startswith("unknown(line ")


def test_lint_does_not_report_a_grid_axis_it_only_half_knows(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "half.py": "import triton\n\n\n@triton.jit\ndef kern(x):\n    pass\n\n\n"
            "def launch(x, cu_seqlens=None):\n    B, T = x.shape\n"
            "    NT = len(cu_seqlens) if cu_seqlens is not None else B * T\n"
            "    kern[(1, NT)](x)\n"
        },
    )
    assert [f.code for f in lint_paths([tmp_path / "half.py"]).findings] == []


def test_guard_in_the_else_branch_reads_the_condition(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "g.py": "def f(x):\n    B, T = x.shape\n    if True:\n        y = x\n    else:\n"
            "        raise ValueError('never')\n    return y\n"
        },
    )
    analysis = analyse_function(tmp_path / "g.py", "f")
    notes = [n for s in analysis.steps for n in s.notes]
    assert notes == ["the guard never fires: `True` is always True"]


def test_output_only_dimensions_bind_at_the_return(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "o.py": "from jaxtyping import Float, Int\nfrom torch import Tensor\n\n\n"
            "def pool(x: Float[Tensor, 'T D'], cu: Int[Tensor, 'M']) -> Float[Tensor, 'N D']:\n"
            "    N = len(cu) - 1\n    return x.new_empty(N, x.shape[1])\n\n\n"
            "def square(x: Float[Tensor, 'T D']) -> Float[Tensor, 'N N']:\n"
            "    return x.new_empty(x.shape[0], x.shape[1])\n\n\n"
            "def scalar(x: Float[Tensor, 'B T'], T: int) -> Float[Tensor, 'B T']:\n"
            "    return x.new_empty(x.shape[0], T)\n"
        },
    )
    pool = analyse_function(tmp_path / "o.py", "pool")
    assert pool.agreement().status == "agree" and pool.agreement().notes == ("N = M - 1 (bound at the return)",)
    assert [v.name for s in pool.steps for n, v in s.results if n == "N"] == ["N"]  # not a renamed `N'`
    assert analyse_function(tmp_path / "o.py", "scalar").agreement().status == "agree"
    [finding] = lint_paths([tmp_path / "o.py"]).findings  # N binds once: [T, D] is not [N, N]
    assert finding.message == "`square`: inferred [T, D] but declared [N, N]"
