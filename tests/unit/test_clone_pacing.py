"""ClonePacing with time passed in: HUGZ, early HUGZ, heap trims, loop deadlines.

docs/protocols.md §6.5: HUGZ once an interval regardless of traffic; §6.3 (raspy): a
client waits for a HUGZ to know its subscription is live, so a new subscription brings
the next one forward.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from raspy.cores.clone_pacing import (
    BLOCKED_RETRY_S,
    CUT_OFF_HOLDOFF_S,
    FULL_SUBSCRIBER_WAIT_S,
    MAX_SUBSCRIBER_LAG_S,
    MIN_HUGZ_GAP_S,
    TRIM_GAP_S,
    ClonePacing,
    Due,
)

T0 = 100.0
BUDGET = 8 * 1024 * 1024
SUBSCRIBE = b"\x01/device/"
LEAVE = b"\x00/device/"


def _pacing(interval_s: float = 1.0) -> ClonePacing:
    return ClonePacing(interval_s, BUDGET)


def _hugz_times(pacing: ClonePacing, times: list[float]) -> list[float]:
    return [now for now in times if pacing.on_turn(now).hugz]


def test_the_first_turn_sends_a_hugz_then_one_per_interval_whatever_the_traffic() -> (
    None
):
    """§6.5 raspy: every interval regardless of traffic (turns come with traffic)."""
    pacing = _pacing()
    turns = [T0, T0 + 0.1, T0 + 0.5, T0 + 0.99, T0 + 1.0, T0 + 1.5, T0 + 2.2]
    assert _hugz_times(pacing, turns) == [T0, T0 + 1.0, T0 + 2.2]


def test_a_subscription_brings_the_next_hugz_forward() -> None:
    """§6.3 raspy: the new subscriber hears a HUGZ at once, not within the interval."""
    pacing = _pacing()
    pacing.on_turn(T0)
    pacing.on_notices([SUBSCRIBE], T0 + 0.3)
    assert pacing.on_turn(T0 + 0.3) == Due(hugz=True, trim=False)


def test_early_hugz_come_at_most_once_per_gap_however_many_subscribe() -> None:
    pacing = _pacing()
    pacing.on_turn(T0)
    pacing.on_notices([SUBSCRIBE] * 3, T0)
    assert _hugz_times(pacing, [T0, T0 + MIN_HUGZ_GAP_S / 2]) == []
    assert _hugz_times(pacing, [T0 + MIN_HUGZ_GAP_S]) == [T0 + MIN_HUGZ_GAP_S]


def test_a_leave_or_an_empty_notice_brings_no_hugz() -> None:
    pacing = _pacing()
    pacing.on_turn(T0)
    pacing.on_notices([LEAVE, b""], T0 + 0.2)
    assert pacing.on_turn(T0 + 0.5) == Due(hugz=False, trim=False)


def test_freed_heap_is_handed_back_once_a_gap_after_the_first_leave() -> None:
    pacing = _pacing(interval_s=100.0)
    pacing.on_turn(T0)
    pacing.on_notices([LEAVE], T0)
    pacing.on_notices([LEAVE], T0 + 5)  # does not push the trim later
    assert pacing.on_turn(T0 + TRIM_GAP_S - 0.01).trim is False
    assert pacing.on_turn(T0 + TRIM_GAP_S).trim is True
    assert pacing.on_turn(T0 + TRIM_GAP_S + 1).trim is False


def test_a_full_subscriber_is_waited_for_while_it_reads_on_within_bounds() -> None:
    pacing = _pacing()
    wait, lag = FULL_SUBSCRIBER_WAIT_S, MAX_SUBSCRIBER_LAG_S
    assert pacing.stop_waiting(T0, T0, 100, T0 + wait * 0.99) is False
    assert pacing.stop_waiting(T0, T0, 100, T0 + wait * 1.01) is True  # no progress
    progress = T0 + lag - wait / 2  # it reads on ...
    assert pacing.stop_waiting(T0, progress, 100, T0 + lag * 0.99) is False
    assert pacing.stop_waiting(T0, progress, 100, T0 + lag * 1.01) is True  # too slow
    assert pacing.stop_waiting(T0, T0, BUDGET - 1, T0) is False
    assert pacing.stop_waiting(T0, T0, BUDGET, T0) is True


def test_after_a_cut_off_the_lag_allowed_is_short_for_a_while() -> None:
    """libzmq takes a cut-off subscriber back once it reads again: a slow one would
    hold the others up at every refill, so for CUT_OFF_HOLDOFF_S a subscriber that
    reads on may lag FULL_SUBSCRIBER_WAIT_S only, not MAX_SUBSCRIBER_LAG_S."""
    pacing, wait = _pacing(), FULL_SUBSCRIBER_WAIT_S
    assert pacing.stop_waiting(T0, T0 + 1.0, 100, T0 + 1.0) is False  # lag 1 s: fine
    pacing.cut_off(T0)
    assert pacing.stop_waiting(T0, T0 + wait * 0.9, 100, T0 + wait * 0.9) is False
    assert pacing.stop_waiting(T0, T0 + 1.0, 100, T0 + 1.0) is True  # reads, lags
    later = T0 + CUT_OFF_HOLDOFF_S
    assert pacing.stop_waiting(later, later + 1.0, 100, later + 1.0) is False


def test_a_cut_off_is_worth_a_log_line_once_a_minute() -> None:
    pacing = _pacing()
    assert [pacing.cut_off(T0 + dt) for dt in (0, 1, 59.9, 60)] == [
        True,
        False,
        False,
        True,
    ]


def test_the_loop_sleeps_until_the_next_hugz_on_its_own_clock() -> None:
    """The loop's clock (a test's FakeClock) and the real one may differ: the wait
    until a HUGZ is real time, laid onto the loop's clock."""
    pacing = _pacing()
    pacing.on_turn(T0)
    deadline = pacing.next_deadline(
        5.0, T0 + 0.25, ttl_deadline=None, sending=False, retry_blocked=False
    )
    assert deadline == 5.75


def _deadline(
    pacing: ClonePacing,
    *,
    ttl: float | None = None,
    sending: bool = False,
    blocked: bool = False,
) -> float:
    return pacing.next_deadline(
        T0, T0, ttl_deadline=ttl, sending=sending, retry_blocked=blocked
    )


def test_an_earlier_ttl_deadline_or_a_blocked_snapshot_wakes_the_loop_sooner() -> None:
    pacing = _pacing()
    pacing.on_turn(T0)
    assert _deadline(pacing) == T0 + 1.0
    assert _deadline(pacing, ttl=T0 + 0.5) == T0 + 0.5
    assert _deadline(pacing, ttl=T0 + 0.5, blocked=True) == T0 + BLOCKED_RETRY_S


def test_a_heap_trim_due_before_the_next_hugz_wakes_the_loop_for_it() -> None:
    """The loop sleeps until its next timer and no longer: with HUGZ an hour apart,
    the trim after a subscriber left is a deadline of its own."""
    pacing = _pacing(3600.0)
    pacing.on_turn(T0)
    assert _deadline(pacing) == T0 + 3600.0
    pacing.on_notices([LEAVE], T0)
    assert _deadline(pacing) == T0 + TRIM_GAP_S
    assert pacing.on_turn(T0 + TRIM_GAP_S).trim
    assert _deadline(pacing) == T0 + 3600.0


def test_a_full_drain_or_a_sendable_snapshot_means_no_wait_for_one_turn() -> None:
    pacing = _pacing()
    pacing.on_turn(T0)
    pacing.drained_full()
    pacing.on_turn(T0)
    assert _deadline(pacing) == T0
    pacing.on_turn(T0)
    assert _deadline(pacing) == T0 + 1.0
    assert _deadline(pacing, sending=True) == T0


@given(st.lists(st.floats(0.0, 3.0), max_size=40))
def test_hugz_are_never_further_apart_than_the_interval_plus_a_turn(
    gaps: list[float],
) -> None:
    """§6.5: with a turn at least every `interval`, no two HUGZ are more than two
    intervals apart, and never closer than MIN_HUGZ_GAP_S after a subscription."""
    pacing = _pacing()
    now, sent = T0, [T0]
    pacing.on_turn(now)
    for gap in gaps:
        now += min(gap, 1.0)
        if gap > 2.0:
            pacing.on_notices([SUBSCRIBE], now)
        if pacing.on_turn(now).hugz:
            sent.append(now)
    spacing = [b - a for a, b in itertools.pairwise(sent)]
    assert all(MIN_HUGZ_GAP_S - 1e-9 <= s <= 2.0 for s in spacing)


def test_a_snapshot_that_ended_asks_for_the_same_trim_as_a_leave() -> None:
    """Issue 18: a snapshot that ended frees its queue too; one trim a gap later."""
    pacing = _pacing(interval_s=100.0)
    pacing.on_turn(T0)
    pacing.trim_later(T0)
    pacing.on_notices([LEAVE], T0 + 5)  # the same trim, not a second one later
    assert pacing.on_turn(T0 + TRIM_GAP_S - 0.01).trim is False
    assert pacing.on_turn(T0 + TRIM_GAP_S).trim is True
    assert pacing.on_turn(T0 + 2 * TRIM_GAP_S).trim is False
