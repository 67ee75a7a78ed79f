"""Autotuned kernels as drawn cases: each case runs every `@triton.autotune` kernel with one config of its own list.

Why: the autotuner benchmarks its configs and then runs the fastest, so a bug in another config (a block size
the grid was not written for, a tail left unmasked) stays hidden until another GPU or shape bucket picks it.
Under Triton's CPU interpreter the autotuner cannot run at all (benchmarking needs a driver: "0 active
drivers"). In "drawn" mode, the default under the interpreter and `--autotune-configs drawn` on a GPU, the
autotuner is asked for no benchmark: each launch runs the config picked from the case's seed and the kernel's
name, so the case decides it, a failing case keeps it while it shrinks, and its replay line runs it again.
The outcome records the configs each kernel ran, and a failing case names them.
"""

from __future__ import annotations

import zlib
from types import TracebackType
from typing import Any, Literal, Optional

Mode = Literal["drawn", "tuned"]
MODES: tuple[Mode, ...] = ("drawn", "tuned")


def default_mode(device: str) -> Mode:
    """Drawn under the interpreter (where tuning cannot run), tuned on a GPU unless asked."""
    return "drawn" if device == "cpu" else "tuned"


class Configs:
    """While entered in "drawn" mode, every autotuned launch runs the config the case's seed picks from the
    kernel's own list; `used` maps each kernel run to its config. Re-entrant per case: the forward and the
    backward pass each enter it. "tuned" leaves Triton's autotuner alone."""

    def __init__(self, mode: Mode, seed: int) -> None:
        self.mode, self.seed = mode, seed
        self.used: dict[str, str] = {}
        self._original: Optional[Any] = None

    def pick(self, tuner: Any) -> Any:
        name = tuner.base_fn.__name__
        index = zlib.crc32(f"{self.seed}:{name}".encode()) % len(tuner.configs)
        config = tuner.configs[index]
        self.used[name] = f"config {index} of {len(tuner.configs)} ({config})"
        return config

    def __enter__(self) -> Configs:
        if self.mode == "drawn":
            from triton.runtime.autotuner import Autotuner  # here: Triton's backend is chosen before its import

            original = self._original = Autotuner.run

            def run(tuner: Any, *args: Any, **kwargs: Any) -> Any:
                listed = tuner.configs
                tuner.configs = [self.pick(tuner)]  # one config: the autotuner runs it without benchmarking
                try:
                    return original(tuner, *args, **kwargs)
                finally:
                    tuner.configs = listed

            Autotuner.run = run
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        if self._original is not None:
            from triton.runtime.autotuner import Autotuner

            Autotuner.run = self._original
            self._original = None

    def named(self) -> list[str]:
        """A failing case's line naming the configs it ran (empty when no autotuned kernel ran)."""
        return (
            [f"[autotune] ran {', '.join(f'`{k}` with {c}' for k, c in sorted(self.used.items()))}"]
            if self.used
            else []
        )
