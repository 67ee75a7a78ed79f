"""The decorator's cache-hit check, native where it can be built.

Why: "first" and "shapes" decide a repeated call by comparing it with the checked call: its argument layout,
its scalars, its tensors' metadata. Dynamo's `TensorGuards` compares tensors in C++, but allocates per tensor
and reads the thread's dispatch state per call; in a decode step it was most of the eager hit (issue 23).
`native_guard.cpp` compares the same fields with neither, and the layout and scalars in the same call. It is built with torch's own extension machinery (`torch.utils.cpp_extension.load`: the
machine's C++ compiler, ninja and torch's headers) on the first check that needs it, once per torch and
Python version and source (the name carries their hash; torch keeps the build under `TORCH_EXTENSIONS_DIR`).
Where it cannot be built (no compiler, no Python headers), one warning says so and `TensorGuards` answers:
the same verdicts, slower. `SHAPECHECK_NATIVE=0` skips the build; `python -m shapecheck.native` builds it ahead
(an image's build step) and says where it is.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
import warnings
from operator import attrgetter
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

import torch
from torch._C._dynamo.guards import TensorGuards

from shapecheck.host import described

ENV = "SHAPECHECK_NATIVE"
SOURCE = Path(__file__).with_name("native_guard.cpp")
Check = Callable[..., bool]
Matcher = Callable[[tuple[Any, ...], dict[str, Any]], bool]
_nested = attrgetter("is_nested")


_building = threading.Lock()  # two threads' first checks build and import it once


def module() -> Optional[ModuleType]:
    """The built extension (built now if this torch has none yet), or None where it cannot be built."""
    with _building:
        return _build()


def forget() -> None:
    """Build, or decline to, again at the next check: after `SHAPECHECK_NATIVE` changed (tests, bench)."""
    with _building:
        _build.cache_clear()


@functools.cache
def _build() -> Optional[ModuleType]:
    if os.environ.get(ENV, "1") == "0":
        return None
    source = SOURCE.read_bytes()
    tag = hashlib.sha256(b"\0".join([source, torch.__version__.encode(), sys.version.encode()])).hexdigest()[:12]
    try:
        from torch.utils.cpp_extension import load

        built: ModuleType = load(name=f"shapecheck_guard_{tag}", sources=[str(SOURCE)], extra_cflags=["-O2"])
    except Exception as exc:  # noqa: BLE001 - no compiler, headers or ninja: the same verdicts by TensorGuards
        warnings.warn(
            f"shapecheck: the native tensor check could not be built ({described(exc)}); cache hits "
            f"in modes 'first' and 'shapes' use dynamo's TensorGuards instead: the same verdicts, a slower hit. "
            f"{ENV}=0 skips the build.",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    return built


def call_check(args: tuple[Any, ...], kwargs: dict[str, Any], tensors: tuple[int, ...]) -> Optional[Matcher]:
    """`matches(args, kwargs) -> bool` for this call's signature, in one C++ call (`native_guard.cpp` says what
    is compared), or None where the native check is not built: `guards._matcher` generates the same question
    in Python then. `tensors`: the positions of plain strided tensors among the positional, then keyword
    values; every other value is a scalar (None, bool, int, float or str)."""
    built = module()
    if built is None:
        return None
    matches: Matcher = built.call(args, kwargs, tensors)
    return matches


def tensor_check(tensors: tuple[torch.Tensor, ...]) -> Check:
    """`check(*others) -> bool`: whether `others` have these tensors' metadata (type, dispatch keys, dtype,
    device, requires_grad, sizes, strides; all static). Native where built, else dynamo's TensorGuards.
    `tensors` are plain strided ones: no nested tensor (neither check can describe its sizes)."""
    built = module()
    if built is not None:
        made: Check = built.make(*tensors)
        return made
    guard = TensorGuards(*tensors, dynamic_dims_sizes=None, dynamic_dims_strides=None).check

    def check(*others: Any) -> bool:
        """TensorGuards aborts the process (an uncaught C++ error) on a nested tensor's sizes: none reaches it."""
        try:
            if any(map(_nested, others)):
                return False
        except AttributeError:  # not a tensor where the checked call had one
            return False
        return guard(*others)

    return check


if __name__ == "__main__":
    built = module()
    print(built.__file__ if built is not None else "not built: the decorator's hits use dynamo's TensorGuards")
    sys.exit(0 if built is not None else 1)
