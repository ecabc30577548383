"""The one backoff rule: doubling up to a ceiling, reset only after staying up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.backoff import Backoff, BackoffPolicy


def test_delay_doubles_from_initial_up_to_max() -> None:
    policy = BackoffPolicy(initial_s=1.0, max_s=10.0)
    assert [policy.delay_s(n) for n in range(6)] == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0]


def test_failed_returns_when_the_next_try_is_due() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=0.5, max_s=60.0))
    assert backoff.failed(100.0) == 100.5
    assert backoff.failed(101.0) == 102.0
    assert backoff.current_s == 1.0


def test_success_resets_only_after_staying_up_stable_s() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=1.0, max_s=60.0, stable_s=30.0))
    backoff.failed(0.0)
    backoff.failed(1.0)
    backoff.succeeded(3.0)
    assert backoff.failures == 2  # up for 0 s: not yet stable
    backoff.check_stable(32.9)
    assert backoff.failures == 2
    backoff.check_stable(33.0)
    assert backoff.failures == 0


def test_a_failure_right_after_a_start_keeps_growing_the_delay() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=1.0, max_s=60.0, stable_s=30.0))
    now = 0.0
    delays = []
    for _ in range(5):
        due = backoff.failed(now)
        delays.append(due - now)
        backoff.succeeded(due)  # started, then crashed 1 s later
        now = due + 1.0
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_zero_stable_s_resets_at_once() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=1.0, max_s=8.0))
    backoff.failed(0.0)
    backoff.succeeded(1.0)
    assert backoff.current_s == 0.0


@pytest.mark.parametrize(
    ("initial_s", "max_s", "factor"),
    [(0.0, 1.0, 2.0), (2.0, 1.0, 2.0), (1.0, 2.0, 0.5)],
)
def test_a_policy_that_cannot_work_is_refused(
    initial_s: float, max_s: float, factor: float
) -> None:
    with pytest.raises(ValueError, match="backoff"):
        BackoffPolicy(initial_s=initial_s, max_s=max_s, factor=factor)


@given(failures=st.integers(min_value=1, max_value=10_000))
def test_delay_stays_within_initial_and_max(failures: int) -> None:
    policy = BackoffPolicy(initial_s=0.25, max_s=60.0)
    assert 0.25 <= policy.delay_s(failures) <= 60.0
