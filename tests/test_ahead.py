"""The compile-ahead pass (shapecheck/ahead.py). Its speed needs a GPU and a cold cache (tests/test_gpu.py and
bench/results/h200/); here, on any machine: when it steps aside, and the hooks it compiles through."""

from __future__ import annotations

import threading

import pytest
from hypothesis import strategies as st

from shapecheck import ahead
from shapecheck.case import Case
from shapecheck.contracts.gdn import GDN_DECODE

knobs = pytest.importorskip("triton").knobs


def test_it_steps_aside_off_cuda_and_for_an_isolated_implementation() -> None:
    drawn: list[Case] = []
    strategy = st.just(Case(GDN_DECODE.name, {}, {}, 0)).map(lambda c: drawn.append(c) or c)

    class Isolated:
        untrusted = True

        def __call__(self, **kwargs: object) -> None:
            raise AssertionError("never called")

    assert ahead.compile_ahead(GDN_DECODE, print, strategy, device="cpu", examples=5, seed=0).skipped.startswith("not on cuda")
    assert "isolated" in ahead.compile_ahead(GDN_DECODE, Isolated(), strategy, device="cuda", examples=5, seed=0).skipped
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
