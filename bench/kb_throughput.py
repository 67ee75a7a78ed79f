"""Isolated against in-process throughput of `shapecheck kb`, and candidates per hour, on CPU or GPU in one run.

    python bench/kb_throughput.py --device cpu  --out bench/results/kb          # the Triton interpreter
    python bench/kb_throughput.py --device cuda --out bench/results/kb          # on the GPU machine

For each problem (a representative subset of bench/kb: elementwise, reduction, softmax, norm, matmul,
linear, conv), the honest candidate runs the same seeded cases in-process and in the isolation worker, each in a
fresh process of its own, after an untimed in-process run of those cases in another (which fills Triton's disk
cache: whichever side ran first would otherwise pay the compilations). Neither side holds the candidate's
kernels in memory from an earlier run: in a pipeline every candidate is new code. The table gives cases/s of
each (the property run itself), their ratio, the worker's start, the isolated time split, and candidates per
hour (start plus run, per candidate). Then every isolated cheat of one problem runs
at the same settings, so the figure is shown with the catalogue still rejected. Writes
OUT/kb_throughput_<device>.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "bench" / "kb"
PROBLEMS = [
    "01_scaled_relu",
    "06_row_sum",
    "11_softmax_rows",
    "13_layer_norm",
    "16_matmul",
    "17_linear_relu",
    "20_conv1d",
    "21_conv2d",
]
CHEATS = ["zeros", "stale", "late_write", "under_test_only", "scribble", "bf16"]


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name().replace(" ", "_")
    return f"cpu_{os.cpu_count()}core_{platform.machine()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--examples", type=int, default=None, help="cases per run (default: 30 on cpu, 200 on cuda)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kb")
    parser.add_argument("--problems", nargs="*", default=PROBLEMS)
    parser.add_argument("--one", nargs=3, metavar=("PROBLEM", "CANDIDATE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"  # before any kernel is imported
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from shapecheck import kb_cli, kernelbench

    examples = args.examples or (30 if args.device == "cpu" else 200)
    profile = "ci" if args.device == "cpu" else "gpu"

    if args.one:  # one judgement in this fresh process, its figures as JSON on the last line
        problem, candidate, mode = args.one
        path = KB / "problems" / f"{problem}.py"
        options = kb_cli.KbOptions(
            path,
            examples=examples,
            seed=0,
            device=args.device,
            profile=profile,
            database=False,
            isolate=mode == "isolated",
        )
        start = time.perf_counter()
        report = kb_cli.judge(options, kernelbench.Problem(path), KB / "candidates" / problem / f"{candidate}.py")
        figures = {
            "wall": time.perf_counter() - start,
            "seconds": report.seconds,
            "cases": len(report.outcomes),
            "held": report.held,
            "failure": None if report.failure is None else report.failure.problems[0],
            "split": report.time_split(),
        }
        print(json.dumps(figures))
        return

    def judge(problem: str, candidate: str, isolate: bool) -> dict[str, Any]:
        mode = "isolated" if isolate else "in-process"
        argv = [sys.executable, __file__, "--device", args.device, "--examples", str(examples), "--one"]
        done = subprocess.run([*argv, problem, candidate, mode], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(
                done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            )
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures

    lines = [
        f"# `shapecheck kb` throughput, {args.device} ({_device_name(args.device)}), profile {profile}, "
        f"{examples} cases per run, seed 0",
        "",
        "| problem | in-process cases/s | isolated cases/s | ratio | worker start s | isolated split (s) | "
        "candidates/hour in-process | candidates/hour isolated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios, per_hour = [], []
    for problem in args.problems:
        try:
            judge(problem, "correct", isolate=False)  # untimed: the same cases compile every kernel both runs need
            local = judge(problem, "correct", isolate=False)
            isolated = judge(problem, "correct", isolate=True)
        except Exception as exc:  # noqa: BLE001 - one broken problem is a row, the rest of the table still runs
            lines.append(f"| {problem} | error: {str(exc).splitlines()[0][:120]} | | | | | | |")
            print(lines[-1], flush=True)
            continue
        assert local["held"] and isolated["held"], (problem, local["failure"], isolated["failure"])
        rate_in, rate_iso = local["cases"] / local["seconds"], isolated["cases"] / isolated["seconds"]
        split = ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(isolated["split"].items(), key=lambda kv: -kv[1]) if v >= 0.01
        )
        ratios.append(rate_iso / rate_in)
        per_hour.append(3600 / isolated["wall"])
        lines.append(
            f"| {problem} | {rate_in:.1f} | {rate_iso:.1f} | {rate_iso / rate_in:.2f} | "
            f"{isolated['wall'] - isolated['seconds']:.1f} | {split} | {3600 / local['wall']:.0f} | "
            f"{3600 / isolated['wall']:.0f} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        f"median isolated/in-process ratio {statistics.median(ratios):.2f}; "
        f"median candidates/hour isolated {statistics.median(per_hour):.0f} (one worker start per candidate)",
        "",
        f"Cheats of {args.problems[0]}, isolated, same settings:",
        "",
        "| cheat | verdict | finding |",
        "|---|---|---|",
    ]
    for cheat in CHEATS:
        if not (KB / "candidates" / args.problems[0] / f"{cheat}.py").is_file():
            continue
        failure = judge(args.problems[0], cheat, isolate=True)["failure"]
        verdict = "held (NOT REJECTED)" if failure is None else "rejected"
        lines.append(f"| {cheat} | {verdict} | {'' if failure is None else failure[:100]} |")
        print(lines[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"kb_throughput_{_device_name(args.device)}.md"
    target.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written: {target}")


if __name__ == "__main__":
    main()
