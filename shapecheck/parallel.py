"""Spreading one property run over worker processes (one per GPU, or per CPU under the interpreter), over CI
jobs (`--shard i/n`), and over pytest-xdist workers.

A run is a `Stream`: a seed and a budget of drawn cases, plus the contract's regime examples. Splitting
it in `p` parts gives part `k` its own seed (derived from the run's, so a seeded run draws the same cases
every time), `examples // p` drawn cases (the remainder to the first parts) and every `p`-th regime
example from the `k`-th: parts never overlap and together are the whole. `--shard i/n` takes part `i` of
`n`; `--workers W` splits what is left in `W` and runs the parts at once, each in a process of its own
(`concurrent.futures` with the spawn start method: a fresh interpreter, so `CUDA_VISIBLE_DEVICES` and
`TRITON_INTERPRET` are set before torch or a kernel is imported). The cases run therefore depend on the
seed and on the parts (`n` × `W`), not on timing: shards 1/2 and 2/2 together run exactly what
`--workers 2` runs. The first failing case is shrunk in its worker, which claims the failure; the other
workers stop at their next case. Reports of the parts are merged into one (`reports.merge`).

This module imports no torch at the top: `shapecheck mutate` uses its device slots without torch.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import multiprocessing
import os
import queue
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TypeVar

from shapecheck.errors import UsageError
from shapecheck.shard import Shard as Shard

if TYPE_CHECKING:
    from shapecheck.outcomes import Outcome, Report
    from shapecheck.plan import RunOptions
    from shapecheck.spec import Contract

T = TypeVar("T")


def derive_seed(seed: int, part: int, parts: int) -> int:
    """Part `part` of `parts`' own seed: a hash, so neighbouring parts draw unrelated cases."""
    return int.from_bytes(hashlib.sha256(f"shapecheck:{seed}:{part}/{parts}".encode()).digest()[:8], "big")


@dataclasses.dataclass(frozen=True)
class Stream:
    """A part of a run: its seed (None: Hypothesis picks one, and the example database is used), its drawn
    cases, and the splits `(k, p)` that led to it from the whole run (which regime examples are its own)."""

    seed: Optional[int]
    examples: int
    path: tuple[tuple[int, int], ...] = ()

    def part(self, k: int, parts: int) -> "Stream":
        if parts == 1:
            return self  # the whole: a serial run stays exactly what it was
        seed = None if self.seed is None else derive_seed(self.seed, k, parts)
        return Stream(seed, self.examples // parts + (k < self.examples % parts), (*self.path, (k, parts)))

    def split(self, parts: int) -> list["Stream"]:
        return [self.part(k, parts) for k in range(parts)]

    @property
    def label(self) -> str:
        """Which part of the run, e.g. "2/2 > 1/3" (shard 2 of 2, its worker 1 of 3)."""
        return " > ".join(f"{k + 1}/{parts}" for k, parts in self.path) or "the whole run"

    def select(self, items: Sequence[T]) -> list[T]:
        """This part's share of `items` (the contract's regime examples)."""
        for k, parts in self.path:
            items = items[k::parts]
        return list(items)


def streams(options: "RunOptions", max_examples: int) -> list[Stream]:
    """The parts this invocation runs: its shard of the run, split over its workers (none empty)."""
    whole = Stream(options.seed, options.examples or max_examples)
    mine = whole if options.shard is None else whole.part(options.shard.index - 1, options.shard.count)
    if mine.examples < 1:
        raise UsageError(
            f"--shard {options.shard}: {whole.examples} drawn cases leave this shard none; "
            f"use fewer shards or more --examples"
        )
    return mine.split(min(options.workers, mine.examples))


# --- devices ------------------------------------------------------------------------------------


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, as a CI container sets it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def visible_gpus() -> list[str]:
    """`CUDA_VISIBLE_DEVICES` entries a worker may be pinned to: the variable's own list when set (indices
    or UUIDs), else every device torch sees."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def worker_count(text: str, device: str) -> int:
    """`--workers N|auto`: auto is one per visible GPU on `cuda`, else the CPU count."""
    if text == "auto":
        count = len(visible_gpus()) if device.startswith("cuda") else cpu_count()
        return max(1, count)
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--workers must be a positive integer or auto, found {text!r}")
    return int(text)


def device_slots(workers: int, device: str) -> list[Optional[str]]:
    """One slot per worker: the `CUDA_VISIBLE_DEVICES` value it runs with on `cuda` (devices in turn when
    there are more workers than GPUs), None under the interpreter."""
    if not device.startswith("cuda"):
        return [None] * workers
    gpus = visible_gpus()
    if not gpus:
        raise UsageError("--device cuda: no CUDA device is visible to give the workers")
    return [gpus[w % len(gpus)] for w in range(workers)]


def xdist_device(count: int, worker: Optional[str] = None) -> Optional[int]:
    """The CUDA device index for this pytest-xdist worker (`PYTEST_XDIST_WORKER=gw3` -> 3 mod `count`),
    None outside xdist."""
    worker = worker if worker is not None else os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not worker.removeprefix("gw").isdigit() or count < 1:
        return None
    return int(worker.removeprefix("gw")) % count


# --- the process pool ---------------------------------------------------------------------------

NOBODY, ABORTED = -1, -2  # values of the shared claim besides a part's index
_shared: dict[str, Any] = {}  # set in each worker process by `_start`


def _start(
    slots: "multiprocessing.Queue[Optional[str]]", events: "multiprocessing.Queue[tuple[int, bool]]", claim: Any
) -> None:
    """Worker initializer: take a device slot before anything touches CUDA."""
    slot = slots.get()
    if slot is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slot
    _shared.update(events=events, claim=claim)


def run_part(
    options: "RunOptions",
    contract: "Contract",
    fn: Callable[..., Any],
    name: str,
    stream: Stream,
    index: int,
    on_case: Callable[["Outcome"], None],
    claim: Any,
) -> tuple["Report", str]:
    """Run one part; its first failure claims the run (`claim` holds the part's index) and any other
    part's claim stops this one. Returns the report and the sanitizer's summary ("" when off)."""
    import contextlib

    from shapecheck import pins
    from shapecheck.errors import NothingRan
    from shapecheck.profiles import PROFILES
    from shapecheck.runner import run_property

    def seen(outcome: "Outcome") -> None:
        if not outcome.ok:
            with claim.get_lock():
                if claim.value == NOBODY:
                    claim.value = index
        on_case(outcome)

    with contextlib.ExitStack() as stack:
        sanitizer = None
        if options.sanitizing and not options.isolating:  # under --isolate the sanitizer runs in the isolated worker
            from shapecheck.sanitizer import sanitize

            sanitizer = stack.enter_context(sanitize())
        try:
            report = run_property(
                contract,
                fn,
                name,
                profile=PROFILES[options.profile],
                device=options.device,
                examples=stream.examples,
                seed=stream.seed,
                pins=pins.parse(options.pins),
                on_case=seen,
                database=options.database,
                command=options.replay(contract.qualname),
                stop=lambda: claim.value not in (NOBODY, index),
                pick_examples=stream.select,
                compile_ahead=options.compile_ahead,
                backward=options.backward,
                autotune_configs=options.autotune_configs,
                max_compiles=options.max_compiles,
            )
        except NothingRan as exc:  # a part that ran nothing leaves the run uncovered: an error, not a pass
            raise NothingRan(f"{exc} (in part {stream.label})") from None
    return report, "" if sanitizer is None else sanitizer.summary()


def _worker(options: "RunOptions", contract_name: str, index: int, stream: Stream) -> tuple["Report", str]:
    """In a worker process: choose the backend, import (or isolate) the targets as the parent did, run part
    `index`."""
    import contextlib

    from shapecheck import backend, cache, plan

    backend.select_backend(options.device)
    cache.hypothesis_home()
    events = _shared["events"]
    with contextlib.ExitStack() as isolated:
        targets = plan.targets(options, plan.isolation(options, isolated))
        c, fn, name = next(t for t in targets if t[0].qualname == contract_name)
        return run_part(options, c, fn, name, stream, index, lambda o: events.put((index, o.ok)), _shared["claim"])


def run_parallel(
    options: "RunOptions", contract: "Contract", parts: Sequence[Stream], on_case: Callable[[bool], None]
) -> tuple[list["Report"], list[str], int]:
    """Run `parts` in worker processes, one device slot each. Returns the parts' reports and sanitizer
    summaries in part order, and the index of the part whose failure claimed the run (NOBODY if it held).
    An error in any part (NothingRan, Abort, a usage error) stops the others and is raised here."""
    ctx = multiprocessing.get_context("spawn")
    slots: multiprocessing.Queue[Optional[str]] = ctx.Queue()
    for slot in device_slots(len(parts), options.device):
        slots.put(slot)
    events: multiprocessing.Queue[tuple[int, bool]] = ctx.Queue()
    claim = ctx.Value("i", NOBODY)
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=len(parts), mp_context=ctx, initializer=_start, initargs=(slots, events, claim)
    ) as pool:
        futures = [pool.submit(_worker, options, contract.qualname, k, part) for k, part in enumerate(parts)]
        pending = set(futures)
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=0.2)
            _drain(events, on_case)
            if any(f.exception() is not None for f in done):
                with claim.get_lock():
                    claim.value = ABORTED  # every other part stops at its next case
        _drain(events, on_case)
        results = [f.result() for f in futures]  # the first part's error, if any, is raised here
    return [r for r, _ in results], [s for _, s in results], claim.value


def _drain(events: "multiprocessing.Queue[tuple[int, bool]]", on_case: Callable[[bool], None]) -> None:
    while True:
        try:
            _, ok = events.get_nowait()
        except queue.Empty:
            return
        on_case(ok)


def run_contract(
    options: "RunOptions", contract: "Contract", fn: Callable[..., Any], name: str, on_case: Callable[[bool], None]
) -> tuple["Report", list[str]]:
    """This invocation's parts of one contract's run (its shard, over its workers) as one merged report,
    with the sanitizer's summary of each part. One part runs here, in this process."""
    import time

    from shapecheck import reports
    from shapecheck.profiles import PROFILES

    parts = streams(options, PROFILES[options.profile].max_examples)
    start = time.perf_counter()
    if len(parts) == 1:
        report, summary = run_part(
            options, contract, fn, name, parts[0], 0, lambda o: on_case(o.ok), multiprocessing.Value("i", NOBODY)
        )
        return report, [summary]
    found, summaries, claimant = run_parallel(options, contract, parts, on_case)
    for k, part in enumerate(found):
        if k != claimant:
            part.failure = None  # stopped mid-search: the claimant's shrunk failure is the run's
    return reports.merge(found, seconds=time.perf_counter() - start), summaries
