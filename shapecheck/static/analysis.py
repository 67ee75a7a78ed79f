"""Analysing one function: seed its parameters from the signature, run its body, compare what it returns
with what it declares.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Iterator, Mapping, Optional, Union

import sympy as sp

from shapecheck.static.engine import Interpreter, Issue, Launch, Return, Shared, Step
from shapecheck.static.facts import ALWAYS, Knowledge, conjoin, split
from shapecheck.static.seeding import signature_for
from shapecheck.static.signature import (
    VARIADIC,
    Declared,
    Scalar,
    Signature,
    axis_expr,
    axis_names,
    defaults_none,
    parameters,
)
from shapecheck.static.source import FunctionNode, ModuleSource
from shapecheck.static.symbols import condition, dim, scalar, show
from shapecheck.static.values import Tensor, Tup, Unknown, Value, describe, is_bool, map_exprs, merge


@dataclasses.dataclass(frozen=True)
class Agreement:
    """Inferred vs declared output: "agree", "differ", "unknown" (cannot tell) or "undeclared"."""

    status: str
    detail: str
    notes: tuple[str, ...] = ()


@dataclasses.dataclass
class Analysis:
    """Everything inferred about one function."""

    module: ModuleSource
    node: FunctionNode
    qualname: str
    signature: Signature
    inputs: dict[str, Value]
    knowledge: Knowledge
    steps: list[Step]
    launches: list[Launch]
    issues: list[Issue]
    returns: list[Return]
    output: Value
    output_notes: list[str]

    def declared_shape(self, pattern: tuple) -> Optional[tuple[Optional[sp.Expr], ...]]:
        """A declared pattern as sizes (None for a `_` wildcard axis); None if it has variadic axes."""
        if VARIADIC in pattern:
            return None
        return tuple(None if a == "_" else axis_expr(a, "_") for a in pattern)

    def _match(self, value: Value, declared: Declared) -> Agreement:
        if not isinstance(value, Tensor) or value.shape is None:
            return Agreement("unknown", f"inferred {describe(value)}")
        inferred = describe(value)
        if value.maybe_none and not declared.optional:
            return Agreement("differ", f"inferred {inferred} but declared {declared.describe()}")
        output_only = self.signature.output_only_dims()
        for pattern in declared.patterns:
            shape = self.declared_shape(pattern)
            if shape is None:
                return Agreement("unknown", f"declared {declared.describe()} has variadic axes")
            if len(shape) != len(value.shape):
                continue
            bound: dict[str, sp.Expr] = {}  # output-only dims bind to what the code returns, once each
            whys: list[Optional[str]] = []
            for a, b, axis in zip(value.shape, shape, pattern):
                if b is None:
                    whys.append("")
                elif isinstance(axis, str) and axis in output_only and axis not in bound:
                    bound[axis] = a
                    whys.append("" if a == b else f"{axis} = {show(a)} (bound at the return)")
                else:
                    whys.append(self.knowledge.equal(a, bound.get(axis, b) if isinstance(axis, str) else b))
            if all(w is not None for w in whys):
                return Agreement(
                    "agree", f"inferred {inferred} matches declared {declared.describe()}", tuple(w for w in whys if w)
                )
        return Agreement("differ", f"inferred {inferred} but declared {declared.describe()}")

    def agreement(self, value: Optional[Value] = None) -> Agreement:
        """How the output (or one returned `value`) compares with the declared return shape."""
        value = self.output if value is None else value
        declared = self.signature.returns
        if declared is None:
            return Agreement("undeclared", "no declared output shape")
        if isinstance(declared, Declared):
            return self._match(value, declared)
        if not isinstance(value, Tup) or len(value.items) != len(declared):
            status = "differ" if isinstance(value, (Tensor, Tup)) else "unknown"
            return Agreement(status, f"inferred {describe(value)} but declared a tuple of {len(declared)} tensors")
        parts = [self._match(v, d) for v, d in zip(value.items, declared)]
        worst = next((p for p in parts if p.status == "differ"), next((p for p in parts if p.status != "agree"), None))
        if worst is not None:
            return worst
        return Agreement("agree", "; ".join(p.detail for p in parts), tuple(n for p in parts for n in p.notes))


def _tensor_seed(name: str, declared: Declared, maybe_none: bool) -> Tensor:
    if any(VARIADIC in p for p in declared.patterns):
        return Tensor(None, name, maybe_none=maybe_none, why=f"`{name}` is declared with variadic axes")
    try:
        shapes = [tuple(axis_expr(a, f"_{name}{i}") for i, a in enumerate(p)) for p in declared.patterns]
    except (ValueError, SyntaxError) as exc:
        return Tensor(None, name, maybe_none=maybe_none, why=f"`{name}`: {exc}")
    if len({len(s) for s in shapes}) > 1:
        ranks = " or ".join(str(len(s)) for s in shapes)
        return Tensor(None, name, maybe_none=maybe_none, why=f"`{name}` is declared with rank {ranks}")
    shape: tuple = shapes[-1]
    for pattern, other in zip(reversed(declared.patterns[:-1]), reversed(shapes[:-1])):
        chosen = condition(f'{name} is "{" ".join(map(str, pattern))}"')
        shape = tuple(merge(chosen, a, b, None) for a, b in zip(other, shape))
    return Tensor(shape, name, maybe_none=maybe_none)


def _seed(interp: Interpreter, arg: ast.arg, param: Optional[object], none_default: bool) -> Value:
    name = arg.arg
    if isinstance(param, Declared):
        return _tensor_seed(name, param, param.optional or none_default)
    if isinstance(param, Scalar):
        if param.optional or none_default:
            interp.optional.add(name)
        if param.kind == "int" and name in interp.dims:  # `T: int` next to `x: "B T"`: one symbol
            return dim(name)
        if param.kind in ("int", "float"):
            return scalar(name, param.kind)
        if param.kind == "bool":
            return condition(name)
        return Unknown(f"a {param.kind} parameter", arg)
    return Unknown("a parameter without a declared shape", arg)


def _dim_origins(signature: Signature) -> dict[str, str]:
    """Each declared dimension name and where it first appears (`q axis 1`)."""
    origins: dict[str, str] = {}
    for name, declared in signature.declared():
        for pattern in declared.patterns:
            for i, a in enumerate(pattern):
                if isinstance(a, str) and a.isidentifier() and a != "_":
                    origins.setdefault(a, f"{name} axis {i}")
    return origins


def _return_dims(signature: Signature) -> set[str]:
    return {
        name
        for label, declared in signature.declared()
        if label.startswith("return")
        for pattern in declared.patterns
        for axis in pattern
        for name in axis_names(axis)
    }


def _add_rules(interp: Interpreter, signature: Signature) -> None:
    """Contract rules as facts; `x is None or R` becomes R when x is not None."""
    saved = interp.env
    interp.env = {**saved, **{name: dim(name) for name in signature.dim_names() | set(signature.dims)}}
    for rule in signature.rules:
        try:
            value = interp.eval(ast.parse(rule, mode="eval").body)
        except SyntaxError:
            continue
        if not is_bool(value):
            continue
        for part in split(value):
            if isinstance(part, sp.Or):
                guards = [
                    a
                    for a in part.args
                    if isinstance(a, sp.Symbol) or (isinstance(a, sp.Not) and isinstance(a.args[0], sp.Symbol))
                ]
                rest = [a for a in part.args if a not in guards]
                if guards and rest:
                    when = conjoin(ALWAYS, sp.And(*(sp.Not(g) for g in guards)))
                    interp.knowledge.add(sp.Or(*rest), f"contract rule `{rule}`", None, when)
                    continue
            interp.knowledge.add(part, f"contract rule `{rule}`")
    interp.env = saved


def analyse(
    module: ModuleSource,
    fn: FunctionNode,
    qualname: str,
    signature: Signature,
    *,
    shared: Optional[Shared] = None,
    record: bool = True,
) -> Analysis:
    """Run the analysis of `fn` seeded with `signature`."""
    shared = shared or Shared(module, follow=record)  # explain follows calls into sibling modules
    interp = Interpreter(shared, qualname, record=record, dims=_dim_origins(signature))
    interp.taken -= signature.output_only_dims()  # `N = len(cu) - 1` IS the returned N: no `N'`
    none_defaults = defaults_none(fn)
    inputs = {
        arg.arg: _seed(interp, arg, signature.params.get(arg.arg), arg.arg in none_defaults) for arg in parameters(fn)
    }
    interp.env.update(inputs)
    notes: list[str] = []

    declared = frozenset(dim(name) for name in _return_dims(signature))

    def simplify(expr: sp.Expr) -> sp.Expr:
        """Facts first (they may name locals), then in terms of the inputs' dimensions, preferring the
        names the declared return uses."""
        knowledge = interp.knowledge
        simpler, why = knowledge.resolve(expr, keep=declared)
        simpler, more = knowledge.resolve(knowledge.expand(simpler), keep=declared)
        notes.extend(why + more)
        return simpler

    try:
        _add_rules(interp, signature)
        interp.run(fn.body)
        output = map_exprs(interp.output(), simplify)
    except RecursionError:  # pathologically nested source: a limit of the analyser, reported as unknown
        output = Unknown("source nested too deeply to analyse", fn)
    return Analysis(
        module,
        fn,
        qualname,
        signature,
        inputs,
        interp.knowledge,
        interp.steps,
        interp.launches,
        interp.issues,
        interp.returns,
        output,
        notes,
    )


def analyse_function(
    path: Union[str, Path], qualname: str, assume: Mapping[str, Declared] = {}, contracts: bool = True
) -> Analysis:
    """Analyse `path::qualname`; LookupError when there is no such function, ValueError for a bad --assume."""
    module = ModuleSource.load(path)
    fn = module.find(qualname)
    if fn is None:
        known = ", ".join(name for name, _ in module.definitions()) or "none"
        raise LookupError(f"no function `{qualname}` in {path} (functions: {known})")
    return analyse(module, fn, qualname, signature_for(fn, assume, contracts, module))


_LAUNCH = re.compile(r"\]\s*\(")


def launches_kernel(module: ModuleSource, fn: FunctionNode) -> bool:
    """Whether `fn` has a `kernel[grid](...)` call (its grid is worth checking even without declared shapes);
    the source text is screened first, the tree walked only where `](` occurs."""
    lines = module.lines[fn.lineno - 1 : fn.end_lineno]
    if not any(_LAUNCH.search(line) for line in lines):
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Subscript) for n in ast.walk(fn))


def analyse_module(module: ModuleSource, *, declared_only: bool = False, record: bool = False) -> Iterator[Analysis]:
    """Analyse every function of `module` (only those with declared shapes or a launch when `declared_only`)."""
    shared = Shared(module)
    for qualname, fn in module.definitions():
        signature = signature_for(fn, module=module)
        if declared_only and not (signature.declares_shapes or launches_kernel(module, fn)):
            continue
        yield analyse(module, fn, qualname, signature, shared=shared, record=record)
