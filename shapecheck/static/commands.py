"""What `shapecheck explain` and `shapecheck lint` do, minus the printing: every user mistake becomes one
`UsageError` line (exit 2), so the command-line block stays a thin wrapper.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

from shapecheck import config
from shapecheck.cache import cache_dir
from shapecheck.errors import UsageError
from shapecheck.static.findings import RULES, Finding, Report, python_files
from shapecheck.static.lintcache import LintCache
from shapecheck.static.linter import lint_paths

FORMATS = ("text", "markdown")
LINT_FORMATS = ("text", "json", "github", "concise")


def configured_bounds(options: Sequence[str] = (), directory: Optional[Path] = None) -> dict[str, int]:
    """`[tool.shapecheck.bounds]` of ./pyproject.toml, overridden by `--bound NAME=INT` options."""
    bounds = config.bounds(directory)
    for text in options:
        name, sep, value = text.partition("=")
        if not sep or not name.strip().isidentifier() or not value.strip().isdigit() or int(value) < 1:
            raise UsageError(f"--bound expects NAME=POSITIVE_INTEGER (e.g. V=256), found {text!r}")
        bounds[name.strip()] = int(value)
    return bounds


def github(finding: Finding) -> str:
    """A GitHub Actions workflow command: an annotation on the finding's lines."""
    level = "error" if finding.severity == "error" else "notice"
    message = finding.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return (
        f"::{level} file={finding.path},line={finding.line},col={finding.col},endLine={finding.end_line},"
        f"endColumn={finding.end_col},title={finding.code}::{message}"
    )


def render(report: Report, output_format: str) -> list[str]:
    """The lines `shapecheck lint` prints in `output_format`."""
    if output_format == "json":
        return [report.to_json()]
    if output_format == "github":
        return [github(f) for f in report.findings]
    lines = [f.format() if output_format == "text" else f"{f.path}:{f.line}:{f.col}: {f.code}" for f in report.findings]
    return lines + [report.summary()]


def explain_report(
    target: str,
    assume: Sequence[str] = (),
    output_format: str = "text",
    example: Optional[str] = None,
    emit: bool = False,
) -> str:
    """The derivation of `FILE.py::FUNCTION` as text or Markdown, or (`emit`) a draft contract module read
    from the function's own code (its decorator's contract, if any, is not consulted)."""
    from shapecheck.static import explain
    from shapecheck.static.analysis import analyse_function
    from shapecheck.static.emit import emit_contract
    from shapecheck.static.signature import assumption

    path, sep, name = target.rpartition("::")
    if not sep or not path or not name:
        raise UsageError(f"expected FILE.py::FUNCTION, found {target!r}")
    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, found {output_format!r}")
    try:
        assumed = dict(assumption(text) for text in assume)
        analysis = analyse_function(path, name, assumed, contracts=not emit)
        if emit:
            return emit_contract(analysis)
        ex = explain.example(analysis, explain.parse_example(example, analysis)) if example is not None else None
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except SyntaxError as exc:
        raise UsageError(f"cannot parse {path}: {exc.msg} (line {exc.lineno})") from None
    except (LookupError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return explain.markdown(analysis, ex) if output_format == "markdown" else explain.text(analysis, ex)


def lint_report(
    paths: Sequence[str],
    output_format: str = "text",
    bounds: Sequence[str] = (),
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    cache: bool = True,
) -> Report:
    """Lint `paths`, unchanged files from the lint cache (`cache_dir()/lint`) unless not `cache`; a missing
    path, an unknown format or rule, a malformed bound is a usage error."""
    if output_format not in LINT_FORMATS:
        raise UsageError(f"--output-format must be one of {', '.join(LINT_FORMATS)}, found {output_format!r}")
    if not paths:
        raise UsageError("lint needs at least one file or directory")
    for code in (*select, *ignore):
        if not any(rule.startswith(code) for rule in RULES):
            raise UsageError(f"--select/--ignore: no rule matches {code!r} (rules: {', '.join(RULES)})")
    try:
        return lint_paths(
            paths, configured_bounds(bounds), select, ignore, LintCache(cache_dir() / "lint") if cache else None
        )
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None


POLL_S = 0.2  # how often `lint --watch` looks at the files' modification times


def changes(
    paths: Sequence[str], also: Callable[[], Iterable[str]] = tuple, poll_s: float = POLL_S
) -> Iterator[list[Path]]:
    """For `lint --watch`: each time Python files under `paths`, or the files `also()` names (the contract
    modules the last lint resolved), are added, removed or modified (modification time or size), the ones
    that changed. The files under `paths` are looked at now, before the caller's first lint, so an edit made
    while it runs is not missed; a file of `also()` from the poll it first appears at. Polling keeps it
    dependency-free and works on every filesystem; a stat per file every 0.2 s costs little next to one analysis."""

    def snapshot(files: Iterable[Path]) -> dict[Path, tuple[int, int]]:
        found = {}
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            found[path] = (stat.st_mtime_ns, stat.st_size)
        return found

    def under_paths() -> list[Path]:
        try:
            return python_files(paths)
        except FileNotFoundError:  # a path removed while watching: its files are gone, the watch goes on
            return []

    seen = snapshot(under_paths())

    def polls() -> Iterator[list[Path]]:
        nonlocal seen
        while True:
            time.sleep(poll_s)
            extra = set(map(Path, also()))
            now = snapshot([*under_paths(), *extra])
            seen.update({p: now[p] for p in extra if p in now and p not in seen})  # first sight: the baseline
            changed = sorted(p for p in {*seen, *now} if seen.get(p) != now.get(p))
            seen = now
            if changed:
                yield changed

    return polls()
