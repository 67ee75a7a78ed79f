"""Calls of the bundled GDN kernel for tests: a valid call (`valid_args`, `varlen_args`) and tables of bad ones,
each an edit of a valid call that breaks one thing. Shared by the bad-input matrix (tests/test_bad_inputs.py),
the decorator's scalar, compile and guard tests, and the contract emitter's round trip."""

from __future__ import annotations

import random
from typing import Any, Callable

import torch

from shapecheck.case import Case
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import BASE_OPTIONS

B, T, H, HV, K, V, S = 2, 3, 2, 4, 48, 40, 5
OPTIONS = {**BASE_OPTIONS, "indices": [3, -1]}


def valid_args(device: str, **options: Any) -> dict[str, Any]:
    dims = {"B": B, "T": T, "H": H, "HV": HV, "K": K, "V": V, "S": S, "N": 2}
    case = Case(GDN_DECODE.name, dims, {**OPTIONS, **options}, random.randrange(2**31))
    return GDN_DECODE.resolve("inputs")(case, device)


def varlen_args(device: str) -> dict[str, Any]:
    args = valid_args(device)
    for name in ("q", "k", "v", "a", "b"):
        args[name] = args[name].reshape(1, B * T, *args[name].shape[2:])
    args["cu_seqlens"] = torch.tensor([0, 2, B * T], dtype=torch.int32, device=device)
    return args


def set_(name: str, make: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def edit(args: dict[str, Any]) -> None:
        args[name] = make(args)

    return edit


def rand(*shape: int, dtype: torch.dtype = torch.float32) -> Callable[[dict[str, Any]], torch.Tensor]:
    return lambda args: torch.randn(*shape, device=args["q"].device).to(dtype)


def ints(*values: int, dtype: torch.dtype = torch.int32) -> Callable[[dict[str, Any]], torch.Tensor]:
    return lambda args: torch.tensor(values, dtype=dtype, device=args["q"].device)


def nan_at(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(args: dict[str, Any]) -> None:
        args[name] = args[name].clone()
        args[name].view(-1)[0] = float("nan")

    return edit


# (id, edit of a valid call, argument named in the message, words the message must contain)
BAD_CALLS: list[tuple[str, Callable[[dict[str, Any]], None], str, tuple[str, ...]]] = [
    ("q rank 3", set_("q", rand(B, T, H * K)), "q", ("rank",)),
    ("k rank 5", set_("k", rand(B, T, H, K, 1)), "k", ("rank",)),
    ("v rank 2", set_("v", rand(B * T, HV * V)), "v", ("rank",)),
    ("A_log rank 2", set_("A_log", rand(1, HV)), "A_log", ("rank",)),
    ("pool rank 3", set_("initial_state_source", rand(S, HV, K * V)), "initial_state_source", ("rank",)),
    (
        "indices rank 2",
        set_("initial_state_indices", lambda a: a["initial_state_indices"][None]),
        "initial_state_indices",
        ("rank",),
    ),
    ("k batch differs from q", set_("k", rand(B + 1, T, H, K)), "k", ("dimension B", "B=2")),
    ("k time differs", set_("k", rand(B, T + 1, H, K)), "k", ("dimension T", "T=3")),
    ("k heads differ", set_("k", rand(B, T, H + 1, K)), "k", ("dimension H", "H=2")),
    ("k key dim differs", set_("k", rand(B, T, H, K + 1)), "k", ("dimension K", "K=48")),
    ("v batch differs", set_("v", rand(B + 1, T, HV, V)), "v", ("dimension B",)),
    ("v time differs", set_("v", rand(B, T + 2, HV, V)), "v", ("dimension T", "T=3")),
    ("v heads differ from a", set_("v", rand(B, T, HV + 1, V)), "v", ("dimension HV", "HV=4")),
    ("b heads differ", set_("b", rand(B, T, HV + 2)), "b", ("dimension HV",)),
    ("b time differs", set_("b", rand(B, T + 1, HV)), "b", ("dimension T",)),
    ("a batch differs (a binds first)", set_("a", rand(B + 1, T, HV)), "q", ("dimension B", "a.shape[0]")),
    ("packed a has wrong token count", set_("a", rand(B * T + 1, HV)), "a", ("BT == B * T",)),
    ("dt_bias length", set_("dt_bias", rand(HV + 1)), "dt_bias", ("dimension HV",)),
    ("A_log length (A_log binds HV first)", set_("A_log", rand(HV - 1)), "a", ("dimension HV", "A_log.shape[0]")),
    (
        "HV not a multiple of H",
        lambda a: a.update(q=torch.randn(B, T, 3, K), k=torch.randn(B, T, 3, K)),
        "v",
        ("HV % H == 0", "H=3"),
    ),
    (
        "K > 256",
        lambda a: a.update(
            q=torch.randn(B, T, H, 300), k=torch.randn(B, T, H, 300), initial_state_source=torch.randn(S, HV, 300, V)
        ),
        "k",
        ("K <= 256", "K=300"),
    ),
    ("pool head count", set_("initial_state_source", rand(S, HV + 1, K, V)), "initial_state_source", ("dimension HV",)),
    ("pool K axis", set_("initial_state_source", rand(S, HV, K + 1, V)), "initial_state_source", ("dimension K",)),
    (
        "pool in vk order but layout kv",
        set_("initial_state_source", rand(S, HV, V, K)),
        "initial_state_source",
        ('state_layout="kv"',),
    ),
    (
        "pool in kv order but layout vk",
        set_("state_layout", lambda a: "vk"),
        "initial_state_source",
        ('state_layout="vk"',),
    ),
    ("unknown layout", set_("state_layout", lambda a: "kvk"), "state_layout", ("unknown state layout",)),
    ("int q", set_("q", lambda a: torch.ones(B, T, H, K, dtype=torch.int32)), "q", ("dtype", "int32")),
    (
        "float indices",
        set_("initial_state_indices", lambda a: torch.tensor([3.0, -1.0])),
        "initial_state_indices",
        ("dtype", "float32"),
    ),
    ("k dtype differs from q", set_("k", rand(B, T, H, K, dtype=torch.bfloat16)), "k", ("dtype", "bfloat16")),
    ("q is a list", set_("q", lambda a: [[1.0]]), "q", ("torch.Tensor",)),
    ("indices missing", set_("initial_state_indices", lambda a: None), "initial_state_indices", ("required",)),
    (
        "non-contiguous feature axis of q",
        set_("q", lambda a: torch.randn(B, T, K, H).transpose(2, 3)),
        "q",
        ("contiguous", "stride 1"),
    ),
    ("index out of range", set_("initial_state_indices", ints(S, -1)), "initial_state_indices", ("S=5", "found:    5")),
    ("index below -1", set_("initial_state_indices", ints(-2, 0)), "initial_state_indices", ("-1 <= index",)),
    ("duplicated active slot", set_("initial_state_indices", ints(1, 1)), "initial_state_indices", ("distinct", "[1]")),
    (
        "N != B without cu_seqlens",
        set_("initial_state_indices", ints(1, 2, 3)),
        "initial_state_indices",
        ("N == B", "N=3"),
    ),
    ("empty T", lambda a: a.update(**{n: a[n][:, :0] for n in ("q", "k", "v", "a", "b")}), "a", ("empty", "T=0")),
    (
        "empty batch",
        lambda a: a.update(
            **{n: a[n][:0] for n in ("q", "k", "v", "a", "b")}, initial_state_indices=a["initial_state_indices"][:0]
        ),
        "a",
        ("empty", "B=0"),
    ),
    ("scale = 0", set_("scale", lambda a: 0.0), "scale", ("> 0",)),
    ("scale < 0", set_("scale", lambda a: -1.0), "scale", ("> 0",)),
    ("softplus_beta = 0", set_("softplus_beta", lambda a: 0.0), "softplus_beta", ("softplus_beta > 0",)),
    ("scale is a string", set_("scale", lambda a: "0.5"), "scale", ("Optional[float]", "'0.5' (str)")),
    ("NaN in q", nan_at("q"), "q", ("NaN",)),
    ("inf in a", lambda a: a.update(a=torch.full_like(a["a"], float("inf"))), "a", ("NaN or inf",)),
    ("inf in dt_bias", lambda a: a["dt_bias"].__setitem__(0, float("-inf")), "dt_bias", ("NaN or inf",)),
]

VARLEN_BAD: list[tuple[str, Callable[[dict[str, Any]], None], str, tuple[str, ...]]] = [
    (
        "cu_seqlens with B > 1",
        lambda a: a.update(
            **{n: a[n].reshape(B, T, *a[n].shape[2:]) for n in ("q", "k", "v", "a", "b")},
            cu_seqlens=torch.tensor([0, 1, T], dtype=torch.int32),
        ),
        "q",
        ("B == 1", "B=2"),
    ),
    ("cu_seqlens not starting at 0", set_("cu_seqlens", ints(1, 2, B * T)), "cu_seqlens", ("start at 0",)),
    ("cu_seqlens decreasing", set_("cu_seqlens", ints(0, 4, 3)), "cu_seqlens", ("non-decreasing",)),
    ("cu_seqlens not ending at T", set_("cu_seqlens", ints(0, 2, B * T - 1)), "cu_seqlens", ("end at T", "6")),
    ("cu_seqlens wrong length", set_("cu_seqlens", ints(0, 2, 3, B * T)), "cu_seqlens", ("N+1 = 3", "found:    4")),
    ("cu_seqlens float", set_("cu_seqlens", lambda a: torch.tensor([0.0, 2.0, 6.0])), "cu_seqlens", ("dtype",)),
]
