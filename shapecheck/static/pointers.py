"""SC006 / SC007: int32 products in a Triton kernel's pointer offsets that can pass 2**31 elements.

A Triton integer is int32 unless something made it int64, so `pool + slot * HV * K * V` wraps once the
product reaches 2**31: the state-pool overflow seen upstream (fla #1080, sglang #31934). The analysis runs
the kernel body once over abstract integers, flow-sensitively (tuple targets element by element, `if`
branches separately and joined after, loops iterated until the taint settles), and tracks for each value:

- whether it is int64 (`.to(tl.int64)`, `tl.cast(x, tl.int64)`, or any int64 operand of `+`/`*`);
- the index it derives from: a value loaded from memory (SC006) or a program id (SC007), and how many
  factors scaled it: 0 a bare index (a slot, a sequence number), 1 a position along the axis it tiles
  (`i_t * BT`, plus any `tl.arange`; a value loaded from a cumulative-offsets table such as `cu_seqlens`
  is a token position from the start), 2 a row of a 2-D view (`last_idx * HV` in a `[T, HV]` tensor),
  3 or more an element offset (`bos * H * K`, `slot * HV * K * V`) that grows with the whole tensor;
- an upper bound: literals, `tl.arange(0, C)` and `tl.constexpr` parameters are bounded (a configured
  bound, else `CONSTEXPR_BOUND`), program ids on axes 1 and 2 by 65535, runtime scalars not at all.

A product is a finding when it is int32, derives from an index, reaches a pointer (the pointer argument
of a load, store or atomic, or a block pointer's base), and is an element offset: three factors on the
index, or an unbounded runtime value such as a stride (`slot * stride`). Positions and rows are bounded by
the axes they index (a block index times its block size by the axis it tiles), so they are not findings:
with the sizes real workloads reach (2**20 tokens, 128 heads, head dims of 256) they stay below 2**31. Program ids (SC007) are reported only where one
expression scales a bare program id by two or more factors whose bounds reach 2**31 (`i_nh * K * V`); a
head index `pid % HV` is bounded by the head count and is not an index here. A program id of axis 1 or
2 (at most 65535 blocks, which SC005 checks at the launch) gives a note, not an error. Each product chain is
reported once, at its outermost product. A block pointer's shape, strides and offsets are not sinks:
Triton forms their products in int64; its base is.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from typing import Iterator, Mapping, Optional

from shapecheck.static.source import FunctionNode

INT32_LIMIT = 2**31
CONSTEXPR_BOUND = 1024  # a constexpr without a configured bound: block sizes and head dims
GRID_AXIS_BOUND = 65535
ELEMENT_OFFSET = 3  # factors on an index that make an element offset: `slot * HV * K * V`, `bos * H * K`
SEQUENCE_BOUND = 2**20  # the longest sequence, in tokens, unless `T` is bounded (`--bound T=...`): 1M-token contexts
_SEQ_BLOCKS = re.compile(r"^(BT|BS|BC|BLOCK_T|BLOCK_SIZE_T|CHUNK_SIZE)$")  # block sizes that tile a sequence
_SEQ_COUNTS = re.compile(r"\b(T|NT|eos|seq_?len|seqlens?)\b")  # a `range` over these loops over a sequence
_OFFSETS = re.compile(r"cu_?seqlens|offsets?$|seq_?starts?|seqlens", re.IGNORECASE)
_WIDE = {"int64", "uint64"}
_NARROW = {"int32", "int16", "int8", "uint32", "uint16", "uint8"}
_MEMORY = {"load", "store", "make_block_ptr", "make_tensor_descriptor"}  # plus every atomic_*


@dataclasses.dataclass(frozen=True)
class Index:
    """Where an index comes from: `("load", line)` or `("pid", line)`."""

    kind: str
    line: int
    axis: int = 0  # the grid axis of a program id


@dataclasses.dataclass(frozen=True)
class Num:
    """An abstract kernel value (an integer, or anything else: floats and pointers carry no index)."""

    wide: bool = False
    index: Optional[Index] = None
    scale: int = 0  # factors applied to the index: 0 bare, 1 a position, 2+ an element offset
    hi: float = math.inf  # upper bound of |value|
    products: frozenset[int] = frozenset()  # candidate findings (ids of product nodes) this value carries
    factors: int = 1  # dimensions multiplied in a value that is not an index: `H * K` counts 2
    seq: bool = False  # a position inside a sequence (`i_t * BT + arange`): bounded by the longest sequence


OTHER = Num()


def _join(a: Num, b: Num) -> Num:
    """The value after an `if`: either branch's."""
    narrow = [v.index for v in (a, b) if v.index is not None and not v.wide]
    index = next((i for i in narrow if i.kind == "load"), narrow[0] if narrow else None)  # a loaded index first
    scale = max(a.scale if a.index else 0, b.scale if b.index else 0)
    return Num(a.wide and b.wide, index, scale, max(a.hi, b.hi), a.products | b.products, seq=a.seq or b.seq)


@dataclasses.dataclass(frozen=True)
class Overflow:
    """A product of an int32 index inside a pointer offset."""

    node: ast.BinOp
    operand: str
    code: str  # "SC006" (a loaded value) or "SC007" (a program id, or a loop over a sequence's blocks)
    source_line: int
    severity: str = "error"  # "note" for program ids of axes 1 and 2 (at most 65535 blocks: see SC005)
    kind: str = "load"  # the index's origin: "load", "pid" or "loop"
    sequence: bool = False  # the index is a position inside a sequence, bounded by the longest one


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _dtype(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _cast(call: ast.Call) -> Optional[str]:
    """The dtype of `x.to(dtype)` / `tl.cast(x, dtype)`, else None."""
    name = _name(call)
    if name == "to" and (call.args or call.keywords):
        return _dtype(call.args[0] if call.args else call.keywords[0].value)
    if name == "cast" and len(call.args) >= 2:
        return _dtype(call.args[1])
    return None


def _pointer(call: ast.Call) -> Optional[ast.expr]:
    """The pointer (or block-pointer base) argument of a memory operation, else None."""
    name = _name(call)
    if name not in _MEMORY and not name.startswith("atomic_"):
        return None
    keyword = next((k.value for k in call.keywords if k.arg in ("pointer", "base")), None)
    return call.args[0] if call.args else keyword


def _is_constexpr(annotation: Optional[ast.expr]) -> bool:
    return annotation is not None and "constexpr" in ast.unparse(annotation)


def _chain(node: ast.expr) -> Iterator[ast.expr]:
    """The factors of a product chain `a * b * (c * d)`."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        yield from _chain(node.left)
        yield from _chain(node.right)
    else:
        yield node


def _chain_products(node: ast.expr) -> set[int]:
    """Ids of the products nested in a chain below (and including) `node`."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return {id(node)} | _chain_products(node.left) | _chain_products(node.right)
    return set()


class _Taint:
    def __init__(self, kernel: FunctionNode, bounds: Mapping[str, int]) -> None:
        self.bounds = bounds
        self.sequence_bound = bounds.get("T", SEQUENCE_BOUND)
        self.env: dict[str, Num] = {}
        for arg in (*kernel.args.posonlyargs, *kernel.args.args, *kernel.args.kwonlyargs):
            bound = bounds.get(arg.arg, CONSTEXPR_BOUND if _is_constexpr(arg.annotation) else math.inf)
            self.env[arg.arg] = Num(hi=float(bound))
        self.values: dict[int, Num] = {}  # every evaluated expression, for SC007's chain check
        self.candidates: dict[int, Overflow] = {}
        self.reached: set[int] = set()

    # --- expressions ------------------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Num:
        value = self._expr(node)
        self.values[id(node)] = value
        return value

    def _expr(self, node: ast.expr) -> Num:
        if isinstance(node, ast.Name):
            return self.env.get(node.id, Num(hi=float(self.bounds.get(node.id, math.inf))))
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                return Num(hi=abs(float(node.value)), factors=int(abs(node.value) > 1))
            return Num(hi=1.0, factors=0)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand)
        if isinstance(node, ast.Subscript):  # `o_t[:, None]` keeps its value; the slice is metadata
            self.expr(node.slice)
            return self.expr(node.value)
        if isinstance(node, ast.IfExp):
            self.expr(node.test)
            return _join(self.expr(node.body), self.expr(node.orelse))
        if isinstance(node, (ast.Attribute, ast.Lambda)):
            return OTHER  # metadata (`x.dtype`)
        parts = [self.expr(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)]
        return Num(products=frozenset().union(*(p.products for p in parts))) if parts else OTHER

    def _call(self, node: ast.Call) -> Num:
        receiver = self.expr(node.func.value) if isinstance(node.func, ast.Attribute) else OTHER
        args = [self.expr(a) for a in node.args]
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
        pointer = _pointer(node)
        if pointer is not None:
            self.reached |= self.values[id(pointer)].products
        name, cast = _name(node), _cast(node)
        if cast is not None:
            source = receiver if name == "to" else (args[0] if args else OTHER)
            if cast in _WIDE:
                return dataclasses.replace(source, wide=True)
            return dataclasses.replace(source, wide=False) if cast in _NARROW else source
        if name == "load":  # a value read from a cumulative-offsets table is already a token position
            table = pointer is not None and any(
                isinstance(n, ast.Name) and _OFFSETS.search(n.id) for n in ast.walk(pointer)
            )
            return Num(index=Index("load", node.lineno), scale=1 if table else 0)
        if name == "program_id":
            first = node.args[0] if node.args else None
            axis = first.value if isinstance(first, ast.Constant) and type(first.value) is int else 0
            return Num(index=Index("pid", node.lineno, axis), hi=float(INT32_LIMIT if axis == 0 else GRID_AXIS_BOUND))
        if name == "range" and args:  # `for t in range(bos, eos)`: an index when a bound is; int64 if one is
            bound = _join(*args[:2]) if len(args) >= 2 else args[0]
            return dataclasses.replace(bound, wide=any(a.wide for a in args))
        if name == "arange" and len(args) == 2:
            return Num(hi=args[1].hi)
        if name in ("minimum", "min") and len(args) >= 2:  # bounded by its smallest operand
            bounded = [a for a in args if a.index is None and not math.isinf(a.hi)]
            if bounded:  # `min(BC, T - i_t * BT)` is at most BC: no longer an index
                return Num(any(a.wide for a in args), None, 0, min(a.hi for a in bounded))
            return dataclasses.replace(_join(args[0], args[1]), wide=any(a.wide for a in args))  # promoted
        if name in ("make_block_ptr", "make_tensor_descriptor") and pointer is not None:
            return Num(products=self.values[id(pointer)].products)  # offsets times strides are int64 there
        parts = [receiver, *args, *kwargs.values()]
        carried = frozenset().union(*(p.products for p in parts))
        indexed = [p for p in parts if p.index is not None]
        if name in ("multiple_of", "max_contiguous", "max_constancy", "maximum", "where") and indexed:
            return dataclasses.replace(indexed[0], products=carried)
        return Num(products=carried)

    def _binop(self, node: ast.BinOp) -> Num:
        left, right = self.expr(node.left), self.expr(node.right)
        products = left.products | right.products
        wide = left.wide or right.wide
        op = node.op
        if isinstance(op, ast.Mod):  # a head or lane index: bounded by the divisor
            return Num(wide, None, 0, right.hi, products)
        if isinstance(op, (ast.FloorDiv, ast.RShift)):
            return Num(wide, left.index, left.scale, left.hi, products)
        if isinstance(op, (ast.Add, ast.Sub, ast.BitOr)):
            with_index = [v for v in (left, right) if v.index is not None]
            best = (
                max(with_index, key=lambda v: (v.scale, v.index is not None and v.index.kind == "load"))
                if with_index
                else None
            )  # a tie goes to the loaded index: `bos + i_t * BT` is a token offset
            return Num(
                wide,
                best.index if best else None,
                best.scale if best else 0,
                left.hi + right.hi,
                products,
                max(left.factors, right.factors),
                seq=best.seq if best else False,
            )
        if not isinstance(op, ast.Mult):
            return Num(wide, products=products)
        hi = 0.0 if 0.0 in (left.hi, right.hi) else left.hi * right.hi
        if left.index is None and right.index is None:
            return Num(wide, None, 0, hi, products, left.factors + right.factors)
        left_leads = left.index is not None and (right.index is None or left.scale >= right.scale)
        indexed, other = (left, right) if left_leads else (right, left)
        assert indexed.index is not None
        scale = indexed.scale + (other.factors if other.index is None else 1)
        blocks = node.right if indexed is left else node.left
        seq = indexed.seq or (
            indexed.scale == 0
            and isinstance(blocks, ast.Name)
            and bool(_SEQ_BLOCKS.match(blocks.id))
            and indexed.index.kind in ("pid", "loop")
        )
        if seq and not indexed.seq:  # `i_t * BT`: a position in a sequence, below the longest one
            hi = min(hi, self.sequence_bound)
        result = Num(wide, indexed.index, scale, hi, products, seq=seq)
        chain = _chain_products(node)
        inner = products & chain  # a finding further down this product chain: report the outermost product
        if not wide and (inner or self._overflows(node, indexed, other, scale, hi)):
            source = node.left if indexed is left else node.right
            for covered in inner:
                self.candidates.pop(covered, None)
            result = dataclasses.replace(result, products=(products - chain) | {id(node)})
            loaded = indexed.index.kind == "load"
            self.candidates[id(node)] = Overflow(
                node,
                ast.unparse(source),
                "SC006" if loaded else "SC007",
                indexed.index.line,
                "error" if loaded or indexed.seq or indexed.index.axis == 0 else "note",
                indexed.index.kind,
                indexed.seq and not loaded,
            )
        return result

    def _overflows(self, node: ast.BinOp, indexed: Num, other: Num, scale: int, hi: float) -> bool:
        assert indexed.index is not None
        if indexed.index.kind == "load":
            return scale >= ELEMENT_OFFSET or math.isinf(other.hi)
        if indexed.seq:  # a position in a sequence times two or more head/feature factors
            return scale >= ELEMENT_OFFSET and hi >= INT32_LIMIT
        if indexed.index.kind == "loop":
            return False
        factors = [self.values.get(id(f), OTHER) for f in _chain(node)]
        bare = [f for f in factors if f.index is not None and f.index.kind == "pid" and f.scale == 0]
        return bool(bare) and len(factors) - 1 >= 2 and hi >= INT32_LIMIT

    # --- statements -------------------------------------------------------------------------------

    def _assign(self, target: ast.expr, value: ast.expr, computed: Num) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = computed
        elif isinstance(target, (ast.Tuple, ast.List)):
            if (
                isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(target.elts)
                and not any(isinstance(e, ast.Starred) for e in (*value.elts, *target.elts))
            ):
                for sub, part in zip(target.elts, value.elts):  # element by element, not one taint for all
                    self._assign(sub, part, self.values[id(part)])
            else:
                for sub in target.elts:
                    self._assign(
                        sub.value if isinstance(sub, ast.Starred) else sub,
                        value,
                        dataclasses.replace(computed, products=computed.products),
                    )

    def _branches(self, bodies: list[list[ast.stmt]]) -> None:
        before = dict(self.env)
        outcomes = []
        for body in bodies:
            self.env = dict(before)
            self.run(body)
            outcomes.append(self.env)
        joined: dict[str, Num] = {}
        for name in set().union(*outcomes):
            values = [o.get(name, before.get(name, OTHER)) for o in outcomes]
            value = values[0]
            for other in values[1:]:
                value = value if other is value else _join(value, other)
            joined[name] = value
        self.env = joined

    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                computed = self.expr(stmt.value)
                for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                    self._assign(target, stmt.value, computed)
            elif isinstance(stmt, ast.AugAssign):
                if isinstance(stmt.target, ast.Name):  # `x += v` as `x = x + v`, at the statement's position
                    current = ast.copy_location(ast.Name(id=stmt.target.id, ctx=ast.Load()), stmt.target)
                    combined = ast.copy_location(ast.BinOp(left=current, op=stmt.op, right=stmt.value), stmt)
                    self.env[stmt.target.id] = self.expr(combined)
                else:
                    self.expr(stmt.value)
            elif isinstance(stmt, ast.If):
                self.expr(stmt.test)
                self._branches([stmt.body, stmt.orelse])
            elif isinstance(stmt, (ast.For, ast.While)):
                self._loop(stmt)
            elif isinstance(stmt, (ast.Expr, ast.Return)) and stmt.value is not None:
                self.expr(stmt.value)
            elif isinstance(stmt, (ast.With, ast.Try)):
                for item in getattr(stmt, "items", []):
                    self.expr(item.context_expr)
                self.run(stmt.body)
                self._branches([[*getattr(stmt, "orelse", [])], *(h.body for h in getattr(stmt, "handlers", []))])
                self.run(getattr(stmt, "finalbody", []))
            else:
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.expr):
                        self.expr(child)

    def _loop(self, stmt: ast.For | ast.While) -> None:
        if isinstance(stmt, ast.For):
            bounds = self.expr(stmt.iter)
            element = Num(bounds.wide, bounds.index, bounds.scale, bounds.hi, seq=bounds.seq)
            if bounds.index is None and not bounds.wide and _SEQ_COUNTS.search(ast.unparse(stmt.iter)):
                element = Num(
                    index=Index("loop", stmt.lineno), hi=float(self.sequence_bound)
                )  # a block of the sequence
        else:
            self.expr(stmt.test)
        for _ in range(2):  # a second pass carries values around the loop (nested loops multiply the passes)
            before = dict(self.env)
            if isinstance(stmt, ast.For):
                self._assign(stmt.target, stmt.iter, element)
            self._branches([stmt.body, []])
            if self.env == before:
                break
        self.run(stmt.orelse)

    def overflows(self) -> list[Overflow]:
        return sorted(
            (o for i, o in self.candidates.items() if i in self.reached),
            key=lambda o: (o.node.lineno, o.node.col_offset),
        )


def unsafe_offsets(kernel: FunctionNode, bounds: Mapping[str, int] = {}) -> list[Overflow]:
    """SC006/SC007 findings of one `@triton.jit` function; `bounds` caps named dimensions."""
    taint = _Taint(kernel, bounds)
    taint.run(kernel.body)
    return taint.overflows()
