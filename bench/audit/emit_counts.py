"""How much of `shapecheck explain WRAPPER --emit-contract`'s draft survives in the audit's hand-written contract,
per op: the measure of what the emitter saves a user (issue 27), and where it falls short.

    python bench/audit/emit_counts.py --out bench/results/audit     # writes emit_counts.{md,json}

Counted mechanically, one unit per clause of the hand-written contract (`bench/audit/liger.py`, `fla.py`,
`bench/fla_chunk.py`), each compared with the draft of the library's public wrapper, loaded as a module:
- a parameter (the stub's annotation, markers left out): KEPT when the draft has the parameter with the same
  annotation text (tensor: dtype kind, axes, optional; else the type), EDITED when the draft has the parameter
  with another annotation (RENAMED instead when only the axes' names differ: same dtype kind, rank,
  optionality and pattern of repeats), ADDED when the draft lacks it; DROPPED counts the draft's parameters the contract leaves out;
- the result annotation (each tuple element): as a parameter;
- a dimension: KEPT when the draft declares one of that name (not its placeholder `R` for an unstated
  result; ranges are always edited: the draft's are placeholders), else ADDED;
- a rule: KEPT when the draft has the same expression, else ADDED;
- a marker (`Differentiable()`, `Offsets(...)`), and each of `reference`, `outputs`, `checks`, `draw`,
  `output_dtype_like`, `compare`, `mutates` the contract sets: ADDED (the draft never has them; the draft's
  `outputs` of a tuple result count KEPT when equal).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any, Optional

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.audit import peers  # noqa: E402 - after the repository root is importable
from shapecheck import cli  # noqa: E402
from shapecheck.spec import Contract  # noqa: E402

LIGER_FUNCTIONAL = "liger_kernel/transformers/functional.py"
# op -> (library, wrapper inside the wheel, module::constant of our contract)
OPS: dict[str, tuple[str, str, str]] = {
    **{
        op: ("liger", f"{LIGER_FUNCTIONAL}::liger_{op}", f"bench.audit.liger::{op.upper()}")
        for op in (
            "rms_norm",
            "fused_add_rms_norm",
            "layer_norm",
            "group_norm",
            "dyt",
            "swiglu",
            "geglu",
            "softmax",
            "rope",
            "cross_entropy",
            "kl_div",
            "jsd",
        )
    },
    "fused_recurrent_simple_gla": (
        "fla",
        "fla/ops/simple_gla/fused_recurrent.py::fused_recurrent_simple_gla",
        "bench.audit.fla::SIMPLE_GLA",
    ),
    "fused_recurrent_retention": (
        "fla",
        "fla/ops/retention/fused_recurrent.py::fused_recurrent_retention",
        "bench.audit.fla::RETENTION",
    ),
    "chunk_gla": ("fla", "fla/ops/gla/chunk.py::chunk_gla", "bench.audit.fla::GLA"),
    "fused_recurrent_delta_rule": (
        "fla",
        "fla/ops/delta_rule/fused_recurrent.py::fused_recurrent_delta_rule",
        "bench.audit.fla::DELTA_RULE",
    ),
    "fused_recurrent_gated_delta_rule": (
        "fla",
        "fla/ops/gated_delta_rule/fused_recurrent.py::fused_recurrent_gated_delta_rule",
        "bench.audit.fla::GATED_DELTA_RULE",
    ),
    "chunk_gdn": ("fla", "fla/ops/gated_delta_rule/chunk.py::chunk_gated_delta_rule", "bench.fla_chunk::CHUNK_GDN"),
}
EXTRAS = ("reference", "checks", "draw", "output_dtype_like", "compare", "mutates")
KINDS = ("kept", "edited", "renamed", "added", "dropped")


def draft(library: str, wrapper: str) -> Contract:
    """The emitted draft of `wrapper`, written to a temporary file and loaded (it must load: tested)."""
    name = wrapper.split("::")[1]
    result = CliRunner().invoke(cli.app, ["explain", f"{peers.root(library)}/{wrapper}", "--emit-contract"])
    if result.exit_code != 0:
        raise RuntimeError(f"{wrapper}: explain --emit-contract exited {result.exit_code}: {result.output}")
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / f"{name}_draft.py"
        file.write_text(result.output)
        spec = importlib.util.spec_from_file_location(f"{name}_draft", file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    contract: Contract = getattr(module, name.upper())
    return contract


def _annotation(contract: Contract, name: str) -> str:
    """A parameter's annotation as compared: a tensor's dtype kind, axes and optionality; else the type."""
    spec = contract.tensor_specs.get(name)
    if spec is not None:
        return spec.describe() + (" | None" if spec.optional else "")
    hint = contract.hints.get(name, Any)
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return "Any" if hint is Any else str(hint).replace("typing.", "")


def _results(contract: Contract) -> dict[str, str]:
    outputs = contract.returns.outputs
    return {str(i): o.spec.describe() + (" | None" if o.spec.optional else "") for i, o in enumerate(outputs)}


def _axes(text: str) -> list[str]:
    return text.split('"')[1].split() if '"' in text else []


def _renamed(ours: str, theirs: str) -> bool:
    """Whether two tensor annotations differ only in their axes' names (same kind, rank and optionality)."""
    a, b = _axes(ours), _axes(theirs)
    same_kind = ours.split("[")[0] == theirs.split("[")[0] and ours.endswith("None") == theirs.endswith("None")
    return bool(a) and same_kind and len(a) == len(b) and len(set(a)) == len(set(b))


def count(ours: Contract, theirs: Contract) -> dict[str, Any]:
    """Per clause of `ours` (the hand-written contract), kept / edited / added against the draft `theirs`."""
    clauses: list[tuple[str, str]] = []  # (clause, kind)
    mine = {n: _annotation(ours, n) for n in ours._sig.parameters}
    draft_params = {n: _annotation(theirs, n) for n in theirs._sig.parameters}
    both = {**{f"param {n}": a for n, a in mine.items()}, **{f"result {k}": a for k, a in _results(ours).items()}}
    drafted = {
        **{f"param {n}": a for n, a in draft_params.items()},
        **{f"result {k}": a for k, a in _results(theirs).items()},
    }
    for clause, annotation in both.items():
        if clause not in drafted:
            clauses.append((clause, "added"))
        elif drafted[clause] == annotation:
            clauses.append((clause, "kept"))
        else:
            clauses.append((clause, "renamed" if _renamed(annotation, drafted[clause]) else "edited"))
    dropped = [n for n in draft_params if n not in mine]
    stated = {d for d, dim in theirs.dims.items() if not dim.meaning.startswith("placeholder")}
    for d in ours.dims:
        clauses.append((f"dim {d}", "kept" if d in stated else "added"))
    draft_rules = {r.expr for r in theirs.rules}
    for r in ours.rules:
        clauses.append((f"rule {r.expr}", "kept" if r.expr in draft_rules else "added"))
    for n, m in ours.markers.items():
        clauses.append((f"marker {type(m).__name__} on {n}", "added"))
    for n in ours.differentiable:
        if n not in ours.markers:
            clauses.append((f"marker Differentiable on {n}", "added"))
    if ours.outputs:
        clauses.append(("outputs", "kept" if tuple(ours.outputs) == tuple(theirs.outputs) else "added"))
    for field in EXTRAS:
        if getattr(ours, field):
            clauses.append((field, "added"))
    totals = {k: sum(1 for _, kind in clauses if kind == k) for k in KINDS[:-1]}
    totals["dropped"] = len(dropped)
    return {"totals": totals, "clauses": clauses, "dropped": dropped}


def _contract(where: str) -> Contract:
    module, name = where.split("::")
    contract: Contract = getattr(importlib.import_module(module), name)
    return contract


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "audit")
    args = parser.parse_args(argv)
    rows = {}
    for op, (library, wrapper, where) in OPS.items():
        rows[op] = {"library": library, "wrapper": wrapper, **count(_contract(where), draft(library, wrapper))}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "emit_counts.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# What survives of `--emit-contract`'s draft in the audit's contracts",
        "",
        f"{peers.VERSIONS['liger']}, {peers.VERSIONS['fla']}; `python bench/audit/emit_counts.py`. One unit per "
        "clause of our contract (parameter or result annotation, dimension, rule, marker, other field); "
        "the definitions are in `bench/audit/emit_counts.py`. *renamed*: edited only by renaming axes "
        "(counted apart from *edited*); *dropped*: draft parameters our contract leaves out.",
        "",
        "| library | op | kept | edited | renamed | added | dropped | kept clauses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op, row in rows.items():
        t = row["totals"]
        kept = ", ".join(c for c, kind in row["clauses"] if kind == "kept") or "-"
        lines.append(
            f"| {row['library']} | `{op}` | {t['kept']} | {t['edited']} | {t['renamed']} | {t['added']} | "
            f"{t['dropped']} | {kept} |"
        )
    sums = {k: sum(r["totals"][k] for r in rows.values()) for k in KINDS}
    lines.append(
        f"| | **all** | {sums['kept']} | {sums['edited']} | {sums['renamed']} | {sums['added']} | {sums['dropped']} | |"
    )
    (args.out / "emit_counts.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
