"""Contract of `reshape_and_cache`: write each token's key and value rows into a paged cache through a slot mapping.

Written the way a user writes one for an in-place kernel that returns nothing (vLLM's and SGLang's cache
writes, rotary embeddings): annotations, markers, one check and a reference. `InPlace()` says the kernel
updates both caches; `Index("S", padding=-1, distinct=True)` says what a slot is (-1: a padded token whose
row is never written; two tokens never share a slot). The reference updates its own copies of the caches
in place and returns nothing, as the kernel does; every case judges both caches row by row.
"""

from __future__ import annotations

from typing import Annotated

from jaxtyping import Float, Int
from torch import Tensor

from shapecheck.markers import Index, InPlace
from shapecheck.spec import Contract, Dim, contiguous, same_dtype, unit_stride_last


def reshape_and_cache(
    key: Float[Tensor, "T H D"],
    value: Float[Tensor, "T H D"],
    key_cache: Annotated[Float[Tensor, "S H D"], InPlace()],
    value_cache: Annotated[Float[Tensor, "S H D"], InPlace()],
    slot_mapping: Annotated[Int[Tensor, "T"], Index("S", padding=-1, distinct=True)],
) -> None:
    """Row `slot_mapping[t]` of each cache becomes token `t`'s key/value; a slot of -1 writes nothing."""
    ...


RESHAPE_AND_CACHE = Contract(
    name="reshape_and_cache",
    signature=reshape_and_cache,
    description="Paged KV-cache write through a slot mapping with padding (in place, returns None).",
    dims={
        "T": Dim("tokens of this step (0 = nothing to write)", 0, 8, gpu_hi=512),
        "H": Dim("kv heads", 1, 3, gpu_hi=16),
        "D": Dim("head size", 1, 40, gpu_hi=256),
        "S": Dim("cache slots (blocks x block size)", 1, 12, gpu_hi=4096),
    },
    checks=[
        same_dtype("key", "value", "key_cache", "value_cache"),
        unit_stride_last("key", "value", "key_cache", "value_cache"),
        contiguous("slot_mapping"),
    ],
    finite=("key", "value"),
    reference="shapecheck.kernels.reference:reshape_and_cache_reference",
    implementation="shapecheck.kernels.kv_cache:reshape_and_cache",
)
