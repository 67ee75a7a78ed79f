"""Dishonest `ModelNew`s for the KernelBench-format fixtures: each wraps a problem's honest candidate.

A cheat file next to a problem's `correct.py` is two lines, `from bench.kb.cheats import honest, zeros` and
`ModelNew = zeros(honest(__file__))`, so every problem gets the applicable entries of the catalogue without
a copy of its kernel. The patterns are those of tests/fixtures/cheats (KernelArena's field guide to reward
hacking, Makora's KernelHacks, the CMU hacker-fixer study), in KernelBench's form, plus the one issue 28
adds: a candidate correct only while the verifier is visible in its process.

| wrapper           | what it does                                          | rejected by                  |
|-------------------|-------------------------------------------------------|------------------------------|
| `zeros`           | returns zeros of the right shape                      | a value finding              |
| `identity`        | returns its first input (same-shape problems)         | `[aliasing]`                 |
| `stale`           | computes each input shape once, then replays it       | `[stale-result]` (isolated)  |
| `bf16`            | computes on bf16-rounded inputs                       | `[precision]`                |
| `scribble`        | overwrites its first input after computing            | `[input-modified]`           |
| `late_write`      | writes the result from a thread after returning       | `[late-write]` (isolated)    |
| `under_test_only` | honest while the verifier is visible, zeros otherwise | a value finding (isolated)   |
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch

VERIFIER = ("shapecheck", "hypothesis", "pytest", "_pytest")


def honest(cheat_file: str) -> Any:
    """`ModelNew` of the `correct.py` next to `cheat_file`."""
    path = Path(cheat_file).with_name("correct.py")
    spec = importlib.util.spec_from_file_location(f"honest_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ModelNew


def verifier_visible() -> bool:
    """What a candidate that behaves only under test looks for: the verifier's modules, frames or variables."""
    if any(name.split(".")[0] in VERIFIER for name in sys.modules):
        return True
    frame = sys._getframe()
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).split(".")[0] in VERIFIER:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return any(key.upper().startswith(("SHAPECHECK", "PYTEST", "HYPOTHESIS")) for key in os.environ)


def _wrap(base: Any, forward: Any, name: str) -> Any:
    return type(name, (base,), {"forward": forward})


def zeros(base: Any) -> Any:
    def forward(self: Any, *inputs: Any) -> Any:
        return torch.zeros_like(base.forward(self, *inputs))

    return _wrap(base, forward, "ModelNew")


def identity(base: Any) -> Any:
    def forward(self: Any, *inputs: Any) -> Any:
        return inputs[0]

    return _wrap(base, forward, "ModelNew")


def stale(base: Any) -> Any:
    cache: dict[Any, torch.Tensor] = {}

    def forward(self: Any, *inputs: Any) -> Any:
        key = tuple(tuple(x.shape) for x in inputs if isinstance(x, torch.Tensor))
        if key not in cache:
            cache[key] = base.forward(self, *inputs).clone()
        return cache[key].clone()

    return _wrap(base, forward, "ModelNew")


def bf16(base: Any) -> Any:
    def forward(self: Any, *inputs: Any) -> Any:
        rounded = [x.bfloat16().float() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs]
        return base.forward(self, *rounded)

    return _wrap(base, forward, "ModelNew")


def scribble(base: Any) -> Any:
    def forward(self: Any, *inputs: Any) -> Any:
        out = base.forward(self, *inputs)
        inputs[0].add_(1)
        return out

    return _wrap(base, forward, "ModelNew")


def late_write(base: Any) -> Any:
    def forward(self: Any, *inputs: Any) -> Any:
        result = base.forward(self, *inputs)
        out = torch.zeros_like(result)

        def finish() -> None:
            time.sleep(0.01)
            out.copy_(result)

        threading.Thread(target=finish, daemon=True).start()
        return out

    return _wrap(base, forward, "ModelNew")


def under_test_only(base: Any) -> Any:
    def forward(self: Any, *inputs: Any) -> Any:
        out = base.forward(self, *inputs)
        return out if verifier_visible() else torch.zeros_like(out)

    return _wrap(base, forward, "ModelNew")
