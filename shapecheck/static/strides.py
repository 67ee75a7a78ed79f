"""SC010: an offset that steps one axis by another axis's stride.

SGLang's fused gating kernel computes the batch offset `bos = i_n * T` and multiplies it by
`stride_q = q.stride()[1]`, the token stride: `i_n * T` whole rows of axis 1 is a step over axis 0, which
equals `i_n * q.stride(0)` only when `q.stride(0) == T * q.stride(1)`. For views of a packed projection at
T=1 torch may give the size-1 token axis any stride, and sequence 1 reads sequence 0's row.

The rule, per launch: a kernel parameter bound to `x.stride(d)` / `x.stride()[d]` (a non-negative literal
`d`), a kernel parameter bound to the size of axis `d` of a wrapper tensor (`B, T, H, K = k.shape`,
`x.shape[d]`, `x.size(d)`), and a product in the kernel of the stride with a value that contains `i * size`
(whole extents of axis `d`, so a step over an outer axis). Silent when the wrapper makes or checks the
contiguity that makes this right: `x.is_contiguous()` tested in an `assert`/`if`, `x = x.contiguous()`, or a
contract rule on `x`'s contiguity.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterator, Optional

from shapecheck.static.contracts import decorator_contract
from shapecheck.static.kernelcalls import assignments, launches, method_chain
from shapecheck.static.source import FunctionNode, ModuleSource


@dataclasses.dataclass(frozen=True)
class CrossedStride:
    """`read` (in the wrapper) is axis `axis`'s stride of `tensor`, used by `kernel` at `product` across it."""

    read: ast.expr
    tensor: str
    axis: int
    parameter: str
    kernel: str
    product: str
    product_line: int
    size: str

    @property
    def node(self) -> ast.expr:
        return self.read

    def message(self) -> str:
        product = self.product if len(self.product) <= 50 else self.product[:47] + "..."
        return (
            f"`{self.kernel}` steps whole multiples of `{self.size}` (axis {self.axis}'s extent, so an outer axis) "
            f"by `{self.parameter}`, axis {self.axis}'s stride of `{self.tensor}` (`{product}`, kernel line "
            f"{self.product_line}): right only when `{self.tensor}` is contiguous across those axes; assert "
            f"`{self.tensor}.is_contiguous()` or pass the outer axis's stride"
        )


def _literal_axis(node: Optional[ast.expr]) -> Optional[int]:
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0:
        return node.value
    return None


def _axis_read(node: ast.expr, attribute: str) -> Optional[tuple[str, int]]:
    """`x.stride(d)` / `x.stride()[d]` (attribute "stride"), `x.shape[d]` / `x.size(d)` ("shape")."""
    methods = ("stride",) if attribute == "stride" else ("size",)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in methods
        and isinstance(node.func.value, ast.Name)
        and len(node.args) == 1
    ):
        axis = _literal_axis(node.args[0])
        return (node.func.value.id, axis) if axis is not None else None
    if isinstance(node, ast.Subscript):
        value = node.value
        axis = _literal_axis(node.slice)
        if axis is None:
            return None
        if (
            attribute == "stride"
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "stride"
            and not value.args
            and isinstance(value.func.value, ast.Name)
        ):
            return value.func.value.id, axis
        if (
            attribute == "shape"
            and isinstance(value, ast.Attribute)
            and value.attr == "shape"
            and isinstance(value.value, ast.Name)
        ):
            return value.value.id, axis
    return None


def _unpacked_axes(fn: FunctionNode) -> dict[str, int]:
    """Names bound to an axis size by an unpack line: `B, T, H, K = k.shape`, `B, T, H, K, V = *k.shape, ...`."""
    axes: dict[str, int] = {}
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple)):
            continue
        names = node.targets[0].elts
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            parts: list[Optional[int]] = list(range(len(names)))
        elif (
            isinstance(value, ast.Tuple)
            and value.elts
            and isinstance(value.elts[0], ast.Starred)
            and isinstance(value.elts[0].value, ast.Attribute)
            and value.elts[0].value.attr == "shape"
        ):
            parts = [*range(len(names) - len(value.elts) + 1), *[None] * (len(value.elts) - 1)]
        else:
            continue
        for target, axis in zip(names, parts):
            if isinstance(target, ast.Name) and axis is not None:
                axes[target.id] = axis
    return axes


def _bound_value(fn: FunctionNode, argument: ast.expr, before: int) -> ast.expr:
    """A launch argument that is a local name, replaced by its last assignment before the launch."""
    if isinstance(argument, ast.Name):
        earlier = [a for a in assignments(fn, argument.id) if a.lineno < before]
        if earlier:
            return earlier[-1].value
    return argument


def _contiguity_checked(module: ModuleSource, fn: FunctionNode, tensor: str) -> bool:
    """`x.is_contiguous()` in a test, `x = x.contiguous()`, or a contract rule on `x`'s contiguity."""
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assert, ast.If, ast.IfExp)) and any(
            isinstance(n, ast.Call) and method_chain(n) == (tensor, ["is_contiguous"]) for n in ast.walk(node.test)
        ):
            return True
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == tensor
        ):
            base, methods = method_chain(node.value)
            if base == tensor and "contiguous" in methods:
                return True
    signature = decorator_contract(module, fn)
    return signature is not None and any(tensor in rule and "contiguous" in rule for rule in signature.rules)


class _Crossings:
    """Flow-sensitive: for each kernel local, the size parameters it holds whole multiples of (`bos = i_n * T`
    -> {T}), branch by branch (an `if`'s branches run apart and join after, loops run twice), recording at
    every product the sets its two operands carry there."""

    def __init__(self, sizes: set[str]) -> None:
        self.sizes = sizes
        self.env: dict[str, frozenset[str]] = {}
        self.at: dict[int, tuple[frozenset[str], frozenset[str]]] = {}  # product id -> (left's, right's)

    def expr(self, node: ast.expr) -> frozenset[str]:
        if isinstance(node, ast.Name):
            return self.env.get(node.id, frozenset())
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            if isinstance(node.op, ast.Mult):
                self.at[id(node)] = (left, right)
                named = {
                    side.id for side in (node.left, node.right) if isinstance(side, ast.Name) and side.id in self.sizes
                }
                return left | right | named
            return left | right if isinstance(node.op, (ast.Add, ast.Sub)) else frozenset()
        if isinstance(node, ast.IfExp):
            self.expr(node.test)
            return self.expr(node.body) | self.expr(node.orelse)
        children = [self.expr(c) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("to", "multiple_of")
        ):
            return frozenset().union(*children)  # a cast or hint keeps the value
        return frozenset()

    def assign(self, target: ast.expr, value: ast.expr, computed: frozenset[str]) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = computed
        elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            for sub, part in zip(target.elts, value.elts):
                self.assign(sub, part, self.expr(part))

    def branches(self, bodies: list[list[ast.stmt]]) -> None:
        before, outcomes = self.env, []
        for body in bodies:
            self.env = dict(before)
            self.run(body)
            outcomes.append(self.env)
        self.env = {n: frozenset().union(*(o.get(n, frozenset()) for o in outcomes)) for o in outcomes for n in o}

    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                computed = self.expr(stmt.value)
                for target in stmt.targets:
                    self.assign(target, stmt.value, computed)
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                self.env[stmt.target.id] = self.env.get(stmt.target.id, frozenset()) | self.expr(stmt.value)
            elif isinstance(stmt, ast.If):
                self.expr(stmt.test)
                self.branches([stmt.body, stmt.orelse])
            elif isinstance(stmt, (ast.For, ast.While)):
                for _ in range(2):
                    self.branches([stmt.body, []])
            elif isinstance(stmt, (ast.With, ast.Try)):
                self.run(stmt.body)
            else:
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.expr):
                        self.expr(child)


def crossed_strides(module: ModuleSource, fn: FunctionNode) -> Iterator[CrossedStride]:
    """SC010 findings of one wrapper."""
    unpacked = _unpacked_axes(fn)
    reported: set[tuple[int, str]] = set()
    for launch in launches(module, fn):
        strides: dict[str, tuple[str, int, ast.expr]] = {}
        size_axes: dict[str, int] = {}
        for parameter, argument in launch.arguments.items():
            value = _bound_value(fn, argument, launch.node.lineno)
            stride = _axis_read(value, "stride")
            if stride is not None:
                strides[parameter] = (*stride, value)
                continue
            shape = _axis_read(value, "shape")
            if shape is not None:
                size_axes[parameter] = shape[1]
            elif isinstance(argument, ast.Name) and argument.id in unpacked:
                size_axes[parameter] = unpacked[argument.id]
        if not strides or not size_axes:
            continue
        crossings = _Crossings(set(size_axes))
        crossings.run(launch.kernel.body)
        for node in ast.walk(launch.kernel):
            if not (isinstance(node, ast.BinOp) and id(node) in crossings.at):
                continue
            left, right = crossings.at[id(node)]
            for stride_side, carried in ((node.left, right), (node.right, left)):
                if not (isinstance(stride_side, ast.Name) and stride_side.id in strides):
                    continue
                tensor, axis, read = strides[stride_side.id]
                over = sorted(s for s in carried if size_axes[s] == axis)
                key = (id(read), stride_side.id)
                if not over or key in reported or _contiguity_checked(module, fn, tensor):
                    continue
                reported.add(key)
                yield CrossedStride(
                    read, tensor, axis, stride_side.id, launch.name, ast.unparse(node), node.lineno, over[0]
                )
