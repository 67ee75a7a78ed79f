"""Functions the analyser knows by qualified name: builtins, `math`, `triton`, torch constructors, einops.

A call is resolved through the module's imports (`import triton` makes `triton.cdiv` the name of
`triton.cdiv(K, BK)`); tensor functions such as `torch.reshape(x, s)` reuse the method semantics of
`x.reshape(s)`. Anything else is an explicit unknown.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from shapecheck.static import einops_patterns, tensorops
from shapecheck.static.symbols import cdiv, maximum, minimum, next_pow2
from shapecheck.static.tensorops import Args, Kwargs, bind, fresh, sizes
from shapecheck.static.values import NONE, Const, Site, Tensor, Tup, Value, first_unknown, is_int

Function = Callable[[Site, Args, Kwargs], Value]


def _unknown(site: Site, args: Args, kwargs: Kwargs, why: str = "arguments not understood") -> Value:
    return first_unknown((*args, *kwargs.values())) or site.unknown(why)


def _len(site: Site, args: Args, kwargs: Kwargs) -> Value:
    if len(args) == 1 and not kwargs:
        x = args[0]
        if isinstance(x, Tup):
            return sp.Integer(len(x.items))
        if isinstance(x, Tensor) and x.shape:
            return x.shape[0]
        if isinstance(x, Const) and isinstance(x.value, (str, bytes)):
            return sp.Integer(len(x.value))
    return _unknown(site, args, kwargs)


def _extremum(fn: Callable[..., sp.Expr]) -> Function:
    def call(site: Site, args: Args, kwargs: Kwargs) -> Value:
        items = args[0].items if len(args) == 1 and isinstance(args[0], Tup) else args
        if items and not kwargs and all(isinstance(v, sp.Expr) for v in items):
            return fn(*items)
        return _unknown(site, args, kwargs)

    return call


def _int(site: Site, args: Args, kwargs: Kwargs) -> Value:
    if len(args) == 1 and not kwargs and isinstance(args[0], sp.Expr):
        x = args[0]
        if x.is_integer:
            return x
        if x.is_Number:
            return sp.Integer(int(x))
    return _unknown(site, args, kwargs)


def _abs(site: Site, args: Args, kwargs: Kwargs) -> Value:
    return sp.Abs(args[0]) if len(args) == 1 and isinstance(args[0], sp.Expr) else _unknown(site, args, kwargs)


def _sequence(site: Site, args: Args, kwargs: Kwargs) -> Value:
    if not args and not kwargs:
        return Tup(())
    if len(args) == 1 and isinstance(args[0], Tup):
        return args[0]
    if len(args) == 1 and isinstance(args[0], Tensor) and args[0].shape is not None and len(args[0].shape) == 0:
        return site.unknown("iterating a 0-d tensor")
    return _unknown(site, args, kwargs)


def _prod(site: Site, args: Args, kwargs: Kwargs) -> Value:
    if len(args) == 1 and isinstance(args[0], Tup) and all(isinstance(v, sp.Expr) for v in args[0].items):
        return sp.Mul(*args[0].items)
    return _unknown(site, args, kwargs)


def _ceil(site: Site, args: Args, kwargs: Kwargs) -> Value:
    return sp.ceiling(args[0]) if len(args) == 1 and isinstance(args[0], sp.Expr) else _unknown(site, args, kwargs)


def _cdiv(site: Site, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("x", "div"))
    if b is not None and is_int(b["x"]) and is_int(b["div"]) and b["div"] != 0:
        return cdiv(b["x"], b["div"])
    return _unknown(site, args, kwargs)


def _next_pow2(site: Site, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, kwargs, ("n",))
    return next_pow2(b["n"]) if b is not None and is_int(b["n"]) else _unknown(site, args, kwargs)


_ALLOCATION_KEYWORDS = {"dtype", "device", "layout", "requires_grad", "pin_memory", "memory_format", "generator", "out"}


def _allocate(site: Site, args: Args, kwargs: Kwargs) -> Value:
    shape = sizes(args)
    if shape is not None and set(kwargs) <= _ALLOCATION_KEYWORDS:
        return fresh(shape)
    return _unknown(site, args, kwargs)


def _full(site: Site, args: Args, kwargs: Kwargs) -> Value:
    b = bind(args, {k: v for k, v in kwargs.items() if k not in _ALLOCATION_KEYWORDS}, ("size", "fill_value"))
    shape = sizes((b["size"],)) if b is not None else None
    return fresh(shape) if shape is not None else _unknown(site, args, kwargs)


def _like(site: Site, args: Args, kwargs: Kwargs) -> Value:
    if args and isinstance(args[0], Tensor) and args[0].shape is not None:
        return fresh(args[0].shape)
    return _unknown(site, args, kwargs)


def _arange(site: Site, args: Args, kwargs: Kwargs) -> Value:
    numeric = {k: v for k, v in kwargs.items() if k not in _ALLOCATION_KEYWORDS}
    b = bind(args, numeric, ("start", "end", "step"), {"end": NONE, "step": sp.Integer(1)})
    if b is None:
        return _unknown(site, args, kwargs)
    start, end = (sp.Integer(0), b["start"]) if b["end"] is NONE else (b["start"], b["end"])
    step = b["step"]
    if not (is_int(start) and is_int(end) and isinstance(step, sp.Integer) and step > 0):
        return _unknown(site, args, kwargs)
    length = end - start if site.decide(sp.Le(start, end)) is True else maximum(end - start, sp.Integer(0))
    return fresh((length if step == 1 else cdiv(length, step),))


def _tensors(site: Site, args: Args, kwargs: Kwargs) -> tuple[list[tuple], int] | Value:
    """The shapes of cat/stack's tensor list and the dim argument."""
    b = bind(args, {k: v for k, v in kwargs.items() if k != "out"}, ("tensors", "dim"), {"dim": sp.Integer(0)})
    if b is None or not isinstance(b["tensors"], Tup) or not b["tensors"].items:
        return _unknown(site, args, kwargs)
    items = b["tensors"].items
    shapes = [t.shape for t in items if isinstance(t, Tensor) and t.shape is not None]
    if len(shapes) != len(items):
        return _unknown(site, items, {}, "a tensor of the list has no known shape")
    return shapes, b["dim"]


def _cat(site: Site, args: Args, kwargs: Kwargs) -> Value:
    found = _tensors(site, args, kwargs)
    if not isinstance(found, tuple):
        return found
    shapes, dim = found
    shapes = [s for s in shapes if s != (0,)]  # torch.cat skips legacy empty 1-d tensors
    a = tensorops.axis(dim, len(shapes[0])) if shapes else None
    if a is None or any(len(s) != len(shapes[0]) for s in shapes):
        return site.unknown("cat of tensors with different ranks or a bad dim")
    return fresh((*shapes[0][:a], sp.Add(*(s[a] for s in shapes)), *shapes[0][a + 1 :]))


def _stack(site: Site, args: Args, kwargs: Kwargs) -> Value:
    found = _tensors(site, args, kwargs)
    if not isinstance(found, tuple):
        return found
    shapes, dim = found
    a = tensorops.axis(dim, len(shapes[0]), extra=1)
    if a is None or any(len(s) != len(shapes[0]) for s in shapes):
        return site.unknown("stack of tensors with different ranks or a bad dim")
    return fresh((*shapes[0][:a], sp.Integer(len(shapes)), *shapes[0][a:]))


def _size_ctor(site: Site, args: Args, kwargs: Kwargs) -> Value:
    return args[0] if len(args) == 1 and isinstance(args[0], Tup) and not kwargs else _unknown(site, args, kwargs)


def _einops(kind: str) -> Function:
    def call(site: Site, args: Args, kwargs: Kwargs) -> Value:
        extra = dict(kwargs)
        if kind == "reduce":
            extra.pop("reduction", None)
            args = args[:2] + args[3:] if len(args) >= 3 else args
        lengths = einops_patterns.lengths(extra)
        if (
            len(args) == 2
            and isinstance(args[0], Tensor)
            and isinstance(args[1], Const)
            and isinstance(args[1].value, str)
            and lengths is not None
        ):
            return einops_patterns.apply(site, kind, args[0], args[1].value, lengths)
        return _unknown(site, args, kwargs)

    return call


def _matmul(site: Site, args: Args, kwargs: Kwargs) -> Value:
    if len(args) == 2 and isinstance(args[0], Tensor):
        return tensorops.method(site, args[0], "matmul", args[1:], kwargs)
    return _unknown(site, args, kwargs)


FUNCTIONS: dict[str, Function] = {
    "builtins.len": _len,
    "builtins.min": _extremum(minimum),
    "builtins.max": _extremum(maximum),
    "builtins.int": _int,
    "builtins.abs": _abs,
    "builtins.tuple": _sequence,
    "builtins.list": _sequence,
    "math.prod": _prod,
    "math.ceil": _ceil,
    "triton.cdiv": _cdiv,
    "triton.language.cdiv": _cdiv,
    "triton.next_power_of_2": _next_pow2,
    "torch.empty": _allocate,
    "torch.zeros": _allocate,
    "torch.ones": _allocate,
    "torch.rand": _allocate,
    "torch.randn": _allocate,
    "torch.full": _full,
    "torch.empty_like": _like,
    "torch.zeros_like": _like,
    "torch.ones_like": _like,
    "torch.full_like": _like,
    "torch.rand_like": _like,
    "torch.randn_like": _like,
    "torch.arange": _arange,
    "torch.cat": _cat,
    "torch.concat": _cat,
    "torch.concatenate": _cat,
    "torch.stack": _stack,
    "torch.Size": _size_ctor,
    "torch.matmul": _matmul,
    "torch.mm": _matmul,
    "torch.bmm": _matmul,
    "einops.rearrange": _einops("rearrange"),
    "einops.repeat": _einops("repeat"),
    "einops.reduce": _einops("reduce"),
}
_TENSOR_MODULES = ("torch", "torch.nn.functional", "torch.special")


_ALIASES = {"tl": "triton.language"}  # the conventional names a re-exporting module binds


def canonical(qualname: str) -> str:
    """The known name a re-export or alias stands for: `vllm.triton_utils.triton.cdiv` is `triton.cdiv`,
    `pkg.tl.cdiv` is `triton.language.cdiv` (the longest known suffix wins); else `qualname` itself."""
    if qualname in FUNCTIONS:
        return qualname
    parts = qualname.split(".")
    for i in range(1, len(parts)):
        tail = ".".join(parts[i:])
        if tail in FUNCTIONS:
            return tail
        alias = _ALIASES.get(parts[i])
        if alias is not None and ".".join([alias, *parts[i + 1 :]]) in FUNCTIONS:
            return ".".join([alias, *parts[i + 1 :]])
    return qualname


def call(site: Site, qualname: str, args: Args, kwargs: Kwargs) -> Value:
    """The value of calling the function named `qualname` (through aliases and re-exports)."""
    qualname = canonical(qualname)
    fn = FUNCTIONS.get(qualname)
    if fn is not None:
        return fn(site, args, kwargs)
    module, _, name = qualname.rpartition(".")
    if module in _TENSOR_MODULES and name in tensorops.METHODS and args and isinstance(args[0], Tensor):
        return tensorops.method(site, args[0], name, args[1:], kwargs)
    return _unknown(site, (), {}, f"`{qualname}` is not modelled")
