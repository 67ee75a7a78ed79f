"""What an integer or in-place tensor MEANS, said next to its jaxtyping annotation with `typing.Annotated`.

A shape alone does not say how to draw a valid `cu_seqlens` or slot-index tensor, nor which argument a
kernel writes in place. A marker says it once, and three parts of shapecheck read it:

- the decorator checks the values (one device read for every marked tensor of a call, `always` mode);
- the property engine draws valid values (they become part of the printed case, so they shrink and replay);
- the runner holds in-place arguments to the reference row by row.

::

    def segment_sum(
        x: Float[Tensor, "T D"],
        cu_seqlens: Annotated[Int[Tensor, "N+1"], Offsets("T")],          # 0 = c0 <= c1 <= ... <= cN = T
        slots: Annotated[Int[Tensor, "N"], Index("S", padding=-1, distinct=True)],
        pool: Annotated[Float[Tensor, "S D"], InPlace()],
    ) -> Float[Tensor, "N D"]: ...

`Differentiable()` marks a float input of a training kernel: every run then also runs the backward pass
(`shapecheck.gradients`) and judges the input's gradient against the reference's autograd.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Mapping, Optional, Union

from hypothesis import strategies as st

if TYPE_CHECKING:
    from shapecheck.call import Call


@dataclasses.dataclass(frozen=True)
class Offsets:
    """Segment boundaries into axis `into`: start at 0, never decrease, end at that axis's size.

    The standard ragged signature (`cu_seqlens: Int[Tensor, "N+1"]`). Drawn partitions favour empty
    segments, the case kernels most often get wrong (a division by a zero length, a loop that runs once).
    """

    into: str

    def strategy(self, total: int, parts: int) -> st.SearchStrategy[list[int]]:
        """`parts` segments over `total` items: about half the draws have empty segments (cuts at the ends
        or coinciding), the other half none (distinct interior cuts), when `total` allows it."""
        cut = st.one_of(st.integers(0, total), st.sampled_from(sorted({0, total})))
        with_empty = st.lists(cut, min_size=parts - 1, max_size=parts - 1)
        all_full = (
            st.just([])
            if parts == 1
            else st.nothing()
            if parts > total
            else st.lists(st.integers(1, total - 1), min_size=parts - 1, max_size=parts - 1, unique=True)
        )
        return st.one_of(with_empty, all_full).map(lambda inner: [0, *sorted(inner), total])

    def check(self, call: "Call", argument: str, values: list[int]) -> None:
        total = call.dims[self.into]
        if values[0] != 0:
            raise call.fail(argument, "must start at 0", dimension=self.into, expected=0, found=values[0])
        drops = [i for i in range(1, len(values)) if values[i] < values[i - 1]]
        if drops:
            i = drops[0]
            raise call.fail(
                argument,
                f"must be non-decreasing (position {i})",
                dimension=self.into,
                expected=f">= {values[i - 1]}",
                found=values[i],
            )
        if values[-1] != total:
            raise call.fail(
                argument,
                f"must end at {self.into} (every item belongs to a segment)",
                dimension=self.into,
                expected=total,
                found=values[-1],
            )

    def regimes(self, values: list[int], dims: Mapping[str, int]) -> set[str]:
        """Coverage-table names for these values."""
        return {"empty segment"} if any(a == b for a, b in zip(values, values[1:])) else set()


@dataclasses.dataclass(frozen=True)
class Index:
    """Indices into dimension `into`: each in `[0, into)`, or `padding` (a slot the kernel must skip).

    `distinct=True` when two entries naming one row would race (slots of a state pool written in place);
    padding entries are exempt from it.
    """

    into: str
    padding: Optional[int] = None
    distinct: bool = False

    def strategy(self, count: int, size: int) -> st.SearchStrategy[list[int]]:
        """`count` indices into `size` rows, drawn one by one; padding may stand anywhere (and must, once
        distinct rows run out)."""
        if self.padding is None and count > 0 and (size == 0 or (self.distinct and count > size)):
            return st.nothing()

        @st.composite
        def draw(draw: st.DrawFn) -> list[int]:
            free, values = list(range(size)), []
            for _ in range(count):
                if self.padding is not None and (not free or draw(st.booleans())):
                    values.append(self.padding)
                    continue
                choice = draw(st.sampled_from(free))
                if self.distinct:
                    free.remove(choice)
                values.append(choice)
            return values

        return draw()

    def check(self, call: "Call", argument: str, values: list[int]) -> None:
        size = call.dims[self.into]
        low = (
            "-1 <= index"
            if self.padding == -1
            else (f"{self.padding} or 0 <= index" if self.padding is not None else "0 <= index")
        )
        allowed = f"{low} < {self.into}={size}"
        bad = [(n, s) for n, s in enumerate(values) if not (0 <= s < size or s == self.padding)]
        if bad:
            n, s = bad[0]
            raise call.fail(
                argument, f"index out of range at position {n}", dimension=self.into, expected=allowed, found=s
            )
        if self.distinct:
            active = [s for s in values if s != self.padding]
            if len(set(active)) != len(active):
                twice = sorted({s for s in active if active.count(s) > 1})
                raise call.fail(
                    argument,
                    "entries must be distinct (two would race on one row)",
                    dimension=self.into,
                    expected="distinct indices",
                    found=f"repeated {twice}",
                )

    def regimes(self, values: list[int], dims: Mapping[str, int]) -> set[str]:
        """Coverage-table names for these values."""
        found = {"padding index"} if self.padding is not None and self.padding in values else set()
        return found | ({"unused rows"} if len({v for v in values if v != self.padding}) < dims[self.into] else set())


@dataclasses.dataclass(frozen=True)
class InPlace:
    """The kernel updates this tensor in place: rows (first axis) the reference updates must match it,
    every other row must keep its exact bits."""


@dataclasses.dataclass(frozen=True)
class Differentiable:
    """The kernel is differentiable in this float input: each case also runs the backward pass with random
    cotangents for every float output, and `grad of <name>` is judged against the reference's autograd.

    Integer, `Offsets`/`Index`-marked and in-place arguments cannot carry it (a contract saying so is refused
    when built): their gradients are undefined, or overwritten by the call itself."""


Marker = Union[Offsets, Index, InPlace]  # any of the markers a tensor parameter may carry
