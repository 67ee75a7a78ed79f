"""The exceptions shapecheck raises, so callers catch one family and messages stay uniform."""

from __future__ import annotations


class UsageError(Exception):
    """Bad CLI input or environment (unknown contract, `--device cuda` without a GPU): exit code 2."""
