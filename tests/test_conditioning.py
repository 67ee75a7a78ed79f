"""The second opinion on a value mismatch (shapecheck/conditioning.py): an ill-conditioned result that no
float32 code computes to 1e-5 holds against a float64 reference within its noise floor; a real error on the
same inputs still fails, and the line says which bound judged it."""

from __future__ import annotations

import re

import torch
from jaxtyping import Float
from rich.console import Console
from torch import Tensor

import shapecheck
from shapecheck import conditioning, console, integrity, reports
from shapecheck.harness import relative_rms, tolerance
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import Judge, check_case, run_property


def _sig(x: Float[Tensor, "N D"], y: Float[Tensor, "N D"]) -> Float[Tensor, "N"]: ...


def _reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * y).sum(-1)  # in the inputs' dtype: float32 for the run, float64 for the second opinion


def _cancelling(case: shapecheck.Case, device: str) -> dict[str, torch.Tensor]:
    """Rows whose dot product is ~3e-4 of the sum of its terms' magnitudes: y has x's direction projected
    out, up to a small remainder (fresh values from the case seed)."""
    gen = torch.Generator().manual_seed(case.seed)
    N, D = case.dims["N"], case.dims["D"]
    x = torch.randn(N, D, generator=gen, dtype=torch.float64)
    r = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = r - (x * r).sum(-1, keepdim=True) / (x * x).sum(-1, keepdim=True) * x + 3e-3 * x / x.norm(dim=-1, keepdim=True)
    return {"x": x.float().to(device), "y": y.float().to(device)}


DOT = shapecheck.Contract("dot", _sig, reference=_reference, inputs=_cancelling)


def _reversed_pairs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A correct float32 dot product in another order (a tree, from the far end): what a GPU reduction does."""
    p = (x * y).flip(-1)
    while p.shape[-1] > 1:
        p = (
            p[..., 0::2] + p[..., 1::2]
            if p.shape[-1] % 2 == 0
            else torch.cat([p[..., :1], p[..., 1::2] + p[..., 2::2]], -1)
        )
    return p[..., 0]


def _one_percent_off(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _reversed_pairs(x, y) * 1.01


def _case(seed: int) -> shapecheck.Case:
    return shapecheck.Case("dot", {"N": 64, "D": 256}, {}, seed)


def test_a_correct_float32_order_on_cancelling_rows_holds_by_its_noise_floor() -> None:
    seed = int(torch.randint(0, 2**31, ()).item())
    x, y = _cancelling(_case(seed), "cpu").values()
    fp32 = shapecheck.harness.relative_rms(_reversed_pairs(x, y), _reference(x, y))
    assert fp32 > shapecheck.harness.tolerance(torch.float32), fp32  # the float32 bound alone would fail it
    outcome = check_case(DOT, _case(seed), _reversed_pairs, "cpu")
    assert outcome.problems == [], outcome.problems
    exact = _reference(x.double(), y.double())
    assert outcome.errors["output float32"] == shapecheck.harness.relative_rms(_reversed_pairs(x, y), exact)
    assert outcome.bounds["output float32"].startswith("bound "), outcome.bounds  # the reproduce line prints it


def test_a_real_error_on_the_same_rows_still_fails_and_names_the_bound() -> None:
    outcome = check_case(DOT, _case(int(torch.randint(0, 2**31, ()).item())), _one_percent_off, "cpu")
    line = outcome.problems[0]  # then [precision]: an error of 1% on a float32 result
    found = re.match(r"output differs from reference: relative RMS error ([0-9.e-]+) > ([0-9.e-]+) ", line)
    assert found and 0.0099 < float(found[1]) < 0.0101 and float(found[2]) < 1e-3, line
    assert re.search(
        rf"\(float32; against a float64 reference, {conditioning.FACTOR} x this case's float32 "
        r"(noise floor|evaluation's error) ",
        line,
    ), line


def test_a_well_conditioned_case_keeps_the_float32_bound() -> None:
    x, y = torch.randn(4, 64, dtype=torch.float64), torch.randn(4, 64, dtype=torch.float64)
    out = (x * y).sum(-1).float() * (1 + 3e-5)
    opinion = conditioning.second_opinion(
        shapecheck.harness.reference_results(DOT, _reference),
        {"x": x.float(), "y": y.float()},
        [(shapecheck.harness.RETURN, out)],
        seed=0,
    )
    assert opinion is not None
    assert opinion.bounds["output float32"].value == shapecheck.harness.tolerance(torch.float32)
    assert opinion.truth["output"].dtype == torch.float64


def _float32_only(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if x.dtype != torch.float32:
        raise TypeError(f"this reference takes float32, found {x.dtype}")
    return _reference(x, y)


def test_a_reference_that_cannot_run_in_float64_keeps_the_float32_verdict() -> None:
    strict = shapecheck.Contract("dot", _sig, reference=_float32_only, inputs=_cancelling)
    outcome = check_case(strict, _case(int(torch.randint(0, 2**31, ()).item())), _reversed_pairs, "cpu")
    assert outcome.problems and outcome.problems[0].endswith("> 1e-05 (float32)"), outcome.problems
    assert outcome.bounds == {}


def _cancelling_when_odd(case: shapecheck.Case, device: str) -> dict[str, torch.Tensor]:
    """Well-conditioned rows for an even seed, cancelling ones for an odd seed (the fresh twin's parity flips)."""
    if case.seed % 2:
        return _cancelling(case, device)
    gen = torch.Generator().manual_seed(case.seed)
    return {"x": torch.randn(64, 256, generator=gen).to(device), "y": torch.randn(64, 256, generator=gen).to(device)}


def test_an_honest_kernel_is_no_stale_result_when_only_its_fresh_twin_is_ill_conditioned() -> None:
    """The isolated run's fresh-input check holds the twin to the runner's bound, second opinion included."""
    parity = shapecheck.Contract("dot", _sig, reference=_reference, inputs=_cancelling_when_odd)
    case = _case(2 * int(torch.randint(0, 2**30, ()).item()))
    first = _cancelling_when_odd(case, "cpu")
    first_out, first_ref = _reversed_pairs(**first), _reference(**first)
    twin = _cancelling_when_odd(integrity.fresh_twin(case), "cpu")
    assert relative_rms(_reversed_pairs(**twin), _reference(**twin)) > tolerance(torch.float32)  # fails the fixed bound
    assert relative_rms(first_out, first_ref) <= tolerance(first_out.dtype)  # the first run held
    judge = Judge(parity, case.seed, shapecheck.harness.reference_results(parity, _reference), case.dims)
    assert (
        integrity.stale_result(
            parity, case, _reversed_pairs, "cpu", {"output": first_out}, {"output": first_ref}, judge, held=True
        )
        == []
    )
    cached = lambda x, y: first_out.clone()  # a result computed once: still caught
    assert (
        integrity.stale_result(
            parity, case, cached, "cpu", {"output": first_out}, {"output": first_ref}, judge, held=True
        )
        != []
    )


def test_a_run_says_how_many_cases_held_by_a_second_opinion_and_the_json_keeps_their_bounds() -> None:
    report = run_property(
        DOT,
        _reversed_pairs,
        "tests:reversed_pairs",
        profile=PROFILES["ci"],
        device="cpu",
        examples=3,
        database=False,
        pins={"N": 64, "D": 256},
    )
    assert report.held and len(report.outcomes) == 3
    table = Console(width=200, record=True)
    table.print(console.report_table(report))
    assert re.search(
        r"second opinions +│ 3 cases held against a float64 reference within a floor of their own: 16 x their\s+"
        r"│?\s*float32 noise or evaluation error, or 2 x the exact result's error",
        table.export_text(),
    ), table.export_text()
    rows = reports.as_dict(report)["outcomes"]
    assert all(row["bounds"]["output float32"].startswith("bound ") for row in rows)
    assert Report.from_json(reports.as_dict(report)).outcomes[0].bounds == report.outcomes[0].bounds


def _shifted_sig(x: Float[Tensor, "N"]) -> Float[Tensor, "N"]: ...


def _shift_and_back(x: torch.Tensor) -> torch.Tensor:
    """`x + 2**20 - 2**20`: exact in float64, in float32 only x's first few bits survive the shift (a cancellation
    inside the computation: rounding the inputs alone costs nothing here)."""
    return (x + 2.0**20) - 2.0**20


SHIFTED = shapecheck.Contract("shifted", _shifted_sig, reference=_shift_and_back)


def test_cancellation_inside_the_computation_is_a_floor_too() -> None:
    """The float32 evaluation of the reference is as far off as the kernel: no float32 order can do better, so the
    second opinion's floor is that evaluation's error, and the line names it."""
    case = shapecheck.Case("shifted", {"N": 64}, {}, int(torch.randint(0, 2**31, ()).item()))
    outcome = check_case(SHIFTED, case, lambda x: (x - 2.0**20) + 2.0**20, "cpu")  # another float32 order
    assert outcome.problems == [], outcome.problems
    assert outcome.errors["output float32"] > tolerance(torch.float32), outcome.errors  # the float32 bound would fail
    assert "float32 evaluation's error" in outcome.bounds["output float32"], outcome.bounds


def _tiny_sig(x: Float[Tensor, "N D"]) -> Float[Tensor, "N D"]: ...


def _tiny_reference(x: torch.Tensor) -> torch.Tensor:
    return x / 2**18  # float16 inputs in (0.05, 0.95) give results 2e-7..4e-6: deep in float16's subnormals


def _float16_inputs(case: shapecheck.Case, device: str) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(case.seed)
    return {"x": torch.rand(case.dims["N"], case.dims["D"], generator=gen).mul(0.9).add(0.05).half().to(device)}


TINY = shapecheck.Contract("tiny", _tiny_sig, reference=_tiny_reference, inputs=_float16_inputs)


def _halved_twice_in_float16(x: torch.Tensor) -> torch.Tensor:
    """Correct, and two roundings deep: x / 2**17 stored in float16, then halved (an intermediate in the
    result's dtype, as a gradient handed between autograd nodes is). Over 300 seeds: 1.0e-2 to 1.1e-2 off, the
    storage error alone 7.7e-3 to 8.4e-3."""
    return (x / 2**17).div(2)


def _twenty_percent_off(x: torch.Tensor) -> torch.Tensor:
    return (x.float() / 2**18 * 1.2).half()


def _tiny_case(seed: int) -> shapecheck.Case:
    return shapecheck.Case("tiny", {"N": 32, "D": 64}, {}, seed)


def test_a_result_in_float16s_subnormal_range_holds_within_twice_its_storage_error() -> None:
    seed = int(torch.randint(0, 2**31, ()).item())
    (x,) = _float16_inputs(_tiny_case(seed), "cpu").values()
    exact = _tiny_reference(x.double())
    stored = relative_rms(exact.half(), exact)
    assert stored > tolerance(torch.float16) / 2, stored  # the dtype's bound alone is below twice its storage
    found = relative_rms(_halved_twice_in_float16(x), exact)
    assert found > tolerance(torch.float16), found  # ... and the correct kernel misses it
    outcome = check_case(TINY, _tiny_case(seed), _halved_twice_in_float16, "cpu")
    assert outcome.problems == [], outcome.problems
    assert re.search(
        r"2 x the exact result's error merely stored in float16 [0-9.e-]+", outcome.bounds["output float16"]
    )


def test_an_error_beyond_twice_the_storage_error_still_fails_in_the_subnormal_range() -> None:
    outcome = check_case(TINY, _tiny_case(int(torch.randint(0, 2**31, ()).item())), _twenty_percent_off, "cpu")
    assert outcome.problems and outcome.problems[0].startswith("output differs from reference"), outcome.problems
    assert "merely stored in float16" in outcome.problems[0], outcome.problems


def test_a_case_off_the_cpu_also_takes_the_cpu_float32_evaluation_as_a_floor() -> None:
    """At D=1 torch's CUDA layer-norm gradient lent no floor on an H100 (within 1e-5/16 of the true 0) and its
    CPU one is 3.8e-5 off (bench/results/audit/repro_layer_norm_d1.py), so a GPU case evaluates the reference in
    float32 on the CPU too. Here the second float32 evaluation stands for the CPU's: exact on the "device", 4e-5 off on the CPU."""
    float32_calls: list[int] = []

    def results_of(args: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = args["x"]
        if x.dtype == torch.float32:
            float32_calls.append(1)
        off = 4e-5 if x.dtype == torch.float32 and len(float32_calls) == 2 else 0.0
        return {"output": torch.zeros_like(x) + off}

    x, out = torch.randn(16, 1, dtype=torch.float64), torch.full((16, 1), 1.1e-5)
    default = conditioning.second_opinion(results_of, {"x": x.float()}, [("output", out)], seed=0)
    assert default is not None and len(float32_calls) == 1  # a CPU case: one float32 evaluation
    assert default.bounds["output float32"].value == tolerance(torch.float32)
    float32_calls.clear()
    both = conditioning.second_opinion(results_of, {"x": x.float()}, [("output", out)], seed=0, on_cpu=True)
    assert both is not None and len(float32_calls) == 2
    bound = both.bounds["output float32"]
    cpu_error = relative_rms(torch.full((16, 1), 4e-5), torch.zeros(16, 1))  # a zero truth: the absolute norm
    assert abs(bound.value - 16 * cpu_error) < 1e-9 and "float32 evaluation's error on the CPU" in bound.why, bound
    assert relative_rms(out, torch.zeros(16, 1)) < bound.value  # the result the device's floor alone failed
