"""A hung part (raspy.hang_watch): a real pykka actor whose handler blocks on an Event
the test holds, rounds driven by the test on a fake clock. A part blocked for ever
was alive to every check, `running`, while the hub stopped acting; a restarted part
whose on_start hung stayed `restarting` for ever; and a restart's round waited up
to 2 s on the part's on_start."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.child_rounds import ChildRounds
from support.wait import wait_until

from raspy.backoff import BackoffPolicy
from raspy.child_set import Child
from raspy.cores.supervision import Failed, PartState, RestartPolicy, summary
from raspy.hang_watch import Ask

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=5,
    window_s=100.0,
    hung_after_s=60.0,
)


class Block:
    """Told to a Part: its handler waits on the test's Event (a deadlock, a read that
    never returns)."""


class Crash:
    pass


class Part(pykka.ThreadingActor):
    release = threading.Event()  # set by the fixture at the end: nothing stays hung

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Block):
            self.release.wait(30)
            return None
        if isinstance(message, Crash):
            raise RuntimeError("lost the bus")
        return "here"


class SlowStart(Part):
    def on_start(self) -> None:
        self.release.wait(30)


@pytest.fixture
def parts() -> Iterator[ChildRounds]:
    Part.release.clear()
    made = ChildRounds(POLICY)
    yield made
    Part.release.set()
    made.children.stop_all()


def _ref(child: Child) -> pykka.ActorRef[Any]:
    assert child.ref is not None
    return child.ref


def _state(child: Child) -> PartState:
    return child.tracker.state


def _answered(child: Child) -> None:
    """Whatever the part was asked before now has been answered (its inbox is in
    order): the next round sees its answer, however slow this machine."""
    assert _ref(child).ask("here?", timeout=10) == "here"


@pytest.mark.timeout(30)
def test_a_part_blocked_in_a_handler_is_hung_past_its_bound_and_fatal(
    parts: ChildRounds,
) -> None:
    bus = parts.children.add("bus", Part.start)  # not critical: fatal all the same
    echo = parts.children.add("echo", Part.start)
    _answered(bus)  # started before the first round, which confirms it and asks it
    _answered(echo)  # (else that round raced its thread: it was asked a round late)
    _ref(bus).tell(Block())
    with capture_logs() as logs:
        parts.round_after(0.0)  # each part asked
        _answered(echo)
        parts.round_after(10.0)  # echo answered; asked again 20 s after
        _answered(echo)
        parts.round_after(50.0)  # bus silent 60 s: not past the bound
        _answered(echo)
        assert _state(bus) is PartState.RUNNING
        assert parts.fatal == []
        parts.round_after(0.5)
        _answered(echo)
        parts.round_after(10.0)  # said once
    assert _state(bus) is PartState.HUNG
    assert _state(echo) is PartState.RUNNING
    reason = "no answer to a ping for 60.5 s (supervisor.hung_after_s = 60)"
    assert parts.fatal == [Failed("bus", reason, fatal=True, hung=True)]
    assert [(e["event"], e["log_level"], e["component"]) for e in logs] == [
        ("component_hung", "error", "bus")
    ]
    assert logs[0]["silent_s"] == 60.5
    assert parts.stats.snapshot()["supervisor.hung.bus"] == 1
    assert bus.tracker.status().reason == reason
    assert summary([bus.tracker.status(), echo.tracker.status()]) == "bus hung"


@pytest.mark.timeout(30)
def test_a_handler_that_runs_long_within_the_bound_is_not_hung(
    parts: ChildRounds,
) -> None:
    bus = parts.children.add("bus", Part.start)
    _answered(bus)  # started: the first round asks it, as the bound counts from there
    _ref(bus).tell(Block())
    parts.round_after(0.0)
    parts.round_after(59.5)
    Part.release.set()  # the handler ends, the question is answered
    _answered(bus)
    with capture_logs() as logs:
        parts.round_after(0.5)
        _answered(bus)
        for _ in range(10):
            parts.round_after(10.0)
            _answered(bus)
    assert _state(bus) is PartState.RUNNING
    assert parts.fatal == []
    assert logs == []


@pytest.mark.timeout(30)
def test_a_restart_whose_on_start_hangs_is_hung_and_the_round_does_not_wait(
    parts: ChildRounds,
) -> None:
    starts: Iterator[Callable[[], pykka.ActorRef[Any]]]
    starts = iter([Part.start, SlowStart.start])

    def start() -> pykka.ActorRef[Any]:
        return next(starts)()

    bus = parts.children.add("bus", start)
    _ref(bus).tell(Crash())
    wait_until(lambda: not _ref(bus).is_alive(), what="the part dead")
    parts.round_after(0.1)
    began = time.monotonic()
    parts.round_after(1.0)  # restarted: its on_start waits on the test
    # it waited 2 s for the on_start; a round takes milliseconds: room for a loaded box
    assert time.monotonic() - began < 1.5
    assert _state(bus) is PartState.RESTARTING
    with capture_logs() as logs:
        parts.round_after(299.0)  # past hung_after_s: a start's bound is larger
        assert parts.fatal == []
        parts.round_after(1.5)
    assert _state(bus) is PartState.HUNG
    reason = "no answer to its start for 300.5 s (supervisor.start_hung_after_s = 300)"
    assert parts.fatal == [Failed("bus", reason, fatal=True, hung=True)]
    assert [(e["event"], e["in_start"], e["hung_after_s"]) for e in logs] == [
        ("component_hung", True, 300.0)
    ]


@pytest.mark.timeout(30)
def test_a_first_start_whose_on_start_hangs_is_hung_in_its_start(
    parts: ChildRounds,
) -> None:
    """A first start (and one by follow() or a reload) was measured as a ping's
    silence: a slow on_start (hundreds of scenarios compiled on a Pi) was called hung
    "to a ping", not in its start. Then a start was held to hung_after_s (60 s), and
    one only slow ended raspyd, whose restart was as slow: for ever. A start has
    its own, larger bound (supervisor.start_hung_after_s)."""
    bus = parts.children.add("bus", SlowStart.start)
    with capture_logs() as logs:
        parts.round_after(0.0)
        for _ in range(5):  # in its on_start for 300 s: not past the start's bound
            parts.round_after(60.0)
        assert _state(bus) is PartState.RUNNING
        assert parts.fatal == []
        parts.round_after(0.5)
        parts.round_after(10.0)  # said once
    assert _state(bus) is PartState.HUNG
    reason = "no answer to its start for 300.5 s (supervisor.start_hung_after_s = 300)"
    assert parts.fatal == [Failed("bus", reason, fatal=True, hung=True)]
    assert [(e["event"], e["in_start"]) for e in logs] == [("component_hung", True)]
    assert parts.stats.snapshot()["supervisor.hung.bus"] == 1


@pytest.mark.timeout(30)
def test_a_first_start_that_ends_within_the_bound_is_running_not_restarted(
    parts: ChildRounds,
) -> None:
    """Its start watched as a restart's is, it is no restart: nothing counted."""
    bus = parts.children.add("bus", SlowStart.start)
    parts.round_after(0.0)
    for _ in range(5):  # past hung_after_s, within the start's bound
        parts.round_after(59.5)
    assert parts.fatal == []
    in_start = bus.starting is not None
    assert in_start  # still in its start
    Part.release.set()  # its on_start ends
    _answered(bus)
    with capture_logs() as logs:
        for _ in range(8):
            parts.round_after(10.0)
            _answered(bus)
    assert bus.starting is None
    assert _state(bus) is PartState.RUNNING
    assert (bus.restarts, parts.restarted, parts.fatal, logs) == (0, [], [], [])
    assert "supervisor.restarts.bus" not in parts.stats.snapshot()


class IoPart(Part):
    """A part whose work runs on an I/O thread of its own (as the Clone server's):
    its answer with that thread's ask comes once the test's `late` is set."""

    late = threading.Event()

    def __init__(self, io: concurrent.futures.ThreadPoolExecutor) -> None:
        super().__init__()
        self._io = io

    def io_ask(self) -> Ask:
        self.late.wait(30)
        io = self._io
        return lambda: io.submit(lambda: None)


@pytest.mark.timeout(30)
def test_an_io_thread_whose_ask_comes_late_is_watched_from_then_on(
    parts: ChildRounds,
) -> None:
    """The Clone server's I/O thread's ask was waited for up to 5 s on the
    supervisor's thread (a round held that long); one later than that was never
    asked again: that thread went unwatched for the part's life."""
    IoPart.late.clear()
    io = concurrent.futures.ThreadPoolExecutor(1, "test-io")
    release = threading.Event()
    try:
        bus = parts.children.add(
            "bus", lambda: IoPart.start(io), io_ask=lambda ref: ref.proxy().io_ask()
        )
        wait_until(lambda: _done(bus.starting), what="its on_start run")
        with capture_logs() as logs:
            began = time.monotonic()
            parts.round_after(0.0)  # running; its answer with the ask not in yet
            parts.round_after(10.0)
            # a round waited 5 s for the answer; half that leaves room for a loaded box
            assert time.monotonic() - began < 2.5
            parts.round_after(20.0)
            IoPart.late.set()  # 30 s late
            _answered(bus)
            parts.round_after(10.0)  # the ask taken, the I/O thread asked at once
            io.submit(lambda: None).result(timeout=10)  # that question answered
            io.submit(release.wait, 30)  # the I/O thread blocks
            for _ in range(9):  # asked again 20 s after (at 70 s); silent 60 s
                parts.round_after(10.0)
                _answered(bus)
            assert parts.fatal == []
            parts.round_after(1.0)
        assert _state(bus) is PartState.HUNG
        reason = "no answer from its I/O thread for 61 s (supervisor.hung_after_s = 60)"
        assert parts.fatal == [Failed("bus", reason, fatal=True, hung=True)]
        assert [(e["event"], e["io_thread"]) for e in logs] == [
            ("component_hung", True)
        ]
    finally:
        IoPart.late.set()
        release.set()
        io.shutdown(wait=False)


def _done(answer: pykka.Future[Any] | None) -> bool:
    assert answer is not None
    try:
        answer.get(timeout=0)
    except pykka.Timeout:
        return False
    return True
