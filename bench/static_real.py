"""`shapecheck lint` on real upstream code: fla-core (all of it) and sglang's linear-attention kernels.

    .venv/bin/python bench/static_real.py [--output bench/results/static_real_fla.md]

Downloads the PyPI wheels (`pip download --no-deps`) into /tmp and extracts them into `.peers/` (ignored
by git; never committed) when absent. Each file is linted on its own so an exception escaping the analyser
counts as a crash of that file instead of ending the run. Prints, per corpus and rule, the findings (errors
and notes), the crashes and the wall time; then the precision of every rule against the hand labels in
`bench/results/static_real_labels.tsv` (`corpus:path:line:col:code <TAB> TP|FP <TAB> reason`), listing
findings that carry no label yet. Timings of single-file `lint` and `explain` in fresh processes close it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapecheck.static.findings import Finding, python_files  # noqa: E402
from shapecheck.static.lint import lint_module  # noqa: E402
from shapecheck.static.source import ModuleSource  # noqa: E402

PEERS = ROOT / ".peers"
LABELS = ROOT / "bench" / "results" / "static_real_labels.tsv"
CORPORA = {  # name: (requirement, wheel glob, folder inside the wheel)
    "fla-core": ("fla-core==0.6.0", "fla_core-0.6.0-*.whl", "fla"),
    "sglang": ("sglang==0.5.23", "sglang-0.5.23-*.whl", "sglang/kernels/ops/attention/linear"),
}


def extracted(name: str) -> Path:
    """The corpus folder under .peers/, downloading and extracting the wheel if it is not there."""
    requirement, pattern, inner = CORPORA[name]
    target = PEERS / name
    if not (target / inner).is_dir():
        cache = Path("/tmp/peers")
        if not list(cache.glob(pattern)):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", requirement, "-d", str(cache)], check=True
            )
        with zipfile.ZipFile(next(cache.glob(pattern))) as wheel:
            wheel.extractall(target, [m for m in wheel.namelist() if m.startswith(inner + "/") and m.endswith(".py")])
    return target / inner


def lint_corpus(root: Path) -> tuple[list[Finding], list[tuple[str, str]], int, int, float]:
    """(findings, crashes, files, functions, wall seconds); paths relative to the corpus's parent."""
    findings: list[Finding] = []
    crashes: list[tuple[str, str]] = []
    functions = 0
    files = python_files([root])
    start = time.perf_counter()
    for path in files:
        relative = str(path.relative_to(root.parent))
        try:
            found, checked = lint_module(ModuleSource.load(path))
        except SyntaxError:
            continue  # SC000 territory: not a crash
        except Exception as exc:  # noqa: BLE001 - a crash is what this bench counts
            crashes.append((relative, f"{type(exc).__name__}: {exc}"))
            continue
        functions += checked
        findings.extend(Finding(relative, f.line, f.col, f.code, f.message, f.function, f.severity) for f in found)
    return findings, crashes, len(files), functions, time.perf_counter() - start


def key(corpus: str, f: Finding) -> str:
    """A label's key: where, which rule, and a digest of the message (one launch may have two SC005s)."""
    return f"{corpus}:{f.path}:{f.line}:{f.col}:{f.code}:{hashlib.sha1(f.message.encode()).hexdigest()[:8]}"


def labels() -> dict[str, tuple[str, str]]:
    if not LABELS.is_file():
        return {}
    with LABELS.open() as handle:
        return {
            row[0]: (row[1], row[2]) for row in csv.reader(handle, delimiter="\t") if row and not row[0].startswith("#")
        }


CRITERION = """## How the findings were labelled

Every finding was labelled, not a sample (fla-core has 54 SC006 findings: any seeded sample of 50 is a
subset). I read the code at each distinct site and labelled per class of product or grid expression, one
reason per class (the `reason` column). A finding is a true positive when the int32 offset can pass 2**31
(SC006, SC007), or the grid axis can pass 65535 blocks (SC005), for sizes real workloads reach: up to
2**20 tokens per batch or sequence, 8192 sequences, 128 heads, head dims of 256, 16384 channels, 65536
state-pool slots; index tensors are taken to be int32 (the analyser cannot see a tensor's dtype). A false
positive needs sizes beyond those. Three SC006 sites in fla (`ops/attn/parallel.py`, `wall_attn`,
`kda/.../chunk_intra_token_parallel.py`) overflow on the dense path, where the position comes from a
program id; their message names the varlen path's load it was joined with: the finding is right, its
attribution is imprecise. Notes (SC005 on head/feature dims, SC007 on grid axes 1/2) are labelled too,
and are mostly false positives by design: that is why they are notes and do not fail a run.

SC007 on a position inside a sequence (`i_t * BT + arange`, from a program id or a loop over the sequence's
blocks, times two or more head/feature factors) is bounded by the longest sequence (default 2**20 tokens):
true when that bound times the factors at the sizes above passes 2**31. SC008 is true when a call the
signature allows (the Optional argument left out) reaches the dereference and raises; the reason column
says where the wrapper is internal and its callers always pass the argument (the signature lies; no user
sees the crash). SC009 is true when the caller's tensor the kernel writes can be replaced by a copy before
the launch with no copy back. SC010 is true when the stride used for the outer step is wrong for a view the
wrapper accepts (no contiguity check or copy).
"""


def fresh_process(args: list[str], repeat: int = 5) -> tuple[float, float, float]:
    """Median and max wall seconds, and median CPU seconds (user + system), of `shapecheck ARGS` in a fresh
    process: on a shared machine the wall time includes waiting for a core, the CPU time does not."""
    exe = str(Path(sys.executable).parent / "shapecheck")
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([exe, *args], cwd=ROOT, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), max(walls), statistics.median(cpus)


def python_start(repeat: int = 5) -> tuple[float, float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sympy"], check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), max(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="Also write the report (Markdown) here.")
    args = parser.parse_args()
    known = labels()
    out = [
        "# `shapecheck lint` on real upstream code",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared), Python {platform.python_version()}.",
        "",
    ]
    labelled: Counter[tuple[str, str]] = Counter()
    missing: list[str] = []
    for corpus in CORPORA:
        root = extracted(corpus)
        findings, crashes, files, functions, wall = lint_corpus(root)
        out += [
            f"## {corpus} (`{CORPORA[corpus][0]}`, `{CORPORA[corpus][2]}/`)",
            "",
            f"{files} files, {functions} functions checked, {len(crashes)} crashes, {wall:.1f} s wall "
            "(one process, files linted one by one).",
            "",
            "| rule | errors | notes |",
            "| --- | --- | --- |",
        ]
        by_rule = Counter((f.code, f.severity) for f in findings)
        for code in sorted({c for c, _ in by_rule}):
            out.append(f"| {code} | {by_rule[(code, 'error')]} | {by_rule[(code, 'note')]} |")
        out += [f"- crash: `{path}`: {why}" for path, why in crashes]
        for f in findings:
            label = known.get(key(corpus, f))
            if label is None:
                missing.append(f"{key(corpus, f)}\t{f.severity}\t{f.message}")
            else:
                labelled[(f"{f.code} {f.severity}", label[0])] += 1
        out.append("")
    out += [
        CRITERION,
        "## Precision against the hand labels",
        "",
        f"Labels: `{LABELS.relative_to(ROOT)}`.",
        "",
        "| rule | severity | labelled | true positives | false positives | precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule in sorted({r for r, _ in labelled}):
        tp, fp = labelled[(rule, "TP")], labelled[(rule, "FP")]
        code, severity = rule.split()
        out.append(f"| {code} | {severity} | {tp + fp} | {tp} | {fp} | {tp / (tp + fp):.0%} |")
    out += ["", f"Findings without a label: {len(missing)}.", *[f"    {m}" for m in missing[:20]], ""]
    unseen = [
        code for code in ("SC008", "SC009", "SC010") if not any(r.startswith(code) for r in {r for r, _ in labelled})
    ]
    out += [
        f"No finding of {', '.join(unseen)} on these corpora (precision undefined: see the fixtures' tests)."
        if unseen
        else "",
        "",
    ]
    fla = extracted("fla-core")
    one = str(fla / "ops" / "common" / "chunk_h_split.py")
    rows = [
        ("lint fla/ops/common/chunk_h_split.py --no-cache", fresh_process(["lint", one, "--no-cache"])),
        ("lint fla/ops/common/chunk_h_split.py (unchanged: from the lint cache)", fresh_process(["lint", one])),
        (
            "explain tests/fixtures/static_upstream_style.py::gated_delta_rule_decode",
            fresh_process(["explain", "tests/fixtures/static_upstream_style.py::gated_delta_rule_decode"]),
        ),
        ("lint fla/ --no-cache (all of fla-core, one run)", fresh_process(["lint", str(fla), "--no-cache"], repeat=1)),
    ]
    floor = python_start()
    out += [
        "## Speed (fresh process per call; seconds, median / max of 5 runs; CPU = user + system)",
        "",
        "| command | wall median | wall max | CPU median |",
        "| --- | --- | --- | --- |",
        *[f"| `shapecheck {label}` | {t[0]:.2f} | {t[1]:.2f} | {t[2]:.2f} |" for label, t in rows],
        f"| `python -c 'import sympy'` (the analyser's floor) | {floor[0]:.2f} | {floor[1]:.2f} | {floor[2]:.2f} |",
        "",
    ]
    report = "\n".join(out)
    print(report)
    if args.output is not None:
        args.output.write_text(report)


if __name__ == "__main__":
    main()
