"""Idle threads sleep until their next deadline: the device poller, the Clone loop and
the I/O runner read their clock about once per deadline, not four times a second, on
the system clock and on a test clock (which wakes them when it moves)."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest
import zmq
from support.clock import CountingFakeClock, CountingSystemClock, FakeClock
from support.clonesrv import subscriber
from support.recording_actor import QueueRecorder
from support.wait import wait_until

from raspy.actors.clone.loop import CloneLoop
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.poller import DevicePollerActor, PolledDevice
from raspy.clock import Clock, SystemClock
from raspy.config import CloneConfig, StoreConfig
from raspy.devices.reading import Reading, Status
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.runner import Runner

Context = zmq.Context[zmq.Socket[bytes]]
ANY_PORT = clone.Endpoints(
    "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
)


class ReadLog:
    """A device's reads, each with how often its clock had been read by then."""

    def __init__(self, clock: CountingSystemClock | CountingFakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.reads_at: list[int] = []

    def read(self, wall_ts: float) -> Reading:
        with self._lock:
            self.reads_at.append(self._clock.reads)
        return Reading(1.0, "", Status.OK, wall_ts)

    def count(self) -> int:
        with self._lock:
            return len(self.reads_at)


def test_an_idle_poller_sleeps_until_its_next_device_or_its_test_clock_moves() -> None:
    """Between two reads 1.5 s apart the reader thread wakes once (a quarter-second
    poll read the clock a dozen times more); on a test clock it wakes when the clock
    moves, not before."""
    real, fake = CountingSystemClock(), CountingFakeClock()
    on_real, on_fake = ReadLog(real), ReadLog(fake)
    target = QueueRecorder.start(queue.SimpleQueue())
    pollers = [
        DevicePollerActor.start(
            bus,
            target,
            [PolledDevice("t", interval_s, log.read)],
            clock=clock,
            stats=Stats(),
        )
        for bus, interval_s, log, clock in (
            ("real", 1.5, on_real, real),
            ("fake", 10.0, on_fake, fake),
        )
    ]
    try:
        wait_until(lambda: on_real.count() >= 2, what="two reads on the system clock")
        first, second = on_real.reads_at[:2]
        assert second - first <= 4, on_real.reads_at  # done, wait, then the turn
        # the test clock's poller reads at its start, on its own thread: waited
        # for (its start may come after the other's two reads on a loaded machine)
        wait_until(lambda: on_fake.count() >= 1, what="the read at the start")
        assert on_fake.count() == 1
        assert fake.reads - on_fake.reads_at[0] <= 3, (fake.reads, on_fake.reads_at)
        fake.advance(10)
        wait_until(lambda: on_fake.count() == 2, what="the read the test clock's move")
    finally:
        for ref in pollers:
            ref.stop()
        target.stop()


@pytest.mark.timeout(30)
def test_an_idle_clone_loop_turns_for_its_hugz_not_four_times_a_second(
    zmq_context: Context, store: Store
) -> None:
    """With HUGZ every 1.5 s and nothing else to do, the loop turns once between two
    HUGZ: it read its (test) clock a dozen times more when it polled every 0.25 s."""
    clock = CountingFakeClock()
    loop = CloneLoop(
        zmq_context,
        store,
        CloneConfig(hugz_interval_s=1.5),
        ANY_PORT,
        clock=clock,
        stats=Stats(),
        linger_ms=0,
    )
    loop.runner.start()
    sub = subscriber(zmq_context, loop.bound_endpoints.publisher)
    try:
        gaps: list[tuple[float, int]] = []  # (s, clock reads) between two HUGZ
        last = (time.monotonic(), clock.reads)
        while not gaps or gaps[-1][0] < 1.2:  # not the one a subscription brings
            assert sub.poll(5000), gaps
            assert sub.recv_multipart()[0] == clone.HUGZ
            now = (time.monotonic(), clock.reads)
            gaps.append((now[0] - last[0], now[1] - last[1]))
            last = now
        assert gaps[-1][1] <= 6, gaps
    finally:
        sub.close()
        loop.runner.stop(timeout_s=10)


@pytest.mark.timeout(30)
def test_a_clone_loop_with_no_hugz_due_still_writes_its_coalesced_readings(
    zmq_context: Context, tmp_path: Path
) -> None:
    """The coalesced readings' write is one of the loop's deadlines: no HUGZ for an
    hour, and nothing else, still writes them when their interval ends."""
    store = Store.open(
        tmp_path / "data", StoreConfig(map_size_initial_mb=1, coalesce_interval_s=0.3)
    )
    stats = Stats()
    loop = CloneLoop(
        zmq_context,
        store,
        CloneConfig(hugz_interval_s=3600),
        ANY_PORT,
        clock=SystemClock(),
        stats=stats,
        linger_ms=0,
    )
    loop.runner.start()
    try:
        wait_until(lambda: stats.get("clone.publisher.hwm"), what="the loop open")
        assert ClonePublisher(loop.outbox).set_many([(b"/device/a/value", b"1")]) == []
        wait_until(
            lambda: stats.get("clone.coalesced.flushes") == 1,
            what="the readings written",
            timeout_s=5,
        )
    finally:
        loop.runner.stop(timeout_s=10)
        store.close()


class _TimerOwner:
    """No sockets; a timer at `at` on the runner's clock; counts the turns."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.at: float | None = None
        self.turns = 0
        self.fired = threading.Event()

    def open(self, runner: Runner) -> None:
        pass

    def next_deadline(self) -> float | None:
        return self.at

    def on_turn(self, now: float) -> None:
        self.turns += 1
        if self.at is not None and now >= self.at:
            self.at = None
            self.fired.set()

    def execute(self, command: object) -> object:
        assert isinstance(command, float)
        self.at = self.clock.monotonic() + command
        return None

    def close(self) -> None:
        pass


def test_a_runner_on_a_test_clock_wakes_when_the_clock_moves() -> None:
    """No re-reading every max_poll_s: the move itself wakes the poll."""
    clock = FakeClock()
    owner = _TimerOwner(clock)
    runner = Runner("moving", owner, clock=clock, max_poll_s=0.05)
    runner.start()
    try:
        runner.call(3600.0).result(timeout=5)
        turns = owner.turns
        clock.advance(3600)
        assert owner.fired.wait(5)
        assert owner.turns - turns <= 2, owner.turns - turns
    finally:
        runner.stop()


def test_an_idle_runner_polls_until_its_owners_deadline() -> None:
    """On the system clock a timer 2.5 s away is one turn, not one a second."""
    owner = _TimerOwner(SystemClock())
    runner = Runner("idle", owner)
    runner.start()
    try:
        runner.call(2.5).result(timeout=5)
        turns = owner.turns  # the call's own turn may still be to come
        assert owner.fired.wait(10)
        assert owner.turns - turns <= 2, owner.turns - turns
    finally:
        runner.stop()
