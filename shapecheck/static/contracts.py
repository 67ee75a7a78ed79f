"""Contracts found statically: `@contract(C)` / `@shapecheck.contract(C)` on a wrapper, followed to the
`C = Contract(...)` that defines it (same module, or a module of the analysed tree it imports), parsed and
never imported. The contract's signature stub gives the declared shapes; its `Dim(...)`s meanings and
bounds; its `Rule(...)`s facts. Anything that is not a literal (or a module constant) is skipped, so a
contract built dynamically lends what can be read and nothing that cannot.
"""

from __future__ import annotations

import ast
from typing import Any, Optional

from shapecheck.static.imports import definition, resolve
from shapecheck.static.signature import DimInfo, Signature, from_source
from shapecheck.static.source import FunctionNode, ModuleSource, dotted

_FIELDS = ("name", "signature", "dims", "rules")  # Contract's leading positional fields, in order
_DIM_FIELDS = ("meaning", "lo", "hi", "gpu_hi")


def _literal(module: ModuleSource, node: ast.expr, depth: int = 0) -> Any:
    """A literal, a module constant, or an f-string of them; raises ValueError otherwise."""
    if isinstance(node, ast.Name) and node.id in module.constants and depth < 5:
        return _literal(module, module.constants[node.id], depth + 1)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(_literal(module, v.value if isinstance(v, ast.FormattedValue) else v, depth)) for v in node.values
        )
    if isinstance(node, ast.BinOp):
        left, right = _literal(module, node.left, depth), _literal(module, node.right, depth)
        ops = {
            ast.Add: lambda: left + right,
            ast.Mult: lambda: left * right,
            ast.Pow: lambda: left**right,
            ast.Sub: lambda: left - right,
        }
        if type(node.op) in ops:
            return ops[type(node.op)]()
    return ast.literal_eval(node)


def _arguments(call: ast.Call, fields: tuple[str, ...]) -> dict[str, ast.expr]:
    found = dict(zip(fields, call.args))
    found.update({k.arg: k.value for k in call.keywords if k.arg is not None})
    return found


def _dims(module: ModuleSource, node: Optional[ast.expr]) -> dict[str, DimInfo]:
    dims: dict[str, DimInfo] = {}
    if not isinstance(node, ast.Dict):
        return dims
    for key, value in zip(node.keys, node.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and isinstance(value, ast.Call)):
            continue
        try:
            given = {k: _literal(module, v) for k, v in _arguments(value, _DIM_FIELDS).items() if k in _DIM_FIELDS}
        except (ValueError, TypeError, SyntaxError):
            continue
        hi = given.get("gpu_hi") if given.get("gpu_hi") is not None else given.get("hi", 8)
        dims[key.value] = DimInfo(str(given.get("meaning", "")), int(given.get("lo", 1)), hi)
    return dims


def _rules(module: ModuleSource, node: Optional[ast.expr]) -> tuple[str, ...]:
    rules: list[str] = []
    for item in node.elts if isinstance(node, (ast.List, ast.Tuple)) else []:
        expr = (
            item.args[0]
            if isinstance(item, ast.Call) and item.args
            else next((k.value for k in item.keywords if k.arg == "expr"), None)
            if isinstance(item, ast.Call)
            else item
        )
        try:
            text = _literal(module, expr) if expr is not None else None
        except (ValueError, TypeError, SyntaxError):
            continue
        if isinstance(text, str):
            rules.append(text)
    return tuple(rules)


def _contract_call(
    module: ModuleSource, name: str
) -> Optional[tuple[ModuleSource, str, dict[str, ast.expr], FunctionNode]]:
    """Where `C = Contract(...)` bound to `name` is: its module, name, arguments and signature stub."""
    found = definition(module, name)
    if found is None:
        return None
    owner, attr = found
    call = owner.constants.get(attr)
    if not (isinstance(call, ast.Call) and dotted(call.func).split(".")[-1] == "Contract"):
        return None
    args = _arguments(call, _FIELDS)
    stub = args.get("signature")
    located = definition(owner, stub.id) if isinstance(stub, ast.Name) else None
    if located is None or located[1] not in located[0].functions:
        return None
    return owner, attr, args, located[0].functions[located[1]]


def contract_signature(module: ModuleSource, name: str) -> Optional[Signature]:
    """The Signature of the contract bound to `name` in `module`, if it is a readable `Contract(...)` call."""
    found = _contract_call(module, name)
    if found is None:
        return None
    owner, attr, args, stub = found
    try:
        title = _literal(owner, args["name"]) if "name" in args else attr
    except (ValueError, TypeError, SyntaxError):
        title = attr
    declared = from_source(stub)
    return Signature(
        declared.params,
        declared.returns,
        f"contract `{title}`",
        _dims(owner, args.get("dims")),
        _rules(owner, args.get("rules")),
    )


def _decorator_target(module: ModuleSource, fn: FunctionNode) -> Optional[tuple[ModuleSource, str]]:
    """The module and name of `C` in `@contract(C)` (any decorator named `contract` with one argument)."""
    for decorator in fn.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and dotted(decorator.func).split(".")[-1] == "contract"
            and len(decorator.args) == 1
        ):
            target = decorator.args[0]
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                module_of = module.imports.get(target.value.id)
                resolved = resolve(module, module_of) if module_of else None
                if resolved is not None:
                    return resolved, target.attr
            if isinstance(target, ast.Name):
                return module, target.id
    return None


def decorator_contract(module: ModuleSource, fn: FunctionNode) -> Optional[Signature]:
    """The contract of `@contract(C)`, if readable."""
    target = _decorator_target(module, fn)
    return contract_signature(*target) if target is not None else None


def decorator_stub(module: ModuleSource, fn: FunctionNode) -> Optional[FunctionNode]:
    """The signature stub of `@contract(C)`'s contract (its annotations carry markers such as `InPlace()`)."""
    target = _decorator_target(module, fn)
    found = _contract_call(*target) if target is not None else None
    return found[3] if found is not None else None
