"""The I/O runner with a real socket pair: commands, timers, failures, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import zmq
from structlog.testing import capture_logs
from support.wait import wait_until
from support.zmqctx import checked_context

from raspy.errors import StoreError
from raspy.stats import Stats
from raspy.transport.runner import Runner, UnknownCommand

Context = zmq.Context[zmq.Socket[bytes]]


class _EchoOwner:
    """Echoes what arrives on a bound PAIR; a timer fires once at `timer_at`."""

    def __init__(self, context: Context, endpoint: str) -> None:
        self.context = context
        self.endpoint = endpoint
        self.sock: zmq.Socket[bytes] | None = None
        self.timer_at: float | None = None
        self.fired_at: list[float] = []
        self.closed = False

    def open(self, runner: Runner) -> None:
        sock = self.sock = self.context.socket(zmq.PAIR)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.endpoint)
        runner.register(sock, self._echo)

    def _echo(self, _events: int) -> None:
        assert self.sock is not None
        self.sock.send_multipart(self.sock.recv_multipart())

    def next_deadline(self) -> float | None:
        return self.timer_at

    def on_turn(self, now: float) -> None:
        if self.timer_at is not None and now >= self.timer_at:
            self.timer_at = None
            self.fired_at.append(now)

    def execute(self, command: object) -> object:
        match command:
            case ("timer", float(delay_s)):
                self.timer_at = time.monotonic() + delay_s
                return self.timer_at
            case ("fail", str(why)):
                raise RuntimeError(why)
            case ("refuse", str(why)):
                raise StoreError(why)
            case "ping":
                return "pong"
            case ("block", threading.Event() as release):  # a stuck loop
                return release.wait(10)
            case _:
                raise UnknownCommand("echo", command)

    def close(self) -> None:
        self.closed = True
        if self.sock is not None:
            self.sock.close(linger=0)


@pytest.fixture
def context() -> Iterator[Context]:
    with checked_context() as ctx:
        yield ctx


def _started(context: Context, stats: Stats) -> tuple[Runner, _EchoOwner]:
    owner = _EchoOwner(context, "inproc://runner-echo")
    runner = Runner("echo", owner, stats=stats, max_poll_s=5.0)
    runner.start()
    return runner, owner


def test_runner_answers_a_command_through_its_future(context: Context) -> None:
    """call() runs on the runner's thread; the future holds the owner's answer."""
    runner, _owner = _started(context, Stats())
    try:
        assert runner.call("ping").result(timeout=5) == "pong"
    finally:
        runner.stop()


def test_runner_hands_socket_events_to_the_owner(context: Context) -> None:
    """A registered socket's handler runs when the socket is readable."""
    runner, _owner = _started(context, Stats())
    peer = context.socket(zmq.PAIR)
    peer.setsockopt(zmq.LINGER, 0)
    try:
        peer.connect("inproc://runner-echo")
        peer.send_multipart([b"a", b"b"])
        assert peer.poll(5000)
        assert peer.recv_multipart() == [b"a", b"b"]
    finally:
        peer.close()
        runner.stop()


def test_runner_wakes_for_the_owners_deadline_without_any_event(
    context: Context,
) -> None:
    """The poll timeout comes from next_deadline(): the timer fires long before the
    5 s max_poll_s would end the poll, with no socket event and no command."""
    runner, owner = _started(context, Stats())
    try:
        due = runner.call(("timer", 0.05)).result(timeout=5)
        fired = wait_until(lambda: owner.fired_at, what="the timer", timeout_s=2.5)
        assert isinstance(due, float)
        assert fired[0] >= due
    finally:
        runner.stop()


def test_runner_logs_and_counts_an_unknown_command_by_its_own_type(
    context: Context,
) -> None:
    """An unknown command fails its future, is counted, and is logged by its type."""
    stats = Stats()
    runner, _owner = _started(context, stats)
    try:
        with capture_logs() as logs:
            future = runner.call(b"nonsense")
            with pytest.raises(UnknownCommand):
                future.result(timeout=5)
        assert stats.get("echo.commands.unknown") == 1
        assert {"event": "unknown_command", "runner": "echo", "command": "bytes"} in [
            {k: v for k, v in entry.items() if k in ("event", "runner", "command")}
            for entry in logs
        ]
        assert runner.call("ping").result(timeout=5) == "pong"  # still alive
    finally:
        runner.stop()


def test_runner_logs_a_failed_command_by_its_own_type_and_carries_on(
    context: Context,
) -> None:
    """A command that raises answers its caller with the error; the loop goes on."""
    stats = Stats()
    runner, _owner = _started(context, stats)
    try:
        with capture_logs() as logs:
            future = runner.call(("fail", "boom"))
            with pytest.raises(RuntimeError, match="boom"):
                future.result(timeout=5)
        assert stats.get("echo.commands.failed") == 1
        failed = [entry for entry in logs if entry["event"] == "command_failed"]
        assert [(entry["runner"], entry["command"]) for entry in failed] == [
            ("echo", "tuple")
        ]
        assert runner.call("ping").result(timeout=5) == "pong"
    finally:
        runner.stop()


def test_runner_stop_closes_the_owner_and_fails_later_calls(context: Context) -> None:
    """stop() runs the owner's close(); a call after it is answered with an error."""
    runner, owner = _started(context, Stats())
    runner.stop()
    assert owner.closed
    assert not runner.alive
    with pytest.raises(RuntimeError, match="echo has stopped"):
        runner.call("ping").result(timeout=5)


class _BrokenOwner(_EchoOwner):
    def open(self, runner: Runner) -> None:
        super().open(runner)
        raise OSError("address in use")


def test_runner_start_raises_when_the_owner_cannot_open(context: Context) -> None:
    """A failed open() is start()'s RuntimeError, from the failure itself, and the
    owner still closes. Its caller reports it: the runner logs no traceback of its
    own for it first (a CLI user saw both)."""
    owner = _BrokenOwner(context, "inproc://runner-broken")
    runner = Runner("broken", owner)
    with (
        capture_logs() as logs,
        pytest.raises(RuntimeError, match="address in use") as caught,
    ):
        runner.start()
    runner.stop()
    assert owner.closed
    assert isinstance(runner.failure, OSError)
    assert caught.value.__cause__ is runner.failure
    assert logs == []


class _SlowBrokenOwner(_EchoOwner):
    """Its open() fails once `release` is set: after start() gave up waiting."""

    def __init__(self, context: Context, endpoint: str) -> None:
        super().__init__(context, endpoint)
        self.release = threading.Event()

    def open(self, runner: Runner) -> None:
        self.release.wait(10)
        raise OSError("address in use")


def test_an_open_that_fails_after_start_gave_up_is_logged(context: Context) -> None:
    """Nobody is told of that failure but the log."""
    owner = _SlowBrokenOwner(context, "inproc://runner-slow")
    runner = Runner("slow", owner)
    with capture_logs() as logs:
        with pytest.raises(RuntimeError, match="slow did not start: None"):
            runner.start(timeout_s=0.05)
        owner.release.set()
        wait_until(lambda: owner.closed, what="the owner closed")
        runner.stop()
    failed = [e for e in logs if e["event"] == "runner_failed"]
    assert [(e["runner"], e["opened"], e["log_level"]) for e in failed] == [
        ("slow", False, "error")
    ]


class _FailingTurn(_EchoOwner):
    """Its turn after the command "fail-turn" raises: the loop fails, once open."""

    failing = False

    def execute(self, command: object) -> object:
        if command == "fail-turn":
            self.failing = True
            return None
        return super().execute(command)

    def on_turn(self, now: float) -> None:
        if self.failing:
            raise OSError("socket gone")
        super().on_turn(now)


def test_a_failure_once_open_is_logged_and_handed_to_the_owner(
    context: Context,
) -> None:
    """No caller waits for it: the log says it (with its traceback), and
    on_failure gets it."""
    handed: list[BaseException] = []
    owner = _FailingTurn(context, "inproc://runner-turn")
    runner = Runner("turn", owner, on_failure=handed.append)
    runner.start()
    with capture_logs() as logs:
        runner.call("fail-turn")
        wait_until(lambda: owner.closed, what="the owner closed")
    runner.stop()
    assert handed == [runner.failure]
    failed = [e for e in logs if e["event"] == "runner_failed"]
    assert [(e["runner"], e["opened"], e["exc_info"]) for e in failed] == [
        ("turn", True, True)
    ]


class _FailingClose(_EchoOwner):
    def close(self) -> None:
        super().close()
        raise OSError("disk gone")


def test_a_failing_close_is_logged_and_counted_and_stop_returns(
    context: Context,
) -> None:
    """The owner's last words failing must not leave callers or the thread hanging."""
    stats = Stats()
    owner = _FailingClose(context, "inproc://runner-close")
    runner = Runner("closing", owner, stats=stats)
    runner.start()
    with capture_logs() as logs:
        runner.stop()
    assert not runner.alive
    assert stats.get("closing.close_failed") == 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "runner_close_failed"
    ]


def test_a_stuck_runner_says_so_and_its_socket_is_left_open(context: Context) -> None:
    """stop() is False while the thread is stuck (the caller must not term() the
    context: it would wait for the open socket forever), True once it has ended."""
    release = threading.Event()
    runner, owner = _started(context, Stats())
    stuck = runner.call(("block", release))
    with capture_logs() as logs:
        assert runner.stop(timeout_s=0.2) is False
    assert [e["event"] for e in logs] == ["runner_stuck"]
    assert not owner.closed
    release.set()
    assert stuck.result(timeout=5) is True
    assert runner.stop(timeout_s=5) is True
    assert owner.closed


def test_runner_says_a_refused_command_in_one_line_without_a_traceback(
    context: Context,
) -> None:
    """A raspy error (a CommitAlong whose key the tree refuses) is the caller's to
    handle: answered, counted as refused, logged without a traceback."""
    stats = Stats()
    runner, _owner = _started(context, stats)
    try:
        with capture_logs() as logs:
            future = runner.call(("refuse", "no such key"))
            with pytest.raises(StoreError, match="no such key"):
                future.result(timeout=5)
        assert (
            stats.get("echo.commands.refused"),
            stats.get("echo.commands.failed"),
        ) == (1, 0)
        said = [e for e in logs if e["event"] in ("command_refused", "command_failed")]
        assert [(e["event"], e["reason"], "exc_info" in e) for e in said] == [
            ("command_refused", "no such key", False)
        ]
        assert runner.call("ping").result(timeout=5) == "pong"
    finally:
        runner.stop()
