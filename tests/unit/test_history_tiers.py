"""Tier parsing ("STEP:SPAN") and the round-robin slot arithmetic."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.history.tiers import (
    MAX_SLOTS,
    Tier,
    format_duration,
    max_rows,
    parse_duration,
    parse_tiers,
)


def test_the_default_tiers_parse_to_raw_then_buckets_with_known_slots() -> None:
    tiers = parse_tiers(("10s:48h", "5m:30d", "1h:5y"))
    assert tiers == (
        Tier(10, 48 * 3600, raw=True),
        Tier(300, 30 * 86400, raw=False),
        Tier(3600, 5 * 365 * 86400, raw=False),
    )
    assert [t.slots for t in tiers] == [17280, 8640, 43800]
    assert max_rows(tiers) == 69720
    assert [t.name for t in tiers] == ["10s", "5m", "1h"]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ((), "expected 1 to 8 tiers, got 0"),
        (("10s",), 'tier 1: expected STEP:SPAN like 10s:48h, got "10s"'),
        (("10x:48h",), 'tier 1: expected a duration like 10s, 5m, 48h, 30d, 5y, got "10x"'),
        (("0s:48h",), 'tier 1: expected a duration like 10s, 5m, 48h, 30d, 5y, got "0s"'),
        (("7s:1m",), "tier 1: span 1m is not a multiple (>= 2) of the step"),
        (("1m:1m",), "tier 1: span 1m is not a multiple (>= 2) of the step"),
        (("1s:5y",), "tier 1: 157680000 slots (over 200000): use a longer step"),
        (("2y:10y",), "tier 1: step 2y over a year"),
        (
            ("10s:48h", "5m:24h"),
            'tier 2: "5m:24h" must have a longer step and span than "10s:48h"',
        ),
        (
            ("10s:48h", "10s:96h"),
            'tier 2: "10s:96h" must have a longer step and span than "10s:48h"',
        ),
    ],
    ids=["none", "no-span", "bad-unit", "zero", "not-multiple", "one-slot", "too-many",
         "step-too-long", "shorter-span", "same-step"],
)  # fmt: skip
def test_bad_tiers_are_refused_naming_the_tier(
    specs: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_tiers(specs)


def test_a_slot_is_the_step_index_modulo_the_slot_count() -> None:
    tier = Tier(300, 3000, raw=False)  # 10 slots
    assert [tier.slot_of(t) for t in (0, 299, 300, 2999, 3000, 3299, 3300)] == [
        0, 0, 1, 9, 0, 0, 1,
    ]  # fmt: skip
    assert tier.start_of(3299.9) == 3000
    assert tier.oldest_start(3299.9) == 3000 - 9 * 300


def test_durations_read_and_write_back() -> None:
    assert [parse_duration(t) for t in ("10s", "5m", "48h", "30d", "2w", "5y")] == [
        10, 300, 172800, 2592000, 1209600, 157680000,
    ]  # fmt: skip
    assert [format_duration(s) for s in (10, 300, 90, 7200, 86400, 604800)] == [
        "10s", "5m", "90s", "2h", "1d", "1w",
    ]  # fmt: skip


@given(st.lists(st.text(max_size=12), max_size=10))
def test_any_tier_list_parses_or_is_refused_with_a_value_error(
    specs: list[str],
) -> None:
    try:
        tiers = parse_tiers(specs)
    except ValueError as exc:
        message = str(exc)
        tiers = ()
    else:
        message = ""
    assert bool(message) != bool(tiers)
    if not tiers:
        return
    assert tiers[0].raw
    assert all(t.slots <= MAX_SLOTS for t in tiers)


_SPEC = st.builds(
    "{}{}:{}{}".format,
    st.integers(1, 99),
    st.sampled_from("smhd"),
    st.integers(1, 999),
    st.sampled_from("smhdwy"),
)


@given(st.lists(_SPEC, min_size=1, max_size=8))
def test_well_formed_tier_lists_parse_or_name_the_tier_that_is_wrong(
    specs: list[str],
) -> None:
    try:
        tiers = parse_tiers(specs)
    except ValueError as exc:
        message = str(exc)
        tiers = ()
    else:
        message = "tier "
    assert message.startswith("tier ")
    if not tiers:
        return
    steps = [t.step_s for t in tiers]
    assert steps == sorted(set(steps))
    assert [format_duration(t.step_s) for t in tiers] == [t.name for t in tiers]
    assert all(parse_duration(t.name) == t.step_s for t in tiers)
