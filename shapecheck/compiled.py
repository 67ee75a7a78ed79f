"""The decorator's checks under `torch.compile`: decided once per graph, while dynamo traces it.

Dynamo traces a decorated call in "shapes"/"first" mode; the check must cost the compiled step nothing per
call, yet still refuse a call that breaks the contract before any kernel runs, with the eager message.

Tracing the contract's checks (the way the decorator did before) turns every Python object they read — the
contract, its patterns, rules and check functions — into a guard that dynamo evaluates before each call of
the graph: 284 guards against the undecorated model's 13, +66 to +112 µs per decode step at N=1 on an H200.
Instead the traced code hands the call's arguments to one custom op, `shapecheck::refuse`, and the checks
run in the op's fake (meta) implementation: plain Python, called by dynamo at trace time on the traced
values, which guards nothing it reads. What the checks decide there is decided for the graph:

- sizes that are static in the graph are decided then, and bake into it;
- a condition on symbolic sizes (`HV % H == 0` under `dynamic=True`) is recorded by the shape environment
  and joins the graph's one SHAPE_ENV guard, compiled to C++ with dynamo's own size guards. A runtime
  assertion in the generated code (`torch._check` on an unbacked size) was the alternative; it would
  refuse a bad call from inside the graph with torch's message, where a guard sends the call back to dynamo,
  whose new trace refuses it with the eager message;
- the verdict comes back as the static size of the op's output (0: holds, 1: broken), a Python constant
  the traced code branches on. A refused call leaves the graph through `torch.compiler.disable` to the
  eager check, which raises the eager message.

Also measured (torch 2.13, the GDN contract): `torch._dynamo.nonstrict_trace` hands back a constant too, but
dynamo traces its pytree flattening of the arguments (about 40 guards on pytree's registry); a custom op
cannot return a bool to the trace, and an exception raised in a fake implementation ends the compile with
`TorchRuntimeError` rather than the eager message; `leaf_function` is not supported by inductor.

The op's result is used by no other node, so inductor and AOT autograd drop it: the compiled graph is the
undecorated model's (the `eager` backend runs its graph as traced, op included). What remains per call is
the guards the traced encoding adds, on the cells and builtins it reads: 9 on the GDN contract
(tests/test_guards.py holds it to 10; bench/overhead.py counts them per setting).
"""

from __future__ import annotations

import ast
import itertools
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from shapecheck.spec import Contract

_LIBRARY = torch.library.Library("shapecheck", "FRAGMENT")
_LIBRARY.define("refuse(Tensor?[] tensors, Scalar[] numbers, str[] layout) -> Tensor")
_CONTRACTS: dict[str, Contract] = {}  # by the key a layout starts with
_SERIAL = itertools.count()


def _device(tensors: Sequence[Optional[Tensor]]) -> torch.device:
    """Where the verdict tensor lives: with the call's tensors (a CPU tensor would keep a CUDA graph from
    being recorded, were the op ever kept)."""
    return next((t.device for t in tensors if t is not None), torch.device("cpu"))


def _literal(text: str) -> Any:
    """A value back from its `repr` (a float's `inf`/`nan` are no Python literals)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return float(text)


def _decode(
    tensors: Sequence[Optional[Tensor]], numbers: Sequence[Any], layout: Sequence[str]
) -> tuple[Contract, list[Any], dict[str, Any], list[Any]]:
    """The contract, positional and keyword arguments, and output (a list of 0 or 1 value) a layout names:
    `t` a tensor (the next of `tensors`), `#` a number (the next of `numbers`), `=name` the keyword of the
    value after it, `->` the output after it (`->(` or `->[` a tuple or list output, `->,` each of its
    items), anything else the `repr` of a value."""
    taken, symbolic, tokens = iter(tensors), iter(numbers), iter(layout[1:])
    value: Callable[[str], Any] = lambda token: (
        next(taken) if token == "t" else next(symbolic) if token == "#" else _literal(token)
    )
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    output: list[Any] = []
    items: list[Any] = []
    sequence: Optional[type] = None  # a tuple or list output, its items gathered in `items`
    for token in tokens:
        if token == "->":
            output.append(value(next(tokens)))
        elif token in ("->(", "->["):
            sequence = tuple if token == "->(" else list
        elif token == "->,":
            items.append(value(next(tokens)))
        elif token.startswith("="):
            kwargs[token[1:]] = value(next(tokens))
        else:
            args.append(value(token))
    if sequence is not None:
        output.append(sequence(items))
    return _CONTRACTS[layout[0]], args, kwargs, output


def refusal(c: Contract) -> Callable[[tuple[Any, ...], dict[str, Any], tuple[Any, ...]], bool]:
    """`refused(args, kwargs, output)` for traced code: whether the call (and, given `(out,)`, its output)
    breaks contract `c`, decided by the op at trace time.

    Dynamo traces this encoding, so it reads as little as it can: `isinstance`, `int`, `float` and its three
    cells (the contract's key, the op, `Tensor`), each one guard. Numbers travel as numbers (a scalar dynamo
    made dynamic has no repr), other values as their `repr` (`True` and `None` and `"kv"` read back exactly).
    A value whose `repr` is no Python literal cannot be read back, and one dynamo cannot `repr` (a list
    holding a tensor) breaks the graph inside the encoding; either way the op then runs with the call and
    decides it there (`_verdict`).
    """
    key = f"c{next(_SERIAL)}"
    _CONTRACTS[key] = c
    op, tensor = torch.ops.shapecheck.refuse.default, Tensor  # cells: one guard each, where a global costs two

    def refused(args: tuple[Any, ...], kwargs: dict[str, Any], output: tuple[Any, ...]) -> bool:
        tensors: list[Tensor] = []
        numbers: list[Any] = []
        layout = [key]

        def put(value: Any) -> None:  # made while tracing: no guard of its own
            if isinstance(value, tensor):
                tensors.append(value)
                layout.append("t")
            elif isinstance(value, (int, float)):  # bool too; a number dynamo made dynamic has no repr to read
                numbers.append(value)
                layout.append("#")
            else:
                layout.append(f"{value!r}")  # no `repr` global read: one guard fewer

        for value in args:
            put(value)
        for name, value in kwargs.items():  # a repr never starts with = or ->
            layout.append("=" + name)
            put(value)
        for result in output:  # one value, or a tuple (list) of them, spread: a tensor has no repr to trace
            if isinstance(result, (tensor, int, float)) or result is None:
                layout.append("->")
                put(result)
                continue
            layout.append("->(" if isinstance(result, tuple) else "->[")
            for item in result:
                layout.append("->,")
                put(item)
        return op(tensors, numbers, layout).shape[0] != 0

    return refused


def _verdict(tensors: Sequence[Optional[Tensor]], numbers: Sequence[Any], layout: Sequence[str]) -> Tensor:
    """The op, fake and real: run the contract's checks (no device reads) on the values; 1 element if broken.

    At trace time the values are the traced ones and the answer is baked into the graph. At run time the op
    runs only where it was kept: in the `eager` backend's graph (its answer unused: the guards already hold),
    or after a graph break inside the encoding (a value dynamo cannot `repr`), where its answer decides.
    """
    try:
        c, args, kwargs, output = _decode(tensors, numbers, layout)
        call = c.validate(c.arguments(args, kwargs), values=False)
        if output:
            c.check_output(call, output[0])
    except Exception:  # noqa: BLE001 - any failure (a check reading data it cannot read here too) is decided eagerly
        return torch.empty(1, device=_device(tensors))
    return torch.empty(0, device=_device(tensors))


_LIBRARY.impl("refuse", _verdict, "CompositeExplicitAutograd")
torch.library.register_fake("shapecheck::refuse", _verdict, lib=_LIBRARY)
