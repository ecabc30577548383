"""publisher_hwm (issue 18): the XPUB's one SNDHWM, from a byte budget per subscriber
and the largest KVMSG the server can publish (docs/protocols.md §6.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cores.clone_pacing import MAX_HWM, MIN_HWM, publisher_hwm
from raspy.protocol import clone

BUDGET = 8 * 1024 * 1024


def test_the_default_limits_give_a_queue_of_over_a_hundred_of_the_largest_updates() -> (
    None
):
    largest = clone.max_kvmsg_bytes(255, 64 * 1024)
    assert largest == 255 + 8 + 16 + 4096 + 64 * 1024  # key, seq, uuid, props, body
    assert publisher_hwm(BUDGET, largest) == 119


@given(
    budget=st.integers(min_value=1, max_value=2**40),
    largest=st.integers(min_value=1, max_value=2**30),
)
def test_the_queue_holds_the_budget_unless_the_floor_or_ceiling_binds(
    budget: int, largest: int
) -> None:
    hwm = publisher_hwm(budget, largest)
    assert MIN_HWM <= hwm <= MAX_HWM
    if hwm > MIN_HWM:
        assert hwm * largest <= budget  # full of the largest: still within budget
    if hwm < MAX_HWM:
        assert (hwm + 1) * largest > budget or hwm == MIN_HWM  # no room left unused


def test_a_message_larger_than_the_budget_still_leaves_a_minimal_queue() -> None:
    assert publisher_hwm(64 * 1024, 10**9) == MIN_HWM


@pytest.mark.parametrize(
    ("budget", "largest", "message"),
    [
        (0, 100, "budget_bytes must be > 0, got 0"),
        (100, 0, "largest_message_bytes must be > 0, got 0"),
    ],
)
def test_a_budget_or_a_size_of_nothing_is_refused(
    budget: int, largest: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        publisher_hwm(budget, largest)
