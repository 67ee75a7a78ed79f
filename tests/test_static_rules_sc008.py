"""SC008 (an Optional argument dereferenced where a call that leaves it out reaches): the fixture's planted
lines and nothing else; guards (`is not None`, early return, assert, `X if c else None`, `and`,
`isinstance`, a contract rule) keep the safe forms clean; suppression and `--select` apply."""

from __future__ import annotations

import ast

from shapecheck.static.optional import none_dereferences, optional_parameters
from shapecheck.static.source import ModuleSource
from tests.lint_rule_helpers import FIXTURES, found, suppressed_line

FIXTURE = FIXTURES / "lint_sc008_optional.py"


def test_suppression_and_select() -> None:
    line = suppressed_line(FIXTURE, "SC008")
    module = ModuleSource.load(FIXTURE)
    raw = [d.node.lineno for d in none_dereferences(module.functions["decay_suppressed"])]
    assert raw == [line]  # found by the rule, silenced by the comment
    assert line not in {f.line for f in found(FIXTURE, "SC008")}
    assert found(FIXTURE, "SC009") == []


def test_contract_rule_makes_the_argument_non_none() -> None:
    module = ModuleSource.load(FIXTURE)
    fn = module.functions["decay_by_contract"]
    assert [d.name for d in none_dereferences(fn)] == ["state"]  # without the contract's rule
    assert list(none_dereferences(fn, non_none={"state"})) == []
    assert "decay_by_contract" not in {f.function for f in found(FIXTURE, "SC008")}


def test_only_top_level_optional_annotations_count() -> None:
    fn = ast.parse(
        "def f(a: Sequence[Optional[str]], b: 'Queue[Optional[int]]', c: int | None, d: Union[int, None],"
        " e=None, g: 'Optional[int]' = 1, h: int = 0): ..."
    ).body[0]
    assert isinstance(fn, ast.FunctionDef)
    assert optional_parameters(fn) == ["c", "d", "e", "g"]


def test_only_the_first_dereference_of_a_path_is_reported() -> None:
    fn = ast.parse("def f(x, w=None):\n    a = w.shape[1]\n    b = w.new_empty(3)\n    return a, b\n").body[0]
    assert isinstance(fn, ast.FunctionDef)
    assert [(d.node.lineno, d.how) for d in none_dereferences(fn)] == [(2, "`.shape`")]


def test_each_kind_of_dereference_is_named() -> None:
    hows = [f.message.split(" here (")[1].split(" on it)")[0] for f in found(FIXTURE, "SC008")]
    assert hows == ["`.is_contiguous`", "`.sum`", "arithmetic", "`len()`"]
    source = (
        "def f(x, a=None, b=None, c=None, d=None):\n    y = a[0]\n    z = [*b]\n    w = c < 1\n"
        "    for _ in d:\n        pass\n"
    )
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    assert [(d.name, d.how) for d in none_dereferences(fn)] == [
        ("a", "indexing"),
        ("b", "unpacking"),
        ("c", "comparison"),
        ("d", "iteration"),
    ]


def test_an_optional_annotation_with_another_default_holds_the_default() -> None:
    fn = ast.parse("def f(x, n: Optional[int] = 4, m: Optional[int] = None):\n    return x * n, x * m\n").body[0]
    assert isinstance(fn, ast.FunctionDef)
    assert [d.name for d in none_dereferences(fn)] == ["m"]
