"""A pure-torch stand-in for the GDN decode kernel's wrapper, as cheap as a launch: bench/overhead.py times the
`@contract` decorator around it on a CPU (where the Triton kernel cannot be compiled), and tests/test_guards.py
counts the dynamo guards the decorator adds to it. Both need the same argument reads, so it is written once."""

from __future__ import annotations

from typing import Optional

import torch


def gdn_stand_in(
    A_log: torch.Tensor,
    a: torch.Tensor,
    dt_bias: torch.Tensor,
    softplus_beta: float,
    softplus_threshold: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    b: torch.Tensor,
    initial_state_source: torch.Tensor,
    initial_state_indices: torch.Tensor,
    scale: Optional[float] = None,
    use_qk_l2norm_in_kernel: bool = False,
    cu_seqlens: Optional[torch.Tensor] = None,
    state_layout: str = "kv",
) -> torch.Tensor:
    """Every argument read (strides of each tensor, as the wrapper's launch reads them, so a compiled model
    guards them too, undecorated or not), `v` returned as o."""
    strides = [x.stride(-1) for x in (A_log, a, dt_bias, q, k, b, initial_state_source, initial_state_indices)]
    if (
        state_layout not in ("kv", "vk")
        or softplus_beta * softplus_threshold <= 0
        or (scale or 1.0) <= 0
        or 0 in strides
    ):
        raise ValueError("the wrapper's own argument checks")  # reads each scalar, as the launch would
    return v if use_qk_l2norm_in_kernel or cu_seqlens is None else v.clone()
