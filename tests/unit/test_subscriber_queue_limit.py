"""SubscriberQueueLimit (issue 18): the XPUB's SNDHWM from a byte budget per subscriber."""

from __future__ import annotations

import pytest

from raspy.actors.clone.publisher import (
    MAX_HWM,
    MIN_HWM,
    SIZE_WINDOW_S,
    SubscriberQueueLimit,
)

BUDGET = 8 * 1024 * 1024


def test_small_messages_get_the_generous_count_and_big_ones_lower_it_at_once() -> None:
    limit = SubscriberQueueLimit(BUDGET, now=0.0)
    assert (limit.hwm, limit.on_message(64, 0.0)) == (MAX_HWM, None)
    assert limit.on_message(16 * 1024, 1.0) == BUDGET // (16 * 1024)
    assert limit.on_message(64, 2.0) is None  # still the largest seen lately


def test_the_limit_rises_again_only_after_a_whole_window_without_big_messages() -> None:
    limit = SubscriberQueueLimit(BUDGET, now=0.0)
    limit.on_message(64 * 1024, 1.0)
    assert limit.on_message(64, 1.0 + SIZE_WINDOW_S) is None  # the window before
    assert limit.on_message(64, 1.0 + 2 * SIZE_WINDOW_S) == MAX_HWM


def test_a_message_larger_than_the_budget_still_leaves_a_minimal_queue() -> None:
    limit = SubscriberQueueLimit(64 * 1024, now=0.0)
    assert limit.on_message(1024 * 1024, 0.0) == MIN_HWM
    assert limit.hwm_for_largest(10**9) == MIN_HWM


def test_a_budget_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="budget_bytes must be > 0, got 0"):
        SubscriberQueueLimit(0, now=0.0)
