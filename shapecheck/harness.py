"""The one judge of a call's results: every output and every in-place argument, against the contract and a reference.

`check` returns every problem found; its callers decide what a problem is. The decorator raises the first
of the declared kinds (type, shape, dtype, device: no device reads, no reference at call time), the
property runner reports them all as the case's findings, `--isolate`'s fresh-input twin and `bench/` judge
with it too. So "the result is right" means one thing everywhere.

What is judged, per element of the declared result (`shapecheck.outputs`) and per in-place argument:
- floating results: every element written and finite, and relative RMS error `‖out − ref‖₂ / ‖ref‖₂`
  (float64, fla's metric) within a per-dtype bound (or the second opinion's, `conditioning.py`);
- integer and bool results: exactly equal, unless the contract declares a comparison for that result
  (`Contract(compare={"ids": ...})`: ids modulo ties, rows as sets);
- in-place arguments: rows (first axis) the reference changed must match it, every other row must keep
  its exact bits.

The reference may express in-place updates either way: by updating its own copies in place (its result
then has the declared form), or by returning the new values after the outputs (`(o, new_pool)`).
`expected` reads both. Problems keep their sizes unformatted until printed: under `torch.compile` they are
symbolic, and formatting them would specialise the graph (the decorator stops tracing before it raises).
"""

from __future__ import annotations

import dataclasses
import enum
import os
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

import torch

from shapecheck.call import Call
from shapecheck.dims import Pattern, dtype_name
from shapecheck.errors import ContractViolation, DtypeViolation
from shapecheck.host import poisoned_allocations as poisoned_allocations
from shapecheck.outputs import Output, Returns, kind_of

# Relative RMS bounds by dtype. fp32 follows fla's kernels tests (the soak's worst is ~2e-6, see
# bench/results/soak_cpu.txt). A 16-bit result carries at most one final rounding: round-to-nearest
# costs <= 2**-8 relative for bf16 and <= 2**-11 for fp16, so 5e-3 bounds both on a GPU. Triton's CPU
# interpreter converts fp32 -> bf16 by TRUNCATION (measured with triton 3.7.1: 49% of 1024 casts differ
# from torch's round-to-nearest, max relative error 7.4e-3, just under 2**-7, and `fp_downcast_rounding=
# "rtne"` does not change it), so under the interpreter a one-element bf16 output can be 2**-7 off: the
# bound there is 1e-2. The soak's worst bf16 errors are recorded next to these bounds.
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10, torch.bfloat16: 5e-3, torch.float16: 5e-3}
INTERPRETER_TOLERANCE = {**TOLERANCE, torch.bfloat16: 1e-2}
RETURN = "output"  # the name of a single returned tensor (and how error keys name it)

Compare = Callable[[torch.Tensor, torch.Tensor, "Results"], Optional[str]]
"""A declared comparison of one result: (found, expected, the whole call's results) -> None when they agree,
else what differs. For what exactness cannot say: ids modulo ties of their weights, rows as sets."""


class Judged(Protocol):
    """What the judge reads of a contract: the declared results, the argument each result's dtype must match,
    declared comparisons and in-place arguments. A `Contract` is one; so are the gradients of a differentiable
    contract's inputs (`shapecheck.gradients`), judged by the same code as outputs."""

    @property
    def returns(self) -> Returns: ...

    @property
    def compare(self) -> Mapping[str, Compare]: ...

    @property
    def mutates(self) -> Sequence[str]: ...

    @property
    def operand_precision(self) -> bool: ...

    def like(self, output: Output) -> Optional[str]: ...


def tolerance(dtype: torch.dtype) -> float:
    """The relative RMS bound for results stored in `dtype` on the current Triton backend."""
    table = INTERPRETER_TOLERANCE if os.environ.get("TRITON_INTERPRET") == "1" else TOLERANCE
    return table[dtype]


def error_key(subject: str, dtype: torch.dtype) -> str:
    """How an error is named in `errors` and `bounds`: "output float32", "pool bfloat16"."""
    return f"{subject} {str(dtype).removeprefix('torch.')}"


@dataclasses.dataclass(frozen=True)
class Bound:
    """A result's relative RMS bound, and where a non-default one came from (printed with the error)."""

    value: float
    why: str = ""


def operand_bound(dtype: torch.dtype, arguments: Mapping[str, Any], *, operands: bool) -> Bound:
    """A result's bound: its dtype's, or, for a contract that declares `operand_precision` (`operands`), that
    of its coarsest floating tensor argument where looser.

    Why: a kernel given 16-bit operands computes with them (Triton's `tl.dot` takes its operands in the
    inputs' dtype, so fla rounds `q * exp(g)` to float16 before the dot), and a float32 result of float16
    data is then float16-accurate at best: fla-core's chunk_gla float32 `dh0` of float16 q/k/v came 5.1e-4
    off, Liger's float32 KL loss of float16 log-probabilities 6.8e-4, each against float32's 1e-5.
    """
    own = tolerance(dtype)
    if not operands:
        return Bound(own)
    coarse = max(
        (
            (tolerance(x.dtype), x.dtype)
            for x in arguments.values()
            if isinstance(x, torch.Tensor) and x.dtype in TOLERANCE
        ),
        key=lambda pair: pair[0],
        default=(own, dtype),
    )
    if coarse[0] <= own:
        return Bound(own)
    return Bound(coarse[0], f"the bound of its {str(coarse[1]).removeprefix('torch.')} operands")


@dataclasses.dataclass(frozen=True)
class Results:
    """One call's results by name (outputs, then in-place arguments after the call), the reference's
    beside them, and the call's arguments: what a declared `Compare` may consult."""

    found: Mapping[str, Any]
    expected: Mapping[str, Any]
    arguments: Mapping[str, Any]


def relative_rms(out: torch.Tensor, ref: torch.Tensor) -> float:
    """‖out − ref‖₂ / ‖ref‖₂ in float64 (fla's metric); exact agreement on a zero reference gives 0."""
    out, ref = out.double(), ref.double()
    diff = (out - ref).norm().item()
    scale = ref.norm().item()
    return diff / scale if scale > 0 else diff


def _bits(x: torch.Tensor) -> torch.Tensor:
    """Reinterpret values as same-width integers, so comparison is bit-exact (NaN, -0.0 included)."""
    if x.dtype == torch.bool:
        return x.contiguous()
    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
    return x.contiguous().view(width)


def _rows(x: torch.Tensor) -> torch.Tensor:
    """One row per index of the first axis, everything else flattened (zero rows included)."""
    return x.reshape(x.shape[0], -1) if x.numel() else x.new_empty((x.shape[0], 0), dtype=x.dtype)


def exact(found: torch.Tensor, expected: torch.Tensor, results: Results) -> Optional[str]:
    """Every element equal (the default for integer and bool results); says how many differ and the first."""
    same = found == expected.to(found.dtype)
    if bool(same.all()):
        return None
    wrong = (~same).nonzero()
    at = tuple(wrong[0].tolist())
    return (
        f"{len(wrong)} of {found.numel()} elements differ (exact comparison of {dtype_name(found)}; first at "
        f"{list(at)}: {found[at].item()} != {expected[at].item()})"
    )


def as_sets(found: torch.Tensor, expected: torch.Tensor, results: Results) -> Optional[str]:
    """Each row (last axis) holds the same values in any order: top-k ids whose order is the kernel's choice."""
    a, b = found.sort(dim=-1).values, expected.to(found.dtype).sort(dim=-1).values
    rows = (
        (a != b).reshape(-1, a.shape[-1] if a.dim() else 1).any(dim=-1)
        if a.numel()
        else a.new_zeros(0, dtype=torch.bool)
    )
    if not bool(rows.any()):
        return None
    return f"{int(rows.sum())} of {rows.numel()} rows hold other values (compared as sets along the last axis)"


def selects_same(source: str, *, dim: int = -1) -> Compare:
    """Indices into argument `source` judged by what they select: distinct along `dim`, and picking exactly the
    values the reference's indices pick. Top-k ids where tied values make either id right (`compare={"ids":
    selects_same("logits")}`): exactness would fail a kernel that breaks ties the other way."""

    def compare(found: torch.Tensor, expected: torch.Tensor, results: Results) -> Optional[str]:
        values = results.arguments[source]
        size = values.shape[dim]
        if found.numel() and (int(found.min()) < 0 or int(found.max()) >= size):
            return f"indices outside [0, {size}) of `{source}` axis {dim}"
        ordered = found.sort(dim=dim).values
        if ordered.shape[dim] > 1 and bool(
            (ordered.narrow(dim, 1, ordered.shape[dim] - 1) == ordered.narrow(dim, 0, ordered.shape[dim] - 1)).any()
        ):
            return f"an index repeats along axis {dim}"
        picked, wanted = values.gather(dim, found.long()), values.gather(dim, expected.long())
        wrong = int((_bits(picked) != _bits(wanted)).sum())
        return (
            f"{wrong} of {found.numel()} indices select other values of `{source}` than the reference's"
            if wrong
            else None
        )

    compare.__name__ = f"selects_same({source!r})"
    compare.source = source  # type: ignore[attr-defined]  # checked against the parameters when the contract is built
    return compare


class Kind(str, enum.Enum):
    """What kind of problem: the first four the decorator checks too (`check(values=False)`), the rest need
    the values and the reference (the property run's)."""

    TYPE = "type"
    SHAPE = "shape"
    DTYPE = "dtype"
    DEVICE = "device"
    UNWRITTEN = "unwritten"
    VALUES = "values"
    UNTOUCHED = "untouched"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One way a result breaks its contract or disagrees with its reference; `str()` is the run's line."""

    kind: Kind
    subject: str  # the output's name, or the in-place argument's
    line: str
    expected: Any = None  # for the decorator's message
    found: Any = None
    why: str = ""  # the decorator's problem text

    def __str__(self) -> str:
        return self.line

    def violation(self, call: Call) -> ContractViolation:
        """The decorator's exception for this problem, with the call's bindings; the argument it names is
        `(return)`, or `(return) ids` for one element of several."""
        error = DtypeViolation if self.kind in (Kind.DTYPE, Kind.DEVICE) else ContractViolation
        argument = "(return)" if self.subject == RETURN else f"(return) {self.subject}"
        return call.fail(argument, self.why, expected=self.expected, found=self.found, error=error)


def expected(contract: Judged, returned: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The reference's results by name: its outputs, then each in-place argument's new value.

    `arguments` are the copies the reference was called with. A reference that returns the declared form
    updated its in-place arguments in those copies; one that returns the outputs followed by one value per
    in-place argument (all of them, or those passed) gave the new values. Anything else is the reference's
    mistake: ValueError says what it returned and what was expected ("returned ...; expected ...").
    """
    declared = contract.returns
    present = [n for n in contract.mutates if isinstance(arguments.get(n), torch.Tensor)]
    n = len(declared.outputs)
    extra: Optional[list[Any]] = None
    if declared.form == "none" and returned is None:
        outs: tuple[Any, ...] = ()
    elif declared.form == "tensor" and not isinstance(returned, (tuple, list)):
        outs = (returned,)
    else:
        items = tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
        if len(items) == n:
            outs = items
        elif present and len(items) == n + len(present):
            outs, extra = items[:n], list(items[n:])
        elif present and len(items) == n + len(contract.mutates):
            outs, extra = items[:n], [items[n + contract.mutates.index(p)] for p in present]
        else:
            inplace = (
                f" or {n + len(present)} ({n} outputs, then the new {', '.join(f'`{p}`' for p in present)})"
                if present
                else ""
            )
            raise ValueError(
                f"returned {kind_of(returned)}; expected {n} result{'s' if n != 1 else ''}"
                f" ({declared.describe()}){inplace}"
            )
    results = {o.name: v for o, v in zip(declared.outputs, outs)}
    for name, value in zip(present, extra) if extra is not None else ((p, arguments[p]) for p in present):
        if not isinstance(value, torch.Tensor) or value.shape != arguments[name].shape:
            raise ValueError(f"returned a new `{name}` of {_shape(value)}; the argument has {_shape(arguments[name])}")
        results[name] = value
    return results


def reference_results(contract: Judged, reference: Callable[..., Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The reference as a function of the arguments (in-place ones its own copies) to its results by name."""
    return lambda arguments: expected(contract, reference(**arguments), arguments)


def unrounded(args: Mapping[str, Any], before: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The reference's arguments: in-place ones as copies in at least fp32, so its results are not rounded to
    16 bits (and its in-place updates reach none of the kernel's tensors)."""
    return {
        **args,
        **{
            n: t.to(torch.float32) if t.is_floating_point() and t.element_size() < 4 else t.clone()
            for n, t in before.items()
        },
    }


def _shape(value: Any) -> str:
    return f"shape {list(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def found(contract: Judged, returned: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The call's results by name as the judge sees them (outputs the declared form allows, then each in-place
    argument after the call): what a `Compare` gets and the second opinion judges."""
    pairs, _ = contract.returns.split(returned)
    return {
        **{o.name: v for o, v in pairs},
        **{n: arguments[n] for n in contract.mutates if isinstance(arguments.get(n), torch.Tensor)},
    }


def check(
    contract: Judged,
    dims: Mapping[str, int],
    arguments: Mapping[str, Any],
    returned: Any,
    *,
    values: bool = True,
    reference: Optional[Mapping[str, Any]] = None,
    before: Optional[Mapping[str, torch.Tensor]] = None,
    errors: Optional[dict[str, float]] = None,
    bounds: Optional[Mapping[str, Bound]] = None,
) -> list[Problem]:
    """Every problem of a call's results, outputs first, in-place arguments after.

    `dims` are the call's bindings, `arguments` its arguments after the call (in-place ones updated).
    `values=False` checks the declared kinds only (type, shape, dtype, device), reading no device memory
    (the decorator). Otherwise every floating output must also be written and finite, and with `reference`
    (`expected`'s results by name) every output and every in-place argument of `before` (copies taken
    before the call) is compared. Each relative error measured is recorded in `errors` ("output float32",
    "pool bfloat16"); `bounds`, keyed the same way, replaces the dtype's bound for a result (`conditioning.py`).
    A tensor subclass gets no value checks: it could answer the comparison itself (`integrity` names it).
    """
    pairs, wrong_form = contract.returns.split(returned)
    if wrong_form is not None:
        return [
            Problem(
                Kind.TYPE,
                RETURN,
                f"the call {wrong_form}",
                expected=contract.returns.describe(),
                found=wrong_form.removeprefix("returned ").split(";")[0],
                why="wrong kind of result",
            )
        ]
    device = next((x.device for x in arguments.values() if isinstance(x, torch.Tensor)), None)
    bound_dims = dict(dims)
    problems: list[Problem] = []
    judged: list[tuple[Output, torch.Tensor]] = []
    for output, value in pairs:
        if values and isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
            continue  # a subclass could answer every check itself: `integrity` names it instead
        found_problem = _declared(contract, output, value, bound_dims, arguments, device)
        if found_problem is not None:
            problems.append(found_problem)
        elif type(value) is torch.Tensor:
            judged.append((output, value))
    if not values:
        return problems
    results = Results(found(contract, returned, arguments), reference or {}, arguments)
    judge = _Judge(contract, results, errors, bounds or {})
    for output, value in judged:
        problems += judge.output(output.name, value, reference)
    for output, value in pairs:  # an Optional result left out where the reference gave one
        if value is None and reference is not None and isinstance(reference.get(output.name), torch.Tensor):
            problems.append(
                Problem(Kind.TYPE, output.name, f"{output.name} is None, but the reference returned a tensor for it")
            )
    if reference is not None:
        for name, was in (before or {}).items():
            problems += judge.inplace(name, was, arguments[name], reference[name])
    return problems


def _declared(
    contract: Judged,
    output: Output,
    value: Any,
    dims: dict[str, int],
    arguments: Mapping[str, Any],
    device: Optional[torch.device],
) -> Optional[Problem]:
    """Type, shape, dtype and device of one returned element; binds dims only outputs name (in `dims`)."""
    patterns = output.spec.patterns
    if value is None:
        if output.spec.optional:
            return None
        return Problem(
            Kind.TYPE,
            output.name,
            f"{output.name} is None, expected a tensor of shape {_shape_text(patterns[0], dims)}",
            expected=_shape_text(patterns[0], dims),
            found="None",
            why=f'{output.name} does not match "{patterns[0].text}"',
        )
    if not isinstance(value, torch.Tensor):
        shape = _shape_text(patterns[0], dims)
        return Problem(
            Kind.TYPE,
            output.name,
            f"{output.name} is {type(value).__name__}, expected a tensor of shape {shape}",
            expected=shape,
            found=type(value).__name__,
            why=f'{output.name} does not match "{patterns[0].text}"',
        )
    fits = []
    for pattern in patterns:  # a loop, not a comprehension with `:=`: dynamo traces this (a cell it cannot)
        bound = _bind(pattern, value, dims)
        if bound is not None:
            fits.append((pattern, bound))
    if not fits:
        pattern = patterns[0]
        shape = _shape_text(pattern, dims)
        return Problem(
            Kind.SHAPE,
            output.name,
            f'{output.name} shape {list(value.shape)} != contract {shape} ("{pattern.text}" with {dict(dims)})',
            expected=shape,
            found=list(value.shape),
            why=f'{output.name} does not match "{pattern.text}"',
        )
    like_name = contract.like(output)
    like = arguments.get(like_name) if like_name else None
    like_dtype = dtype_name(like) if isinstance(like, torch.Tensor) else None
    typed = [(p, bound) for p, bound in fits if dtype_name(value) in p.dtypes]
    if not typed or like_dtype not in (None, dtype_name(value)):
        kinds = " | ".join(dict.fromkeys(p.dtype_kind for p in patterns))
        if like_dtype is not None and like_dtype != dtype_name(value):
            line, why = (
                f"{output.name} dtype {dtype_name(value)} != {like_name}'s {like_dtype}",
                f"wrong {output.name} dtype (must be `{like_name}`'s)",
            )
        else:
            line, why = (
                f'{output.name} dtype {dtype_name(value)} is not one of "{patterns[0].text}"\'s {kinds}',
                f"wrong {output.name} dtype",
            )
        return Problem(Kind.DTYPE, output.name, line, expected=like_dtype or kinds, found=dtype_name(value), why=why)
    if device is not None and value.device != device:
        return Problem(
            Kind.DEVICE,
            output.name,
            f"[output-type] {output.name} is on {value.device}, the inputs on {device}",
            expected=str(device),
            found=str(value.device),
            why=f"{output.name} on another device",
        )
    dims.update(typed[0][1])
    return None


def _bind(pattern: Pattern, value: torch.Tensor, dims: Mapping[str, int]) -> Optional[dict[str, int]]:
    """The names this output binds if `value` fits `pattern` under `dims` (names no argument bound are taken
    from the output, `_` is anything), else None."""
    if len(pattern.axes) != value.dim():
        return None
    fresh: dict[str, int] = {}
    for axis, size in zip(pattern.axes, value.shape):
        if isinstance(axis, int):
            if axis != size:
                return None
        elif axis == "_":
            continue
        elif axis.isidentifier():
            known = dims.get(axis, fresh.get(axis))
            if known is None:
                fresh[axis] = size
            elif known != size:
                return None
    scope = {**dims, **fresh}
    for axis, size in zip(pattern.axes, value.shape):
        if isinstance(axis, str) and not axis.isidentifier() and pattern.size(axis, scope) != size:
            return None
    return fresh


def _shape_text(pattern: Pattern, dims: Mapping[str, int]) -> list[Any]:
    """The declared shape under `dims`; an axis no argument binds shows as its name."""
    shape: list[Any] = []
    for axis in pattern.axes:
        try:
            shape.append(pattern.size(axis, dims) if axis != "_" else "_")
        except (KeyError, NameError):
            shape.append(axis)
    return shape


@dataclasses.dataclass
class _Judge:
    """Values of one call's results against the reference's, recording each error measured."""

    contract: Judged
    results: Results
    errors: Optional[dict[str, float]]
    bounds: Mapping[str, Bound]

    def output(self, name: str, out: torch.Tensor, reference: Optional[Mapping[str, Any]]) -> list[Problem]:
        ref = None if reference is None else reference.get(name)
        if isinstance(ref, torch.Tensor) and ref.shape != out.shape:  # an axis the declaration leaves free (`_`)
            return [Problem(Kind.SHAPE, name, f"{name} shape {list(out.shape)} != the reference's {list(ref.shape)}")]
        if out.is_floating_point():
            bad = int((~torch.isfinite(out)).sum())
            if bad:
                return [
                    Problem(
                        Kind.UNWRITTEN,
                        name,
                        f"{bad} of {out.numel()} {name} elements are NaN/inf (unwritten or non-finite)",
                    )
                ]
        if reference is None:
            return []
        if not isinstance(ref, torch.Tensor):
            return [
                Problem(Kind.TYPE, name, f"{name} is a tensor, but the reference returned {type(ref).__name__} for it")
            ]
        return self._compare(name, out, ref, f"{name} differs from reference", with_dtype=True)

    def inplace(self, name: str, before: torch.Tensor, after: torch.Tensor, ref: torch.Tensor) -> list[Problem]:
        """Rows (first axis) the reference updates must match it; every other row must keep its exact bits.

        `ref` is computed from an unrounded (fp32+) copy of `before`, so a row counts as updated even when
        its change is below one ulp of a 16-bit pool, and the error measured is the kernel's own rounding.
        """
        problems = []
        updated = updated_rows(ref, before)
        moved = (_rows(_bits(after)) != _rows(_bits(before))).any(dim=1) & ~updated
        if bool(moved.any()):
            rows = moved.nonzero().flatten().tolist()
            problems.append(
                Problem(
                    Kind.UNTOUCHED,
                    name,
                    f"`{name}`: rows the contract leaves untouched were modified: "
                    f"{rows[:8]}{'...' if len(rows) > 8 else ''}",
                )
            )
        if bool(updated.any()):
            problems += self._compare(
                name, after[updated], ref[updated], f"`{name}`: updated rows differ from reference", with_dtype=False
            )
        return problems

    def _compare(
        self, name: str, out: torch.Tensor, ref: torch.Tensor, lead: str, *, with_dtype: bool
    ) -> list[Problem]:
        compare = self.contract.compare.get(name)
        if compare is None and not out.is_floating_point():
            compare = exact
        if compare is not None:
            differs = compare(out, ref, self.results)
            if compare is exact and self.errors is not None:
                # 0 when every element agrees: the summary then shows integer results judged beside the floats
                self.errors[error_key(name, out.dtype)] = relative_rms(out, ref)
            how = "" if compare is exact else f" (compared by {getattr(compare, '__name__', 'the contract')})"
            return [Problem(Kind.VALUES, name, f"{lead}: {differs}{how}")] if differs else []
        err = relative_rms(out, ref)
        key = error_key(name, out.dtype)
        if self.errors is not None:
            self.errors[key] = err
        bound = self.bounds.get(
            key, operand_bound(out.dtype, self.results.arguments, operands=self.contract.operand_precision)
        )
        if not bool(torch.isfinite(out).all()) or err > bound.value:
            detail = "; ".join(filter(None, [dtype_name(out) if with_dtype else "", bound.why]))
            return [
                Problem(
                    Kind.VALUES,
                    name,
                    f"{lead}: relative RMS error {err:.3g} > {bound.value:.3g}{f' ({detail})' if detail else ''}",
                )
            ]
        return []


def updated_rows(ref: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """Which rows (first axis) of an in-place argument the reference changed: the rows its values are judged on."""
    return (_rows(ref) != _rows(before.to(ref.dtype))).any(dim=1)
