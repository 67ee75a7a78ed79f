"""`shapecheck explain FILE::FN --emit-contract`: a draft contract module for a wrapper, from its source.

What the code states, nothing more: each tensor's shape from the unpack lines (or its annotation), the
output from the derivation, rules from asserts and guards that are facts about the inputs' dimensions
(`K <= 256`) and from divisions of one dimension by another (`HV // H` needs `HV % H == 0`), dims with
the bounds those facts give (else a placeholder range to edit). Parameters whose shape the code never
states stay plain `torch.Tensor` (unchecked). Dtypes are not in the source: data tensors are drafted as
`Float`, offsets (`len(x) - 1`) as `Int`.
"""

from __future__ import annotations

import ast
import builtins
import re
from typing import Optional

import sympy as sp

from shapecheck.static import docstrings
from shapecheck.static.analysis import Analysis
from shapecheck.static.forwarded import forwarded
from shapecheck.static.signature import Declared, axis_names, parameters
from shapecheck.static.symbols import show
from shapecheck.static.values import Tensor

PLACEHOLDER_HI = 8  # a CPU-sized upper bound for dims the code does not bound: edit it
_PYTHON_RULE = re.compile(r"[\w\s%*+\-<>=!()/]+")


def _python(expr: sp.Basic) -> Optional[str]:
    """`expr` as a Python expression over dimension names, or None if it needs functions Python lacks."""
    text = show(expr)
    return text if _PYTHON_RULE.fullmatch(text) and "cdiv" not in text and "next_pow2" not in text else None


def _pattern_text(declared: Declared) -> str:
    return " ".join(map(str, declared.patterns[0]))


def _output(analysis: Analysis, dims: set[str]) -> Optional[str]:
    out = analysis.output
    if not isinstance(out, Tensor) or out.shape is None:
        return None
    axes = []
    for size in out.shape:
        expanded = analysis.knowledge.expand(size)
        text = _python(expanded)
        if text is None or not {s.name for s in expanded.free_symbols} <= dims:
            return None
        axes.append(text.replace(" ", ""))
    return " ".join(axes)


def _owner(analysis: Analysis, name: str) -> str:
    """The first parameter whose declared shape names dimension `name` (a rule's blame)."""
    for param, declared in analysis.signature.declared():
        if any(name in str(a).replace("+", " ").replace("-", " ").split() for p in declared.patterns for a in p):
            return param
    return "-"


def _rules(analysis: Analysis, dims: set[str]) -> list[tuple[str, str, str]]:
    """(expression, blamed dimension, why) for each rule the source states about the inputs' dimensions."""
    found: dict[str, tuple[str, str]] = {}
    for fact in analysis.knowledge.facts:
        if fact.when or fact.origin.startswith("contract rule"):
            continue
        relation = analysis.knowledge.expand(fact.relation)
        names = {s.name for s in relation.free_symbols}
        text = _python(relation)
        if text is None or relation in (sp.true, sp.false) or not names or not names <= dims:
            continue
        found.setdefault(text, (sorted(names)[0], fact.origin))
    for node in ast.walk(analysis.node):
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.FloorDiv)
            and isinstance(node.left, ast.Name)
            and isinstance(node.right, ast.Name)
            and {node.left.id, node.right.id} <= dims
        ):
            found.setdefault(
                f"{node.left.id} % {node.right.id} == 0",
                (node.left.id, f"line {node.lineno} divides {node.left.id} by {node.right.id}"),
            )
    return [(text, dimension, why) for text, (dimension, why) in found.items()]


def _bounds(analysis: Analysis) -> dict[str, tuple[int, int]]:
    """Bounds the source's facts give a dimension: `D <= c`, `D == c`."""
    bounds: dict[str, tuple[int, int]] = {}
    for fact in analysis.knowledge.facts:
        rel = fact.relation
        if (
            not fact.when
            and isinstance(rel, (sp.Le, sp.Lt, sp.Eq))
            and isinstance(rel.lhs, sp.Symbol)
            and rel.rhs.is_Integer
        ):
            hi = int(rel.rhs) - (1 if isinstance(rel, sp.Lt) else 0)
            bounds[rel.lhs.name] = (hi if isinstance(rel, sp.Eq) else 1, hi)
    return bounds


def _where(analysis: Analysis, name: str) -> str:
    for param, declared in analysis.signature.declared():
        for pattern in declared.patterns:
            for i, axis in enumerate(pattern):
                if axis == name:
                    return f"axis {i} of {param}"
                if name in axis_names(axis):
                    return f"axis {i} of {param} is {axis}"
    return "derived"


def _documented_hint(d: docstrings.Documented, *, none_default: bool) -> str:
    hint = f'{"Int" if d.integer else "Float"}[Tensor, "{" ".join(d.axes)}"]'
    return f"Optional[{hint}]" if d.optional or none_default else hint


# What a draft module imports, besides builtins: an annotation naming anything else is emitted as `Any`.
_IMPORTED = {"Any", "Optional", "torch", "Float", "Int", "Tensor", *dir(builtins)}


def _names(node: ast.expr) -> set[str]:
    """The top-level names an annotation uses (`torch` of `torch.Tensor`, `FLACPContext`)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _guessed_result(stub: list[str]) -> str:
    """A result the code does not state, drafted so the module loads (a Contract needs a tensor result): the
    first stated tensor parameter's shape, else one placeholder axis `R`, and a comment saying to check it."""
    stated = re.search(r'^    \w+: (Float\[Tensor, "[^"]*"\])', "\n".join(stub), re.MULTILINE)
    if stated:
        return f"{stated.group(1)}:  # GUESS: the code states no result shape; drafted as the first tensor's"
    return 'Float[Tensor, "R"]:  # GUESS: the code states no result shape; `R` is a placeholder to replace'


def emit_contract(analysis: Analysis) -> str:
    """A contract module for `analysis`'s function: a jaxtyping stub, its dims and its rules."""
    fn, sig = analysis.node, analysis.signature
    name = fn.name
    documented, returned = docstrings.arguments(ast.get_docstring(fn)), docstrings.results(ast.get_docstring(fn))
    from_doc = {n for d in [*documented.values(), *returned] for axis in d.axes for n in axis_names(axis)}
    unstated = [
        arg.arg
        for arg in parameters(fn)
        if not isinstance(sig.params.get(arg.arg), Declared)
        and arg.arg not in documented
        and (arg.annotation is None or "Tensor" in ast.unparse(arg.annotation))
    ]
    passed_on = forwarded(analysis.module, fn, unstated) if unstated else {}
    from_callees = {n for i in passed_on.values() for p in i.declared.patterns for a in p for n in axis_names(a)}
    dims = sig.dim_names() | from_doc | from_callees
    lines = [
        f'"""Draft contract of `{name}`, emitted by `shapecheck explain {analysis.module.path}::{analysis.qualname} '
        "--emit-contract`.",
        "",
        "Read from the source, not proved: check each shape (and the placeholder dim ranges) before relying on it.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Optional",
        "",
        "import torch",
        "from jaxtyping import Float, Int",
        "from torch import Tensor",
        "",
        "from shapecheck.spec import Contract, Dim, Rule",
        "",
        "",
        f"def {name}(",
    ]
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults = {arg.arg: d for arg, d in zip(positional[len(positional) - len(a.defaults) :], a.defaults)}
    defaults.update({arg.arg: d for arg, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
    for arg in parameters(fn):
        if arg is a.vararg or arg is a.kwarg:
            lines.append(
                f"    # {'*' if arg is a.vararg else '**'}{arg.arg} dropped: a contract's stub names each argument it judges"
            )
            continue
        declared = sig.params.get(arg.arg)
        default = defaults.get(arg.arg)
        if isinstance(declared, Declared):
            text = _pattern_text(declared)
            kind = "Int" if text.endswith("+1") and len(declared.patterns[0]) == 1 else "Float"
            hint = f'{kind}[Tensor, "{text}"]'
            hint = (
                f"Optional[{hint}]"
                if declared.optional or (isinstance(default, ast.Constant) and default.value is None)
                else hint
            )
            note = sig.inferred.get(arg.arg, "annotated")
        elif arg.arg in passed_on:
            read, text = passed_on[arg.arg], " ".join(map(str, passed_on[arg.arg].declared.patterns[0]))
            hint = f'{"Int" if text.endswith("+1") and " " not in text else "Float"}[Tensor, "{text}"]'
            none = read.declared.optional or (isinstance(default, ast.Constant) and default.value is None)
            hint = f"Optional[{hint}]" if none else hint
            note = read.note
        elif arg.arg in documented and (arg.annotation is None or "Tensor" in ast.unparse(arg.annotation)):
            hint = _documented_hint(
                documented[arg.arg], none_default=isinstance(default, ast.Constant) and default.value is None
            )
            note = "shape from the docstring"
        else:
            hint = ast.unparse(arg.annotation) if arg.annotation is not None else "Any"
            note = "shape not stated by the code" if hint in ("Any", "torch.Tensor", "Tensor") else ""
            foreign = sorted(_names(arg.annotation) - _IMPORTED) if arg.annotation is not None else []
            if foreign:  # a name the draft does not import (the library's own types) would fail to resolve
                hint, note = "Any", f"was `{hint}`: {', '.join(foreign)} not imported in the draft"
            elif (
                isinstance(default, ast.Constant)
                and default.value is None
                and hint != "Any"
                and "None" not in hint
                and "Optional" not in hint
            ):  # `scale: float = None`, implicit Optional
                hint, note = f"Optional[{hint}]", f"was `{hint}` with default None"
        suffix = f" = {ast.unparse(default)}" if default is not None else ""
        lines.append(f"    {arg.arg}: {hint}{suffix}," + (f"  # {note}" if note else ""))
    output = _output(analysis, dims)
    if returned and (output is None or len(returned) > 1):  # the docstring's results, where the code states fewer
        result = (
            _documented_hint(returned[0], none_default=False)
            if len(returned) == 1
            else f"tuple[{', '.join(_documented_hint(d, none_default=False) for d in returned)}]"
        )
        lines.append(f") -> {result}:  # from the docstring's Returns")
    elif output:
        lines.append(f") -> Float[Tensor, {output!r}]:")
    else:
        lines.append(f") -> {_guessed_result(lines)}")
    guessed = "R" if lines[-1].endswith("`R` is a placeholder to replace") else None
    origin = sig.origin + (", and the docstring" if documented or returned else "")
    origin += ", and the functions it forwards to" if passed_on else ""
    lines += [f'    """Signature of `{name}` (shapes from {origin})."""', "    ...", "", ""]
    bounds = _bounds(analysis)
    lines += [f"{name.upper()} = Contract(", f"    name={name!r},", f"    signature={name},"]
    if len(returned) > 1:
        lines.append(f"    outputs={tuple(d.name for d in returned)!r},")
    lines.append("    dims={")
    for d in sorted(dims | ({guessed} if guessed else set())):
        lo, hi = bounds.get(d, (1, PLACEHOLDER_HI))
        where = _where(analysis, d)
        meaning = where
        if where == "derived":
            meaning = "named in the docstring" if d in from_doc else "named by a function it forwards to"
            meaning = "placeholder for the result's shape" if d == guessed and d not in from_callees else meaning
        lines.append(f"        {d!r}: Dim({meaning!r}, {lo}, {hi}),")
    lines += ["    },", "    rules=["]
    for text, dimension, why in _rules(analysis, dims):
        lines.append(f"        Rule({text!r}, blame=({_owner(analysis, dimension)!r}, {dimension!r}), why={why!r}),")
    lines += ["    ],", ")", ""]
    return "\n".join(lines)
