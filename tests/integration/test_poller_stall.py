"""A read that does not return (a hung bus or driver): the bus's devices read
`no_answer` instead of their last value, told once, and the read's own reading
still comes when it returns. Real reader and watch threads; the hung read is a
device whose read() waits for the test."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.recording_actor import QueueRecorder
from support.wait import wait_until

from raspy.actors.poller import DevicePollerActor, DevicesRead, PolledDevice
from raspy.devices.reading import Reading, Status
from raspy.stats import Stats

WALL = 1_800_000_000.0


class HungOnce:
    """A device whose first read waits until the test lets it go."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._first = True

    def read(self, wall_ts: float) -> Reading:
        if self._first:
            self._first = False
            assert self.release.wait(20), "the test never let the read go"
        return Reading(7.5, "°C", Status.OK, wall_ts)


def _fine(wall_ts: float) -> Reading:
    return Reading(1.0, "°C", Status.OK, wall_ts)


def _next(inbox: queue.SimpleQueue[Any]) -> list[tuple[str, str, object]]:
    message = inbox.get(timeout=10)
    assert isinstance(message, DevicesRead)
    return [(name, r.status.value, r.value) for name, r in message.readings]


@pytest.mark.timeout(30)
def test_a_read_that_hangs_makes_the_bus_read_no_answer_once() -> None:
    hung = HungOnce()
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    target = QueueRecorder.start(inbox)
    stats = Stats()
    with capture_logs() as logs:
        poller = DevicePollerActor.start(
            "bus",
            target,
            [
                # the first is due now, the other 0.5 s later on a clock that
                # does not move: the hang comes first, and the other is not read
                PolledDevice("hung", 3600.0, hung.read),
                PolledDevice("fine", 3600.0, _fine),
            ],
            clock=FakeClock(wall=WALL),
            stats=stats,
            stall_after_s=0.2,
        )
        try:
            stalled = _next(inbox)
            # the watch wakes again while the read still hangs: nothing more is told
            wait_until(
                lambda: any(e["event"] == "device_read_stalled" for e in logs),
                what="the stall's log line",
            )
            told_once = inbox.empty()
            hung.release.set()
            returned = _next(inbox)
            wait_until(
                lambda: any(e["event"] == "device_read_returned" for e in logs),
                what="the return's log line",
            )
        finally:
            hung.release.set()
            poller.stop()
            target.stop()
    assert sorted(stalled) == [("fine", "no_answer", None), ("hung", "no_answer", None)]
    assert told_once
    assert returned == [("hung", "ok", 7.5)]
    assert stats.snapshot()["devices.bus.read_stalled"] == 1
    assert [(e["event"], e["device"]) for e in logs if "device" in e] == [
        ("device_read_stalled", "hung"),
        ("device_read_returned", "hung"),
    ]


@pytest.mark.timeout(30)
def test_the_no_answer_reading_says_which_read_hangs_and_for_how_long() -> None:
    hung = HungOnce()
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    target = QueueRecorder.start(inbox)
    poller = DevicePollerActor.start(
        "w1",
        target,
        [PolledDevice("28-x", 3600.0, hung.read)],
        clock=FakeClock(wall=WALL),
        stats=Stats(),
        stall_after_s=0.2,
    )
    try:
        message = inbox.get(timeout=10)
    finally:
        hung.release.set()
        poller.stop()
        target.stop()
    assert isinstance(message, DevicesRead)
    [(name, reading)] = message.readings
    detail = reading.detail
    assert (name, reading.status, reading.wall_ts) == ("28-x", Status.NO_ANSWER, WALL)
    assert detail.startswith("a read of '28-x' on w1 has not returned in ")
    assert detail.endswith(" s (a hung bus or driver)")
