"""Strategies drawn from contracts: every draw satisfies the contract, overrides pin what they name."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning

from shapecheck import strategies
from shapecheck.contracts.gdn import GDN_DECODE
from shapecheck.contracts.gdn_cases import EXAMPLES, cases
from shapecheck.markers import Index, Offsets
from shapecheck.profiles import PROFILES
from tests.cli_helpers import shapecheck
from tests.fixtures.user_kernel import ROW_SCALE

CI = PROFILES["ci"]


@given(st.data())
def test_offsets_cover_every_token(data: st.DataObject) -> None:
    total, parts = data.draw(st.integers(0, 20)), data.draw(st.integers(1, 6))
    cu = data.draw(Offsets("T").strategy(total, parts))
    assert len(cu) == parts + 1 and cu[0] == 0 and cu[-1] == total
    assert all(a <= b for a, b in zip(cu, cu[1:]))


def test_offsets_draw_empty_and_full_segments_often() -> None:
    """Empty segments (a zero length to divide by) and all-full partitions (every bound exercised) both
    appear in a good share of draws: measured 44% and 56% of 2000 draws at 12 tokens in 4 segments."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        draws = [Offsets("T").strategy(12, 4).example() for _ in range(200)]
    empty = sum(any(a == b for a, b in zip(cu, cu[1:])) for cu in draws)
    assert 60 <= empty <= 180, empty


@given(st.data())
def test_distinct_indices_with_padding(data: st.DataObject) -> None:
    slots = data.draw(st.integers(1, 8))
    n = data.draw(st.integers(1, slots + 3))
    idx = data.draw(Index("S", padding=-1, distinct=True).strategy(n, slots))
    real = [i for i in idx if i >= 0]
    assert len(idx) == n and len(set(real)) == len(real) and all(-1 <= i < slots for i in idx)


@given(st.data())
def test_indices_without_padding_stay_in_range(data: st.DataObject) -> None:
    slots, n = data.draw(st.integers(1, 8)), data.draw(st.integers(0, 10))
    idx = data.draw(Index("S").strategy(n, slots))
    assert len(idx) == n and all(0 <= i < slots for i in idx)


@settings(max_examples=200, deadline=None)
@given(cases(CI))
def test_every_drawn_case_builds_a_call_the_contract_accepts(case) -> None:  # type: ignore[no-untyped-def]
    call = GDN_DECODE.validate(GDN_DECODE.resolve("inputs")(case, "cpu"))
    assert call.dims["HV"] % call.dims["H"] == 0 and call.dims["N"] == case.dims["N"]


@settings(max_examples=50, deadline=None)
@given(strategies.cases(ROW_SCALE, profile=CI, overrides={"D": st.just(33)}))
def test_user_contract_gets_strategies_with_overrides(case) -> None:  # type: ignore[no-untyped-def]
    assert case.dims["D"] == 33 and 1 <= case.dims["B"] <= ROW_SCALE.dims["B"].hi


@pytest.mark.slow  # the CLI in fresh processes
def test_pins_from_the_command_line(tmp_path: Path) -> None:
    result = shapecheck(
        "run",
        "fused",
        "--examples",
        "5",
        "--no-db",
        "--pin",
        "K=7",
        "--pin",
        "layout=vk",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = json.loads((tmp_path / "r.json").read_text())["contracts"][0]["outcomes"]
    drawn = [o["case"] for o in outcomes if o["label"] is None]
    regime = [o["case"] for o in outcomes if o["label"] is not None]
    assert len(drawn) >= 5 and len(regime) >= len(EXAMPLES) - 3  # examples the pins make invalid are dropped
    # pins reach every case, the regime examples too
    assert all(c["dims"]["K"] == 7 and c["options"]["layout"] == "vk" for c in drawn + regime)
    bad = shapecheck("run", "--pin", "K")
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr
    unknown = shapecheck("run", "fused", "--pin", "KK=7")
    assert unknown.returncode == 2 and "--pin KK" in unknown.stderr and "no dimension" in unknown.stderr
