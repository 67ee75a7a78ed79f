"""`shapecheck report merge`: the JSON reports of a sharded run's CI jobs (or of separate runs) as one report.

A merged verdict must not claim more than ran: when the files are shards (`run --shard i/n --json`), every
shard 1..n must be there exactly once, all of one n, or the merge is an error (exit 2), never a pass over
the part that happened to arrive. Runs of the same (contract, implementation, device, profile) are merged
into one report (`reports.merge`); the result is printed and written like a run's, with a run's exit code.
The reports of `mutate --shard i/n` jobs merge the same way into the serial run's mutation report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

from shapecheck import console, reports
from shapecheck.errors import UsageError
from shapecheck.outcomes import Report


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"report merge: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"report merge: {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("contracts", data.get("mutants")), list):
        raise UsageError(f"report merge: {path} is not a JSON report of `shapecheck run` or `shapecheck mutate`")
    return data


def _check_shards(found: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    """All shards or none; every shard of one n exactly once."""
    marked = [(path, data.get("shard")) for path, data in found]
    if all(shard is None for _, shard in marked):
        return
    unmarked = [str(path) for path, shard in marked if shard is None]
    if unmarked:
        raise UsageError(f"report merge: {unmarked[0]} is not a shard's report, the others are")
    counts = {int(str(shard).split("/")[1]) for _, shard in marked}
    if len(counts) != 1:
        raise UsageError(f"report merge: shards of different runs ({', '.join(sorted({str(s) for _, s in marked}))})")
    (n,) = counts
    seen: dict[str, Path] = {}
    for path, shard in marked:
        assert shard is not None  # unmarked reports were refused above
        if shard in seen:
            raise UsageError(f"report merge: shard {shard} given twice ({seen[shard]}, {path})")
        seen[shard] = path
    missing = [f"{i}/{n}" for i in range(1, n + 1) if f"{i}/{n}" not in seen]
    if missing:
        raise UsageError(f"report merge: shard {missing[0]} is missing; a merged verdict covers every shard")


def merged(found: Sequence[tuple[Path, dict[str, Any]]]) -> list[Report]:
    """One report per (contract, implementation, device, profile), parts in the order given."""
    _check_shards(found)
    groups: dict[tuple[str, str, str, str], list[Report]] = {}
    for path, data in found:
        for entry in data["contracts"]:
            try:
                report = Report.from_json(entry)
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(
                    f"report merge: {path}: malformed contract entry ({type(exc).__name__}: {exc})"
                ) from None
            groups.setdefault((report.contract, report.impl, report.device, report.profile), []).append(report)
    return [reports.merge(parts) for parts in groups.values()]


def _mutation(
    found: Sequence[tuple[Path, dict[str, Any]]], json_path: Optional[Path], junit_path: Optional[Path]
) -> int:
    from shapecheck.mutate.report import Summary, merge_shards

    if any("mutants" not in data for _, data in found):
        raise UsageError("report merge: mutate and run reports cannot be merged together")
    if junit_path is not None:
        raise UsageError("report merge: --junit is for run reports; a mutation report is JSON only")
    _check_shards(found)
    whole = merge_shards([data for _, data in found])
    console.stdout.print(whole["score_line"], markup=False, soft_wrap=True)
    if json_path is not None:
        json_path.write_text(json.dumps(whole, indent=2))
    return 0 if Summary(**whole["score"]).clean else 1


def main(paths: Sequence[Path], *, json_path: Optional[Path] = None, junit_path: Optional[Path] = None) -> int:
    """Print and write the merged reports; 0 if every part held (every mutant killed), 1 otherwise."""
    found = [(path, _load(path)) for path in paths]
    if any("mutants" in data for _, data in found):
        return _mutation(found, json_path, junit_path)
    results = merged(found)
    for report in results:
        console.stdout.print(console.report_table(report))
        console.print_failure(report)
    if json_path is not None:
        reports.write_json(results, json_path)
    if junit_path is not None:
        reports.write_junit(results, junit_path)
    return 0 if all(r.held for r in results) else 1
