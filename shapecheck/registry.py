"""Finding contracts and implementations by name, with one clear error line when a name is wrong."""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path
from typing import Any, Callable

from shapecheck.contract import Contract
from shapecheck.decorator import REGISTRY
from shapecheck.errors import UsageError
from shapecheck.patching import load_file


def select_backend(device: str) -> str:
    """Resolve `auto|cpu|cuda` and switch Triton to its CPU interpreter when needed.

    Must run before any kernel module is imported: Triton reads TRITON_INTERPRET when `@triton.jit`
    decorates a function.
    """
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, found {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible to torch on this machine")
    chosen = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    if chosen == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    return chosen


def contracts(package: str = "shapecheck.contracts") -> dict[str, Contract]:
    """Every Contract defined in the modules of `package`, plus any registered by `@contract`."""
    found: dict[str, Contract] = {}
    try:
        root = importlib.import_module(package)
    except ImportError:
        root = None
    for info in pkgutil.iter_modules(getattr(root, "__path__", [])):
        module = importlib.import_module(f"{package}.{info.name}")
        found.update({v.name: v for v in vars(module).values() if isinstance(v, Contract)})
    found.update(REGISTRY)
    return found


def contract(name: str, known: dict[str, Contract]) -> Contract:
    """A contract by exact name or unique prefix."""
    if name in known:
        return known[name]
    matches = [c for n, c in known.items() if n.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"unknown contract {name!r}; known: {', '.join(sorted(known)) or '(none)'}")


def implementation(target: str) -> Callable[..., Any]:
    """Import `module.path:function` or `path/to/file.py:function`."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--impl must look like module.path:function or path/to/file.py:function, found {target!r}")
    try:
        if module_name.endswith(".py"):
            if not Path(module_name).is_file():
                raise UsageError(f"--impl {target}: no file {module_name}")
            module = load_file(Path(module_name))
        else:
            module = importlib.import_module(module_name)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix; say which
        raise UsageError(f"--impl {target}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    try:
        fn = getattr(module, attr, None)
    except Exception as exc:  # noqa: BLE001 - a module-level __getattr__ may fail; say so in one line
        raise UsageError(f"--impl {target}: looking up {attr!r} failed: {type(exc).__name__}: {exc}") from None
    if not callable(fn):
        raise UsageError(f"--impl {target}: {module_name} has no function {attr!r}")
    return fn
