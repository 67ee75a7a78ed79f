"""Launches seen from the wrapper, bound to the kernel they start: `kernel[grid](a, b=c)` with each of the
kernel's parameters mapped to the wrapper expression passed for it. Shared by SC009 (which pointers the
kernel writes through) and SC010 (which strides it steps which axis with).
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterator, Optional

from shapecheck.static.imports import definition
from shapecheck.static.source import FunctionNode, ModuleSource, is_kernel


@dataclasses.dataclass(frozen=True)
class BoundLaunch:
    """A launch in a wrapper, the kernel it starts, and each kernel parameter's argument expression."""

    node: ast.Call
    name: str
    kernel: FunctionNode
    arguments: dict[str, ast.expr]


def _kernel(module: ModuleSource, name: str) -> Optional[FunctionNode]:
    """The `@triton.jit` function `name` refers to: this module's, or one imported from the analysed tree."""
    fn = module.functions.get(name)
    if fn is None:
        found = definition(module, name, installed=False)
        fn = found[0].functions.get(found[1]) if found is not None else None
    return fn if fn is not None and is_kernel(fn) else None


def parameter_names(fn: FunctionNode) -> list[str]:
    return [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]


def launches(module: ModuleSource, fn: FunctionNode) -> Iterator[BoundLaunch]:
    """Every `kernel[grid](...)` in `fn` (nested functions excluded) whose kernel's source is readable."""
    for node in ast.walk(fn):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Subscript)
            and isinstance(node.func.value, ast.Name)
        ):
            continue
        kernel = _kernel(module, node.func.value.id)
        if kernel is None:
            continue
        names = parameter_names(kernel)
        arguments = {name: arg for name, arg in zip(names, node.args) if not isinstance(arg, ast.Starred)}
        arguments.update({k.arg: k.value for k in node.keywords if k.arg in names})
        yield BoundLaunch(node, node.func.value.id, kernel, arguments)


def root_name(node: ast.expr) -> Optional[str]:
    """The name an argument expression passes (`x`, `x.view(...)`, `x[0]`), else None."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("view", "data_ptr")
        ):
            node = node.func.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return None


def kernel_flow(kernel: FunctionNode) -> dict[str, set[str]]:
    """For each local of the kernel, the parameters its value is computed from, not looking through loads
    (a loaded value is data, not the pointer it was read from)."""
    params = parameter_names(kernel)
    flow: dict[str, set[str]] = {p: {p} for p in params}

    def sources(node: ast.expr) -> set[str]:
        found: set[str] = set()
        stack: list[ast.AST] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute) and item.func.attr == "load":
                continue
            if isinstance(item, ast.Name):
                found |= flow.get(item.id, set())
            stack.extend(ast.iter_child_nodes(item))
        return found

    for _ in range(2):  # twice: a loop-carried pointer (`p += stride`) reaches the names before it
        for node in ast.walk(kernel):
            if isinstance(node, ast.Assign):
                computed = sources(node.value)
                for target in node.targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            flow[name.id] = flow.get(name.id, set()) | computed
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                flow[node.target.id] = flow.get(node.target.id, set()) | sources(node.value)
    return flow


def written_parameters(kernel: FunctionNode) -> set[str]:
    """Parameters the kernel stores (or atomically updates) through (runtime scalars that only shape the offset,
    such as strides, may be among them: callers ask about the tensors they pass)."""
    flow = kernel_flow(kernel)
    written: set[str] = set()
    for node in ast.walk(kernel):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "store" and not node.func.attr.startswith("atomic_"):
            continue
        pointer = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "pointer"), None)
        if pointer is None:
            continue
        for name in ast.walk(pointer):
            if isinstance(name, ast.Name):
                written |= flow.get(name.id, set())
    pointers = {
        a.arg
        for a in (*kernel.args.posonlyargs, *kernel.args.args, *kernel.args.kwonlyargs)
        if a.annotation is None or "constexpr" not in ast.unparse(a.annotation)
    }
    return written & pointers  # a constexpr (a size, a flag) shapes the offset but is not written through


def assignments(fn: FunctionNode, name: str) -> list[ast.Assign]:
    """Every `name = ...` of `fn` (single target), in source order."""
    found = [
        node
        for node in ast.walk(fn)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == name
    ]
    return sorted(found, key=lambda node: (node.lineno, node.col_offset))


def method_chain(node: ast.expr) -> tuple[Optional[str], list[str]]:
    """`x.a(...).b(...)` -> ("x", ["a", "b"]); a name alone -> ("x", [])."""
    methods: list[str] = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        methods.append(node.func.attr)
        node = node.func.value
    return (node.id if isinstance(node, ast.Name) else None), methods[::-1]
