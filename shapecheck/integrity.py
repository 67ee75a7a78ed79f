"""Semantic checks against implementations that pass a value comparison without computing the contract.

Each check returns named findings, `[name] what happened`, so a verdict says which pattern was caught.
The patterns come from the write-ups of kernel-generation pipelines (KernelArena's field guide to reward
hacking, wafer.ai 2026-03; Makora's KernelHacks taxonomy; the CMU hacker-fixer study of KernelBench):

- `[output-type]`    the output is not a plain `torch.Tensor` on the inputs' device (a subclass or a lazy
                     object that computes, or fakes, its values when the checker looks at them);
- `[input-modified]` an argument the contract does not declare in-place changed during the call;
- `[aliasing]`       the output shares memory with an argument (an input returned as the result);
- `[late-write]`     the output or an argument changed after the call returned (work left running on a
                     side stream or a background thread: a caller on the current stream reads garbage);
- `[stale-result]`   the same shapes with fresh inputs did not give the fresh reference's answer
                     (a result cached by shape, or computed once);
- `[precision]`      a 32/64-bit output only as accurate as 16-bit arithmetic (bf16 behind an fp32 signature).

Output type, input modification, aliasing and precision run on every case (they cost a copy of the
inputs); late writes and fresh inputs need a delay and a second run, so they run for untrusted
implementations only (`shapecheck run --isolate`, whose worker sees the live memory they need), the delay
and the second run on a seed-chosen sample of cases (`Profile.check_every`; every case is still read again
after a device sync).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional, Protocol

import torch

from shapecheck.case import Case
from shapecheck.harness import TOLERANCE, Bound, Kind, Problem, found, unrounded
from shapecheck.host import aliasing as aliasing
from shapecheck.host import output_kind as output_kind
from shapecheck.inputs import input_builder
from shapecheck.spec import Contract

# A 32/64-bit output whose error lies between its own bound and this one was computed in 16 bits: bf16
# arithmetic through the GDN recurrence lands at 3.7e-3..5.2e-3 relative RMS on the 19 fp32 regime cases
# (tests/test_untrusted.py), 366x the fp32 bound at the least.
SIXTEEN_BIT_LEVEL = 5e-2


class Finding(Exception):
    """A call that failed in a way that is itself the named finding (a timeout, a crashed worker, a refused
    reply); raised by wrappers such as `shapecheck.isolate.Isolated`."""


def bits(x: torch.Tensor) -> torch.Tensor:
    """The bytes of `x` in element order, so equality is bit-exact (NaN and -0.0 included)."""
    flat = x.detach().reshape(-1)  # a one-element view may keep a stride of 2, which a byte view refuses
    return (flat if flat.stride(0) == 1 else flat.clone(memory_format=torch.contiguous_format)).view(torch.uint8)


def tensors(args: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    return {name: x for name, x in args.items() if isinstance(x, torch.Tensor)}


def snapshot_inputs(contract: Contract, args: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Copies of every tensor argument the contract does not let the call modify."""
    return {name: x.clone() for name, x in tensors(args).items() if name not in contract.mutates}


def modified_inputs(before: Mapping[str, torch.Tensor], args: Mapping[str, Any]) -> list[str]:
    findings = []
    for name, old in before.items():
        changed = (bits(old) != bits(args[name])).sum().item()
        if changed:
            findings.append(
                f"[input-modified] `{name}` changed during the call ({changed} bytes of "
                f"{old.numel() * old.element_size()}), but the contract does not declare it in-place"
            )
    return findings


def returned_kinds(outputs: Mapping[str, Any]) -> list[str]:
    """`output_kind` of every returned element; a tuple or list returned where one tensor was declared is
    judged element by element (the contract then says its form is wrong)."""
    found = []
    for name, out in outputs.items():
        items = enumerate(out) if isinstance(out, (tuple, list)) else [(None, out)]
        found += [f for i, x in items for f in output_kind(name if i is None else f"{name}[{i}]", x)]
    return found


def late_writes(at_return: Mapping[str, torch.Tensor], settled: Mapping[str, torch.Tensor]) -> list[str]:
    """Tensors whose bytes changed between the return of the call and a device-wide sync plus a delay."""
    return [
        f"[late-write] {name} changed after the call returned ({(bits(at_return[name]) != bits(now)).sum().item()} "
        "bytes written later: unsynchronised side-stream or background-thread work)"
        for name, now in settled.items()
        if not torch.equal(bits(at_return[name]), bits(now))
    ]


def after_call(
    args: Mapping[str, Any], untouched: Mapping[str, torch.Tensor], outputs: Mapping[str, Any], impl: Any, device: str
) -> list[str]:
    """Every finding about what a returned call did: its outputs' kinds, aliasing, inputs, late writes.

    `outputs` are the returned elements by name. An isolated implementation has already judged aliasing and
    late writes on the worker's live memory (`pending_findings`); the outputs it returns are the parent's copies.
    """
    findings = returned_kinds(outputs)
    if not findings:
        findings += aliasing(tensors(outputs), args)
    return findings + modified_inputs(untouched, args) + list(getattr(impl, "pending_findings", list)())


def fresh_twin(case: Case) -> Case:
    """The same shapes and options with other tensor values."""
    return dataclasses.replace(case, seed=(case.seed + 0x5EED) % 2**63)


class Judgement(Protocol):
    """The runner's judgement of one call (`runner.Judge`): problems and the bounds of a second opinion."""

    @property
    def results_of(self) -> Optional[Callable[[dict[str, Any]], dict[str, Any]]]:
        """The reference's results by name, as a function of its arguments."""

    def __call__(
        self,
        args: dict[str, Any],
        before: dict[str, torch.Tensor],
        out: Any,
        expected: Optional[Mapping[str, Any]],
        errors: dict[str, float],
        seed: Optional[int] = None,
    ) -> tuple[list[Problem], dict[str, Bound]]: ...


def stale_result(
    contract: Contract,
    case: Case,
    impl: Callable[..., Any],
    device: str,
    first: Mapping[str, Any],
    first_expected: Mapping[str, Any],
    judge: Judgement,
    *,
    held: bool,
) -> list[str]:
    """Run the case's shapes again with fresh inputs: every result must follow the reference.

    `first` and `first_expected` are the first run's results and the reference's, by name; `judge` is the
    runner's own judgement, second opinion included (fresh values can be ill-conditioned where the first
    were not), so the fresh run is held to the same bounds. `held`: the first run's results held.
    """
    twin = fresh_twin(case)
    args = input_builder(contract)(twin, device)
    before = {name: args[name].clone() for name in contract.mutates if isinstance(args.get(name), torch.Tensor)}
    assert judge.results_of is not None, "the fresh-twin check runs only for contracts with a reference"
    expected = judge.results_of(unrounded(args, before))
    if not any(
        isinstance(r, torch.Tensor) and not torch.equal(bits(r), bits(first_expected[n])) for n, r in expected.items()
    ):
        getattr(impl, "uninformative", lambda: None)()  # fresh inputs, same answer: the next case gets a twin
    out = impl(**args)
    now = found(contract, out, args)
    shapes = {n: list(getattr(x, "shape", [])) for n, x in now.items()}
    if shapes != {n: list(getattr(x, "shape", [])) for n, x in first.items()}:
        return [
            f"[stale-result] with fresh inputs of the same shapes the results are {shapes}, not like the first run's"
        ]
    tensors_now = [(x, first[n]) for n, x in now.items() if type(x) is torch.Tensor and type(first[n]) is torch.Tensor]
    if (
        tensors_now
        and all(torch.equal(bits(x), bits(y)) for x, y in tensors_now)
        and any(
            isinstance(r, torch.Tensor) and not torch.equal(bits(r), bits(first_expected[n]))
            for n, r in expected.items()
        )
    ):
        return [
            "[stale-result] fresh inputs of the same shapes gave bit-identical results, while the reference "
            "changed (a result cached or computed once)"
        ]
    problems, _ = judge(args, before, out, expected, {}, seed=twin.seed)
    if held and any(p.kind in (Kind.VALUES, Kind.UNWRITTEN) for p in problems):
        return ["[stale-result] with fresh inputs of the same shapes the output no longer matches the reference"]
    return []


def precision(
    errors: Mapping[str, float], tolerance: Callable[[torch.dtype], float], bounds: Optional[Mapping[str, Bound]] = None
) -> list[str]:
    """Name the failures whose size says 16-bit arithmetic behind a 32/64-bit result; `bounds` are the
    harness's own for a reconsidered case (`conditioning.py`), so both judge a result by one bound."""
    findings = []
    for key, err in errors.items():
        dtype = getattr(torch, key.rsplit(" ", 1)[-1], None)
        if dtype not in (torch.float32, torch.float64):
            continue
        bound = bounds[key].value if bounds and key in bounds else tolerance(dtype)
        if tolerance(dtype) >= TOLERANCE[torch.float16]:  # held to its 16-bit operands' bound: 16 bits is allowed
            continue
        if bound < err <= SIXTEEN_BIT_LEVEL:
            findings.append(
                f"[precision] {key} is accurate only to 16-bit level (relative RMS {err:.2g}, bound "
                f"{bound:.3g}): arithmetic below the declared dtype"
            )
    return findings
