"""Backward cases: a differentiable contract's input gradients held against the reference's autograd.

Training kernels ship a forward and a backward behind a `torch.autograd.Function`; the hard bugs live in
the backward, and the forward output stays right, so a forward-only check passes them. For a contract with
`Differentiable()` inputs every case therefore also runs backward:

- the differentiable inputs become leaves with `requires_grad`, and the real kernel runs forward again
  (allocations NaN-poisoned, as for values);
- every float output gets a cotangent drawn from the case's seed; the case's `cotangents` option makes one
  zero (kernels special-case it) or a strided view (`o.sum().backward()` hands a backward non-contiguous
  gradients; a kernel assuming a packed `do` reads the wrong rows);
- `torch.autograd.grad` through the kernel (backward allocations poisoned too, so a gradient the backward
  never writes is NaN, never a silent zero) and through the reference;
- each input's gradient, `grad of x`, is judged by the one judge (`harness.check`) as a result declared with
  x's annotation and x's dtype: shape, dtype, written and finite, relative RMS error within the dtype's
  bound, with the float64 second opinion (`conditioning.Judge`) where it misses.

The cotangents and the inputs come from the case, so a failing backward shrinks and replays like a forward.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional, Sequence

import torch

from shapecheck import blame, harness
from shapecheck.case import Case
from shapecheck.conditioning import Judge
from shapecheck.harness import poisoned_allocations
from shapecheck.host import described
from shapecheck.integrity import bits
from shapecheck.outputs import Output, Returns
from shapecheck.spec import Contract
from shapecheck.strategies import COTANGENTS

_SALT = 0x6AD  # the cotangents' random stream, apart from the inputs' (same seed)


def grad_name(argument: str) -> str:
    """How findings and error keys name an input's gradient: "grad of k"."""
    return f"grad of {argument}"


@dataclasses.dataclass(frozen=True)
class Gradients:
    """The gradients of a call's differentiable inputs, declared as results for the judge (`harness.Judged`):
    `grad of x` has x's annotation and must have x's dtype."""

    returns: Returns
    compare: Mapping[str, harness.Compare] = dataclasses.field(default_factory=dict)
    mutates: Sequence[str] = ()
    operand_precision: bool = False  # the differentiated contract's

    def like(self, output: Output) -> Optional[str]:
        return output.name.removeprefix("grad of ")


@dataclasses.dataclass
class Backward:
    """What one case's backward did: its problems (lines of the case's findings) and whether it ran."""

    problems: list[str] = dataclasses.field(default_factory=list)
    ran: bool = False


def cotangents(case: Case, results: Mapping[str, Any], names: Sequence[str]) -> dict[str, torch.Tensor]:
    """One cotangent per named float result, from the case's seed and its `cotangents` option."""
    gen = torch.Generator().manual_seed((case.seed + _SALT) % 2**63)
    kinds = case.options.get(COTANGENTS) or {}
    found = {}
    for name in names:
        value = results.get(name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            continue
        kind, shape = kinds.get(name, "random"), tuple(value.shape)
        if kind == "zero":
            found[name] = torch.zeros(shape, dtype=value.dtype, device=value.device)
            continue
        pad = 3 if kind == "strided" and len(shape) >= 2 else 0  # rows 3 elements further apart than packed
        full = torch.randn((*shape[:-1], shape[-1] + pad) if shape else (), generator=gen, dtype=torch.float64)
        found[name] = (
            full.to(value.device, value.dtype)[..., : shape[-1]] if pad else full.to(value.device, value.dtype)
        )
    return found


def _grads(
    outputs: Mapping[str, torch.Tensor], cots: Mapping[str, torch.Tensor], leaves: Mapping[str, torch.Tensor]
) -> dict[str, Optional[torch.Tensor]]:
    """`torch.autograd.grad` of the outputs that require grad, each with its cotangent (cast to its dtype, moved
    to its device: the second opinion evaluates a GPU case's reference on the CPU too)."""
    live = [(v, cots[n].to(v.device, v.dtype)) for n, v in outputs.items() if n in cots and v.requires_grad]
    if not live:
        return dict.fromkeys(leaves)
    got = torch.autograd.grad([v for v, _ in live], list(leaves.values()), [c for _, c in live], allow_unused=True)
    return dict(zip(leaves, got))


def reference_grads(
    results_of: Callable[[dict[str, Any]], dict[str, Any]], present: Sequence[str], cots: Mapping[str, torch.Tensor]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The reference's input gradients as a function of its arguments (in whatever dtype they come: the
    second opinion passes float64 copies), keyed `grad of x`; an input no output depends on gets zeros."""

    def grads_of(arguments: dict[str, Any]) -> dict[str, Any]:
        leaves = {n: arguments[n].detach().requires_grad_(True) for n in present}
        results = results_of({**arguments, **leaves})
        outputs = {n: v for n, v in results.items() if isinstance(v, torch.Tensor) and n in cots}
        got = _grads(outputs, cots, leaves)
        return {grad_name(n): g.detach() if g is not None else torch.zeros_like(leaves[n]) for n, g in got.items()}

    return grads_of


def run_backward(
    contract: Contract,
    case: Case,
    impl: Callable[..., Any],
    args: Mapping[str, Any],
    before: Mapping[str, torch.Tensor],
    dims: Mapping[str, int],
    results_of: Optional[Callable[[dict[str, Any]], dict[str, Any]]],
    errors: dict[str, float],
    bounds: dict[str, harness.Bound],
) -> Backward:
    """The backward case of one drawn case (module docstring); `args` are the forward's arguments after its call,
    `before` copies of its in-place ones. Errors measured land in `errors` ("grad of x float32"), a second
    opinion's bounds in `bounds`. Nothing runs without a reference or a differentiable input present."""
    present = [n for n in contract.differentiable if isinstance(args.get(n), torch.Tensor)]
    if results_of is None or not present:
        return Backward()
    done = Backward(ran=True)
    untouched = {**args, **before}  # the arguments as the forward saw them
    leaves = {n: untouched[n].detach().requires_grad_(True) for n in present}
    call = {**untouched, **{n: t.clone() for n, t in before.items()}, **leaves}
    try:
        with torch.enable_grad(), poisoned_allocations():
            out = impl(**call)
    except Exception as exc:  # noqa: BLE001 - the kernel failing with requires_grad inputs is a finding
        blame.not_a_finding("the implementation", exc)
        done.problems.append(f"kernel raised {described(exc)} (forward with requires_grad on {', '.join(present)})")
        return done
    pairs, wrong = contract.returns.split(out)
    if wrong is not None:
        return done  # the forward's own judgement names the wrong form
    outputs = {o.name: v for o, v in pairs if isinstance(v, torch.Tensor)}
    cots = cotangents(case, outputs, contract.carried)
    if cots and not any(outputs[n].requires_grad for n in cots):
        done.problems.append(
            f"no output carries a gradient to {', '.join(present)}: the kernel's results have no "
            "grad_fn (is its forward behind a torch.autograd.Function?)"
        )
        return done
    handed = {n: c.clone() for n, c in cots.items()}
    inputs = {n: t.clone() for n, t in untouched.items() if isinstance(t, torch.Tensor)}
    try:
        with poisoned_allocations():
            got = _grads(outputs, cots, leaves)
    except Exception as exc:  # noqa: BLE001 - the kernel's backward failing is a finding
        done.problems.append(f"backward ({', '.join(grad_name(n) for n in present)}) raised {described(exc)}")
        return done
    for n, c in cots.items():
        if not torch.equal(
            bits(c), bits(handed[n])
        ):  # autograd hands one gradient to every branch of a sum: it must stay
            done.problems.append(
                f"backward wrote over the gradient it was handed for `{n}` (its cotangent): another "
                f"consumer of that gradient, such as the other branch of a sum, reads the new values"
            )
    for n, t in inputs.items():
        if not torch.equal(bits(untouched[n]), bits(t)):
            done.problems.append(
                f"backward wrote over the input `{n}`: a caller that reads `{n}` after "
                f"backward (another loss, a recomputation) gets the new values"
            )
    untouched = {**untouched, **inputs}  # the reference's gradients are those of the inputs as the forward saw them
    grads_of = reference_grads(results_of, present, handed)
    unrounded = harness.unrounded(dict(untouched), dict(before))
    expected = grads_of(unrounded)
    for name, grad in got.items():
        if grad is None and bool(expected[grad_name(name)].ne(0).any()):
            done.problems.append(
                f"{grad_name(name)} is None: no gradient reaches `{name}` through the kernel, "
                "the reference's is nonzero"
            )
    found = tuple(g.detach() if g is not None else torch.zeros_like(leaves[n]) for n, g in got.items())
    declared = Gradients(
        Returns("tuple", tuple(Output(grad_name(n), contract.tensor_specs[n]) for n in present)),
        operand_precision=contract.operand_precision,
    )
    judge = Judge(declared, case.seed, grads_of, dims)
    problems, opinion = judge(dict(untouched), {}, found, expected, errors)
    bounds.update(opinion)
    done.problems += [str(p) for p in problems]
    return done
