"""Malformed calls: each raises one ContractViolation naming argument, dimension, expected and found,
and leaves the state pool bit-identical.

NaN/inf inputs are rejected, not propagated: a NaN entering a recurrent state never decays away and
would poison that slot for every later token (documented in the README). The state pool itself is not
scanned: that would read the whole state on every call.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
from jaxtyping import Float

import shapecheck
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.kernels.gdn import fused_sigmoid_gating_delta_rule_update as kernel
from tests.gdn_calls import BAD_CALLS, HV, VARLEN_BAD, B, S, T, V, ints, valid_args, varlen_args


def _on(device: str, args: dict[str, Any]) -> dict[str, Any]:
    """Tensors an edit built on the CPU moved to the test's device: each edit breaks one thing only
    (devices are broken on purpose by `test_tensors_on_different_devices`)."""
    return {name: x.to(device) if isinstance(x, torch.Tensor) else x for name, x in args.items()}


def _assert_rejected(args: dict[str, Any], argument: str, words: tuple[str, ...]) -> None:
    pool = args["initial_state_source"]
    before = pool.clone()
    with pytest.raises(shapecheck.ContractViolation) as info:
        kernel(**args)
    message = str(info.value)
    assert info.value.argument == argument, message
    assert f"argument `{argument}`" in message
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"
    if isinstance(pool, torch.Tensor):
        assert torch.equal(pool.nan_to_num(), before.nan_to_num()), "a rejected call modified the pool"


MATRIX = [(valid_args, *c) for c in BAD_CALLS] + [(varlen_args, *c) for c in VARLEN_BAD]


@pytest.mark.parametrize("start,name,edit,argument,words", MATRIX, ids=[row[1] for row in MATRIX])
def test_bad_call_is_rejected(
    start: Callable[[str], dict[str, Any]],
    name: str,
    edit: Callable[[dict[str, Any]], None],
    argument: str,
    words: tuple[str, ...],
    device: str,
) -> None:
    args = start(device)
    edit(args)
    _assert_rejected(_on(device, args), argument, words)


def test_tensors_on_different_devices() -> None:
    args = valid_args("cpu")
    args["v"] = args["v"].to("meta")
    _assert_rejected(args, "v", ("one device", "meta"))


def test_valid_calls_pass(device: str) -> None:
    """The matrix's starting points are valid: without the edit, the call runs and returns o."""
    assert kernel(**valid_args(device)).shape == (B, T, HV, V)
    assert kernel(**varlen_args(device)).shape == (1, B * T, HV, V)


# --- the decorator on a user's own kernel ------------------------------------------------------


def _user_signature(
    x: Float[torch.Tensor, "B D"], w: Float[torch.Tensor, "D E"], groups: int = 1
) -> Float[torch.Tensor, "B E"]: ...


USER = shapecheck.Contract(
    "user_matmul",
    _user_signature,
    rules=[shapecheck.Rule("E % groups == 0", blame=("w", "E"), why="E splits into groups")],
)


@shapecheck.contract(USER)
def user_matmul(x: torch.Tensor, w: torch.Tensor, groups: int = 1) -> torch.Tensor:
    return x @ w


@shapecheck.contract(USER)
def user_matmul_wrong_output(x: torch.Tensor, w: torch.Tensor, groups: int = 1) -> torch.Tensor:
    return (x @ w).T


USER_BAD = [
    ("inner dims differ", (torch.randn(2, 3), torch.randn(4, 5)), {}, "w", ("dimension D", "D=3")),
    ("x rank 1", (torch.randn(3), torch.randn(3, 5)), {}, "x", ("rank",)),
    ("w int", (torch.randn(2, 3), torch.ones(3, 5, dtype=torch.int64)), {}, "w", ("dtype", "int64")),
    (
        "groups does not divide E",
        (torch.randn(2, 3), torch.randn(3, 5)),
        {"groups": 2},
        "w",
        ("E % groups == 0", "E=5"),
    ),
    ("unknown keyword", (torch.randn(2, 3), torch.randn(3, 5)), {"bias": 1}, "(call)", ("bias",)),
    ("missing argument", (torch.randn(2, 3),), {}, "(call)", ("w",)),
]


@pytest.mark.parametrize("name", [c[0] for c in USER_BAD])
def test_decorated_user_kernel_rejects(name: str) -> None:
    _, args, kwargs, argument, words = next(c for c in USER_BAD if c[0] == name)
    with pytest.raises(shapecheck.ContractViolation) as info:
        user_matmul(*args, **kwargs)
    assert info.value.argument == argument
    for word in words:
        assert word in str(info.value), str(info.value)


def test_decorated_user_kernel_checks_its_output() -> None:
    x, w = torch.randn(2, 3), torch.randn(3, 5)
    torch.testing.assert_close(user_matmul(x, w), x @ w)
    with pytest.raises(shapecheck.ContractViolation, match=r"\[2, 5\]"):
        user_matmul_wrong_output(x, w)


def test_decorator_refuses_mismatched_parameter_names() -> None:
    with pytest.raises(ValueError, match="parameters"):
        shapecheck.contract(USER)(lambda x, weight, groups=1: x)


def _shape_only_kernel(
    A_log: Any,
    a: Any,
    dt_bias: Any,
    softplus_beta: Any,
    softplus_threshold: Any,
    q: Any,
    k: Any,
    v: Any,
    b: Any,
    initial_state_source: Any,
    initial_state_indices: Any,
    scale: Any = None,
    use_qk_l2norm_in_kernel: Any = False,
    cu_seqlens: Any = None,
    state_layout: Any = "kv",
) -> torch.Tensor:
    return torch.zeros(*v.shape, dtype=v.dtype, device=v.device)


def test_shapes_mode_checks_shapes_but_reads_no_device_memory(device: str) -> None:
    checked = shapecheck.contract(GDN_DECODE, mode="shapes")(_shape_only_kernel)
    args = valid_args(device)
    args["initial_state_indices"] = ints(S + 7, 0)(args)  # a value problem: not read in this mode
    assert checked(**args).shape == (B, T, HV, V)
    args["v"] = torch.randn(B, T + 1, HV, V, device=device)  # a shape problem: still caught
    with pytest.raises(shapecheck.ContractViolation, match="dimension T"):
        checked(**args)


def test_first_mode_checks_each_signature_once(device: str) -> None:
    checked = shapecheck.contract(GDN_DECODE, mode="first")(_shape_only_kernel)
    args = valid_args(device)
    bad = dict(args, initial_state_indices=ints(S + 7, 0)(args))
    with pytest.raises(shapecheck.ContractViolation, match="out of range"):
        checked(**bad)  # a bad first call is rejected, and not remembered as seen
    checked(**args)
    checked(**bad)  # same signature as a checked call: trusted, not re-read
    with pytest.raises(shapecheck.ContractViolation, match="dimension T"):
        checked(**dict(args, v=torch.randn(B, T + 1, HV, V, device=device)))  # new signature: checked
