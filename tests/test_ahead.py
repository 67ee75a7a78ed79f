"""The compile-ahead pass (shapecheck/ahead.py). Its speed needs a GPU and a cold cache (tests/test_gpu.py and
bench/results/h200/); here, on any machine: when it steps aside, and the hooks it compiles through."""

from __future__ import annotations

import threading

import pytest
from hypothesis import strategies as st

from shapecheck import ahead
from shapecheck.case import Case
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.outcomes import Report

knobs = pytest.importorskip("triton").knobs


def test_it_steps_aside_off_cuda_and_for_an_isolated_implementation() -> None:
    drawn: list[Case] = []
    strategy = st.just(Case(GDN_DECODE.name, {}, {}, 0)).map(lambda c: drawn.append(c) or c)

    class Isolated:
        untrusted = True

        def __call__(self, **kwargs: object) -> None:
            raise AssertionError("never called")

    assert ahead.compile_ahead(GDN_DECODE, print, strategy, device="cpu", examples=5, seed=0).skipped.startswith(
        "not on cuda"
    )
    assert (
        "isolated" in ahead.compile_ahead(GDN_DECODE, Isolated(), strategy, device="cuda", examples=5, seed=0).skipped
    )
    assert drawn == [], "nothing drawn, nothing called"


def test_launches_are_refused_a_kernel_compiles_once_and_fresh_compilations_are_counted() -> None:
    only = ahead._CompileOnly()
    before = knobs.runtime.jit_cache_hook, knobs.runtime.launch_enter_hook, knobs.compilation.listener
    with only.active():
        miss, launch, listen = knobs.runtime.jit_cache_hook, knobs.runtime.launch_enter_hook, knobs.compilation.listener
        with pytest.raises(ahead._LaunchRefused):
            launch(None)
        results: list[bool] = []
        threads = [threading.Thread(target=lambda: results.append(miss(key=("k", 1)))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert sorted(results) == [False, True, True, True], "one thread compiles the kernel, the others skip it"
        assert miss(key=("k", 2)) is False, "another key compiles"
        listen(cache_hit=True)
        assert only.fresh == 0, "a disk-cache hit is not a compilation"
        listen(cache_hit=False)
        listen(cache_hit=False)
        assert only.fresh == 2
    assert (knobs.runtime.jit_cache_hook, knobs.runtime.launch_enter_hook, knobs.compilation.listener) == before


def test_the_run_calls_the_pass_unless_turned_off_and_its_time_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run --no-compile-ahead` (`run_property(compile_ahead=False)`) never calls the implementation early; the
    pass's seconds are the report's `compile ahead` step, not Hypothesis's."""
    from shapecheck import runner
    from shapecheck.profiles import PROFILES

    calls: list[int] = []
    monkeypatch.setattr(runner.ahead, "compile_ahead", lambda *a, **k: calls.append(1) or ahead.Ahead(2.5, 7))

    def broken(**kwargs: object) -> object:
        raise RuntimeError("a finding at once: the run stays short")

    def run(**options: bool) -> Report:
        return runner.run_property(
            GDN_DECODE,
            broken,
            "broken",
            profile=PROFILES["ci"],
            device="cpu",
            examples=3,
            seed=0,
            database=False,
            **options,
        )

    on = run()
    assert calls == [1] and on.failure is not None and on.ahead_seconds == 2.5
    assert on.time_split()["compile ahead"] == 2.5 and on.time_split()["hypothesis"] < on.seconds - 2.5 + 1e-9
    off = run(compile_ahead=False)
    assert calls == [1], "turned off: not called"
    assert off.failure is not None and off.ahead_seconds == 0 and "compile ahead" not in off.time_split()
