"""What a kernel returns, as its contract declares it: nothing, one tensor, or a tuple of tensors.

Real kernels return all three: a rotary or KV-cache write updates its arguments and returns `None`, most
kernels return one tensor, MoE routing returns `(weights, ids)`, a recurrent layer `(o, final_state)` with
the state only when a flag asks for it. The return annotation says which, once:

    -> None
    -> Float[Tensor, "N D"]
    -> tuple[Float[Tensor, "T K"], Int32[Tensor, "T K"]]
    -> tuple[Float[Tensor, "B T HV V"], Optional[Float[Tensor, "N HV K V"]]]

Each element is a named `Output` (`Contract(outputs=("weights", "ids"))` names them; by default "output",
or "output[0]", "output[1]" for a tuple). The decorator checks every element's shape, dtype and device,
and the property run judges each against the same element of the reference's results.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Optional, Sequence

from shapecheck import dims as _dims


@dataclasses.dataclass(frozen=True)
class Output:
    """One returned element: its name (in findings and error keys) and its annotation."""

    name: str
    spec: _dims.TensorSpec  # `optional`: the element may be None (a final state returned only on request)


@dataclasses.dataclass(frozen=True)
class Returns:
    """The declared form of a call's result and its elements."""

    form: str  # "none", "tensor" or "tuple"
    outputs: tuple[Output, ...] = ()

    def describe(self) -> str:
        if self.form == "none":
            return "None"
        parts = [f"{o.name}: {o.spec.describe()}{' | None' if o.spec.optional else ''}" for o in self.outputs]
        return parts[0] if self.form == "tensor" else f"tuple({', '.join(parts)})"

    def split(self, value: Any) -> tuple[list[tuple[Output, Any]], Optional[str]]:
        """The returned value's elements paired with their declarations, or why its form is wrong."""
        if self.form == "none":
            return [], None if value is None else f"returned {kind_of(value)}; the contract declares it returns None"
        if self.form == "tensor":
            return [(self.outputs[0], value)], None
        if not isinstance(value, (tuple, list)) or len(value) != len(self.outputs):
            return [], f"returned {kind_of(value)}; the contract declares a tuple of {len(self.outputs)}"
        return list(zip(self.outputs, value)), None

    def elements(self, value: Any) -> dict[str, Any]:
        """The returned value's elements by name; a value of the wrong form is one element, "output"."""
        pairs, wrong = self.split(value)
        return {"output": value} if wrong else {o.name: v for o, v in pairs}


def kind_of(value: Any) -> str:
    """A returned value in a few words, for messages: "None", "a tuple of 3", "a torch.Tensor"."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}"


def returns(hint: Any, names: Sequence[str], missing: bool) -> Returns:
    """The declared result of a return annotation; ValueError says why an annotation cannot be judged.

    `missing`: the stub has no return annotation at all, which is refused (a result nobody declared would
    go unjudged); `names` are the contract's `outputs`, if it names them.
    """
    if missing:
        raise ValueError(
            "no return annotation: declare `-> None`, a tensor annotation or a tuple of them, so every result is judged"
        )
    if hint is None or hint is type(None):
        elements: list[Any] = []
        form = "none"
    elif typing.get_origin(hint) in (tuple, typing.Tuple):
        elements = list(typing.get_args(hint))
        if not elements or elements[-1] is Ellipsis:
            raise ValueError("a tuple return must list each element (`tuple[A, B]`, not `tuple[A, ...]`)")
        form = "tuple"
    else:
        elements, form = [hint], "tensor"
    defaults = ["output"] if form == "tensor" else [f"output[{i}]" for i in range(len(elements))]
    if names and len(names) != len(elements):
        raise ValueError(f"`outputs` names {len(names)} elements, the return annotation declares {len(elements)}")
    outputs = []
    for i, (element, name) in enumerate(zip(elements, names or defaults)):
        spec = _dims.tensor_spec(element)
        if spec is None:
            where = "the return annotation" if form == "tensor" else f"return element {i}"
            raise ValueError(
                f'{where} is {_text(element)}, not a jaxtyping tensor annotation (e.g. Float[Tensor, "N D"])'
            )
        outputs.append(Output(name, spec))
    return Returns(form, tuple(outputs))


def _text(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
