"""The run plan: what `shapecheck run` was asked (`RunOptions`) and the targets it resolves to.

Below the CLI's run module (`shapecheck.property_cli`) and the process pool (`shapecheck.parallel`), whose
workers resolve the same targets the parent did, so neither reaches into the other.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from shapecheck import autotune, registry, reports
from shapecheck.errors import UsageError
from shapecheck.isolate import Isolated
from shapecheck.profiles import PROFILES
from shapecheck.shard import Shard
from shapecheck.spec import Contract


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What `shapecheck run` was asked; `replay()` turns the outcome-changing part back into argv."""

    contract: Optional[str] = None
    impl: Optional[str] = None
    contracts: Sequence[str] = ()
    examples: Optional[int] = None
    seed: Optional[int] = None
    device: str = "cpu"
    profile: str = "ci"
    json_path: Optional[Path] = None
    junit_path: Optional[Path] = None
    reproduce: Optional[str] = None
    sanitize: Optional[bool] = None  # None: on under the CPU interpreter, where an OOB access is silent
    database: bool = True
    pins: Sequence[str] = ()
    isolate: Optional[bool] = None  # None: on for `run CONTRACT --impl FILE.py:fn`
    timeout: Optional[float] = None  # per isolated case; None: the profile's
    workers: int = 1  # processes, one device each (shapecheck/parallel.py); never part of a replay line
    shard: Optional[Shard] = None  # this CI job's part of the run
    compile_ahead: bool = True  # on a cold GPU cache, compile the kernels first from threads (shapecheck/ahead.py)
    backward: bool = True  # a differentiable contract's cases run backward too (shapecheck/gradients.py)
    autotune_configs: Optional[autotune.Mode] = None  # None: drawn under the interpreter, tuned on a GPU
    max_compiles: Optional[int] = None  # the compile budget (shapecheck/budget.py); None: the profile's

    @property
    def sanitizing(self) -> bool:
        return self.device == "cpu" if self.sanitize is None else self.sanitize

    def _isolated_by_default(self, contract_named: bool) -> bool:
        """A generated candidate arrives as a file checked against a contract the caller names; a file that
        brings its own contract, an installed module or the contract's own kernel is the user's code, run
        in-process at full speed (as the decorator and `property_test` do)."""
        return contract_named and self.impl is not None and self.impl.rpartition(":")[0].endswith(".py")

    @property
    def isolating(self) -> bool:
        return self._isolated_by_default(self.contract is not None) if self.isolate is None else self.isolate

    def replay(self, contract: str) -> tuple[str, ...]:
        """argv that runs one case of `contract` again, from the same directory, up to `--reproduce`."""
        argv = [*reports.program(), "run", contract]
        argv += ["--impl", self.impl] if self.impl else []
        argv += [flag for module in self.contracts for flag in ("--contracts", module)]
        argv += ["--device", self.device]
        if self.device == "cpu" and not self.sanitizing:
            argv.append("--no-sanitize")
        if self.isolating != self._isolated_by_default(contract_named=True):
            argv.append("--isolate" if self.isolating else "--no-isolate")
        argv += ["--timeout", f"{self.timeout:g}"] if self.timeout and self.isolating else []
        argv += [] if self.backward else ["--no-backward"]
        argv += ["--autotune-configs", self.autotune_configs] if self.autotune_configs else []
        argv += [flag for pin in self.pins for flag in ("--pin", pin)]
        return tuple(argv)


Isolation = Optional[Callable[[str], Isolated]]  # target -> a worker running it; None: import it here
Target = tuple[Contract, Callable[..., Any], str]  # (contract, implementation, implementation name)


def isolation(options: RunOptions, stack: contextlib.ExitStack) -> Isolation:
    """Workers for `--isolate`, closed with `stack`; under the interpreter the sanitizer runs in the worker."""
    if not options.isolating:
        return None
    if options.sanitizing:
        sanitizable(options.device)
    profile = PROFILES[options.profile]
    return lambda target: stack.enter_context(
        Isolated(
            target,
            options.device,
            options.timeout or profile.timeout_s,
            profile.settle_s,
            sanitize=options.sanitizing,
            check_every=profile.check_every,
        )
    )


def isolated_contract(options: RunOptions, worker: Isolated) -> Optional[Contract]:
    """The contract for an isolated --impl: named, or the one it carries if trusted code defines it.

    The candidate's module is never imported here, so a contract it defines itself (with its own reference)
    is unknown by design.
    """
    known = registry.contracts(options.contracts)
    name = options.contract or worker.contract_name
    if name is None:
        return None
    try:
        return registry.contract(name, known)
    except UsageError:
        raise UsageError(
            f"--isolate: contract {name!r} is not defined by code shapecheck imports itself (bundled, "
            "--contracts, [tool.shapecheck], entry points), and the candidate's own module is not "
            "imported under isolation; pass --contracts MODULE, or --no-isolate to trust the file"
        ) from None


def targets(options: RunOptions, isolation: Isolation = None) -> list[Target]:
    """(contract, implementation, implementation name) pairs to run."""
    if options.impl is not None:
        c: Optional[Contract]
        fn: Callable[..., Any]
        if isolation is not None:
            worker = isolation(options.impl)
            fn, c = worker, isolated_contract(options, worker)
        else:
            fn, near = registry.implementation_and_contracts(options.impl)
            known = registry.contracts(options.contracts, extra=near)
            carried = getattr(fn, "__contract__", None)
            c = registry.contract(options.contract, known, prefer=carried) if options.contract else carried
        if c is None:
            raise UsageError(
                f"--impl {options.impl} carries no @shapecheck.contract; name the contract to check it against"
            )
        return _judgeable(options, isolation, [(c, fn, options.impl)])
    known = registry.contracts(options.contracts)
    chosen = [registry.contract(options.contract, known)] if options.contract else list(known.values())
    missing = [c.name for c in chosen if c.implementation is None]
    if missing:
        raise UsageError(f"contract {missing[0]} names no implementation; pass --impl module:function")
    return _judgeable(
        options,
        isolation,
        [
            (c, _implementation(c, isolation), c.implementation if isinstance(c.implementation, str) else c.name)
            for c in chosen
        ],
    )


def _judgeable(options: RunOptions, isolation: Isolation, found: list[Target]) -> list[Target]:
    """Refuse what the run could not judge rather than leave it out of a "held": an isolated worker's results
    carry no autograd graph, so a differentiable contract's gradients cannot be judged under --isolate."""
    for c, _, _ in found:
        if isolation is not None and options.backward and c.differentiable:
            raise UsageError(
                f"--isolate: contract {c.name} has differentiable inputs ({', '.join(c.differentiable)}), "
                f"whose gradients an isolated worker cannot return (its results carry no autograd graph); "
                "pass --no-backward to judge the forward alone, or --no-isolate"
            )
    return found


def _implementation(c: Contract, isolation: Isolation = None) -> Callable[..., Any]:
    if callable(c.implementation):
        if isolation is not None:
            raise UsageError(
                f"--isolate: contract {c.name}'s implementation is a Python object, not an importable "
                "module:function a worker could import; pass --impl"
            )
        return c.implementation
    return (isolation or registry.implementation)(c.implementation)  # type: ignore[arg-type]  # a hook string here (callables returned above)


def sanitizable(device: str) -> None:
    if device != "cpu":
        raise UsageError("--sanitize works under the CPU interpreter only; use --device cpu")
