"""The interpreter sanitizer catches each planted memory bug, names it precisely, and stays silent (with
correct results) on the correct twins. Values are asserted, not just the absence of an exception."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

# Fallback for running this file alone; must precede @triton.jit. Like the suite's conftest, only without a
# GPU: setting it here on a GPU run would leak into every kernel module imported after this one.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("the sanitizer checks Triton's CPU interpreter (TRITON_INTERPRET=1)", allow_module_level=True)

from triton.runtime import interpreter

from shapecheck.errors import UsageError
from shapecheck.sanitizer import MemoryViolation, run_sanitized, sanitize

FIXTURE = Path(__file__).parent / "fixtures" / "planted_memory_bugs.py"


def _load_fixture() -> ModuleType:
    """By path, so the import works whether or not `tests` is a package and whatever pytest's rootdir."""
    spec = importlib.util.spec_from_file_location("planted_memory_bugs", FIXTURE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bugs = _load_fixture()


def line_of(marker: str) -> int:
    """Line number of the fixture line carrying `marker`, so the tests do not hard-code line numbers."""
    lines = FIXTURE.read_text().splitlines()
    return next(n for n, text in enumerate(lines, start=1) if marker in text)


def violation(launch, **options) -> MemoryViolation:
    with pytest.raises(MemoryViolation) as caught, sanitize(**options):
        launch()
    return caught.value


# --- 1. unmasked tail load ---------------------------------------------------------------------------------


def test_unmasked_tail_load_is_caught_with_a_precise_message() -> None:
    x, y = torch.arange(5, dtype=torch.float32), torch.zeros(5)
    v = violation(lambda: bugs.load_tail_unmasked[(1,)](x, y, 5, BLOCK=8))
    assert (v.kernel, v.pid, v.op, v.region.name, v.outside) == (
        "load_tail_unmasked",
        (0, 0, 0),
        "load",
        "x_ptr",
        "storage",
    )
    assert v.offsets == [5, 6, 7] and (v.n_bad, v.n_active) == (3, 8)
    assert v.derived  # the pointer's origin was tracked from x_ptr through splat and addptr
    message = str(v)
    for part in (
        "`load_tail_unmasked`",
        "program id (0, 0, 0)",
        "load",
        "`x_ptr`",
        "numel 5",
        "20 bytes",
        "valid element offsets [0, 5)",
        "5, 6, 7",
        "3 of 8 active lanes",
        f"planted_memory_bugs.py:{line_of('BUG: unmasked tail load')}",
        "x = tl.load(x_ptr + offs)",
    ):
        assert part in message, (part, message)
    assert "\n" not in message


# --- 2. store past the end ---------------------------------------------------------------------------------


def test_store_past_the_end_is_caught_before_it_writes() -> None:
    buffer = torch.full((12,), -7.0)
    x, y = torch.arange(5, dtype=torch.float32), buffer[:5]  # the bytes behind y are ours to inspect
    v = violation(lambda: bugs.store_tail_unmasked[(2,)](x, y, 5, BLOCK=4))
    assert (v.kernel, v.pid, v.op, v.region.name, v.offsets) == (
        "store_tail_unmasked",
        (1, 0, 0),
        "store",
        "y_ptr",
        [5, 6, 7],
    )
    assert v.outside == "view"  # inside `buffer`'s storage, outside the view passed as y
    assert f"planted_memory_bugs.py:{line_of('BUG: unmasked tail store')}" in str(v)
    assert torch.equal(buffer[5:], torch.full((7,), -7.0))


def test_store_past_the_end_of_a_whole_tensor_leaves_its_storage() -> None:
    x, y = torch.arange(6, dtype=torch.float32), torch.zeros(6)
    v = violation(lambda: bugs.store_tail_unmasked[(2,)](x, y, 6, BLOCK=4))
    assert (v.pid, v.offsets, v.outside) == ((1, 0, 0), [6, 7], "storage")
    assert "numel 6, 24 bytes" in str(v)


# --- 3. slot -1 --------------------------------------------------------------------------------------------


def test_read_from_slot_minus_one_is_caught_with_negative_offsets() -> None:
    pool = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    idx, out = torch.tensor([2, -1], dtype=torch.int32), torch.zeros(2, 4)
    v = violation(lambda: bugs.gather_slots[(2,)](pool, idx, out, 4, 4, BLOCK_D=4))
    assert (v.kernel, v.pid, v.region.name, v.offsets) == ("gather_slots", (1, 0, 0), "pool_ptr", [-4, -3, -2, -1])
    assert v.derived
    message = str(v)
    assert "-4, -3, -2, -1" in message and "shape (4, 4), numel 16, 64 bytes" in message
    assert f"planted_memory_bugs.py:{line_of('BUG: slot -1')}" in message
    assert torch.equal(out[0], pool[2])  # program 0 ran to completion before program 1 faulted


def test_slot_minus_one_of_a_pool_view_is_caught_inside_the_parent_storage() -> None:
    parent = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    pool, idx, out = parent[1:], torch.tensor([-1], dtype=torch.int32), torch.zeros(1, 4)
    v = violation(lambda: bugs.gather_slots[(1,)](pool, idx, out, 4, 4, BLOCK_D=4))
    assert (v.outside, v.offsets) == ("view", [-4, -3, -2, -1])
    assert "valid element offsets [0, 12)" in str(v) and "element offsets [-4, 12)" in str(v)
    # `bounds="storage"` only guards memory safety: the same read then passes and returns the parent's row 0.
    with sanitize(bounds="storage") as report:
        bugs.gather_slots[(1,)](pool, idx, out, 4, 4, BLOCK_D=4)
    assert report.ok and torch.equal(out[0], parent[0])


# --- 4. int32 wrap of a slot offset --------------------------------------------------------------------------


def test_int32_wrap_of_slot_times_stride_is_caught_as_a_negative_offset() -> None:
    pool, idx, out = torch.zeros(4, 4), torch.tensor([3], dtype=torch.int32), torch.zeros(1, 4)
    stride = 2**30  # 3 * 2**30 > 2**31 - 1: in int32 it wraps to 3 * 2**30 - 2**32 = -2**30
    v = violation(lambda: bugs.gather_slots[(1,)](pool, idx, out, stride, 4, BLOCK_D=4))
    assert v.offsets == [-(2**30), -(2**30) + 1, -(2**30) + 2, -(2**30) + 3]
    assert "-1073741824, -1073741823" in str(v)
    # The int64 twin computes the true offset: still outside this small pool, but past its end, not before it.
    v64 = violation(lambda: bugs.gather_slots_safe[(1,)](pool, idx, out, stride, 4, BLOCK_D=4))
    assert v64.offsets[0] == 3 * 2**30


# --- 5. the correct twins: no finding, right values ------------------------------------------------------


@pytest.mark.parametrize(("n", "block", "grid"), [(5, 8, 1), (5, 4, 2), (8, 4, 2), (1, 2, 1)])
def test_masked_copy_has_no_finding_and_is_correct(n: int, block: int, grid: int) -> None:
    x, y = torch.randn(n), torch.full((n,), float("nan"))
    with sanitize() as report:
        bugs.copy_masked[(grid,)](x, y, n, BLOCK=block)
    assert report.ok and report.launches == 1 and report.accesses == 2 * grid
    torch.testing.assert_close(y, 2 * x)


def test_safe_gather_has_no_finding_and_reads_empty_slots_as_zero() -> None:
    pool = torch.arange(15, dtype=torch.float32).reshape(5, 3)
    idx, out = torch.tensor([4, -1, 0, 2], dtype=torch.int32), torch.full((4, 3), float("nan"))
    with sanitize() as report:
        bugs.gather_slots_safe[(4,)](pool, idx, out, 3, 3, BLOCK_D=4)
    assert report.ok
    torch.testing.assert_close(out, torch.stack([pool[4], torch.zeros(3), pool[0], pool[2]]))


def test_buggy_gather_has_no_finding_while_its_inputs_are_valid() -> None:
    pool = torch.arange(15, dtype=torch.float32).reshape(5, 3)
    idx, out = torch.tensor([4, 0], dtype=torch.int32), torch.zeros(2, 3)
    with sanitize() as report:
        bugs.gather_slots[(2,)](pool, idx, out, 3, 3, BLOCK_D=4)
    assert report.ok
    torch.testing.assert_close(out, pool[[4, 0]])


# --- the other ways to reach memory ----------------------------------------------------------------------


def test_violation_in_a_jit_helper_shows_the_call_chain() -> None:
    x, y = torch.arange(5, dtype=torch.float32), torch.zeros(5)
    v = violation(lambda: bugs.load_via_helper[(1,)](x, y, 5, BLOCK=8))
    assert v.kernel == "load_via_helper" and v.offsets == [5, 6, 7]
    message = str(v)
    assert f"planted_memory_bugs.py:{line_of('BUG: unmasked load inside a helper')}" in message
    caller_file, caller_line = message.split("in `_load_block` called from ", 1)[1].split(":")[:2]
    assert caller_file.endswith("planted_memory_bugs.py") and int(caller_line) == line_of("CALL: helper")


def test_atomics_are_checked() -> None:
    counts, bins = torch.zeros(4, dtype=torch.int32), torch.tensor([0, 1, 1], dtype=torch.int32)
    v = violation(lambda: bugs.atomic_count[(1,)](counts, bins, 3, BLOCK=4, MASKED=False))
    assert (v.op, v.region.name, v.offsets, v.n_bad) == ("atomic", "counts_ptr", [2**20], 1)
    counts.zero_()
    with sanitize() as report:
        bugs.atomic_count[(1,)](counts, bins, 3, BLOCK=4, MASKED=True)
    assert report.ok and counts.tolist() == [1, 2, 0, 0]


@pytest.mark.filterwarnings("ignore:tl.make_block_ptr is deprecated")
def test_block_pointers_are_checked() -> None:
    x, y = torch.arange(5, dtype=torch.float32), torch.zeros(5)
    v = violation(lambda: bugs.block_ptr_copy[(2,)](x, y, 5, BLOCK=4, CHECK=False))
    assert (v.pid, v.region.name, v.offsets) == ((1, 0, 0), "x_ptr", [5, 6, 7])
    with sanitize() as report:
        bugs.block_ptr_copy[(2,)](x, y, 5, BLOCK=4, CHECK=True)
    assert report.ok and torch.equal(y, x)


def test_pointer_of_lost_origin_must_land_in_some_argument() -> None:
    a, b = torch.arange(5, dtype=torch.float32), -torch.arange(5, dtype=torch.float32)
    y = torch.zeros(2, 5)
    v = violation(lambda: bugs.pick_source[(2,)](a, b, y, 5, BLOCK=8, MASKED=False))
    assert not v.derived and v.region.name == "a_ptr" and v.offsets == [5, 6, 7]
    assert "origin was lost" in str(v)
    with sanitize() as report:
        bugs.pick_source[(2,)](a, b, y, 5, BLOCK=8, MASKED=True)
    assert report.ok and torch.equal(y, torch.stack([a, b]))


# --- record mode, opt-in, restoration ----------------------------------------------------------------------


def test_record_mode_keeps_running_and_suppresses_offending_lanes() -> None:
    buffer = torch.full((12,), -7.0)
    x, y = torch.arange(5, dtype=torch.float32), buffer[:5]
    pool, idx, out = torch.ones(3, 2), torch.tensor([-1, 1, -1], dtype=torch.int32), torch.full((3, 2), 5.0)
    with sanitize(mode="record") as report:
        for _ in range(2):
            bugs.store_tail_unmasked[(2,)](x, y, 5, BLOCK=4)
        bugs.gather_slots[(3,)](pool, idx, out, 2, 2, BLOCK_D=2)
    assert report.launches == 3 and len(report.violations) == 2
    assert [v.kernel for v in report.violations] == ["store_tail_unmasked", "gather_slots"]
    assert sorted(report.hits.values()) == [2, 2]  # two launches of one bad store; two programs read slot -1
    assert torch.equal(buffer, torch.tensor([0.0, 2, 4, 6, 8] + [-7.0] * 7))  # tail stores suppressed
    assert torch.equal(out, torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))  # suppressed loads read 0
    lines = report.summary().splitlines()  # 2 launches x 2 programs x 2 ops + 3 programs x 3 ops = 17
    assert lines[0] == ("sanitizer (bounds=view): 3 interpreted launches, 17 memory ops checked, 2 violation site(s)")
    assert lines[1].startswith("[2 hits] out-of-bounds store in kernel `store_tail_unmasked`")


def test_run_sanitized_returns_result_and_report() -> None:
    x, y = torch.arange(5, dtype=torch.float32), torch.zeros(5)

    def launch() -> str:
        bugs.load_tail_unmasked[(1,)](x, y, 5, BLOCK=8)
        return "done"

    result, report = run_sanitized(launch)
    assert result == "done" and not report.ok and report.violations[0].offsets == [5, 6, 7]
    torch.testing.assert_close(y, 2 * x)


def test_everything_is_restored_and_inactive_sanitizer_has_no_effect() -> None:
    patched = {
        name: interpreter.InterpreterBuilder.__dict__[name]
        for name in ("create_masked_load", "create_masked_store", "create_atomic_rmw", "create_addptr")
    }
    launcher, convert = interpreter.GridExecutor.__call__, interpreter._implicit_cvt
    x, y = torch.arange(5, dtype=torch.float32), torch.zeros(5)
    with pytest.raises(MemoryViolation), sanitize():
        bugs.load_tail_unmasked[(1,)](x, y, 5, BLOCK=8)
    assert all(interpreter.InterpreterBuilder.__dict__[name] is fn for name, fn in patched.items())
    assert interpreter.GridExecutor.__call__ is launcher and interpreter._implicit_cvt is convert
    buffer = torch.arange(8, dtype=torch.float32)  # the unmasked tail reads buffer[5:8]: safe to run unchecked
    bugs.load_tail_unmasked[(1,)](buffer[:5], y, 5, BLOCK=8)
    torch.testing.assert_close(y, 2 * buffer[:5])


def test_sanitize_blocks_do_not_nest() -> None:
    with sanitize(), pytest.raises(UsageError), sanitize():
        pass
