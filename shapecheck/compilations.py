"""Counting Triton compilations during a property run, and the seconds they take, through Triton's own hooks.

A compilation per drawn shape (value specialisation) is the bug class property testing on a GPU trips over
first; the report shows the count next to the number of distinct keys.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator, Optional


class CompileCounter:
    """Counts Triton compilations (not cache hits) through triton's post-compile hook, and their seconds.

    `keys` collects each compilation's argument types, constexprs and launch options (warps, stages).
    Compilations beyond the number of distinct keys were caused by value specialisation (an int argument equal to 1 or divisible by 16, a
    pointer's alignment): drawn shapes forcing recompiles, which property testing wants to avoid.
    Compilations on other threads (`shapecheck.ahead`'s) are counted, but their seconds are that pass's own.
    """

    def __init__(self) -> None:
        self.count = 0
        self.keys: set[tuple[Any, ...]] = set()
        self.seconds = 0.0  # from the cache-miss hook to the post-compile hook (a disk-cache load counts too)
        self._started: Optional[float] = None

    @contextlib.contextmanager
    def active(self) -> Iterator["CompileCounter"]:
        try:
            from triton import knobs
        except ImportError:  # triton without knobs: nothing to count
            yield self
            return
        previous, previous_miss = knobs.runtime.jit_post_compile_hook, knobs.runtime.jit_cache_hook

        owner = threading.get_ident()

        def miss(*args: Any, **kwargs: Any) -> bool:
            if threading.get_ident() == owner:
                self._started = time.perf_counter()
            return bool(previous_miss(*args, **kwargs)) if previous_miss else False

        def hook(*args: Any, **kwargs: Any) -> bool:
            self.count += 1
            if self._started is not None and threading.get_ident() == owner:
                self.seconds += time.perf_counter() - self._started
                self._started = None
            info = kwargs.get("compile", {})
            self.keys.add(
                (
                    str(kwargs.get("fn")),
                    repr(info.get("signature")),
                    repr(info.get("constants")),
                    info.get("num_warps"),
                    info.get("num_stages"),
                )
            )
            return bool(previous(*args, **kwargs)) if previous else False

        knobs.runtime.jit_post_compile_hook, knobs.runtime.jit_cache_hook = hook, miss
        try:
            yield self
        finally:
            knobs.runtime.jit_post_compile_hook, knobs.runtime.jit_cache_hook = previous, previous_miss
