"""What `shapecheck explain` and `shapecheck lint` do, minus the printing: every user mistake becomes one
`UsageError` line (exit 2), so the command-line block stays a thin wrapper.
"""

from __future__ import annotations

from typing import Optional, Sequence

from shapecheck.errors import UsageError
from shapecheck.static import explain
from shapecheck.static.analysis import analyse_function
from shapecheck.static.lint import Report, lint_paths
from shapecheck.static.signature import assumption

FORMATS = ("text", "markdown")
LINT_FORMATS = ("text", "json")


def explain_report(target: str, assume: Sequence[str] = (), output_format: str = "text",
                   example: Optional[str] = None) -> str:
    """The derivation of `FILE.py::FUNCTION` as text or Markdown."""
    path, sep, name = target.rpartition("::")
    if not sep or not path or not name:
        raise UsageError(f"expected FILE.py::FUNCTION, found {target!r}")
    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, found {output_format!r}")
    try:
        assumed = dict(assumption(text) for text in assume)
        analysis = analyse_function(path, name, assumed)
        ex = explain.example(analysis, explain.parse_example(example, analysis)) if example is not None else None
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except SyntaxError as exc:
        raise UsageError(f"cannot parse {path}: {exc.msg} (line {exc.lineno})") from None
    except (LookupError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return explain.markdown(analysis, ex) if output_format == "markdown" else explain.text(analysis, ex)


def lint_report(paths: Sequence[str], output_format: str = "text") -> Report:
    """Lint `paths`; a missing path or an unknown format is a usage error."""
    if output_format not in LINT_FORMATS:
        raise UsageError(f"--output-format must be one of {', '.join(LINT_FORMATS)}, found {output_format!r}")
    if not paths:
        raise UsageError("lint needs at least one file or directory")
    try:
        return lint_paths(paths)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
