"""Rendering an analysis the way a reviewer writes a derivation: inputs, facts, each shape-relevant line
with what it binds and why, the launch grid, and the output against the declaration. Plain text for the
terminal, Markdown for a report; both can carry a worked numeric example (`B=1,T=64,...`).
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Mapping, Optional, Sequence

import sympy as sp

from shapecheck.static.analysis import Analysis
from shapecheck.static.engine import Launch, Step
from shapecheck.static.facts import condition_of
from shapecheck.static.lint import GRID_LIMIT
from shapecheck.static.signature import Declared, Scalar
from shapecheck.static.symbols import Local, dim, show, show_with
from shapecheck.static.values import Tensor, Tup, Unknown, Value, describe


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the derivation, ready to print."""

    line: int
    statement: str
    result: str
    notes: tuple[str, ...]


def _statement(analysis: Analysis, step: Step) -> str:
    node, text_of = step.node, analysis.module.text_of
    if isinstance(node, ast.If):
        body = node.body if step.kind != "fact" or isinstance(node.body[-1], ast.Raise) else node.orelse
        tail = "raise ..." if body and isinstance(body[-1], ast.Raise) else "..."
        return f"if {text_of(node.test, 50)}: {tail}"
    value = getattr(node, "value", None)
    if step.kind == "launch" and isinstance(value, ast.Call) and isinstance(value.func, ast.Subscript):
        return f"{text_of(value.func)}(...)"
    return text_of(node)


def _binding(analysis: Analysis, name: str, value: Value) -> str:
    if name == "fact":
        return f"fact {show(value)}"
    if name == "grid":
        return f"launch grid {describe(value)}"
    if name == "return":
        return f"returns {describe(value)}"
    if isinstance(value, Local):
        shown = show(value)
        prefix = f"{name} = {shown}" if shown != name else name
        return f"{prefix} = {show(analysis.knowledge.definitions[value])}"
    if isinstance(value, (Tensor, Unknown)):
        return f"{name}: {describe(value)}"
    return f"{name} = {describe(value)}"


def _result(analysis: Analysis, step: Step) -> str:
    if step.results and all(
        isinstance(v, sp.Symbol) and not isinstance(v, Local) and v.name == n for n, v in step.results
    ):
        return "binds " + ", ".join(n for n, _ in step.results)
    return ", ".join(_binding(analysis, n, v) for n, v in step.results)


def rows(analysis: Analysis) -> list[Row]:
    """The derivation, one row per shape-relevant statement."""
    out = []
    for step in analysis.steps:
        result = _result(analysis, step)
        if step.path:
            result += f"  [when {show(condition_of(step.path))}]"
        out.append(Row(step.node.lineno, _statement(analysis, step), result, step.notes))
    return out


def _input(analysis: Analysis, name: str) -> str:
    param = analysis.signature.params.get(name)
    if isinstance(param, Declared):
        note = analysis.signature.inferred.get(name)
        return param.describe() + (f"  {note}" if note else "")
    if isinstance(param, Scalar):
        return param.kind + (" or None" if param.optional else "")
    value = analysis.inputs[name]
    if isinstance(value, Unknown):
        return f"unknown (no declared shape; give one with --assume '{name}=DIMS')"
    return describe(value)


def _axis(analysis: Analysis, size: Value) -> str:
    text = describe(size)
    if isinstance(size, Local):
        text += f" = {show(analysis.knowledge.definitions[size])}"
    return text


def _grid_lines(analysis: Analysis, launch: Launch) -> list[tuple[str, str, str]]:
    """(axis, size, limit) per grid axis of one launch."""
    if isinstance(launch.grid, Unknown):
        return [("grid", launch.grid.describe(), "")]
    return [
        (f"axis {i}", _axis(analysis, size), f"limit {'2**31 - 1' if i == 0 else GRID_LIMIT}")
        for i, size in enumerate(launch.grid)
    ]


def _output_lines(analysis: Analysis) -> list[tuple[str, str]]:
    agreement = analysis.agreement()
    declared = analysis.signature.returns
    if isinstance(declared, Declared):
        declared_text = declared.describe()
    elif isinstance(declared, tuple):
        declared_text = "(" + ", ".join(d.describe() for d in declared) + ")"
    else:
        declared_text = "nothing declared"
    verdict = {"agree": "agree", "differ": "DIFFER", "unknown": "cannot tell", "undeclared": "no declaration"}[
        agreement.status
    ]
    lines = [
        ("inferred", describe(analysis.output)),
        ("declared", f"{declared_text}  ({analysis.signature.origin})"),
        ("verdict", f"{verdict}: {agreement.detail}"),
    ]
    lines += [("because", note) for note in (*analysis.output_notes, *agreement.notes)]
    return lines


# --- worked example ----------------------------------------------------------------------------


def parse_example(text: str, analysis: Analysis) -> dict[sp.Symbol, sp.Integer]:
    """`B=1,T=64` as dimension values; ValueError names the first problem."""
    symbols = {s.name: s for s in analysis.knowledge.definitions}  # derived names (BV, NV, ...) too
    symbols.update({n: dim(n) for n in analysis.signature.dim_names() | set(analysis.signature.dims)})
    known = set(symbols)
    values: dict[sp.Symbol, sp.Integer] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, number = item.partition("=")
        name = name.strip()
        if not sep or not number.strip().lstrip("-").isdigit():
            raise ValueError(f"--example expects NAME=INTEGER pairs separated by commas, found {item!r}")
        if name not in known:
            raise ValueError(
                f"--example: {name} is not a dimension of {analysis.qualname} "
                f"(dimensions: {', '.join(sorted(known)) or 'none'})"
            )
        values[symbols[name]] = sp.Integer(int(number))
    return values


@dataclasses.dataclass(frozen=True)
class Example:
    """Values of the dimensions given, of those that follow from equality facts, and of every local."""

    given: dict[sp.Symbol, sp.Integer]
    values: dict[sp.Symbol, sp.Expr]

    def text(self) -> str:
        return ", ".join(f"{show(s)}={v}" for s, v in self.given.items())


def example(analysis: Analysis, given: dict[sp.Symbol, sp.Integer]) -> Example:
    values: dict[sp.Symbol, sp.Expr] = dict(given)
    for fact in analysis.knowledge.facts:  # BT == B*T gives BT from B and T
        rel = fact.relation
        if not fact.when and isinstance(rel, sp.Eq) and isinstance(rel.lhs, sp.Symbol) and rel.lhs not in values:
            value = rel.rhs.xreplace(values)
            if value.is_Integer:
                values[rel.lhs] = value
    for symbol, definition in analysis.knowledge.definitions.items():  # in definition order; given wins
        if symbol not in given:
            values[symbol] = definition.xreplace(values)
    return Example(given, values)


def _numeric(value: Value, values: Mapping[sp.Symbol, sp.Expr]) -> str:
    if isinstance(value, Tensor) and value.shape is not None:
        return "[" + ", ".join(show(d.xreplace(values)) for d in value.shape) + "]"
    if isinstance(value, Tup):
        return "(" + ", ".join(_numeric(v, values) for v in value.items) + ")"
    if isinstance(value, sp.Basic):
        return show(value.xreplace(values))
    return describe(value)


def example_rows(analysis: Analysis, ex: Example) -> list[tuple[int, str, str, str, str]]:
    """(line, name, symbolic, with the example's dimensions, value) for every binding of the derivation."""
    dims_only = {s: v for s, v in ex.values.items() if not isinstance(s, Local) or v.is_Integer}
    out = []
    for step in analysis.steps:
        for name, value in step.results:
            if isinstance(value, Local):
                definition = analysis.knowledge.definitions[value]
                row = (show(definition), show_with(definition, dims_only), show(ex.values[value]))
            elif name != "fact" and isinstance(value, (Tensor, Tup, sp.Expr)):
                row = (describe(value), _numeric(value, dims_only), _numeric(value, ex.values))
            else:
                continue
            if len(set(row)) > 1:  # skip what the example does not change (strides, dimensions not given)
                out.append((step.node.lineno, name, *row))
    return out


def unset(analysis: Analysis, ex: Example) -> list[str]:
    """Dimensions the derivation uses that the example leaves symbolic."""
    used = {
        s
        for step in analysis.steps
        for _, v in step.results
        if isinstance(v, sp.Basic)
        for s in analysis.knowledge.expand(v).free_symbols
    }
    used |= {
        s
        for step in analysis.steps
        for _, v in step.results
        if isinstance(v, Tensor) and v.shape
        for d in v.shape
        for s in analysis.knowledge.expand(d).free_symbols
    }
    names = analysis.signature.dim_names() | set(analysis.signature.dims)
    return sorted(s.name for s in used if s.name in names and s not in ex.values and not isinstance(s, Local))


def _fact_checks(analysis: Analysis, ex: Example) -> list[tuple[str, str]]:
    out = []
    for fact in analysis.knowledge.facts:
        value = fact.relation.xreplace(ex.values)
        verdict = "holds" if value == sp.true else "VIOLATED" if value == sp.false else "not determined by the example"
        out.append((fact.describe(), verdict))
    return out


# --- text --------------------------------------------------------------------------------------


def _table(rows_: Sequence[tuple[str, ...]], indent: str = "  ") -> list[str]:
    if not rows_:
        return []
    widths = [max(len(r[i]) for r in rows_) for i in range(len(rows_[0]) - 1)]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows_]


def _title(analysis: Analysis) -> str:
    return f"{analysis.qualname}  ({analysis.module.path}:{analysis.node.lineno})"


def text(analysis: Analysis, ex: Optional[Example] = None) -> str:
    """The derivation as plain text for the terminal."""
    out = [_title(analysis), f"shapes from {analysis.signature.origin}", "", "inputs"]
    out += _table([(name, _input(analysis, name)) for name in analysis.inputs])
    if analysis.knowledge.facts:
        out += ["", "facts"]
        out += _table([(f.describe(), f.origin) for f in analysis.knowledge.facts])
    out += ["", "derivation"]
    derivation = rows(analysis)
    width = min(max((len(r.statement) for r in derivation), default=0), 56)
    for row in derivation:
        out.append(f"{row.line:>5}  {row.statement.ljust(width)}  {row.result}")
        out += [f"{'':7}because {note}" for note in row.notes]
    if analysis.launches:
        out += ["", "launch grid"]
        for launch in analysis.launches:
            out.append(
                f"  {launch.kernel} (line {launch.node.lineno}"
                + (f", in {launch.function}" if launch.function != analysis.qualname else "")
                + ")"
            )
            out += _table(list(_grid_lines(analysis, launch)), indent="    ")
    out += ["", "output"]
    out += _table(_output_lines(analysis))
    if ex is not None:
        out += ["", f"example {ex.text()}"]
        out += _table(
            [
                (f"{line:>5}", name, f"{symbolic} = {substituted}", f"= {value}")
                for line, name, symbolic, substituted, value in example_rows(analysis, ex)
            ],
            indent="",
        )
        missing = unset(analysis, ex)
        out += [f"  left symbolic: {', '.join(missing)}"] if missing else []
        out += ["", "facts under the example"]
        out += _table(_fact_checks(analysis, ex))
    return "\n".join(out) + "\n"


# --- markdown ----------------------------------------------------------------------------------


def _md(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _md_table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    return [_md(header), _md(tuple("---" for _ in header)), *(_md(r) for r in body)]


def _code(text_: str) -> str:
    return f"`{text_}`" if text_ else ""


def markdown(analysis: Analysis, ex: Optional[Example] = None) -> str:
    """The derivation as a Markdown report: dimensions, inputs, facts, derivation, grid, output, example."""
    sig = analysis.signature
    out = [
        f"# Shape derivation of `{analysis.qualname}`",
        "",
        f"`{analysis.module.path}:{analysis.node.lineno}`, shapes from {sig.origin}.",
        "",
    ]
    names = sorted(sig.dim_names() | set(sig.dims))
    if names:
        out += ["## Dimensions", ""]
        out += _md_table(
            ("dimension", "meaning", "supported sizes"),
            [
                (
                    f"`{n}`",
                    sig.dims[n].meaning if n in sig.dims else "",
                    f"{sig.dims[n].lo} .. {sig.dims[n].hi if sig.dims[n].hi is not None else 'unbounded'}"
                    if n in sig.dims
                    else "not declared",
                )
                for n in names
            ],
        )
        out.append("")
    out += ["## Inputs", ""]
    out += _md_table(("argument", "declared shape"), [(f"`{n}`", _code(_input(analysis, n))) for n in analysis.inputs])
    if analysis.knowledge.facts:
        out += ["", "## Facts", ""]
        out += _md_table(("fact", "origin"), [(_code(f.describe()), f.origin) for f in analysis.knowledge.facts])
    out += ["", "## Derivation", ""]
    out += _md_table(
        ("line", "statement", "result", "why"),
        [(str(r.line), _code(r.statement), _code(r.result), "; ".join(r.notes)) for r in rows(analysis)],
    )
    if analysis.launches:
        out += ["", "## Launch grid", ""]
        out += _md_table(
            ("line", "kernel", "axis", "size", "limit"),
            [
                (str(launch.node.lineno), f"`{launch.kernel}`", axis, _code(size), limit)
                for launch in analysis.launches
                for axis, size, limit in _grid_lines(analysis, launch)
            ],
        )
    out += ["", "## Output", ""]
    out += _md_table(("", ""), [(k, _code(v) if k in ("inferred",) else v) for k, v in _output_lines(analysis)])
    if ex is not None:
        out += ["", f"## Worked example: {ex.text()}", ""]
        out += _md_table(
            ("line", "name", "symbolic", "with the example", "value"),
            [
                (str(line), f"`{name}`", _code(s), _code(sub), _code(v))
                for line, name, s, sub, v in example_rows(analysis, ex)
            ],
        )
        missing = unset(analysis, ex)
        out += ["", f"Left symbolic: {', '.join(f'`{m}`' for m in missing)}."] if missing else []
        out += ["", *_md_table(("fact", "under the example"), [(_code(f), v) for f, v in _fact_checks(analysis, ex)])]
    return "\n".join(out) + "\n"
