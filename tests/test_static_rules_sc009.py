"""SC009 (an argument the kernel writes in place, rebound to a copy before the launch): the fixture's planted
lines and nothing else; a copy of a read-only input, a copy back, a returned state, a required layout stay
clean; "written" comes from the kernel's stores or from the contract's `InPlace()`."""

from __future__ import annotations

from collections import Counter

from shapecheck.static.inplace import lost_writes
from shapecheck.static.kernelcalls import written_parameters
from shapecheck.static.source import ModuleSource
from tests.lint_rule_helpers import FIXTURES, found, planted, suppressed_line

FIXTURE = FIXTURES / "lint_sc009_inplace.py"


def test_planted_lines_and_nothing_else() -> None:
    findings = found(FIXTURE, "SC009")
    assert Counter(f.line for f in findings) == planted(FIXTURE, "SC009")
    assert [f.function for f in findings] == ["update_lost", "update_cast", "update_marked"]


def test_message_names_the_copy_the_kernel_and_its_parameter() -> None:
    first = found(FIXTURE, "SC009")[0]
    assert (first.line, first.col) == (29, 9)
    assert first.message == (
        "`state_pool` is rebound to `.contiguous()` (a copy when the layout or dtype differs) but "
        "`_state_update_kernel` writes it in place (as `pool`, launch at line 31): the update lands in the copy and "
        "the caller's tensor keeps its old values; require the layout or copy back with `.copy_()`")


def test_written_parameters_follow_pointers_not_loaded_values() -> None:
    module = ModuleSource.load(FIXTURE)
    assert written_parameters(module.functions["_state_update_kernel"]) == {"pool", "o"}
    assert written_parameters(module.functions["_opaque_kernel"]) == {"o"}


def test_inplace_marker_of_the_contract_counts_as_written() -> None:
    module = ModuleSource.load(FIXTURE)
    [lost] = lost_writes(module, module.functions["update_marked"])
    assert (lost.name, lost.copy, lost.kernel) == ("pool", "to", "_opaque_kernel")


def test_suppression() -> None:
    line = suppressed_line(FIXTURE, "SC009")
    module = ModuleSource.load(FIXTURE)
    assert [w.node.lineno for w in lost_writes(module, module.functions["update_suppressed"])] == [line]
    assert line not in {f.line for f in found(FIXTURE, "SC009")}
