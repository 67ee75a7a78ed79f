"""`--shard i/n`: one CI job's part of a run (mutants, regime examples, property cases).

Its own module, torch-free, so the run plan (`shapecheck.plan`) and the process pool
(`shapecheck.parallel`) share it without importing each other.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence, TypeVar

from shapecheck.errors import UsageError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Shard:
    """`--shard i/n`: part `index` (1-based) of `count`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        i, sep, n = text.partition("/")
        if not sep or not i.strip().isdigit() or not n.strip().isdigit() or not 1 <= int(i) <= int(n):
            raise UsageError(f"--shard must look like i/n with 1 <= i <= n (e.g. 2/4), found {text!r}")
        return cls(int(i), int(n))

    def take(self, items: Sequence[T]) -> list[T]:
        """This shard's items: every `count`-th one from the `index`-th (mutants, regime examples)."""
        return list(items[self.index - 1 :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
