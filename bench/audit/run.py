"""One command for the audit of Liger-Kernel and flash-linear-attention: every op through its contract, one
`shapecheck run` each (a fresh process, so one library's import or crash never reaches another op), then a
table per op (held / violated / error, cases forward and backward, worst error per dtype, wall time) as JSON,
JUnit and markdown in `--out`, naming the device and versions, with each finding's judgement.

    python bench/audit/run.py --device cpu  --out bench/results/audit            # profile ci, 20 cases per op
    python bench/audit/run.py --device cuda --out bench/results/audit            # profile gpu, 100 cases per op
    python bench/audit/run.py --device cuda --merge A B --out bench/results/audit  # join tables run side by side
    python bench/audit/run.py --device cuda --steered --out bench/results/audit  # round the judged findings

A violated op's run stops at its first finding; `--steered` lets each op whose finding is judged go round that one
finding (STEERING: a pin, an adapter handing the library clones, a contract, an environment variable), so its
cases still judge everything else. Its tables are audit_<device>_steered.*, every steered row marked as such.

Needs the wheels in $PEERS (default .peers/): liger_kernel-0.8.5-*.whl, fla_core-0.6.0-*.whl; and einops.
Exit 0 when every op held, 1 when any was violated (each judged in JUDGEMENTS), 2 on an environment error
(a missing wheel, an op whose run errored).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.audit import peers  # noqa: E402 - after the repository root is importable


@dataclasses.dataclass(frozen=True)
class Op:
    library: str
    name: str  # the contract's short name
    module: str  # where the contract and its adapter live
    impl: str  # the adapter's name in `module`
    kernel: str  # the library function audited


OPS = [
    *(
        Op("liger", n, "bench.audit.liger", f"liger_{n}", f)
        for n, f in [
            ("rms_norm", "LigerRMSNormFunction"),
            ("fused_add_rms_norm", "LigerFusedAddRMSNormFunction"),
            ("layer_norm", "LigerLayerNormFunction"),
            ("group_norm", "LigerGroupNormFunction"),
            ("dyt", "LigerDyTFunction"),
            ("swiglu", "LigerSiLUMulFunction"),
            ("geglu", "LigerGELUMulFunction"),
            ("softmax", "LigerSoftmaxFunction"),
            ("rope", "LigerRopeFunction"),
            ("cross_entropy", "LigerCrossEntropyFunction"),
            ("kl_div", "LigerKLDivLossFunction"),
            ("jsd", "LigerJSDFunction"),
        ]
    ),
    *(
        Op("fla", n, "bench.audit.fla", f"fla_{n}", f"fla.ops.{fam}.{n}")
        for n, fam in [
            ("fused_recurrent_simple_gla", "simple_gla"),
            ("fused_recurrent_retention", "retention"),
            ("chunk_gla", "gla"),
            ("fused_recurrent_delta_rule", "delta_rule"),
            ("fused_recurrent_gated_delta_rule", "gated_delta_rule"),
        ]
    ),
    Op("fla", "chunk_gdn", "bench.fla_chunk", "fla_chunk_gdn", "fla.ops.gated_delta_rule.chunk_gated_delta_rule"),
]


@dataclasses.dataclass(frozen=True)
class Steering:
    """How a `--steered` run goes round one op's judged finding (its run stops at the first finding, after 3 to 30
    cases), so its 100 cases still judge everything else: outputs, gradients, in-place arguments."""

    reason: str  # the judged finding it goes round (JUDGEMENTS), and how, in a line
    pins: tuple[str, ...] = ()  # `--pin NAME=VALUE` (shapecheck/pins.py)
    env: tuple[tuple[str, str], ...] = ()  # (name, value) set in the op's process
    impl: Optional[str] = None  # another adapter in the op's module
    contract: Optional[str] = None  # another contract in the op's module
    options: tuple[str, ...] = ()  # other `shapecheck run` options

    def arguments(self) -> list[str]:
        return [*(a for p in self.pins for a in ("--pin", p)), *self.options]

    def summary(self) -> str:
        """What applied, as the table's row states it."""
        parts = [*(f"{k}={v}" for k, v in self.env), *(f"--pin {p}" for p in self.pins), *self.options]
        parts += [f"adapter {self.impl}"] if self.impl else []
        parts += [f"contract {self.contract}"] if self.contract else []
        return ", ".join(parts)


_TF32 = ("TRITON_F32_DEFAULT", "ieee")  # Triton's GPU `tl.dot` of float32 operands runs in TF32 unless told

# `--steered`: per op, how its run goes round the finding judged in JUDGEMENTS (and only it). Ops absent run as
# without it: layer_norm, kl_div and the gated delta rule were false alarms of ours, fixed.
STEERING: dict[str, Steering] = {
    "rms_norm": Steering(
        "LIBRARY DEFECT judged: with in_place=True the backward writes dX over its incoming gradient; in_place=False",
        pins=("in_place=false",),
    ),
    "group_norm": Steering(
        "LIBRARY DEFECTS judged: the float16 backward rounds statistics and partials below float16, and the "
        "one-pass float32 variance cancels on small groups; float32 only, contract group_norm_wide (groups of >= 16)",
        pins=('dtypes={"X": "float32"}',),
        contract="group_norm_wide",
    ),
    "swiglu": Steering(
        "DIFFERENCE OF CONTRACT judged: the backward stores da, db over a, b; Liger gets clones of a and b",
        impl="liger_swiglu_cloned",
    ),
    "geglu": Steering(
        "DIFFERENCE OF CONTRACT judged: the backward stores da, db over a, b; Liger gets clones of a and b",
        impl="liger_geglu_cloned",
    ),
    "rope": Steering(
        "DIFFERENCE OF CONTRACT judged: in place on contiguous [B, T, H, D] q, k and on the incoming gradient; Liger "
        "gets clones of q, k and a copy of each cotangent",
        impl="liger_rope_cloned",
    ),
    "cross_entropy": Steering(
        "DIFFERENCE OF CONTRACT judged: the forward stores the gradient over logits; Liger gets a clone of logits",
        impl="liger_cross_entropy_cloned",
    ),
    "jsd": Steering(
        "DIFFERENCE OF PRECISION judged: bfloat16 log-probabilities at the API put the bfloat16 gradient ~1e-2 off; "
        "float32 only, held to 1e-5 (operand_precision cannot say it: the gradient is bfloat16 already)",
        pins=('dtypes={"logits": "float32"}',),
    ),
    "chunk_gla": Steering(
        "DIFFERENCE OF PRECISION (TF32 float32 dots; bfloat16 gate gradients) and LIBRARY LIMIT (backward does not "
        "compile for V < 16) judged: IEEE float32 dots, float32 only, and contract chunk_gla_v16 draws V >= 16",
        pins=('dtypes={"q": "float32"}',),
        env=(_TF32,),
        contract="chunk_gla_v16",
    ),
    "fused_recurrent_delta_rule": Steering(
        "DIFFERENCE OF PRECISION judged: bfloat16 gradients through fla's bfloat16 l2-normalised q, k and the "
        "adapter's bfloat16 sigmoid(beta); float32 only",
        pins=('dtypes={"q": "float32"}',),
    ),
    "chunk_gdn": Steering(
        "DIFFERENCE OF PRECISION (TF32 float32 dots) and ENVIRONMENT (fla refuses its backward on Hopper with "
        "triton < 3.7.1) judged: IEEE float32 dots, forward only",
        env=(_TF32,),
        options=("--no-backward",),
    ),
}

# What shapecheck cannot express yet, per op left out: the missing capability is the next work.
CANNOT_EXPRESS = {
    "liger cross_entropy reduction='none'": "a result whose shape depends on a Literal argument (scalar for "
    "'mean'/'sum', [N] for 'none'): one annotation per Literal value",
    "liger cross_entropy return_z_loss / token accuracy": "a result that is a dataclass (CrossEntropyOutput), "
    "not a tensor or tuple",
    "liger rms_norm / dyt on [B, T, D]": "a variadic leading shape (`*batch D`) drawn by the engine: the contracts "
    "flatten to [N, D]",
    "liger fused_linear_cross_entropy / fused_linear_jsd": "a reference of the size that exercises chunking "
    "(vocab x hidden matmuls) is beyond the CPU interpreter; "
    "not attempted",
}

# Judgements of findings, by op: why it is a library defect, a difference of contract or a false alarm.
JUDGEMENTS: dict[str, str] = {
    "rms_norm": "LIBRARY DEFECT (in_place=True, the default): the backward writes dX over the gradient it is handed. "
    "Autograd hands one gradient to both branches of a sum, so `h * 3 + liger_rms_norm(x, w, 1e-6)` gives h "
    "a wrong gradient (repro: bench/results/audit/repro_rms_norm_in_place.py; expected grad of h all 3.0, "
    "found 1.44, 1.40, 2.57, ...; with in_place=False all 3.0). Forward and in_place=False hold.",
    "swiglu": "DIFFERENCE OF CONTRACT (by design, undocumented at the functional API): the backward stores da, db over "
    "the saved inputs a and b, so a caller reading a or b after backward gets gradients.",
    "geglu": "DIFFERENCE OF CONTRACT: as swiglu, the backward overwrites its inputs a and b with their gradients.",
    "cross_entropy": "DIFFERENCE OF CONTRACT (documented in Liger's source): the forward stores the gradient over the "
    "logits it is given; a caller reading the logits afterwards gets the gradient.",
    "dyt": "ENVIRONMENT, not a finding: the backward sizes scratch by the device's SM count and has no branch for a CPU "
    "tensor (`NUM_SMS` unbound); the GPU row is the verdict.",
    "rope": "DIFFERENCE OF CONTRACT, not expressible yet: Liger rotates q and k in place when their [B, T, H, D] storage is "
    "contiguous (Hugging Face's layout after `.view(B, T, H, D).transpose(1, 2)`, and any H == 1 or T == 1 "
    "input), returns views of them, and its backward rotates the incoming gradient in place; a contiguous "
    "[B, H, T, D] input is copied instead. 'In place on some layouts' has no marker.",
    "group_norm": "LIBRARY DEFECT (precision, float16): the backward keeps mean and rstd in float16 and rounds each "
    "batch row's partial weight and bias gradient to bfloat16 (it picks `tl.bfloat16` for any input not float32) "
    "before adding the rows into the float16 result, so rows whose partials cancel lose the sum. Repro: "
    "bench/results/audit/repro_group_norm_fp16.py (B=2, C=1, L=11, 40 draws): dW up to 5.0e-2 off a float64 "
    "reference; emulating those roundings with round-to-nearest bfloat16 (a GPU's; the CPU interpreter truncates) "
    "already gives 3.6e-2, while a kernel keeping statistics and partials in float32 is 4.1e-4 off at worst on the "
    "same float16 inputs (its one rounding to float16), so the 5e-3 bound is fair. Expected: float32 statistics "
    "and partials.",
    "kl_div": "FALSE ALARM OF OURS, fixed: a float32 loss of float16 log-probabilities was held to float32's 1e-5 "
    "(found 6.8e-4): Liger reduces it in the operands' dtype. shapecheck had no way to say so; a contract now "
    "declares `operand_precision=True` (each result held to the bound of its coarsest floating operand, "
    "`harness.operand_bound`, tests/test_operand_bound.py) and ours does. Off by default: declared on the bundled "
    "GDN contract it let a planted softplus bug pass in 3 of 8 seeded 60-case CPU runs (caught in all 8 without)."
    " GPU (H100): grad of logits float16 2.95e-2 > 5e-3 at V=1579, reduction='mean': FALSE ALARM OF OURS, fixed, "
    "replayed held on an H100 at d9f0219 (2.95e-2 within 4.14e-2 = 2 x its 2.1e-2 storage floor): the gradient's values are ~1/V^2 (about 4e-7), in float16's subnormal range, where "
    "the exact gradient merely stored in float16 is already 1.9e-2 to 2.6e-2 off (CPU emulation, randn logits); "
    "the second opinion now holds a result within 2x that storage error (`conditioning.STORED`, "
    "tests/test_conditioning.py; an error beyond it still fails). Inputs are drawn on the device's generator, so the "
    "CPU replay draws other tensors (held there at 2.9e-3); bench/audit/replay_gpu_findings.sh replays it.",
    "jsd": "DIFFERENCE OF PRECISION at the API (GPU only, bfloat16; the interpreter's bfloat16 bound is 1e-2): Liger "
    "takes log-probabilities in the inputs' dtype, and its gradient (1 - beta) q (X - log M) differences two "
    "bfloat16-rounded logs of size ~|log(1/V)| (5.3 at V=211, each ~1e-2 off). Liger's own float32 formula on "
    "bfloat16 log-probabilities, emulated on the CPU, is 7.2e-3 to 1.3e-2 off the float64 truth over 20 draws "
    "(found 1.0e-2): any bfloat16 caller of this API lands there; Liger's arithmetic adds nothing measurable.",
    "layer_norm": "FALSE ALARM OF OURS, fixed twice, the second fix replayed held on an H100 (GPU only, D=1): a one-feature row normalises to a "
    "constant, so the exact grad of X is 0 and a relative error against it is the absolute one; Liger's dX came "
    "1.1e-5 off 0 (bound 1e-5), rounding scaled by rstd = 1/sqrt(eps) = 1e3. The second opinion's float32 "
    "evaluation of the reference ran on the GPU only, where torch's layer norm came within 1e-5/16 of 0 (no floor); torch's "
    "float32 CPU layer norm is 3.8e-5 off 0 on such rows (bench/results/audit/repro_layer_norm_d1.py: Liger under "
    "the interpreter exactly 0; at D=64 both 1.8e-6). A GPU case's reference now also runs in float32 on the CPU, "
    "and the larger error is the floor (tests/test_conditioning.py). Rerun on an H100 at 7c7fd3a (2026-12-07): the same "
    "case, still 1.13e-5 > 1e-5 with no floor: for gradients that CPU evaluation raised (the cotangent stayed on the "
    "GPU) and was dropped; the cotangent now follows the arguments (tests/test_gradients.py). Replayed on an H100 at "
    "d9f0219: held, grad of X 1.13e-5 within 5.86e-4 (16 x the CPU float32 evaluation's 3.7e-5).",
    "fused_recurrent_delta_rule": "(2) DIFFERENCE OF PRECISION at the API (GPU, bfloat16; H100 09:01 UTC, 45e936e): "
    "grad of k 6.5e-3, grad of v 7.3e-3 against bfloat16's 5e-3 (B=1, H=2, K=11, T=1, V=125). fla hands its "
    "backward q, k l2-normalised in their own dtype, and the adapter passes sigmoid(beta) in bfloat16 (as a "
    "bfloat16 caller would); bench/results/audit/repro_delta_rule_bf16.py rounds just those three to bfloat16 in "
    "an otherwise float64 computation at that shape: over 40 draws the bfloat16-stored grads of q, k, v, beta are "
    "up to 7.5e-3, 5.2e-3, 5.5e-2, 5.0e-2 off, with no kernel arithmetic at all. (1) FALSE ALARM OF OURS (our "
    "contract), fixed, replayed held on an H100 at "
    "d9f0219 (final state 3.9e-4): fla l2-normalises q "
    "and k in a kernel of its own (`l2norm_fwd`, output `empty_like(x)`: float16 for float16 inputs), so the float32 "
    "final state is built from float16-rounded keys (found 3.0e-4 against float32's 1e-5). The contract now "
    "declares `operand_precision=True`, as chunk_gla's.",
    "fused_recurrent_gated_delta_rule": "FALSE ALARM OF OURS (our contract), fixed, not replayed on a GPU: as "
    "fused_recurrent_delta_rule (float16 q, k from fla's l2norm kernel; found 1.8e-5 against 1e-5).",
    "chunk_gdn": "Two GPU-only findings (H100, triton 3.6.0), neither in the forward's logic. (1) DIFFERENCE OF "
    "PRECISION by Triton's default: on the GPU `tl.dot` of float32 operands runs in TF32 (a 10-bit mantissa), so "
    "fla's chunked float32 o and final state are 16-bit accurate (1.25e-3, 6.7e-4); the interpreter's dots are IEEE "
    "float32 and held 20/20 at 4.1e-7 (with `TRITON_F32_DEFAULT=ieee` the minimal case held "
    "on an H100 at d9f0219: o 1.9e-7, final state 2.0e-7; bench/audit/replay_gpu_findings.sh). (2) ENVIRONMENT: fla refuses its own backward on Hopper "
    "with Triton >= 3.4, < 3.7.1 (RuntimeError citing its issue #640: wrong results in chunk_bwd_dqkwg); the "
    "machine's triton is 3.6.0, so the GPU backward verdict waits for triton >= 3.7.1.",
    "chunk_gla": "Two GPU-only findings (H100, triton 3.6.0, minimal case B=H=N=T=V=1, K=2). (1) DIFFERENCE OF "
    "PRECISION by Triton's default, as chunk_gdn's: float32 o 8.4e-4 off (TF32 `tl.dot`). (2) LIBRARY LIMIT: the "
    "backward does not compile for V < 16 (CompilationError at 39:15): `chunk_gla_bwd_kernel_dA`'s `b_dA = "
    "tl.dot(b_do, b_v, b_dA)` takes its inner size from BV = min(64, next_power_of_2(V)) = 1, and Triton's GPU `tl.dot` needs "
    "16 or more (the interpreter has no such limit: CPU 20/20 held; compiled for sm_90 without a GPU, V=1 and 8 "
    "fail, 16 and 64 compile: bench/results/audit/repro_chunk_gla_v1.py); the forward accepts V=1, so the wrapper should "
    "refuse V < 16 or pad BV. Earlier (CPU): a false alarm of ours, fixed (float32 grad of initial_state from "
    "float16 operands held to float32's bound; the contract declares `operand_precision=True`).",
}


def _versions() -> dict[str, str]:
    import torch
    import triton

    return {
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        **{lib: v for lib, v in peers.VERSIONS.items()},
    }


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU interpreter ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def run_op(
    op: Op,
    device: str,
    profile: str,
    examples: int,
    seed: int,
    out: Path,
    timeout: float,
    steering: Optional[Steering] = None,
    workers: int = 1,
) -> dict[str, Any]:
    """One op's `shapecheck run`, its JSON read back into a row; with `steering`, its options, adapter, contract
    and environment (the row says so). `workers` > 1 splits the drawn cases over processes on the one device
    (`--workers`): a GPU run whose cases each compile a drawn autotune config is bound by one CPU core's compiles."""
    report, junit = out / f"{op.library}_{op.name}.json", out / f"{op.library}_{op.name}.xml"
    contract = steering.contract if steering and steering.contract else op.name
    impl = steering.impl if steering and steering.impl else op.impl
    cmd = [
        sys.executable,
        "-m",
        "shapecheck.cli",
        "run",
        f"{op.module}:{contract}",
        "--contracts",
        op.module,
        "--impl",
        f"{op.module}:{impl}",
        "--device",
        device,
        "--profile",
        profile,
        "--examples",
        str(examples),
        "--seed",
        str(seed),
        "--no-db",
        # Every config a library ships is checked (one drawn per case), and a GPU run compiles that one instead
        # of benchmarking all of them at each new shape (the default there, which kept fla off the GPU table).
        "--autotune-configs",
        "drawn",
        "--workers",
        str(workers),
        "--json",
        str(report),
        "--junit",
        str(junit),
        *(steering.arguments() if steering else []),
    ]
    env = {**os.environ, **dict(steering.env if steering else ())}
    start = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
        code, stderr, stdout = done.returncode, done.stderr, done.stdout
    except subprocess.TimeoutExpired:
        code, stderr, stdout = 2, f"timed out after {timeout:.0f} s", ""
    wall = time.monotonic() - start
    message = stderr.strip() or stdout.strip() or "(no output)"
    return _row(op, report if code in (0, 1) else None, code, message, wall, steering)


def _row(
    op: Op, report: Optional[Path], code: int, message: str, wall: float, steering: Optional[Steering] = None
) -> dict[str, Any]:
    """One op's table row from its `shapecheck run` JSON report (None or missing: the run's error `message`)."""
    row: dict[str, Any] = {
        "library": op.library,
        "op": op.name,
        "kernel": op.kernel,
        "wall_s": round(wall, 1),
        # a run that exits 0 or 1 without its report (a crash before it was written) is an error, not a verdict
        "verdict": {0: "held", 1: "violated"}.get(code, "error") if report is not None and report.exists() else "error",
        "exit": code,
    }
    if steering is not None:
        row["steering"] = {"applied": steering.summary(), "reason": steering.reason}
    if report is not None and report.exists():
        [data] = json.loads(report.read_text())["contracts"]
        row.update(
            cases=data["cases"],
            backward_cases=data["backward_cases"],
            worst_errors=data["worst_errors"],
            regimes=data["regimes"],
            autotune_configs=data.get("autotune_configs", {}),
        )
        if data.get("failure"):
            row["problems"] = data["failure"]["problems"]
            row["case"] = data["failure"]["case"]
            row["reproduce"] = data["failure"]["reproduce"]
    else:
        lines = message.splitlines()
        row["error"] = lines[0] if lines[0].startswith("shapecheck: error") else lines[-1]
    if row["verdict"] == "violated":
        row["judgement"] = _judgement(row)
    return row


# The findings steered runs met beyond the ones they went round (H100, 2026-12-07 09:01 UTC, code 45e936e), judged.
STEERED_JUDGEMENTS = {
    "group_norm": "LIBRARY DEFECT (precision, float32), a second one: the forward takes the variance in one pass, "
    "E[X^2] - E[X]^2 in float32, which cancels when a group's mean is large against its spread; on groups of two "
    "elements (B=8, C=1, L=2, G=1) the output is 1.0e-4 off against torch's float32 1.4e-6 (CPU replay, bound "
    "16x), and grad of X 0.10-0.12 off (GPU and CPU). bench/results/audit/repro_group_norm_one_pass.py: over 200 "
    "draws of such groups a one-pass float32 normalisation is up to 1.6e-3 off float64, a two-pass one 1.1e-5. "
    "Expected: a two-pass (or Welford) variance. The steering now draws groups of 16 or more (contract "
    "group_norm_wide; not yet run on a GPU).",
    "chunk_gla": "DIFFERENCE OF PRECISION (bfloat16), judged by analogy with fused_recurrent_delta_rule, not "
    "emulated: grad of g in bfloat16 8.5e-3 against bfloat16's 5e-3 at B=H=T=1, K=2, V=16; a gate gradient is a "
    "difference of bfloat16-rounded products (q dq - k dk, then a reversed cumulative sum), whose exact value is "
    "small against its terms. The steering now draws float32 only (not yet run).",
}


def _judgement(row: dict[str, Any]) -> str:
    """The op's judgement; a steered row's finding is another than the one judged: its own judgement, if any."""
    judged = JUDGEMENTS.get(row["op"], "NOT JUDGED")
    if "steering" not in row:
        return judged
    return STEERED_JUDGEMENTS.get(
        row["op"],
        f"NOT JUDGED: this run was steered round the judged finding ({row['steering']['reason']}); this is another",
    )


def _errors(row: dict[str, Any]) -> str:
    worst = row.get("worst_errors") or {}
    return "; ".join(f"{k} {v:.1e}" for k, v in sorted(worst.items()))


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    v = meta["versions"]
    steered = any("steering" in r for r in rows)
    lines = [
        f"# Audit of Liger-Kernel and flash-linear-attention on {meta['device']}"
        + (" (STEERED: rows marked steered went round their judged findings)" if steered else ""),
        "",
        f"{v['liger']}, {v['fla']}; torch {v['torch']}, triton {v['triton']}, python {v['python']}; "
        f"profile {meta['profile']}, {meta['examples']} drawn cases per op (plus regime examples), seed "
        f"{meta['seed']}; `{meta['command']}`; total {meta['wall_s']:.0f} s.",
        "",
        "| library | op | verdict | cases (fwd / bwd) | worst relative RMS error per result and dtype | wall s |"
        + (" steered round its judged finding by |" if steered else ""),
        "|---|---|---|---|---|---|" + ("---|" if steered else ""),
    ]
    for r in rows:
        verdict = r["verdict"] if r["verdict"] != "error" else f"error: {r.get('error', '')}"
        verdict += " (steered)" if "steering" in r else ""
        cases = f"{r.get('cases', 0)} / {r.get('backward_cases', 0)}"
        row = f"| {r['library']} | `{r['op']}` | {verdict} | {cases} | {_errors(r)} | {r['wall_s']} |"
        lines.append(row + (f" {r['steering']['applied'] if 'steering' in r else 'not steered'} |" if steered else ""))
    if steered:
        lines += ["", "## Steering", "", "A steered row's verdict holds for the cases its steering leaves:", ""]
        lines += [f"- `{r['op']}`: {r['steering']['reason']}" for r in rows if "steering" in r]
    lines += ["", "## Findings", ""]
    for r in rows:
        if r["verdict"] == "violated":
            lines += [
                f"### {r['library']} `{r['op']}`",
                "",
                *[f"- {p}" for p in r.get("problems", [])],
                "",
                f"case: `{json.dumps(r.get('case'), separators=(',', ':'))}`",
                "",
                f"replay: `{r.get('reproduce', '')}`",
                "",
                f"**Judgement**: {_judgement(r)}",
                "",
            ]
    lines += [
        "## Cannot express yet",
        "",
        "| op | missing capability |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in CANNOT_EXPRESS.items()],
        "",
    ]
    return "\n".join(lines)


def junit(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    failures = sum(r["verdict"] == "violated" for r in rows)
    errors = sum(r["verdict"] == "error" for r in rows)
    cases = []
    for r in rows:
        body = ""
        if r["verdict"] == "violated":
            body = (
                f'<failure message="{escape(r["problems"][0] if r.get("problems") else "violated", {chr(34): "&quot;"})}">'
                f"{escape(chr(10).join(r.get('problems', [])) + chr(10) + r.get('reproduce', ''))}</failure>"
            )
        elif r["verdict"] == "error":
            body = f'<error message="{escape(r.get("error", ""), {chr(34): "&quot;"})}"/>'
        name = r["op"] + (" (steered)" if "steering" in r else "")
        cases.append(
            f'  <testcase classname="audit.{r["library"]}" name="{name}" time="{r["wall_s"]}">{body}</testcase>'
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="audit {escape(meta["device"])}" '
        f'tests="{len(rows)}" failures="{failures}" errors="{errors}" time="{meta["wall_s"]:.1f}">\n'
        + "\n".join(cases)
        + "\n</testsuite>\n"
    )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/audit")
    parser.add_argument("--profile", default=None, help="default: ci on cpu, gpu on cuda")
    parser.add_argument("--examples", type=int, default=None, help="drawn cases per op (default: 20 cpu, 100 cuda)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated op names (default: all)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per op before it is an error")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes per op, on the one device (compile-bound ops)"
    )
    parser.add_argument(
        "--steered",
        action="store_true",
        help="each op in STEERING goes round its judged finding (its row says how); tables audit_<device>_steered.*",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="join the tables other runs left in these folders (one per library, run side by side) into --out",
    )
    parser.add_argument(
        "--finished",
        type=Path,
        nargs="+",
        default=None,
        help="folders of later runs of some ops (or runs cut short by a device call's end): the per-op reports they "
        "finished replace those ops' rows in --out's table",
    )
    args = parser.parse_args(argv)
    tag = ("cpu" if args.device == "cpu" else "cuda") + ("_steered" if args.steered else "")
    if args.merge:
        return _merge(args.merge, args.out, tag)
    if args.finished:
        return _finished(args.finished, args.out, tag)
    profile = args.profile or ("gpu" if args.device == "cuda" else "ci")
    examples = args.examples or (100 if args.device == "cuda" else 20)
    missing = [peers.LIBRARIES[lib][0] for lib in peers.LIBRARIES if peers.wheel(lib) is None]
    if missing:
        print(
            f"audit: error: no {', '.join(missing)} in {peers.peers_dir()} (see bench/audit/peers.py)", file=sys.stderr
        )
        return 2
    ops_dir = args.out / tag
    ops_dir.mkdir(parents=True, exist_ok=True)
    only = {n for n in args.only.split(",") if n}
    start = time.monotonic()
    rows = []
    for op in OPS:
        if only and op.name not in only:
            continue
        steering = STEERING.get(op.name) if args.steered else None
        rows.append(
            run_op(op, args.device, profile, examples, args.seed, ops_dir, args.timeout, steering, args.workers)
        )
        r = rows[-1]
        print(
            f"{r['library']:6} {r['op']:34} {r['verdict']:9} {r.get('cases', 0):4} / {r.get('backward_cases', 0):4}"
            f"  {r['wall_s']:7.1f} s  {'steered ' if steering else ''}{r.get('error', '')}",
            flush=True,
        )
    meta = {
        "device": _device_name(args.device),
        "profile": profile,
        "examples": examples,
        "seed": args.seed,
        "versions": _versions(),
        "wall_s": time.monotonic() - start,
        "command": f"python bench/audit/run.py --device {args.device} --out {args.out}"
        + (" --steered" if args.steered else "")
        + (f" --workers {args.workers}" if args.workers > 1 else "")
        + (f" --only {args.only}" if args.only else ""),
    }
    previous = args.out / f"audit_{tag}.json"
    if only and previous.exists():  # a partial rerun replaces its ops' rows in the last full table
        fresh = {(r["library"], r["op"]): r for r in rows}
        rows = [fresh.pop((r["library"], r["op"]), r) for r in json.loads(previous.read_text())["ops"]] + list(
            fresh.values()
        )
        meta["command"] += " (rows of the other ops from the previous run)"
    return _write(args.out, tag, meta, rows)


def _write(out: Path, tag: str, meta: dict[str, Any], rows: list[dict[str, Any]]) -> int:
    """The table in its three formats; the exit code its verdicts give."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"audit_{tag}.json").write_text(json.dumps({**meta, "ops": rows}, indent=1) + "\n")
    (out / f"audit_{tag}.xml").write_text(junit(rows, meta))
    (out / f"audit_{tag}.md").write_text(markdown(rows, meta))
    verdicts = {r["verdict"] for r in rows}
    return 2 if "error" in verdicts else 1 if "violated" in verdicts else 0


def _merge(folders: list[Path], out: Path, tag: str) -> int:
    """One table from runs of disjoint ops side by side (a device call runs each library in its own process):
    rows in OPS order, wall time the longest run's, each run's command kept."""
    tables = [json.loads((f / f"audit_{tag}.json").read_text()) for f in folders]
    order = {(op.library, op.name): i for i, op in enumerate(OPS)}
    rows = sorted((r for t in tables for r in t["ops"]), key=lambda r: order.get((r["library"], r["op"]), len(order)))
    meta = {k: v for k, v in tables[0].items() if k != "ops"}
    meta["wall_s"] = max(t["wall_s"] for t in tables)
    meta["command"] = "; ".join(t["command"] for t in tables) + " (side by side)"
    for row in rows:  # judged since the runs
        if row["verdict"] == "violated":
            row["judgement"] = _judgement(row)
    return _write(out, tag, meta, rows)


def _finished(folders: list[Path], out: Path, tag: str) -> int:
    """Rows from the per-op reports of later runs (one cut short has no table of its own), replacing those ops'
    rows in `out`'s table; a row's wall time is then the property run's own seconds (the process start not counted)."""
    table = json.loads((out / f"audit_{tag}.json").read_text())
    fresh = {}
    for op in OPS:
        for report in (f / tag / f"{op.library}_{op.name}.json" for f in folders):
            if report.exists():
                [data] = json.loads(report.read_text())["contracts"]
                steering = STEERING.get(op.name) if tag.endswith("_steered") else None
                code = 0 if data["held"] else 1
                fresh[op.library, op.name] = _row(op, report, code, "", data["seconds"], steering)
    names = ", ".join(f"{library} {name}" for library, name in fresh)
    rows = [fresh.pop((r["library"], r["op"]), r) for r in table["ops"]] + list(fresh.values())
    meta = {k: v for k, v in table.items() if k != "ops"}
    meta["command"] += f"; rows of {names} from later runs ({', '.join(map(str, folders))})"
    return _write(out, tag, meta, rows)


if __name__ == "__main__":
    sys.exit(main())
