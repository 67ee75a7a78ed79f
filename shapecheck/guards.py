"""Which calls the decorator has already checked, decided by torch's own C++ tensor guards.

`first` and `shapes` modes trust a call whose signature — the layout of its arguments (how many positional,
which keywords), each tensor's type, dtype, device, sizes, strides, requires_grad and dispatch keys, and each
scalar's type and value — equals that of a call already checked. Whether a call is such a call is the
question dynamo asks before it runs a compiled graph, so it is answered here the way dynamo answers it:
`torch._C._dynamo.guards.TensorGuards` compares every tensor of the call against the checked call's in one
C++ call. Reading the same metadata from Python costs about 0.3 µs a tensor (a decode step passes 9-11), and
so did the dict key the decorator used before; the guard reads it without building a Python object.

A call is remembered only when its scalars are plain immutable values (None, bool, int, float, str) and its
tensors are plain `torch.Tensor`s or `nn.Parameter`s (a model's weights): a tensor subclass (which may report
sizes of its own) or a mutable argument is checked on every call.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Optional

from torch import Tensor
from torch._C._dynamo.guards import TensorGuards
from torch.nn import Parameter

_SCALARS = (type(None), bool, int, float, str)
_TENSORS = (Tensor, Parameter)  # the guard compares the exact type too


def _picker(positions: tuple[Any, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """`itemgetter` that returns a tuple for any number of positions (it returns the bare item for one)."""
    if len(positions) == 1:
        (only,) = positions
        return lambda values: (values[only],)
    return itemgetter(*positions) if positions else (lambda values: ())


def _tensor_guard(tensors: tuple[Tensor, ...]) -> TensorGuards:
    """Dynamo's C++ check that tensors have these tensors' metadata (all of it static: no dynamic dims)."""
    return TensorGuards(*tensors, dynamic_dims_sizes=None, dynamic_dims_strides=None)


class Signature:
    """One checked call's signature, and the C++ guard that tells whether another call has it."""

    __slots__ = (
        "_guard",
        "_keywords",
        "_n",
        "_scalar_types",
        "_scalar_values",
        "_scalars",
        "_tensors",
        "output",
        "output_arity",
    )

    def __init__(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], tensors: tuple[int, ...], scalars: tuple[int, ...]
    ) -> None:
        values = (*args, *kwargs.values())
        self._n, self._keywords = len(args), tuple(kwargs)
        self._tensors, self._scalars = _picker(tensors), _picker(scalars)
        self._scalar_values = self._scalars(values)
        self._scalar_types = tuple(map(type, self._scalar_values))
        self._guard = _tensor_guard(self._tensors(values))
        self.output: Optional[TensorGuards] = None  # "shapes": the checked call's output's tensors
        self.output_arity: Optional[int] = None  # None: one tensor; n: a tuple of n tensors

    def matches(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether this call has this signature: one C++ guard call for the tensors, a tuple compare for the rest.

        The scalars' types are compared too: `True == 1 == 1.0`, but a bool where a float is declared is refused.
        """
        if len(args) != self._n or tuple(kwargs) != self._keywords:
            return False
        values = (*args, *kwargs.values()) if kwargs else args
        scalars = self._scalars(values)
        return (
            scalars == self._scalar_values
            and tuple(map(type, scalars)) == self._scalar_types
            and self._guard.check(*self._tensors(values))
        )

    def same_output(self, out: Any) -> bool:
        """Whether `out` has the metadata of the output checked with this signature (a tensor, or a tuple of them)."""
        if self.output is None:
            return False
        if self.output_arity is None:
            return type(out) is Tensor and self.output.check(out)
        return type(out) is tuple and len(out) == self.output_arity and self.output.check(*out)


def signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[Signature]:
    """The signature of a call that may be remembered, or None (a tensor subclass, a mutable argument)."""
    tensors, scalars = [], []
    for i, value in enumerate((*args, *kwargs.values())):
        if type(value) in _TENSORS:
            tensors.append(i)
        elif type(value) in _SCALARS:
            scalars.append(i)
        else:
            return None
    return Signature(args, kwargs, tuple(tensors), tuple(scalars))


def remember_output(sig: Signature, out: Any) -> None:
    """Keep the checked output's metadata, so a later call with this signature can skip its output check
    when its output has the same metadata (one C++ guard call). Other results (None, scalars) are checked
    on every call: their check is as cheap as any guard."""
    if type(out) is Tensor:
        sig.output = _tensor_guard((out,))
    elif type(out) is tuple and out and all(type(x) is Tensor for x in out):
        sig.output, sig.output_arity = _tensor_guard(out), len(out)


def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[tuple[Any, ...]]:
    """A hashable summary of a call (layout, tensor sizes, scalars) that narrows the signatures to try, or
    None when the call cannot have a remembered signature. Built only when the last signature missed."""
    values = (*args, *kwargs.values())
    if any(type(v) not in _TENSORS and type(v) not in _SCALARS for v in values):
        return None
    return (len(args), *kwargs, *[v.shape if type(v) in _TENSORS else (type(v), v) for v in values])


class Checked:
    """The signatures checked so far: the last one matched is tried first (a decode loop repeats one
    signature), then those whose sizes and scalars are this call's (a serving engine's batch sizes)."""

    def __init__(self) -> None:
        self.last: Optional[Signature] = None
        self._index: dict[tuple[Any, ...], list[Signature]] = {}

    def find(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[Signature]:
        """The remembered signature of a call that `last` did not match, or None; a hit becomes `last`."""
        key = _key(args, kwargs)
        for sig in self._index.get(key, ()) if key is not None else ():
            if sig is not self.last and sig.matches(args, kwargs):
                self.last = sig
                return sig
        return None

    def add(self, sig: Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        key = _key(args, kwargs)
        if key is not None:
            self._index.setdefault(key, []).append(sig)
        self.last = sig
