"""shapecheck: prove that GPU kernels keep their shape contracts.

The public API is small on purpose: a contract (`Contract`, `Dim`, `Rule`, the markers `Offsets`, `Index`,
`InPlace` that say what an integer or in-place tensor means), the decorator that checks calls against it
(`contract`), the exceptions callers catch (`ContractViolation`, `InvalidContract`), and `strategies`,
the Hypothesis strategies a contract yields, for use in your own `@given` tests.
"""

from shapecheck import strategies
from shapecheck.contract import Call, Contract, Dim, Rule, same_dtype, unit_stride_last
from shapecheck.decorator import contract
from shapecheck.errors import ContractViolation, DtypeViolation, InvalidContract
from shapecheck.markers import Index, InPlace, Offsets

__all__ = ["Call", "Contract", "ContractViolation", "Dim", "DtypeViolation", "Index", "InPlace", "InvalidContract",
           "Offsets", "Rule", "contract", "same_dtype", "strategies", "unit_stride_last"]
