"""The `shapecheck` command line.

Exit codes follow the linters users already script against: 0 = every contract held / no finding,
1 = a contract was violated / a finding, 2 = usage or environment error (one clear line, no traceback).
Heavy imports (torch, triton, kernels) happen inside the commands: `TRITON_INTERPRET` must be decided
before any `@triton.jit` function is defined, and `--help` should stay instant.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="shapecheck",
    help="Prove that GPU kernels keep their shape contracts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# --- commands are registered below, one block each -------------------------------------------

if __name__ == "__main__":
    app()
