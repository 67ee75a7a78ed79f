"""`shapecheck lint`: findings from the static analysis, one stable code per rule.

Functions with declared shapes (jaxtyping annotations or their `@contract(C)`'s stub), or whose body
unpacks shapes or launches a kernel, are analysed; every `@triton.jit` function is checked by SC006/SC007.
Rules (README's table has an example of each):

SC000  the file is not Python the analyser can parse.
SC001  the inferred output shape differs from the declared one (each `return` that differs is reported);
       a dimension named only in the return annotation binds to what the code returns.
SC002  `squeeze(d)` of an axis not provably of size 1.
SC003  `view`/`reshape` whose element count is not provably the input's (or whose `-1` is not whole).
SC004  a dimension name used inconsistently: two declared names that differ only in case, or a local named
       after one declared dimension that is assigned another (`B, H, T, K = q.shape` for `q: "B T H K"`).
       SC002-SC004 need declared shapes; shapes read from unpack lines feed only the derivation and SC005.
SC005  a launch grid's axis 1 or 2 (65535 blocks; axis 0 allows 2**31 - 1) whose size can exceed 65535,
       by interval arithmetic over the dims' bounds (contract, facts, `--bound`, `[tool.shapecheck.bounds]`).
       An error when it grows with a batch-, token- or sequence-count dimension (`is_count`) or its bound
       passes the limit; a note when it grows only with head/feature dimensions nobody bounded.
SC006  in a Triton kernel, an int32 element offset built from a value loaded from memory (see
       `shapecheck.static.pointers` for what counts as an offset rather than a position).
SC007  the same for a program id scaled by two or more factors in one expression (a note on axes 1 and 2), or
       a position inside a sequence (`i_t * BT + tl.arange(0, BT)`, `i_t` a program id or a loop over the
       sequence's blocks) times two or more head/feature factors, bounded by the longest sequence (`T`).
SC008  an Optional argument dereferenced where a call that leaves it out reaches it (`shapecheck.static.optional`).
SC009  an argument the kernel writes in place rebound to a copy before the launch (`shapecheck.static.inplace`).
SC010  a launch's `x.stride(d)` stepping a whole multiple of axis d's size, i.e. an outer axis
       (`shapecheck.static.strides`).
"""

from __future__ import annotations

import ast
import math
from collections import defaultdict
from typing import Iterable, Iterator, Mapping, Union

import sympy as sp

from shapecheck.static.analysis import Analysis, analyse_module
from shapecheck.static.bounds import Bounder, Interval
from shapecheck.static.contracts import decorator_contract
from shapecheck.static.findings import Finding
from shapecheck.static.inplace import LostWrite, lost_writes
from shapecheck.static.optional import Dereference, none_dereferences
from shapecheck.static.pointers import Overflow, unsafe_offsets
from shapecheck.static.source import FunctionNode, ModuleSource, is_kernel
from shapecheck.static.strides import CrossedStride, crossed_strides
from shapecheck.static.symbols import dim, show
from shapecheck.static.values import Tensor, Tup, Unknown, is_int, is_unknown_size

GRID_LIMIT = 65535
COUNT_DIMS = frozenset({"B", "T", "N", "S", "BT", "NT", "L", "M"})


def _at(path: str, node: ast.AST, code: str, message: str, function: str, severity: str = "error") -> Finding:
    line = getattr(node, "lineno", 1)
    end_line = getattr(node, "end_lineno", None) or line
    end_col = (getattr(node, "end_col_offset", None) or getattr(node, "col_offset", 0) or 0) + 1
    return Finding(path, line, getattr(node, "col_offset", 0) + 1, code, message, function, severity, end_line, end_col)


_COUNT_WORDS = ("batch", "bsz", "seq", "tok", "len", "slot", "rows")


def is_count(name: str) -> bool:
    """A batch-, token- or sequence-count dimension (B, T, N, S, `len(cu_seqlens)`, ...): grows with the load."""
    return name in COUNT_DIMS or any(word in name.lower() for word in _COUNT_WORDS)


def _output(a: Analysis) -> Iterator[Finding]:
    """SC001."""
    agreement = a.agreement()
    if agreement.status != "differ":
        return
    bad = [
        (r.node, a.agreement(r.value).detail)
        for r in a.returns
        if r.node is not None and isinstance(r.value, (Tensor, Tup)) and a.agreement(r.value).status == "differ"
    ]
    for node, detail in bad or [(a.node, agreement.detail)]:
        yield _at(a.module.path, node, "SC001", f"`{a.qualname}`: {detail}", a.qualname)


def _annotation_node(a: Analysis, dimension: str) -> ast.AST:
    """Where a dimension name is written in the source (its parameter's annotation), else the `def`."""
    for arg in (*a.node.args.posonlyargs, *a.node.args.args, *a.node.args.kwonlyargs):
        if arg.annotation is not None and any(
            isinstance(n, ast.Constant) and isinstance(n.value, str) and dimension in n.value.split()
            for n in ast.walk(arg.annotation)
        ):
            return arg.annotation
    return a.node


def _case(a: Analysis) -> Iterator[Finding]:
    """SC004, the declaration half: names that differ only in case."""
    by_fold: defaultdict[str, set[str]] = defaultdict(set)
    for name in a.signature.dim_names():
        by_fold[name.lower()].add(name)
    for names in by_fold.values():
        if len(names) > 1:
            first, *others = sorted(names)
            for other in others:
                yield _at(
                    a.module.path,
                    _annotation_node(a, other),
                    "SC004",
                    f"dimension names `{first}` and `{other}` differ only in case; one name per dimension",
                    a.qualname,
                )


def _ranges(a: Analysis) -> dict[sp.Symbol, Interval]:
    """Each dimension's [lo, hi]: contract bounds, tightened by facts `D <= c`."""
    ranges: dict[sp.Symbol, Interval] = {
        dim(name): (float(info.lo), float(info.hi) if info.hi is not None else math.inf)
        for name, info in a.signature.dims.items()
    }
    for fact in a.knowledge.facts:
        rel = fact.relation
        if fact.when or not isinstance(rel, (sp.Le, sp.Lt, sp.Eq)):
            continue
        if isinstance(rel.lhs, sp.Symbol) and rel.rhs.is_Number:
            lo, hi = ranges.get(rel.lhs, (1.0, math.inf))
            bound = float(rel.rhs) - (1 if isinstance(rel, sp.Lt) else 0)
            ranges[rel.lhs] = (bound if isinstance(rel, sp.Eq) else lo, min(hi, bound))
    return ranges


def _grid(a: Analysis, bounds: Mapping[str, int]) -> Iterator[Finding]:
    """SC005: an error when the axis grows with a count dimension (or its bound passes the limit), a note
    when it grows only with head/feature dimensions nobody bounded."""
    ranges = {**_ranges(a), **{dim(n): (1.0, float(hi)) for n, hi in bounds.items()}}
    bounder = Bounder(ranges, a.knowledge.definitions)
    for launch in a.launches:
        if isinstance(launch.grid, Unknown):
            continue
        for axis, size in list(enumerate(launch.grid))[1:]:
            if not is_int(size):
                continue
            resolved, _ = a.knowledge.resolve(size)
            if any(is_unknown_size(s) for s in a.knowledge.expand(resolved).free_symbols):
                continue  # one branch of the size is not known: nothing to say about it
            hi = bounder.interval(resolved)[1]
            if hi <= GRID_LIMIT:
                continue
            unbounded = bounder.unbounded(resolved)
            severity = "error" if not unbounded or any(is_count(n) for n in unbounded) else "note"
            why = (
                f"grows without bound with {', '.join(unbounded)}"
                if unbounded
                else f"reaches {int(hi)} under the declared bounds"
            )
            expanded = show(a.knowledge.expand(size))
            written = show(size) + (f" = {expanded}" if expanded != show(size) else "")
            yield _at(
                a.module.path,
                launch.node,
                "SC005",
                f"grid axis {axis} of `{launch.kernel}` is {written}, which {why}; CUDA allows {GRID_LIMIT} "
                "blocks on axes 1 and 2 (put the large product on axis 0)"
                + (
                    "; bound the head/feature dims with --bound or [tool.shapecheck.bounds]"
                    if severity == "note"
                    else ""
                ),
                a.qualname,
                severity,
            )


def _analysis_findings(a: Analysis, bounds: Mapping[str, int]) -> Iterator[Finding]:
    """Shapes read from the code's own unpack lines feed SC005 only: SC001-SC004 check a declaration."""
    yield from _output(a)
    declared = a.signature.origin != "the code's own unpack lines"
    for issue in a.issues if declared else []:
        yield _at(a.module.path, issue.node, issue.code, issue.message, issue.function)
    yield from _case(a)
    yield from _grid(a, bounds)


def lint_module(module: ModuleSource, bounds: Mapping[str, int] = {}) -> tuple[list[Finding], int]:
    """Findings of one parsed module and the number of functions checked."""
    findings: set[Finding] = set()
    checked = 0
    for analysis in analyse_module(module, declared_only=True):
        checked += 1
        findings.update(_analysis_findings(analysis, bounds))
    for qualname, fn in module.definitions():
        if is_kernel(fn):
            checked += 1
            findings.update(
                _at(module.path, o.node, o.code, _overflow_message(o), qualname, o.severity)
                for o in unsafe_offsets(fn, bounds)
            )
        else:
            findings.update(_wrapper_findings(module, qualname, fn))
    return _one_per_site(sorted(findings)), checked


def _one_per_site(findings: list[Finding]) -> list[Finding]:
    """One finding per line, rule and message: a helper reached from several wrappers (each analysed as its
    own entry) would otherwise print the same line once per caller; the first caller, by name, is kept."""
    seen: set[tuple[object, ...]] = set()
    kept = []
    for finding in findings:
        site = (finding.path, finding.line, finding.col, finding.code, finding.message, finding.severity)
        if site not in seen:
            seen.add(site)
            kept.append(finding)
    return kept


def _non_none(module: ModuleSource, fn: FunctionNode) -> set[str]:
    """Parameters a contract rule `x is not None` (alone or in an `and`) makes non-None."""
    signature = decorator_contract(module, fn) if fn.decorator_list else None
    clauses = [c.strip() for rule in (signature.rules if signature is not None else ()) for c in rule.split(" and ")]
    return {
        c[: -len(" is not None")].strip()
        for c in clauses
        if c.endswith(" is not None") and c[: -len(" is not None")].strip().isidentifier()
    }


def _wrapper_findings(module: ModuleSource, qualname: str, fn: FunctionNode) -> Iterator[Finding]:
    """SC008-SC010: what a (non-kernel) function does with its arguments around a launch."""
    rules: tuple[tuple[str, Iterable[Union[Dereference, LostWrite, CrossedStride]]], ...] = (
        ("SC008", none_dereferences(fn, _non_none(module, fn))),
        ("SC009", lost_writes(module, fn)),
        ("SC010", crossed_strides(module, fn)),
    )
    for code, found in rules:
        for item in found:
            yield _at(module.path, item.node, code, item.message(), qualname)


def _overflow_message(o: Overflow) -> str:
    origin = {"load": "loaded from memory", "pid": "a program id", "loop": "a loop over a sequence's blocks"}[o.kind]
    position = (
        ", a position inside a sequence (at most the longest one: --bound T=..., default 2**20 tokens)"
        if o.sequence
        else ""
    )
    return (
        f"`{_short(o.node)}` multiplies `{_short(o.operand)}`, {origin} at line {o.source_line}{position}, into a "
        "pointer offset without `.to(tl.int64)`: int32 wraps past 2**31 elements"
    )


def _short(node: Union[ast.AST, str]) -> str:
    text = node if isinstance(node, str) else ast.unparse(node)
    return text if len(text) <= 50 else text[:47] + "..."
