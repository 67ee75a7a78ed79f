"""Shape semantics of tensor operations: what each does to a symbolic shape, and what it needs proved.

Each operation takes the `Site` (proofs, notes, findings), the tensor and the call's arguments. Sizes may
be symbolic; axis numbers must be concrete, else the result is unknown. An operation that would raise at
run time unless sizes agree (view, cat, matmul) returns the shape it has when it succeeds; one whose
result depends on a size it cannot decide (`squeeze` of an axis that may or may not be 1) is unknown and
reported.

Over 400 lines because it is one table: ~100 tensor methods served by 42 short handlers, looked up by name.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import sympy as sp

from shapecheck.static.symbols import maximum, minimum, show, stride
from shapecheck.static.values import NONE, Const, Site, Slice, Tensor, Tup, Unknown, Value, first_unknown, is_int

Args = tuple[Value, ...]
Kwargs = Mapping[str, Value]
Shape = tuple[sp.Expr, ...]


def bind(args: Args, kwargs: Kwargs, names: Sequence[str], defaults: Mapping[str, object] = {}) -> Optional[dict]:
    """Bind arguments to parameter names as Python would; None when the call does not fit."""
    if len(args) > len(names):
        return None
    bound: dict = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            return None
        bound[key] = value
    for name in names:
        if name not in bound:
            if name not in defaults:
                return None
            bound[name] = defaults[name]
    return bound


def axis(value: object, rank: int, extra: int = 0) -> Optional[int]:
    """A concrete axis number in [0, rank + extra), negatives counted from the end; else None."""
    if not (isinstance(value, sp.Integer) or isinstance(value, int)):
        return None
    n, size = int(value), rank + extra
    n = n + size if n < 0 else n
    return n if 0 <= n < size else None


def axes(value: object, rank: int) -> Optional[list[int]]:
    """One axis or a tuple of axes."""
    items = value.items if isinstance(value, Tup) else (value,)
    found = [axis(v, rank) for v in items]
    return None if any(a is None for a in found) else found  # type: ignore[return-value]  # no None left: tested


def sizes(args: Args) -> Optional[Shape]:
    """torch's size convention: `f(2, 3)` or `f((2, 3))`; None unless every size is an integer."""
    if len(args) == 1 and isinstance(args[0], Tup):
        args = args[0].items
    return tuple(args) if all(is_int(a) for a in args) else None


def numel(shape: Shape) -> sp.Expr:
    return sp.Mul(*shape)


def contiguous(shape: Shape) -> Shape:
    """Row-major strides of a fresh tensor."""
    out, running = [], sp.Integer(1)
    for size in reversed(shape):
        out.append(running)
        running = running * size
    return tuple(reversed(out))


def fresh(shape: Shape) -> Tensor:
    """A tensor created by the analysed code: contiguous, so its strides are known."""
    return Tensor(shape, strides=contiguous(shape))


def _shape_of(site: Site, t: Tensor) -> Shape | Unknown:
    return t.shape if t.shape is not None else site.unknown(t.why or "shape not known")


def _unknown_args(site: Site, args: Args, kwargs: Kwargs) -> Unknown:
    return first_unknown((*args, *kwargs.values())) or site.unknown("arguments not understood")


def broadcast(site: Site, shapes: Sequence[Shape]) -> Shape | Unknown:
    """numpy broadcasting of symbolic shapes; sizes must be provably equal or 1."""
    rank = max(len(s) for s in shapes)
    out: list[sp.Expr] = []
    for i in range(rank):
        column = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        sizes_ = [d for d in column if d != 1]
        chosen = sizes_[0] if sizes_ else sp.Integer(1)
        for d in sizes_[1:]:
            if d != chosen and site.equal(d, chosen) is None:
                return site.unknown(f"cannot prove {show(d)} and {show(chosen)} broadcast")
        out.append(chosen)
    return tuple(out)


def elementwise(site: Site, operands: Sequence[Value]) -> Value:
    """Result of an elementwise op over tensors and scalars."""
    found = first_unknown(operands)
    if found is not None:
        return found
    shapes = []
    for value in operands:
        if isinstance(value, Tensor):
            shape = _shape_of(site, value)
            if isinstance(shape, Unknown):
                return shape
            shapes.append(shape)
        elif not isinstance(value, sp.Basic):
            return site.unknown("operand is not a tensor or a number")
    out = broadcast(site, shapes) if shapes else ()
    return out if isinstance(out, Unknown) else Tensor(out)


def _matmul(site: Site, a: Shape, b: Shape) -> Shape | Unknown:
    if not a or not b:
        return site.unknown("matmul of a 0-d tensor")
    left, right = (a if len(a) > 1 else (sp.Integer(1), *a)), (b if len(b) > 1 else (*b, sp.Integer(1)))
    batch = broadcast(site, [left[:-2], right[:-2]])
    if isinstance(batch, Unknown):
        return batch
    out = (*batch, *left[-2:-1], *right[-1:])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


# --- methods -----------------------------------------------------------------------------------

Method = Callable[[Site, Tensor, Shape, Args, Kwargs], Value]


def _size(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim",), {"dim": NONE})
    if b is None:
        return _unknown_args(site, args, kwargs)
    if b["dim"] is NONE:
        return Tup(shape)
    a = axis(b["dim"], len(shape))
    return shape[a] if a is not None else site.unknown("axis out of range or not a constant")


def _stride(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim",), {"dim": NONE})
    if b is None:
        return _unknown_args(site, args, kwargs)
    if t.strides is not None:
        strides: Shape = t.strides
    elif t.origin is not None:
        strides = tuple(stride(t.origin, i) for i in range(len(shape)))
    else:
        return site.unknown("strides of a derived tensor are not modelled")
    if b["dim"] is NONE:
        return Tup(strides)
    a = axis(b["dim"], len(shape))
    return strides[a] if a is not None else site.unknown("axis out of range or not a constant")


def _reshape(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    if len(args) == 1 and not isinstance(args[0], Tup) and not is_int(args[0]):
        return site.unknown("view(dtype) reinterprets elements")  # x.view(torch.int8)
    wanted = sizes(args)
    if wanted is None:
        return _unknown_args(site, args, kwargs)
    holes = [i for i, d in enumerate(wanted) if d == -1]
    if len(holes) > 1:
        return site.unknown("more than one -1")
    total = numel(shape)
    if holes:
        known = numel(tuple(d for d in wanted if d != -1))
        solved = total / known
        if solved.is_integer is not True:
            site.issue("SC003", f"-1 is {show(total)} / ({show(known)}): not provably a whole number of elements")
        else:
            site.note(f"-1 = {show(total)} / ({show(known)}) = {show(solved)}")
        wanted = tuple(solved if i == holes[0] else d for i, d in enumerate(wanted))
    elif site.equal(numel(wanted), total) is None:
        site.issue(
            "SC003",
            f"element count {show(numel(wanted))} is not provably {show(total)} "
            f"(the input [{', '.join(map(show, shape))}])",
        )
    return fresh(wanted)


def _like(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    other = args[0] if len(args) == 1 else kwargs.get("other")
    if isinstance(other, Tensor) and other.shape is not None:
        return _reshape(site, t, shape, (Tup(other.shape),), {})
    return _unknown_args(site, args, kwargs)


def _squeeze(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim",), {"dim": NONE})
    if b is None:
        return _unknown_args(site, args, kwargs)
    chosen = list(range(len(shape))) if b["dim"] is NONE else axes(b["dim"], len(shape))
    if chosen is None:
        return _unknown_args(site, args, kwargs)
    drop: list[int] = []
    for a in chosen:
        size = shape[a]
        why = site.equal(size, sp.Integer(1))
        if why is not None:
            drop.append(a)
            site.note(f"squeeze({a}) drops {show(size)}: " + (why or f"{show(size)} == 1"))
            continue
        never_one = site.decide(sp.Ne(size, 1)) is True
        if never_one and b["dim"] is not NONE:
            site.issue("SC002", f"squeeze({a}) is a no-op: axis {a} has size {show(size)}, never 1")
        elif not never_one:
            site.issue(
                "SC002", f"squeeze({'' if b['dim'] is NONE else a}): axis {a} has size {show(size)}, not provably 1"
            )
            return site.unknown(f"rank depends on whether {show(size)} == 1")
    return Tensor(tuple(d for i, d in enumerate(shape) if i not in drop))


def _unsqueeze(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim",))
    a = axis(b["dim"], len(shape), extra=1) if b else None
    if a is None:
        return _unknown_args(site, args, kwargs)
    return Tensor((*shape[:a], sp.Integer(1), *shape[a:]))


def _transpose(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim0", "dim1"))
    i, j = (axis(b["dim0"], len(shape)), axis(b["dim1"], len(shape))) if b else (None, None)
    if i is None or j is None:
        return _unknown_args(site, args, kwargs)
    out = list(shape)
    out[i], out[j] = out[j], out[i]
    return Tensor(tuple(out))


def _t(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    return Tensor(tuple(reversed(shape))) if len(shape) <= 2 else site.unknown(".t() of a tensor with more than 2 axes")


def _permute(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    order: Value
    if len(args) == 1 and isinstance(args[0], Tup):
        order = args[0]
    else:
        order = kwargs.get("dims", Tup(args))
    found = [axis(a, len(shape)) for a in order.items] if isinstance(order, Tup) else []
    if len(found) != len(shape) or None in found or len(set(found)) != len(found):
        return _unknown_args(site, args, kwargs)
    return Tensor(tuple(shape[a] for a in found))  # type: ignore[index]  # no None left: tested above


def _movedim(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("source", "destination"))
    if b is None:
        return _unknown_args(site, args, kwargs)
    src, dst = axes(b["source"], len(shape)), axes(b["destination"], len(shape))
    if src is None or dst is None or len(src) != len(dst):
        return _unknown_args(site, args, kwargs)
    rest = [a for a in range(len(shape)) if a not in src]
    order: list[Optional[int]] = [None] * len(shape)
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    return Tensor(tuple(shape[a if a is not None else next(it)] for a in order))


def _flatten(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("start_dim", "end_dim"), {"start_dim": sp.Integer(0), "end_dim": sp.Integer(-1)})
    if not shape:
        return Tensor((sp.Integer(1),))
    i, j = (axis(b["start_dim"], len(shape)), axis(b["end_dim"], len(shape))) if b else (None, None)
    if i is None or j is None or i > j:
        return _unknown_args(site, args, kwargs)
    return Tensor((*shape[:i], numel(shape[i : j + 1]), *shape[j + 1 :]))


def _unflatten(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim", "sizes"))
    a = axis(b["dim"], len(shape)) if b else None
    parts = sizes((b["sizes"],)) if b else None
    if a is None or parts is None:
        return _unknown_args(site, args, kwargs)
    inner = _reshape(site, t, (shape[a],), (Tup(parts),), {})
    if not isinstance(inner, Tensor) or inner.shape is None:
        return inner
    return Tensor((*shape[:a], *inner.shape, *shape[a + 1 :]))


def _expand(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    wanted = sizes(args)
    if wanted is None or len(wanted) < len(shape):
        return _unknown_args(site, args, kwargs)
    lead = len(wanted) - len(shape)
    return Tensor(tuple(shape[i - lead] if d == -1 and i >= lead else d for i, d in enumerate(wanted)))


def _expand_as(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    other = args[0] if len(args) == 1 else None
    return (
        Tensor(other.shape)
        if isinstance(other, Tensor) and other.shape is not None
        else _unknown_args(site, args, kwargs)
    )


def _repeat(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    times = sizes(args)
    if times is None or len(times) < len(shape):
        return _unknown_args(site, args, kwargs)
    padded = (sp.Integer(1),) * (len(times) - len(shape)) + shape
    return Tensor(tuple(d * r for d, r in zip(padded, times)))


def _new(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    wanted = sizes(args)
    return fresh(wanted) if wanted is not None else _unknown_args(site, args, kwargs)


def _new_full(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("size", "fill_value"))
    wanted = sizes((b["size"],)) if b else None
    return fresh(wanted) if wanted is not None else _unknown_args(site, args, kwargs)


def _same(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    return Tensor(shape)


def _contiguous(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    return fresh(shape)


def _binary(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    other = args[0] if args else kwargs.get("other")
    return elementwise(site, [t, other]) if other is not None else _unknown_args(site, args, kwargs)


def _where(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    return elementwise(site, [t, *args]) if len(args) == 2 and not kwargs else _unknown_args(site, args, kwargs)


def _reduce(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    kwargs = {k: v for k, v in kwargs.items() if k != "dtype"}
    b = bind(args, kwargs, ("dim", "keepdim"), {"dim": NONE, "keepdim": sp.false})
    if b is None or b["keepdim"] not in (sp.true, sp.false):
        return _unknown_args(site, args, kwargs)
    chosen = list(range(len(shape))) if b["dim"] is NONE else axes(b["dim"], len(shape))
    if chosen is None:
        return _unknown_args(site, args, kwargs)
    if b["keepdim"] == sp.true:
        return Tensor(tuple(sp.Integer(1) if i in chosen else d for i, d in enumerate(shape)))
    return Tensor(tuple(d for i, d in enumerate(shape) if i not in chosen))


def _along(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    """softmax/cumsum(dim): shape kept, the axis must exist."""
    dim_ = args[0] if args else kwargs.get("dim")
    return Tensor(shape) if axis(dim_, len(shape)) is not None else _unknown_args(site, args, kwargs)


def _matmul_method(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    other = args[0] if len(args) == 1 and not kwargs else None
    if not isinstance(other, Tensor) or other.shape is None:
        return _unknown_args(site, args, kwargs)
    out = _matmul(site, shape, other.shape)
    return out if isinstance(out, Unknown) else Tensor(out)


def _repeat_interleave(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, {k: v for k, v in kwargs.items() if k != "output_size"}, ("repeats", "dim"), {"dim": NONE})
    if b is None or not is_int(b["repeats"]):
        return _unknown_args(site, args, kwargs)  # a tensor of per-element repeats has a data-dependent size
    if b["dim"] is NONE:
        return Tensor((numel(shape) * b["repeats"],))
    a = axis(b["dim"], len(shape))
    if a is None:
        return _unknown_args(site, args, kwargs)
    return Tensor(tuple(d * b["repeats"] if i == a else d for i, d in enumerate(shape)))


def _unbind(site: Site, t: Tensor, shape: Shape, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("dim",), {"dim": sp.Integer(0)})
    a = axis(b["dim"], len(shape)) if b else None
    if a is None or not (shape[a].is_Integer and int(shape[a]) <= 64):
        return site.unknown("unbind along an axis whose size is not a small constant")
    part = Tensor(shape[:a] + shape[a + 1 :])
    return Tup((part,) * int(shape[a]))


_ELEMENTWISE = (
    "float half bfloat16 double int long bool short byte char cpu cuda to type type_as clone detach abs exp exp2 "
    "log log2 log1p expm1 sigmoid sqrt rsqrt neg negative relu tanh sin cos sign square reciprocal clamp clamp_ "
    "clamp_min clamp_max clip nan_to_num masked_fill masked_fill_ fill_ zero_ copy_ requires_grad_ pin_memory "
    "float_power floor ceil round trunc frac exp_ sigmoid_ mul_ add_ sub_ div_ logical_not bitwise_not isnan isinf isfinite "
    "silu gelu softplus normalize dropout layer_norm rms_norm l2norm"
).split()
_BINARY = "add sub mul div true_divide floor_divide remainder fmod pow maximum minimum eq ne lt le gt ge logical_and logical_or bitwise_and bitwise_or".split()
_REDUCTIONS = "sum mean amax amin prod any all norm logsumexp std var count_nonzero nansum".split()

METHODS: dict[str, Method] = {
    "size": _size,
    "stride": _stride,
    "view": _reshape,
    "reshape": _reshape,
    "view_as": _like,
    "reshape_as": _like,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "transpose": _transpose,
    "swapaxes": _transpose,
    "swapdims": _transpose,
    "t": _t,
    "permute": _permute,
    "movedim": _movedim,
    "moveaxis": _movedim,
    "flatten": _flatten,
    "unflatten": _unflatten,
    "expand": _expand,
    "broadcast_to": _expand,
    "expand_as": _expand_as,
    "repeat": _repeat,
    "new_empty": _new,
    "new_zeros": _new,
    "new_ones": _new,
    "new_full": _new_full,
    "contiguous": _contiguous,
    "where": _where,
    "matmul": _matmul_method,
    "mm": _matmul_method,
    "bmm": _matmul_method,
    "softmax": _along,
    "log_softmax": _along,
    "cumsum": _along,
    "cumprod": _along,
    "unbind": _unbind,
    "repeat_interleave": _repeat_interleave,
    **{name: _same for name in _ELEMENTWISE},
    **{name: _binary for name in _BINARY},
    **{name: _reduce for name in _REDUCTIONS},
}
RESHAPING_IN_PLACE = {
    "squeeze_": "squeeze",
    "unsqueeze_": "unsqueeze",
    "transpose_": "transpose",
    "t_": "t",
    "swapaxes_": "swapaxes",
    "swapdims_": "swapdims",
    "resize_": "reshape",
}


SHAPE_FREE = frozenset({"new_empty", "new_zeros", "new_ones", "new_full"})
"""Methods whose result does not depend on the receiver's shape (nor on `dtype=`/`device=`)."""
_OPTIONS = frozenset({"dtype", "device", "layout", "requires_grad", "pin_memory", "memory_format"})


def method(site: Site, t: Tensor, name: str, args: Args, kwargs: Kwargs) -> Value:
    """`t.name(*args, **kwargs)`."""
    name = RESHAPING_IN_PLACE.get(name, name)
    if name in SHAPE_FREE:
        sized = {k: v for k, v in kwargs.items() if k not in _OPTIONS}
        found = first_unknown((*args, *sized.values()))
        return found if found is not None else METHODS[name](site, t, (), args, sized)
    if name in ("dim", "ndimension"):
        return sp.Integer(len(t.shape)) if t.shape is not None else site.unknown(t.why or "rank not known")
    if name in ("numel", "nelement"):
        return numel(t.shape) if t.shape is not None else site.unknown(t.why or "shape not known")
    handler = METHODS.get(name)
    if handler is None:
        return site.unknown(f"tensor method .{name}() is not modelled")
    shape = _shape_of(site, t)
    if isinstance(shape, Unknown):
        return shape
    found = first_unknown((*args, *kwargs.values()))
    if found is not None and handler not in (_same, _contiguous, _stride):
        return found
    return handler(site, t, shape, args, kwargs)


def attribute(site: Site, t: Tensor, name: str) -> Value:
    """`t.shape`, `t.ndim`, `t.T`, `t.mT`."""
    if t.shape is None:
        return site.unknown(t.why or "shape not known")
    if name == "shape":
        return Tup(t.shape)
    if name == "ndim":
        return sp.Integer(len(t.shape))
    if name == "T":
        return Tensor(tuple(reversed(t.shape)))
    if name == "mT" and len(t.shape) >= 2:
        return Tensor((*t.shape[:-2], t.shape[-1], t.shape[-2]))
    return site.unknown(f"tensor attribute .{name} is not modelled")


def _slice_length(site: Site, size: sp.Expr, lower: Value, upper: Value, step: Value) -> sp.Expr | Unknown:
    def clamp(bound: Value, default: sp.Expr) -> sp.Expr | None:
        if bound is NONE:
            return default
        if not is_int(bound):
            return None
        if bound.is_negative:
            value = size + bound
        elif bound.is_nonnegative:
            value = bound
        else:
            return None  # a sign the analysis does not know: counted from the start or the end?
        return value if site.decide(sp.Le(value, size)) is True else minimum(value, size)

    start, stop = clamp(lower, sp.Integer(0)), clamp(upper, size)
    if start is None or stop is None or not (step is NONE or (isinstance(step, sp.Integer) and step > 0)):
        return site.unknown("slice bounds not understood")
    length = stop - start if site.decide(sp.Le(start, stop)) is True else maximum(stop - start, sp.Integer(0))
    return length if step is NONE or step == 1 else sp.ceiling(length / step)


def index(site: Site, t: Tensor, key: Value) -> Value:
    """`t[key]`: integers drop an axis, slices shorten one, None adds one, `...` fills; one index tensor."""
    shape = _shape_of(site, t)
    if isinstance(shape, Unknown):
        return shape
    items = key.items if isinstance(key, Tup) else (key,)
    found = first_unknown(items)
    if found is not None:
        return found
    explicit = sum(1 for k in items if not (k is NONE or k == Const(Ellipsis)))
    if explicit > len(shape) or sum(1 for k in items if k == Const(Ellipsis)) > 1:
        return site.unknown("too many indices")
    out: list[sp.Expr] = []
    pos, advanced = 0, 0
    for k in items:
        if k is NONE:
            out.append(sp.Integer(1))
        elif k == Const(Ellipsis):
            take = len(shape) - explicit
            out.extend(shape[pos : pos + take])
            pos += take
        elif isinstance(k, Slice):
            length = _slice_length(site, shape[pos], k.lower, k.upper, k.step)
            if isinstance(length, Unknown):
                return length
            out.append(length)
            pos += 1
        elif is_int(k):
            pos += 1
        elif isinstance(k, Tensor) and k.shape is not None and advanced == 0:
            out.extend(k.shape)
            pos, advanced = pos + 1, 1
        else:
            return site.unknown("advanced indexing is not modelled")
    return Tensor((*out, *shape[pos:]))
