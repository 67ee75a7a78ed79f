"""The mutation report: the score line and exit rule, survivors marked equivalent, the JSON and the table."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from shapecheck.errors import UsageError
from shapecheck.mutate.execute import CRASH, ERROR, KILLED, KILLS, SURVIVED, TIMEOUT, Result, RunConfig, run_command
from shapecheck.mutate.generate import Target


@dataclasses.dataclass
class Summary:
    """Counts behind the score line; `equivalent` survivors are excluded from the non-equivalent score."""

    total: int
    killed: int
    crashes: int
    timeouts: int
    survived: int
    errors: int
    equivalent: int

    @classmethod
    def of(cls, results: Sequence[Result]) -> "Summary":
        return cls.count([r.status for r in results], sum(r.equivalent for r in results))

    @classmethod
    def count(cls, statuses: Sequence[str], equivalent: int) -> "Summary":
        count = lambda *s: sum(status in s for status in statuses)
        return cls(
            len(statuses), count(*KILLS), count(CRASH), count(TIMEOUT), count(SURVIVED), count(ERROR), equivalent
        )

    def line(self) -> str:
        pct = lambda a, b: f"{100 * a / b:.1f}%" if b else "n/a"
        text = f"mutation score: {self.killed}/{self.total} killed ({pct(self.killed, self.total)})"
        relevant = self.total - self.equivalent
        text += (
            f"; non-equivalent: {self.killed}/{relevant} ({pct(self.killed, relevant)}), "
            f"{self.equivalent} marked equivalent"
            if self.equivalent
            else "; none marked equivalent"
        )
        text += f"; {self.crashes} killed by a crash, {self.timeouts} by timeout"
        if self.survived - self.equivalent:
            text += f"; {self.survived - self.equivalent} survived (equivalent mutant or hole in the strategies)"
        if self.errors:
            text += f"; {self.errors} could not be run"
        return text

    @property
    def clean(self) -> bool:
        """Every mutant killed, or survived but marked equivalent; nothing failed to run."""
        return self.errors == 0 and self.survived == self.equivalent


def mark_equivalent(results: Sequence[Result], ids: Iterable[str], all_ids: Iterable[str]) -> None:
    """Flag survivors a person judged equivalent; an id that names no mutant is a usage error (stale list)."""
    wanted = set(ids)
    stale = sorted(wanted - set(all_ids))
    if stale:
        raise UsageError(f"--equivalent {stale[0]}: no such mutant (see --list)")
    for r in results:
        r.equivalent = r.mutant is not None and r.mutant.id in wanted and r.status == SURVIVED


def report_dict(
    target: Target,
    config: RunConfig,
    base: Optional[Result],
    results: Sequence[Result],
    seconds: float,
    workers: int,
    shard: Optional[str] = None,
    total: Optional[int] = None,
) -> dict[str, Any]:
    """Everything a serial run's report holds; `shard` ("i/n") and `total` (mutants before sharding) say
    which part of the whole this is. Mutants keep their order in the full list."""
    summary = Summary.of(results)
    example = run_command(Path("<mutant>.py"), config, Path("<report>.json"))
    return {
        "target": target.spec,
        "impl_function": config.impl_function,
        "command": "shapecheck " + " ".join(example[3:]),
        "examples": config.examples,
        "seed": config.seed,
        "workers": workers,
        "shard": shard,
        "mutants_total": len(results) if total is None else total,
        "seconds": round(seconds, 1),
        "score": dataclasses.asdict(summary),
        "score_line": summary.line(),
        "baseline": None if base is None else base.as_dict(),
        "mutants": [r.as_dict() for r in results],
    }


def table(results: Sequence[Result], title: str) -> Any:
    """A rich table, one row per mutant (survivors in bold red)."""
    from rich.markup import escape
    from rich.table import Table

    styles = {KILLED: "green", CRASH: "yellow", TIMEOUT: "yellow", SURVIVED: "bold red", ERROR: "magenta"}
    t = Table(title=escape(title), title_justify="left")
    t.add_column("mutant", no_wrap=True)
    t.add_column("before → after", overflow="fold", ratio=3)
    t.add_column("status", no_wrap=True)
    t.add_column("first problem", overflow="fold", ratio=2)
    t.add_column("time", no_wrap=True, justify="right")
    for r in results:
        m = r.mutant
        assert m is not None
        status = "killed (crash)" if r.status == CRASH else "killed (timeout)" if r.status == TIMEOUT else r.status
        if r.equivalent:
            status += " (equivalent)"
        message = r.message if len(r.message) <= 90 else r.message[:87] + "..."
        t.add_row(
            escape(m.id),
            escape(f"{m.before}  →  {m.after}"),
            f"[{styles[r.status]}]{status}[/]",
            escape(message),
            f"{r.seconds:.1f} s",
        )
    return t


def merge_shards(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report of the whole from the JSON reports of `mutate --shard i/n` jobs (every shard once: the
    caller checks): mutants back in the serial order, the score recounted. UsageError when the parts are
    not of one mutation run (target, wrapper, budget, seed) or do not add up to its mutants."""
    from shapecheck.mutate.operators import OPERATORS

    runs = {(p["target"], p["impl_function"], p["examples"], p["seed"], p["mutants_total"]) for p in parts}
    if len(runs) != 1:
        raise UsageError("report merge: the mutate reports are not of one run (target, wrapper, --examples, --seed)")
    mutants = sorted(
        (m for p in parts for m in p["mutants"]),
        key=lambda m: (m["line"], m["col"], list(OPERATORS).index(m["operator"]), m["variant"]),
    )
    (run,) = runs
    if len(mutants) != run[-1] or len({m["id"] for m in mutants}) != len(mutants):
        raise UsageError(f"report merge: the shards hold {len(mutants)} mutants, the run has {run[-1]}")
    summary = Summary.count([m["status"] for m in mutants], sum(m["equivalent"] for m in mutants))
    return {
        **parts[0],
        "workers": sum(p["workers"] for p in parts),
        "shard": None,
        "seconds": max(p["seconds"] for p in parts),
        "score": dataclasses.asdict(summary),
        "score_line": summary.line(),
        "mutants": mutants,
    }
