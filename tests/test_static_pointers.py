"""SC006/SC007 on the idioms of real kernels: each case (tests/static_pointer_cases.toml) is a kernel body and
the products lint must report (outermost product text, reported once per chain), so a precision fix that loses
a true positive fails here too."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from shapecheck.static.pointers import unsafe_offsets
from shapecheck.static.source import ModuleSource
from tests.tables import read_toml

HEADER = (
    "import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
    "def k(x, y, idx, cu_seqlens, chunk_indices, stride, T, H: tl.constexpr, K: tl.constexpr, V: tl.constexpr,"
    " BT: tl.constexpr):\n"
)

# name -> (kernel body, [(code, product text)]), the body indented into HEADER's function
CASES = {
    name: (textwrap.indent(case["body"], "    "), [tuple(found) for found in case["expect"]])
    for name, case in read_toml(Path(__file__).parent / "static_pointer_cases.toml").items()
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_int32_offsets(name: str) -> None:
    body, expected = CASES[name]
    kernel = ModuleSource.parse(HEADER + body).functions["k"]
    found = [(o.code, ast.unparse(o.node)) for o in unsafe_offsets(kernel)]
    assert found == expected
