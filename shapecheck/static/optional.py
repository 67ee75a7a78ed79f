"""SC008: an Optional argument dereferenced on a path where it is None.

vLLM's copy of the fused gating kernel declares `cu_seqlens: Optional[torch.Tensor] = None` and calls
`cu_seqlens.is_contiguous()` unconditionally: every call that leaves it out raises `AttributeError`. The
check runs the wrapper once, the way a caller that leaves the Optional arguments out runs it: each
Optional argument (annotated `Optional[...]`/`... | None`, or defaulting to None) is None, every other
defaulted argument holds its default literal (flags are False, counts their number), required
arguments are unknown but not None. Conditions that these values decide (`x is None`, `not flag`,
`x if c else None`, `a and a.b`) take one branch; an early `return`/`raise` or a failing `assert` ends
the path (that is a guard). A condition the defaults do not decide (`if T > 1:`, a required flag) is a
branch the caller picks: what happens inside it is not reported, since wrappers commonly couple an
Optional tensor to a flag the caller must pass with it (`if cache_ring: rawv.dim()`); the rest of the body
after it is. A loop body is such a branch too (it may run no time). A contract rule `x is not None` makes `x`
non-None from the start.

A dereference is an attribute or method (`x.shape`, `x.stride(0)`), `len(x)`, indexing, arithmetic,
ordering comparison, unpacking or iteration of a name that is None on the path.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterable, Iterator, Optional, Sequence

from shapecheck.static.source import FunctionNode


class _Unknown:
    """A value the defaults do not decide (`_UNKNOWN`), or one known not to be None (`_SOME`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_UNKNOWN = _Unknown("unknown")
_SOME = _Unknown("not None")  # a value known not to be None, otherwise unknown
_COPYLESS = frozenset({"__class__"})
_OPERANDS: dict[type, tuple[tuple[str, ...], str]] = {  # node type: (operand fields that must not be None, how)
    ast.BinOp: (("left", "right"), "arithmetic"),
    ast.Subscript: (("value",), "indexing"),
    ast.Starred: (("value",), "unpacking"),
}


@dataclasses.dataclass(frozen=True)
class Dereference:
    """`name` dereferenced at `node` while None."""

    node: ast.expr
    name: str
    how: str

    def message(self) -> str:
        return (
            f"`{self.name}` may be None here ({self.how} on it): a call that leaves `{self.name}` out reaches "
            f"this line unguarded; check `{self.name} is not None` first"
        )


def _admits_none(annotation: Optional[ast.expr]) -> bool:
    """`Optional[X]`, `Union[X, None]`, `X | None`, `None` (also as a string annotation), at the top level."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return False
    if isinstance(annotation, ast.Constant):
        return annotation.value is None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _admits_none(annotation.left) or _admits_none(annotation.right)
    if isinstance(annotation, ast.Subscript):
        head = (
            annotation.value.attr
            if isinstance(annotation.value, ast.Attribute)
            else annotation.value.id
            if isinstance(annotation.value, ast.Name)
            else ""
        )
        if head == "Optional":
            return True
        if head == "Union":
            members = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
            return any(_admits_none(m) for m in members)
    return False


def optional_parameters(fn: FunctionNode) -> list[str]:
    """Parameters that may be None: annotated Optional/`| None`, or defaulting to None."""
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr] = dict(
        zip([a.arg for a in positional[len(positional) - len(args.defaults) :]], args.defaults)
    )
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    found = []
    for arg in (*positional, *args.kwonlyargs):
        default = defaults.get(arg.arg)
        if _admits_none(arg.annotation) or (isinstance(default, ast.Constant) and default.value is None):
            found.append(arg.arg)
    return found


def _initial(fn: FunctionNode, non_none: Iterable[str]) -> dict[str, object]:
    """The environment of a call that leaves the Optional arguments out."""
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    env: dict[str, object] = {a.arg: _SOME for a in (*positional, *args.kwonlyargs)}
    pairs = [
        *zip(positional[len(positional) - len(args.defaults) :], args.defaults),
        *((a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None),
    ]
    for arg, default in pairs:
        env[arg.arg] = default.value if isinstance(default, ast.Constant) else _UNKNOWN
    defaulted = {arg.arg for arg, _ in pairs}
    for name in optional_parameters(fn):  # `x: Optional[int] = 0` holds 0 in a call that leaves it out
        if name not in defaulted or env[name] is None:
            env[name] = None
    for star in (args.vararg, args.kwarg):
        if star is not None:
            env[star.arg] = _SOME
    env.update({name: _SOME for name in non_none if name in env})
    return env


def _truth(value: object) -> Optional[bool]:
    """Python truthiness when the value decides it, else None."""
    if isinstance(value, _Unknown):
        return None
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - a literal whose truthiness raises decides nothing
        return None


def _is_none_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _same(a: object, b: object) -> bool:
    return a is b or (type(a) is type(b) and not isinstance(a, _Unknown) and a == b)


def _join(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    return {name: a[name] if name in a and name in b and _same(a[name], b[name]) else _UNKNOWN for name in {*a, *b}}


class _Path:
    """One run of a body under the defaults; `report` is off inside branches the caller picks."""

    def __init__(self, env: dict[str, object], tracked: set[str]) -> None:
        self.env = env
        self.tracked = tracked  # the Optional parameters' names: findings are about them
        self.report = True
        self.found: list[Dereference] = []

    # --- expressions -------------------------------------------------------------------------------

    def _deref(self, node: ast.expr, how: str) -> None:
        if isinstance(node, ast.Name) and node.id in self.tracked and self.env.get(node.id, 0) is None:
            if self.report:
                self.found.append(Dereference(node, node.id, how))
            self.env[node.id] = _SOME  # past this line the path has it non-None (or has raised): one finding

    def expr(self, node: Optional[ast.expr]) -> object:
        if node is None:
            return _UNKNOWN
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.env.get(node.id, _UNKNOWN)
        if isinstance(node, ast.Attribute):
            self.expr(node.value)
            if node.attr not in _COPYLESS:
                self._deref(node.value, f"`.{node.attr}`")
            return _UNKNOWN
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.IfExp):
            test = _truth(self.expr(node.test))
            if test is not None:
                return self.expr(node.body if test else node.orelse)
            saved, self.report = self.report, False
            body, orelse = self.expr(node.body), self.expr(node.orelse)
            self.report = saved
            return body if _same(body, orelse) else _UNKNOWN
        if isinstance(node, ast.UnaryOp):
            value = self.expr(node.operand)
            if isinstance(node.op, ast.Not):
                truth = _truth(value)
                return _UNKNOWN if truth is None else not truth
            self._deref(node.operand, "arithmetic")
            return _UNKNOWN
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if type(node) in _OPERANDS:  # `x * s`, `x[i]`, `*x`: evaluate, then the operands must not be None
            fields, how = _OPERANDS[type(node)]
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
            for field in fields:
                self._deref(getattr(node, field), how)
            return _UNKNOWN
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return _SOME  # their bodies run later or under their own names: not this path
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
        return _SOME if isinstance(node, (ast.Tuple, ast.List, ast.Dict, ast.Set, ast.JoinedStr)) else _UNKNOWN

    def _boolop(self, node: ast.BoolOp) -> object:
        is_and = isinstance(node.op, ast.And)
        result: object = _UNKNOWN
        saved = self.report
        for value_node in node.values:
            result = self.expr(value_node)
            truth = _truth(result)
            if truth is None:
                self.report = False  # what follows runs only when this operand says so: the caller's pick
            elif truth != is_and:  # `False and ...` / `True or ...`: the rest does not run
                break
        self.report = saved
        return result

    def _compare(self, node: ast.Compare) -> object:
        """`x is None` / `x is not None` / `flag == 1` when the path decides them; ordering dereferences."""
        outcomes: list[object] = []
        left_node, left = node.left, self.expr(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            outcome: object = _UNKNOWN
            if isinstance(op, (ast.Is, ast.IsNot)):
                other = left if _is_none_literal(right_node) else right if _is_none_literal(left_node) else _UNKNOWN
                if not isinstance(other, _Unknown) or other is _SOME:
                    outcome = (other is None) == isinstance(op, ast.Is)
            elif isinstance(op, (ast.Eq, ast.NotEq)):
                if not isinstance(left, _Unknown) and not isinstance(right, _Unknown):
                    outcome = (left == right) == isinstance(op, ast.Eq)
            elif isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                self._deref(left_node, "comparison")
                self._deref(right_node, "comparison")
            elif isinstance(op, (ast.In, ast.NotIn)):
                self._deref(right_node, "`in`")
            outcomes.append(outcome)
            left_node, left = right_node, right
        if any(o is False for o in outcomes):
            return False
        return True if all(o is True for o in outcomes) else _UNKNOWN

    def _call(self, node: ast.Call) -> object:
        if isinstance(node.func, ast.Name) and node.func.id == "isinstance" and len(node.args) == 2:
            value = self.expr(node.args[0])
            self.expr(node.args[1])  # `isinstance(None, T)` is False for every T but NoneType
            return False if value is None and "None" not in ast.unparse(node.args[1]) else _UNKNOWN
        if isinstance(node.func, ast.Name) and node.func.id in (
            "len",
            "iter",
            "next",
            "sum",
            "sorted",
            "list",
            "tuple",
        ):
            for arg in node.args[:1]:
                self.expr(arg)
                self._deref(arg, f"`{node.func.id}()`")
            for arg in node.args[1:]:
                self.expr(arg)
        else:
            self.expr(node.func)
            for arg in node.args:
                self.expr(arg)
        for keyword in node.keywords:
            self.expr(keyword.value)
        return _UNKNOWN

    # --- statements --------------------------------------------------------------------------------

    def _assign(self, target: ast.expr, value: object) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assign(element.value if isinstance(element, ast.Starred) else element, _UNKNOWN)
        else:
            self.expr(target)  # `x.attr = v`, `x[i] = v` dereference x

    def _branch(self, body: Sequence[ast.stmt], report: bool) -> Optional[dict[str, object]]:
        """Run `body` on a copy of the path; the environment it falls through with, None if it ends."""
        saved_env, saved_report = self.env, self.report
        self.env, self.report = dict(saved_env), saved_report and report
        ended = not self.run(body)
        out = None if ended else self.env
        self.env, self.report = saved_env, saved_report
        return out

    def _fork(self, bodies: Sequence[Sequence[ast.stmt]]) -> bool:
        """Branches the caller picks: each runs without reporting; the path goes on with their join."""
        outcomes = [o for o in (self._branch(b, report=False) for b in bodies) if o is not None]
        if not outcomes:
            return False
        joined = outcomes[0]
        for other in outcomes[1:]:
            joined = _join(joined, other)
        self.env = joined
        return True

    def run(self, body: Sequence[ast.stmt]) -> bool:
        """Run statements; False when the path ends (return, raise, a failing assert)."""
        for stmt in body:
            if not self.statement(stmt):
                return False
        return True

    def statement(self, stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.Assign):
            value = self.expr(stmt.value)
            for target in stmt.targets:
                self._assign(target, value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._assign(stmt.target, self.expr(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            self.expr(stmt.value)
            if isinstance(stmt.target, ast.Name):
                self._deref(stmt.target, "arithmetic")
                self.env[stmt.target.id] = _UNKNOWN
            else:
                self.expr(stmt.target)
        elif isinstance(stmt, (ast.Return, ast.Raise)):
            self.expr(getattr(stmt, "value", None) or getattr(stmt, "exc", None))
            return False
        elif isinstance(stmt, ast.Assert):
            if _truth(self.expr(stmt.test)) is False:
                return False
        elif isinstance(stmt, ast.If):
            test = _truth(self.expr(stmt.test))
            if test is not None:
                return self.run(stmt.body if test else stmt.orelse)
            return self._fork([stmt.body, stmt.orelse])
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self.expr(stmt.iter)
            self._deref(stmt.iter, "iteration")
            return self._fork([[*stmt.body, *stmt.orelse], stmt.orelse])
        elif isinstance(stmt, ast.While):
            test = _truth(self.expr(stmt.test))
            return self.run(stmt.orelse) if test is False else self._fork([[*stmt.body, *stmt.orelse], stmt.orelse])
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, _UNKNOWN)
            return self.run(stmt.body)
        elif isinstance(stmt, ast.Try):
            if not self.run(stmt.body):
                return self._fork([h.body for h in stmt.handlers]) and self.run(stmt.finalbody)
            return self._fork([stmt.orelse, *(h.body for h in stmt.handlers)]) and self.run(stmt.finalbody)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.env[stmt.name] = _SOME
        elif isinstance(stmt, ast.Expr):
            self.expr(stmt.value)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    self.env[target.id] = _UNKNOWN
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.expr(child)
        return True


def none_dereferences(fn: FunctionNode, non_none: Iterable[str] = ()) -> Iterator[Dereference]:
    """SC008 findings of one (non-kernel) function; `non_none`: names a contract rule makes non-None."""
    tracked = set(optional_parameters(fn)) - set(non_none)
    if not tracked:
        return
    path = _Path(_initial(fn, non_none), tracked)
    path.run(fn.body)
    seen: set[int] = set()
    for found in path.found:
        if id(found.node) not in seen:
            seen.add(id(found.node))
            yield found
