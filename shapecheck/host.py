"""The isolation worker's program: import a candidate, answer calls, and show the candidate nothing of the verifier.

Why a program of its own: a candidate that behaves only under test (correct while `shapecheck`, `hypothesis`
or `pytest` is in `sys.modules`, zeros otherwise) is the cheapest trick a kernel generator can learn, and a
worker forked from the verifier advertises all three. `shapecheck.isolate` therefore starts this file as a
fresh interpreter (`python -c <its source>`): the candidate's process holds the standard library, torch and
triton, its stack only this file's frames (file "<string>", neutral names), its environment the caller's minus
the verifier's variables. The shapecheck helpers the worker needs (the interpreter's loop fix, the sanitizer)
arrive as source under a neutral package name.

This module imports nothing of shapecheck, so the verifier also imports it (`shapecheck.host`): the poisoned
allocations and the model call of a KernelBench-format candidate are the same code in both processes.

Everything the candidate's process does is untrusted: the parent believes only what it can check in the
replies (plain tensors, their values, late changes of the memory it shares).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import torch

NEUTRAL = "hostlib"  # the package name the verifier's helpers are loaded under in the worker


@contextlib.contextmanager
def poisoned_allocations() -> Iterator[None]:
    """While active, torch.empty/new_empty return NaN-filled floats (and max-filled ints).

    The switch is torch's own C++ one: `torch.use_deterministic_algorithms` also imports `torch._inductor` to
    set its config, 1.2 s in a fresh isolated worker's first case (a third of a 30-case KernelBench candidate's
    isolated run on this 2-core CPU), and eager allocations need none of it."""
    was_det, was_warn = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    deterministic: Any = torch.utils.deterministic  # a module subclass whose setting torch's stubs do not declare
    was_fill = deterministic.fill_uninitialized_memory
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        deterministic.fill_uninitialized_memory = was_fill
        torch._C._set_deterministic_algorithms(was_det, warn_only=was_warn)


MODEL = (
    "model"  # the argument describing a model call: {"init": [...], "weights": [names], "inputs": [names], "seed": n}
)


class ModelCall:
    """A KernelBench-format candidate's `ModelNew` as a function of the contract's arguments.

    Each call builds the module from the constructor arguments under the case's seed (as KernelBench seeds
    `Model` and `ModelNew` alike), loads the problem's weights where its state has the same names and shapes,
    and calls `forward` with the inputs in order.
    """

    def __init__(self, cls: Any) -> None:
        self.cls = cls

    def __call__(self, **args: Any) -> Any:
        spec = args[MODEL]
        inputs = [args[name] for name in spec["inputs"]]
        device = next((x.device for x in inputs if isinstance(x, torch.Tensor)), torch.device("cpu"))
        torch.manual_seed(spec["seed"])
        module = self.cls(*spec["init"])
        if isinstance(module, torch.nn.Module):
            module = module.to(device)
            weights = {key: args[name] for key, name in zip(spec["keys"], spec["weights"])}
            state = module.state_dict()
            if set(state) == set(weights) and all(state[k].shape == w.shape for k, w in weights.items()):
                module.load_state_dict(weights)
        return module(*inputs)


def _import_file(path: Path) -> types.ModuleType:
    """A file inside a package as `package.module` (its relative imports work), else as a module named after it."""
    path = path.resolve()
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    if len(parts) > 1:
        return importlib.import_module(".".join(parts))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def load(target: str, model: bool) -> Callable[..., Any]:
    """`module:function` or `file.py:function` (or `file.py:ModelNew` as a model call); raises ImportError or
    LookupError saying what is wrong."""
    module_name, _, attr = target.rpartition(":")
    try:
        module = (
            _import_file(Path(module_name)) if module_name.endswith(".py") else importlib.import_module(module_name)
        )
    except Exception as exc:  # noqa: BLE001 - any failure is the candidate's; said in one line with its frame
        raise ImportError(f"--impl {target}: cannot import {module_name}: {described(exc)}{_where(exc)}") from None
    found = getattr(module, attr, None)
    if not callable(found):
        raise LookupError(f"--impl {target}: {module.__name__} has no {'class' if model else 'function'} {attr!r}")
    return ModelCall(found) if model else found


def described(exc: BaseException) -> str:
    """An exception in one line: its type and its message's first line, and where that line only introduces what
    follows (Triton's CompilationError: "at 39:15:", the kernel's source, then what is wrong), its last line too.
    Here (this module imports nothing of shapecheck) so the worker and the verifier say it the same way."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = f"{lines[0]} ... {lines[-1]}" if len(lines) > 1 and lines[0].endswith(":") else lines[0]
    return f"{type(exc).__name__}: {text}"


def _where(exc: BaseException) -> str:
    """The candidate's innermost frame outside the import machinery, `file:line`."""
    tb, last = exc.__traceback__, None
    while tb is not None:
        if "importlib" not in tb.tb_frame.f_code.co_filename and tb.tb_frame.f_code.co_filename != "<string>":
            last = tb
        tb = tb.tb_next
    return f" (at {last.tb_frame.f_code.co_filename}:{last.tb_lineno})" if last is not None else ""


def _helpers(sources: dict[str, str]) -> types.ModuleType:
    """The verifier's helper modules, given as source, loaded as `hostlib.<name>` in the order given."""
    package = types.ModuleType(NEUTRAL)
    package.__path__ = []
    sys.modules[NEUTRAL] = package
    for name, source in sources.items():
        module = types.ModuleType(f"{NEUTRAL}.{name}")
        sys.modules[module.__name__] = module
        exec(compile(source, f"{NEUTRAL}/{name}.py", "exec"), module.__dict__)
        setattr(package, name, module)
    return package


def _parts(out: Any) -> Optional[tuple[str, list[Any]]]:
    """A returned value as (form, elements), or None when it is neither None, a tensor, nor a tuple or list."""
    if out is None:
        return "none", []
    if isinstance(out, torch.Tensor):
        return "tensor", [out]
    if isinstance(out, (tuple, list)):
        return type(out).__name__, list(out)
    return None


def span(x: torch.Tensor) -> tuple[int, int]:
    """[first, last) bytes `x` can reach in its storage."""
    if x.numel() == 0:
        return (0, 0)
    start = x.data_ptr()
    return start, start + extent(x.shape, x.stride(), x.element_size())


Slot = tuple[int, tuple[int, ...], tuple[int, ...], torch.dtype]  # offset in bytes, shape, strides, dtype
ALIGN = 512  # bytes between the starts of two tensors in an arena: what torch's own allocator gives


def layout(tensors: Sequence[torch.Tensor]) -> tuple[list[Slot], int]:
    """Where each tensor goes in an arena: its own strides where no element is addressed twice
    (a strided view of a packed projection stays strided), else contiguous; and the bytes the arena needs."""
    slots: list[Slot] = []
    end = 0
    for x in tensors:
        shape, stride = tuple(x.shape), tuple(x.stride())
        if expanded(x):
            stride = tuple(torch.empty(shape, device="meta").stride())
        offset = -(-end // ALIGN) * ALIGN
        slots.append((offset, shape, stride, x.dtype))
        end = offset + extent(shape, stride, x.element_size())
    return slots, end


def expanded(x: torch.Tensor) -> bool:
    """Whether elements of `x` share memory (a broadcast view): it travels contiguous and cannot be written back."""
    return 0 in x.stride() and x.numel() > 1


def extent(shape: Sequence[int], stride: Sequence[int], itemsize: int) -> int:
    """Bytes from a tensor's first element to past its last."""
    if 0 in shape:
        return 0
    return (sum((size - 1) * s for size, s in zip(shape, stride)) + 1) * itemsize


def arena(nbytes: int, device: Any, at_least: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A byte buffer both processes map once (shared memory on the CPU, one CUDA IPC handle on a GPU) and that
    every call's tensors then live in: opening an IPC handle per tensor per call cost most of an isolated call."""
    size = max(1 << 20, 1 << (max(nbytes, 1) - 1).bit_length(), 0 if at_least is None else at_least.numel())
    buffer = torch.empty(size, dtype=torch.uint8, device=device)
    return buffer.share_memory_() if buffer.device.type == "cpu" else buffer


def place(buffer: torch.Tensor, slot: Slot) -> torch.Tensor:
    """The tensor of `slot` in `buffer`; raises ValueError when the slot does not fit it."""
    offset, shape, stride, dtype = slot
    if not (
        type(offset) is int
        and all(type(n) is int and n >= 0 for n in (*shape, *stride))
        and isinstance(dtype, torch.dtype)
        and len(shape) == len(stride)
    ):
        raise ValueError(f"not a slot: {slot!r}")
    itemsize = dtype.itemsize
    nbytes = extent(shape, stride, itemsize)
    if offset < 0 or offset % itemsize or offset + nbytes > buffer.numel():
        raise ValueError(f"slot at {offset} of {nbytes} bytes outside a buffer of {buffer.numel()}")
    return buffer.narrow(0, offset, nbytes).view(dtype).as_strided(shape, stride)


def output_kind(name: str, out: Any) -> list[str]:
    """A returned element must be None or a plain tensor, nothing that behaves like one (its device and
    whether None is allowed are the contract's to judge: `harness.check`)."""
    if out is None or type(out) is torch.Tensor:
        return []
    kind = type(out)
    what = "a subclass of torch.Tensor" if isinstance(out, torch.Tensor) else "not a torch.Tensor"
    return [f"[output-type] {name} is {kind.__module__}.{kind.__qualname__}, {what}; expected a plain torch.Tensor"]


def aliasing(outputs: Mapping[str, torch.Tensor], args: Mapping[str, Any]) -> list[str]:
    """Outputs (named "output", ...) must own their memory: no overlap with an argument or another output.

    Overlap is judged on the byte ranges the tensors reach, so a view into an input counts too.
    """
    named = {**outputs, **{f"argument `{n}`": x for n, x in args.items() if isinstance(x, torch.Tensor)}}
    findings = []
    for out_name, out in outputs.items():
        lo, hi = span(out)
        for other, x in named.items():
            o_lo, o_hi = span(x)
            if other != out_name and x.device == out.device and lo < o_hi and o_lo < hi:
                findings.append(f"[aliasing] {out_name} shares memory with {other}")
    return findings


def main(conn: Any, setup: dict[str, Any]) -> None:
    """Import the candidate, then answer calls until the pipe closes."""
    for folder in reversed(setup["path"]):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    sanitizing: Callable[[], Any] = contextlib.nullcontext
    if setup["helpers"]:
        lib = _helpers(setup["helpers"])
        if os.environ.get("TRITON_INTERPRET") == "1":
            lib.backend.interpreter_shims()
        if setup["sanitize"]:
            sanitizing = lib.sanitizer.sanitize
    # Our arena goes first: the driver's threads (CUDA) or the file-descriptor sharer's (CPU) start here, so the
    # baseline taken next, before the candidate is imported, holds them; any other thread or child is its doing.
    outbox = arena(0, setup["device"])
    conn.send(("arena", outbox))
    quiet = actors()
    try:
        fn = load(setup["target"], setup["model"])
    except (ImportError, LookupError) as exc:
        conn.send(("import-error", str(exc)))
        # Stay until the parent hangs up: it maps our arena (sent above) through a file descriptor it fetches from
        # this process while reading, and a worker gone by then made a bad import read as a refused reply.
        with contextlib.suppress(EOFError, OSError):
            conn.recv()
        return
    contract = getattr(fn, "__contract__", None)
    conn.send(("ready", getattr(contract, "qualname", None)))
    inbox: Optional[torch.Tensor] = None  # the parent's arena: this call's arguments live there
    live: Any = None  # what the parent may still map after a reply: kept alive until the next call replaces it
    cuda = setup["device"].startswith("cuda")
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "arena":
            inbox = message[1]
            continue
        _, slots, others, settle_s = message
        assert inbox is not None or not slots, "the parent sends its arena before the first call that uses it"
        args = {**others, **{n: place(inbox, s) for n, s in slots.items()}} if inbox is not None else dict(others)
        try:
            with poisoned_allocations(), sanitizing():
                out = fn(**args)
        except Exception as exc:  # noqa: BLE001 - reported to the parent as the kernel's own failure
            conn.send(("raised", described(exc)))
            continue
        parts = _parts(out)
        if parts is None:
            conn.send(("refused", output_kind("output", out)[0]))
            continue
        form, items = parts
        # A result that is not None, a plain tensor or a tuple/list of them, or is (a view of) an argument, is
        # refused here: the parent could not judge it.
        named = {f"output[{i}]" if form in ("tuple", "list") else "output": x for i, x in enumerate(items)}
        refused = [f for n, x in named.items() for f in output_kind(n, x)] or aliasing(
            {n: x for n, x in named.items() if isinstance(x, torch.Tensor)}, args
        )
        if refused:
            conn.send(("refused", refused[0]))
            continue
        try:
            now = actors() if settle_s else None  # only a sampled case asks (a few /proc reads)
            settle_s = settle_s if quiet is None or now is None or now - quiet else 0.0
            # `live` is held, not read, until the next call replaces it (see its declaration)
            reply, outbox, live = _reply(form, items, args, settle_s, outbox, cuda)  # noqa: RUF059
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 - e.g. an output in memory that cannot be shared
            conn.send(("refused", f"[output-type] the output cannot be sent back: {described(exc)}"))


def actors() -> Optional[frozenset[str]]:
    """The threads of this process and its child processes (Linux's /proc; None elsewhere): after a device sync
    only one of them can still write into an output, so a sampled case waits out the settle delay only when one
    exists beyond those present before the candidate was imported (a background thread, a forked writer)."""
    try:
        tasks = os.listdir("/proc/self/task")
        children = []
        for task in tasks:
            with open(f"/proc/self/task/{task}/children") as f:
                children += f.read().split()
    except OSError:
        return None
    return frozenset(tasks) | frozenset(f"child {pid}" for pid in children)


def _reply(
    form: str,
    items: list[Any],
    args: Mapping[str, Any],
    settle_s: float,
    outbox: torch.Tensor,
    cuda: bool,
) -> tuple[tuple[Any, ...], torch.Tensor, Any]:
    """The reply to a call that returned: the outputs and tensor arguments as they were the moment it returned
    (copies ordered on the current stream only: what a caller reading them on that stream would see), then, after
    a device sync and `settle_s`, the outputs again (late writes). Tensors on the arena's device travel as slots
    of `outbox` (grown, and then sent along, when too small); any other as itself. Returns the reply, the arena
    and what must stay alive until the parent has read it."""
    tensors = {n: x for n, x in args.items() if isinstance(x, torch.Tensor)}
    home = outbox.device
    here = [x for x in [*items, *tensors.values()] if x is not None and x.device == home]
    mine = [x for x in items if x is not None and x.device == home]
    slots, need = layout([*here, *mine])
    grown = outbox.numel() < need
    if grown:
        outbox = arena(need, home, at_least=outbox)
    at = iter(slots)

    def snapshot(xs: list[Any]) -> list[Any]:  # each tensor copied into its slot, or cloned when elsewhere
        taken = []
        for x in xs:
            if x is None or x.device != home:
                taken.append(None if x is None else x.clone())
                continue
            slot = next(at)
            place(outbox, slot).copy_(x)
            taken.append(slot)
        return taken

    at_return = snapshot(items), dict(zip(tensors, snapshot(list(tensors.values()))))
    if cuda:
        torch.cuda.synchronize()
    if settle_s:
        time.sleep(settle_s)
    later = snapshot(items)
    if cuda:
        torch.cuda.synchronize()
    return ("returned", form, *at_return, later, [], outbox if grown else None), outbox, (items, at_return, later)


def start(setup: dict[str, Any]) -> None:
    """Entry point of the worker process (`isolate.BOOTSTRAP` compiles this file and calls it with the setup it
    read from stdin): the calls arrive on the inherited socket."""
    import multiprocessing
    import multiprocessing.connection

    import torch.multiprocessing  # noqa: F401 - registers the reductions that share tensors through the pipe

    # The resource sharer hands file descriptors of shared CPU tensors to processes holding the same key.
    multiprocessing.current_process().authkey = setup["authkey"]
    main(multiprocessing.connection.Connection(setup["fd"]), setup)
