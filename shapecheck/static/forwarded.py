"""Shapes stated by the functions a wrapper forwards its tensors to: `--emit-contract`'s third source.

Liger-Kernel's public wrappers annotate nothing and document nothing: `liger_rms_norm(X, W, eps)` is
`LigerRMSNormFunction.apply(X, W, eps)`, whose `forward(ctx, X, W, eps)` hands X to `rms_norm_forward`, and
only there does the code say what X is. So a call whose arguments are the wrapper's own parameters is
followed (a plain function, or an autograd Function's `forward` through `.apply`, in this module or one it
imports; three calls deep), and the callee's statements about the matching parameter are read:

- its docstring's `Args` (`shapecheck.static.docstrings`: fla's `fused_recurrent_retention` forwards to
  `fused_recurrent_simple_gla`, which documents every shape);
- its unpack lines (`BT, V = _input.shape`, `shapecheck.static.unpacks`);
- the flattening idiom of row-wise kernels: `shape = X.shape; dim = shape[-1]; X = X.view(-1, dim)`, or
  `*batch, n_cols = x.shape`. Any leading axes work, so the draft states the 2-D view the kernel sees,
  named by the callee's own unpack of it (`n_rows, n_cols = X.shape`), and says so in its note.

Nothing is imported: files are read (`shapecheck.static.imports`).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

from shapecheck.static import docstrings
from shapecheck.static.imports import definition
from shapecheck.static.signature import Declared, defaults_none, parameters
from shapecheck.static.source import FunctionNode, ModuleSource
from shapecheck.static.unpacks import Inferred, shapes_from_code

DEPTH = 3  # wrapper -> Function.forward -> helper: Liger's chain


def _callee(module: ModuleSource, call: ast.Call) -> Optional[tuple[ModuleSource, FunctionNode, int]]:
    """(its module, the function a call runs, how many leading parameters the call does not fill: `ctx`)."""
    func, skip = call.func, 0
    if isinstance(func, ast.Attribute) and func.attr == "apply" and isinstance(func.value, ast.Name):
        name, skip = func.value.id, 1
    elif isinstance(func, ast.Name):
        name = func.id
    else:
        return None
    found = definition(module, name)
    if found is None:
        return None
    owner, attr = found
    if attr in owner.classes:
        body = owner.classes[attr].body
        forward = next((s for s in body if isinstance(s, ast.FunctionDef) and s.name == "forward"), None)
        return (owner, forward, 1) if forward is not None and skip else None
    return (owner, owner.functions[attr], 0) if not skip and attr in owner.functions else None


def _shape_owner(node: ast.expr, aliases: dict[str, str]) -> Optional[str]:
    """The parameter whose shape `node` is: `P.shape` or an alias of it."""
    if isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.value, ast.Name):
        return node.value.id
    return aliases.get(node.id) if isinstance(node, ast.Name) else None


def _last_axis_of(node: ast.expr, aliases: dict[str, str], last: dict[str, str]) -> Optional[str]:
    """The parameter whose last axis `node` is: `shape[-1]`, `P.shape[-1]`, or a name bound to one."""
    if isinstance(node, ast.Name):
        return last.get(node.id)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.UnaryOp)
        and isinstance(node.slice.op, ast.USub)
        and isinstance(node.slice.operand, ast.Constant)
        and node.slice.operand.value == 1
    ):
        return _shape_owner(node.value, aliases)
    return None


def flattened(fn: FunctionNode, params: list[str]) -> dict[str, Inferred]:
    """Parameters `fn` flattens to rows of its last axis, as the 2-D view it works on."""
    aliases: dict[str, str] = {}  # name bound to P.shape -> P
    last: dict[str, str] = {}  # name bound to P's last axis -> P
    flat: dict[str, tuple[str, int]] = {}  # flattened parameter -> (the parameter whose last axis it keeps, line)
    names: dict[str, list[Optional[str]]] = {}  # flattened parameter -> [rows, cols] as the code names them
    for stmt in sorted((s for s in ast.walk(fn) if isinstance(s, ast.Assign)), key=lambda s: s.lineno):
        if len(stmt.targets) != 1:
            continue
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, ast.Name):
            owner = _shape_owner(value, aliases) if isinstance(value, ast.Attribute) else None
            if owner in params:
                aliases[target.id] = owner
            kept = _last_axis_of(value, aliases, last)
            if kept in params:
                last[target.id] = kept
            if (
                target.id in params
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in ("view", "reshape")
                and len(value.args) == 2
                and isinstance(value.args[0], ast.UnaryOp)
                and (kept_axis := _last_axis_of(value.args[1], aliases, last)) is not None
            ):
                flat[target.id] = (kept_axis, stmt.lineno)
                cols = value.args[1].id if isinstance(value.args[1], ast.Name) else None
                names[target.id] = [None, cols]
        elif isinstance(target, ast.Tuple):
            elts = target.elts
            owner = _shape_owner(value, aliases)
            if owner in params and owner not in flat and elts and isinstance(elts[0], ast.Starred):
                if len(elts) == 2 and isinstance(elts[1], ast.Name):  # `*batch, n_cols = x.shape`
                    flat[owner], names[owner] = (owner, stmt.lineno), [None, elts[1].id]
            elif owner in flat and len(elts) == 2 and all(isinstance(e, ast.Name) for e in elts):
                names[owner] = [e.id for e in elts]  # type: ignore[attr-defined]  # `n_rows, n_cols = X.shape` after the view
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Subscript)
            and isinstance(value.slice, ast.Constant)
            and value.slice.value == 0
            and isinstance(value.value, ast.Attribute)
            and value.value.attr == "shape"
            and isinstance(value.value.value, ast.Name)
            and value.value.value.id in flat
        ):
            names[value.value.value.id][0] = target.id  # `n_rows = a.shape[0]`
    found: dict[str, Inferred] = {}
    for param, (kept, line) in flat.items():
        group = [p for p, (k, _) in flat.items() if k == kept]
        rows = next((r for p in group if (r := names[p][0])), "N")
        cols = next((c for p in group if (c := names[p][1])), "D")
        note = f"flattened to rows of its last axis at line {line} (any leading axes work; drafted as that 2-D view)"
        found[param] = Inferred(Declared(((rows, cols),)), note)
    return found


def forwarded(module: ModuleSource, fn: FunctionNode, params: list[str], depth: int = DEPTH) -> dict[str, Inferred]:
    """Shapes of `params` (of `fn`) that the functions `fn` passes them to state, nearest call first."""
    found: dict[str, Inferred] = {}
    optional = defaults_none(fn)
    calls = sorted((c for c in ast.walk(fn) if isinstance(c, ast.Call)), key=lambda c: (c.lineno, c.col_offset))
    for call in calls:
        target = _callee(module, call)
        if target is None:
            continue
        owner, callee, skip = target
        every = [a.arg for a in parameters(callee)]
        names = every[skip:]
        passed: dict[str, str] = {}  # callee parameter -> our parameter
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                break
            if isinstance(arg, ast.Name) and arg.id in params and i < len(names):
                passed[names[i]] = arg.id
        for kw in call.keywords:
            if kw.arg in names and isinstance(kw.value, ast.Name) and kw.value.id in params:
                passed[kw.arg] = kw.value.id
        if not passed:
            continue
        where = f"in {callee.name} ({Path(owner.path).name})"
        own = {
            n: Inferred(Declared((d.axes,)), "from its docstring")
            for n, d in docstrings.arguments(ast.get_docstring(callee)).items()
            if n in passed
        }
        own.update(flattened(callee, list(passed)))
        own.update({n: i for n, i in shapes_from_code(callee, every, defaults_none(callee)).items() if n in passed})
        read = {n: Inferred(i.declared, f"{i.note}, {where}") for n, i in own.items()}
        deeper = forwarded(owner, callee, list(passed), depth - 1) if depth > 1 else {}
        for name, inferred in {**deeper, **read}.items():
            ours = passed[name]
            found.setdefault(ours, Inferred(Declared(inferred.declared.patterns, ours in optional), inferred.note))
    return found
