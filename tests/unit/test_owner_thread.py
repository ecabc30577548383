"""The thread that owns the supervisor's state (raspy.owner_thread): queued work and
rounds run in it, one at a time; the clock is a fake one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.wait import wait_until

from raspy.owner_thread import OwnerThread

_NAME = "raspy-test-owner"


class Rounds:
    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def __call__(self, now: float) -> None:
        self.seen.append((now, threading.current_thread().name))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(monotonic=100.0)


@pytest.fixture
def rounds() -> Rounds:
    return Rounds()


@pytest.fixture
def owner(clock: FakeClock, rounds: Rounds) -> Iterator[OwnerThread]:
    thread = OwnerThread(_NAME, 0.01, rounds, clock)
    thread.start()
    yield thread
    thread.stop()


def test_rounds_run_in_the_owner_thread_with_the_clocks_time(
    owner: OwnerThread, rounds: Rounds
) -> None:
    wait_until(lambda: rounds.seen, what="a first round")
    assert rounds.seen[0] == (100.0, _NAME)


def test_queued_work_runs_in_the_owner_thread_and_returns_its_result(
    owner: OwnerThread,
) -> None:
    assert owner.call(lambda: threading.current_thread().name) == _NAME


def test_the_caller_gets_the_works_exception_and_the_rounds_go_on(
    owner: OwnerThread, rounds: Rounds
) -> None:
    def fails() -> object:
        raise ValueError("no such part")

    with pytest.raises(ValueError, match="no such part"):
        owner.call(fails)
    count = len(rounds.seen)
    wait_until(lambda: len(rounds.seen) > count, what="another round")


def test_a_thread_stuck_in_work_is_not_going_round_once_its_last_round_is_old(
    owner: OwnerThread, clock: FakeClock
) -> None:
    wait_until(lambda: owner.going_round(10.0), what="a round")
    entered, release = threading.Event(), threading.Event()

    def hangs() -> object:
        entered.set()
        return release.wait(timeout=10)

    stuck = threading.Thread(target=lambda: owner.call(hangs))
    stuck.start()
    wait_until(entered.is_set, what="the work running")
    clock.advance(9.0)
    assert owner.going_round(10.0)
    clock.advance(2.0)
    assert not owner.going_round(10.0)  # no round while the work hangs
    release.set()
    stuck.join(timeout=5)
    wait_until(lambda: owner.going_round(10.0), what="the rounds going again")


def test_a_stopped_thread_is_not_going_round_and_still_runs_late_work(
    clock: FakeClock, rounds: Rounds
) -> None:
    thread = OwnerThread(_NAME, 60.0, rounds, clock)  # no round within the test
    assert not thread.going_round(10.0)  # not started
    thread.start()
    results: list[object] = []
    caller = threading.Thread(target=lambda: results.append(thread.call(lambda: 7)))
    caller.start()
    wait_until(lambda: not thread._requests.empty(), what="the work queued")
    thread.stop()
    caller.join(timeout=5)
    assert results == [7]
    assert thread.stopping
    assert not thread.going_round(10.0)
    assert rounds.seen == []


def test_a_round_that_raises_is_logged_and_the_rounds_go_on(clock: FakeClock) -> None:
    """A round that raised (a restart hook's ask to a Clone server that died again)
    ended the thread: nothing was supervised again, and only systemd's watchdog, where
    there is one, noticed."""
    seen: list[float] = []

    def round_(now: float) -> None:
        seen.append(now)
        if len(seen) == 1:
            raise RuntimeError("the new clone server died")

    thread = OwnerThread(_NAME, 0.01, round_, clock)
    with capture_logs() as logs:
        thread.start()
        try:
            wait_until(lambda: len(seen) >= 3, what="rounds after the failed one")
            assert thread.going_round(10.0)
            assert thread.call(lambda: 7) == 7
        finally:
            thread.stop()
    failed = [e for e in logs if e["event"] == "owner_round_failed"]
    assert failed
    assert failed[0]["thread"] == _NAME


def test_a_caller_is_told_while_it_waits_and_never_past_the_bound(
    owner: OwnerThread,
) -> None:
    """raspyd pings systemd's watchdog while a reload works (its stops may take longer
    than WatchdogSec), and never once the reload is past its bound: a stuck thread."""
    release = threading.Event()
    told: list[bool] = []
    try:
        with pytest.raises(TimeoutError):
            owner.call(
                lambda: release.wait(timeout=10),
                0.35,
                waiting=lambda: told.append(release.is_set()),
                every_s=0.1,
            )
        count = len(told)
        assert 1 <= count <= 3  # at 0.1, 0.2, 0.3 s (fewer on a loaded machine)
    finally:
        release.set()
    assert owner.call(lambda: 7, waiting=lambda: told.append(True)) == 7
    assert len(told) == count  # an answer within every_s: nothing to tell


def test_the_works_own_timeout_error_is_not_waited_out(owner: OwnerThread) -> None:
    def fails() -> object:
        raise TimeoutError("a part did not answer")

    began = time.monotonic()
    with pytest.raises(TimeoutError, match="a part did not answer"):
        owner.call(fails, 30.0, waiting=lambda: None, every_s=0.01)
    assert time.monotonic() - began < 10.0  # not the 30 s of the bound


def test_a_callers_bound_counts_from_the_works_last_step(owner: OwnerThread) -> None:
    """A reload that stops several slow parts: waited for past its bound as long as
    its steps go on (each within the bound), the caller told throughout."""
    step = threading.Event()  # never set: each step is its wait of 0.2 s

    def steps() -> int:
        for _ in range(4):
            step.wait(0.2)
            owner.progressed()
        return 7

    told: list[None] = []
    assert owner.call(steps, 0.5, waiting=lambda: told.append(None), every_s=0.1) == 7
    assert told  # at 0.1 s, 0.2 s, ... the 0.8 s through


def test_a_step_that_ends_during_the_last_wait_moves_the_bound(
    owner: OwnerThread,
) -> None:
    """The bound is asked again after the wait that would reach it: a part that
    stopped during that wait (0.3 s before the old bound) gives the reload its
    bound again, not a TimeoutError while it goes on."""
    step = threading.Event()  # never set: each step is its wait

    def steps() -> int:
        step.wait(1.7)
        owner.progressed()
        step.wait(0.5)
        return 7

    # waits of 1.6 s: the second, of the 0.4 s left, is the one the step ends in
    assert owner.call(steps, 2.0, waiting=lambda: None, every_s=1.6) == 7
