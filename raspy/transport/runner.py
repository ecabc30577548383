"""The I/O runner: one thread, one zmq.Poller, one wake-up pipe, one command queue.

Every socket owner (broker edge, Clone server, Clone client, worker link) runs on a
Runner: the owner opens and registers its sockets on the runner's thread, says when
its next timer is due, and handles what the runner hands it. Other threads reach the
owner only through `call()` (a command and a future). The wake-up is an os.pipe, not
an inproc PAIR: any thread may poke it without owning a socket (a PAIR end is one
thread's, so each caller would need its own), and the store's writer thread uses it.

An idle wake-up costs on a Pi, and every input from outside the thread (a socket, a
command, the store's writer, an outbox) wakes the poll by itself, so the poll sleeps
until the owner's next deadline and no longer: no deadline, no wake-up. On a
MovingClock (a test's) a move pokes the wake-up pipe as well; the poll still ends at
the deadline's distance in real seconds, because an owner may turn a real-time timer
into one on its clock (the Clone's HUGZ and heap trim are on the real clock). Only
another clock, which says nothing when it moves, is re-read every `max_poll_s`.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Final, Protocol

import zmq

from raspy.clock import Clock, MovingClock, SystemClock
from raspy.errors import RaspyError
from raspy.library_log import library_logger
from raspy.records import frozen
from raspy.stats import Stats
from raspy.transport.wakeup import Wakeup

# a client's I/O threads run on it too: library_logger, not stdout in a script
log = library_logger(component="runner")

Pollable = zmq.Socket[bytes] | int  # a socket, or a file descriptor
Handler = Callable[[int], None]  # called with the poll events that fired

_DEFAULT_MAX_POLL_S: Final = 1.0  # a clock that says nothing when it moves
# No deadline still wakes once an hour: a guard against a timer an owner started
# without a turn to follow (a bug), not a timer of its own.
_LONGEST_POLL_S: Final = 3600.0
_START_TIMEOUT_S: Final = 10.0


class RunnerStopped(RuntimeError):
    """A command sent to a runner whose thread has ended (stopped, or failed):
    never run. Its owner's users may take it for the owner gone."""


class UnknownCommand(ValueError):
    """An owner's execute() got a command it does not know."""

    def __init__(self, owner: str, command: object) -> None:
        super().__init__(f"unknown {owner} command {type(command).__name__}")


class Owner(Protocol):
    """A socket owner driven by a Runner; every method runs on the runner's thread."""

    def open(self, runner: Runner) -> None:
        """Create, bind or connect and register the sockets; raise to fail start()."""

    def next_deadline(self) -> float | None:
        """When on_turn() must run next (runner clock, monotonic s); None: no timer."""

    def on_turn(self, now: float) -> None:
        """After every poll: run due timers, flush what the handlers queued."""

    def execute(self, command: object) -> object:
        """A command from call(); the return value answers it. UnknownCommand else."""

    def close(self) -> None:
        """Last words (final flush) and socket close; runs even after a failure."""


@frozen
class _Call:
    command: object
    result: Future[object]


class _Stop:
    """Ends the loop once the commands queued before it have run."""


class Runner:
    """Runs one Owner on its own thread (named `raspy-<name>-io` unless told).

    Deadlines are on `clock` (the system clock by default): the system clock's time
    passes on the poll's own and a MovingClock's moves wake the poll, so either
    sleeps until the next deadline; any other clock is re-read every `max_poll_s`.
    """

    def __init__(
        self,
        name: str,
        owner: Owner,
        *,
        clock: Clock | None = None,
        stats: Stats | None = None,
        max_poll_s: float = _DEFAULT_MAX_POLL_S,
        thread_name: str | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.name = name
        self.wakeup = Wakeup()
        self.failure: BaseException | None = None
        self.started = threading.Event()
        self._owner = owner
        clock = SystemClock() if clock is None else clock
        self._moving = clock if isinstance(clock, MovingClock) else None
        self._monotonic = clock.monotonic
        self._heard = isinstance(clock, SystemClock | MovingClock)
        self._stats = Stats() if stats is None else stats
        self._max_poll_s = max_poll_s
        self._on_failure = on_failure
        self._commands: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._poller = zmq.Poller()
        self._handlers: dict[Pollable, Handler] = {}
        self._running = True
        self._ended = False  # set, under _end_lock, once no command will run again
        self._end_lock = threading.Lock()
        # start() still waits for open(), whose failure it then raises: under _end_lock
        self._start_waits = True
        self._thread = threading.Thread(
            target=self._main, name=thread_name or f"raspy-{name}-io", daemon=True
        )

    # --- any thread -----------------------------------------------------------------
    def start(self, timeout_s: float = _START_TIMEOUT_S) -> None:
        """Start the thread and wait until the owner has opened; RuntimeError if not,
        from what failed open() (`failure`): the caller's to report, not logged
        here. A failure after start() gave up waiting is logged."""
        self._thread.start()
        ended = self.started.wait(timeout_s)  # open() returned or raised
        with self._end_lock:
            self._start_waits = False
            failure = self.failure
        if not ended or failure is not None:
            raise RuntimeError(f"{self.name} did not start: {failure}") from failure

    def call(self, command: object) -> Future[object]:
        """Run `command` on the runner's thread; the future holds the owner's answer."""
        result: Future[object] = Future()
        with self._end_lock:
            if self._ended:
                result.set_exception(RunnerStopped(f"{self.name} has stopped"))
                return result
            self._commands.put(_Call(command, result))
        self.wakeup.notify()
        return result

    def stop(self, timeout_s: float = 5.0) -> bool:
        """End the loop (the owner's close() runs) and join the thread; False if the
        thread is stuck: its sockets are still open, so their context must not be
        terminated (term() would wait for them forever)."""
        if self._thread.is_alive():
            self.call(_Stop())
            self._thread.join(timeout=timeout_s)
            if self._thread.is_alive():
                log.error("runner_stuck", runner=self.name)
                return False  # its poller still holds the pipe: leave it open
        self.wakeup.close()
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the runner's thread (owners only) --------------------------------------------
    def register(
        self, target: Pollable, handler: Handler, events: int = zmq.POLLIN
    ) -> None:
        self._poller.register(target, events)
        self._handlers[target] = handler

    def modify(self, target: Pollable, events: int) -> None:
        self._poller.modify(target, events)

    def unregister(self, target: Pollable) -> None:
        if self._handlers.pop(target, None) is not None:
            self._poller.unregister(target)

    def request_stop(self) -> None:
        """End the loop after this turn (from the owner itself)."""
        self._running = False

    def count(self, event: str) -> None:
        self._stats.incr(f"{self.name}.{event}")

    # --- loop -------------------------------------------------------------------------
    def _main(self) -> None:
        opened = False
        moving = self._moving
        unlisten = None if moving is None else moving.listen(self.wakeup.notify)
        try:
            self.register(self.wakeup.read_fd, self._on_wakeup)
            self._owner.open(self)
            opened = True
            self.started.set()
            self._loop()
        except BaseException as exc:
            with self._end_lock:
                self.failure = exc
                told = not opened and self._start_waits  # start() raises it
            if not told:
                log.exception("runner_failed", runner=self.name, opened=opened)
            if self._on_failure is not None:
                self._on_failure(exc)
        finally:
            if unlisten is not None:
                unlisten()
            self.started.set()
            try:
                self._owner.close()
            except Exception:  # the loop's edge: its sockets may be half closed
                self.count("close_failed")
                log.exception("runner_close_failed", runner=self.name)
            finally:
                self._fail_pending()

    def _loop(self) -> None:
        owner = self._owner
        handlers = self._handlers
        poll = self._poller.poll
        monotonic = self._monotonic
        while self._running:
            for target, events in poll(self._timeout_ms()):
                handler = handlers.get(target)
                if handler is not None:  # unregistered by an earlier handler
                    handler(events)
            owner.on_turn(monotonic())

    def _timeout_ms(self) -> int:
        wait_s = _LONGEST_POLL_S if self._heard else self._max_poll_s
        deadline = self._owner.next_deadline()
        if deadline is not None:
            wait_s = min(wait_s, deadline - self._monotonic())
        return max(0, math.ceil(wait_s * 1000))

    def _on_wakeup(self, _events: int) -> None:
        self.wakeup.drain()
        while True:
            try:
                call = self._commands.get_nowait()
            except queue.Empty:
                return
            self._run(call)

    def _run(self, call: _Call) -> None:
        command = call.command
        if isinstance(command, _Stop):
            self._running = False
            call.result.set_result(None)
            return
        try:
            call.result.set_result(self._owner.execute(command))
        except UnknownCommand as exc:
            self.count("commands.unknown")
            log.warning(
                "unknown_command", runner=self.name, command=type(command).__name__
            )
            call.result.set_exception(exc)
        except RaspyError as exc:  # a refusal its caller handles: no traceback
            self.count("commands.refused")
            log.warning(
                "command_refused",
                runner=self.name,
                command=type(command).__name__,
                reason=str(exc),
            )
            call.result.set_exception(exc)
        except Exception as exc:  # answer the caller, keep the loop alive
            self.count("commands.failed")
            log.exception(
                "command_failed", runner=self.name, command=type(command).__name__
            )
            call.result.set_exception(exc)

    def _fail_pending(self) -> None:
        """Callers waiting on a command the loop never ran are told, not left hanging."""
        with self._end_lock:
            self._ended = True
        while True:
            try:
                call = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(call.command, _Stop):
                call.result.set_result(None)
            else:
                call.result.set_exception(RunnerStopped(f"{self.name} has stopped"))
