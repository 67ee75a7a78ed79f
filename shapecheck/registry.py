"""Finding contracts and implementations by name, with one clear error line when a name is wrong.

A contract is known once the module defining it is imported. Modules are imported from, in order:
the bundled example (`shapecheck.contracts`), the entry-point group `shapecheck.contracts` of installed
packages, `contracts = [...]` under `[tool.shapecheck]` in the current directory's `pyproject.toml`,
each `--contracts MODULE`, and the module of `--impl`; contracts applied with `@shapecheck.contract` are
known too. The current directory is importable (like pytest's rootdir), so `--impl mypkg.ops:fn` works
from a project's root without installing it.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

from shapecheck import blame, config
from shapecheck.errors import UsageError
from shapecheck.patching import load_file
from shapecheck.spec import Contract

BUNDLED = "shapecheck.contracts"
ENTRY_POINTS = "shapecheck.contracts"
_APPLIED: dict[str, Contract] = {}  # by qualified name: the contracts `@shapecheck.contract` was applied with


def register(c: Contract) -> None:
    """Make `c` known; the decorator registers every contract it is applied with."""
    _APPLIED[c.qualname] = c


def importable_cwd() -> None:
    """Put the current directory first on sys.path, as `python -m` and pytest's rootdir do."""
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def _import(name: str, why: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - the user's module failing to import is one line, with its frame
        raise UsageError(blame.describe(f"{why}: cannot import {name}", exc, verb=": ")) from None


def _contracts_in(module: ModuleType) -> list[Contract]:
    return [v for v in vars(module).values() if isinstance(v, Contract)]


def _bundled() -> Iterable[Contract]:
    root = importlib.import_module(BUNDLED)
    for info in pkgutil.iter_modules(root.__path__):
        yield from _contracts_in(importlib.import_module(f"{BUNDLED}.{info.name}"))


def _entry_points() -> Iterable[Contract]:
    for point in entry_points(group=ENTRY_POINTS):
        try:
            value = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is named, not a traceback
            raise UsageError(
                blame.describe(f"entry point {point.name} = {point.value} ({ENTRY_POINTS})", exc)
            ) from None
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            yield from (
                _contracts_in(item) if isinstance(item, ModuleType) else [item] if isinstance(item, Contract) else []
            )


def contracts(modules: Sequence[str] = (), *, extra: Iterable[Contract] = ()) -> dict[str, Contract]:
    """Every known contract by qualified name (`module:name`, `Contract.qualname`): bundled, entry points,
    pyproject, `modules`, `extra`, decorated ones. Short names may repeat across packages (a user's
    `segment_mean` beside the bundled one); within one module they must not."""
    importable_cwd()
    found: dict[str, Contract] = {}
    sources: list[Iterable[Contract]] = [_bundled(), _entry_points()]
    sources += [_contracts_in(_import(m, "[tool.shapecheck] contracts")) for m in config.contract_modules()]
    sources += [_contracts_in(_import(m, "--contracts")) for m in modules]
    for c in [*(c for source in sources for c in source), *extra, *_APPLIED.values()]:
        if c.qualname in found and found[c.qualname] is not c and found[c.qualname] != c:
            raise UsageError(f"two different contracts are named {c.qualname!r}; names must be unique within a module")
        found[c.qualname] = c
    return found


def contract(name: str, known: dict[str, Contract], *, prefer: Contract | None = None) -> Contract:
    """A contract by qualified name, short name, or unique prefix of either. A short name two packages use
    is an error listing both, unless one is `prefer` (the contract the `--impl` carries)."""
    if name in known:
        return known[name]
    for matches in (
        [c for c in known.values() if c.name == name],
        [c for q, c in known.items() if q.startswith(name) or c.name.startswith(name)],
    ):
        if prefer is not None and prefer in matches:
            return prefer
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(
                f"contract name {name!r} is ambiguous: {', '.join(sorted(c.qualname for c in matches))}; "
                "name one by its qualified name"
            )
    raise UsageError(
        f"unknown contract {name!r}; known: {', '.join(sorted(known)) or '(none)'} "
        "(name a module defining it with --contracts, or in [tool.shapecheck] contracts of pyproject.toml)"
    )


def _package_import(path: Path) -> ModuleType:
    """Import a file that lives inside a package as `package.module`, so its relative imports work."""
    path = path.resolve()
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1:
        return load_file(path)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(".".join(parts))


def implementation_module(target: str) -> tuple[ModuleType, str]:
    """The module of `module.path:function` or `path/to/file.py:function`, and the function's name."""
    importable_cwd()
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--impl must look like module.path:function or path/to/file.py:function, found {target!r}")
    try:
        if module_name.endswith(".py"):
            if not Path(module_name).is_file():
                raise UsageError(f"--impl {target}: no file {module_name}")
            module = _package_import(Path(module_name))
        else:
            module = importlib.import_module(module_name)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix; say which, with the frame
        raise UsageError(blame.describe(f"--impl {target}: cannot import {module_name}", exc, verb=": ")) from None
    return module, attr


def _resolve(target: str) -> tuple[ModuleType, Callable[..., Any]]:
    module, attr = implementation_module(target)
    try:
        fn = getattr(module, attr, None)
    except Exception as exc:  # noqa: BLE001 - a module-level __getattr__ may fail; say so in one line
        raise UsageError(f"--impl {target}: looking up {attr!r} failed: {type(exc).__name__}: {exc}") from None
    if not callable(fn):
        raise UsageError(f"--impl {target}: {module.__name__} has no function {attr!r}")
    return module, fn


def implementation(target: str) -> Callable[..., Any]:
    """Import `module.path:function` or `path/to/file.py:function`."""
    return _resolve(target)[1]


def implementation_and_contracts(target: str) -> tuple[Callable[..., Any], list[Contract]]:
    """The `--impl` function and the contracts its module defines (known once it is imported)."""
    module, fn = _resolve(target)
    return fn, _contracts_in(module)
