"""The GPU property job on kernels that specialise like upstream ones: cases/s, compile keys, time split and
coverage, with the compile budget (shapecheck/budget.py) against a run drawing the same number of cases freely.

Each run is `shapecheck run fused ... --device cuda --profile gpu --no-db` in a fresh process: "cold" with a new,
empty TRITON_CACHE_DIR, "warm" with the one the cold run left; seeded (`--seed 0`) and unseeded. Rows:
  sglang     SGLang 0.5.23's kernel (bench/adapters.py:sglang_gdn; wheels in $PEERS), in process, its known
             strided-view defect pinned away (--pin strided_qkv=false) so the run holds
  constexpr  bench/constexpr_gdn.py: H, HV, K, V, BK, BV as tl.constexpr
  bundled    the bundled kernel (tuned to a few dozen keys: the budget should step aside)
  defect     SGLang unpinned, the default case count: the run must find the strided-view defect
  baseline   the bundled kernel under another commit's shapecheck (`--baseline DIR`: that commit installed with
             `pip install --no-deps --no-build-isolation --target DIR`), on the same machine: "the bundled kernel
             does not get slower" is a comparison on one GPU (machines of one kind differ by 20-40 %)
Coverage: the budgeted run's drawn cases against the same number drawn freely from the same seed (drawn on the
CPU; nothing runs): each regime's count and each dim's number of distinct values, as ratios.

    python bench/compile_budget.py --out DIR [--only sglang:seed,defect:unseeded,...] [--baseline DIR]

A baseline tree travels as an ignored folder: `git archive fe9e859 --prefix=fe9e859/ | tar -x -C .baseline`
here, `.baseline` carried, then `BASELINE=.baseline/fe9e859 bash bench/gpu_job.sh $OUT budget` there.

On the device machine from a copy of this checkout with the SGLang wheel (or a zip holding only its
`sglang/kernels/ops/attention/linear/fused_sigmoid_gating_recurrent.py`) and fla-core's in `.peers/`, and
beartype's wheel installed: `PEERS=.peers python3 bench/compile_budget.py --out $OUT`. Results:
bench/results/compile_budget/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

SGLANG = ["--impl", "bench/adapters.py:sglang_gdn", "--no-isolate"]
CONSTEXPR = ["--impl", "bench/constexpr_gdn.py:fused_sigmoid_gating_delta_rule_update", "--no-isolate"]
ROWS: dict[str, list[str]] = {
    "sglang": [*SGLANG, "--pin", "strided_qkv=false"],
    "constexpr": CONSTEXPR,
    "bundled": [],
    "baseline": [],  # the bundled kernel, under --baseline's shapecheck
}


def run(
    label: str, extra: list[str], seed: bool, cache: str, out: Path, log: Any, baseline: Path | None = None
) -> dict[str, Any]:
    """One fresh `shapecheck run` process; `baseline`: under that installed tree's shapecheck instead of ours."""
    json_path = (out / f"{label}.json").resolve()
    argv = [
        sys.executable,
        "-m",
        "shapecheck.cli",
        "run",
        "fused",
        *extra,
        "--device",
        "cuda",
        "--profile",
        "gpu",
        "--no-db",
        "--json",
        str(json_path),
        *(["--seed", "0"] if seed else []),
    ]
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tempfile.gettempdir() if baseline else None,  # the checkout's own shapecheck/ would shadow the baseline
        env={
            **os.environ,
            "TRITON_CACHE_DIR": cache,
            "COLUMNS": "200",
            **({"PYTHONPATH": str(baseline)} if baseline else {}),
        },
    )
    wall = time.perf_counter() - start
    log.write(
        f"== {label}: exit {done.returncode}, process wall {wall:.1f} s\n{' '.join(argv[2:])}\n"
        f"{done.stdout}{done.stderr[-3000:]}\n"
    )
    log.flush()
    if not json_path.exists():
        return {"label": label, "exit": done.returncode, "wall": wall}
    report = json.loads(json_path.read_text())["contracts"][0]
    json_path.unlink()
    return {"label": label, "exit": done.returncode, "wall": wall, "report": report}


def split(report: dict[str, Any]) -> dict[str, float]:
    """The report's time split, as `shapecheck run` prints it (Report.time_split); a baseline's older report
    may lack fields ours has: its part seconds then, as recorded."""
    from shapecheck.outcomes import Report

    try:
        parts = Report.from_json(report).time_split()
    except (KeyError, TypeError):
        parts = report.get("part_seconds") or {}
    return {k: round(v, 2) for k, v in parts.items()}


def coverage(report: dict[str, Any]) -> dict[str, Any]:
    """Regime counts and distinct values per dim of the run's drawn cases, next to the same number of cases
    drawn freely from the run's seed (the budget's seed: also an unseeded run's)."""
    from shapecheck.budget import draw
    from shapecheck.case import Case
    from shapecheck.contracts import gdn_cases
    from shapecheck.contracts.gdn import GDN_DECODE
    from shapecheck.pins import overrides as pin_overrides
    from shapecheck.profiles import PROFILES
    from shapecheck.strategies import cases

    drawn = [Case.from_json(json.dumps(o["case"])) for o in report["outcomes"] if o["label"] is None]
    pins = {"strided_qkv": False} if "--pin" in report["command"] else {}
    seed = (report.get("compile_budget") or {}).get("seed", 0)
    free = draw(cases(GDN_DECODE, profile=PROFILES["gpu"], overrides=pin_overrides(GDN_DECODE, pins)), len(drawn), seed)

    def measure(found: list[Case]) -> tuple[Counter[str], dict[str, int]]:
        regimes = Counter(r for c in found for r in gdn_cases.regimes(c))
        return regimes, {d: len({c.dims[d] for c in found}) for d in found[0].dims}

    (r_b, d_b), (r_f, d_f) = measure(drawn), measure(free)
    ratio = lambda a, b: round(a / b, 2) if b else None
    return {
        "cases": [len(drawn), len(free)],
        "regimes": {r: [r_b[r], r_f[r], ratio(r_b[r], r_f[r])] for r in sorted(r_f | r_b)},
        "dims": {d: [d_b[d], d_f[d], ratio(d_b[d], d_f[d])] for d in d_f},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--only",
        default="sglang:seed,constexpr:seed,bundled:seed,defect:seed,defect:unseeded,"
        "sglang:unseeded,constexpr:unseeded",
        help="runs in order, NAME:seed|unseeded; a ROWS name runs cold then warm",
    )
    parser.add_argument("--baseline", type=Path, help="another commit's shapecheck, installed with pip --target")
    options = parser.parse_args()
    if options.baseline and "baseline:" not in options.only:  # beside our bundled row, as the comparison needs
        options.only = options.only.replace("bundled:seed", "bundled:seed,baseline:seed")
    if "baseline:" in options.only and not options.baseline:
        parser.error("the baseline row needs --baseline DIR")
    under = options.baseline.resolve() if options.baseline else None
    options.out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    with open(options.out / "log.txt", "a") as log:
        for name, seeding in (item.split(":") for item in options.only.split(",")):
            seeded, cache = seeding == "seed", tempfile.mkdtemp(prefix="triton_")
            for temperature in ("cold", "warm") if name in ROWS else ("cold",):
                label = f"{name}_{temperature}_{'seed0' if seeded else 'unseeded'}"
                baseline = under if name == "baseline" else None
                results.append(run(label, ROWS.get(name, SGLANG), seeded, cache, options.out, log, baseline))
                print(summary_line(results[-1]), flush=True)
            (options.out / "summary.json").write_text(json.dumps([row(r) for r in results], indent=1, default=str))


def row(r: dict[str, Any]) -> dict[str, Any]:
    """One run as summary.json keeps it: rate, keys, time split, the budget's summary and the coverage."""
    rep = r.get("report")
    out: dict[str, Any] = {"label": r["label"], "exit": r["exit"], "process_wall": round(r["wall"], 1)}
    if rep:
        out.update(
            cases=rep["cases"],
            seconds=rep["seconds"],
            rate=round(rep["cases"] / rep["seconds"], 1),
            compilations=rep["compilations"],
            keys=rep["compile_keys"],
            split=split(rep),
            budget=rep.get("compile_budget"),
            held=rep["held"],
            failure=rep["failure"] and rep["failure"]["case"],
        )
        budget = rep.get("compile_budget") or {}
        if budget and not budget.get("off") and "coverage" not in r:
            r["coverage"] = coverage(rep)
        out["coverage"] = r.get("coverage")
    return out


def summary_line(r: dict[str, Any]) -> str:
    rep = r.get("report")
    if not rep:
        return f"{r['label']:<26} exit {r['exit']} (no report) {r['wall']:.1f} s"
    b = rep.get("compile_budget") or {}
    fail = (
        ""
        if rep["held"]
        else f" FAILED {json.dumps(rep['failure']['case']['dims'])} strided={rep['failure']['case']['options'].get('strided_qkv')}"
    )
    return (
        f"{r['label']:<26} exit {r['exit']} {rep['cases']:>4} cases {rep['seconds']:6.1f} s "
        f"{rep['cases'] / rep['seconds']:6.1f}/s  compilations {rep['compilations']:>3} keys {rep['compile_keys']:>3} "
        f"budget {b.get('off') or b.get('keys')} split {split(rep)}{fail}"
    )


if __name__ == "__main__":
    main()
