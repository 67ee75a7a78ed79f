"""Speed of the static analyser: `shapecheck lint` on one file as a user runs it (a fresh process, without and
with the lint cache), one kernel wrapper explained in-process, then every function of the installed torch.

    .venv/bin/python bench/static_speed.py [--jobs N] [--skip-torch] [--output bench/results/static_speed_cpu.txt]

torch's functions carry no shape annotations, so they are analysed with unknown inputs: this measures the
interpreter's cost and robustness (no exception may escape; a file that does not parse is counted as
skipped), not the quality of what it infers. Wall time includes reading and parsing every file.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy

from shapecheck.static import explain
from shapecheck.static.analysis import analyse_function, analyse_module
from shapecheck.static.source import ModuleSource

WRAPPER = ("kernels/gdn.py", "fused_sigmoid_gating_delta_rule_update")
FileResult = tuple[str, int, float, float, Optional[str]]  # path, functions, parse s, analysis s, skip reason


def analyse_file(path: str) -> FileResult:
    start = time.perf_counter()
    try:
        module = ModuleSource.load(path)
    except (SyntaxError, ValueError, RecursionError) as exc:
        return path, 0, time.perf_counter() - start, 0.0, type(exc).__name__
    parsed = time.perf_counter()
    functions = sum(1 for _ in analyse_module(module))
    return path, functions, parsed - start, time.perf_counter() - parsed, None


def wrapper_timings(repeats: int) -> list[str]:
    start = time.perf_counter()
    analysis = analyse_function(*WRAPPER)
    first = time.perf_counter() - start
    analysis_times, render_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        analysis = analyse_function(*WRAPPER)
        analysed = time.perf_counter()
        explain.text(analysis)
        analysis_times.append(analysed - start)
        render_times.append(time.perf_counter() - analysed)
    return [
        f"explain {WRAPPER[0]}::{WRAPPER[1]}",
        f"  first call (reads the file and the contract module it resolves): {first * 1e3:.1f} ms",
        f"  warm, median of {repeats}: {statistics.median(analysis_times) * 1e3:.1f} ms analysis"
        f" + {statistics.median(render_times) * 1e3:.1f} ms rendering",
    ]


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def cli_timings(repeats: int) -> list[str]:
    """Wall time of whole processes, median of `repeats`: what an editor's on-save hook waits for."""
    lint = [sys.executable, "-m", "shapecheck.cli", "lint", WRAPPER[0]]
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "SHAPECHECK_CACHE_DIR": folder}
        rows = [
            ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"]),
            ("python -c 'import sympy'", [sys.executable, "-c", "import sympy"]),
            (f"shapecheck lint {WRAPPER[0]} --no-cache", [*lint, "--no-cache"]),
            (f"shapecheck lint {WRAPPER[0]} (unchanged: from the lint cache)", lint),
        ]
        _wall(lint, env)  # fills the cache
        lines = [f"one file from the command line (fresh process each, median of {repeats}):"]
        for label, argv in rows:
            lines.append(f"  {label}: {statistics.median(_wall(argv, env) for _ in range(repeats)) * 1e3:.0f} ms")
    return lines


def watch_latency(repeats: int) -> list[str]:
    """`lint --watch`: from writing a changed copy of the wrapper to the watcher's next summary line."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "gdn.py"
        text = Path(WRAPPER[0]).read_text()
        target.write_text(text)
        env = {**os.environ, "SHAPECHECK_CACHE_DIR": str(Path(folder) / "cache")}
        watcher = subprocess.Popen(
            [sys.executable, "-m", "shapecheck.cli", "lint", "--watch", str(target)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert watcher.stdout is not None

        def summary() -> None:
            for line in watcher.stdout:  # type: ignore[union-attr]
                if line.startswith(("All checks passed", "Found ")):
                    return

        try:
            summary()
            times = []
            for i in range(repeats):
                time.sleep(0.5)
                start = time.perf_counter()
                target.write_text(text + f"\n# edit {i}\n")
                summary()
                times.append(time.perf_counter() - start)
        finally:
            watcher.terminate()
            watcher.wait()
    return [
        f"  shapecheck lint --watch, an edit of {WRAPPER[0]} to its new report (median of {repeats}, "
        f"polling every 0.2 s): {statistics.median(times) * 1e3:.0f} ms"
    ]


def torch_sweep(jobs: int) -> list[str]:
    root = Path(importlib.util.find_spec("torch").origin).parent  # type: ignore[arg-type, union-attr]
    files = [str(p) for p in sorted(root.rglob("*.py"))]
    start = time.perf_counter()
    if jobs == 1:
        results = [analyse_file(f) for f in files]
    else:
        with multiprocessing.Pool(jobs) as pool:
            results = list(pool.imap_unordered(analyse_file, files, chunksize=8))
    wall = time.perf_counter() - start
    functions = sum(r[1] for r in results)
    skipped = [(r[0], r[4]) for r in results if r[4] is not None]
    parse, analysis = sum(r[2] for r in results), sum(r[3] for r in results)
    slowest = sorted(results, key=lambda r: r[2] + r[3])[-5:]
    lines = [
        f"torch {importlib.metadata.version('torch')} package: {root}",
        f"  files: {len(files)} ({len(skipped)} skipped: "
        + ", ".join(f"{Path(p).relative_to(root)} ({why})" for p, why in skipped)
        + ")",
        f"  functions analysed: {functions}",
        f"  wall time: {wall:.1f} s with {jobs} process{'es' * (jobs > 1)} (summed over files: parse {parse:.1f} s, analysis {analysis:.1f} s)",
        f"  per function: {wall / functions * 1e3:.2f} ms wall, {analysis / functions * 1e3:.2f} ms analysis",
        "  slowest files: "
        + ", ".join(f"{Path(r[0]).relative_to(root)} {r[2] + r[3]:.2f} s" for r in reversed(slowest)),
    ]
    return lines


def triton_sweep() -> list[str]:
    """Every file of the installed triton analysed and linted in this process (tests/test_static_sweep.py checks
    that no exception escapes; the time is measured here: it was a 60 s budget there)."""
    from shapecheck.static.lint import lint_module

    root = Path(importlib.util.find_spec("triton").origin).parent  # type: ignore[arg-type, union-attr]
    files = sorted(root.rglob("*.py"))
    start = time.perf_counter()
    functions = kernels_linted = 0
    for path in files:
        module = ModuleSource.load(path)
        functions += sum(1 for _ in analyse_module(module))
        kernels_linted += lint_module(module)[1]
    wall = time.perf_counter() - start
    return [
        f"triton {importlib.metadata.version('triton')} package, analysed and linted in one process: "
        f"{len(files)} files, {functions} functions, {kernels_linted} kernels linted, {wall:.1f} s"
    ]


def fold_limit_timing() -> list[str]:
    """A proof over a case split of more than FOLD_LIMIT propositions answers "unknown" without folding
    (tests/test_static_facts.py checks that it never folds; this is how long the answer takes)."""
    from shapecheck.static import facts

    x = sympy.Symbol("x", integer=True)
    props = [sympy.Symbol(f"p{i}") for i in range(facts.FOLD_LIMIT + 1)]
    tangled = sympy.ITE(sympy.And(*[sympy.Or(*props[: i + 2]) for i in range(len(props) - 1)]), props[0], props[-1])
    split = sympy.Piecewise((x * (x + 1) - x**2, tangled), (x, True))
    start = time.perf_counter()
    facts._is_zero(split - x)
    return [
        f"a case split over {facts.FOLD_LIMIT + 1} propositions, not folded: answered in "
        f"{(time.perf_counter() - start) * 1e3:.1f} ms"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="processes for the torch sweep (default 1)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", type=Path, help="also write the report here")
    parser.add_argument("--skip-torch", action="store_true", help="leave out the sweep over torch's own source")
    args = parser.parse_args()
    header = (
        f"static analysis speed: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"sympy {sympy.__version__}"
    )
    header += f", typer {importlib.metadata.version('typer')}"
    lines = [
        header,
        *cli_timings(max(3, args.repeats // 4)),
        *watch_latency(max(3, args.repeats // 4)),
        *wrapper_timings(args.repeats),
        *fold_limit_timing(),
        *triton_sweep(),
        *([] if args.skip_torch else torch_sweep(args.jobs)),
    ]
    report = "\n".join(lines) + "\n"
    print(report, end="")
    if args.output is not None:
        args.output.write_text(report)


if __name__ == "__main__":
    main()
