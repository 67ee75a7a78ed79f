"""What is known at a point of a function: facts (asserts, guards, contract rules) and local definitions.

Proofs are shallow on purpose, so they stay fast and explainable: substitute equality facts, expand local
definitions, and let sympy's algebra (with positive-integer assumptions) finish; conditions are decided by
matching facts or by propositional implication over their atoms. What cannot be proved is reported as
"not provable", never guessed.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

import sympy as sp
from sympy.core.relational import Relational

from shapecheck.static.symbols import Local, show

_HARD = (sp.Piecewise, sp.floor, sp.ceiling, sp.Mod, sp.Min, sp.Max)


@dataclasses.dataclass(frozen=True)
class Fact:
    """A relation that holds (whenever `when` holds), and where it came from."""

    relation: sp.Basic
    origin: str
    line: Optional[int] = None
    when: sp.Basic = sp.true

    def describe(self) -> str:
        text = show(self.relation)
        return text if self.when == sp.true else f"{text} when {show(self.when)}"


def _is_zero(expr: sp.Expr) -> bool:
    if expr == 0:
        return True
    if not isinstance(expr, sp.Expr) or expr.has(sp.zoo, sp.nan):
        return False
    if sp.expand(expr) == 0:
        return True
    return bool(expr.has(*_HARD)) and sp.simplify(expr) == 0


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
    """True if the premises imply `goal`, False if they imply its negation, else None (propositionally)."""
    table: dict[sp.Basic, sp.Symbol] = {}
    known = sp.And(*(_atoms(p, table) for p in premises))
    target = _atoms(goal, table)
    if sp.satisfiable(sp.And(known, sp.Not(target))) is False:
        return True
    if sp.satisfiable(sp.And(known, target)) is False:
        return False
    return None


def split(relation: sp.Basic) -> list[sp.Basic]:
    """A condition as the conjunction of its parts (`not (a or b)` is `not a` and `not b`)."""
    normal = sp.to_nnf(relation, simplify=False) if isinstance(relation, (sp.Not, sp.And, sp.Or)) else relation
    return list(normal.args) if isinstance(normal, sp.And) else [normal]


class Knowledge:
    """Facts and local definitions of one function, and the proofs built on them."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.definitions: dict[sp.Symbol, sp.Expr] = {}

    def define(self, symbol: Local, expr: sp.Expr) -> None:
        self.definitions[symbol] = expr

    def add(self, relation: sp.Basic, origin: str, line: Optional[int] = None, when: sp.Basic = sp.true) -> list[Fact]:
        """Record `relation` (split into its conjuncts); returns the facts added."""
        added = [Fact(part, origin, line, when) for part in split(relation) if part != sp.true]
        self.facts.extend(added)
        return added

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

    def applicable(self, under: sp.Basic) -> list[Fact]:
        """Facts that hold on a path with condition `under`."""
        return [f for f in self.facts if f.when == sp.true or f.when == under or implies([under], f.when) is True]

    @staticmethod
    def _substitution(facts: Iterable[Fact]) -> dict[sp.Symbol, tuple[sp.Expr, Fact]]:
        """Equality facts as `symbol -> (replacement, fact)`."""
        subs: dict[sp.Symbol, tuple[sp.Expr, Fact]] = {}
        for fact in facts:
            rel = fact.relation
            if isinstance(rel, sp.Eq):
                for symbol, value in ((rel.lhs, rel.rhs), (rel.rhs, rel.lhs)):
                    if isinstance(symbol, sp.Symbol) and symbol not in value.free_symbols and symbol not in subs:
                        subs[symbol] = (value, fact)
                        break
        return subs

    @staticmethod
    def _apply(expr: sp.Basic, subs: dict[sp.Symbol, tuple[sp.Expr, Fact]]) -> sp.Basic:
        for _ in range(4):
            present = {s: v for s, (v, _) in subs.items() if s in expr.free_symbols}
            if not present:
                break
            expr = expr.xreplace(present)
        return expr

    @staticmethod
    def _cite(expr: sp.Basic, subs: dict[sp.Symbol, tuple[sp.Expr, Fact]]) -> str:
        """The facts a substitution into `expr` uses, with their origins."""
        used = dict.fromkeys(fact for s, (_, fact) in subs.items() if s in expr.free_symbols)
        return "; ".join(f"{f.describe()} ({f.origin})" for f in used)

    def equal(self, a: sp.Expr, b: sp.Expr, under: sp.Basic = sp.true) -> Optional[str]:
        """Why a == b ("" when it is algebra alone), or None when that cannot be proved."""
        diff = a - b
        if _is_zero(diff):
            return ""
        subs = self._substitution(self.applicable(under))
        if subs and _is_zero(self._apply(diff, subs)):
            return self._cite(diff, subs)
        expanded = self.expand(diff)
        if expanded != diff:
            why = f"by definition: {self.unfold(diff)}"
            if _is_zero(expanded):
                return why
            if subs and _is_zero(self._apply(expanded, subs)):
                return f"{why}; {self._cite(expanded, subs)}"
        return None

    def decide(self, cond: sp.Basic, under: sp.Basic = sp.true) -> Optional[bool]:
        """True/False when `cond` is settled on a path with condition `under`, else None."""
        if cond in (sp.true, sp.false):
            return cond == sp.true
        facts = self.applicable(under)
        negated = sp.Not(cond)
        for fact in facts:
            if fact.relation == cond:
                return True
            if fact.relation == negated:
                return False
        subs = self._substitution(facts)
        for candidate in (self._apply(cond, subs), self._apply(self.expand(cond), subs)):
            if candidate in (sp.true, sp.false):
                return candidate == sp.true
        premises = [p for p in (under, *(f.relation for f in facts)) if p.free_symbols & cond.free_symbols]
        return implies(premises, cond) if premises else None

    def collapse(self, expr: sp.Expr, under: sp.Basic = sp.true) -> tuple[sp.Expr, list[str]]:
        """Fold case splits whose branches are provably equal (or settled) under the facts; notes say why."""
        notes: list[str] = []

        def fold(pw: sp.Piecewise) -> sp.Expr:
            last = pw.args[-1]
            if last.cond != sp.true:
                return pw
            reasons: list[str] = []
            seen: sp.Basic = under
            for branch in pw.args[:-1]:
                here = sp.And(seen, branch.cond)
                settled = self.decide(branch.cond, seen)
                if settled is True:
                    notes.append(f"({show(pw)}) = {show(branch.expr)}, since {show(branch.cond)}")
                    return branch.expr
                if settled is None:
                    why = self.equal(branch.expr, last.expr, here)
                    if why is None:
                        return pw
                    reasons.extend([why] if why else [])
                seen = sp.And(seen, sp.Not(branch.cond))
            notes.append(f"({show(pw)}) = {show(last.expr)}" + (f", since {'; '.join(reasons)}" if reasons else ""))
            return last.expr

        if not expr.has(sp.Piecewise):
            return expr, notes
        return expr.replace(lambda e: isinstance(e, sp.Piecewise), fold), notes

    def resolve(self, expr: sp.Expr, under: sp.Basic = sp.true) -> tuple[sp.Expr, list[str]]:
        """`expr` simplified under the facts: equalities substituted, case splits folded."""
        subs = self._substitution(self.applicable(under))
        return self.collapse(self._apply(expr, subs), under)
