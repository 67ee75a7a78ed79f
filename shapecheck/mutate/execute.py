"""Running the property suite on a mutant: a fresh `shapecheck run` process, judged by its JSON report.

Each mutant runs in its own process (`shapecheck run --impl <mutant>.py:<wrapper> --device cpu --sanitize
...`): Triton kernels are module-level state, an out-of-bounds mutant must not corrupt the parent, and the
sanitizer turns such mutants into clean failures. The child's verdict is read from its `--json` report,
structured: a failure that is the kernel raising carries the exception's type in `failure["raised"]`, so
a crash (NameError, a Triton compile error) is told from a detection (the sanitizer's MemoryViolation,
the decorator's ContractViolation) without reading message text. Workers are threads, each holding one
device slot while its child runs: on GPUs the slot is a `CUDA_VISIBLE_DEVICES` value, so a mutant runs
on one device.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from shapecheck.mutate.generate import Mutant, Target
from shapecheck.patching import patch_dir, write_if_changed

KILLED, CRASH, TIMEOUT, SURVIVED, ERROR = "killed", "crash", "timeout", "survived", "error"
KILLS = (KILLED, CRASH, TIMEOUT)
# Exceptions the suite itself raises inside the kernel call (the decorator's check, the sanitizer): a
# detection, so a kill; any other exception the mutant raises is a crash (still a kill, counted apart).
FINDINGS = ("MemoryViolation", "ContractViolation", "DtypeViolation")


@dataclasses.dataclass
class Result:
    """What the property suite did to one mutant (or to the unmutated file: the baseline)."""

    mutant: Optional[Mutant]
    status: str  # killed | crash | timeout | survived | error
    message: str  # first problem of the run's JSON report (or why the run failed)
    seconds: float
    returncode: Optional[int]
    file: str
    reproduce: Optional[str] = None
    equivalent: bool = False

    @property
    def killed(self) -> bool:
        return self.status in KILLS

    def as_dict(self) -> dict[str, Any]:
        m = self.mutant
        head = (
            {}
            if m is None
            else {
                "id": m.id,
                "operator": m.operator,
                "variant": m.variant,
                "line": m.line,
                "col": m.col,
                "before": m.before,
                "after": m.after,
            }
        )
        return {
            **head,
            "status": self.status,
            "killed": self.killed,
            "equivalent": self.equivalent,
            "message": self.message,
            "seconds": round(self.seconds, 2),
            "returncode": self.returncode,
            "file": self.file,
            "reproduce": self.reproduce,
        }


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How each mutant is run: the wrapper the suite calls, the suite's budget and the device."""

    impl_function: str
    examples: int = 60
    seed: int = 0
    timeout: float = 600.0
    device: str = "cpu"  # cpu: the interpreter with the sanitizer; cuda: the GPU (a crash is contained in the child)
    directory: Path = dataclasses.field(default_factory=patch_dir)


def write_source(source: str, label: str, directory: Optional[Path] = None) -> Path:
    """Write a (mutated) source where `patching.load_source` would, named by label and content hash."""
    directory = directory or patch_dir()
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    path = directory / f"_shapecheck_{re.sub(r'[^0-9A-Za-z_]', '_', label)}_{digest}.py"
    write_if_changed(path, source)
    # Relative to the working directory (the child's too) when possible: `shapecheck run` prints the
    # --impl name inside rich markup, where an absolute path "[/...]" reads as a closing tag.
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve()


def run_command(file: Path, config: RunConfig, json_path: Path) -> list[str]:
    """The `shapecheck run` invocation of one mutant (the CLI module run as a fresh interpreter)."""
    device = ["--device", "cpu", "--sanitize"] if config.device == "cpu" else ["--device", config.device]
    return [
        sys.executable,
        "-m",
        "shapecheck.cli",
        "run",
        "--impl",
        f"{file}:{config.impl_function}",
        *device,
        "--no-db",
        "--examples",
        str(config.examples),
        "--seed",
        str(config.seed),
        "--json",
        str(json_path),
    ]


def _environment(original: Path, slot: Optional[str]) -> dict[str, str]:
    """The child finds the project (cwd first) and, last, the original file's folder for sibling imports;
    on a GPU slot it sees that one device only."""
    paths = [
        os.getcwd(),
        *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)),
        str(original.resolve().parent),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "COLUMNS": "200"}
    return env if slot is None else {**env, "CUDA_VISIBLE_DEVICES": slot}


def run_source(
    source: str, label: str, mutant: Optional[Mutant], original: Path, config: RunConfig, slot: Optional[str] = None
) -> Result:
    """Run the property suite on `source` in a fresh process and classify the outcome."""
    file = write_source(source, label, config.directory)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shapecheck-mutate-") as tmp:
        json_path = Path(tmp) / "report.json"
        try:
            proc = subprocess.run(
                run_command(file, config, json_path),
                env=_environment(original, slot),
                capture_output=True,
                text=True,
                timeout=config.timeout,
            )
        except subprocess.TimeoutExpired:
            return Result(
                mutant, TIMEOUT, f"timed out after {config.timeout:g} s", time.perf_counter() - start, None, str(file)
            )
        seconds = time.perf_counter() - start
        report = json.loads(json_path.read_text()) if json_path.exists() else None
    return classify(mutant, proc, report, seconds, str(file))


def classify(
    mutant: Optional[Mutant],
    proc: subprocess.CompletedProcess[str],
    report: Optional[dict[str, Any]],
    seconds: float,
    file: str,
) -> Result:
    """The child's verdict from its exit code and JSON report (`shapecheck run`'s documented outputs)."""
    stderr_line = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "")
    if proc.returncode == 0 and report is not None and report["held"]:
        cases = sum(c["cases"] for c in report["contracts"])
        return Result(mutant, SURVIVED, f"held on {cases} cases", seconds, 0, file)
    if proc.returncode == 1 and report is not None:
        failure = next((c["failure"] for c in report["contracts"] if c["failure"]), None)
        if failure is not None:
            problem = failure["problems"][0] if failure["problems"] else "violated"
            raised = failure.get("raised")
            status = CRASH if raised is not None and raised not in FINDINGS else KILLED
            return Result(mutant, status, problem, seconds, 1, file, failure.get("reproduce"))
    # Exit 2 writes no report: its one documented line says why. A mutant that cannot even be imported
    # is a crash (killed); anything else means the mutant could not be judged.
    if proc.returncode == 2 and "cannot import" in stderr_line:
        return Result(mutant, CRASH, stderr_line.removeprefix("shapecheck: error: "), seconds, 2, file)
    return Result(
        mutant, ERROR, f"exit {proc.returncode}: {stderr_line or 'no JSON report'}", seconds, proc.returncode, file
    )


def run_mutants(
    target: Target,
    mutants: Sequence[Mutant],
    config: RunConfig,
    slots: Sequence[Optional[str]] = (None, None),
    on_result: Callable[[Result], None] = lambda r: None,
) -> list[Result]:
    """Run every mutant, one per slot at a time; results in the order of `mutants`, whatever finished first."""
    stem = target.path.stem
    free: queue.SimpleQueue[Optional[str]] = queue.SimpleQueue()
    for slot in slots:
        free.put(slot)

    def one(m: Mutant) -> Result:
        slot = free.get()
        try:
            result = run_source(m.apply(target.source), f"mutant_{stem}", m, target.path, config, slot)
        finally:
            free.put(slot)
        on_result(result)
        return result

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(slots))) as pool:
        return list(pool.map(one, mutants))


def baseline(target: Target, config: RunConfig, slot: Optional[str] = None) -> Result:
    """The unmutated file through the same command: it must hold, or every kill would be meaningless."""
    return run_source(target.source, f"mutant_{target.path.stem}_original", None, target.path, config, slot)
