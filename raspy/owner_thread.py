"""A thread that owns some state: it runs a round every `interval_s`, and the work
other threads queue to it (call()) just before the next round, so that the state has
one writer and needs no lock. raspyd's supervisor is one: its rounds watch the
parts; SIGHUP reloads and tests' changes are queued to it. A round that raises is
logged and the next one comes as usual: a dead thread would watch nothing again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import structlog

from raspy.clock import Clock

log = structlog.get_logger(component="owner_thread")


class OwnerThread:
    """One named daemon thread: queued work first, then round(now), every interval."""

    def __init__(
        self,
        name: str,
        interval_s: float,
        round_: Callable[[float], None],
        clock: Clock,
    ) -> None:
        self.name = name
        self._interval_s = interval_s
        self._round = round_
        self._clock = clock
        self._requests: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]]
        self._requests = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_round_at = 0.0  # monotonic time of the last round's start
        self._progressed_at = 0.0  # time.monotonic() of the work's last step

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def call(
        self,
        work: Callable[[], object],
        timeout_s: float = 30.0,
        *,
        waiting: Callable[[], None] | None = None,
        every_s: float = 1.0,
    ) -> object:
        """Run `work` in the owner thread; wait for its result (or its exception),
        up to `timeout_s` (TimeoutError past it). `waiting`, if given, is called
        every `every_s` while the wait is within that bound, and never after it:
        raspyd keeps systemd's watchdog fed through a reload's slow stops. With
        `waiting`, the bound counts from the work's last step (progressed()): work
        of many slow steps is waited for while they go on, one stuck is not.

        After stop() the work still runs, in the stopping thread, at the end of stop().
        """
        done: Future[object] = Future()
        self._requests.put((work, done))
        if waiting is None:
            return done.result(timeout=timeout_s)
        began = time.monotonic()
        while True:
            left_s = self._left_s(began, timeout_s)
            try:
                return done.result(timeout=max(0.0, min(every_s, left_s)))
            except TimeoutError:
                # the work's own TimeoutError, or the bound reached (a step that
                # ended during this wait moved it: asked again)
                if done.done() or self._left_s(began, timeout_s) <= 0:
                    raise
            waiting()

    def _left_s(self, began: float, timeout_s: float) -> float:
        """What is left of call()'s bound: `timeout_s` from its start or from the
        work's last step, whichever came later."""
        return max(began, self._progressed_at) + timeout_s - time.monotonic()

    def progressed(self) -> None:
        """The work under way has ended a step (a part stopped or started): its
        caller's bound counts again from now (call() with `waiting`)."""
        self._progressed_at = time.monotonic()

    def stop(self, timeout_s: float = 5.0) -> None:
        """No more rounds; the work queued so far still runs (nobody waits for ever)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self._run_requests()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def going_round(self, within_s: float) -> bool:
        """Is the thread alive, with a round begun within the last `within_s`?"""
        alive = self._thread is not None and self._thread.is_alive()
        return alive and self._clock.monotonic() - self._last_round_at < within_s

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._run_requests()
            now = self._clock.monotonic()
            try:
                self._round(now)
            except Exception:  # one bad round must not end every later one
                log.exception("owner_round_failed", thread=self.name)
            self._last_round_at = now

    def _run_requests(self) -> None:
        while True:
            try:
                work, done = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                done.set_result(work())
            except Exception as exc:  # noqa: BLE001  # the caller gets it; the rounds go on
                done.set_exception(exc)
