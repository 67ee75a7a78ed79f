"""The catalogue of mutation operators: each yields every site of the function body where it applies.

One operator, one typical kernel bug (a dropped mask, `//` for `%`, a swapped stride, an off-by-one, a
store hoisted above the update it should follow); each docstring says which. Operators only propose
`Site`s; `generate` turns them into exact, reproducible patches.
"""

from __future__ import annotations

import ast
import re
from typing import Callable, Iterable, Iterator, Optional, Sequence

from shapecheck.mutate.source import Function, Site, operand, replace_node

_TOKEN = re.compile(r"<=|>=|==|!=|//|<|>|%")


def _token_between(f: Function, left: ast.AST, right: ast.AST, token: str) -> tuple[int, int]:
    """Offsets of operator `token` in the text between two operands (parentheses and spaces around it)."""
    lo, hi = f.src.span(left)[1], f.src.span(right)[0]
    for m in _TOKEN.finditer(f.src.text, lo, hi):
        if m.group() == token:
            return m.start(), m.end()
    raise AssertionError(f"operator {token!r} not found between operands at line {left.lineno}")  # type: ignore[attr-defined]  # operands are expr nodes


def op_floordiv_mod(f: Function) -> Iterator[Site]:
    """`a // b` <-> `a % b`: the head/sequence split of a flattened program id (n = pid // HV, j = pid % HV)."""
    swap = {ast.FloorDiv: ("//", "%", "mod"), ast.Mod: ("%", "//", "floordiv")}
    for n in f.nodes():
        if isinstance(n, ast.BinOp) and type(n.op) in swap:
            old, new, variant = swap[type(n.op)]
            start, end = _token_between(f, n.left, n.right, old)
            yield Site(n, start, end, new, variant)


def op_comparison(f: Function) -> Iterator[Site]:
    """`<` <-> `<=`, `>` <-> `>=`, `==` <-> `!=`: boundary conditions of masks and guards."""
    swap = {
        ast.Lt: ("<", "<=", "le"),
        ast.LtE: ("<=", "<", "lt"),
        ast.Gt: (">", ">=", "ge"),
        ast.GtE: (">=", ">", "gt"),
        ast.Eq: ("==", "!=", "ne"),
        ast.NotEq: ("!=", "==", "eq"),
    }
    for n in f.nodes():
        if isinstance(n, ast.Compare):
            left = n.left
            for op, right in zip(n.ops, n.comparators):
                if type(op) in swap:
                    old, new, variant = swap[type(op)]
                    start, end = _token_between(f, left, right, old)
                    yield Site(n, start, end, new, variant)
                left = right


_MASK_POSITION = {"load": 1, "store": 2}  # positional index of `mask` (load: ptr, mask, other; store: ptr, value, mask)


def _mask_of(call: ast.Call) -> Optional[ast.AST]:
    name = call.func.attr  # type: ignore[attr-defined]  # tl_calls yields `tl.NAME(...)` calls
    for kw in call.keywords:
        if kw.arg == "mask":
            return kw.value
    pos = _MASK_POSITION[name]
    return call.args[pos] if len(call.args) > pos else None


def op_drop_mask(f: Function) -> Iterator[Site]:
    """Remove a load/store's `mask=` (and `other=`, which Triton refuses without a mask): the tail bug."""
    for call in f.tl_calls("load", "store"):
        if _mask_of(call) is None:
            continue
        pos = _MASK_POSITION[call.func.attr]  # type: ignore[attr-defined]  # tl_calls yields `tl.NAME(...)` calls
        kept = [f.src.seg(a) for a in call.args[:pos]]
        kept += [f.src.seg(kw) for kw in call.keywords if kw.arg not in ("mask", "other")]
        parts = [*call.args, *call.keywords]
        start = min(f.src.span(p)[0] for p in parts)
        end = max(f.src.span(p)[1] for p in parts)
        yield Site(call, start, end, ", ".join(kept))


def op_invert_mask(f: Function) -> Iterator[Site]:
    """`mask=X` -> `mask=~(X)`: valid Triton (bitwise not of an int1 tensor), touches exactly the wrong lanes."""
    for call in f.tl_calls("load", "store"):
        mask = _mask_of(call)
        if mask is not None:
            yield replace_node(f, mask, f"~({f.src.seg(mask)})")


def op_other_value(f: Function) -> Iterator[Site]:
    """`other=0.0` -> `other=1.0` (a non-zero constant -> 0.0): does the padding value of masked lanes matter?"""
    for call in f.tl_calls("load"):
        for kw in call.keywords:
            if kw.arg == "other" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, (int, float)):
                yield replace_node(f, kw.value, "1.0" if kw.value.value == 0 else "0.0")


def _range_call(f: Function, node: ast.AST) -> Optional[ast.Call]:
    if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and node.iter.args:
        func = node.iter.func
        if (isinstance(func, ast.Name) and func.id == "range") or f.is_tl(func, "range", "static_range"):
            return node.iter
    return None


def op_loop_bound(f: Function) -> Iterator[Site]:
    """`range(a, b)` -> `range(a, b - 1)` / `range(a + 1, b)`: a loop that skips its last or first step."""
    for n in f.nodes():
        call = _range_call(f, n)
        if call is None:
            continue
        if len(call.args) == 1:
            stop, start = call.args[0], None
        else:
            start, stop = call.args[0], call.args[1]
        yield replace_node(f, stop, f"{operand(f.src.seg(stop), stop)} - 1", "end-1")
        if start is None:
            begin = f.src.span(stop)[0]
            yield Site(call, begin, begin, "1, ", "start+1")
        else:
            yield replace_node(f, start, f"{operand(f.src.seg(start), start)} + 1", "start+1")


def op_off_by_one(f: Function) -> Iterator[Site]:
    """`ptr` -> `ptr + 1` in every load/store, and `x + 1` / `x - 1` -> `x` anywhere in the index math."""
    for n in f.nodes():
        if isinstance(n, ast.Call) and f.is_tl(n.func, "load", "store") and n.args:
            ptr = n.args[0]
            text = f.src.seg(ptr)
            if isinstance(ptr, (ast.IfExp, ast.BoolOp, ast.Compare, ast.NamedExpr, ast.Lambda)):
                text = f"({text})"
            yield replace_node(f, ptr, f"{text} + 1", "ptr+1")
        elif (
            isinstance(n, ast.BinOp)
            and isinstance(n.op, (ast.Add, ast.Sub))
            and isinstance(n.right, ast.Constant)
            and type(n.right.value) is int
            and n.right.value == 1
        ):
            yield replace_node(f, n, f.src.seg(n.left), "drop+1" if isinstance(n.op, ast.Add) else "drop-1")


def op_exp_base(f: Function) -> Iterator[Site]:
    """`tl.exp` <-> `tl.exp2`, `tl.log` <-> `tl.log2`: the base-2 fast path without its log2(e) factor."""
    swap = {"exp": "exp2", "exp2": "exp", "log": "log2", "log2": "log"}
    for call in f.tl_calls(*swap):
        attr = call.func.attr  # type: ignore[attr-defined]  # tl_calls yields `tl.NAME(...)` calls
        end = f.src.span(call.func)[1]
        yield Site(call, end - len(attr), end, swap[attr], swap[attr])


def op_sigmoid_identity(f: Function) -> Iterator[Site]:
    """`tl.sigmoid(x)` -> `x`: a gate used raw."""
    for call in f.tl_calls("sigmoid"):
        if len(call.args) == 1:
            yield replace_node(f, call, operand(f.src.seg(call.args[0]), call.args[0]))


_STRIDE = re.compile(r"^(s|stride)_\w+$")


def _stride_groups(params: Sequence[str]) -> dict[str, list[str]]:
    """Stride parameter -> the strides of the same tensor, in signature order.

    A tensor's strides are consecutive parameters whose names differ only in their last character
    (`s_qb, s_qt, s_qh`); consecutive strides that have no such sibling form one group together
    (`s_slot, s_head, s_row`).
    """
    strides = [p for p in params if _STRIDE.match(p)]
    key = {p: p[:-1] for p in strides}
    lonely = {p for p in strides if sum(key[q] == key[p] for q in strides) == 1}
    groups: list[list[str]] = []
    for i, p in enumerate(strides):
        adjacent = i > 0 and params.index(strides[i - 1]) == params.index(p) - 1
        same = adjacent and (key[strides[i - 1]] == key[p] or (strides[i - 1] in lonely and p in lonely))
        if same:
            groups[-1].append(p)
        else:
            groups.append([p])
    return {p: g for g in groups for p in g}


def op_stride(f: Function) -> Iterator[Site]:
    """A use of stride `s_X` replaced by its neighbour of the same tensor (the next one; the last: previous).

    In a wrapper, the launch site instead: two adjacent `x.stride(i)` arguments of one tensor swapped.
    """
    groups = _stride_groups(f.params)
    for n in f.nodes():
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and len(groups.get(n.id, [])) > 1:
            group = groups[n.id]
            i = group.index(n.id)
            other = group[i + 1] if i + 1 < len(group) else group[i - 1]
            yield replace_node(f, n, other, other)
    for n in f.nodes():
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Subscript):  # kernel[grid](...)
            for a, b in zip(n.args, n.args[1:]):
                if _is_stride_call(a) and _is_stride_call(b) and ast.dump(a.func) == ast.dump(b.func):  # type: ignore[attr-defined]  # stride calls: tested
                    start, end = f.src.span(a)[0], f.src.span(b)[1]
                    between = f.src.text[f.src.span(a)[1] : f.src.span(b)[0]]
                    yield Site(a, start, end, f.src.seg(b) + between + f.src.seg(a), "launch")


def _is_stride_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "stride"
        and len(node.args) == 1
    )


_CASTS = ("float32", "float64", "int64")


def op_drop_cast(f: Function) -> Iterator[Site]:
    """`x.to(tl.float32)` / `x.to(tl.int64)` -> `x`: arithmetic in the input's precision, offsets in int32.

    Casts to `ptr.dtype.element_ty` before a store are left alone: `tl.store` casts to the pointee anyway.
    """
    for n in f.nodes():
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "to"
            and len(n.args) == 1
            and f.is_tl(n.args[0], *_CASTS)
        ):
            yield replace_node(f, n, f.src.seg(n.func.value), n.args[0].attr)  # type: ignore[attr-defined]  # is_tl: an Attribute


def op_drop_where(f: Function) -> Iterator[Site]:
    """`tl.where(c, x, y)` -> `x` / `y`: a branch (threshold, guard) taken always."""
    for call in f.tl_calls("where"):
        if len(call.args) == 3:
            for variant, arg in (("x", call.args[1]), ("y", call.args[2])):
                yield replace_node(f, call, operand(f.src.seg(arg), arg), variant)


def op_drop_clamp(f: Function) -> Iterator[Site]:
    """`tl.maximum(x, lo)` / `tl.minimum(x, hi)` -> `x`: a clamp that guards an index or a pointer."""
    for call in f.tl_calls("maximum", "minimum"):
        if len(call.args) == 2:
            yield replace_node(f, call, operand(f.src.seg(call.args[0]), call.args[0]))


def op_epsilon(f: Function) -> Iterator[Site]:
    """A tiny float constant (0 < |c| < 1e-3, e.g. the `1e-6` of a norm) -> `0.0`: is the guard ever needed?"""
    for n in f.nodes():
        if isinstance(n, ast.Constant) and type(n.value) is float and 0 < abs(n.value) < 1e-3:
            yield replace_node(f, n, "0.0")


def _assigned(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _blocks(node: ast.AST) -> Iterator[list[ast.stmt]]:
    for n in ast.walk(node):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(n, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def op_store_before_update(f: Function) -> Iterator[Site]:
    """Move a store, or the statement computing a stored value, above the update it should follow.

    Two forms, both within one block: a `tl.store` statement moved above the nearest earlier statement
    that re-assigns a name the store reads (the final state store hoisted above the loop that updates it);
    and `o = f(h)`, whose result a later store writes, moved above the nearest earlier re-assignment of
    a name it reads (the output computed from the state before the update). "Re-assignment": the name is
    also bound earlier (or is a parameter), so the mutant runs instead of failing with a NameError.
    """

    def defined_before(name: str, stmt: ast.stmt) -> bool:
        if name in f.params:
            return True
        return any(
            isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == name and n.lineno < stmt.lineno
            for n in ast.walk(f.node)
        )

    def is_store(stmt: ast.stmt) -> bool:
        return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and f.is_tl(stmt.value.func, "store")

    def move(block: list[ast.stmt], i: int) -> Optional[Site]:
        stmt = block[i]
        needs = _read(stmt)
        for p in range(i - 1, -1, -1):
            hit = _assigned(block[p]) & needs
            if hit:
                if not all(defined_before(name, block[p]) for name in hit):
                    return None
                start = f.src.starts[block[p].lineno - 1]
                m_start, m_end = f.src.line_span(stmt.lineno, stmt.end_lineno)  # type: ignore[arg-type]  # set by ast.parse
                moved = f.src.text[m_start:m_end]
                rest = f.src.text[start:m_start]  # the skipped statements and any comments, whole lines
                jumped = f.src.lines[block[p].lineno - 1].strip()
                display = (f"{jumped}  ...  {moved.strip()}", f"{moved.strip()}  ...  {jumped}")
                return Site(stmt, start, m_end, moved + "\n" + rest.removesuffix("\n"), "", display)
        return None

    for block in _blocks(f.node):
        stores = [s for s in block if is_store(s)]
        for i, stmt in enumerate(block):
            if stmt in stores:
                site = move(block, i)
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and any(stmt.targets[0].id in _read(s) for s in stores if s.lineno > stmt.lineno)
            ):
                site = move(block, i)
            else:
                continue
            if site is not None:
                yield site


OPERATORS: dict[str, Callable[[Function], Iterable[Site]]] = {
    "floordiv-mod": op_floordiv_mod,
    "drop-mask": op_drop_mask,
    "invert-mask": op_invert_mask,
    "loop-bound": op_loop_bound,
    "off-by-one": op_off_by_one,
    "exp-base": op_exp_base,
    "sigmoid-identity": op_sigmoid_identity,
    "stride": op_stride,
    "drop-cast": op_drop_cast,
    "store-before-update": op_store_before_update,
    "drop-where": op_drop_where,
    "drop-clamp": op_drop_clamp,
    "comparison": op_comparison,
    "epsilon": op_epsilon,
    "other-value": op_other_value,
}
