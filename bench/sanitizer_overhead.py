"""How much slower the Triton CPU interpreter runs under `shapecheck.sanitizer.sanitize()`.

Why measure: the sanitizer checks every load/store lane and tags every pointer op in Python, on top of an
interpreter that already costs about a millisecond per program per step; the CLI runs it over whole case
tables, so the slowdown factor decides whether `--sanitize` can be on by default.

Two tiny kernels: a masked copy (one load and one store per program, many programs) and a gated running
sum over T steps (one load, one store and a few pointer ops per step): the shape of a decode recurrence.
Each is timed plain and sanitized, alternated, `--repeats` times after a warm-up; the best of each is shown.

Run: `TRITON_INTERPRET=1 .venv/bin/python bench/sanitizer_overhead.py`
"""

from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"  # before any @triton.jit: the sanitizer checks the interpreter only

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

import torch
import triton
import triton.language as tl

from shapecheck.sanitizer import sanitize


@triton.jit
def masked_copy(x_ptr, y_ptr, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < N), mask=offs < N)


@triton.jit
def gated_running_sum(x_ptr, g_ptr, y_ptr, T, D, BLOCK_D: tl.constexpr):
    """y[t] = g[t] * y[t-1] + x[t], one program per row of a [rows, T, D] tensor."""
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK_D)
    h = tl.zeros([BLOCK_D], dtype=tl.float32)
    for t in range(T):
        base = (row * T + t) * D
        g = tl.load(g_ptr + row * T + t)
        h = g * h + tl.load(x_ptr + base + offs, mask=offs < D, other=0.0)
        tl.store(y_ptr + base + offs, h, mask=offs < D)


def best_seconds(launch: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Fastest (plain, sanitized) launch times, the two alternated so that load from other processes on the
    machine hits both alike; the minimum is the least noisy estimate of the cost itself."""

    def timed(sanitized: bool) -> float:
        start = time.perf_counter()
        if sanitized:
            with sanitize() as report:
                launch()
            assert report.ok, report.violations
        else:
            launch()
        return time.perf_counter() - start

    timed(False)  # warm-up: the interpreter rewrites the kernel's AST on its first launch
    plain, checked = zip(*((timed(False), timed(True)) for _ in range(repeats)))
    return min(plain), min(checked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    n, block = 4000, 64
    x, y = torch.randn(n), torch.empty(n)
    rows, T, D = 4, 32, 40
    xs, gs, ys = torch.randn(rows, T, D), torch.rand(rows, T), torch.empty(rows, T, D)
    cases: dict[str, Callable[[], None]] = {
        f"masked copy, N={n}, BLOCK={block}, {triton.cdiv(n, block)} programs": lambda: masked_copy[
            (triton.cdiv(n, block),)
        ](x, y, n, BLOCK=block),
        f"gated running sum, {rows} programs x T={T} steps, D={D}": lambda: gated_running_sum[(rows,)](
            xs, gs, ys, T, D, BLOCK_D=64
        ),
    }

    print(
        f"CPU, Triton interpreter, {os.cpu_count()} cores ({platform.machine()}), torch {torch.__version__}, "
        f"triton {triton.__version__}; best of {args.repeats} alternated launches each"
    )
    print(f"{'kernel':<54} {'plain ms':>9} {'sanitized ms':>13} {'slowdown':>9}")
    for name, launch in cases.items():
        plain, checked = best_seconds(launch, args.repeats)
        print(f"{name:<54} {plain * 1e3:>9.1f} {checked * 1e3:>13.1f} {checked / plain:>8.2f}x")


if __name__ == "__main__":
    main()
