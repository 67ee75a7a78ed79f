"""Which calls the decorator has already checked, decided in C++.

`first` and `shapes` modes trust a call whose signature — the layout of its arguments (how many positional,
which keywords), each tensor's type, dtype, device, sizes, strides, requires_grad and dispatch keys, and each
scalar's type and value — equals that of a call already checked. Whether a call is such a call is the
question dynamo asks before it runs a compiled graph, about the same fields: here it is asked in one C++ call
(`shapecheck.native`), the arguments' counts and keywords, each scalar (the checked object itself, or an equal
value of the same type), and every tensor compared without building a Python object per tensor. Where the
native check is not built, the question is one expression generated for the signature (as `dataclasses`
generates its methods), each value read straight from the call's `args` and `kwargs`, around dynamo's own
`TensorGuards`. Either way a hit builds no tuple of the call's values and no key.

A call is remembered only when its scalars are plain immutable values (None, bool, int, float, str) and its
tensors are plain `torch.Tensor`s or `nn.Parameter`s (a model's weights): a tensor subclass (which may report
sizes of its own) or a mutable argument is checked on every call.
"""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor
from torch.nn import Parameter

from shapecheck.native import Check, Matcher, call_check, tensor_check

_SCALARS = (type(None), bool, int, float, str)
_TENSORS = (Tensor, Parameter)  # the check compares the exact type too


def _plain(value: Any) -> bool:
    """A tensor the C++ check can describe: a plain tensor or parameter, not nested (no plain sizes)."""
    return type(value) in _TENSORS and not value.is_nested


def _matcher(args: tuple[Any, ...], kwargs: dict[str, Any], tensors: list[int], scalars: list[int]) -> Matcher:
    """`matches(args, kwargs)` for this call's signature: the counts of positional and keyword arguments and
    the keywords' names, each scalar (the checked object, else the same exact type and an equal value: `True ==
    1 == 1.0`, but a bool where a float is declared is refused), which arguments are one tensor (each is checked
    once: q passed as k too), then the tensors' metadata. In one C++ call where the native check is built
    (`shapecheck.native`); else as a generated expression around TensorGuards, each value read where the call
    puts it (`a[3]`, `k['scale']`): its source holds only indices and the keywords' `repr`s, the checked values
    are its globals."""
    native = call_check(args, kwargs, tuple(tensors))
    if native is not None:
        return native
    n, names = len(args), tuple(kwargs)
    values = (*args, *kwargs.values())
    at = lambda i: f"a[{i}]" if i < n else f"k[{names[i - n]!r}]"
    terms = [f"len(a) == {n}", f"len(k) == {len(names)}", *(f"{name!r} in k" for name in names)]
    terms += [f"((s{j} := {at(i)}) is v{j} or type(s{j}) is t{j} and s{j} == v{j})" for j, i in enumerate(scalars)]
    first: dict[int, int] = {}  # each tensor object's first argument: TensorGuards refuses one tensor given twice
    for i in tensors:
        first.setdefault(id(values[i]), i)
    terms += [f"{at(i)} is {at(first[id(values[i])])}" for i in tensors if first[id(values[i])] != i]
    terms.append(f"check({', '.join(map(at, first.values()))})")
    namespace = {"check": tensor_check(tuple(values[i] for i in first.values()))}
    for j, i in enumerate(scalars):
        namespace[f"v{j}"], namespace[f"t{j}"] = values[i], type(values[i])
    matches: Matcher = eval(f"lambda a, k: {' and '.join(terms)}", namespace)  # source: indices, keywords by repr
    return matches


class Signature:
    """One checked call's signature: `matches(args, kwargs)` tells whether another call has it."""

    __slots__ = ("matches", "output", "output_arity")

    def __init__(self, matches: Matcher) -> None:
        self.matches = matches
        self.output: Optional[Check] = None  # "shapes": the check of the checked call's output's tensors
        self.output_arity: Optional[int] = None  # None: one tensor; n: a tuple of n tensors

    def same_output(self, out: Any) -> bool:
        """Whether `out` has the metadata of the output checked with this signature (a tensor, or a tuple of them)."""
        if self.output is None:
            return False
        if self.output_arity is None:
            return type(out) is Tensor and self.output(out)
        return type(out) is tuple and len(out) == self.output_arity and self.output(*out)


def signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[Signature]:
    """The signature of a call that may be remembered, or None (a tensor subclass, a nested tensor, a mutable
    argument)."""
    tensors, scalars = [], []
    for i, value in enumerate((*args, *kwargs.values())):
        if _plain(value):
            tensors.append(i)
        elif type(value) in _SCALARS:
            scalars.append(i)
        else:
            return None
    return Signature(_matcher(args, kwargs, tensors, scalars))


def remember_output(sig: Signature, out: Any) -> None:
    """Keep the checked output's metadata, so a later call with this signature can skip its output check
    when its output has the same metadata (one C++ check). Other results (None, scalars) are checked
    on every call: their check is as cheap as any guard."""
    if type(out) is Tensor and not out.is_nested:
        sig.output = tensor_check((out,))
    elif type(out) is tuple and out and all(type(x) is Tensor and not x.is_nested for x in out):
        sig.output, sig.output_arity = tensor_check(out), len(out)


def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[tuple[Any, ...]]:
    """A hashable summary of a call (layout, tensor sizes, scalars) that narrows the signatures to try, or
    None when the call cannot have a remembered signature. Built only when the last signature missed."""
    values = (*args, *kwargs.values())
    if any(not _plain(v) and type(v) not in _SCALARS for v in values):
        return None
    return (len(args), *kwargs, *[(type(v), v) if type(v) in _SCALARS else v.shape for v in values])


class Checked:
    """The signatures checked so far: the last one matched is tried first (a decode loop repeats one
    signature), then those whose sizes and scalars are this call's (a serving engine's batch sizes)."""

    __slots__ = ("_index", "last")

    def __init__(self) -> None:
        self.last = Signature(lambda args, kwargs: False)  # no call has it: a hit path without a None test
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
