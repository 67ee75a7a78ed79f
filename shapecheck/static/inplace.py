"""SC009: an argument the kernel writes in place, rebound to a copy before the launch.

vLLM's copy of the fused gating kernel does `if not initial_state_source.is_contiguous():
initial_state_source = initial_state_source.contiguous()` and then launches the kernel that stores the
updated states through it. When the caller's pool is not contiguous the states go into a temporary and the
update is lost, silently. The rule: a parameter of the wrapper that is written in place (a pointer
parameter the kernel `tl.store`s or atomically updates through, or one the contract marks `InPlace()`)
and that is rebound to a method chain of itself that may copy (`contiguous`, `to`, `clone`, `float`,
`reshape`, ...) before the launch, with no copy back after it (`x.copy_(...)` or `orig.copy_(x)`) and not
returned (a wrapper that returns the updated tensor hands the copy to the caller on purpose).
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterator

from shapecheck.static.contracts import decorator_stub
from shapecheck.static.kernelcalls import (
    assignments,
    launches,
    method_chain,
    parameter_names,
    root_name,
    written_parameters,
)
from shapecheck.static.source import FunctionNode, ModuleSource

COPIES = frozenset(
    {
        "contiguous",
        "to",
        "clone",
        "float",
        "half",
        "bfloat16",
        "double",
        "type",
        "reshape",
        "flatten",
        "cpu",
        "cuda",
        "detach_copy",
    }
)


@dataclasses.dataclass(frozen=True)
class LostWrite:
    """`name` rebound to a copy at `node`; `kernel` writes it (through `parameter`) at launch line `launch_line`."""

    node: ast.Assign
    name: str
    copy: str
    kernel: str
    parameter: str
    launch_line: int

    def message(self) -> str:
        return (
            f"`{self.name}` is rebound to `.{self.copy}()` (a copy when the layout or dtype differs) but "
            f"`{self.kernel}` writes it in place (as `{self.parameter}`, launch at line {self.launch_line}): the "
            "update lands in the copy and the caller's tensor keeps its old values; require the layout or copy "
            "back with `.copy_()`"
        )


def _marked_inplace(module: ModuleSource, fn: FunctionNode) -> set[str]:
    """Parameters annotated `InPlace()` in the wrapper itself or in its contract's stub."""
    marked: set[str] = set()
    for source in (fn, decorator_stub(module, fn)):
        if source is None:
            continue
        for arg in (*source.args.posonlyargs, *source.args.args, *source.args.kwonlyargs):
            if arg.annotation is not None and "InPlace" in ast.unparse(arg.annotation):
                marked.add(arg.arg)
    return marked


def _copied_back(fn: FunctionNode, name: str, after: int) -> bool:
    """`name.copy_(...)`, `other.copy_(name)` or `return ... name ...` after line `after`."""
    for node in ast.walk(fn):
        if getattr(node, "lineno", 0) <= after:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "copy_":
            if root_name(node.func.value) == name or any(root_name(a) == name for a in node.args):
                return True
        if (
            isinstance(node, ast.Return)
            and node.value is not None
            and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value))
        ):
            return True
    return False


def lost_writes(module: ModuleSource, fn: FunctionNode) -> Iterator[LostWrite]:
    """SC009 findings of one wrapper."""
    params = set(parameter_names(fn))
    marked = _marked_inplace(module, fn)
    reported: set[int] = set()
    for launch in launches(module, fn):
        written = written_parameters(launch.kernel)
        for parameter, argument in launch.arguments.items():
            name = root_name(argument)
            if name is None or name not in params or (parameter not in written and name not in marked):
                continue
            for assign in assignments(fn, name):
                base, methods = method_chain(assign.value)
                copies = [m for m in methods if m in COPIES]
                if assign.lineno >= launch.node.lineno or base != name or not copies or id(assign) in reported:
                    continue
                if _copied_back(fn, name, launch.node.lineno):
                    continue
                reported.add(id(assign))
                yield LostWrite(assign, name, copies[0], launch.name, parameter, launch.node.lineno)
