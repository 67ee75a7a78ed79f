"""Source positions: where in the file an `ast` node is, and what an operator proposes to change there.

`ast` gives 1-based lines and UTF-8 byte columns; edits are made on the text, so every position is turned
into a character offset here, once, and operators only ever see offsets and nodes.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterator, Optional


class Source:
    """A file's text with conversions from `ast` positions (1-based lines, UTF-8 byte columns) to offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode()[:col].decode())

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]  # stmt/expr nodes only
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]  # (same)
        return start, end

    def seg(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line_of(self, offset: int) -> int:
        """1-based line holding `offset`."""
        lo, hi = 0, len(self.lines)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.starts[mid + 1] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return lo + 1

    def line_span(self, first: int, last: int) -> tuple[int, int]:
        """Offsets of lines first..last (1-based, inclusive), without the final newline."""
        end = self.starts[last]
        if self.text[:end].endswith("\n"):
            end -= 1
        return self.starts[first - 1], end


@dataclasses.dataclass(frozen=True)
class Site:
    """What an operator proposes: replace text[start:end] by `text`; `node` gives the reported position."""

    node: ast.AST
    start: int
    end: int
    text: str
    variant: str = ""
    display: Optional[tuple[str, str]] = None  # (before, after) when the changed lines are too long to show


class Function:
    """The function under mutation with what operators need to know about it."""

    def __init__(self, source: Source, tree: ast.Module, node: ast.FunctionDef) -> None:
        self.src, self.node = source, node
        self.tl = _triton_language_aliases(tree)
        args = node.args
        self.params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        self.body_start = self.src.offset(node.body[0].lineno, node.body[0].col_offset)
        self.body_end = self.src.offset(node.end_lineno, node.end_col_offset)  # type: ignore[arg-type]  # set by ast.parse

    def nodes(self) -> list[ast.AST]:
        """Every node of the body, in source order."""
        found = [n for stmt in self.node.body for n in ast.walk(stmt) if hasattr(n, "lineno")]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))  # type: ignore[attr-defined]  # positioned nodes: filtered above

    def is_tl(self, node: ast.AST, *names: str) -> bool:
        """`node` is `tl.<name>` for one of `names` (tl = any alias of triton.language in the file)."""
        return (
            isinstance(node, ast.Attribute)
            and node.attr in names
            and isinstance(node.value, ast.Name)
            and node.value.id in self.tl
        )

    def tl_calls(self, *names: str) -> Iterator[ast.Call]:
        for n in self.nodes():
            if isinstance(n, ast.Call) and self.is_tl(n.func, *names):
                yield n


def _triton_language_aliases(tree: ast.Module) -> set[str]:
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found |= {a.asname or a.name for a in n.names if a.name == "triton.language" and a.asname}
        elif isinstance(n, ast.ImportFrom) and n.module == "triton":
            found |= {a.asname or a.name for a in n.names if a.name == "language"}
    return found or {"tl"}


_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)


def operand(text: str, node: ast.AST) -> str:
    """`text` safe to splice where an operand of an arithmetic operator or an attribute's object goes
    (an int literal too: `0.to(...)` does not parse)."""
    integer = isinstance(node, ast.Constant) and type(node.value) is int
    return text if isinstance(node, _ATOMS) and not integer else f"({text})"


def replace_node(f: Function, node: ast.AST, text: str, variant: str = "") -> Site:
    start, end = f.src.span(node)
    return Site(node, start, end, text, variant)
