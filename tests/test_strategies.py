"""Strategies drawn from contracts: every draw satisfies the contract, overrides pin what they name."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import EXAMPLES, cases
from shapecheck import strategies
from shapecheck.profiles import PROFILES
from tests.cli_helpers import shapecheck
from tests.fixtures.user_kernel import ROW_SCALE

CI = PROFILES["ci"]


@given(st.data())
def test_partitions_cover_every_token(data: st.DataObject) -> None:
    total, parts = data.draw(st.integers(0, 20)), data.draw(st.integers(1, 6))
    cu = data.draw(strategies.partitions(total, parts))
    assert len(cu) == parts + 1 and cu[0] == 0 and cu[-1] == total
    assert all(a <= b for a, b in zip(cu, cu[1:]))


@given(st.data())
def test_slot_indices_are_distinct_or_padding(data: st.DataObject) -> None:
    slots = data.draw(st.integers(1, 8))
    n = data.draw(st.integers(1, slots))
    idx = data.draw(strategies.slot_indices(n, slots))
    real = [i for i in idx if i >= 0]
    assert len(idx) == n and len(set(real)) == len(real) and all(-1 <= i < slots for i in idx)


@settings(max_examples=200, deadline=None)
@given(cases(CI))
def test_every_drawn_case_builds_a_call_the_contract_accepts(case) -> None:  # type: ignore[no-untyped-def]
    call = GDN_DECODE.validate(GDN_DECODE.resolve("inputs")(case, "cpu"))
    assert call.dims["HV"] % call.dims["H"] == 0 and call.dims["N"] == case.dims["N"]


@settings(max_examples=50, deadline=None)
@given(strategies.cases(ROW_SCALE, CI, {"D": st.just(33)}))
def test_user_contract_gets_strategies_with_overrides(case) -> None:  # type: ignore[no-untyped-def]
    assert case.dims["D"] == 33 and 1 <= case.dims["B"] <= ROW_SCALE.dims["B"].hi


def test_pins_from_the_command_line(tmp_path: Path) -> None:
    result = shapecheck("run", "--examples", "5", "--no-db", "--pin", "K=7", "--pin", "layout=vk",
                        "--junit", str(tmp_path / "r.xml"))
    assert result.returncode == 0, result.stdout + result.stderr
    names = [case.get("name") for case in ET.parse(tmp_path / "r.xml").iter("testcase")]
    drawn = [json.loads(name.split(": ", 1)[1]) for name in names[: len(names) - len(EXAMPLES)]]
    assert len(drawn) >= 5
    assert all(c["dims"]["K"] == 7 and c["options"]["layout"] == "vk" for c in drawn)
    bad = shapecheck("run", "--pin", "K")
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr
