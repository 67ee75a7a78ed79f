"""The audited libraries, loaded from their wheels in `$PEERS` (default `.peers/`) at run time, never committed.

    pip download --no-deps liger-kernel==0.8.5 -d .peers
    pip download --no-deps fla-core==0.6.0 -d .peers      # fla also needs einops installed

A wheel is extracted once into `$PEERS/<name>/` and that folder put first on `sys.path`. A missing wheel is
an environment error (`MissingPeer`, a `UsageError`: exit 2 with one line), never a finding.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType

from shapecheck.errors import UsageError

LIBRARIES = {"liger": ("liger_kernel-*.whl", "liger_kernel/", "liger_kernel"), "fla": ("fla_core-*.whl", "fla/", "fla")}
VERSIONS = {"liger": "liger-kernel 0.8.5", "fla": "fla-core 0.6.0"}


class MissingPeer(UsageError):
    """The wheel of an audited library is not in $PEERS."""


def peers_dir() -> Path:
    return Path(os.environ.get("PEERS", ".peers"))


def wheel(library: str) -> Path | None:
    """The library's wheel in $PEERS, or None."""
    found = sorted(peers_dir().glob(LIBRARIES[library][0]))
    return found[-1] if found else None


@functools.lru_cache(maxsize=None)
def root(library: str) -> Path:
    """The folder the library's wheel is extracted to, on sys.path (extracted on first use)."""
    pattern, prefix, _ = LIBRARIES[library]
    found = wheel(library)
    if found is None:
        raise MissingPeer(
            f"{library}: no {pattern} in {peers_dir()} (pip download --no-deps "
            f"{VERSIONS[library].replace(' ', '==')} -d {peers_dir()})"
        )
    target = peers_dir() / found.name.removesuffix(".whl")
    if not (target / prefix).is_dir():
        with zipfile.ZipFile(found) as z:
            z.extractall(target, [m for m in z.namelist() if m.startswith(prefix)])
    if str(target.resolve()) not in sys.path:
        sys.path.insert(0, str(target.resolve()))
    return target


def load(library: str, module: str) -> ModuleType:
    """`module` (a dotted name inside the library) imported from the extracted wheel."""
    root(library)
    return importlib.import_module(module)
