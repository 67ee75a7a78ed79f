"""Untrusted implementations: every cheat in tests/fixtures/cheats is rejected by name, the honest kernel holds.

Cheats run through `property_cli.run` (the CLI's own code path and exit code, without a new interpreter per
fixture) on tiny pinned shapes, so the catalogue costs seconds per pattern on the CPU interpreter; the
comparison patcher runs through the real command, once isolated and once not.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch

from shapecheck import integrity, property_cli
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import EXAMPLES, _case, inputs
from shapecheck.errors import UsageError
from shapecheck.harness import relative_rms, tolerance
from shapecheck.integrity import Finding
from shapecheck.isolate import Isolated
from shapecheck.kernels.reference import gated_delta_rule_reference
from tests.cli_helpers import shapecheck as cli
from tests.fixtures.cheats import CATALOGUE

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

CHEATS = "tests/fixtures/cheats"
# One sequence, two tokens, K != V and neither a power of two of the other: every pattern shows, and a case
# costs milliseconds under the interpreter.
PINS = [
    "B=1",
    "T=2",
    "H=1",
    "G=1",
    "K=8",
    "V=4",
    "varlen=false",
    "spare_slots=1",
    "dtype=float32",
    "pool_dtype=float32",
    "gate_dtype=float32",
]
HONEST = "shapecheck.kernels.gdn:fused_sigmoid_gating_delta_rule_update"


def _run(
    impl: str,
    device: str,
    tmp_path: Path,
    *,
    isolate: bool | None = None,
    timeout: float | None = None,
    pins: tuple[str, ...] = tuple(PINS),
) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    options = property_cli.RunOptions(
        contract=GDN_DECODE.name,
        impl=impl,
        examples=2,
        seed=0,
        device=device,
        json_path=report,
        database=False,
        pins=pins,
        isolate=isolate,
        timeout=timeout,
    )
    code = property_cli.run(options)
    return code, json.loads(report.read_text())["contracts"][0]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.gpu] if gpu else []) for n, (_, gpu) in sorted(CATALOGUE.items())]
)
def test_every_cheat_is_rejected_with_its_named_finding(name: str, device: str, tmp_path: Path) -> None:
    finding, _ = CATALOGUE[name]
    code, report = _run(f"{CHEATS}/{name}:kernel", device, tmp_path, timeout=3 if name == "hang.py" else None)
    assert code == 1 and not report["held"], report
    problems = report["failure"]["problems"]
    assert any(finding in p for p in problems), problems


def test_catalogue_covers_the_issue(tmp_path: Path) -> None:
    """At least ten patterns, each file present, each named finding distinct in the table."""
    assert len(CATALOGUE) >= 10
    assert all((Path(CHEATS) / name).is_file() for name in CATALOGUE)
    named = {f.split("]")[0] + "]" for f, _ in CATALOGUE.values() if f.startswith("[")}
    assert named >= {
        "[stale-result]",
        "[precision]",
        "[input-modified]",
        "[aliasing]",
        "[output-type]",
        "[late-write]",
        "[worker-crashed]",
        "[timeout]",
    }


def test_a_candidate_patching_the_comparison_is_rejected_only_under_isolation(tmp_path: Path) -> None:
    """It zeroes every error the verifier measures at import: in-process it would pass, isolated it cannot."""
    impl = f"{CHEATS}/patch_checker.py:kernel"
    args = [
        "run",
        GDN_DECODE.name,
        "--impl",
        impl,
        "--examples",
        "2",
        "--seed",
        "0",
        "--no-db",
        *[a for pin in PINS for a in ("--pin", pin)],
    ]
    isolated = cli(*args, "--json", str(tmp_path / "isolated.json"))  # isolation is the default for a file
    assert isolated.returncode == 1, isolated.stdout + isolated.stderr
    failure = json.loads((tmp_path / "isolated.json").read_text())["contracts"][0]["failure"]
    assert any("output differs from reference" in p for p in failure["problems"])
    in_process = cli(*args, "--no-isolate")
    assert in_process.returncode == 0, "the patch fooled nothing even in-process: this test no longer shows why"


@pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1",
    reason="runs the kernel on the CPU in this process: the interpreter must be on before kernels are defined "
    "(tests/conftest.py turns it on only without a GPU)",
)
def test_a_candidate_correct_only_under_test_is_held_in_process_and_rejected_isolated(tmp_path: Path) -> None:
    """The isolated half is in the catalogue above; in the verifier's own process the candidate sees it and passes,
    which is why the worker must hide it (shapecheck/host.py)."""
    code, report = _run(f"{CHEATS}/verifier_visible.py:kernel", "cpu", tmp_path, isolate=False)
    assert code == 0 and report["held"], report["failure"]


def test_honest_kernel_holds_under_isolation(device: str, tmp_path: Path) -> None:
    """Unpinned, so every regime case runs too (pins drop the regime cases they contradict)."""
    code, report = _run(HONEST, device, tmp_path, isolate=True, pins=())
    assert code == 0 and report["held"], report["failure"]
    assert report["cases"] >= 2 + len(EXAMPLES) and report["worst_errors"]["output float32"] < 1e-5


def test_isolated_call_matches_the_in_process_call(device: str) -> None:
    """Same output bits and the same in-place pool update, written back into the caller's tensors."""
    case = EXAMPLES["strided q/k/v views"]
    local, remote = inputs(case, device), inputs(case, device)
    from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as honest

    expected = honest(**local)
    with Isolated(HONEST, device, timeout_s=60) as worker:
        assert worker.contract_name == GDN_DECODE.qualname
        out = worker(**remote)
        assert worker.pending_findings() == []
    assert type(out) is torch.Tensor and torch.equal(out, expected)
    assert torch.equal(remote["initial_state_source"], local["initial_state_source"])
    assert remote["q"].stride() == local["q"].stride()


def test_a_crash_is_a_finding_and_the_next_case_gets_a_fresh_worker(device: str) -> None:
    with Isolated(f"{CHEATS}/segfault.py:kernel", device, timeout_s=60) as worker:
        with pytest.raises(
            Finding, match=r"\[worker-crashed\] the worker died while running the case \(signal SIGSEGV\)"
        ):
            worker(**inputs(_case(T=2), device))
        out = worker(**inputs(_case(T=1), device))  # decode does not crash: a fresh worker answers
    assert out.shape == (2, 1, 4, 40) and torch.isfinite(out).all()


def test_candidate_that_fails_to_import_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("raise ImportError('no such helper')\n")
    with pytest.raises(UsageError, match=r"cannot import .*ImportError: no such helper"):
        Isolated(f"{bad}:kernel", "cpu", timeout_s=60)


def test_fp32_bounds_reject_bf16_arithmetic_in_every_regime() -> None:
    """bf16 arithmetic behind an fp32 signature misses the fp32 bound by a wide margin in every fp32 regime case."""
    ratios = []
    for case in EXAMPLES.values():
        if case.options["dtype"] != "float32" or case.options["pool_dtype"] != "float32":
            continue
        args = inputs(case, "cpu")
        exact, _ = gated_delta_rule_reference(**args)
        cheap, _ = gated_delta_rule_reference(**args, compute_dtype=torch.bfloat16)
        ratios.append(relative_rms(cheap.float(), exact) / tolerance(torch.float32))
        assert integrity.precision({"output float32": relative_rms(cheap.float(), exact)}, tolerance)
    assert len(ratios) >= 15 and min(ratios) > 100, ratios  # measured: 366x at the least


@pytest.mark.parametrize(
    ("contract", "impl", "isolate", "expected", "replay_flag"),
    [
        ("c", "cand.py:kernel", None, True, None),  # a generated candidate: named contract, a file
        (None, "cand.py:kernel", None, False, "--no-isolate"),  # a file bringing its own contract: the user's code
        ("c", "pkg.ops:kernel", None, False, None),  # an installed module
        (None, None, None, False, None),  # the contract's own kernel
        ("c", "pkg.ops:kernel", True, True, "--isolate"),
        ("c", "cand.py:kernel", False, False, "--no-isolate"),
    ],
)
def test_isolation_default_and_the_replay_line(
    contract: str | None, impl: str | None, isolate: bool | None, expected: bool, replay_flag: str | None
) -> None:
    options = property_cli.RunOptions(contract=contract, impl=impl, isolate=isolate)
    assert options.isolating is expected
    flags = [a for a in options.replay("c") if a in ("--isolate", "--no-isolate")]  # replay always names "c"
    assert flags == ([replay_flag] if replay_flag else [])


def test_an_isolated_finding_replays_from_its_printed_line(device: str, tmp_path: Path) -> None:
    code, report = _run(f"{CHEATS}/stale_cache.py:kernel", device, tmp_path)
    assert code == 1
    argv = shlex.split(report["failure"]["reproduce"])
    replay = cli(*argv[argv.index("run") :])
    assert replay.returncode == 1 and "[stale-result]" in replay.stdout, replay.stdout + replay.stderr


ARENA_CANDIDATE = """
import torch

def kernel(x, e, w, n):
    w.mul_(2)  # in place
    return x * n + e, torch.zeros(0, 3, dtype=torch.int32), (x > 0)
"""


def test_arguments_and_results_of_every_layout_cross_the_arenas(tmp_path: Path) -> None:
    """A strided view, an expanded (stride-0) tensor, an empty result, an integer and a bool result, an in-place
    argument, and a call that outgrows both arenas (1 MiB at first): each arrives with its values, the in-place
    update is written back, and every later call still answers."""
    path = tmp_path / "arena_cand.py"
    path.write_text(ARENA_CANDIDATE)
    with Isolated(f"{path}:kernel", "cpu", timeout_s=60) as worker:
        for rows in (3, 1 << 17, 5):  # 1<<17 rows x 4 floats (a 2 MiB view of 4 MiB): both arenas grow
            base = torch.randn(rows, 8)
            x = base[:, ::2]  # strided
            e = torch.randn(1, 4).expand(rows, 4)
            w = torch.randn(7)
            w_before = w.clone()
            out = worker(x=x, e=e, w=w, n=3)
            assert worker.pending_findings() == []
            assert torch.equal(out[0], x * 3 + e) and out[0].dtype == torch.float32
            assert out[1].shape == (0, 3) and out[1].dtype == torch.int32
            assert torch.equal(out[2], x > 0) and out[2].dtype == torch.bool
            assert torch.equal(w, w_before * 2)


def test_a_reply_whose_slots_leave_the_arena_is_refused() -> None:
    """The worker is untrusted: a slot past its arena's end, or not a slot at all, is a refusal by name, never a
    read outside the buffer."""
    from shapecheck.isolate import _checked

    arena = torch.zeros(1024, dtype=torch.uint8)
    shared = {"x": torch.zeros(4)}
    inside = (0, (4,), (1,), torch.float32)
    for bad in ((1020, (4,), (1,), torch.float32), (2, (4,), (1,), torch.float32), ("0", (4,), (1,), torch.float32)):
        reply = ("returned", "tensor", [bad], {"x": inside}, [inside], [], None)
        with pytest.raises(Finding, match=r"\[output-type\] reply refused"):
            _checked(reply, shared, arena)
    form, items, after, live, box = _checked(
        ("returned", "tensor", [inside], {"x": inside}, [inside], [], None), shared, arena
    )
    assert form == "tensor" and items[0].shape == (4,) and after["x"].shape == (4,) and box is arena
    assert live[0].data_ptr() == items[0].data_ptr() == arena.data_ptr()


IMPORT_TIME_THREAD = """
import queue, threading, time
import torch

jobs = queue.Queue()

def _land():
    while True:
        out, result = jobs.get()
        time.sleep(0.02)
        out.copy_(result)

threading.Thread(target=_land, daemon=True).start()  # at import, before any call

def kernel(x):
    out = torch.zeros_like(x)
    jobs.put((out, x * 2))
    return out
"""


def test_the_settle_wait_is_skipped_only_while_no_thread_or_child_of_the_candidate_exists(tmp_path: Path) -> None:
    """After a device sync only another thread or process can still write, so a sampled case waits only when the
    candidate has one (counted against the worker before the import): a trivial candidate's sampled calls skip a
    30 s wait; a writer thread started at import still gets it, and its late write is a finding."""
    import time

    plain, threaded = tmp_path / "plain.py", tmp_path / "threaded.py"
    plain.write_text("def kernel(x):\n    return x * 2\n")
    threaded.write_text(IMPORT_TIME_THREAD)
    x = torch.randn(16)
    with Isolated(f"{plain}:kernel", "cpu", timeout_s=60, settle_s=30.0, check_every=1) as worker:
        start = time.perf_counter()
        for seed in range(3):
            worker.sampled(seed)
            assert torch.equal(worker(x=x), x * 2)
        assert time.perf_counter() - start < 10  # no 30 s wait was taken
    with Isolated(f"{threaded}:kernel", "cpu", timeout_s=60, settle_s=0.2, check_every=1) as worker:
        worker.sampled(0)
        worker(x=x)
        assert any(f.startswith("[late-write] output") for f in worker.pending_findings()), worker.pending_findings()
