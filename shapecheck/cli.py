"""The `shapecheck` command line.

Exit codes follow the linters users already script against: 0 = every contract held / no finding,
1 = a contract was violated / a finding, 2 = usage or environment error (one clear line, no traceback).
Heavy imports (torch, triton, kernels) happen inside the commands: `TRITON_INTERPRET` must be decided
before any `@triton.jit` function is defined, and `--help` should stay instant.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import traceback
from pathlib import Path
from typing import Any, Iterator, NoReturn, Optional

import typer

app = typer.Typer(
    name="shapecheck",
    help="Prove that GPU kernels keep their shape contracts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    cache_dir: Optional[Path] = typer.Option(
        None,
        "--cache-dir",
        help="Folder for the example database and patched sources (default: SHAPECHECK_CACHE_DIR, "
        "else .shapecheck_cache next to the project's pyproject.toml).",
    ),
) -> None:
    """Prove that GPU kernels keep their shape contracts."""
    # Through the variable, not an argument: the worker, isolation and mutant processes a command starts read
    # it too (cache.cache_dir()), and the environment is what all of them inherit.
    if cache_dir is not None:
        from shapecheck import cache

        os.environ[cache.ENV] = str(cache_dir)


# --- commands are registered below, one block each -------------------------------------------

# --- run / list: the property engine ----------------------------------------------------------


def _fail(message: str) -> NoReturn:
    """A usage or environment error: one line on stderr, exit 2, no traceback."""
    typer.echo(f"shapecheck: error: {message}", err=True)
    raise typer.Exit(2)


@contextlib.contextmanager
def _errors(show_traceback: bool = False) -> Iterator[None]:
    """Every error that is not a finding exits 2 with one line: a usage error, a malformed contract, the user's
    reference/builder/strategy failing (with the user's frame), or a bug in shapecheck itself."""
    from shapecheck import blame, errors

    try:
        yield
    except (errors.UsageError, errors.InvalidContract) as exc:
        _fail(str(exc))
    except errors.Abort as exc:
        if show_traceback and exc.error is not None:
            traceback.print_exception(exc.error)
        _fail(exc.message)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - never a bare traceback: say it is ours, and how to see more
        if show_traceback:
            traceback.print_exc()
        _fail(
            blame.describe("internal error: shapecheck", exc)
            + ("" if show_traceback else "  (--traceback shows the stack)")
        )


CONTRACTS_HELP = "Module defining contracts (repeatable); also \\[tool.shapecheck] contracts in ./pyproject.toml."
# The options `run`, `sanitize` and `kb` share: one declaration each, so their flags cannot drift apart.
CONTRACT_ARG = typer.Argument(None, help="Contract name or unique prefix; default: all (or --impl's).")
IMPL_OPT = typer.Option(None, help="module.path:function or path/to/file.py:function to check.")
CONTRACTS_OPT = typer.Option([], "--contracts", help=CONTRACTS_HELP)
EXAMPLES_OPT = typer.Option(None, min=1, help="Cases to draw (default: the profile's).")
SEED_OPT = typer.Option(None, help="Hypothesis seed, for a reproducible draw (bypasses the example database).")
DEVICE_OPT = typer.Option("auto", help="auto | cpu (Triton interpreter) | cuda.")
JSON_OPT = typer.Option(None, "--json", help="Write a JSON report here.")
JUNIT_OPT = typer.Option(None, "--junit", help="Write a JUnit XML report here.")
REPRODUCE_OPT = typer.Option(None, help="Replay one case (the JSON printed for a failure).")
SANITIZE_OPT = typer.Option(
    None, "--sanitize/--no-sanitize", help="Bounds-check every load/store (CPU interpreter; default on there)."
)
NO_DB_OPT = typer.Option(False, "--no-db", help="Do not read or write the example database.")
TRACEBACK_OPT = typer.Option(False, "--traceback", help="On an error, print the whole stack too.")
WORKERS_HELP = (
    "Processes at once, one device each: N, or auto (every visible GPU; the CPU count under the interpreter)."
)


def _autotune_mode(text: Optional[str]) -> Any:
    """`--autotune-configs` checked where it is given."""
    from shapecheck.errors import UsageError

    if text is not None and text not in ("drawn", "tuned"):
        raise UsageError(f"--autotune-configs must be drawn or tuned, found {text!r}")
    return text


@app.command("list")
def list_contracts(
    contracts: list[str] = CONTRACTS_OPT,
) -> None:
    """List the known contracts with their declared shapes, rules and checks."""
    from shapecheck import console, registry

    with _errors():
        for c in registry.contracts(contracts).values():
            console.stdout.print(console.contract_table(c))


@app.command()
def run(
    contract: Optional[str] = CONTRACT_ARG,
    impl: Optional[str] = IMPL_OPT,
    contracts: list[str] = CONTRACTS_OPT,
    examples: Optional[int] = EXAMPLES_OPT,
    seed: Optional[int] = SEED_OPT,
    device: str = DEVICE_OPT,
    profile: str = typer.Option("ci", help="ci (small, CPU) | gpu (larger dims) | thorough (more cases)."),
    json_path: Optional[Path] = JSON_OPT,
    junit_path: Optional[Path] = JUNIT_OPT,
    reproduce: Optional[str] = REPRODUCE_OPT,
    sanitize: Optional[bool] = SANITIZE_OPT,
    no_db: bool = NO_DB_OPT,
    pin: list[str] = typer.Option([], help="Fix a dimension or option for every case: --pin K=128 --pin layout=vk."),
    show_traceback: bool = TRACEBACK_OPT,
    isolate: Optional[bool] = typer.Option(
        None,
        "--isolate/--no-isolate",
        show_default=False,
        help="Run the implementation in a worker process, with the untrusted-code checks "
        "(default: on for `run CONTRACT --impl FILE.py:fn`, off otherwise).",
    ),
    timeout: Optional[float] = typer.Option(
        None, min=0.1, help="Seconds per case under --isolate (default: the profile's)."
    ),
    workers: str = typer.Option("1", help=WORKERS_HELP),
    shard: Optional[str] = typer.Option(None, help="Run part i of n of the run (a CI matrix job): --shard 2/4."),
    compile_ahead: bool = typer.Option(
        True,
        "--compile-ahead/--no-compile-ahead",
        help="On cuda with a cold Triton cache, first compile the kernels the drawn cases need, from 8 threads, by "
        "calling the implementation with every launch refused (turn off for one with side effects).",
    ),
    backward: bool = typer.Option(
        True,
        "--backward/--no-backward",
        help="Run a differentiable contract's cases backward too, judging its inputs' gradients (default on).",
    ),
    autotune_configs: Optional[str] = typer.Option(
        None,
        help="drawn | tuned: run each @triton.autotune kernel with a config the case draws from its list, or "
        "the autotuner's pick (default: drawn under the interpreter, tuned on cuda).",
    ),
    max_compiles: Optional[int] = typer.Option(
        None,
        "--max-compiles",
        min=0,
        help="Distinct Triton compile keys a run may draw: the arguments a kernel specialises on (constexpr dims, "
        "dtypes, flags) are drawn from a small per-run menu, the rest freely; 0 draws everything freely "
        "(default: the profile's, 24 for gpu, 0 for the CPU profiles).",
    ),
) -> None:
    """Draw cases from a contract and run each through the real kernel against the reference."""
    from shapecheck import backend, parallel

    with _errors(show_traceback):
        chosen = backend.select_backend(device)
        from shapecheck import property_cli

        options = property_cli.RunOptions(
            contract=contract,
            impl=impl,
            contracts=tuple(contracts),
            examples=examples,
            seed=seed,
            device=chosen,
            profile=profile,
            json_path=json_path,
            junit_path=junit_path,
            reproduce=reproduce,
            sanitize=sanitize,
            database=not no_db,
            pins=tuple(pin),
            isolate=isolate,
            timeout=timeout,
            workers=parallel.worker_count(workers, chosen),
            shard=None if shard is None else parallel.Shard.parse(shard),
            compile_ahead=compile_ahead,
            backward=backward,
            autotune_configs=_autotune_mode(autotune_configs),
            max_compiles=max_compiles,
        )
        code = property_cli.run(options)
    raise typer.Exit(code)


# `sanitize` is `run` with SANITIZE_FIXED set. It declares run's own parameter objects for the options it keeps
# (the signature typer reads), so the two commands' flags cannot drift apart; the rest take run's defaults.
SANITIZE_FIXED: dict[str, Any] = {"device": "cpu", "profile": "ci", "sanitize": True}
SANITIZE_KEEPS = ("contract", "impl", "contracts", "examples", "seed")
_RUN_SIGNATURE = inspect.signature(run, eval_str=True)


def _sanitize(**chosen: Any) -> None:
    """`run --sanitize --device cpu`: every load/store of every drawn case must stay inside its tensor."""
    defaults = {name: p.default.default for name, p in _RUN_SIGNATURE.parameters.items()}
    run(**{**defaults, **chosen, **SANITIZE_FIXED})


_sanitize.__signature__ = _RUN_SIGNATURE.replace(  # type: ignore[attr-defined]  # typer reads it
    parameters=[p for name, p in _RUN_SIGNATURE.parameters.items() if name in SANITIZE_KEEPS]
)
app.command("sanitize")(_sanitize)


# --- kb: KernelBench-format problems and generated candidates ---------------------------------------


@app.command("kb")
def kb_command(
    problem: Path = typer.Argument(
        ...,
        help="A problem file (class Model, get_inputs, get_init_inputs), or a directory "
        "with problems/NAME.py and candidates/NAME/*.py (batch mode).",
    ),
    impl: Optional[Path] = typer.Option(None, help="The candidate file defining ModelNew (one problem)."),
    examples: Optional[int] = EXAMPLES_OPT,
    seed: Optional[int] = SEED_OPT,
    device: str = DEVICE_OPT,
    profile: Optional[str] = typer.Option(
        None, help="ci (small shapes) | gpu (larger) | thorough (default: by device)."
    ),
    json_path: Optional[Path] = JSON_OPT,
    junit_path: Optional[Path] = JUNIT_OPT,
    markdown_path: Optional[Path] = typer.Option(None, "--markdown", help="Batch mode: write the table here too."),
    reproduce: Optional[str] = REPRODUCE_OPT,
    isolate: bool = typer.Option(
        True,
        "--isolate/--no-isolate",
        help="Run the candidate in a worker process that shows it nothing of the verifier "
        "(default; --no-isolate imports it here, for your own code).",
    ),
    timeout: Optional[float] = typer.Option(None, min=0.1, help="Seconds per isolated case (default: the profile's)."),
    sanitize: Optional[bool] = SANITIZE_OPT,
    no_db: bool = NO_DB_OPT,
    show_traceback: bool = TRACEBACK_OPT,
) -> None:
    """Judge generated kernels in KernelBench's format at drawn shapes: ModelNew against Model in float64.

    Exit 0 every candidate held, 1 a finding, 2 an error (in batch mode: any candidate that could not be run).
    """
    from shapecheck import backend

    with _errors(show_traceback):
        chosen = backend.select_backend(device)
        from shapecheck import kb_cli

        try:
            options = kb_cli.KbOptions(
                problem=problem,
                impl=impl,
                examples=examples,
                seed=seed,
                device=chosen,
                profile=profile or ("gpu" if chosen.startswith("cuda") else "ci"),
                json_path=json_path,
                junit_path=junit_path,
                markdown_path=markdown_path,
                reproduce=reproduce,
                isolate=isolate,
                timeout=timeout,
                sanitize=sanitize,
                database=not no_db,
            )
        except ValueError as exc:
            _fail(str(exc))
        if not problem.exists():
            _fail(f"PROBLEM {problem}: no such file or directory")
        code = kb_cli.run(options)
    raise typer.Exit(code)


# --- mutate: how many seeded bugs the property suite kills -------------------------------------


@app.command("mutate")
def mutate_command(
    target: str = typer.Argument(
        ..., metavar="FILE::FUNCTION", help="Function to mutate: a Triton kernel or a wrapper."
    ),
    impl_function: Optional[str] = typer.Option(
        None, "--impl-function", help="Wrapper the suite calls (default: the file's @contract-decorated function)."
    ),
    operators: Optional[str] = typer.Option(
        None, help="Comma-separated subset of the operator catalogue (see --list)."
    ),
    examples: int = typer.Option(60, min=1, help="Cases per mutant (the CI profile's budget)."),
    seed: int = typer.Option(0, help="Hypothesis seed: every mutant sees the same draw."),
    workers: str = typer.Option(
        "2",
        "--workers",
        "--jobs",
        help="Mutants run at once, each in its own process "
        "on one device: N, or auto (every visible GPU with --device cuda, else the CPU count).",
    ),
    shard: Optional[str] = typer.Option(
        None, help="Run every n-th mutant from the i-th (a CI matrix job): --shard 2/4."
    ),
    device: str = typer.Option("cpu", help="cpu (Triton interpreter, sanitizer on) | cuda (each mutant on one GPU)."),
    timeout: float = typer.Option(600.0, min=1, help="Seconds per mutant before it counts as killed by timeout."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the full report here."),
    equivalent: Optional[list[str]] = typer.Option(
        None, "--equivalent", help="Mutant id judged equivalent (repeatable or comma-separated): not a failure."
    ),
    list_only: bool = typer.Option(False, "--list", help="Print the mutants and exit without running them."),
) -> None:
    """Seed one bug at a time into FUNCTION and run the property suite on each; list the survivors.

    Exit 0 if every mutant was killed (or marked --equivalent), 1 if one survived, 2 on a usage error.
    """
    from shapecheck import errors, mutate, parallel

    chosen = None if operators is None else [o.strip() for o in operators.split(",") if o.strip()]
    marked = [i.strip() for item in equivalent or [] for i in item.split(",") if i.strip()]
    try:
        if device not in ("cpu", "cuda"):
            raise errors.UsageError(f"--device must be cpu or cuda, found {device!r}")
        code = mutate.main(
            target,
            impl_function=impl_function,
            operators=chosen,
            examples=examples,
            seed=seed,
            slots=parallel.device_slots(parallel.worker_count(workers, device), device),
            shard=None if shard is None else parallel.Shard.parse(shard),
            device=device,
            timeout=timeout,
            json_path=json_path,
            equivalent=marked,
            list_only=list_only,
        )
    except errors.UsageError as exc:
        _fail(str(exc))
    raise typer.Exit(code)


# --- report merge: the reports of a sharded run's CI jobs as one ------------------------------------

report_app = typer.Typer(help="Work with the JSON reports of `shapecheck run`.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("merge")
def report_merge(
    files: list[Path] = typer.Argument(..., help="JSON reports (`run --json`), e.g. one per --shard i/n job."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the merged JSON report here."),
    junit_path: Optional[Path] = typer.Option(None, "--junit", help="Write the merged JUnit XML report here."),
) -> None:
    """Merge reports into one: held only if every part held (exit 0; 1 violated; 2 a missing or foreign part)."""
    from shapecheck import merge

    with _errors():
        code = merge.main(files, json_path=json_path, junit_path=junit_path)
    raise typer.Exit(code)


# --- explain / lint: static shape analysis (parses the source, imports no kernel) ---------------


@app.command("explain")
def explain_command(
    target: str = typer.Argument(
        ..., metavar="FILE.py::FUNCTION", help="Function to explain (Class.method for methods)."
    ),
    assume: Optional[list[str]] = typer.Option(
        None, "--assume", help="Shape of an unannotated parameter, e.g. 'q=B T H K' (repeatable)."
    ),
    output_format: str = typer.Option("text", "--format", help="text | markdown."),
    example: Optional[str] = typer.Option(None, help="Worked numeric example, e.g. B=1,T=64,H=8,K=128,V=64,HV=8."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file instead."),
    emit_contract: bool = typer.Option(
        False, "--emit-contract", help="Print a draft contract module read from the function's own code instead."
    ),
) -> None:
    """Derive a function's shapes from its source, line by line, and compare them with its declaration."""
    from rich.console import Console

    from shapecheck.errors import UsageError
    from shapecheck.static.commands import explain_report

    try:
        report = explain_report(target, assume or [], output_format, example, emit_contract)
    except UsageError as exc:
        _fail(str(exc))
    if output is not None:
        output.write_text(report)
    else:
        Console(highlight=False, soft_wrap=True).print(report, markup=False, end="")


@app.command("lint")
def lint_command(
    paths: list[str] = typer.Argument(..., help="Files or directories to check."),
    output_format: str = typer.Option("text", "--output-format", help="text | json | github | concise."),
    as_json: bool = typer.Option(False, "--json", help="Same as --output-format json."),
    bound: Optional[list[str]] = typer.Option(
        None, "--bound", help="Largest size of a dimension, e.g. V=256 (repeatable; adds to [tool.shapecheck.bounds])."
    ),
    select: Optional[list[str]] = typer.Option(
        None, "--select", help="Only these rules (codes or prefixes, repeatable)."
    ),
    ignore: Optional[list[str]] = typer.Option(
        None, "--ignore", help="Skip these rules (codes or prefixes, repeatable)."
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Analyse every file again (unchanged files are answered from the cache folder's lint/ otherwise).",
    ),
    watch: bool = typer.Option(False, "--watch", help="Lint again each time a file under PATHS changes (Ctrl-C ends)."),
) -> None:
    """Check shapes statically (SC001-SC010); exit 1 on an error finding, 0 when clean, 2 on a usage error.

    `# shapecheck: ignore[SC006]` (or a bare `# shapecheck: ignore`) on a line silences its findings.
    """
    import time

    from rich.console import Console

    from shapecheck.errors import UsageError
    from shapecheck.static.commands import changes, lint_report, render

    chosen = "json" if as_json else output_format
    console = Console(highlight=False, soft_wrap=True)

    read: frozenset[str] = frozenset()  # the files outside PATHS the last report's analyses read

    def lint() -> bool:
        """Print one report; whether it has an error finding."""
        nonlocal read
        try:
            report = lint_report(
                paths,
                chosen,
                bound or [],
                [c.strip() for c in select or []],
                [c.strip() for c in ignore or []],
                cache=not no_cache,
            )
        except UsageError as exc:
            _fail(str(exc))
        lines = render(report, chosen)
        for line in lines[:-1] if chosen in ("text", "concise") else lines:
            console.print(line, markup=False)
        if chosen in ("text", "concise"):
            console.print(lines[-1], style="bold red" if report.errors else "bold green", markup=False)
        read = report.looked_at
        return bool(report.errors)

    edits = changes(paths, lambda: read) if watch else None  # looks at the files before the first lint
    failed = lint()
    if edits is not None:  # one process for the whole session: sympy and the analyser are imported once
        try:
            for changed in edits:
                names = ", ".join(str(p) for p in changed[:3]) + (
                    f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                )
                console.print(f"[{time.strftime('%H:%M:%S')}] changed: {names}", style="dim", markup=False)
                failed = lint()
        except KeyboardInterrupt:
            pass
    raise typer.Exit(1 if failed else 0)


if __name__ == "__main__":
    app()
