"""The compile budget (shapecheck/budget.py) on any machine: a fake JIT kernel that goes through Triton's own
key and hook protocol (`compute_cache_key`, `jit_cache_hook`, `jit_post_compile_hook`, the launch hook) and
records what it compiles, so the budget's keys, the drawing and the report's rows are checked without a GPU.
Its speed needs one: bench/compile_budget.py and bench/results/."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import pytest
import torch
from jaxtyping import Float32, Int
from torch import Tensor

import shapecheck
from shapecheck import budget, console, reports
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES
from shapecheck.runner import run_property

triton = pytest.importorskip("triton")
from triton import knobs  # noqa: E402 - after the skip
from triton.runtime import jit  # noqa: E402


class FakeKernel:
    """A `@triton.jit` kernel's launch path without a compiler: constexpr arguments key the compilation by
    value, other ints only by Triton's divisibility attribute (a multiple of 16 or not)."""

    def __init__(self, constexprs: tuple[str, ...]) -> None:
        self.constexprs, self.key_cache, self.compiled = constexprs, {}, {}  # type: dict[str, Any]
        self.launches = 0

    def __getitem__(self, grid: Any) -> Any:
        return lambda **kwargs: self.run(**kwargs)

    def run(self, **kwargs: Any) -> Optional[str]:
        specialization = [
            ("constexpr", v) if name in self.constexprs else ("i32", "D" if v % 16 == 0 else "")
            for name, v in kwargs.items()
        ]
        key = jit.compute_cache_key(self.key_cache, specialization, {"num_warps": 1})
        if key not in self.compiled:
            hook = knobs.runtime.jit_cache_hook
            if hook is not None and hook(
                key=key, repr=key, fn=self, compile={}, is_manual_warmup=False, already_compiled=False
            ):
                return None  # the hook asked Triton to skip the compilation (and the launch)
            self.compiled[key] = kwargs
            post = knobs.runtime.jit_post_compile_hook
            if post is not None:
                post(
                    key=key,
                    repr=key,
                    fn=self,
                    compile={"signature": list(kwargs), "constants": kwargs},
                    is_manual_warmup=False,
                    already_compiled=False,
                )
        enter = knobs.runtime.launch_enter_hook
        if enter is not None:
            enter(None)
        self.launches += 1
        return key


def _signature(x: Float32[Tensor, "N D"], flag: bool = False) -> Float32[Tensor, "N D"]: ...


def _reference(x: Tensor, flag: bool = False) -> Tensor:
    return x * (3 if flag else 2)


CONTRACT = shapecheck.Contract(
    "scaled",
    _signature,
    reference=_reference,
    dims={"N": shapecheck.Dim("rows", 1, 40), "D": shapecheck.Dim("columns", 1, 40)},
)


def _impl(kernel: FakeKernel, wrong_from_rows: int = 10**9) -> Any:
    def scaled(x: Tensor, flag: bool = False) -> Tensor:
        kernel[(1,)](N=x.shape[0], D=x.shape[1], FLAG=flag)  # N a runtime int, D and FLAG constexpr
        out = x * (3 if flag else 2)
        return out + 1 if x.shape[0] >= wrong_from_rows else out

    return scaled


def _run(
    impl: Any,
    max_compiles: int,
    monkeypatch: pytest.MonkeyPatch,
    examples: int = 60,
    contract: shapecheck.Contract = CONTRACT,
    seed: int = 3,
) -> Report:
    monkeypatch.setenv("TRITON_INTERPRET", "0")  # the budget steps aside under the interpreter; the fake compiles
    return run_property(
        contract,
        impl,
        impl.__name__,
        profile=PROFILES["ci"],
        device="cpu",
        examples=examples,
        seed=seed,
        database=False,
        max_compiles=max_compiles,
    )


def _classes(kernel: FakeKernel) -> set[tuple[int, bool]]:
    return {(kw["D"], kw["FLAG"]) for kw in kernel.compiled.values()}


def test_the_budget_pins_what_the_kernel_specialises_on_and_leaves_the_rest_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    free_kernel, kept_kernel = FakeKernel(("D", "FLAG")), FakeKernel(("D", "FLAG"))
    free = _run(_impl(free_kernel), 0, monkeypatch)
    kept = _run(_impl(kept_kernel), 4, monkeypatch)
    assert free.held and kept.held and free.compile_budget is None
    assert len(_classes(free_kernel)) > 12, "drawn freely, nearly every case compiles"
    assert len(_classes(kept_kernel)) <= 4, "the budget: four (D, FLAG) classes"
    summary = kept.compile_budget
    assert summary is not None and not summary.off
    assert summary.relevant == ["D", "flag"], "N changes only an alignment attribute: it stays free"
    assert len(summary.values["D"]) <= 4 and summary.rows <= 4
    assert summary.keys == len(kept_kernel.compiled) and sum(summary.cases_per_key) == len(kept.outcomes)
    rows_free = {o.case.dims["N"] for o in free.outcomes}
    rows_kept = {o.case.dims["N"] for o in kept.outcomes}
    assert len(rows_kept) >= 0.8 * len(rows_free), (rows_kept, rows_free)


def test_probes_compile_nothing_and_launch_nothing() -> None:
    kernel = FakeKernel(("D", "FLAG"))
    probe = budget.Prober(CONTRACT, _impl(kernel), "cpu")
    from shapecheck.case import Case

    first = probe(Case("scaled", {"N": 4, "D": 8}, {"flag": True}, 0))
    again = probe(Case("scaled", {"N": 5, "D": 8}, {"flag": True}, 1))
    other = probe(Case("scaled", {"N": 4, "D": 9}, {"flag": True}, 0))
    assert kernel.compiled == {} and kernel.launches == 0
    assert first.klasses == again.klasses != other.klasses
    _impl(kernel)(torch.ones(4, 8), flag=True)  # compiled and launched for real: a probe then meets the
    assert probe(Case("scaled", {"N": 4, "D": 8}, {"flag": True}, 0)).keys == first.keys  # kernel in memory
    assert kernel.launches == 1


def test_a_failure_in_a_free_dimension_still_shrinks_to_its_smallest_case(monkeypatch: pytest.MonkeyPatch) -> None:
    report = _run(_impl(FakeKernel(("D", "FLAG")), wrong_from_rows=7), 4, monkeypatch)
    assert report.failure is not None and report.failure.case.dims["N"] == 7


def test_the_report_shows_the_keys_cases_per_key_and_the_values_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    report = _run(_impl(FakeKernel(("D", "FLAG"))), 3, monkeypatch, examples=30)
    summary = report.compile_budget
    assert summary is not None
    rows = dict(console.budget_rows(summary))
    assert rows["compile budget"].startswith(
        f"{summary.keys} keys for a budget of 3 ({summary.rows} menu rows over D, flag)"
    )
    assert f"{summary.cases_per_key[-1]}-{summary.cases_per_key[0]} cases per key" in rows["compile budget"]
    assert rows["compile-relevant values"].startswith("D: " + ", ".join(map(str, summary.values["D"])))
    with console.stdout.capture() as shown:
        console.stdout.print(console.report_table(report))
    assert "compile-relevant values" in shown.get() and "compile budget" in report.time_split()
    again = Report.from_json(json.loads(json.dumps(reports.as_dict(report))))
    assert again.compile_budget == summary


def test_a_run_whose_keys_fit_the_budget_draws_freely_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    report = _run(_impl(FakeKernel(("FLAG",))), 8, monkeypatch, examples=20)
    assert report.compile_budget is not None and "within the budget" in report.compile_budget.off
    assert dict(console.budget_rows(report.compile_budget))["compile budget"].startswith("off (about 2 compile keys")


def test_an_attribute_no_single_change_can_test_is_named_by_the_rows_it_splits() -> None:
    """A batch size the contract never accepts changed alone (its slot indices' length follows it): budgeted
    cases of one row that reach different key classes name it, or the pair that decides them together."""
    from shapecheck.case import Case

    def probed(B: int, varlen: bool, D: int, seed: int) -> budget.Probed:
        case = Case("c", {"B": B, "N": B + seed % 3, "D": D}, {"varlen": varlen, "scale": seed / 7}, seed)
        return budget.Probed(case, (), ((0, f"B={1 if varlen else B},V={varlen},D={D}"),))

    pinned = [("dims", "D")]
    by_batch = [probed(B, False, D, s) for s, (B, D) in enumerate([(1, 8), (2, 8), (3, 8), (1, 9), (2, 9), (2, 9)])]
    assert budget.unexplained(by_batch, pinned, lambda knob: True) == [("dims", "B")]
    # A strategy that would not keep B pinned: the attribute with the next fewest values that decides is named
    assert budget.unexplained(by_batch, pinned, lambda knob: knob != ("dims", "B")) == [("dims", "N")]
    both = [
        probed(B, v, 8, s)
        for s, (B, v) in enumerate([(1, True), (1, False), (2, False), (2, True), (3, False), (2, True), (3, False)])
    ]
    assert budget.unexplained(both, pinned, lambda knob: True) == [("dims", "B"), ("options", "varlen")]
    assert budget.unexplained([p for p in by_batch if p.case.dims["B"] == 2], pinned, lambda knob: True) == []


class AutotunedFake(FakeKernel):
    """The fake behind `@triton.autotune`: a config's block size keys the compilation, its launch options not."""

    OPTIONS = ("num_warps", "num_ctas", "num_stages", "maxnreg", "ir_override")

    def __init__(self) -> None:
        super().__init__(("D", "BLOCK"))
        self.fn = _reference  # what the autotuner reads its name from (`base_fn`)

    def run(self, *args: Any, **kwargs: Any) -> Optional[str]:
        return super().run(**{k: v for k, v in kwargs.items() if k not in self.OPTIONS})


def _autotuned() -> tuple[Any, list[int]]:
    from triton import Config
    from triton.runtime.autotuner import Autotuner

    benchmarks: list[int] = []

    def bench(*args: Any, **kwargs: Any) -> float:
        benchmarks.append(1)  # a refused launch times as zero: Triton's benchmarker would repeat it for its window
        return 1.0

    configs = [Config({"BLOCK": b}) for b in (4, 8, 16)]
    tuner = Autotuner(AutotunedFake(), ["N", "D"], configs, ["D"], None, None, do_bench=bench)
    return tuner, benchmarks


def _autotuned_impl(tuner: Any) -> Any:
    def scaled(x: Tensor, flag: bool = False) -> Tensor:
        tuner.run(N=x.shape[0], D=x.shape[1])
        return x * (3 if flag else 2)

    return scaled


@pytest.mark.parametrize("mode", ["drawn", "tuned"])
def test_probes_meet_an_autotuned_kernel_without_benchmarking_it(mode: str) -> None:
    """fla's chunk GDN spent 229 s of a 303 s H100 run in budget probes the autotuner benchmarked: probes now run
    the config the run's case draws ("drawn": the same keys) or each config once ("tuned"), no benchmark."""
    from shapecheck import autotune
    from shapecheck.case import Case

    tuner, benchmarks = _autotuned()
    probe = budget.Prober(CONTRACT, _autotuned_impl(tuner), "cpu", autotune_configs=mode)  # type: ignore[arg-type]
    seeds = range(12)
    probed = [probe(Case("scaled", {"N": 4, "D": 8}, {}, seed)) for seed in seeds]
    assert benchmarks == [] and tuner.fn.compiled == {} and tuner.fn.launches == 0
    # a class reads "i32,constexpr=8,constexpr=<BLOCK>|options": N, D, then the config's BLOCK
    blocks = [sorted(int(k.split("|")[0].rsplit("=", 1)[1]) for _, k in p.klasses) for p in probed]
    if mode == "drawn":  # the run's own pick for each case's seed
        picked = [[tuner.configs[autotune._index(tuner, seed)].kwargs["BLOCK"]] for seed in seeds]
        assert blocks == picked and len({b[0] for b in blocks}) > 1, blocks
    else:
        assert blocks == [[4, 8, 16]] * len(seeds), blocks


def _varlen_signature(
    x: Float32[Tensor, "T D"], cu_seqlens: Optional[Annotated[Int[Tensor, "N+1"], shapecheck.Offsets("T")]] = None
) -> Float32[Tensor, "T D"]: ...


VARLEN = shapecheck.Contract(
    "varlen_scaled",
    _varlen_signature,
    reference=lambda x, cu_seqlens=None: x * 2,
    dims={
        "T": shapecheck.Dim("tokens", 1, 40),
        "D": shapecheck.Dim("columns", 1, 40),
        "N": shapecheck.Dim("seqs", 1, 4),
    },
)


def test_offsets_whose_presence_keys_a_compilation_are_pinned_by_presence_not_by_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A varlen kernel (IS_VARLEN a constexpr) whose contract has no flag deciding whether `cu_seqlens` is
    passed: a menu row keeps the offsets' presence, and each case's offsets are still drawn with its own T and N.
    Pinning one probed list instead handed other draws offsets of another length and sum (an internal error in
    the input builder on an H100: "shape '[2]' is invalid for input of size 3")."""
    kernel = FakeKernel(("D", "VARLEN"))

    def varlen_scaled(x: Tensor, cu_seqlens: Optional[Tensor] = None) -> Tensor:
        if cu_seqlens is not None:
            assert cu_seqlens.shape[0] >= 2 and int(cu_seqlens[-1]) == x.shape[0], "offsets of another case"
        kernel[(1,)](T=x.shape[0], D=x.shape[1], VARLEN=cu_seqlens is not None)
        return x * 2

    report = _run(varlen_scaled, 4, monkeypatch, contract=VARLEN, seed=5)
    assert report.held, report.failure
    summary = report.compile_budget
    assert summary is not None and not summary.off and "cu_seqlens passed" in summary.relevant
    varlen = {o.case.options["cu_seqlens"] is not None for o in report.outcomes}
    lists = {json.dumps(o.case.options["cu_seqlens"]) for o in report.outcomes if o.case.options["cu_seqlens"]}
    assert varlen == {True, False} and len(lists) >= 2, "presence pinned, the offsets themselves drawn"
    assert len({(kw["D"], kw["VARLEN"]) for kw in kernel.compiled.values()}) <= 4
