"""Whose code failed: turn an exception from a user's reference, input builder or strategy into one line.

A property run executes code shapecheck did not write in several roles. Only the kernel under test failing
is a finding; anything else failing (a typo in a builder, an exception in a reference, a strategy that
raises) is an error (exit 2), reported as one line naming the role, plus the user's own frame
(`file:line: code`) so the fix is one click away. `--traceback` shows the whole stack.
"""

from __future__ import annotations

import linecache
import sysconfig
import traceback
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from shapecheck.errors import Abort, InvalidContract, UsageError

T = TypeVar("T")

_OURS = Path(__file__).resolve().parent
_LIBRARIES = tuple(
    Path(p).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_paths().get(key))
)


def _is_library(path: Path) -> bool:
    return any(path.is_relative_to(root) for root in (_OURS, *_LIBRARIES))


def _format(frame: traceback.FrameSummary) -> str:
    code = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return f"{frame.filename}:{frame.lineno}: {code}"


def user_frame(error: BaseException) -> Optional[str]:
    """`file:line: code` of the innermost frame outside shapecheck, the standard library and installed
    packages: the user's own code, if it is on the stack at all."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith("<") and not _is_library(Path(f.filename).resolve())
    ]
    return _format(frames[-1]) if frames else None


def _own_frame(error: BaseException) -> Optional[str]:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve().is_relative_to(_OURS)]
    return _format(frames[-1]) if frames else None


def describe(role: str, error: BaseException, *, verb: str = " raised ") -> str:
    """`ROLE raised TYPE: first line of the message` plus `  at FILE:LINE: CODE` (the user's frame; failing
    that, shapecheck's own, and then it says it is an internal error)."""
    if isinstance(error, (InvalidContract, UsageError)):  # shapecheck refusing the user's contract or options: its
        return str(error).strip()  # message names the contract and argument; no frame of ours to blame
    text = str(error).strip().splitlines()
    message = f"{type(error).__name__}" + (f": {text[0]}" if text else "")
    if (where := user_frame(error)) is not None or isinstance(error, ImportError):
        return f"{role}{verb}{message}" + (f"\n  at {where}" if where else "")
    own = _own_frame(error)
    return f"internal error in shapecheck while running {role}: {message}" + (f"\n  at {own}" if own else "")


def calling(role: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, with any exception turned into an `Abort` naming `role` and the user's frame."""
    try:
        return fn(*args, **kwargs)
    except Exception as error:  # whatever user code raises is reported, never swallowed
        if error.__traceback__ is not None and error.__traceback__.tb_next is None:  # raised by the call itself
            raise Abort(
                f"{role} cannot be called with these arguments: {type(error).__name__}: {error}", error
            ) from error
        raise Abort(describe(role, error), error) from error


def not_a_finding(role: str, error: Exception) -> None:
    """Raise `Abort` when the kernel under test failed for a reason outside it: a module it imports is missing
    (the environment's problem, the same on every case: a finding would send its author after a bug that is not
    in the kernel). Any other exception is the caller's finding."""
    if isinstance(error, ImportError):
        raise Abort(
            describe(role, error) + "\n  (a missing module is the environment's, not a finding: install it)", error
        ) from error


def defined_at(fn: Callable[..., Any]) -> Optional[str]:
    """`file:line: code` of where `fn` is defined: the frame to show for a function that returned something
    wrong (it raised nothing, so no frame of its own is on a stack)."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_filename.startswith("<"):
        return None
    return _format(traceback.FrameSummary(code.co_filename, code.co_firstlineno, code.co_name))
