"""SC008-SC010 on their fixtures: exactly the planted lines (`# expect: CODE`), in the functions named, and the
first finding's position and message, so a rule that grows a false positive or loses a true one fails here."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.lint_rule_helpers import FIXTURES, found, planted

CASES = {  # code: (fixture, functions with findings in order, (line, col) of the first, its message)
    "SC008": (
        "lint_sc008_optional.py",
        ["decay_unguarded", "decay_default_flag", "decay_arithmetic", "decay_arithmetic"],
        (28, 12),
        "`cu_seqlens` may be None here (`.is_contiguous` on it): a call that leaves `cu_seqlens` "
        "out reaches this line unguarded; check `cu_seqlens is not None` first",
    ),
    "SC009": (
        "lint_sc009_inplace.py",
        ["update_lost", "update_cast", "update_marked"],
        (29, 9),
        "`state_pool` is rebound to `.contiguous()` (a copy when the layout or dtype differs) but "
        "`_state_update_kernel` writes it in place (as `pool`, launch at line 31): the update lands in the copy "
        "and the caller's tensor keeps its old values; require the layout or copy back with `.copy_()`",
    ),
    "SC010": (
        "lint_sc010_strides.py",
        ["gate_token_stride", "gate_keyword"],
        (32, 16),
        "`_gate_kernel` steps whole multiples of `T` (axis 1's extent, so an outer axis) by `stride_g`, axis 1's "
        "stride of `g` (`bos * stride_g`, kernel line 21): right only when `g` is contiguous across those axes; "
        "assert `g.is_contiguous()` or pass the outer axis's stride",
    ),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_planted_lines_and_nothing_else(code: str) -> None:
    name, functions, first_at, first_message = CASES[code]
    fixture = FIXTURES / name
    findings = found(fixture, code)
    assert Counter(f.line for f in findings) == planted(fixture, code)
    assert [f.function for f in findings] == functions
    assert ((findings[0].line, findings[0].col), findings[0].message) == (first_at, first_message)
    assert {f.code for f in findings} == {code}


def test_select_keeps_one_rule_and_ignore_drops_it() -> None:
    fixture = FIXTURES / "lint_vllm_style.py"
    assert {f.code for f in found(fixture, "SC009")} == {"SC009"}
    assert {f.code for f in found(fixture, "SC008", "SC01")} == {"SC008", "SC010"}
