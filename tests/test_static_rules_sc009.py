"""SC009 (an argument the kernel writes in place, rebound to a copy before the launch): the fixture's planted
lines and nothing else; a copy of a read-only input, a copy back, a returned state, a required layout stay
clean; "written" comes from the kernel's stores or from the contract's `InPlace()`."""

from __future__ import annotations

from shapecheck.static.inplace import lost_writes
from shapecheck.static.kernelcalls import written_parameters
from shapecheck.static.source import ModuleSource
from tests.lint_rule_helpers import FIXTURES, found, suppressed_line

FIXTURE = FIXTURES / "lint_sc009_inplace.py"


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
