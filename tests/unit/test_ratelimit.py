"""raspy.ratelimit: bad input is counted every time but logged once per key per minute."""

from __future__ import annotations

from raspy.ratelimit import LogRateLimiter


def test_first_event_of_a_key_logs_then_not_again_within_the_window() -> None:
    limiter = LogRateLimiter(window_s=60.0)
    assert limiter.should_log(("peer", "short"), 100.0)
    assert not limiter.should_log(("peer", "short"), 159.9)
    assert limiter.should_log(("other", "short"), 120.0)
    assert limiter.should_log(("peer", "short"), 160.0)


def test_the_number_of_remembered_keys_is_bounded() -> None:
    limiter = LogRateLimiter(window_s=60.0, max_keys=2)
    assert limiter.should_log("a", 0.0)
    assert limiter.should_log("b", 0.0)
    assert limiter.should_log("c", 0.0)
    assert limiter.should_log("a", 1.0)  # forgotten, so it logs again
