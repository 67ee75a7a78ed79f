"""`shapecheck kb`: KernelBench-format problems and candidates, one pair or a directory of them.

One pair: `shapecheck kb PROBLEM.py --impl CANDIDATE.py` draws the problem's constants
(`shapecheck.kernelbench`), runs `ModelNew` in the isolation worker (by default: a candidate is generated,
untrusted code) against `Model` in float64, and reports like `run`: the table, the shrunk case, the line that
replays it. A directory: `shapecheck kb DIR` runs every `DIR/candidates/<problem>/*.py` against
`DIR/problems/<problem>.py` and writes one table (markdown, JSON, JUnit) with a row per candidate: verdict,
cases, shrunk case, replay line, named findings, wall time; candidates per hour printed.

Exit codes a pipeline can reward on: 0 every candidate held, 1 a finding (and no error), 2 an error (a problem
that cannot be read, a candidate that cannot be imported, a usage error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from xml.etree import ElementTree as ET

from shapecheck import cache, console, kernelbench, registry, reports
from shapecheck.case import Case
from shapecheck.errors import Abort, InvalidContract, NothingRan, UsageError
from shapecheck.host import ModelCall
from shapecheck.isolate import Isolated
from shapecheck.outcomes import Report
from shapecheck.profiles import PROFILES, named
from shapecheck.runner import check_case, run_property

CLASS = "ModelNew"
FINDING = re.compile(r"\[[a-z-]+\]")


@dataclasses.dataclass(frozen=True)
class KbOptions:
    """What `shapecheck kb` was asked; `replay()` is the outcome-changing part as argv."""

    problem: Path
    impl: Optional[Path] = None
    examples: Optional[int] = None
    seed: Optional[int] = None
    device: str = "cpu"
    profile: str = "ci"
    json_path: Optional[Path] = None
    junit_path: Optional[Path] = None
    markdown_path: Optional[Path] = None
    reproduce: Optional[str] = None
    isolate: bool = True
    timeout: Optional[float] = None
    sanitize: Optional[bool] = None  # None: on under the CPU interpreter
    database: bool = True

    def __post_init__(self) -> None:
        named(self.profile, "--profile")  # ValueError naming the option, turned into a usage error by the caller
        if self.examples is not None and self.examples < 1:
            raise ValueError(f"--examples must be >= 1, found {self.examples}")

    @property
    def sanitizing(self) -> bool:
        return self.device == "cpu" if self.sanitize is None else self.sanitize

    def replay(self, problem: Path, impl: Path) -> tuple[str, ...]:
        argv = [*reports.program(), "kb", str(problem), "--impl", str(impl), "--device", self.device]
        argv += [] if self.isolate else ["--no-isolate"]
        argv += ["--no-sanitize"] if self.device == "cpu" and not self.sanitizing else []
        argv += ["--timeout", f"{self.timeout:g}"] if self.timeout and self.isolate else []
        return tuple(argv)


@contextlib.contextmanager
def _candidate(options: KbOptions, impl: Path) -> Iterator[Callable[..., Any]]:
    """`ModelNew` of `impl` as a function of the contract's arguments: in its own worker, or imported here."""
    profile = PROFILES[options.profile]
    if options.isolate:
        with Isolated(
            f"{impl}:{CLASS}",
            options.device,
            options.timeout or profile.timeout_s,
            profile.settle_s,
            sanitize=options.sanitizing and options.device == "cpu",
            model=True,
            check_every=profile.check_every,
        ) as worker:
            yield worker
        return
    yield ModelCall(registry.implementation(f"{impl}:{CLASS}"))


@contextlib.contextmanager
def _sanitizing(options: KbOptions) -> Iterator[None]:
    """In-process runs under the interpreter bounds-check here (an isolated worker does it itself)."""
    if options.isolate or not options.sanitizing or options.device != "cpu":
        yield
        return
    from shapecheck.sanitizer import sanitize

    with sanitize():
        yield


def judge(options: KbOptions, problem: kernelbench.Problem, impl: Path) -> Report:
    """One candidate against one problem: the property run, or the one case of `options.reproduce`."""
    contract = kernelbench.contract(problem)
    command = options.replay(problem.path, impl)
    with _candidate(options, impl) as fn, _sanitizing(options):
        if options.reproduce is not None:
            try:
                case = Case.from_json(options.reproduce)
            except ValueError as exc:
                raise UsageError(f"--reproduce: {exc}") from None
            unknown = sorted(set(case.dims) - set(problem.drawn))
            if unknown:
                raise UsageError(
                    f"--reproduce: {unknown[0]!r} is no drawn constant of {problem.path} "
                    f"(drawn: {', '.join(problem.drawn) or 'none'})"
                )
            start = time.perf_counter()
            outcome = check_case(contract, case, fn, options.device, strict=False, backward=False)
            return Report(
                contract=contract.name,
                impl=str(impl),
                device=options.device,
                profile=options.profile,
                outcomes=[outcome],
                failure=None if outcome.ok else outcome,
                regimes=Counter(),
                compilations=0,
                compile_keys=0,
                seconds=time.perf_counter() - start,
                command=command,
            )
        return run_property(
            contract,
            fn,
            str(impl),
            profile=PROFILES[options.profile],
            device=options.device,
            examples=options.examples,
            seed=options.seed,
            database=options.database,
            command=command,
            compile_ahead=False,
            backward=False,
            max_compiles=0,
        )


def run(options: KbOptions) -> int:
    """One problem and one candidate (`--impl`), or a directory of them; the exit code."""
    cache.hypothesis_home()
    if options.problem.is_dir():
        return batch(options)
    if options.impl is None:
        raise UsageError(
            f"--impl: give the candidate file defining {CLASS} (or pass a directory of problems and "
            "candidates instead of a problem file)"
        )
    problem = kernelbench.Problem(options.problem)
    console.stdout.print(f"{problem.path.name}: {problem.note}", markup=False, soft_wrap=True)
    console.stdout.print(
        f"{problem.path.name}: {problem.covered(PROFILES[options.profile])}", markup=False, soft_wrap=True
    )
    report = judge(options, problem, options.impl)
    console.stdout.print(console.report_table(report))
    console.print_failure(report)
    if options.json_path:
        reports.write_json([report], options.json_path)
    if options.junit_path:
        reports.write_junit([report], options.junit_path)
    return 0 if report.held else 1


# --- batch mode: a directory of problems x candidates ------------------------------------------


@dataclasses.dataclass
class Row:
    """One candidate's verdict, as a pipeline reads it."""

    problem: str
    candidate: str
    verdict: str  # "held", "failed" or "error"
    cases: int = 0
    seconds: float = 0.0
    findings: list[str] = dataclasses.field(default_factory=list)  # named ones, `[stale-result]`, or "values"/"shape"
    problems: list[str] = dataclasses.field(default_factory=list)
    case: Optional[str] = None
    reproduce: Optional[str] = None
    error: Optional[str] = None


def pairs(root: Path) -> list[tuple[Path, Path]]:
    """(problem, candidate) pairs of a batch directory: `problems/NAME.py` with each `candidates/NAME/*.py`."""
    problems = root / "problems"
    if not problems.is_dir():
        raise UsageError(f"{root}: a batch directory holds problems/NAME.py and candidates/NAME/*.py; no {problems}")
    found = []
    for problem in sorted(problems.glob("*.py")):
        folder = root / "candidates" / problem.stem
        found += [(problem, c) for c in sorted(folder.glob("*.py")) if c.name != "__init__.py"]
    if not found:
        raise UsageError(f"{root}: no candidates under {root / 'candidates'}/<problem>/*.py for {problems}/*.py")
    return found


def _named(problems: list[str]) -> list[str]:
    """The findings of a failure by name: integrity's `[name]`s, else the judge's kind of problem."""
    names = [m.group(0) for p in problems for m in [FINDING.search(p)] if m]
    for p in problems:
        if FINDING.search(p) is None:
            names.append(
                "shape"
                if " shape " in p
                else "unwritten"
                if "NaN/inf" in p
                else "raised"
                if p.startswith("kernel raised")
                else "values"
            )
    return list(dict.fromkeys(names))


def _row(
    options: KbOptions, problem: Optional[kernelbench.Problem], problem_path: Path, impl: Path, error: Optional[str]
) -> Row:
    start = time.perf_counter()
    row = Row(problem_path.stem, impl.stem, "error", error=error)
    if problem is not None and error is None:
        try:
            report = judge(options, problem, impl)
        except (UsageError, InvalidContract, NothingRan) as exc:
            row.error = str(exc).splitlines()[0]
        except Abort as exc:
            row.error = exc.message.splitlines()[0]
        else:
            row.verdict, row.cases = ("held" if report.held else "failed"), len(report.outcomes)
            if report.failure is not None:
                row.problems = report.failure.problems
                row.findings = _named(report.failure.problems)
                row.case = report.failure.case.to_json()
                row.reproduce = reports.reproduction(report, row.case)
    row.seconds = time.perf_counter() - start
    return row


def batch(options: KbOptions) -> int:
    """Every candidate of a batch directory; one table; 0 all held, 1 a finding, 2 an error."""
    for path, flag in (
        (options.json_path, "--json"),
        (options.junit_path, "--junit"),
        (options.markdown_path, "--markdown"),
    ):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"{flag} {path}: no directory {path.parent}")
    if options.reproduce is not None:
        raise UsageError("--reproduce replays one case of one problem and candidate; pass a problem file and --impl")
    start = time.perf_counter()
    rows: list[Row] = []
    loaded: dict[Path, tuple[Optional[kernelbench.Problem], Optional[str]]] = {}
    for problem_path, impl in pairs(options.problem):
        if problem_path not in loaded:
            try:
                loaded[problem_path] = (kernelbench.Problem(problem_path), None)
            except UsageError as exc:
                loaded[problem_path] = (None, str(exc))
        problem, error = loaded[problem_path]
        rows.append(_row(options, problem, problem_path, impl, error))
        row = rows[-1]
        console.stderr.print(
            f"{row.problem}/{row.candidate}: {row.verdict} ({row.cases} cases, {row.seconds:.1f} s)"
            f"{' ' + ', '.join(row.findings) if row.findings else ''}{' ' + (row.error or '')}",
            markup=False,
            soft_wrap=True,
        )
    wall = time.perf_counter() - start
    per_hour = 3600 * len(rows) / wall if wall > 0 else 0.0
    table = markdown(rows, wall, options.device)
    console.stdout.print(table, markup=False, soft_wrap=True)
    if options.markdown_path:
        options.markdown_path.write_text(table)
    if options.json_path:
        options.json_path.write_text(
            json.dumps(
                {
                    "device": options.device,
                    "profile": options.profile,
                    "seconds": round(wall, 3),
                    "candidates_per_hour": round(per_hour, 1),
                    "rows": [dataclasses.asdict(r) for r in rows],
                },
                indent=2,
            )
        )
    if options.junit_path:
        write_junit(rows, options.junit_path)
    return 2 if any(r.verdict == "error" for r in rows) else 1 if any(r.verdict == "failed" for r in rows) else 0


def markdown(rows: list[Row], wall: float, device: str) -> str:
    """The batch table: a row per candidate, then the totals and candidates per hour."""
    lines = [
        "| problem | candidate | verdict | cases | findings | seconds | shrunk case | replay |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        detail = ", ".join(r.findings) if r.findings else (r.error or "")
        cells = [
            r.problem,
            r.candidate,
            r.verdict,
            str(r.cases),
            detail.replace("|", "\\|"),
            f"{r.seconds:.1f}",
            f"`{r.case}`" if r.case else "",
            f"`{r.reproduce}`" if r.reproduce else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    count = {v: sum(r.verdict == v for r in rows) for v in ("held", "failed", "error")}
    per_hour = 3600 * len(rows) / wall if wall > 0 else 0.0
    lines.append("")
    lines.append(
        f"{len(rows)} candidates on {device}: {count['held']} held, {count['failed']} failed, {count['error']} "
        f"errors in {wall:.1f} s: {per_hour:.0f} candidates/hour"
    )
    return "\n".join(lines) + "\n"


def write_junit(rows: list[Row], path: Path) -> None:
    """One testcase per candidate; a failure carries its problems and replay line, an error its one line."""
    suite = ET.Element(
        "testsuite",
        name="shapecheck kb",
        tests=str(len(rows)),
        failures=str(sum(r.verdict == "failed" for r in rows)),
        errors=str(sum(r.verdict == "error" for r in rows)),
        time=f"{sum(r.seconds for r in rows):.3f}",
    )
    for r in rows:
        case = ET.SubElement(suite, "testcase", classname=r.problem, name=r.candidate, time=f"{r.seconds:.3f}")
        if r.verdict == "failed":
            ET.SubElement(case, "failure", message=r.problems[0] if r.problems else "failed").text = (
                "\n".join(r.problems) + f"\ncase: {r.case}\nreproduce: {r.reproduce}"
            )
        elif r.verdict == "error":
            ET.SubElement(case, "error", message=r.error or "error")
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def replay_argv(line: str) -> list[str]:
    """A printed replay line as argv from `kb` on (tests run it through the CLI)."""
    argv = shlex.split(line)
    return argv[argv.index("kb") :]
