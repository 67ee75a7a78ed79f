"""Opt-in memory-safety sanitizer for Triton's CPU interpreter (`TRITON_INTERPRET=1`).

Why: the interpreter executes `tl.load` / `tl.store` / atomics on raw host addresses with no bounds check,
so an unmasked tail, a slot index of -1 or an int32-wrapped offset reads neighbouring heap memory and the
test still passes (or a store silently corrupts another tensor). On a GPU the same bug is a wrong answer or
an illegal-address fault far from its cause. While `sanitize()` is active, every memory op the interpreter
executes is checked lane by lane, and the first lane that is not masked off and falls outside the tensor
its pointer was derived from is reported with the kernel, program id, offsets and source line.

Bounds, decided: a lane must lie inside the *view* that was passed (from its lowest to its highest element
address), not merely inside the underlying storage. Leaving the storage is memory-unsafe; leaving the view
but staying in the storage is memory-safe yet reads a neighbour's data (slot -1 of `pool[1:]` is `pool[0]`),
which is the same bug one slice later, so it is reported too and the message says which of the two it was.
`bounds="storage"` relaxes the check to the storage alone. Gaps inside a strided view's span are not checked.

How it hooks the interpreter (all patches are undone on exit, also on exception; nothing is patched while
no `sanitize()` block is active, so the sanitizer costs nothing when off):
  * `GridExecutor._init_args_hst` (the host copies the kernel really reads) gives each tensor argument's
    name and address range; `_implicit_cvt`, which turns those tensors into pointer handles, tags each handle.
  * Builder ops that move pointers around (addptr, splat, broadcast, reshape, where, ...) and the block
    pointer / tensor descriptor materialisation pass the tag on, so each load knows which argument it
    derives from. A pointer whose origin is lost (int_to_ptr, pointers loaded from memory, `tl.where` over
    two arguments) must instead fall inside *some* tensor argument, and is blamed on the nearest one.
  * `InterpreterBuilder.create_masked_load` / `create_masked_store` / `create_atomic_rmw` /
    `create_atomic_cas` check the lanes; plain loads/stores, block pointers and descriptors all go through
    these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import linecache
import os
import sys
from collections import Counter
from types import FrameType
from typing import Any, Callable, Iterator, Literal, Optional, TypeVar

import numpy as np
import triton
import triton.language as tl
from triton.runtime import interpreter as _interp
from triton.runtime.errors import InterpreterError
from triton.tools.tensor_descriptor import TensorDescriptor

from shapecheck.errors import MemoryViolation, UsageError
from shapecheck.regions import Bounds, Region

Mode = Literal["raise", "record"]
T = TypeVar("T")

_TAG = "shapecheck.region"  # key in TensorHandle.attr naming the argument a pointer derives from
_SHOWN = 8  # offending offsets quoted per message: enough to see the pattern, short enough to read

# Builder methods whose pointer results keep the origin of their pointer operands.
_PROPAGATING = (
    "create_addptr",
    "create_splat",
    "create_unsplat",
    "create_broadcast",
    "create_expand_dims",
    "create_reshape",
    "create_trans",
    "create_select",
    "create_cat",
    "create_join",
    "create_split",
    "create_bitcast",
)
# Handles that materialise pointers from a base pointer (Triton 3.8's interpreter has no block pointers).
_POINTER_HANDLES: tuple[type[Any], ...] = tuple(
    getattr(_interp, name) for name in ("BlockPointerHandle", "TensorDescHandle") if hasattr(_interp, name)
)
# Checked builder methods: op name, position of the pointer and of the mask among the arguments after self.
_MEMORY_OPS: dict[str, tuple[str, int, Optional[int]]] = {
    "create_masked_load": ("load", 0, 1),
    "create_masked_store": ("store", 0, 2),
    "create_atomic_rmw": ("atomic", 1, 3),
    "create_atomic_cas": ("atomic", 0, None),
}


def _violation(
    *,
    kernel: str,
    pid: tuple[int, int, int],
    op: str,
    region: Region,
    outside: Bounds,
    derived: bool,
    offsets: list[int],
    unit: int,
    n_bad: int,
    n_active: int,
    frames: list[tuple[str, int, str]],
) -> MemoryViolation:
    """The finding, worded: which lanes left which argument's view or storage, and at which source line."""
    location = _where(*frames[0][:2]) if frames else "<unknown line>"
    argument = f"argument `{region.name}` ({region.describe()})"
    if not derived:
        where = (
            f"every tensor argument (the pointer's origin was lost, e.g. by `tl.where` over two "
            f"arguments); the nearest is {argument}"
        )
    elif outside == "storage":
        where = f"the storage of {argument}, which the pointer derives from"
    else:
        where = (
            f"the view passed as {argument}, which the pointer derives from, yet inside its storage, "
            f"so they read a neighbouring view's data"
        )
    shown = ", ".join(map(str, offsets)) + (", ..." if n_bad > len(offsets) else "")
    unit_text = f"{unit}-byte elements" if unit > 1 else "bytes"
    message = (
        f"out-of-bounds {op} in kernel `{kernel}`, program id {pid}, at {location}"
        f"{_statement(frames)}: {n_bad} of {n_active} active lanes address memory outside {where}; "
        f"offending offsets from `{region.name}`'s data_ptr, in {unit_text}: {shown}."
    )
    return MemoryViolation(
        message,
        kernel=kernel,
        pid=pid,
        op=op,
        region=region,
        outside=outside,
        derived=derived,
        offsets=offsets,
        unit=unit,
        n_bad=n_bad,
        n_active=n_active,
        frames=frames,
        location=location,
    )


@dataclasses.dataclass
class SanitizerReport:
    """What one `sanitize()` block saw. `violations` keeps the first violation per site (kernel, line, op,
    argument) and `hits` counts every program that hit that site, so a bad grid does not flood the report."""

    mode: Mode
    bounds: Bounds
    launches: int = 0
    accesses: int = 0
    violations: list[MemoryViolation] = dataclasses.field(default_factory=list)
    hits: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        """A line of totals, then one paragraph per violation site with its hit count: what a CLI prints.
        The totals matter when nothing was found: zero launches means nothing ran under the interpreter."""
        found = "no violation" if self.ok else f"{len(self.violations)} violation site(s)"
        head = (
            f"sanitizer (bounds={self.bounds}): {self.launches} interpreted launches, {self.accesses} memory "
            f"ops checked, {found}"
        )
        return "\n".join([head, *(f"[{self.hits[v.site]} hits] {v}" for v in self.violations)])


@dataclasses.dataclass
class _Session:
    report: SanitizerReport
    kernel: str = "<no kernel>"
    regions: dict[int, Region] = dataclasses.field(default_factory=dict)  # id(host tensor) -> Region
    # Suppressed lanes (record mode) are pointed here: zeros to read, a harmless word to write.
    scratch: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1, np.uint64))


_session: Optional[_Session] = None


@contextlib.contextmanager
def sanitize(mode: Mode = "raise", bounds: Bounds = "view") -> Iterator[SanitizerReport]:
    """Check every memory op of every interpreted kernel launched inside the block.

    `mode="raise"` stops at the first violation with `MemoryViolation` (out of the launch call, unwrapped
    from Triton's `InterpreterError`). `mode="record"` collects violations in the yielded report and keeps
    running with the offending lanes suppressed (loads read 0, stores and atomics go to a scratch word), so
    no memory is touched outside the tensors either way.
    """
    global _session
    if not triton.knobs.runtime.interpret:
        raise UsageError("sanitize() needs TRITON_INTERPRET=1 set before any @triton.jit kernel is defined")
    if _session is not None:
        raise UsageError("sanitize() blocks do not nest")
    report = SanitizerReport(mode, bounds)
    undo: list[tuple[object, str, object]] = []

    def patch(owner: object, name: str, wrap: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        undo.append((owner, name, original))
        setattr(owner, name, wrap(original))

    try:
        patch(_interp.GridExecutor, "__call__", _launch)
        patch(_interp.GridExecutor, "_init_args_hst", _register_args)
        patch(_interp, "_implicit_cvt", _tag_pointer)
        for name in _PROPAGATING:
            patch(_interp.InterpreterBuilder, name, _propagate)
        for handle in _POINTER_HANDLES:
            patch(handle, "materialize_pointers", _propagate)
        for name, (op, ptr_at, mask_at) in _MEMORY_OPS.items():
            patch(_interp.InterpreterBuilder, name, functools.partial(_checked, op=op, ptr_at=ptr_at, mask_at=mask_at))
        _session = _Session(report)
        yield report
    finally:
        _session = None
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def run_sanitized(
    fn: Callable[..., T], *args: Any, bounds: Bounds = "view", **kwargs: Any
) -> tuple[T, SanitizerReport]:
    """Run `fn(*args, **kwargs)` under `sanitize(mode="record")`; for a CLI that lists every finding and
    sets its exit code from `report.ok`."""
    with sanitize("record", bounds) as report:
        result = fn(*args, **kwargs)
    return result, report


# --- hooks ------------------------------------------------------------------------------------------------


def _launch(original: Callable[..., None]) -> Callable[..., None]:
    """Name the kernel for messages, and give a violation back as itself rather than as Triton's
    `InterpreterError(repr(e))`, which would flatten the message and drop the attributes."""

    @functools.wraps(original)
    def launch(self: _interp.GridExecutor, *args: Any, **kwargs: Any) -> None:
        assert _session is not None
        _session.kernel, _session.regions = self.fn.__name__, {}
        _session.report.launches += 1
        try:
            original(self, *args, **kwargs)
        except InterpreterError as error:
            cause: Optional[BaseException] = error
            while cause is not None and not isinstance(cause, MemoryViolation):
                cause = cause.__cause__
            if cause is None:
                raise
            raise cause from None

    return launch


def _register_args(original: Callable[..., Any]) -> Callable[..., Any]:
    """Record every tensor argument (also inside tuples and descriptors) under its parameter name."""

    @functools.wraps(original)
    def register(self: _interp.GridExecutor, args_dev: Any, kwargs: Any) -> Any:
        assert _session is not None
        args_hst, kwargs_hst = original(self, args_dev, kwargs)
        named = zip(self.arg_names, args_hst)
        for name, value in [*named, *kwargs_hst.items()]:
            _session.regions.update(_regions(name, value))
        return args_hst, kwargs_hst

    return register


def _regions(name: str, value: Any) -> Iterator[tuple[int, Region]]:
    if isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _regions(f"{name}[{i}]", item)
    elif isinstance(value, TensorDescriptor):
        yield from _regions(f"{name}.base", value.base)
    elif hasattr(value, "data_ptr"):
        yield id(value), Region.of(name, value)


def _tag_pointer(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def tag(arg: Any) -> Any:
        converted = original(arg)
        region = _session.regions.get(id(arg)) if _session is not None else None
        if region is not None and isinstance(converted, tl.tensor):
            converted.handle.attr[_TAG] = region
        return converted

    return tag


def _propagate(original: Callable[..., Any]) -> Callable[..., Any]:
    """Pointer results inherit the origin of their pointer operands when all of those agree."""

    @functools.wraps(original)
    def propagate(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        operands = [a.base if isinstance(a, _POINTER_HANDLES) else a for a in (*args, *kwargs.values())]
        origins = {id(o.attr.get(_TAG)): o.attr.get(_TAG) for o in operands if _is_pointer(o)}
        if len(origins) == 1 and (region := next(iter(origins.values()))) is not None:
            for out in result if isinstance(result, tuple) else (result,):
                if _is_pointer(out):
                    out.attr[_TAG] = region
        return result

    return propagate


def _is_pointer(value: Any) -> bool:
    return isinstance(value, _interp.TensorHandle) and isinstance(value.dtype, tl.pointer_type)


def _checked(original: Callable[..., Any], *, op: str, ptr_at: int, mask_at: Optional[int]) -> Callable[..., Any]:
    @functools.wraps(original)
    def checked(builder: _interp.InterpreterBuilder, *args: Any, **kwargs: Any) -> Any:
        assert _session is not None
        ptrs: _interp.TensorHandle = args[ptr_at]
        active = np.ones(ptrs.data.shape, bool)
        if mask_at is not None:  # a bare ndarray for block pointers and descriptors, else a TensorHandle
            mask = args[mask_at]
            mask = mask.data if isinstance(mask, _interp.TensorHandle) else mask
            active = np.broadcast_to(np.asarray(mask, dtype=bool), ptrs.data.shape)
        bad = _check(_session, builder, op, ptrs, active)
        if bad is not None:  # record mode: keep the op, but send the offending lanes to the scratch word
            safe = np.where(bad, np.uint64(_session.scratch.ctypes.data), ptrs.data)
            _session.scratch[0] = 0
            args = (*args[:ptr_at], _interp.TensorHandle(safe, ptrs.dtype), *args[ptr_at + 1 :])
        return original(builder, *args, **kwargs)

    return checked


def _check(
    session: _Session, builder: _interp.InterpreterBuilder, op: str, ptrs: _interp.TensorHandle, active: np.ndarray
) -> Optional[np.ndarray]:
    """Return the offending lanes (record mode), raise (raise mode), or None when every active lane is fine."""
    report = session.report
    report.accesses += 1
    region: Optional[Region] = ptrs.attr.get(_TAG)
    candidates = [region] if region is not None else list(session.regions.values())
    if not candidates:  # no tensor argument at all: nothing to measure a raw pointer against
        return None
    addr = ptrs.data
    width = max(1, ptrs.dtype.element_ty.primitive_bitwidth // 8)
    inside = np.zeros(addr.shape, bool)
    for r in candidates:
        lo, hi = r.bounds(report.bounds)
        inside |= (addr >= lo) & (addr <= hi - width)
    bad = active & ~inside
    if not bad.any():
        return None
    derived = region is not None
    if region is None:
        first = int(addr[bad][0])
        region = min(candidates, key=lambda r: _distance(first, r.bounds(report.bounds)))
    lo, hi = region.storage
    outside_storage = bad & ~((addr >= lo) & (addr <= hi - width))
    deltas = [_signed(int(a) - region.data_ptr) for a in addr[bad][:_SHOWN]]
    unit = width if all(d % width == 0 for d in deltas) else 1
    x, y, z = (int(i) for i in builder.grid_idx)  # the interpreter's program id always has three axes
    violation = _violation(
        kernel=session.kernel,
        pid=(x, y, z),
        op=op,
        region=region,
        outside="storage" if outside_storage.any() else "view",
        derived=derived,
        offsets=[d // unit for d in deltas],
        unit=unit,
        n_bad=int(bad.sum()),
        n_active=int(active.sum()),
        frames=_kernel_frames(),
    )
    if violation.site not in report.hits:
        report.violations.append(violation)
    report.hits[violation.site] += 1
    if report.mode == "raise":  # recorded first, so the summary never says "no violation" after one was raised
        raise violation
    return bad


def _signed(delta: int) -> int:
    """Addresses are uint64: an offset below the base arrives wrapped modulo 2**64."""
    delta %= 2**64
    return delta - 2**64 if delta >= 2**63 else delta


def _distance(addr: int, span: tuple[int, int]) -> int:
    return max(span[0] - addr, addr - span[1], 0)


def _kernel_frames() -> list[tuple[str, int, str]]:
    """(file, line, function) of the interpreted @triton.jit frames on the stack, innermost first: the
    interpreter recompiles each kernel with its real file name and line numbers, so these point at source."""
    jitted = {fn.__code__ for fn in _interp.InterpretedFunction.rewritten_fn.values()}
    frames: list[tuple[str, int, str]] = []
    frame: Optional[FrameType] = sys._getframe()
    while frame is not None:
        if frame.f_code in jitted:
            frames.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return frames


def _statement(frames: list[tuple[str, int, str]]) -> str:
    """The offending statement's text, and the call chain when it sits in a @triton.jit helper."""
    if not frames:
        return ""
    path, line, _ = frames[0]
    text = linecache.getline(path, line).strip()
    chain = "".join(f", in `{fn}` called from {_where(p, n)}" for (_, _, fn), (p, n, _) in zip(frames, frames[1:]))
    return (f" `{text}`" if text else "") + chain


def _where(path: str, line: int) -> str:
    """`file:line`, relative to the working directory when the file lies below it."""
    with contextlib.suppress(ValueError):  # another drive on Windows
        relative = os.path.relpath(path)
        path = path if relative.startswith("..") else relative
    return f"{path}:{line}"
