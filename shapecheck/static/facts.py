"""What is known at a point of a function: facts (asserts, guards, contract rules) and local definitions.

Proofs are shallow on purpose, so they stay fast and explainable: substitute equality facts, expand local
definitions, and let sympy's algebra (with positive-integer assumptions) finish. A path condition is a set
of conjuncts, so "this fact applies here" is a subset test; conditions are decided by matching facts and
path conjuncts, and only for a handful of atoms by propositional implication. What cannot be proved is
reported as "not provable", never guessed.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanFunction

from shapecheck.static.symbols import Local, show

Path = frozenset
"""A conjunction of conditions (sympy booleans); the empty set is "always"."""

ALWAYS: Path = frozenset()
_MAX_ATOMS = 12  # beyond this many distinct atoms a propositional proof is not attempted (cost)


def split(cond: sp.Basic) -> list[sp.Basic]:
    """A condition as the conjunction of its parts (`not (a or b)` is `not a` and `not b`)."""
    if isinstance(cond, sp.And):
        return [part for arg in cond.args for part in split(arg)]
    if isinstance(cond, sp.Not) and isinstance(cond.args[0], sp.Or):
        return [part for arg in cond.args[0].args for part in split(sp.Not(arg))]
    return [] if cond == sp.true else [cond]


def conjoin(path: Path, cond: sp.Basic) -> Path:
    """`path and cond`."""
    return path | frozenset(split(cond))


def condition_of(path: Path) -> sp.Basic:
    """A path as one sympy condition (for case splits and display)."""
    return sp.And(*sorted(path, key=sp.default_sort_key))


@dataclasses.dataclass(frozen=True)
class Fact:
    """A relation that holds (whenever `when` holds), and where it came from."""

    relation: sp.Basic
    origin: str
    line: Optional[int] = None
    when: Path = ALWAYS

    def describe(self) -> str:
        text = show(self.relation)
        return f"{text} when {show(condition_of(self.when))}" if self.when else text


# sympy's piecewise_fold simplifies the combined conditions of nested case splits (simplify_logic, exponential
# in the propositions): torch's _inductor/fx_passes/pad_mm.py took 23 s. Above this many distinct propositions
# a case split is not folded for a proof.
FOLD_LIMIT = 6


def _conditions(expr: sp.Basic) -> set[sp.Basic]:
    """The propositions the case splits of `expr` are built from: relations and opaque conditions (`x is None`)."""

    def leaves(cond: sp.Basic) -> Iterable[sp.Basic]:
        if isinstance(cond, BooleanFunction):  # And, Or, Not, ITE, Xor, Implies, ...
            return [leaf for arg in cond.args for leaf in leaves(arg)]
        return [] if cond in (sp.true, sp.false) else [cond]

    return {leaf for pw in expr.atoms(sp.Piecewise) for _, cond in pw.args for leaf in leaves(cond)}


def _is_zero(expr: sp.Expr) -> bool:
    """Provably zero by expansion, branch by branch for a case split (no general `simplify`: too slow)."""
    if expr == 0:
        return True
    if not isinstance(expr, sp.Expr) or expr.has(sp.zoo, sp.nan):
        return False
    if expr.has(sp.Piecewise):
        if len(_conditions(expr)) > FOLD_LIMIT:
            return False  # not provable cheaply: "unknown", never a wrong shape
        folded = sp.piecewise_fold(expr)
        if isinstance(folded, sp.Piecewise):
            return all(_is_zero(branch.expr) for branch in folded.args)
    return sp.expand(expr) == 0


def _atoms(expr: sp.Basic, table: dict[sp.Basic, sp.Symbol]) -> sp.Basic:
    """`expr` with each relation replaced by a propositional variable (`a != b` is `not (a == b)`)."""

    def atom(rel: Relational) -> sp.Basic:
        if isinstance(rel, (sp.Ne, sp.Gt, sp.Ge)):
            return sp.Not(atom(rel.negated))
        key = rel.canonical
        if key not in table:
            table[key] = sp.Dummy()
        return table[key]

    return expr.replace(lambda e: isinstance(e, Relational), atom)


def implies(premises: Iterable[sp.Basic], goal: sp.Basic) -> Optional[bool]:
    """True if the premises imply `goal`, False if they imply its negation, else None."""
    known = {part for p in premises for part in split(p)}
    wanted = split(goal)
    if all(part in known for part in wanted):
        return True
    if sp.Not(goal) in known or (len(wanted) == 1 and sp.Not(wanted[0]) in known):
        return False
    table: dict[sp.Basic, sp.Symbol] = {}
    facts = sp.And(*(_atoms(p, table) for p in known))
    target = _atoms(goal, table)
    if len(facts.free_symbols | target.free_symbols) > _MAX_ATOMS:
        return None
    if sp.satisfiable(sp.And(facts, sp.Not(target))) is False:
        return True
    if sp.satisfiable(sp.And(facts, target)) is False:
        return False
    return None


class _Rewrites:
    """The facts that rewrite expressions: `X == e` replaces the symbol X (never one in `keep`), and
    `a % b == 0` makes `a // b` the exact quotient `a / b` (grouped heads: `H * (HV // H)` is `HV`)."""

    def __init__(self, facts: Iterable[Fact], keep: frozenset = frozenset()) -> None:
        self.subs: dict[sp.Symbol, tuple[sp.Expr, Fact]] = {}
        self.exact: dict[tuple[sp.Expr, sp.Expr], Fact] = {}
        for fact in facts:
            rel = fact.relation
            if not isinstance(rel, sp.Eq):
                continue
            if isinstance(rel.lhs, sp.Mod) and rel.rhs == 0:
                self.exact[(rel.lhs.args[0], rel.lhs.args[1])] = fact
                continue
            for symbol, value in ((rel.lhs, rel.rhs), (rel.rhs, rel.lhs)):
                if (
                    isinstance(symbol, sp.Symbol)
                    and symbol not in value.free_symbols
                    and symbol not in self.subs
                    and symbol not in keep
                ):
                    self.subs[symbol] = (value, fact)
                    break

    def __bool__(self) -> bool:
        return bool(self.subs or self.exact)

    def _quotient(self, e: sp.Basic) -> Optional[tuple[sp.Expr, sp.Expr]]:
        if isinstance(e, sp.floor):
            pair = sp.fraction(e.args[0])
            return pair if pair in self.exact else None
        return None

    def apply(self, expr: sp.Basic) -> sp.Basic:
        for _ in range(4):
            present = {s: v for s, (v, _) in self.subs.items() if s in expr.free_symbols}
            if not present:
                break
            expr = expr.xreplace(present)
        if self.exact and expr.has(sp.floor):
            expr = expr.replace(lambda e: self._quotient(e) is not None, lambda e: e.args[0])
        return expr

    def cite(self, expr: sp.Basic) -> str:
        """The facts rewriting `expr` uses, with their origins."""
        used = [fact for s, (_, fact) in self.subs.items() if s in expr.free_symbols]
        used += [self.exact[pair] for e in expr.atoms(sp.floor) if (pair := self._quotient(e)) is not None]
        return "; ".join(f"{f.describe()} ({f.origin})" for f in dict.fromkeys(used))


class Knowledge:
    """Facts and local definitions of one function, and the proofs built on them."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.definitions: dict[sp.Symbol, sp.Expr] = {}
        self._applicable: dict[Path, list[Fact]] = {}

    def define(self, symbol: Local, expr: sp.Expr) -> None:
        self.definitions[symbol] = expr

    def add(self, relation: sp.Basic, origin: str, line: Optional[int] = None, when: Path = ALWAYS) -> list[Fact]:
        """Record `relation` (split into its conjuncts); returns the facts added."""
        added = [Fact(part, origin, line, when) for part in split(relation)]
        self.facts.extend(added)
        self._applicable.clear()
        return added

    def forget_since(self, count: int) -> None:
        """Drop the facts added after the first `count` (what held inside a loop body)."""
        del self.facts[count:]
        self._applicable.clear()

    def expand(self, expr: sp.Basic) -> sp.Basic:
        """`expr` with every local replaced by its definition (re-evaluating `cdiv`, `min`, ...)."""
        for _ in range(len(self.definitions) + 1):
            present = {s: self.definitions[s] for s in expr.free_symbols if s in self.definitions}
            if not present:
                break
            expr = expr.xreplace(present)
        return expr

    def unfold(self, expr: sp.Basic) -> str:
        """`NK = cdiv(K, next_pow2(K)) = 1`: each local in `expr`, written out, then evaluated."""
        parts = []
        for symbol in sorted((s for s in expr.free_symbols if s in self.definitions), key=str):
            with sp.evaluate(False):
                written = show(self.expand(symbol))
            value = show(self.expand(symbol))
            parts.append(f"{show(symbol)} = {written}" + (f" = {value}" if value != written else ""))
        return ", ".join(parts)

    def applicable(self, under: Path) -> list[Fact]:
        """Facts that hold on a path with condition `under`."""
        if under not in self._applicable:
            self._applicable[under] = [f for f in self.facts if f.when <= under]
        return self._applicable[under]

    def equal(self, a: sp.Expr, b: sp.Expr, under: Path = ALWAYS) -> Optional[str]:
        """Why a == b ("" when it is algebra alone), or None when that cannot be proved."""
        diff = a - b
        if _is_zero(diff):
            return ""
        rewrites = _Rewrites(self.applicable(under))
        if rewrites and _is_zero(rewrites.apply(diff)):
            return rewrites.cite(diff)
        expanded = self.expand(diff) if diff.free_symbols & self.definitions.keys() else diff
        if expanded != diff:
            why = f"by definition: {self.unfold(diff)}"
            if _is_zero(expanded):
                return why
            if rewrites and _is_zero(rewrites.apply(expanded)):
                return f"{why}; {rewrites.cite(expanded)}"
        return None

    def decide(self, cond: sp.Basic, under: Path = ALWAYS) -> Optional[bool]:
        """True/False when `cond` is settled on a path with condition `under`, else None."""
        if cond in (sp.true, sp.false):
            return cond == sp.true
        known = {f.relation for f in self.applicable(under)} | under
        if cond in known:
            return True
        if sp.Not(cond) in known:
            return False
        rewrites = _Rewrites(self.applicable(under))
        for candidate in (rewrites.apply(cond), rewrites.apply(self.expand(cond))):
            if candidate in (sp.true, sp.false):
                return candidate == sp.true
        premises = [p for p in known if p.free_symbols & cond.free_symbols]
        return implies(premises, cond) if premises else None

    def collapse(self, expr: sp.Expr, under: Path = ALWAYS) -> tuple[sp.Expr, list[str]]:
        """Fold case splits whose branches are provably equal (or settled) under the facts; notes say why."""
        notes: list[str] = []

        def fold(pw: sp.Piecewise) -> sp.Expr:
            last = pw.args[-1]
            if last.cond != sp.true:
                return pw
            reasons: list[str] = []
            seen = under
            for branch in pw.args[:-1]:
                settled = self.decide(branch.cond, seen)
                if settled is True:
                    notes.append(f"({show(pw)}) = {show(branch.expr)}, since {show(branch.cond)}")
                    return branch.expr
                if settled is None:
                    why = self.equal(branch.expr, last.expr, conjoin(seen, branch.cond))
                    if why is None:
                        return pw
                    reasons.extend([why] if why else [])
                seen = conjoin(seen, sp.Not(branch.cond))
            notes.append(f"({show(pw)}) = {show(last.expr)}" + (f", since {'; '.join(reasons)}" if reasons else ""))
            return last.expr

        if not expr.has(sp.Piecewise):
            return expr, notes
        return expr.replace(lambda e: isinstance(e, sp.Piecewise), fold), notes

    def resolve(self, expr: sp.Expr, under: Path = ALWAYS, keep: frozenset = frozenset()) -> tuple[sp.Expr, list[str]]:
        """`expr` simplified under the facts: equalities substituted (except for the symbols in `keep`),
        exact divisions made, case splits folded."""
        return self.collapse(_Rewrites(self.applicable(under), keep).apply(expr), under)
