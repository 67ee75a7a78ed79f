"""`Region`: one tensor argument's host byte ranges, as the sanitizer bounds-checks a kernel's accesses.

Its own module, below both `shapecheck.sanitizer` (which builds regions) and `shapecheck.errors` (whose
`MemoryViolation` carries the offending one), so neither has to import the other.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from triton.runtime.jit import TensorWrapper

Bounds = Literal["view", "storage"]


@dataclasses.dataclass(frozen=True)
class Region:
    """One tensor argument as the kernel sees it: host byte ranges `[lo, hi)` of its view and its storage."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    itemsize: int
    data_ptr: int
    view: tuple[int, int]
    storage: tuple[int, int]

    @classmethod
    def of(cls, name: str, arg: Any) -> Region:
        t = arg.base if isinstance(arg, TensorWrapper) else arg
        itemsize, ptr = t.element_size(), t.data_ptr()
        low = sum(st * (n - 1) for n, st in zip(t.shape, t.stride()) if st < 0)
        high = sum(st * (n - 1) for n, st in zip(t.shape, t.stride()) if st > 0)
        view = (ptr + low * itemsize, ptr + (high + 1) * itemsize) if t.numel() else (ptr, ptr)
        storage = t.untyped_storage()
        return cls(
            name,
            str(arg.dtype).removeprefix("torch."),
            tuple(t.shape),
            itemsize,
            ptr,
            view,
            (storage.data_ptr(), storage.data_ptr() + storage.nbytes()),
        )

    def bounds(self, which: Bounds) -> tuple[int, int]:
        return self.view if which == "view" else self.storage

    def describe(self) -> str:
        """Extent in numbers: shape, numel, bytes, and the valid element offsets from `data_ptr`."""

        def span(lo: int, hi: int) -> str:
            return f"[{(lo - self.data_ptr) // self.itemsize}, {(hi - self.data_ptr) // self.itemsize})"

        numel = int(np.prod(self.shape, dtype=np.int64))
        return (
            f"{self.dtype}, shape {self.shape}, numel {numel}, {numel * self.itemsize} bytes, "
            f"valid element offsets {span(*self.view)}; its storage holds "
            f"{self.storage[1] - self.storage[0]} bytes = element offsets {span(*self.storage)}"
        )
