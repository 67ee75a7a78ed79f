"""Scalar arguments as Python callers pass them: plain-type checks under PEP 484's numeric tower.

An `int` is accepted where `float` is declared (and an int or float where `complex` is), as PEP 484 says
and callers do (`scale=1`, `softplus_threshold=20`). A `bool` is not accepted as an int, float or complex:
it is an int only by inheritance, and a flag in a number's place is a mistake (`topk=True` would launch a
kernel with one expert). beartype lets it through; the contract refuses it.

Only annotations with a plain answer are modelled — classes, None, Optional/Union, Literal, Annotated, the
origin class of a generic alias (`list[int]` checks `list`); anything else (`Callable`, type variables)
is not checked here, and is left to beartype in eager calls. A check is one type test per argument; under
`torch.compile` it runs at trace time, where a symbolic int (`torch.SymInt`) stands for an int.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Optional

import torch

_TOWER: dict[type, tuple[type, ...]] = {float: (int,), complex: (float, int)}
_SYMBOLIC: dict[type, type] = {torch.SymInt: int, torch.SymFloat: float, torch.SymBool: bool}


@dataclasses.dataclass(frozen=True)
class Scalar:
    """What one scalar parameter accepts: declared classes, tower promotions (never bool), literal values."""

    text: str
    classes: tuple[type, ...]
    promoted: tuple[type, ...] = ()
    literals: tuple[Any, ...] = ()

    def admits(self, value: Any) -> bool:
        kind = _SYMBOLIC.get(type(value), type(value))  # a size traced by torch.compile stands for its int
        if kind is bool and bool not in self.classes and {int, float, complex} & {*self.classes, *self.promoted}:
            return any(type(lit) is bool and value == lit for lit in self.literals)
        if issubclass(kind, self.classes):
            return True
        if self.promoted and kind is not bool and issubclass(kind, self.promoted):
            return True
        return any(kind is type(lit) and value == lit for lit in self.literals)


def _describe(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def scalar(hint: Any) -> Optional[Scalar]:
    """The Scalar check of an annotation, or None when it has no plain answer (left to beartype)."""
    if hint is None or hint is type(None):
        return Scalar("None", (type(None),))
    if hint is typing.Any:
        return None
    if isinstance(hint, type):
        return Scalar(hint.__name__, (hint,), _TOWER.get(hint, ()))
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return scalar(typing.get_args(hint)[0])
    if origin is typing.Literal:
        return Scalar(_describe(hint), (), (), typing.get_args(hint))
    if origin is typing.Union or origin is types.UnionType:
        parts = [scalar(member) for member in typing.get_args(hint)]
        if any(part is None for part in parts):
            return None
        known = [p for p in parts if p is not None]
        return Scalar(
            _describe(hint),
            sum((p.classes for p in known), ()),
            sum((p.promoted for p in known), ()),
            sum((p.literals for p in known), ()),
        )
    if isinstance(origin, type):
        return Scalar(_describe(hint), (origin,))
    return None
