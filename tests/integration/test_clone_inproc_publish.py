"""In-process publishes (ClonePublisher) through the Clone loop's outbox, in memory:
every thread's updates arrive, in its order; a publish wakes a sleeping loop; after
the server stopped, a publish is dropped, not an error (issue 15)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import ANY_PORT, CloneServer, next_update, subscriber
from support.wait import wait_until

from raspy.actors.clone.loop import CloneLoop
from raspy.actors.clone.publisher import ClonePublisher
from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
THREADS = 4
PER_THREAD = 300


def _received(sub: zmq.Socket[bytes], count: int) -> list[list[bytes]]:
    return [next_update(sub, timeout_ms=10_000) for _ in range(count)]


@pytest.mark.timeout(60)
def test_updates_from_several_threads_all_arrive_each_thread_in_its_order(
    zmq_context: Context, server: CloneServer
) -> None:
    sub = subscriber(zmq_context, server.endpoints.publisher, b"/t/")
    start = threading.Barrier(THREADS)

    def publish(thread: int) -> None:
        start.wait(timeout=10)  # all threads append at once, interleaved
        for i in range(PER_THREAD):
            if i % 3 == 2:  # the batch path too, between single sets
                server.publisher.set_many([(b"/t/%d/%04d" % (thread, i), b"%d" % i)])
            else:
                server.publisher.set(b"/t/%d/%04d" % (thread, i), b"%d" % i)

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        got = _received(sub, THREADS * PER_THREAD)
    finally:
        for thread in threads:
            thread.join(timeout=10)
        sub.close()
    by_thread: dict[int, list[int]] = {t: [] for t in range(THREADS)}
    for frames in got:
        sender = int(frames[0].split(b"/")[2])
        by_thread[sender].append(int(frames[4]))
    assert by_thread == {t: list(range(PER_THREAD)) for t in range(THREADS)}
    seqs = [clone.decode_seq(frames[1]) for frames in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(got)))  # none lost, none twice


@contextmanager
def _sleepy_loop(
    context: Context, store: Store, clock: FakeClock
) -> Iterator[CloneLoop]:
    """A Clone loop that, left alone, sleeps an hour: no HUGZ, no ttl due."""
    loop = CloneLoop(
        context,
        store,
        CloneConfig(hugz_interval_s=3600),
        ANY_PORT,
        clock=clock,
        stats=Stats(),
        linger_ms=0,
    )
    loop.runner.start()
    try:
        yield loop
    finally:
        loop.runner.stop(timeout_s=10)


@pytest.mark.timeout(30)
def test_a_publish_wakes_the_loop_while_it_sleeps(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    with _sleepy_loop(zmq_context, store, clock) as loop:
        sub = subscriber(zmq_context, loop.bound_endpoints.publisher, b"/w")
        try:
            ClonePublisher(loop.outbox).set(b"/w/first", b"1")
            # the loop would not turn again for an hour unless woken
            wait_until(
                lambda: sub.poll(0),
                what="the update published by a loop that was asleep",
                timeout_s=10,
            )
            frames = sub.recv_multipart()
        finally:
            sub.close()
    assert (frames[0], frames[4]) == (b"/w/first", b"1")


@pytest.mark.timeout(30)
def test_a_publish_after_the_server_stopped_is_dropped_quietly(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    with _sleepy_loop(zmq_context, store, clock) as loop:
        publisher = ClonePublisher(loop.outbox)
    publisher.set(b"/late", b"1")
    assert publisher.set_many([(b"/late/2", b"2")]) == []
    with pytest.raises(ValueError, match="not /-rooted"):
        publisher.set(b"late", b"1")  # still checked: a caller's mistake is raised
