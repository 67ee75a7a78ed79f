"""Compile ahead: the Triton compilations a cold GPU property run will need, done in parallel before it starts.

With a cold Triton cache the `gpu` profile's run is compile-bound: one compilation per dtype/block/flag set
(~0.75 s each on an H200 host, 17.5 of 28 s for 423 cases), each stalling the run, because Hypothesis runs
cases one at a time. Compilations of different kernels overlap about 2x across threads
(bench/results/h200/property_cold_parallel.txt). So before the run this draws the run's cases (the same
strategy and seed: Hypothesis draws the same cases again while every case passes) and calls the
implementation on them from a thread pool with every kernel launch refused: Triton compiles each kernel a
call reaches first, nothing runs on the device, and the run then finds its kernels compiled. A call that
needs a kernel another thread is compiling ends there (it would only compile it twice).

A warm cache skips the pass: one drawn case is called first, and unless its kernel needed a compilation
that was not a disk-cache hit (Triton's compilation listener says which), nothing else is drawn. Only for in-process
implementations on cuda: an isolated one runs in a worker process of its own, and the interpreter compiles
nothing. Nothing here is a verdict: a call that fails is left to the run, which makes it again and reports it.

Under a compile budget (shapecheck/budget.py) `compile_run` is used instead: it draws the run's cases from the
budgeted strategy, reads their keys with every compilation skipped, and compiles only the keys missing from
the disk cache, in forked processes (Triton compiles mostly under the GIL, so threads overlap ~2x), so a partly
warm cache pays for what it misses and a warm one draws nothing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterator, Optional, Sequence

from hypothesis import strategies as st

from shapecheck import autotune
from shapecheck.case import Case
from shapecheck.inputs import input_builder
from shapecheck.spec import Contract
from shapecheck.strategies import for_each_drawn

THREADS = 8  # 8 and 16 threads measured the same (bench/compile_overlap.py on an H200 host)
PROBES = 10  # drawn cases tried for the first one that reaches a kernel (the contract may refuse some)
FORK_TIMEOUT_S = 120.0  # a forked compiling process still running then is killed


@dataclasses.dataclass
class Ahead:
    """What the pass did: its wall seconds, the implementation calls it made, or why it did not run."""

    seconds: float = 0.0
    calls: int = 0
    skipped: str = ""


class _LaunchRefused(Exception):
    """Raised by the launch hook during the pass: the kernel is compiled, never run."""


class _CompileOnly:
    """While active: kernel launches are refused, a kernel another thread is compiling is skipped (that call
    ends there; the other thread's compilation serves the run), and compilations that were not disk-cache
    hits are counted (`fresh`), through Triton's compilation listener."""

    def __init__(self) -> None:
        self.lock, self.started = threading.Lock(), set[Any]()  # keys whose compilation a thread has begun
        self.fresh = 0

    @contextlib.contextmanager
    def active(self) -> Iterator["_CompileOnly"]:
        from triton import knobs

        runtime, compilation = knobs.runtime, knobs.compilation
        previous = runtime.jit_cache_hook, runtime.launch_enter_hook, compilation.listener

        def miss(*args: Any, **kwargs: Any) -> bool:
            with self.lock:
                if kwargs.get("key") in self.started:
                    return True  # Triton then returns without compiling or launching
                self.started.add(kwargs.get("key"))
            return bool(previous[0](*args, **kwargs)) if previous[0] else False

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise _LaunchRefused

        def listen(*args: Any, **kwargs: Any) -> None:
            if not kwargs.get("cache_hit", False):
                with self.lock:
                    self.fresh += 1
            if previous[2]:
                previous[2](*args, **kwargs)

        runtime.jit_cache_hook, runtime.launch_enter_hook, compilation.listener = miss, refuse, listen
        try:
            yield self
        finally:
            runtime.jit_cache_hook, runtime.launch_enter_hook, compilation.listener = previous


def _unable(device: str, impl: Callable[..., Any]) -> str:
    """Why the pass cannot run here ("" when it can)."""
    if not device.startswith("cuda"):
        return "not on cuda: nothing to compile"
    if getattr(impl, "untrusted", False):
        return "an isolated implementation compiles in its own process"
    try:
        from triton import knobs
    except ImportError:
        return "this triton has no runtime hooks"
    if not hasattr(knobs.compilation, "listener"):
        return "this triton does not say which compilations were cache hits"
    return ""


def _caller(
    contract: Contract, impl: Callable[..., Any], device: str, calls: list[int], dry: autotune.Dry
) -> Callable[[Case], bool]:
    """`call(case)` from any thread of a pass that holds `dry` entered."""
    build = input_builder(contract)

    def call(case: Case) -> bool:
        """Whether the call reached a kernel launch (compiled now, or already)."""
        calls[0] += 1
        try:
            args = build(case, device)
            contract.validate(dict(args))
            with dry.case(case.seed):
                impl(**args)
        except _LaunchRefused:
            return True
        except Exception:  # noqa: BLE001 - a failure the run will make again and report itself
            pass
        return False

    return call


Job = tuple[Any, Any, Any, Any, dict[str, Any]]  # a kernel, its signature, constexprs, attributes, launch options


def _jobs(
    contract: Contract, impl: Callable[..., Any], cases: Sequence[Case], device: str, tuning: autotune.Mode
) -> list[Job]:
    """What Triton would compile for `cases`, one job per key, read from its hooks with every compilation
    skipped and every launch refused: the arguments `JITFunction._do_compile` passes to `compile`."""
    from triton import knobs
    from triton.runtime import jit

    build, jobs, options = input_builder(contract), dict[str, Job](), [dict[str, Any]()]
    runtime, original = knobs.runtime, jit.compute_cache_key
    previous = runtime.jit_cache_hook, runtime.launch_enter_hook

    def key_of(cache: Any, specialization: Any, kwargs: Any) -> str:
        options[0] = dict(kwargs)  # the launch options, which the cache hook is not given
        return original(cache, specialization, kwargs)

    def capture(*, key: Any, fn: Any, compile: dict[str, Any], **rest: Any) -> bool:
        jobs.setdefault(
            str(key), (fn.jit_function, compile["signature"], compile["constants"], compile["configs"][0], options[0])
        )
        return True

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise _LaunchRefused

    jit.compute_cache_key, runtime.jit_cache_hook, runtime.launch_enter_hook = key_of, capture, refuse
    try:
        with autotune.Dry(tuning) as dry:
            for case in cases:
                with contextlib.suppress(Exception), dry.case(case.seed):  # a refused case is the run's to report
                    args = build(case, device)
                    contract.validate(dict(args))
                    impl(**args)
    finally:
        jit.compute_cache_key = original
        runtime.jit_cache_hook, runtime.launch_enter_hook = previous
    return list(jobs.values())


def _compile_forked(jobs: Sequence[Job], workers: int) -> int:
    """Compile `jobs` in `workers` forked processes into Triton's disk cache; the failed processes' count.

    Triton compiles mostly under the GIL, so threads overlap only ~2x; processes scale with the cores. A
    child compiles for the parent's target and never touches the device (a forked CUDA context is unusable);
    the run then loads each kernel from the disk cache."""
    import warnings

    from triton.compiler import make_backend
    from triton.runtime import driver

    target = driver.active.get_current_target()
    pids = []
    for share in (jobs[i::workers] for i in range(min(workers, len(jobs)))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a threaded process: see above
            pid = os.fork()
        if pid == 0:  # the child: compile, then leave without running the parent's exit handlers
            code = 0
            try:
                for fn, signature, constants, attrs, launch in share:
                    options = make_backend(target).parse_options(dict(launch))
                    fn.compile(fn.ASTSource(fn, signature, constants, attrs), target=target, options=options.__dict__)
            except BaseException:  # noqa: BLE001 - the parent compiles what a child could not
                traceback.print_exc()
                code = 1
            os._exit(code)
        pids.append(pid)
    failed, deadline = 0, time.monotonic() + FORK_TIMEOUT_S
    while pids:  # a child that hangs (a lock a parent thread held at the fork) is killed: threads take over
        for pid in list(pids):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pids.remove(pid)
                failed += status != 0
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return failed


def _in_disk_cache(job: Job, target: Any) -> bool:
    """Whether Triton's disk cache holds `job`'s kernel: the lookup `triton.compile` starts with (False when
    this triton's internals differ: the job is then compiled, which loads it if it was there)."""
    try:
        from triton.compiler import compiler

        fn, signature, constants, attrs, launch = job
        backend, src = compiler.make_backend(target), fn.ASTSource(fn, signature, constants, attrs)
        options = backend.parse_options(dict(backend.parse_options(dict(launch)).__dict__, **src.parse_options()))
        key = compiler.get_cache_key(src, backend, options, env_vars=compiler.get_cache_invalidating_env_vars())
        name = f"{src.name[:150]}.json"
        group = compiler.get_cache_manager(hashlib.sha256(key.encode("utf-8")).hexdigest()).get_group(name)
        return bool(group and group.get(name))
    except Exception:  # noqa: BLE001 - see above
        return False


def compile_run(
    contract: Contract,
    impl: Callable[..., Any],
    strategy: st.SearchStrategy[Case],
    *,
    device: str,
    examples: int,
    seed: int,
    also: Sequence[Case] = (),
    rows: Sequence[Case] = (),
    threads: int = THREADS,
    autotune_configs: autotune.Mode = "drawn",
) -> Ahead:
    """Compile the kernels of the run's own cases, drawn from `strategy` under `seed` as the run will draw them
    (a compile budget's strategy, shapecheck/budget.py), and of `also`: each distinct key not in the disk cache
    is compiled in one of `os.cpu_count()` forked processes (where the OS forks), or else in `threads`
    threads. The run then loads them from the disk cache; a cold, a partly warm and a warm cache all pay only
    for the keys they miss. When the keys of `also` and of `rows` (a case of each budget row) are all cached,
    nothing is drawn: the cache is warm (a free attribute's alignment variant then compiles in the run)."""
    unable = _unable(device, impl)
    if unable:
        return Ahead(skipped=unable)
    from triton.runtime import driver

    start, cases, target = time.perf_counter(), [*also, *rows], driver.active.get_current_target()
    if rows and all(_in_disk_cache(job, target) for job in _jobs(contract, impl, cases, device, autotune_configs)):
        return Ahead(time.perf_counter() - start, len(cases), skipped="every row's kernel is in the disk cache")
    with contextlib.suppress(Exception):  # a strategy that fails to draw: the run draws again and says why
        for_each_drawn(strategy, examples, seed, cases.append)
    jobs = _jobs(contract, impl, cases, device, autotune_configs)
    missing = [job for job in jobs if not _in_disk_cache(job, target)]
    failed = _compile_forked(missing, os.cpu_count() or 1) if missing and hasattr(os, "fork") else len(missing)
    if failed:
        if hasattr(os, "fork"):
            print(
                f"compile ahead: {failed} forked compiling processes failed; their kernels compile in threads",
                file=sys.stderr,
            )
        calls, only, dry = [0], _CompileOnly(), autotune.Dry(autotune_configs)
        call = _caller(contract, impl, device, calls, dry)
        with (
            only.active(),
            dry,
            concurrent.futures.ThreadPoolExecutor(min(threads, os.cpu_count() or 1), "ahead") as pool,
        ):
            list(pool.map(call, cases))
    return Ahead(time.perf_counter() - start, len(cases))


def compile_ahead(
    contract: Contract,
    impl: Callable[..., Any],
    strategy: st.SearchStrategy[Case],
    *,
    device: str,
    examples: int,
    seed: Optional[int],
    also: Sequence[Case] = (),
    threads: int = THREADS,
    autotune_configs: autotune.Mode = "drawn",
) -> Ahead:
    """Compile, in `threads` threads, the kernels `impl` launches for the run's drawn cases and for `also` (the
    contract's regime examples); see the module. A strategy that fails to draw ends the pass: the run says why."""
    unable = _unable(device, impl)
    if unable:
        return Ahead(skipped=unable)
    calls, only, dry = [0], _CompileOnly(), autotune.Dry(autotune_configs)
    call = _caller(contract, impl, device, calls, dry)
    start = time.perf_counter()
    with only.active(), dry, concurrent.futures.ThreadPoolExecutor(min(threads, os.cpu_count() or 1), "ahead") as pool:
        reached: list[bool] = []  # the probe runs on the pool too: the run's compile time is its own thread's

        def probe(case: Case) -> None:
            if not any(reached):
                reached.append(pool.submit(call, case).result())

        try:
            for_each_drawn(strategy, PROBES, seed, probe)
        except Exception as exc:  # noqa: BLE001 - the run draws again and blames the strategy
            return Ahead(time.perf_counter() - start, calls[0], f"drawing failed: {type(exc).__name__}")
        if not any(reached):
            return Ahead(time.perf_counter() - start, calls[0], f"none of {calls[0]} drawn cases reached a launch")
        if not only.fresh:
            return Ahead(
                time.perf_counter() - start, calls[0], "the first case needed no compilation: the cache is warm"
            )
        for case in also:
            pool.submit(call, case)
        with contextlib.suppress(Exception):  # as above: the run will say what went wrong
            for_each_drawn(strategy, examples, seed, lambda case: pool.submit(call, case) and None)
    return Ahead(time.perf_counter() - start, calls[0])
