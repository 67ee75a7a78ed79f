"""README examples are run, so the copy-paste examples keep working."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

import shapecheck
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_decorator_example_raises_the_documented_message() -> None:
    code = re.search(r"### 1\. A decorator on your kernel\n\n```python\n(.*?)```", README, re.S).group(1)
    documented = [line.removeprefix("# ").strip() for line in code.splitlines() if line.startswith("# ")]
    with pytest.raises(shapecheck.ContractViolation) as info:
        exec(compile(code, "README.md", "exec"), {})
    message = str(info.value)
    assert documented[0].removeprefix("ContractViolation: ") in message
    for line in documented[1:]:
        assert line in message, f"{line!r} not in {message!r}"


def test_setup_block_has_the_two_commands_ci_runs() -> None:
    assert re.search(r"^# install\n.+\n# test\n.+$", README, re.M)


def _snippet(name: str) -> types.ModuleType:
    """A "Writing a contract" snippet, run as a module of its own (so its contract's qualified name is real)."""
    code = re.search(rf"<!-- snippet: {name} -->\n```python\n(.*?)```", README, re.S).group(1)
    module = types.ModuleType(f"readme_{name}")
    sys.modules[module.__name__] = module
    exec(compile(code, f"README.md (snippet {name})", "exec"), module.__dict__)
    return module


def _run(module: types.ModuleType, contract: str, impl: str) -> Report:
    c, fn = getattr(module, contract), getattr(module, impl)
    assert fn.__contract__ is c
    report = run_property(c, fn, impl, profile=PROFILES["ci"], device="cpu", examples=60, database=False)
    assert report.held, [report.failure.problems if report.failure else None]
    return report


def test_the_in_place_snippet_holds_through_a_run() -> None:
    report = _run(_snippet("inplace"), "SCATTER", "scatter")
    assert {"padding index", "src/pool float16", "src/pool float32"} <= set(report.regimes), report.regimes
    assert 0 in {o.case.dims["T"] for o in report.outcomes}
    assert {"pool float32", "pool float16"} <= set(report.worst_errors())


def test_the_tuple_snippet_holds_through_a_run_and_refuses_int64_ids() -> None:
    module = _snippet("tuple")
    report = _run(module, "ROUTE", "topk_route")
    assert len({o.case.dims["topk"] for o in report.outcomes}) > 1
    assert {"renormalize=True", "renormalize=False"} <= set(report.regimes)
    wrong = shapecheck.contract(module.ROUTE)(
        lambda logits, topk, renormalize=False: (
            module.topk_route(logits, topk)[0],
            module.topk_route(logits, topk)[1].long(),
        )
    )
    with pytest.raises(shapecheck.DtypeViolation, match=r"argument `\(return\) ids`"):
        wrong(torch.randn(2, 4), 2)


def test_the_scalars_snippet_draws_every_dtype_and_scalar() -> None:
    report = _run(_snippet("scalars"), "RMS_NORM", "rms_norm_torch")
    assert {"x/weight float32", "x/weight bfloat16", "x/weight float16", "style='llama'", "style='gemma'"} <= set(
        report.regimes
    ), report.regimes
    assert len({o.case.options["eps"] for o in report.outcomes}) > 5


def test_differentiable_contract_example_finds_the_dropped_chain_rule_term() -> None:
    code = re.search(r"### Training kernels: a differentiable contract\n.*?```python\n(.*?)```", README, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
