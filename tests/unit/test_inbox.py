"""The Inbox (raspy.transport.inbox): items from any thread to a runner's thread,
one wake-up per burst, a bounded number taken per turn."""

from __future__ import annotations

import os
import threading

import pytest

from raspy.transport.inbox import Inbox
from raspy.transport.wakeup import Wakeup


@pytest.fixture
def wakeup() -> object:
    pipe = Wakeup()
    yield pipe
    pipe.close()


def _pending_bytes(wakeup: Wakeup) -> int:
    try:
        return len(os.read(wakeup.read_fd, 4096))
    except BlockingIOError:
        return 0


def test_a_burst_writes_the_pipe_once_and_drain_rearms_it(wakeup: Wakeup) -> None:
    inbox: Inbox[int] = Inbox(wakeup)
    for item in range(3):
        inbox.put(item)
    assert _pending_bytes(wakeup) == 1
    taken: list[int] = []
    assert inbox.drain(taken.append, 10) is False  # all taken: the owner may sleep
    inbox.put(3)
    assert (taken, _pending_bytes(wakeup)) == ([0, 1, 2], 1)


def test_drain_stops_at_its_limit_and_says_more_may_wait(wakeup: Wakeup) -> None:
    inbox: Inbox[int] = Inbox(wakeup)
    for item in range(5):
        inbox.put(item)
    taken: list[int] = []
    assert inbox.drain(taken.append, 2) is True
    assert inbox.drain(taken.append, 2) is True
    assert inbox.drain(taken.append, 2) is False
    assert taken == [0, 1, 2, 3, 4]


def test_items_from_several_threads_all_arrive_in_each_threads_order(
    wakeup: Wakeup,
) -> None:
    inbox: Inbox[tuple[int, int]] = Inbox(wakeup)

    def put(thread: int) -> None:
        for index in range(500):
            inbox.put((thread, index))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    taken: list[tuple[int, int]] = []
    inbox.drain(taken.append, 10_000)
    for thread_id in range(4):
        mine = [index for who, index in taken if who == thread_id]
        assert mine == list(range(500))
