"""`shapecheck mutate`: exact mutants per operator, each exactly one edit; an end-to-end kill; usage errors.

Generation is pinned on `tests/fixtures/mutate_target.py` (our own file, so its lines do not move under
other changes); the end-to-end run uses the real GDN kernel with one operator, so it stays under a minute.
"""

from __future__ import annotations

import ast
import difflib
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from shapecheck import mutate
from shapecheck.errors import UsageError
from tests.cli_helpers import ROOT, shapecheck

pytestmark = pytest.mark.slow  # the CLI (or mypy) in fresh processes: the README's fast loop leaves it out

FIXTURE = "tests/fixtures/mutate_target.py"
KERNEL = f"{FIXTURE}::_decay_scan_kernel"


def _fixture_mutants(function: str = "_decay_scan_kernel") -> tuple[mutate.Target, list[mutate.Mutant]]:
    target = mutate.Target(Path(FIXTURE), function, (ROOT / FIXTURE).read_text())
    return target, mutate.generate(target)


S = "tl.sqrt(tl.sum(h * h) + 1e-6)"
X_LOAD = "x_t = tl.load(x + t * s_xt + offs * s_xd, mask=mask, other=0.0).to(tl.float32)"
OUT_STORE = "tl.store(out + t * s_ot + offs * s_od, y, mask=mask)"
STATE_STORE = "tl.store(p_s, h, mask=mask & (end > start))"
DECAY = "decay = tl.exp(-tl.sigmoid(tl.load(gate + n).to(tl.float32)))"
Y = f"y = tl.where(h > 0, h, 0.5 * h) / {S}"
START = "start = tl.maximum(tl.load(cu_seqlens + n).to(tl.int64), 0)"
END = "end = tl.load(cu_seqlens + n + 1).to(tl.int64)"

EXPECTED = {  # (operator, variant, before, after) for every mutant of the fixture kernel
    ("floordiv-mod", "mod", "n = pid // nb", "n = pid % nb"),
    ("floordiv-mod", "floordiv", "blk = pid % nb", "blk = pid // nb"),
    ("comparison", "le", "mask = offs < D", "mask = offs <= D"),
    ("comparison", "ge", Y, Y.replace("h > 0", "h >= 0")),
    ("comparison", "ge", STATE_STORE, STATE_STORE.replace("end > start", "end >= start")),
    ("drop-clamp", "", START, "start = tl.load(cu_seqlens + n).to(tl.int64)"),
    ("drop-cast", "int64", START, "start = tl.maximum(tl.load(cu_seqlens + n), 0)"),
    ("off-by-one", "ptr+1", START, START.replace("cu_seqlens + n)", "cu_seqlens + n + 1)")),
    ("drop-cast", "int64", END, "end = tl.load(cu_seqlens + n + 1)"),
    ("off-by-one", "drop+1", END, "end = tl.load(cu_seqlens + n).to(tl.int64)"),
    ("off-by-one", "ptr+1", END, "end = tl.load(cu_seqlens + n + 1 + 1).to(tl.int64)"),
    ("off-by-one", "ptr+1", DECAY, DECAY.replace("gate + n", "gate + n + 1")),
    ("off-by-one", "ptr+1", "h = tl.load(p_s, mask=mask, other=0.0)", "h = tl.load(p_s + 1, mask=mask, other=0.0)"),
    ("off-by-one", "ptr+1", X_LOAD, X_LOAD.replace("offs * s_xd,", "offs * s_xd + 1,")),
    ("off-by-one", "ptr+1", OUT_STORE, OUT_STORE.replace("offs * s_od,", "offs * s_od + 1,")),
    ("off-by-one", "ptr+1", STATE_STORE, STATE_STORE.replace("p_s,", "p_s + 1,")),
    ("exp-base", "exp2", DECAY, DECAY.replace("tl.exp(", "tl.exp2(")),
    ("sigmoid-identity", "", DECAY, "decay = tl.exp(-tl.load(gate + n).to(tl.float32))"),
    ("drop-cast", "float32", DECAY, "decay = tl.exp(-tl.sigmoid(tl.load(gate + n)))"),
    ("drop-cast", "float32", X_LOAD, X_LOAD.removesuffix(".to(tl.float32)")),
    ("drop-mask", "", "h = tl.load(p_s, mask=mask, other=0.0)", "h = tl.load(p_s)"),
    ("drop-mask", "", X_LOAD, "x_t = tl.load(x + t * s_xt + offs * s_xd).to(tl.float32)"),
    ("drop-mask", "", OUT_STORE, "tl.store(out + t * s_ot + offs * s_od, y)"),
    ("drop-mask", "", STATE_STORE, "tl.store(p_s, h)"),
    ("invert-mask", "", "h = tl.load(p_s, mask=mask, other=0.0)", "h = tl.load(p_s, mask=~(mask), other=0.0)"),
    ("invert-mask", "", X_LOAD, X_LOAD.replace("mask=mask", "mask=~(mask)")),
    ("invert-mask", "", OUT_STORE, OUT_STORE.replace("mask=mask", "mask=~(mask)")),
    ("invert-mask", "", STATE_STORE, "tl.store(p_s, h, mask=~(mask & (end > start)))"),
    ("other-value", "", "h = tl.load(p_s, mask=mask, other=0.0)", "h = tl.load(p_s, mask=mask, other=1.0)"),
    ("other-value", "", X_LOAD, X_LOAD.replace("other=0.0", "other=1.0")),
    ("loop-bound", "start+1", "for t in range(start, end):", "for t in range(start + 1, end):"),
    ("loop-bound", "end-1", "for t in range(start, end):", "for t in range(start, end - 1):"),
    ("stride", "s_xd", X_LOAD, X_LOAD.replace("t * s_xt", "t * s_xd")),
    ("stride", "s_xt", X_LOAD, X_LOAD.replace("offs * s_xd", "offs * s_xt")),
    ("stride", "s_od", OUT_STORE, OUT_STORE.replace("t * s_ot", "t * s_od")),
    ("stride", "s_ot", OUT_STORE, OUT_STORE.replace("offs * s_od", "offs * s_ot")),
    ("store-before-update", "", f"h = h * decay + x_t  ...  {Y}", f"{Y}  ...  h = h * decay + x_t"),
    (
        "store-before-update",
        "",
        f"for t in range(start, end):  ...  {STATE_STORE}",
        f"{STATE_STORE}  ...  for t in range(start, end):",
    ),
    ("drop-where", "x", Y, f"y = h / {S}"),
    ("drop-where", "y", Y, f"y = (0.5 * h) / {S}"),
    ("epsilon", "", Y, Y.replace("+ 1e-6", "+ 0.0")),
}


def test_exact_mutants_per_operator() -> None:
    _, mutants = _fixture_mutants()
    assert Counter(m.operator for m in mutants) == {
        "off-by-one": 8,
        "drop-mask": 4,
        "invert-mask": 4,
        "stride": 4,
        "comparison": 3,
        "floordiv-mod": 2,
        "drop-cast": 4,
        "other-value": 2,
        "loop-bound": 2,
        "store-before-update": 2,
        "drop-where": 2,
        "drop-clamp": 1,
        "exp-base": 1,
        "sigmoid-identity": 1,
        "epsilon": 1,
    }
    assert set(mutate.OPERATORS) == {m.operator for m in mutants}, "every operator has a site in the fixture"
    assert {(m.operator, m.variant, m.before, m.after) for m in mutants} == EXPECTED
    assert len({m.id for m in mutants}) == len(mutants), "ids are unique"


def test_each_mutant_is_exactly_its_edit() -> None:
    target, mutants = _fixture_mutants()
    tree = ast.parse(target.source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_decay_scan_kernel")
    body = range(fn.body[0].lineno, fn.end_lineno + 1)  # type: ignore[operator]
    original = target.source.splitlines()
    for m in mutants:
        mutated = m.apply(target.source)
        ast.parse(mutated)
        changed = mutated.splitlines()
        assert len(changed) == len(original), m.id
        diff = [i + 1 for i, (a, b) in enumerate(zip(original, changed)) if a != b]
        assert diff and all(line in body for line in diff), (m.id, diff)
        if m.operator == "store-before-update":  # a move: same lines, another order
            assert sorted(changed) == sorted(original) and len(diff) >= 2, m.id
        else:  # one line, the mutant's own, changed exactly as the report says
            assert diff == [m.line], (m.id, diff)
            assert (original[m.line - 1].strip(), changed[m.line - 1].strip()) == (m.before, m.after), m.id
        # the Patch alone reproduces it (what buggy_kernels-style fixtures would store)
        removed = [
            line[1:]
            for line in difflib.unified_diff(original, changed, n=0, lineterm="")
            if line.startswith("-") and not line.startswith("---")
        ]
        assert "\n".join(removed) in m.patch.old, m.id


def test_launch_site_stride_swaps_in_a_wrapper() -> None:
    _, mutants = _fixture_mutants("decay_scan")
    args = "x, gate, cu_seqlens, state, out, x.stride(0), x.stride(1), out.stride(0), out.stride(1), state.stride(0),"
    assert {(m.operator, m.variant, m.before, m.after) for m in mutants} == {
        ("off-by-one", "drop-1", "N = cu_seqlens.numel() - 1", "N = cu_seqlens.numel()"),
        ("stride", "launch", args, args.replace("x.stride(0), x.stride(1)", "x.stride(1), x.stride(0)")),
        ("stride", "launch", args, args.replace("out.stride(0), out.stride(1)", "out.stride(1), out.stride(0)")),
    }


def test_identical_line_outside_the_function_is_not_touched(tmp_path: Path) -> None:
    source = "def other(pid, nb):\n    n = pid // nb\n    return n\n\n\ndef target(pid, nb):\n    n = pid // nb\n    return n\n"
    path = tmp_path / "k.py"
    path.write_text(source)
    (m,) = mutate.generate(mutate.parse_target(f"{path}::target"), ["floordiv-mod"])
    assert m.patch.occurrence == 1 and m.line == 7
    second = source.rindex("n = pid // nb")
    assert m.apply(source) == source[:second] + "n = pid % nb" + source[second + len("n = pid // nb") :]


def test_contract_function_is_the_decorated_wrapper() -> None:
    assert mutate.contract_function((ROOT / FIXTURE).read_text()) == "decay_scan"
    assert mutate.contract_function((ROOT / "kernels/gdn.py").read_text()) == "fused_sigmoid_gating_delta_rule_update"
    with pytest.raises(UsageError, match="--impl-function"):
        mutate.contract_function("def f():\n    pass\n")


def _proc(rc: int, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], rc, "", stderr)


def _report(held: bool, problem: str = "", raised: str | None = None) -> dict:
    failure = None if held else {"problems": [problem], "raised": raised, "reproduce": "shapecheck run ..."}
    return {"held": held, "contracts": [{"cases": 60, "failure": failure}]}


@pytest.mark.parametrize(
    "rc, report, stderr, status",
    [
        (0, _report(True), "", mutate.SURVIVED),
        (
            1,
            _report(False, "output differs from reference: relative RMS error 0.2 > 1e-05 (float32)"),
            "",
            mutate.KILLED,
        ),
        (1, _report(False, "kernel raised MemoryViolation: out-of-bounds load", "MemoryViolation"), "", mutate.KILLED),
        (
            1,
            _report(False, "kernel raised ContractViolation: f: argument `out`", "ContractViolation"),
            "",
            mutate.KILLED,
        ),
        (1, _report(False, "kernel raised NameError: name 'y' is not defined", "NameError"), "", mutate.CRASH),
        (1, _report(False, "kernel raised NameError (message text alone is not read)"), "", mutate.KILLED),
        (2, None, "shapecheck: error: --impl m.py:f: cannot import m.py: SyntaxError: bad", mutate.CRASH),
        (2, None, "shapecheck: error: something else", mutate.ERROR),
        (-11, None, "", mutate.ERROR),
    ],
)
def test_classification(rc: int, report: dict | None, stderr: str, status: str) -> None:
    assert mutate.classify(None, _proc(rc, stderr), report, 1.0, "f.py").status == status


def test_score_line_and_exit_rule() -> None:
    def result(status: str) -> mutate.Result:
        return mutate.Result(None, status, "", 1.0, 0, "f.py")

    results = [result(mutate.KILLED), result(mutate.CRASH), result(mutate.SURVIVED), result(mutate.SURVIVED)]
    results[3].equivalent = True
    summary = mutate.Summary.of(results)
    assert (summary.killed, summary.total, summary.crashes, summary.equivalent) == (2, 4, 1, 1)
    assert summary.line().startswith("mutation score: 2/4 killed (50.0%); non-equivalent: 2/3 (66.7%)")
    assert not summary.clean
    results[2].equivalent = True
    assert mutate.Summary.of(results).clean


def test_list_runs_nothing() -> None:
    result = shapecheck("mutate", KERNEL, "--list", "--operators", "stride,epsilon")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("5 mutants")
    assert "stride@" in result.stdout and "epsilon@" in result.stdout


@pytest.mark.interpreter  # mutants run with --device cpu
def test_end_to_end_kills_a_known_mutant_of_the_real_kernel(tmp_path: Path) -> None:
    """beta used raw instead of sigmoid(b): the suite must kill it (baseline + 1 mutant, ~25 s)."""
    report_path = tmp_path / "m.json"
    result = shapecheck(
        "mutate",
        "kernels/gdn.py::_gated_delta_rule_update_kernel",
        "--operators",
        "sigmoid-identity",
        "--examples",
        "60",
        "--seed",
        "0",
        "--json",
        str(report_path),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["baseline"]["status"] == "survived"
    (m,) = report["mutants"]
    assert m["operator"] == "sigmoid-identity" and m["status"] == "killed", m
    assert m["message"].startswith("output differs from reference"), m
    assert "mutation score: 1/1 killed" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["kernels/gdn.py"], "must look like path/to/file.py::function"),
        (["missing.py::f"], "no file missing.py"),
        (["kernels/gdn.py::no_such_kernel"], "no function 'no_such_kernel'"),
        (["kernels/gdn.py::_gated_delta_rule_update_kernel", "--operators", "bogus"], "unknown operator 'bogus'"),
        (
            ["kernels/gdn.py::_gated_delta_rule_update_kernel", "--impl-function", "nope"],
            "no top-level function 'nope'",
        ),
        (["kernels/gdn.py::_gated_delta_rule_update_kernel", "--equivalent", "epsilon@1:1"], "no such mutant"),
        (["kernels/reference.py::gated_delta_rule_reference"], "carries @contract"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = shapecheck("mutate", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shapecheck: error:") and message in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_every_mutant_of_the_real_kernel_parses() -> None:
    """A mutant splices an operand into its context: `tl.where(c, 0, n).to(...)` must become `(0).to(...)`,
    never the unparseable `0.to(...)`."""
    path = ROOT / "kernels/gdn.py"
    target = mutate.Target(path, "_gated_delta_rule_update_kernel", path.read_text())
    sources = [m.patch.apply(target.source) for m in mutate.generate(target)]
    assert len(sources) > 20
    for source in sources:
        ast.parse(source)
    assert any("(0).to(tl.int64)" in source for source in sources)
