"""fla-core 0.6.0's chunk_gla backward at V < 16: its `chunk_gla_bwd_kernel_dA` takes the inner size of a
`tl.dot` from BV = min(64, next_power_of_2(V)), and Triton's GPU dot needs 16 or more, so the kernel does not
compile for V=1 (the audit's GPU finding, "CompilationError at 39:15"); the interpreter has no such limit. No GPU
needed: the kernel is compiled for an sm_90 target here. Run from the repository root with fla-core's wheel
extracted into .peers/fla_core (bench/audit/peers.py)."""

import sys

sys.path.insert(0, ".peers/fla_core")
import triton
from fla.ops.gla.chunk import chunk_gla_bwd_kernel_dA
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import JITFunction

kernel = chunk_gla_bwd_kernel_dA
while not isinstance(kernel, JITFunction):  # under its autotuner
    kernel = kernel.fn
pointers = dict.fromkeys(["v", "do", "dA"], "*fp32") | dict.fromkeys(["cu_seqlens", "chunk_indices"], "*i32")
signature = pointers | {"scale": "fp32", "T": "i32"} | dict.fromkeys(["H", "V", "BT", "BV", "IS_VARLEN"], "constexpr")
for V in (1, 8, 16, 64):
    BV = min(64, triton.next_power_of_2(V))  # as fla's wrapper sets it
    source = ASTSource(kernel, signature, constexprs={"H": 1, "V": V, "BT": 64, "BV": BV, "IS_VARLEN": False})
    try:
        triton.compile(source, target=GPUTarget("cuda", 90, 32))
        print(f"V={V} BV={BV}: compiles")
    except Exception as exc:  # noqa: BLE001 - the finding
        print(f"V={V} BV={BV}: {type(exc).__name__}: {' '.join(str(exc).split())[-160:]}")
