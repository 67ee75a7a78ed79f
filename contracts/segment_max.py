"""Contract of `segment_max`: the maximum of each segment of a packed batch, and the row where it is.

Written the way a user writes one for a kernel returning a tuple with an integer result: the return
annotation is a tuple, `outputs` names its elements, and the integer `indices` are compared exactly
(the first row holding the maximum, so ties have one right answer; -1 for an empty segment). No case
strategy, no input builder: dims, partitions (empty segments included), dtypes and strided views are drawn
from the annotations.
"""

from __future__ import annotations

from typing import Annotated

from jaxtyping import Float, Int, Int64
from torch import Tensor

from shapecheck.markers import Offsets
from shapecheck.spec import Contract, Dim, contiguous, unit_stride_last


def segment_max(
    x: Float[Tensor, "T D"],
    cu_seqlens: Annotated[Int[Tensor, "N+1"], Offsets("T")],
) -> tuple[Float[Tensor, "N D"], Int64[Tensor, "N D"]]:
    """`values[n, d]` is the max of `x[cu_seqlens[n]:cu_seqlens[n+1], d]`, `indices[n, d]` the first row of x
    holding it; an empty segment gives 0 and -1."""
    ...


SEGMENT_MAX = Contract(
    name="segment_max",
    signature=segment_max,
    outputs=("values", "indices"),
    description="Max and first argmax of each segment of a packed [T, D] batch (varlen pooling, a tuple result).",
    dims={
        "T": Dim("packed tokens (0 = an empty batch)", 0, 12, gpu_hi=4096),
        "D": Dim("features", 1, 40, gpu_hi=1024),
        "N": Dim("segments", 1, 4, gpu_hi=256),
    },
    checks=[unit_stride_last("x"), contiguous("cu_seqlens")],
    finite=("x",),
    reference="shapecheck.kernels.reference:segment_max_reference",
    implementation="shapecheck.kernels.segment_max:segment_max",
    output_dtype_like="x",
)
