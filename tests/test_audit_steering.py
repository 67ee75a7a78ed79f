"""The audit's steering table (bench/audit/run.py STEERING, `--steered`): every entry names a known op, and its
pins, contract and adapter are accepted for that op, so a renamed option or adapter fails here rather than on a
GPU call. The cloned adapters are run against stand-ins that write over their inputs and incoming gradients as
Liger does (its wheel is not needed): the judged in-place findings go, the values are still judged."""

from __future__ import annotations

import importlib
import inspect
import types
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import shapecheck
from bench.audit import liger
from bench.audit.run import OPS, STEERING, Op, Steering, _row
from shapecheck import pins, registry
from shapecheck.profiles import PROFILES

STEERED = [(op, STEERING[op.name]) for op in OPS if op.name in STEERING]


def test_every_steering_entry_names_an_op_and_a_reason() -> None:
    assert sorted(STEERING) == sorted(op.name for op, _ in STEERED)
    assert all(s.reason and s.summary() for s in STEERING.values())


@pytest.mark.parametrize(("op", "steering"), STEERED, ids=[op.name for op, _ in STEERED])
@pytest.mark.parametrize("profile", ["ci", "gpu"])
def test_a_steered_run_s_pins_contract_and_adapter_are_accepted(op: Op, steering: Steering, profile: str) -> None:
    known = registry.contracts([op.module])
    contract = registry.contract(f"{op.module}:{steering.contract or op.name}", known)
    pins.overrides(contract, pins.parse(steering.pins), PROFILES[profile])  # a UsageError names the bad pin
    module = importlib.import_module(op.module)
    adapter, plain = getattr(module, steering.impl or op.impl), getattr(module, op.impl)
    assert inspect.signature(adapter).parameters.keys() == inspect.signature(plain).parameters.keys()
    assert set(steering.options) <= {"--no-backward"}  # what run_op passes besides the pins


class _SiLUMul(torch.autograd.Function):
    """Liger's swiglu as it treats memory: the backward stores da, db over the saved a, b."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return F.silu(a) * b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
        a, b = ctx.saved_tensors
        sig = torch.sigmoid(a)
        da, db = g * b * sig * (1 + a * (1 - sig)), g * a * sig
        a.data.copy_(da)
        b.data.copy_(db)
        return a, b


class _Rope(torch.autograd.Function):
    """Liger's rope as it treats memory: q, k rotated in place, the incoming gradient rotated back in place."""

    @staticmethod
    def forward(ctx: Any, q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
        c, s = cos.unsqueeze(1), sin.unsqueeze(1)
        ctx.save_for_backward(c, s)
        for x in (q, k):
            x.copy_(x * c + liger._rotate_half(x) * s)
        ctx.mark_dirty(q, k)
        return q, k

    @staticmethod
    def backward(ctx: Any, dq: Tensor, dk: Tensor) -> tuple[Tensor, Tensor, None, None]:
        c, s = ctx.saved_tensors
        for g in (dq, dk):
            g.copy_(g * c - liger._rotate_half(g * s))
        return dq, dk, None, None


@pytest.fixture
def fake_liger(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = types.SimpleNamespace(LigerSiLUMulFunction=_SiLUMul, LigerRopeFunction=_Rope)
    monkeypatch.setattr(liger, "_ops", lambda: fakes)


@pytest.mark.usefixtures("fake_liger")
@pytest.mark.parametrize(
    ("contract", "dims", "plain", "cloned"),
    [
        (liger.SWIGLU, {"N": 3, "D": 5}, liger.liger_swiglu, liger.liger_swiglu_cloned),
        (liger.ROPE, {"B": 1, "HQ": 2, "HK": 1, "T": 3, "D": 4, "R": 2}, liger.liger_rope, liger.liger_rope_cloned),
    ],
    ids=["swiglu", "rope"],
)
def test_a_cloned_adapter_leaves_no_in_place_finding_and_its_values_hold(
    contract: shapecheck.Contract, dims: dict[str, int], plain: Any, cloned: Any
) -> None:
    def problems(fn: Any) -> list[str]:
        return shapecheck.check_case(contract, shapecheck.Case(contract.name, dims, {}, seed=0), fn, "cpu").problems

    assert any("wrote over" in p or "changed during the call" in p for p in problems(plain))
    assert problems(cloned) == []


class _SiLUMulOff(_SiLUMul):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
        da, db = _SiLUMul.backward(ctx, g)
        return 1.5 * da, db


def test_a_cloned_adapter_s_gradients_are_still_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liger, "_ops", lambda: types.SimpleNamespace(LigerSiLUMulFunction=_SiLUMulOff))
    case = shapecheck.Case("swiglu", {"N": 3, "D": 5}, {}, seed=0)
    [problem] = shapecheck.check_case(liger.SWIGLU, case, liger.liger_swiglu_cloned, "cpu").problems
    assert problem.startswith("grad of a differs from reference")


def test_a_run_that_exits_without_its_report_is_an_error_row_not_a_verdict(tmp_path: Any) -> None:
    """A `shapecheck run` that crashed before writing its JSON (an import error, say) has no verdict, whatever its
    exit code: 'violated 0 / 0' would read as a finding."""
    op = next(o for o in OPS if o.name == "softmax")
    for code in (0, 1):
        row = _row(op, tmp_path / "missing.json", code, "Traceback ...\nImportError: no module named x", 1.0)
        assert row["verdict"] == "error" and "ImportError" in row["error"], row
