"""The interpreter: runs a function body over abstract values, statement by statement.

Control flow: an `if` whose condition is decided takes one branch; otherwise both run and their results
merge into case splits. A branch that raises turns the other branch's condition into a fact (a guard); one
that returns narrows the path the rest of the body runs under. Loops run once with every name they assign
widened to unknown first, so nothing loop-carried is guessed. Calls into functions of the same module are
analysed with the actual argument values (depth-limited, cached per module).

Over 400 lines because it is one class: its statement and expression handlers share the interpreter's state.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import math
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import sympy as sp

from shapecheck.static import library, operators, tensorops
from shapecheck.static.facts import ALWAYS, Knowledge, Path, condition_of, conjoin
from shapecheck.static.imports import definition
from shapecheck.static.source import FunctionNode, ModuleSource, import_bindings, is_kernel
from shapecheck.static.symbols import Local, condition, dim, local, show
from shapecheck.static.values import (
    NONE,
    Callable_,
    Const,
    Meta,
    Ref,
    Slice,
    Tensor,
    Tup,
    Unknown,
    Value,
    first_unknown,
    is_bool,
    is_int,
    map_exprs,
    merge,
)

MAX_CALL_DEPTH = 3
_BUILTINS = frozenset(dir(builtins))


@dataclasses.dataclass(frozen=True)
class Step:
    """A shape-relevant statement, what it bound, and the justifications it needed."""

    node: ast.stmt
    kind: str  # "assign" | "fact" | "launch" | "return" | "expr"
    results: tuple[tuple[str, Value], ...]
    notes: tuple[str, ...]
    path: Path


@dataclasses.dataclass(frozen=True)
class Launch:
    """`kernel[grid](...)`: the grid's axis sizes, or why they are unknown."""

    node: ast.Call
    kernel: str
    grid: Union[tuple[Value, ...], Unknown]
    path: Path
    function: str


@dataclasses.dataclass(frozen=True)
class Issue:
    """A problem found while inferring (a lint finding before it gets a path)."""

    code: str
    node: ast.AST
    message: str
    function: str


@dataclasses.dataclass(frozen=True)
class Return:
    node: Optional[ast.AST]
    value: Value
    path: Path


def shape_like(value: Optional[Value]) -> bool:
    """A tensor, a size that depends on dimensions, or a tuple holding one: what a derivation shows."""
    if isinstance(value, Tensor):
        return True
    if isinstance(value, Tup):
        return any(shape_like(v) for v in value.items)
    return is_int(value) and bool(value.free_symbols)


def assigned_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names that statements may bind (not looking into nested functions, classes or comprehensions)."""
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(name for name, _ in import_bindings(node))
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            found.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return found


class Shared:
    """Per-module state shared by every interpreter: module-level names and analysed calls.

    With `follow`, a function imported from another module of the analysed tree (`from .utils import f`)
    is analysed in its own module, once per argument values; `homes` holds those modules' states.
    """

    def __init__(self, module: ModuleSource, follow: bool = False, homes: Optional[dict[str, "Shared"]] = None) -> None:
        self.module, self.follow = module, follow
        self.homes = homes if homes is not None else {module.path: self}
        self.calls: dict[tuple, tuple[Value, tuple[Launch, ...], tuple[Issue, ...]]] = {}
        self._constants: dict[str, Value] = {}
        self._functions: dict[str, Callable_] = {}
        self._defaults: dict[int, Value] = {}

    def global_value(self, name: str, node: ast.AST) -> Value:
        module = self.module
        if name in module.functions:
            if name not in self._functions:
                fn = module.functions[name]
                self._functions[name] = Callable_(fn, {}, is_kernel(fn), self)
            return self._functions[name]
        if name in module.imports:
            imported = self._imported(name) if self.follow else None
            return imported if imported is not None else Ref(module.imports[name])
        if name in module.constants:
            if name not in self._constants:
                self._constants[name] = Unknown("module constant defined in terms of itself", node)
                self._constants[name] = Interpreter(self, "<module>", record=False).eval(module.constants[name])
            return self._constants[name]
        if name in _BUILTINS:
            return Ref(f"builtins.{name}")
        return Unknown("name is not bound here", node)

    def _imported(self, name: str) -> Optional[Callable_]:
        """A function the module imports from a sibling module of the analysed tree."""
        found = definition(self.module, name, installed=False)
        if found is None or found[1] not in found[0].functions or found[0] is self.module:
            return None
        owner, attr = found
        home = self.homes.get(owner.path)
        if home is None:
            home = self.homes[owner.path] = Shared(owner, self.follow, self.homes)
        return home.global_value(attr, owner.functions[attr])  # type: ignore[return-value]  # a module-level function's value is a Callable_

    def default(self, node: ast.expr) -> Value:
        """A parameter default, evaluated at module level."""
        if id(node) not in self._defaults:
            self._defaults[id(node)] = Interpreter(self, "<module>", record=False).eval(node)
        return self._defaults[id(node)]


class _Site:
    """The `Site` of one operation inside an interpreter."""

    __slots__ = ("interp", "node")

    def __init__(self, interp: "Interpreter", node: ast.AST) -> None:
        self.interp, self.node = interp, node

    def equal(self, a: sp.Expr, b: sp.Expr) -> Optional[str]:
        return self.interp.knowledge.equal(a, b, self.interp.path)

    def decide(self, cond: sp.Basic) -> Optional[bool]:
        return self.interp.decide(cond)

    def note(self, text: str) -> None:
        self.interp.notes.append(text)

    def issue(self, code: str, message: str) -> None:
        self.interp.issues.append(Issue(code, self.node, message, self.interp.function))

    def unknown(self, why: str) -> Unknown:
        return Unknown(why, self.node)


_State = tuple[dict, set, Path, bool, bool]


class Interpreter:
    """Abstract execution of one function body (or one expression, for module constants and rules).

    `dims` maps each declared dimension name to where it is declared (for SC004 and naming locals);
    `record` keeps the derivation steps (explain needs them, lint does not).
    """

    def __init__(
        self,
        shared: Shared,
        function: str,
        *,
        depth: int = 0,
        stack: tuple[ast.AST, ...] = (),
        record: bool = True,
        dims: Mapping[str, str] = {},
    ) -> None:
        self.shared, self.module, self.function = shared, shared.module, function
        self.depth, self.stack, self.record, self.dims = depth, stack, record, dims
        self.taken: set[str] = set(dims)
        self.knowledge = Knowledge()
        self.env: dict[str, Value] = {}
        self.optional: set[str] = set()  # scalar parameters that may still be None
        self.path: Path = ALWAYS
        self.live, self.raised = True, False
        self.steps: list[Step] = []
        self.launches: list[Launch] = []
        self.issues: list[Issue] = []
        self.returns: list[Return] = []
        self.notes: list[str] = []
        self._launched: list[Launch] = []

    # --- helpers -------------------------------------------------------------------------------

    def _site(self, node: ast.AST) -> _Site:
        return _Site(self, node)

    def decide(self, cond: sp.Basic) -> Optional[bool]:
        if cond in (sp.true, sp.false):
            return cond == sp.true
        return self.knowledge.decide(cond, self.path)

    def condition(self, node: ast.expr) -> sp.Basic:
        """A test as a condition: evaluated where possible, else an opaque symbol named by its source."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sp.Not(self.condition(node.operand))
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        truth = operators.truthiness(self.eval(node))
        return truth if truth is not None else condition(ast.unparse(node))

    def _state(self) -> _State:
        return dict(self.env), set(self.optional), self.path, self.live, self.raised

    def _restore(self, state: _State) -> None:
        env, optional, self.path, self.live, self.raised = state
        self.env, self.optional = dict(env), set(optional)

    def _reads_shapes(self, node: ast.AST) -> bool:
        return self.record and any(isinstance(n, ast.Name) and shape_like(self.env.get(n.id)) for n in ast.walk(node))

    def _finish(self, node: ast.stmt, kind: str, results: list[tuple[str, Value]], reads: bool) -> None:
        if self._launched:
            kind = "launch"
            results = [
                ("grid", launch.grid if isinstance(launch.grid, Unknown) else Tup(launch.grid))
                for launch in self._launched
            ] + results
        if not self.record:
            return
        relevant = (
            kind in ("fact", "launch", "return")
            or bool(self.notes)
            or any(shape_like(v) for _, v in results)
            or (reads and any(isinstance(v, Unknown) for _, v in results))
        )
        if relevant:
            self.steps.append(Step(node, kind, tuple(results), tuple(self.notes), self.path))

    def _fresh_local(self, name: str, definition: sp.Expr) -> Local:
        candidate = name
        while candidate in self.taken:
            candidate += "'"
        self.taken.add(candidate)
        symbol = local(candidate, definition)
        self.knowledge.define(symbol, definition)
        return symbol

    # --- statements ----------------------------------------------------------------------------

    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if not self.live:
                return
            self.notes, self._launched = [], []
            handler = _STATEMENTS.get(type(stmt))
            if handler is None:
                for name in assigned_names([stmt]):
                    self.env[name] = Unknown(f"{type(stmt).__name__} statements are not modelled", stmt)
            else:
                handler(self, stmt)

    def _assign_name(self, target: ast.Name, value: Value, results: list[tuple[str, Value]]) -> None:
        if is_int(value) and not value.is_Atom:
            value, notes = self.knowledge.collapse(value, self.path)
            self.notes.extend(notes)
            if not value.is_Atom:
                value = self._fresh_local(target.id, value)
        self._check_dim_name(target, value)
        self.env[target.id] = value
        self.optional.discard(target.id)
        results.append((target.id, value))

    def _check_dim_name(self, target: ast.Name, value: Value) -> None:
        """SC004: a local named after one declared dimension that holds another (`B, H, T, K = q.shape`)."""
        name = target.id
        if self.depth or name not in self.dims or not isinstance(value, sp.Symbol) or isinstance(value, Local):
            return
        if value.name != name and value.name in self.dims and self.knowledge.equal(dim(name), value, self.path) is None:
            self.issues.append(
                Issue(
                    "SC004",
                    target,
                    f"`{name}` is assigned dimension {value.name} "
                    f"({self.dims[value.name]}), but {name} is a different dimension ({self.dims[name]})",
                    self.function,
                )
            )

    def _unpack(self, value: Value, elts: list[ast.expr], node: ast.AST) -> list[Value]:
        n = len(elts)
        star = next((i for i, e in enumerate(elts) if isinstance(e, ast.Starred)), None)
        items: Optional[tuple[Value, ...]] = None
        if isinstance(value, Tup):
            items = value.items
        elif isinstance(value, Tensor) and value.shape and value.shape[0].is_Integer and int(value.shape[0]) <= 64:
            items = (Tensor(value.shape[1:]),) * int(value.shape[0])
        if items is not None:
            if star is None and len(items) == n:
                return list(items)
            if star is not None and len(items) >= n - 1:
                after = n - star - 1
                return [*items[:star], Tup(items[star : len(items) - after]), *items[len(items) - after :]]
        missing = value if isinstance(value, Unknown) else Unknown(f"cannot unpack into {n} names", node)
        return [missing] * n

    def _bind(self, target: ast.expr, value: Value, results: list[tuple[str, Value]]) -> None:
        if isinstance(target, ast.Name):
            self._assign_name(target, value, results)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for sub, item in zip(target.elts, self._unpack(value, target.elts, target)):
                self._bind(sub.value if isinstance(sub, ast.Starred) else sub, item, results)
        # attribute and subscript targets write into objects; no name changes its value

    def _stmt_Assign(self, node: ast.Assign) -> None:
        reads = self._reads_shapes(node.value)
        value = self.eval(node.value)
        results: list[tuple[str, Value]] = []
        for target in node.targets:
            self._bind(target, value, results)
        self._finish(node, "assign", results, reads)

    def _stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            reads = self._reads_shapes(node.value)
            results: list[tuple[str, Value]] = []
            self._bind(node.target, self.eval(node.value), results)
            self._finish(node, "assign", results, reads)

    def _stmt_AugAssign(self, node: ast.AugAssign) -> None:
        reads = self._reads_shapes(node)
        value = self.eval(node.value)
        if isinstance(node.target, ast.Name):
            current = self._e_Name(node.target)
            results: list[tuple[str, Value]] = []
            self._assign_name(node.target, operators.binary(self._site(node), node.op, current, value), results)
            self._finish(node, "assign", results, reads)

    def _stmt_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):
            return  # a docstring or a bare `...`
        self.eval(node.value)
        self._finish(node, "expr", [], False)

    def _stmt_Return(self, node: ast.Return) -> None:
        value = self.eval(node.value) if node.value is not None else NONE
        self.returns.append(Return(node, value, self.path))
        self._finish(node, "return", [("return", value)], True)
        self.live, self.raised = False, False

    def _stmt_Raise(self, node: ast.Raise) -> None:
        self.live, self.raised = False, True

    def _stmt_Assert(self, node: ast.Assert) -> None:
        cond = self.condition(node.test)
        if cond == sp.false:
            self.live, self.raised = False, True
            return
        facts = self.knowledge.add(cond, f"assert at line {node.lineno}", node.lineno, self.path)
        self._finish(node, "fact", [("fact", f.relation) for f in facts], False)

    def _stmt_If(self, node: ast.If) -> None:
        cond = self.condition(node.test)
        decided = self.decide(cond)
        if decided is not None:
            skipped = node.orelse if decided else node.body
            if skipped and isinstance(skipped[-1], ast.Raise):  # a guard that never fires still states a fact
                holds = cond if decided else sp.Not(cond)
                why = self.knowledge.unfold(holds) if holds not in (sp.true, sp.false) else None
                self.notes.append(
                    f"the guard never fires: {why or show(holds)}"
                    if holds not in (sp.true, sp.false)
                    else f"the guard never fires: `{ast.unparse(node.test)}` is always {decided}"
                )
                facts = self.knowledge.add(holds, f"guard at line {node.lineno}", node.lineno, self.path)
                self._finish(node, "fact", [("fact", f.relation) for f in facts], False)
            self.run(node.body if decided else node.orelse)
            return
        before = self._state()
        self.path = conjoin(before[2], cond)
        self.run(node.body)
        then = self._state()
        self._restore(before)
        self.path = conjoin(before[2], sp.Not(cond))
        self.run(node.orelse)
        otherwise = self._state()
        self._join_if(node, cond, before[2], then, otherwise)

    def _join_if(self, node: ast.If, cond: sp.Basic, path: Path, then: _State, otherwise: _State) -> None:
        self.path = path
        if then[3] and otherwise[3]:
            self.env = {
                name: merge(cond, then[0][name], otherwise[0][name], node)
                if name in then[0] and name in otherwise[0]
                else Unknown("bound on one branch only", node)
                for name in then[0].keys() | otherwise[0].keys()
            }
            self.optional = then[1] | otherwise[1]
            self.live, self.raised = True, False
        elif then[3] or otherwise[3]:
            survivor, ended = (then, otherwise) if then[3] else (otherwise, then)
            holds = cond if then[3] else sp.Not(cond)
            self.env, self.optional = survivor[0], survivor[1]
            self.live, self.raised = True, False
            if ended[4]:  # the other branch raised: a guard, so what survives is a fact
                self.notes = []
                facts = self.knowledge.add(holds, f"guard at line {node.lineno}", node.lineno, path)
                self._finish(node, "fact", [("fact", f.relation) for f in facts], False)
            else:
                self.path = conjoin(path, holds)
        else:
            self.live, self.raised = False, then[4] and otherwise[4]

    def _loop(self, node: ast.stmt, target: Optional[ast.expr], element: Value) -> None:
        body, orelse = node.body, node.orelse  # type: ignore[attr-defined]  # For/AsyncFor/While all have both
        names = assigned_names([*body, *orelse] + ([target] if target is not None else []))
        before = {name: self.env.get(name) for name in names}
        facts, path, was_live = len(self.knowledge.facts), self.path, self.live
        for name in names:
            self.env[name] = Unknown("changes from one iteration to the next", node)
        if target is not None:
            self._bind(target, element, [])
        self.run(body)
        self.live, self.raised, self.path = was_live, False, path
        self.run(orelse)
        self.knowledge.forget_since(facts)  # what held inside an iteration need not hold after the loop
        for name in names:
            now = self.env.get(name)
            self.env[name] = (
                now
                if now is not None and now == before[name]
                else Unknown("changes from one iteration to the next", node)
            )

    def _stmt_For(self, node: Union[ast.For, ast.AsyncFor]) -> None:
        iterable = self.eval(node.iter)
        if isinstance(iterable, Tensor) and iterable.shape:
            element: Value = Tensor(iterable.shape[1:])
        elif isinstance(iterable, Tup) and iterable.items and all(v == iterable.items[0] for v in iterable.items):
            element = iterable.items[0]
        else:
            element = Unknown("a loop variable", node.target)
        self._loop(node, node.target, element)

    def _stmt_While(self, node: ast.While) -> None:
        self._loop(node, None, NONE)

    def _stmt_With(self, node: Union[ast.With, ast.AsyncWith]) -> None:
        for item in node.items:
            self.eval(item.context_expr)
            if item.optional_vars is not None:
                self._bind(item.optional_vars, Unknown("bound by `with`", item.optional_vars), [])
        self.run(node.body)

    def _join_all(self, node: ast.stmt, path: Path, outcomes: list[_State]) -> None:
        """Alternatives with no condition to tell them apart (try/except, match): keep what they agree on."""
        live = [o for o in outcomes if o[3]]
        self.path = path
        if not live:
            self.live, self.raised = False, all(o[4] for o in outcomes)
            return
        names = set().union(*(o[0].keys() for o in live))
        self.env = {
            n: live[0][0][n]
            if all(n in o[0] and o[0][n] == live[0][0][n] for o in live)
            else Unknown("differs between alternatives", node)
            for n in names
        }
        self.optional = set().union(*(o[1] for o in live))
        self.live, self.raised = True, False

    def _stmt_Try(self, node: ast.Try) -> None:
        before = self._state()
        self.run(node.body)
        self.run(node.orelse)
        outcomes = [self._state()]
        interrupted = assigned_names(node.body)
        for handler in node.handlers:
            self._restore(before)
            for name in interrupted | ({handler.name} if handler.name else set()):
                self.env[name] = Unknown("depends on where the exception was raised", handler)
            self.run(handler.body)
            outcomes.append(self._state())
        self._join_all(node, before[2], outcomes)
        if self.live:
            self.run(node.finalbody)

    def _stmt_Match(self, node: ast.Match) -> None:
        self.eval(node.subject)
        before = self._state()
        outcomes = [before]  # no case may match
        for case in node.cases:
            self._restore(before)
            for name in assigned_names([case.pattern]):
                self.env[name] = Unknown("bound by a match pattern", case.pattern)
            self.run(case.body)
            outcomes.append(self._state())
        self._join_all(node, before[2], outcomes)

    def _stmt_FunctionDef(self, node: FunctionNode) -> None:
        self.env[node.name] = Callable_(node, dict(self.env), is_kernel(node))

    def _stmt_ClassDef(self, node: ast.ClassDef) -> None:
        self.env[node.name] = Unknown("a class", node)

    def _stmt_Import(self, node: Union[ast.Import, ast.ImportFrom]) -> None:
        self.env.update((name, Ref(qualname)) for name, qualname in import_bindings(node))

    def _stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.env.pop(target.id, None)

    def _stmt_Pass(self, node: ast.stmt) -> None:
        """Nothing to do (also `global`, `nonlocal`)."""

    def _stmt_Break(self, node: ast.stmt) -> None:
        self.live, self.raised = False, False  # the loop restores liveness after its body

    # --- expressions ---------------------------------------------------------------------------

    def eval(self, node: ast.expr) -> Value:
        handler = _EXPRESSIONS.get(type(node))
        return handler(self, node) if handler is not None else Unknown(f"{type(node).__name__} is not modelled", node)

    def _e_Constant(self, node: ast.Constant) -> Value:
        v = node.value
        if v is None:
            return NONE
        if isinstance(v, bool):
            return sp.true if v else sp.false
        if isinstance(v, int):
            return sp.Integer(v)
        if isinstance(v, float):
            return sp.Float(v) if math.isfinite(v) else Unknown("not a finite number", node)
        return Const(v)

    def _e_Name(self, node: ast.Name) -> Value:
        value = self.env.get(node.id)
        return value if value is not None else self.shared.global_value(node.id, node)

    def _e_Attribute(self, node: ast.Attribute) -> Value:
        base = self.eval(node.value)
        if isinstance(base, Tensor):
            return tensorops.attribute(self._site(node), base, node.attr)
        if isinstance(base, Ref):
            return Ref(f"{base.qualname}.{node.attr}")
        return base if isinstance(base, Unknown) else Unknown(f"attribute .{node.attr} is not modelled", node)

    def _e_Subscript(self, node: ast.Subscript) -> Value:
        base, key = self.eval(node.value), self.eval(node.slice)
        if isinstance(base, Unknown):
            return base
        if isinstance(base, Tensor):
            return tensorops.index(self._site(node), base, key)
        if isinstance(base, Tup):
            return self._index_tuple(base, key, node)
        if (
            isinstance(base, Meta)
            and isinstance(key, Const)
            and isinstance(key.value, str)
            and key.value.isidentifier()
        ):
            given = base.given.get(key.value)
            return given if given is not None else dim(key.value)
        return first_unknown((key,)) or Unknown("subscript not modelled", node)

    @staticmethod
    def _index_tuple(t: Tup, key: Value, node: ast.AST) -> Value:
        if isinstance(key, sp.Integer):
            i = int(key)
            return t.items[i] if -len(t.items) <= i < len(t.items) else Unknown("tuple index out of range", node)
        parts = (key.lower, key.upper, key.step) if isinstance(key, Slice) else ()
        bounds = [
            int(b) if isinstance(b, sp.Integer) else None for b in parts if b is NONE or isinstance(b, sp.Integer)
        ]
        if len(bounds) == 3 and bounds[2] != 0:
            lower, upper, step = bounds
            return Tup(t.items[lower:upper:step])
        return first_unknown((key,)) or Unknown("tuple index is not a constant", node)

    def _e_Slice(self, node: ast.Slice) -> Value:
        parts = (node.lower, node.upper, node.step)
        return Slice(*(self.eval(p) if p is not None else NONE for p in parts))

    def _spliced(self, elements: list[ast.expr], what: str) -> Union[list[Value], Unknown]:
        """Evaluate elements, splicing `*x` where x is a known tuple (tuple displays and call arguments)."""
        items: list[Value] = []
        for elt in elements:
            if isinstance(elt, ast.Starred):
                spliced = self.eval(elt.value)
                if not isinstance(spliced, Tup):
                    return spliced if isinstance(spliced, Unknown) else Unknown(f"cannot splice this {what}", elt)
                items.extend(spliced.items)
            else:
                items.append(self.eval(elt))
        return items

    def _e_Tuple(self, node: Union[ast.Tuple, ast.List]) -> Value:
        items = self._spliced(node.elts, "value")
        return items if isinstance(items, Unknown) else Tup(tuple(items))

    def _e_BinOp(self, node: ast.BinOp) -> Value:
        return operators.binary(self._site(node), node.op, self.eval(node.left), self.eval(node.right))

    def _e_UnaryOp(self, node: ast.UnaryOp) -> Value:
        return operators.unary(self._site(node), node.op, self.eval(node.operand))

    def _e_BoolOp(self, node: ast.BoolOp) -> Value:
        """`a and b` / `a or b`: a condition when every operand is one, else Python's value selection."""
        values = [self.eval(v) for v in node.values]
        if all(is_bool(v) for v in values):
            return sp.And(*values) if isinstance(node.op, ast.And) else sp.Or(*values)
        stop = sp.false if isinstance(node.op, ast.And) else sp.true  # the truth value that short-circuits
        for value in values[:-1]:
            truth = operators.truthiness(value)
            if truth == stop:
                return value
            if truth != sp.Not(stop):
                return first_unknown((value,)) or Unknown("truth value of an operand not known", node)
        return values[-1]

    def _is_none(self, node: ast.expr) -> sp.Basic:
        value = self.eval(node)
        if value is NONE:
            return sp.true
        if isinstance(value, Tensor):
            maybe = value.maybe_none
        elif isinstance(value, sp.Basic):
            maybe = isinstance(node, ast.Name) and node.id in self.optional
        else:
            maybe = not isinstance(value, (Tup, Const, Ref, Callable_))
        return condition(f"{ast.unparse(node)} is None") if maybe else sp.false

    def _e_Compare(self, node: ast.Compare) -> Value:
        nodes = [node.left, *node.comparators]
        cache: dict[int, Value] = {}

        def value(i: int) -> Value:
            if i not in cache:
                cache[i] = self.eval(nodes[i])
            return cache[i]

        parts: list[sp.Basic] = []
        for i, op in enumerate(node.ops):
            if isinstance(op, (ast.Is, ast.IsNot)) and any(
                isinstance(n, ast.Constant) and n.value is None for n in nodes[i : i + 2]
            ):
                left = nodes[i]
                other = nodes[i + 1] if isinstance(left, ast.Constant) and left.value is None else left
                part: Optional[sp.Basic] = self._is_none(other)
                part = sp.Not(part) if isinstance(op, ast.IsNot) else part
            else:
                a, b = value(i), value(i + 1)
                found = first_unknown((a, b))
                if found is not None:
                    return found
                if isinstance(a, Tensor) or isinstance(b, Tensor):
                    return tensorops.elementwise(self._site(node), [a, b])
                part = operators.compare_one(op, a, b)
            if part is None:
                return Unknown("comparison not modelled", node)
            parts.append(part)
        return sp.And(*parts)

    def _e_IfExp(self, node: ast.IfExp) -> Value:
        cond = self.condition(node.test)
        decided = self.decide(cond)
        if decided is not None:
            return self.eval(node.body if decided else node.orelse)
        path = self.path
        self.path = conjoin(path, cond)
        then = self.eval(node.body)
        self.path = conjoin(path, sp.Not(cond))
        otherwise = self.eval(node.orelse)
        self.path = path
        return merge(cond, then, otherwise, node)

    def _e_Lambda(self, node: ast.Lambda) -> Value:
        return Callable_(node, dict(self.env))

    def _e_NamedExpr(self, node: ast.NamedExpr) -> Value:
        value = self.eval(node.value)
        self._assign_name(node.target, value, [])
        return value

    def _args(self, node: ast.Call) -> Union[tuple[tuple[Value, ...], dict[str, Value]], Unknown]:
        args = self._spliced(node.args, "argument")
        if isinstance(args, Unknown):
            return args
        return tuple(args), {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg is not None}

    def _e_Call(self, node: ast.Call) -> Value:
        if any(kw.arg is None for kw in node.keywords):
            return Unknown("a call with **kwargs", node)
        func = node.func
        if isinstance(func, ast.Subscript):
            return self._launch(node, func)
        site = self._site(node)
        if isinstance(func, ast.Attribute):
            receiver = self.eval(func.value)
            if isinstance(receiver, Unknown) and func.attr in tensorops.SHAPE_FREE:
                receiver = Tensor(None, why=receiver.why)  # `x.new_empty(...)`: x's own shape does not matter
            if isinstance(receiver, Tensor):
                bound = self._args(node)
                if isinstance(bound, Unknown):
                    return bound
                result = tensorops.method(site, receiver, func.attr, *bound)
                if func.attr in tensorops.RESHAPING_IN_PLACE and isinstance(func.value, ast.Name):
                    self.env[func.value.id] = result
                return result
            if not isinstance(receiver, Ref):
                return (
                    receiver
                    if isinstance(receiver, Unknown)
                    else Unknown(f"method .{func.attr}() is not modelled", node)
                )
            target: Value = Ref(f"{receiver.qualname}.{func.attr}")
        else:
            target = self.eval(func)
        if isinstance(target, Unknown):
            return target
        bound = self._args(node)
        if isinstance(bound, Unknown):
            return bound
        if isinstance(target, Ref):
            return library.call(site, target.qualname, *bound)
        if isinstance(target, Callable_):
            return self._invoke(target, *bound, node)
        return Unknown("this value is not callable", node)

    # --- launches and calls --------------------------------------------------------------------

    def _launch(self, node: ast.Call, func: ast.Subscript) -> Value:
        """`kernel[grid](...)`; a subscripted call that is neither a kernel nor takes a grid is unknown."""
        kernel, grid = self.eval(func.value), self.eval(func.slice)
        takes_grid = isinstance(grid, Callable_) or (isinstance(grid, Tup) and 1 <= len(grid.items) <= 3)
        if not ((isinstance(kernel, Callable_) and kernel.kernel) or takes_grid):
            return first_unknown((kernel, grid)) or Unknown("a call of a subscripted value", node)
        bound = self._args(node)
        given = bound[1] if not isinstance(bound, Unknown) else {}
        if isinstance(grid, Callable_):
            grid = self._invoke(grid, (Meta(given),), {}, node)
        axes: Union[tuple[Value, ...], Unknown]
        if isinstance(grid, Tup) and 1 <= len(grid.items) <= 3:
            axes = grid.items
        else:
            axes = grid if isinstance(grid, Unknown) else Unknown("the grid is not a tuple of 1 to 3 sizes", func.slice)
        launch = Launch(node, ast.unparse(func.value), axes, self.path, self.function)
        self.launches.append(launch)
        self._launched.append(launch)
        return Unknown("the value of a kernel launch", node)

    def _parameters(
        self,
        arguments: ast.arguments,
        args: tuple[Value, ...],
        kwargs: Mapping[str, Value],
        node: ast.AST,
        home: Optional[Shared] = None,
    ) -> Union[dict[str, Value], Unknown]:
        positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
        keyword_only = [a.arg for a in arguments.kwonlyargs]
        bound: dict[str, Value] = dict(zip(positional, args))
        extra = args[len(positional) :]
        if extra and arguments.vararg is None:
            return Unknown("too many positional arguments", node)
        if arguments.vararg is not None:
            bound[arguments.vararg.arg] = Tup(tuple(extra))
        for key, value in kwargs.items():
            if key in bound or key not in (*positional, *keyword_only):
                if arguments.kwarg is None:
                    return Unknown(f"unexpected argument {key}", node)
                continue
            bound[key] = value
        if arguments.kwarg is not None:
            bound[arguments.kwarg.arg] = Unknown("**kwargs", node)
        defaults = dict(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults))
        defaults.update({a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None})
        for name in (*positional, *keyword_only):
            if name not in bound:
                if name not in defaults:
                    return Unknown(f"missing argument {name}", node)
                bound[name] = (home or self.shared).default(defaults[name])
        return bound

    def _invoke(self, fn: Callable_, args: tuple[Value, ...], kwargs: Mapping[str, Value], node: ast.AST) -> Value:
        if fn.kernel:
            return Unknown("a Triton kernel called without a grid", node)
        if self.depth >= MAX_CALL_DEPTH or fn.node in self.stack:
            return Unknown("call too deep or recursive to follow", node)
        if isinstance(fn.node, ast.Lambda):
            bound = self._parameters(fn.node.args, args, kwargs, node)
            if isinstance(bound, Unknown):
                return bound
            child = Interpreter(self.shared, "<lambda>", depth=self.depth + 1, stack=self.stack, record=False)
            child.env = {**fn.closure, **bound}
            return child.eval(fn.node.body)
        home = fn.home or self.shared  # summarised once per argument values, in the module defining it
        key = (fn, self.depth, args, tuple(sorted(kwargs.items(), key=lambda kv: kv[0])))
        if key not in home.calls:
            home.calls[key] = self._analyse_call(fn, args, kwargs, node, home)
        output, launches, issues = home.calls[key]
        launches = tuple(dataclasses.replace(launch, path=self.path) for launch in launches)
        self.launches.extend(launches)
        self._launched.extend(launches)
        self.issues.extend(issues)
        return output

    def _analyse_call(
        self, fn: Callable_, args: tuple[Value, ...], kwargs: Mapping[str, Value], node: ast.AST, home: Shared
    ) -> tuple[Value, tuple[Launch, ...], tuple[Issue, ...]]:
        callee: FunctionNode = fn.node  # type: ignore[assignment]  # only same-module functions are analysed
        bound = self._parameters(callee.args, args, kwargs, node, home)
        if isinstance(bound, Unknown):
            return bound, (), ()
        where = callee.name if home is self.shared else f"{callee.name} in {home.module.path}"
        child = Interpreter(home, where, depth=self.depth + 1, stack=(*self.stack, callee), record=False)
        child.env = {**fn.closure, **bound}
        child.run(callee.body)
        expand = child.knowledge.expand
        launches = tuple(
            dataclasses.replace(
                launch,
                grid=launch.grid
                if isinstance(launch.grid, Unknown)
                else tuple(map_exprs(a, expand) for a in launch.grid),
            )
            for launch in child.launches
        )
        return map_exprs(child.output(), expand), launches, tuple(child.issues)

    def output(self) -> Value:
        """The returned value: a case split over the return statements, or an unknown."""
        returns = list(self.returns)
        if self.live:
            returns.append(Return(None, NONE, self.path))  # falling off the end returns None
        if not returns:
            return Unknown("the function never returns normally")
        value = returns[-1].value
        for r in reversed(returns[:-1]):
            value = merge(condition_of(r.path), r.value, value, r.node)
        return value


# Handlers take their own node subclass, hence Any for the node.
_STATEMENTS: dict[type[ast.stmt], Callable[[Interpreter, Any], None]] = {
    ast.Assign: Interpreter._stmt_Assign,
    ast.AnnAssign: Interpreter._stmt_AnnAssign,
    ast.AugAssign: Interpreter._stmt_AugAssign,
    ast.Expr: Interpreter._stmt_Expr,
    ast.Return: Interpreter._stmt_Return,
    ast.Raise: Interpreter._stmt_Raise,
    ast.Assert: Interpreter._stmt_Assert,
    ast.If: Interpreter._stmt_If,
    ast.For: Interpreter._stmt_For,
    ast.AsyncFor: Interpreter._stmt_For,
    ast.While: Interpreter._stmt_While,
    ast.With: Interpreter._stmt_With,
    ast.AsyncWith: Interpreter._stmt_With,
    ast.Try: Interpreter._stmt_Try,
    ast.Match: Interpreter._stmt_Match,
    ast.FunctionDef: Interpreter._stmt_FunctionDef,
    ast.AsyncFunctionDef: Interpreter._stmt_FunctionDef,
    ast.ClassDef: Interpreter._stmt_ClassDef,
    ast.Import: Interpreter._stmt_Import,
    ast.ImportFrom: Interpreter._stmt_Import,
    ast.Delete: Interpreter._stmt_Delete,
    ast.Pass: Interpreter._stmt_Pass,
    ast.Global: Interpreter._stmt_Pass,
    ast.Nonlocal: Interpreter._stmt_Pass,
    ast.Break: Interpreter._stmt_Break,
    ast.Continue: Interpreter._stmt_Break,
}
if hasattr(ast, "TryStar"):
    _STATEMENTS[ast.TryStar] = Interpreter._stmt_Try

_EXPRESSIONS: dict[type[ast.expr], Callable[[Interpreter, Any], Value]] = {
    ast.Constant: Interpreter._e_Constant,
    ast.Name: Interpreter._e_Name,
    ast.Attribute: Interpreter._e_Attribute,
    ast.Subscript: Interpreter._e_Subscript,
    ast.Slice: Interpreter._e_Slice,
    ast.Tuple: Interpreter._e_Tuple,
    ast.List: Interpreter._e_Tuple,
    ast.BinOp: Interpreter._e_BinOp,
    ast.UnaryOp: Interpreter._e_UnaryOp,
    ast.BoolOp: Interpreter._e_BoolOp,
    ast.Compare: Interpreter._e_Compare,
    ast.IfExp: Interpreter._e_IfExp,
    ast.Lambda: Interpreter._e_Lambda,
    ast.NamedExpr: Interpreter._e_NamedExpr,
    ast.Call: Interpreter._e_Call,
}
