"""`shapecheck mutate`: measure the property suite by the bugs it kills.

Why: a green property run only says the drawn cases agreed with the reference. Mutation testing asks the
converse question: if the kernel had a typical bug (a dropped mask, `//` for `%`, a swapped stride, an
off-by-one), would the suite notice? Each mutant is the real kernel file with ONE source edit, inside the
named function's body only, found through `ast` node positions (so the edit is exact and reproducible).
A mutant that survives the suite is either equivalent (it computes the same thing on every valid input)
or a hole in the case strategies; the report lists survivors so a person can tell which.

One module per job: `source` (ast positions to text offsets), `operators` (the catalogue), `generate`
(targets and mutants as patches), `execute` (each mutant in a fresh `shapecheck run` process, judged by
its JSON report, over worker slots), `report` (score, table, JSON), `command` (the CLI entry). Mutant
files are written under the patch cache (`shapecheck.patching.patch_dir()`) with the same naming as
`load_source`; the child imports them through `--impl path.py:function`.

This package imports no torch/triton: the parent only parses, writes files and runs subprocesses.
"""

from shapecheck.mutate.command import main
from shapecheck.mutate.execute import (
    CRASH,
    ERROR,
    KILLED,
    SURVIVED,
    TIMEOUT,
    Result,
    RunConfig,
    baseline,
    classify,
    run_command,
    run_mutants,
    run_source,
    write_source,
)
from shapecheck.mutate.generate import Mutant, Target, contract_function, generate, parse_target
from shapecheck.mutate.operators import OPERATORS
from shapecheck.mutate.report import Summary, mark_equivalent, report_dict, table

__all__ = [
    "CRASH",
    "ERROR",
    "KILLED",
    "OPERATORS",
    "SURVIVED",
    "TIMEOUT",
    "Mutant",
    "Result",
    "RunConfig",
    "Summary",
    "Target",
    "baseline",
    "classify",
    "contract_function",
    "generate",
    "main",
    "mark_equivalent",
    "parse_target",
    "report_dict",
    "run_command",
    "run_mutants",
    "run_source",
    "table",
    "write_source",
]
