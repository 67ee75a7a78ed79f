"""Which Triton backend runs the kernels, decided before any kernel module is imported.

Triton reads TRITON_INTERPRET when `@triton.jit` decorates a function, so the choice must be made first.
Not every Triton's interpreter can run every kernel: triton 3.5/3.6 under numpy >= 2.4 fail on a loop whose
bound is a runtime argument (`for t in range(T)`), which every recurrent kernel has. That failure is the
environment's, not the kernel's: it must be an error (exit 2) naming the versions, never a finding.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from typing import Any, Optional

from shapecheck.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")

_PROBE = """
import torch, triton, triton.language as tl
@triton.jit
def probe(x, n):
    for i in range(n):
        tl.store(x + i, i)
x = torch.zeros(3, dtype=torch.int32)
probe[(1,)](x, 3)
assert x.tolist() == [0, 1, 2], x.tolist()
"""


def select_backend(device: str) -> str:
    """Resolve `auto|cpu|cuda` to the device the run uses; for `cpu`, also check that Triton's interpreter works.

    For `cpu` this sets `os.environ["TRITON_INTERPRET"] = "1"` for the rest of the process, on purpose: Triton
    reads the variable when `@triton.jit` decorates a function (there is no per-kernel switch), so it must be
    set before any kernel module is imported, and the worker processes a run spawns inherit it from here.
    Call it first, before importing kernels.
    """
    import torch

    if device not in DEVICES:
        raise UsageError(f"--device must be auto, cpu or cuda, found {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible to torch on this machine")
    chosen = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    if chosen == "cpu":
        if torch.cuda.is_available() and (problem := interpreter_problem()):  # CPU machines run it anyway
            raise UsageError(problem)
        os.environ["TRITON_INTERPRET"] = "1"
        interpreter_shims()
    return chosen


def interpreter_shims() -> None:
    """Make Triton's CPU interpreter run kernels as compiled Triton would, where it differs by omission
    (idempotent; call it with the interpreter chosen, before kernel modules are imported: libdevice names are
    bound when a module does `from triton.language.extra.libdevice import rsqrt`).

    Each shim removes an environment error that would otherwise hide the kernel: loop variables and float
    arguments that stay Python numbers, and libdevice functions that are empty stubs under the interpreter.
    """
    tensor_loop_variables()
    tensor_float_arguments()
    interpreted_libdevice()


def tensor_loop_variables() -> None:
    """Make the interpreter's `for` loop variables tensors, as compiled Triton's are (idempotent; call it with
    the interpreter chosen, before a kernel first runs: the interpreter rewrites each kernel once).

    Why: compiled Triton lowers `for i_t in range(NT)` to a loop whose `i_t` is a tensor, and kernels rely on
    it (`i_t.to(tl.int64)`, fla's chunk kernels); the interpreter iterates Python ints, so such a kernel fails
    with "'int' object has no attribute 'to'" before it computes anything. The interpreter already rewrites
    each assignment's value to a tensor; this adds the same for a loop's target at the top of its body.
    `tl.static_range` loops keep Python ints: their variables are constexprs when compiled too.
    """
    import ast

    from triton.runtime import interpreter

    transformer = interpreter.ASTTransformer
    if getattr(transformer, "_shapecheck_loops", False):
        return

    def visit_For(self: Any, node: ast.For) -> ast.For:
        self.generic_visit(node)
        static = (
            isinstance(node.iter, ast.Call)
            and getattr(node.iter.func, "attr", getattr(node.iter.func, "id", "")) == "static_range"
        )
        if isinstance(node.target, ast.Name) and not static:
            to_tensor = ast.Attribute(
                value=ast.Name(id="interpreter_semantic", ctx=ast.Load()), attr="to_tensor", ctx=ast.Load()
            )
            value = ast.Call(
                func=to_tensor,
                args=[ast.Name(id=node.target.id, ctx=ast.Load()), ast.Constant(value=False)],
                keywords=[],
            )
            node.body.insert(0, ast.Assign(targets=[ast.Name(id=node.target.id, ctx=ast.Store())], value=value))
        return node

    transformer.visit_For = visit_For
    transformer._shapecheck_loops = True


def tensor_float_arguments() -> None:
    """Pass a kernel's float arguments to the interpreter as fp32 scalars, as compiled Triton does (idempotent).

    Why: compiled Triton types a Python float argument `fp32`, and kernels rely on it (`eps.to(tl.float32)`,
    Liger-Kernel's norms); the interpreter converts int arguments to scalars but hands floats through as
    Python floats, so such a kernel fails with "'float' object has no attribute 'to'" before computing.
    """
    import numpy as np
    import triton.language as tl
    from triton.runtime import interpreter

    if getattr(interpreter._implicit_cvt, "_shapecheck_floats", False):
        return
    original = interpreter._implicit_cvt

    def implicit_cvt(arg: Any) -> Any:
        if isinstance(arg, float):
            return tl.tensor(interpreter.TensorHandle(np.array([arg], dtype=np.float32), tl.float32), tl.float32)
        return original(arg)

    implicit_cvt._shapecheck_floats = True  # type: ignore[attr-defined]
    interpreter._implicit_cvt = implicit_cvt


# libdevice functions that are numpy ufuncs of the same name (rsqrt is added as 1 / sqrt).
_LIBDEVICE_UFUNCS = (
    "tanh",
    "exp",
    "exp2",
    "log",
    "log2",
    "log1p",
    "expm1",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "atan",
    "asin",
    "acos",
    "floor",
    "ceil",
    "trunc",
    "fabs",
)


def interpreted_libdevice() -> None:
    """Give `triton.language.extra.libdevice`'s stubs numpy bodies under the interpreter (idempotent).

    Why: compiled Triton dispatches `libdevice.rsqrt` to the backend's library; under the interpreter the
    name is a stub whose body is `...`, so a kernel using it (Liger-Kernel's norms, its tanh GELU) computes
    with None and fails with "cannot convert None ... to tensor". The functions get elementwise numpy
    bodies in the argument's dtype (fp32 kernels get fp32 results, like `__nv_rsqrtf`).
    """
    import numpy as np
    import triton.language as tl
    from triton.language.extra import libdevice
    from triton.runtime import interpreter

    if getattr(libdevice, "_shapecheck_numpy", False):
        return

    def unary(fn: Any) -> Any:
        def body(x: Any, _semantic: Any = None) -> Any:
            x = interpreter.interpreter_semantic.to_tensor(x)
            data = fn(x.handle.data)
            return tl.tensor(interpreter.TensorHandle(data.astype(x.handle.data.dtype), x.handle.dtype), x.type)

        return body

    for name in _LIBDEVICE_UFUNCS:
        setattr(libdevice, name, unary(getattr(np, name)))
    libdevice.rsqrt = unary(lambda x: 1 / np.sqrt(x))
    libdevice._shapecheck_numpy = True


@functools.lru_cache(maxsize=1)
def interpreter_problem() -> Optional[str]:
    """Why Triton's CPU interpreter cannot run a runtime-bound loop here, or None if it can.

    Probed in a fresh interpreter process (this one may already have compiled kernels for the GPU).
    """
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    if result.returncode == 0:
        return None
    import numpy
    import triton

    last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
    return (
        f"--device cpu: Triton {triton.__version__}'s CPU interpreter cannot run a kernel with a runtime loop "
        f"bound on this machine (numpy {numpy.__version__}: {last}); run on the GPU (--device cuda) or "
        f"install triton>=3.7.1 for the interpreter"
    )


@functools.lru_cache(maxsize=1)
def interpreter_bfloat16_arithmetic() -> bool:
    """Whether this process's Triton CPU interpreter computes with bf16 values correctly.

    Triton 3.7.1's does not: `tl.load` of bf16 yields the raw 16-bit patterns, and arithmetic on them before
    a cast to fp32 gives garbage (2 * 3 in bf16 is no 6). A kernel that casts its loads to fp32 first is
    unaffected; one that multiplies bf16 loads directly would fail under the interpreter only, which is
    the environment's fault, not the kernel's. So generic `Float[...]` tensors are not drawn as bf16 there
    (`strategies.dtype_choices`). Probed in-process, once, on a one-element kernel.
    """
    import torch
    import triton
    import triton.language as tl

    @triton.jit
    def probe(x, y):
        tl.store(y, tl.load(x) * tl.load(x + 1))

    x = torch.tensor([2.0, 3.0], dtype=torch.bfloat16)
    y = torch.zeros(1, dtype=torch.bfloat16)
    try:
        probe[(1,)](x, y)
    except Exception:  # noqa: BLE001 - an interpreter that cannot run it does not compute bf16 either
        return False
    return y.item() == 6.0
