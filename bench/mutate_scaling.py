"""Scaling of `shapecheck mutate --workers W` and `shapecheck run --workers W` over W (issue 14).

Each configuration is the real CLI in a fresh process, timed wall-clock; the mutate reports of every W are
compared mutant by mutant with W=1's (the report must not depend on the workers), the run reports by
verdict and case count. The table records the machine: CPUs, load average before and after (the 2-core
development machine is shared with other sessions), torch/triton versions and the GPUs.

    # the 2-core CPU (Triton interpreter): mutate of the bundled segment_mean kernel at 1 and 2 workers
    .venv/bin/python bench/mutate_scaling.py --output bench/results/mutate_scaling_cpu.md
    # a multi-GPU host: mutate and the GPU property job at 1, 2, 4, ... GPUs (up to every visible one)
    python bench/mutate_scaling.py --device cuda --what mutate,run --output bench/results/scaling_gpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def shapecheck() -> list[str]:
    script = Path(sys.executable).with_name("shapecheck")
    return [str(script)] if script.exists() else [sys.executable, "-m", "shapecheck.cli"]


def timed(args: list[str], json_path: Path) -> tuple[float, int, dict[str, Any]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [*shapecheck(), *args, "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not json_path.exists():
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.returncode, json.loads(json_path.read_text())


def machine(device: str) -> list[str]:
    import torch
    import triton

    lines = [
        f"- CPUs: {len(os.sched_getaffinity(0))} ({platform.processor() or platform.machine()}); "
        f"torch {torch.__version__}, triton {triton.__version__}, Python {platform.python_version()}"
    ]
    if device == "cuda":
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        lines.append(f"- GPUs: {len(names)} × {', '.join(sorted(set(names)))}")
    return lines


def worker_counts(text: str, device: str) -> list[int]:
    if text != "auto":
        return [int(w) for w in text.split(",")]
    from shapecheck import parallel

    top = parallel.worker_count("auto", device)
    counts = [1]
    while counts[-1] * 2 <= top:
        counts.append(counts[-1] * 2)
    return counts + ([top] if counts[-1] != top else [])


def mutate_rows(args: argparse.Namespace, counts: list[int], tmp: Path) -> list[str]:
    base = ["mutate", args.target, "--examples", str(args.examples), "--seed", "0", "--device", args.device]
    base += ["--operators", args.operators] if args.operators else []
    rows, first = [], None
    for w in counts:
        seconds, _code, report = timed([*base, "--workers", str(w)], tmp / f"mutate_{w}.json")
        statuses = [(m["id"], m["status"]) for m in report["mutants"]]
        first = first or (seconds, statuses)
        same = "yes" if statuses == first[1] else "NO"
        rows.append(
            f"| mutate | {w} | {seconds:.0f} | {first[0] / seconds:.2f}× | {len(statuses)} mutants, "
            f"{report['score']['killed']} killed | {same} |"
        )
    return rows


def run_rows(args: argparse.Namespace, counts: list[int], tmp: Path) -> list[str]:
    base = ["run", "--device", args.device, "--profile", args.profile, "--seed", "0", "--no-db"]
    base += ["--examples", str(args.run_examples)] if args.run_examples else []
    rows, first = [], None
    for w in counts:
        seconds, _code, report = timed([*base, "--workers", str(w)], tmp / f"run_{w}.json")
        cases = sum(c["cases"] for c in report["contracts"])
        verdict = "held" if report["held"] else "violated"
        first = first or (seconds, verdict)
        rows.append(
            f"| run --profile {args.profile} | {w} | {seconds:.0f} | {first[0] / seconds:.2f}× | "
            f"{cases} cases, {verdict} | {'yes' if verdict == first[1] else 'NO'} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--what", default="mutate", help="mutate, run, or mutate,run")
    parser.add_argument("--workers", default="1,2", help="comma-separated counts, or auto (1, 2, 4, ... every GPU/CPU)")
    parser.add_argument("--target", default="kernels/segment.py::_segment_mean_kernel")
    parser.add_argument("--operators", default=None, help="subset of the mutation operators (default: all)")
    parser.add_argument("--examples", type=int, default=60, help="cases per mutant")
    parser.add_argument("--profile", default="gpu", help="profile of the run measurement")
    parser.add_argument(
        "--run-examples", type=int, default=None, help="drawn cases of the run (default: the profile's)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    counts = worker_counts(args.workers, args.device)
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        if "mutate" in args.what:
            rows += mutate_rows(args, counts, Path(folder))
        if "run" in args.what:
            rows += run_rows(args, counts, Path(folder))
    load_after = os.getloadavg()
    lines = [
        f"# Scaling over workers ({args.device}), {started}",
        "",
        *machine(args.device),
        f"- load average (1/5/15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in load_after)}"
        + (
            " (above the CPU count: the machine was shared with other work)"
            if max(*load_before, *load_after) > len(os.sched_getaffinity(0))
            else ""
        ),
        f"- mutate: `shapecheck mutate {args.target} --examples {args.examples} --seed 0 --device {args.device}"
        f"{' --operators ' + args.operators if args.operators else ''} --workers W`",
        f"- command: `python bench/mutate_scaling.py {' '.join(sys.argv[1:])}`",
        "",
        "| what | workers | wall s | speed-up vs first | result | same as first |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
