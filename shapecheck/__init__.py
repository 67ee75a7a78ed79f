"""shapecheck: prove that GPU kernels keep their shape contracts.

The public API is small on purpose: a contract (`Contract`, `Dim`, `Rule`, the markers `Offsets`, `Index`,
`InPlace` that say what an integer or in-place tensor means, `Differentiable` for a training kernel's inputs
whose gradients every case judges too, and for results exactness cannot judge the comparisons `exact`,
`as_sets` and `selects_same`, or your own over `Results`), the decorator that checks calls against it
(`contract`), the exceptions callers catch (`ContractViolation`, `InvalidContract`, `MemoryViolation`, ...,
each a `ShapecheckError`), and for your own `@given` tests `strategies` (the Hypothesis strategies a
contract yields: `strategies.cases(C)` draws a `Case`, under one of `PROFILES`, to which `register_profile`
adds) and `check_case` (runs one case through your kernel and the contract's reference; its `.problems` is
empty when the case held).

Names resolve on first use (PEP 562), so `shapecheck lint`/`explain`, which parse and never import a
kernel, do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker reads (jaxtyping's pattern); at run time `__getattr__` imports lazily
    from shapecheck import strategies as strategies
    from shapecheck.case import Case as Case
    from shapecheck.decorator import contract as contract
    from shapecheck.errors import ContractViolation as ContractViolation
    from shapecheck.errors import DtypeViolation as DtypeViolation
    from shapecheck.errors import InvalidContract as InvalidContract
    from shapecheck.errors import MemoryViolation as MemoryViolation
    from shapecheck.errors import NothingRan as NothingRan
    from shapecheck.errors import ShapecheckError as ShapecheckError
    from shapecheck.errors import UsageError as UsageError
    from shapecheck.harness import Results as Results
    from shapecheck.harness import as_sets as as_sets
    from shapecheck.harness import exact as exact
    from shapecheck.harness import selects_same as selects_same
    from shapecheck.markers import Differentiable as Differentiable
    from shapecheck.markers import Index as Index
    from shapecheck.markers import InPlace as InPlace
    from shapecheck.markers import Offsets as Offsets
    from shapecheck.profiles import PROFILES as PROFILES
    from shapecheck.profiles import Profile as Profile
    from shapecheck.profiles import register_profile as register_profile
    from shapecheck.runner import check_case as check_case
    from shapecheck.spec import Call as Call
    from shapecheck.spec import Contract as Contract
    from shapecheck.spec import Dim as Dim
    from shapecheck.spec import Rule as Rule
    from shapecheck.spec import contiguous as contiguous
    from shapecheck.spec import same_dtype as same_dtype
    from shapecheck.spec import unit_stride_last as unit_stride_last

_HOMES = {
    "Call": "shapecheck.spec",
    "Contract": "shapecheck.spec",
    "Dim": "shapecheck.spec",
    "Rule": "shapecheck.spec",
    "same_dtype": "shapecheck.spec",
    "contiguous": "shapecheck.spec",
    "unit_stride_last": "shapecheck.spec",
    "contract": "shapecheck.decorator",
    "ContractViolation": "shapecheck.errors",
    "DtypeViolation": "shapecheck.errors",
    "InvalidContract": "shapecheck.errors",
    "MemoryViolation": "shapecheck.errors",
    "NothingRan": "shapecheck.errors",
    "ShapecheckError": "shapecheck.errors",
    "UsageError": "shapecheck.errors",
    "Index": "shapecheck.markers",
    "InPlace": "shapecheck.markers",
    "Differentiable": "shapecheck.markers",
    "Offsets": "shapecheck.markers",
    "strategies": "shapecheck.strategies",
    "Case": "shapecheck.case",
    "PROFILES": "shapecheck.profiles",
    "Profile": "shapecheck.profiles",
    "register_profile": "shapecheck.profiles",
    "check_case": "shapecheck.runner",
    "as_sets": "shapecheck.harness",
    "exact": "shapecheck.harness",
    "selects_same": "shapecheck.harness",
    "Results": "shapecheck.harness",
}
__all__ = [
    "PROFILES",
    "Call",
    "Case",
    "Contract",
    "ContractViolation",
    "Differentiable",
    "Dim",
    "DtypeViolation",
    "InPlace",
    "Index",
    "InvalidContract",
    "MemoryViolation",
    "NothingRan",
    "Offsets",
    "Profile",
    "Results",
    "Rule",
    "ShapecheckError",
    "UsageError",
    "as_sets",
    "check_case",
    "contiguous",
    "contract",
    "exact",
    "register_profile",
    "same_dtype",
    "selects_same",
    "strategies",
    "unit_stride_last",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'shapecheck' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if home == f"shapecheck.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
