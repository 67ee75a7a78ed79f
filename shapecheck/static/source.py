"""A parsed Python module: its functions, its imports (to name what a call refers to), its constants.

Nothing is imported or executed: `torch.empty` is recognised because the module says `import torch`, and
a Triton kernel because it is decorated with something ending in `jit`.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import tokenize
from pathlib import Path
from typing import Iterator, Optional, Union

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking inside `if`/`try` blocks (TYPE_CHECKING imports, fallbacks)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _top_level(stmt.body + stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _top_level(stmt.body + stmt.orelse + stmt.finalbody + [s for h in stmt.handlers for s in h.body])


def dotted(node: ast.expr) -> str:
    """`a.b.c` of a name, attribute chain or call of one; empty for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return dotted(node.func)
    return ""


def is_kernel(fn: FunctionNode) -> bool:
    """A `@triton.jit` function (`@jit`, `@triton.jit(...)`, under `@triton.autotune` too)."""
    return any(dotted(d).split(".")[-1] == "jit" for d in fn.decorator_list)


def import_bindings(stmt: Union[ast.Import, ast.ImportFrom]) -> list[tuple[str, str]]:
    """(local name, qualified name) pairs an import statement binds."""
    if isinstance(stmt, ast.Import):
        return [(a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]) for a in stmt.names]
    module = "." * stmt.level + (stmt.module or "")
    return [(a.asname or a.name, f"{module}.{a.name}" if module else a.name) for a in stmt.names]


@dataclasses.dataclass(eq=False)
class ModuleSource:
    """One parsed file."""

    path: str
    text: str
    tree: ast.Module
    imports: dict[str, str]
    functions: dict[str, FunctionNode]
    constants: dict[str, ast.expr]
    classes: dict[str, ast.ClassDef]

    @classmethod
    def parse(cls, text: str, path: str = "<string>") -> "ModuleSource":
        """Parse `text`; raises SyntaxError (or ValueError for null bytes) when it is not Python."""
        tree = ast.parse(text, filename=path)
        imports: dict[str, str] = {}
        functions: dict[str, FunctionNode] = {}
        constants: dict[str, ast.expr] = {}
        classes: dict[str, ast.ClassDef] = {}
        for stmt in _top_level(tree.body):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                imports.update(import_bindings(stmt))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[stmt.name] = stmt
            elif isinstance(stmt, ast.ClassDef):
                classes[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                constants[stmt.targets[0].id] = stmt.value
        return cls(path, text, tree, imports, functions, constants, classes)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "ModuleSource":
        """Read and parse a file."""
        return cls.from_bytes(Path(path).read_bytes(), str(path))

    @classmethod
    def from_bytes(cls, raw: bytes, path: str) -> "ModuleSource":
        """Parse a file's bytes, honouring its encoding cookie."""
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        return cls.parse(raw.decode(encoding, errors="replace"), path)

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def definitions(self) -> Iterator[tuple[str, FunctionNode]]:
        """Every function with its qualified name: `f`, `Class.method`, `outer.inner`."""

        def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, FunctionNode]]:
            for stmt in body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield prefix + stmt.name, stmt
                    yield from walk(stmt.body, f"{prefix}{stmt.name}.")
                elif isinstance(stmt, ast.ClassDef):
                    yield from walk(stmt.body, f"{prefix}{stmt.name}.")
                elif isinstance(stmt, (ast.If, ast.Try, ast.With)):
                    nested = [getattr(stmt, f, []) for f in ("body", "orelse", "finalbody")]
                    nested += [h.body for h in getattr(stmt, "handlers", [])]
                    yield from walk([s for block in nested for s in block], prefix)

        return walk(self.tree.body, "")

    def find(self, qualname: str) -> Optional[FunctionNode]:
        return next((fn for name, fn in self.definitions() if name == qualname), None)

    def text_of(self, node: ast.AST, limit: int = 72) -> str:
        """The source of `node` on one line (whitespace runs collapsed), shortened to `limit` characters."""
        segment = ast.get_source_segment(self.text, node) or ast.unparse(node)
        flat = " ".join(segment.split())
        return flat if len(flat) <= limit else flat[: limit - 3] + "..."
