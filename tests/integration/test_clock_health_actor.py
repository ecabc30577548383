"""Clock health in the tree and the log (issue 12): the kernel's answer is passed in
as hardware would give it; the RTC is a sysfs directory of real-format files."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from structlog.testing import capture_logs
from support.clock import FakeClock
from support.rtc_sysfs import FakeRtcTree
from support.wait import wait_until

from raspy import service_stats
from raspy.actors.clock_health import ClockHealthActor, health_entries
from raspy.clockhealth import ClockHealth, ClockHealthError, interpret
from raspy.stats import Stats

UNSYNCED = interpret(5, 0x0040, 16_000_000, 16_000_000)
SYNCED = interpret(0, 0x2001, 400_000, 1_500)


class RecordingPublisher:
    """Keeps what the actor publishes (the Publisher seam of raspy.devices.tree)."""

    def __init__(self) -> None:
        self.sets: list[tuple[bytes, bytes]] = []
        self.lock = threading.Lock()

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        with self.lock:
            self.sets.extend(entries)
        return []

    def latest(self) -> dict[bytes, bytes]:
        with self.lock:
            return dict(self.sets)


def test_an_unsynchronised_clock_is_said_in_the_tree_and_logged_once(
    tmp_path: Path,
) -> None:
    answers = [UNSYNCED, UNSYNCED, SYNCED]

    def read() -> ClockHealth:  # the kernel: unsynchronised twice, then synchronised
        return answers.pop(0) if len(answers) > 1 else answers[0]

    rtc = FakeRtcTree(tmp_path / "class" / "rtc")
    rtc.add("rtc0", 1_700_000_012)
    publisher = RecordingPublisher()
    with capture_logs() as logs:
        ref = ClockHealthActor.start(
            "pi",
            publisher,
            clock=FakeClock(wall=1_700_000_010.0),
            stats=Stats(),
            interval_s=0.05,
            rtc_dir=rtc.root,
            read=read,
        )
        wait_until(
            lambda: publisher.latest().get(b"/stats/pi/clock/synchronised") == b"true",
            what="the clock synchronised after two checks",
        )
        ref.stop(block=True, timeout=5)
    assert [e["event"] for e in logs if e["event"].startswith("clock_")] == [
        "clock_not_synchronised",
        "clock_synchronised",
    ]
    first = health_entries("pi", UNSYNCED, rtc_present=True, drift_s=2.0)
    assert publisher.sets[:6] == [(k.encode(), v) for k, v in first.items()]


def test_the_entries_name_source_errors_and_drift() -> None:
    assert health_entries("pi", SYNCED, False, -0.25) == {
        "/stats/pi/clock/synchronised": b"true",
        "/stats/pi/clock/estimated_error_s": b"0.0015",
        "/stats/pi/clock/max_error_s": b"0.4",
        "/stats/pi/clock/state": b'"ok"',
        "/stats/pi/clock/source": b'"ntp"',
        "/stats/pi/clock/rtc_drift_s": b"-0.25",
    }
    assert health_entries("pi", None, False, None) == {
        "/stats/pi/clock/synchronised": b"null",
        "/stats/pi/clock/estimated_error_s": b"null",
        "/stats/pi/clock/max_error_s": b"null",
        "/stats/pi/clock/state": b"null",
        "/stats/pi/clock/source": b'"unknown"',
    }
    assert health_entries("pi", SYNCED, True, None)["/stats/pi/clock/rtc_drift_s"] == (
        b"null"
    )


def test_a_call_or_rtc_that_starts_failing_leaves_no_old_value_standing(
    tmp_path: Path,
) -> None:
    """The kernel answered "ok" and the RTC its drift; then both fail: the tree says
    unknown throughout, not "ok" and an old drift beside `source: "unknown"`."""
    answers: list[ClockHealth | None] = [SYNCED, None]

    def read() -> ClockHealth:
        sample = answers.pop(0) if len(answers) > 1 else answers[0]
        if sample is None:
            raise ClockHealthError("adjtimex: failed with errno 1")
        return sample

    rtc = FakeRtcTree(tmp_path / "class" / "rtc")
    rtc.add("rtc0", 1_700_000_012)
    publisher = RecordingPublisher()
    ref = ClockHealthActor.start(
        "pi",
        publisher,
        clock=FakeClock(wall=1_700_000_010.0),
        stats=Stats(),
        interval_s=0.05,
        rtc_dir=rtc.root,
        read=read,
    )
    try:
        wait_until(
            lambda: publisher.latest().get(b"/stats/pi/clock/rtc_drift_s") == b"2.0",
            what="the first, good sample in the tree",
        )
        rtc.write("rtc0", "since_epoch", "not a number\n")
        wait_until(
            lambda: (
                publisher.latest().get(b"/stats/pi/clock/source") == b'"unknown"'
                and publisher.latest().get(b"/stats/pi/clock/rtc_drift_s") == b"null"
            ),
            what="the failing call and RTC in the tree",
        )
    finally:
        ref.stop(block=True, timeout=5)
    latest = publisher.latest()
    assert latest[b"/stats/pi/clock/state"] == b"null"
    assert latest[b"/stats/pi/clock/max_error_s"] == b"null"
    assert latest[b"/stats/pi/clock/estimated_error_s"] == b"null"


def test_a_failing_kernel_call_is_published_as_unknown(tmp_path: Path) -> None:
    def read() -> ClockHealth:
        raise ClockHealthError("adjtimex: failed with errno 1")

    publisher = RecordingPublisher()
    stats = Stats()
    ref = ClockHealthActor.start(
        "pi",
        publisher,
        clock=FakeClock(),
        stats=stats,
        interval_s=10.0,
        rtc_dir=tmp_path,
        read=read,
    )
    wait_until(
        lambda: publisher.latest().get(b"/stats/pi/clock/source") == b'"unknown"',
        what="the unknown clock in the tree",
    )
    ref.stop(block=True, timeout=5)
    # counted for the part it runs as, devices.clock: its .statistics and /stats/
    # show it (named clock.adjtimex_failed, it was of no part, shown nowhere)
    snapshot = service_stats.Snapshot((), stats.counters(), stats.gauges(), 0.0)
    values = service_stats.service_values(snapshot, "devices.clock")
    assert values["adjtimex_failed"] == service_stats.counter32(1)


def test_each_change_of_synchronisation_is_logged_once_and_its_return_too(
    tmp_path: Path,
) -> None:
    """Lost, back, and a failing call in between: one line per change, never one per
    sample; an unknown sample is no change (nor is the known state after it)."""
    clock = FakeClock()
    samples: list[ClockHealth | None] = [
        UNSYNCED,
        None,
        None,
        UNSYNCED,
        UNSYNCED,
        SYNCED,
        None,
        SYNCED,
    ]
    calls = [0]

    def read() -> ClockHealth:  # the kernel: each sample in turn, then the last
        index = min(calls[0], len(samples) - 1)
        calls[0] += 1
        if index == 5:
            clock.advance(90)  # synchronised again 90 s after it was lost
        sample = samples[index]
        if sample is None:
            raise ClockHealthError("adjtimex: failed with errno 1")
        return sample

    with capture_logs() as logs:
        ref = ClockHealthActor.start(
            "pi",
            RecordingPublisher(),
            clock=clock,
            stats=Stats(),
            interval_s=0.02,
            rtc_dir=tmp_path,
            read=read,
        )
        wait_until(lambda: calls[0] > len(samples) + 2, what="every sample, and more")
        ref.stop(block=True, timeout=5)
    said = [e for e in logs if e["event"].startswith("clock_")]
    assert [e["event"] for e in said] == [
        "clock_not_synchronised",
        "clock_health_unknown",
        "clock_synchronised",
        "clock_health_unknown",
    ]
    assert said[2]["unsynchronised_s"] == 90.0
