"""shapecheck: prove that GPU kernels keep their shape contracts.

The public API is small on purpose: a contract (`Contract`, `Dim`, `Rule`), the decorator that checks
calls against it (`contract`), and the one exception family callers catch (`ContractViolation`).
"""

from shapecheck.contract import Call, Contract, Dim, Rule, same_dtype, unit_stride_last
from shapecheck.decorator import contract
from shapecheck.errors import ContractViolation, DtypeViolation

__all__ = ["Call", "Contract", "ContractViolation", "Dim", "DtypeViolation", "Rule", "contract", "same_dtype",
           "unit_stride_last"]
