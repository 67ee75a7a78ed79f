"""Contract of `segment_mean`: the mean of each segment of a packed varlen batch.

Written the way a user writes one for their own kernel: annotations, two markers (the offsets, and `x`
differentiable: every case also runs the backward and judges `grad of x`), the dims' ranges, a reference and
one regime case (`examples`). No case strategy and no input builder: shapecheck draws the dimensions, the
`cu_seqlens` partition (empty segments included) and the tensors from the annotations alone.
"""

from __future__ import annotations

from typing import Annotated

from jaxtyping import Float, Int
from torch import Tensor

from shapecheck.case import Case
from shapecheck.markers import Differentiable, Offsets
from shapecheck.profiles import Profile
from shapecheck.spec import Contract, Dim, contiguous, unit_stride_last


def segment_mean(
    x: Annotated[Float[Tensor, "T D"], Differentiable()],
    cu_seqlens: Annotated[Int[Tensor, "N+1"], Offsets("T")],
) -> Float[Tensor, "N D"]:
    """Row `n` of the result is the mean of `x[cu_seqlens[n]:cu_seqlens[n+1]]`; an empty segment gives 0."""
    ...


def examples(profile: Profile) -> dict[str, Case]:
    """The regime case every run adds: a backward handed a strided cotangent (as `o.sum().backward()` through a
    view hands one) over several segments. Drawn cases reach it only by chance: a third of them draw a strided
    cotangent, and one with a single segment cannot tell a packed-cotangent slip (a run of 60 held with one)."""
    options = {"cu_seqlens": [0, 2, 2, 7], "dtypes": {"x": "float32", "cu_seqlens": "int32"}, "strided_views": []}
    return {
        "strided cotangent, three segments": Case(
            "segment_mean", {"T": 7, "N": 3, "D": 5}, {**options, "cotangents": {"output": "strided"}}, seed=0
        )
    }


SEGMENT_MEAN = Contract(
    name="segment_mean",
    signature=segment_mean,
    description="Mean of each segment of a packed [T, D] batch (varlen pooling).",
    dims={
        "T": Dim("packed tokens (0 = an empty batch)", 0, 12, gpu_hi=4096),
        "D": Dim("features", 1, 40, gpu_hi=1024),
        "N": Dim("segments", 1, 4, gpu_hi=256),
    },
    checks=[unit_stride_last("x"), contiguous("cu_seqlens")],
    finite=("x",),
    reference="shapecheck.kernels.reference:segment_mean_reference",
    examples="shapecheck.contracts.segment:examples",
    implementation="shapecheck.kernels.segment:segment_mean",
    output_dtype_like="x",
)
