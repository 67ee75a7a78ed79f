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

import contextlib
import threading
import zlib
from types import TracebackType
from typing import Any, Iterator, Literal, Optional

Mode = Literal["drawn", "tuned"]
MODES: tuple[Mode, ...] = ("drawn", "tuned")


def _index(tuner: Any, seed: int) -> int:
    """The config a case with this seed runs of an autotuned kernel's list: its seed and the kernel's name decide."""
    return zlib.crc32(f"{seed}:{tuner.base_fn.__name__}".encode()) % len(tuner.configs)


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
        index = _index(tuner, self.seed)
        config = tuner.configs[index]
        self.used[tuner.base_fn.__name__] = f"config {index} of {len(tuner.configs)} ({config})"
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


class Dry:
    """Autotuned kernels in calls that compile and launch nothing (the compile budget's probes, compile ahead).

    Why: Triton's autotuner would benchmark every config of each new key, and a refused launch times as zero, so
    its benchmarker repeats it for the whole measuring window: about a second a config, which made fla's chunk
    GDN spend 229 s of a 303 s H100 run on 246 budget probes. Here each autotuned launch goes straight to the
    kernel, no benchmark: with the config the run's case will draw (`mode` "drawn": the probed keys are the
    run's), or with each config in turn ("tuned": the run will benchmark, so compile, them all). The case's seed
    is per thread (`case`): compile ahead probes from a thread pool."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self._seed = threading.local()
        self._original: Optional[Any] = None

    @contextlib.contextmanager
    def case(self, seed: int) -> Iterator[None]:
        self._seed.value = seed
        try:
            yield
        finally:
            del self._seed.value

    def __enter__(self) -> Dry:
        from triton.runtime.autotuner import Autotuner

        self._original = Autotuner.run

        def run(tuner: Any, *args: Any, **kwargs: Any) -> Any:
            seed = getattr(self._seed, "value", 0)
            configs = [tuner.configs[_index(tuner, seed)]] if self.mode == "drawn" else tuner.configs
            result, refused = None, None
            for config in configs:  # no shared state written: threads may probe one kernel at once
                try:
                    result = tuner.fn.run(*args, **kwargs, **config.all_kwargs())
                except Exception as exc:  # noqa: BLE001 - a refused launch: the next config is still wanted
                    refused = refused or exc
            if refused is not None:
                raise refused
            return result

        Autotuner.run = run
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        from triton.runtime.autotuner import Autotuner

        Autotuner.run = self._original
        self._original = None
