"""Profiles are frozen: `PROFILES` is read-only, and `register_profile` adds one, checked when registered."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import shapecheck
from shapecheck import profiles
from shapecheck.profiles import PROFILES, Profile, named, register_profile


@pytest.fixture(autouse=True)
def _forget_registrations() -> Iterator[None]:
    before = dict(PROFILES)
    yield
    for name in set(PROFILES) - set(before):
        profiles._registered.pop(name)


def test_the_built_in_profiles_are_read_only() -> None:
    assert list(PROFILES) == ["ci", "gpu", "thorough"]
    assert PROFILES["ci"] == Profile("ci", max_examples=60, large=False)
    with pytest.raises(TypeError):
        PROFILES["ci"] = Profile("ci", max_examples=1, large=False)  # type: ignore[index]
    with pytest.raises(TypeError):
        del PROFILES["gpu"]  # type: ignore[attr-defined]
    assert shapecheck.PROFILES is PROFILES and shapecheck.register_profile is register_profile


def test_a_registered_profile_takes_its_parents_values_with_the_changes() -> None:
    nightly = register_profile("nightly", parent="gpu", max_examples=5000)
    assert nightly == Profile(
        "nightly", max_examples=5000, large=True, timeout_s=60.0, settle_s=0.02, max_compiles=24, check_every=8
    )
    assert PROFILES["nightly"] is nightly is named("nightly")
    assert register_profile("quick") == Profile("quick", max_examples=60, large=False)  # the parent is `ci`
    assert register_profile("quicker", parent=PROFILES["quick"], max_examples=5).max_examples == 5
    assert register_profile("nightly", parent="ci", timeout_s=30).timeout_s == 30  # registering again replaces
    assert PROFILES["nightly"].large is False
    assert list(PROFILES)[:3] == ["ci", "gpu", "thorough"]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("", {}, "register_profile: `name` must be a non-empty string without spaces, found ''"),
        ("my run", {}, "register_profile: `name` must be a non-empty string without spaces, found 'my run'"),
        (
            "ci",
            {"max_examples": 10},
            "register_profile: 'ci' is a built-in profile and cannot be replaced; choose "
            "another name (with parent='ci' to start from it)",
        ),
        (
            "x",
            {"parent": "nope"},
            "register_profile: `parent` must be a Profile or one of ci, gpu, thorough, found 'nope'",
        ),
        (
            "x",
            {"max_exampels": 10},
            "register_profile: unknown setting max_exampels; a profile has max_examples, "
            "large, timeout_s, settle_s, max_compiles, check_every",
        ),
        (
            "x",
            {"name": "y"},
            "register_profile: unknown setting name; a profile has max_examples, large, timeout_s, "
            "settle_s, max_compiles, check_every",
        ),
        ("x", {"max_examples": 0}, "register_profile: `max_examples` must be an int >= 1, found 0"),
        ("x", {"max_examples": 10.0}, "register_profile: `max_examples` must be an int >= 1, found 10.0"),
        ("x", {"max_examples": True}, "register_profile: `max_examples` must be an int >= 1, found True"),
        ("x", {"large": 1}, "register_profile: `large` must be True or False, found 1"),
        ("x", {"timeout_s": 0}, "register_profile: `timeout_s` must be a finite number > 0, found 0"),
        ("x", {"settle_s": -0.1}, "register_profile: `settle_s` must be a finite number >= 0, found -0.1"),
        ("x", {"settle_s": float("nan")}, "register_profile: `settle_s` must be a finite number >= 0, found nan"),
        ("x", {"max_compiles": -1}, "register_profile: `max_compiles` must be an int >= 0, found -1"),
    ],
)
def test_a_mistake_is_refused_when_registered(name: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        register_profile(name, **options)
    assert str(raised.value) == message
    assert list(PROFILES) == ["ci", "gpu", "thorough"]


def test_the_parent_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        register_profile("x", "ci")  # type: ignore[misc]
