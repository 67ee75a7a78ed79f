"""README examples are run, so the copy-paste examples keep working."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import shapecheck

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_decorator_example_raises_the_documented_message() -> None:
    code = re.search(r"### 1\. A decorator on your kernel\n\n```python\n(.*?)```", README, re.S).group(1)
    documented = [line.removeprefix("# ").strip() for line in code.splitlines() if line.startswith("# ")]
    with pytest.raises(shapecheck.ContractViolation) as info:
        exec(compile(code, "README.md", "exec"), {})
    message = str(info.value)
    assert documented[0].removeprefix("ContractViolation: ") in message
    for line in documented[1:]:
        assert line in message, f"{line!r} not in {message!r}"


def test_setup_block_has_the_two_commands_ci_runs() -> None:
    assert re.search(r"^# install\n.+\n# test\n.+$", README, re.M)


def test_differentiable_contract_example_finds_the_dropped_chain_rule_term() -> None:
    code = re.search(r"### Training kernels: a differentiable contract\n.*?```python\n(.*?)```", README, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
