"""Run an untrusted implementation in a worker process, so that nothing it does can change the verdict.

`Isolated(target, device, timeout_s)` behaves like the implementation: `impl(**args) -> results`, with the
arguments' post-call contents written back into the caller's tensors. Behind it:

- the worker is a fresh interpreter running `shapecheck/host.py`, which imports the candidate itself: the
  verifier never does, so patches of torch or shapecheck made at import time (the "monkey-patching" pattern
  of KernelArena's field guide) live and die in the worker. It shows the candidate nothing of the verifier
  (`[verifier-visible]` in the catalogue: a candidate correct only under test): no shapecheck, Hypothesis or
  pytest module, no verifier frame on its stack, no verifier variable in its environment; under the
  interpreter the sanitizer runs there too, loaded from source under a neutral name;
- each call sends COPIES of the arguments: the caller's tensors and the reference's results never reach the
  worker. The copies live in an arena of ours that the worker maps once (shared memory on the CPU, one CUDA IPC
  handle on a GPU), and the worker's reply tensors in an arena of its own that we map once; each call then
  sends only offsets, shapes and strides: sharing each tensor of each call on its own (an IPC handle opened
  per tensor) cost most of an isolated call (`bench/isolation_roundtrip.py`);
- replies are unpickled with an allow-list (tensors, storages, dtypes, builtins): a candidate cannot make
  the verifier run its code by sending a crafted pickle or a tensor subclass;
- the worker copies the output and arguments the moment the call returns (stream-ordered on a GPU, no
  device sync); after it syncs its device (and, on a seed-chosen sample of cases, a short delay:
  `Isolated.sampled`), the live outputs are copied again and the arguments read in our arena, and any
  difference is a `[late-write]` finding (side streams, background threads), all in one round trip;
- a call that does not return within the profile's `timeout_s` is a `[timeout]` finding, a worker that
  dies (segfault, abort, CUDA error) a `[worker-crashed]` one; either way the worker is replaced and the
  next case gets a fresh one.

This is a process boundary, not a sandbox: the candidate runs with the user's permissions and can touch
the file system. Run code you do not trust inside a container as well. As with any multiprocessing start
method but fork, a script that creates workers must guard its entry point with `if __name__ == "__main__":`
(the worker re-imports the main module).
"""

from __future__ import annotations

import functools
import io
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import torch
import torch.multiprocessing

from shapecheck import host, integrity
from shapecheck.errors import UsageError
from shapecheck.integrity import Finding

# After the worker has synchronised its device, wait this long before reading the live buffers again: long
# enough for a background thread that sleeps a few milliseconds to land its writes. Profiles set their own
# (`Profile.settle_s`). The wait and the fresh-input twin run on a sample of cases (`sampled`): every case
# is still synchronised and read again at once, which catches work left on a side stream.
SETTLE_S = 0.1
CHECK_EVERY = 4  # the sample: the worker's first case, and each case whose seed is a multiple of this
STARTUP_TIMEOUT_S = 300.0  # importing a candidate may compile or load large modules

# What torch.multiprocessing's reductions pickle for a plain tensor on CPU (file descriptor or file name
# sharing) or CUDA (IPC handle), and nothing else: no tensor subclass, no hooks, no arbitrary callable.
_SAFE = {
    ("torch.multiprocessing.reductions", n)
    for n in (
        "rebuild_tensor",
        "rebuild_cuda_tensor",
        "rebuild_typed_storage",
        "rebuild_typed_storage_child",
        "rebuild_storage_fd",
        "rebuild_storage_filename",
        "rebuild_storage_empty",
    )
} | {
    ("torch", "Tensor"),
    ("torch", "Size"),
    ("torch.storage", "UntypedStorage"),
    ("torch.storage", "TypedStorage"),
    ("multiprocessing.resource_sharer", "DupFd"),
}


class _ReplyUnpickler(pickle.Unpickler):
    """Only the classes torch needs to rebuild shared tensors; anything else is refused by name."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE or (module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}")


def _loads(data: bytes) -> Any:
    return _ReplyUnpickler(io.BytesIO(data)).load()


def _shared_copy(x: torch.Tensor) -> torch.Tensor:
    """A copy with the same strides (views of a packed projection stay strided) in memory the worker can map."""
    copy = (
        torch.empty_like(x, memory_format=torch.contiguous_format)
        if host.expanded(x)
        else torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device=x.device)
    )
    copy.copy_(x)
    return copy.share_memory_() if copy.device.type == "cpu" else copy


def _candidate_error(description: str) -> Exception:
    """The candidate's exception, under its own class name, so the finding reads as it does in-process."""
    name, _, text = str(description).partition(": ")
    return type(name if name.isidentifier() else "Exception", (Exception,), {})(text)


_FORMS = ("none", "tensor", "tuple", "list")  # what a call may return, as the reply describes it


def _rebuilt(form: str, items: list[Any]) -> Any:
    return (
        None if form == "none" else items[0] if form == "tensor" else tuple(items) if form == "tuple" else list(items)
    )


def _checked(
    reply: tuple[Any, ...], shared: dict[str, Any], outbox: Optional[torch.Tensor]
) -> tuple[str, list[Any], dict[str, torch.Tensor], list[Any], Optional[torch.Tensor]]:
    """(result's form, its elements at return, arguments at return, live elements, the worker's arena) from a
    reply, the slots placed in that arena; or a refusal naming what is wrong."""
    if reply[0] != "returned" or len(reply) != 7:
        raise Finding(f"[output-type] reply refused: unexpected {reply[0]!r}")
    _, form, items, after, live, findings, grown = reply
    if grown is not None:
        if not (type(grown) is torch.Tensor and grown.dtype == torch.uint8 and grown.dim() == 1):
            raise Finding("[output-type] reply refused: its arena is not a byte buffer")
        outbox = grown

    def tensor(x: Any) -> Any:  # a slot of the arena, a tensor sent as itself, or None
        if x is None or type(x) is torch.Tensor:
            return x
        if outbox is None:
            raise ValueError("a slot before any arena")
        return host.place(outbox, x)

    try:
        items, live = [tensor(x) for x in items], [tensor(x) for x in live]
        after = {n: tensor(x) for n, x in after.items()}
    except (ValueError, TypeError, AttributeError, RuntimeError) as exc:
        raise Finding(f"[output-type] reply refused: {exc}") from None
    expected = integrity.tensors(shared)
    plain = lambda x: x is None or type(x) is torch.Tensor
    ok = (
        form in _FORMS
        and len(items) == len(live)
        and all(
            plain(x) and plain(y) and getattr(x, "shape", None) == getattr(y, "shape", None)
            for x, y in zip(items, live)
        )
        and (form != "tensor" or (len(items) == 1 and items[0] is not None))
        and (form != "none" or not items)
        and isinstance(findings, list)
        and set(after) == set(expected)
        and all(
            type(x) is torch.Tensor and x.shape == expected[n].shape and x.dtype == expected[n].dtype
            for n, x in after.items()
        )
    )
    if not ok:
        raise Finding("[output-type] reply refused: not the results and arguments of the call")
    return form, items, after, live, outbox


# The worker's first line: read the setup, compile host.py without its docstrings (optimize=2), start it. Its
# command line and its frames name nothing of the verifier.
BOOTSTRAP = (
    "import pickle,sys;s=pickle.load(sys.stdin.buffer);c=s.pop('code');"
    "exec(compile(c,'<string>','exec',optimize=2));del c;start(s)"
)
# Helpers of the verifier the worker runs (the interpreter's loop fix, the sanitizer), in dependency order.
HELPERS = ("errors", "regions", "backend", "sanitizer")
# The environment a production process would not have: the verifier's and its test runner's variables.
VERIFIER_ENV = ("SHAPECHECK", "PYTEST", "_PYTEST", "HYPOTHESIS", "COV_CORE")


def worker_environment() -> dict[str, str]:
    """The caller's environment without the verifier's variables."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(VERIFIER_ENV)}


@functools.lru_cache(maxsize=1)
def _sources() -> tuple[str, dict[str, str]]:
    """host.py, and the helpers' sources with the package renamed (`host.NEUTRAL`)."""
    folder = Path(__file__).parent
    helpers = {name: (folder / f"{name}.py").read_text().replace("shapecheck", host.NEUTRAL) for name in HELPERS}
    return (folder / "host.py").read_text(), helpers


class Isolated:
    """An implementation `module:function` or `file.py:function`, run in its own worker process."""

    untrusted = True  # the runner adds the checks that need a second run or a delay

    def __init__(
        self,
        target: str,
        device: str,
        timeout_s: float,
        settle_s: float = SETTLE_S,
        *,
        sanitize: bool = False,
        model: bool = False,
        check_every: int = CHECK_EVERY,
    ) -> None:
        """`model`: `target` names a KernelBench-format `ModelNew` class, called through `host.ModelCall`.
        `check_every`: the settle wait and the fresh-input twin run on the first case and on each case whose seed
        is a multiple of it (1: every case)."""
        self.target, self.device, self.timeout_s, self.settle_s = target, device, timeout_s, settle_s
        self.sanitize, self.model, self.check_every = sanitize, model, check_every
        self._settle = True  # a first call (or one nobody sampled) settles
        self._pending = True  # the next case is sampled whatever its seed: the worker's first
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._conn: Optional[multiprocessing.connection.Connection] = None
        self._findings: list[str] = []
        self._inbox: Optional[torch.Tensor] = None  # ours, mapped by the worker: the arguments' copies
        self._outbox: Optional[torch.Tensor] = None  # the worker's, mapped here: its replies' tensors
        self.contract_name: Optional[str] = None
        self._start()

    # --- worker lifetime ---

    def _start(self) -> None:
        code, helpers = _sources()
        ours, theirs = socket.socketpair()
        setup = {
            "code": code,
            "fd": theirs.fileno(),
            "authkey": bytes(multiprocessing.current_process().authkey),
            "target": self.target,
            "model": self.model,
            "device": self.device,
            "sanitize": self.sanitize,
            "helpers": helpers if os.environ.get("TRITON_INTERPRET") == "1" else {},
            "path": [str(Path.cwd())],
        }
        self._process = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP],
            stdin=subprocess.PIPE,
            pass_fds=[theirs.fileno()],
            env=worker_environment(),
        )
        theirs.close()
        self._conn = multiprocessing.connection.Connection(ours.detach())
        self._sent, self._outbox = False, None  # a new worker maps our arena on its first call; it sends its own
        assert self._process.stdin is not None
        self._process.stdin.write(pickle.dumps(setup))
        self._process.stdin.close()
        try:
            arena = self._receive(STARTUP_TIMEOUT_S, "starting")  # the worker's arena, then its import's outcome
            self._outbox = arena[1] if arena[0] == "arena" and type(arena[1]) is torch.Tensor else None
            reply = self._receive(STARTUP_TIMEOUT_S, "importing the implementation")
        except Finding as exc:
            raise UsageError(f"--impl {self.target}: the worker failed while importing it: {exc}") from None
        if reply[0] == "import-error":
            self.close()
            raise UsageError(reply[1])
        self.contract_name = reply[1]

    def close(self) -> None:
        """Stop the worker (it holds no state worth keeping)."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            self._process.wait(timeout=10)
        self._process = self._conn = None

    def __enter__(self) -> "Isolated":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _fail(self, finding: str) -> Finding:
        """Replace the worker, then report: the next case starts on a fresh one."""
        self.close()
        self._start()
        return Finding(finding)

    def _send(self, message: tuple[Any, ...]) -> None:
        assert self._conn is not None
        try:
            self._conn.send(message)
        except OSError:  # the worker is gone (it may have killed itself between calls)
            raise Finding("[worker-crashed] the worker was gone before the case was sent") from None

    def _receive(self, timeout: float, doing: str) -> tuple[Any, ...]:
        assert self._conn is not None and self._process is not None
        try:
            ready = self._conn.poll(timeout)
            data = self._conn.recv_bytes() if ready else None
        except (EOFError, OSError):
            data, ready = None, True
        if not ready:
            raise Finding(f"[timeout] {doing} did not finish within {timeout:g} s (per-case timeout)")
        if data is None:
            try:
                code = self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
            raise Finding(f"[worker-crashed] the worker died while {doing} ({how})")
        try:
            reply = _loads(data)
        except Exception as exc:  # noqa: BLE001 - whatever the worker sent, it is not a valid reply
            raise Finding(f"[output-type] reply refused: {host.described(exc)}") from None
        if not isinstance(reply, tuple) or not reply or not isinstance(reply[0], str):
            raise Finding(f"[output-type] reply refused: {type(reply).__name__}")
        return reply

    # --- one call ---

    def sampled(self, seed: int) -> bool:
        """Whether the case of this seed gets the checks that cost a delay or a second run (the settle wait, the
        fresh-input twin): chosen by the seed, so a replayed case is judged as it was, and the worker's first
        case always, so a one-case replay or a short run is never left unsampled, as is the case after a twin that
        could not tell (`uninformative`). Applies to the next call."""
        self._settle = self._pending or seed % self.check_every == 0
        self._pending = False
        return self._settle

    def uninformative(self) -> None:
        """The last fresh-input twin could not tell a cached result from a computed one (the reference gave the same
        answer for both inputs: a softmax over one element), so the next case is sampled too."""
        self._pending = True

    def __call__(self, **args: Any) -> Any:
        self._findings = []
        if self._inbox is None:
            self._inbox = host.arena(0, self.device)
        home = self._inbox.device
        placed = {n: x for n, x in args.items() if isinstance(x, torch.Tensor) and x.device == home}
        slots, need = host.layout(list(placed.values()))
        if self._inbox.numel() < need:
            self._inbox, self._sent = host.arena(need, home, at_least=self._inbox), False
        others = {n: _shared_copy(x) if isinstance(x, torch.Tensor) else x for n, x in args.items() if n not in placed}
        shared = dict(others)
        for (name, x), slot in zip(placed.items(), slots):
            shared[name] = host.place(self._inbox, slot)
            shared[name].copy_(x)
        if home.type == "cuda":
            torch.cuda.current_stream(home).synchronize()  # the worker reads them on its own stream
        try:
            if not self._sent:
                self._send(("arena", self._inbox))
                self._sent = True
            self._send(("call", dict(zip(placed, slots)), others, self.settle_s if self._settle else 0.0))
            reply = self._receive(self.timeout_s + self.settle_s, "running the case")
            if reply[0] == "raised":
                raise _candidate_error(reply[1])
            if reply[0] == "refused":
                raise Finding(str(reply[1]))
            form, items, after, live, self._outbox = _checked(reply, shared, self._outbox)
            self._findings += [f for f in reply[5] if isinstance(f, str) and f.startswith("[")]
            items = [None if x is None else x.clone() for x in items]
            after = {n: x.clone() for n, x in after.items()}
            out = _rebuilt(form, items)
        except Finding as exc:
            raise self._fail(str(exc)) from None
        # Later calls of the same case (the fresh-input twin) skip the wait; `sampled` decides the next case's.
        self._settle = False
        names = ["output"] if form == "tensor" else [f"output[{i}]" for i in range(len(items))]
        at_return = {n: x for n, x in zip(names, items) if x is not None}
        settled = {n: x for n, x in zip(names, live) if x is not None}
        self._findings += integrity.late_writes(
            {**at_return, **{f"argument `{n}`": x for n, x in after.items()}},
            {**settled, **{f"argument `{n}`": shared[n] for n in after}},
        )
        for name, x in after.items():
            if not host.expanded(args[name]):
                args[name].copy_(x)
            elif not torch.equal(x, args[name]):  # no write-back into a broadcast view: said here instead
                self._findings.append(
                    f"[input-modified] `{name}`, a broadcast (stride-0) view, changed during the call"
                )
        return out

    def pending_findings(self) -> list[str]:
        """Named findings of the last call that need the worker's live memory (late writes)."""
        return self._findings
