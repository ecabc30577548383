"""ChildWatch: the supervisor's children watched, under ChildSet (`child_set.py`).

A part just started is asked, without waiting, to answer once its on_start has run:
then it runs (a restart counts), and one still in it past its bound is hung. A
running part, its I/O thread and its own actors (the core's scenarios) are asked
their proof of life (raspy.hang_watch).
What supervision decided of a part is said in the log and the counters. A base class
of ChildSet, which holds the state, so that a round's calls go through no other object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

import pykka
import structlog

from raspy import start_failures
from raspy.clock import Clock
from raspy.cores import supervision
from raspy.cores.supervision import (
    Died,
    Failed,
    PartState,
    PartTracker,
    RestartPolicy,
)
from raspy.hang_watch import (
    PING,
    Asked,
    InnerPulses,
    Pulse,
    actor_ask,
    hung_threads,
    inner_hung,
    report_hung,
)
from raspy.stats import Stats

if TYPE_CHECKING:
    from raspy.child_set import Child

T = TypeVar("T")

log = structlog.get_logger(component="supervisor")

# answered by pykka itself once a part's on_start has run (before any other message)
ON_START_DONE: Final = PING


class ChildWatch:
    """The children's state, their starts and proofs of life watched, the decisions
    said; ChildSet adds, follows, restarts and stops them."""

    def __init__(
        self,
        policy: Callable[[], RestartPolicy],
        clock: Clock,
        stats: Stats,
        restarted: Callable[[Child], None],
        given_up: Callable[[str], None] = lambda name: None,
        fatal: Callable[[Failed], None] = lambda decision: None,
        stepped: Callable[[], None] = lambda: None,
    ) -> None:
        start_failures.watch()  # what a part's on_start raised: its reason
        self.children: list[Child] = []
        self._policy = policy
        self._clock = clock
        self._stats = stats
        self._restarted = restarted
        self._given_up = given_up  # a part failed for good: what it left is cleared
        self._fatal = fatal  # a critical part failed for good: raspyd must end
        # a part stopped or added: a reload's progress (OwnerThread.progressed)
        self._stepped = stepped
        # restarts of the parts stopped and forgotten, by name: a part started again
        # in their place (a new Clone server's followers, a reload) goes on counting
        self._restarts_before: dict[str, int] = {}
        # the actors of parts stopped and forgotten whose stop timed out, by name: no
        # part of that name starts while one runs (ChildSet._start)
        self._not_stopped: dict[str, NotStopped] = {}

    def _watch_start(self, child: Child, now: float) -> None:
        """Ask the part just started, without waiting, to answer once it has run its
        on_start (answered by pykka itself, before any other message); looked at from
        the next round on (_confirm). Until then it is in its start, not silent. A
        part with an I/O thread is asked for that thread's ask right after
        (answered after its on_start, too): picked up once it runs (_hung)."""
        assert child.ref is not None
        child.tracker.starting()
        child.starting = child.ref.ask(ON_START_DONE, block=False)
        child.starting_since = now
        child.io_pulse = child.io_asked = None
        if child.io_ask is not None:
            child.io_asked = _asked(child, "io", child.io_ask)
            child.io_pulse = Pulse.of(child.tracker.policy, now)
        child.inner_asked = child.inner_pulses = None
        if child.inner_ask is not None:
            child.inner_asked = _asked(child, "inner", child.inner_ask)
            child.inner_pulses = InnerPulses(child.tracker.policy)

    def _confirm(self, child: Child, now: float) -> bool:
        """A started part that has answered is running (a restart counts then): True,
        it is watched from this round on. One that died first (in its on_start, or
        right after it) crashed (again); one still in its on_start past the bound is
        hung; else: looked at again at the next round."""
        assert child.starting is not None
        try:
            child.starting.get(timeout=0)
        except pykka.Timeout:
            if child.ref is not None and child.ref.is_alive():
                silent_s = now - child.starting_since
                hang = report_hung(
                    child.tracker, now, silent_s, self._stats, in_start=True
                )
                if hang is not None:
                    self._fatal(hang)  # past its start's bound: raspyd ends
                return False  # still in its on_start (or hung)
            # dead, the question unanswered (asked as it stopped: pykka drops it)
            failure = "stopped as it started"
        except Exception as exc:  # noqa: BLE001  # ActorDeadError: died first
            failure = f"stopped as it started: {exc}"
        else:
            child.starting = None
            if child.tracker.state is PartState.RESTARTING:
                self._started(child, now)
            return True
        raised = None if child.ref is None else start_failures.take(child.ref.actor_urn)
        if raised is not None:  # what ended its on_start, not pykka's word for it
            failure = f"stopped as it started: {raised}"
        child.starting = None
        child.ref = None
        self._report(supervision.on_crash(child.tracker, now, failure))
        return False

    def _hung(self, child: Child, now: float) -> bool:
        """Ask the running part for its proof of life, and its I/O thread and its own
        actors for theirs once the part has answered how (`io_asked`,
        `inner_asked`, looked at each round until then: its actor's own pulse shows
        one that never does); True if it is hung."""
        assert child.ref is not None
        io = None if child.io_asked is None else child.io_asked.poll()
        hang = hung_threads(
            child.pulse,
            actor_ask(child.ref),
            child.io_pulse,
            io,
            child.tracker,
            now,
            self._stats,
        )
        inner = None if child.inner_asked is None else child.inner_asked.poll()
        if hang is None and inner is not None:
            assert child.inner_pulses is not None  # set with inner_asked
            hang = inner_hung(
                child.inner_pulses, inner, child.tracker, now, self._stats
            )
        if hang is None:
            return False
        self._fatal(hang)
        return True

    def named(self, name: str) -> Child | None:
        return next((child for child in self.children if child.name == name), None)

    def _old_hung(self, now: float) -> None:
        """An old actor still running `hung_after_s` after its stop is hung, as a
        part blocked in a handler is: its part can never start again beside it
        (ChildSet._start), and its thread cannot be stopped. Said against the part
        started in its place, if there is one (its status); fatal."""
        for name, held in list(self._not_stopped.items()):
            if held.ended():
                del self._not_stopped[name]  # its part may start again
                continue
            current = self.named(name)
            tracker = held.tracker if current is None else current.tracker
            if tracker is None:  # the part left off: a tracker of its own
                tracker = held.tracker = PartTracker(name, self._policy(), held.since)
            hang = report_hung(
                tracker, now, now - held.since, self._stats, previous=True
            )
            if hang is not None:
                self._fatal(hang)

    def _started(self, child: Child, now: float) -> None:
        child.tracker.started(now)
        child.pulse = Pulse.of(child.tracker.policy, now)
        self._stats.incr(f"supervisor.restarts.{child.name}")
        log.warning(
            "component_restarted", component=child.name, count=child.tracker.restarts
        )
        self._restarted(child)

    def _report(self, decision: Died | Failed) -> None:
        if isinstance(decision, Failed):
            report_failed(decision, self._stats)
            self._given_up(decision.name)
            if decision.fatal:
                self._fatal(decision)
            return
        log.error(
            "component_died",
            component=decision.name,
            reason=decision.reason,
            retry_in_s=round(decision.retry_in_s, 3),
            failures_in_a_row=decision.failures_in_a_row,
        )


@dataclass
class NotStopped:
    """The actor of a part stopped and forgotten whose stop timed out, its stop
    under way, and when it was stopped (ChildWatch._old_hung)."""

    ref: pykka.ActorRef[Any]
    stopping: pykka.Future[bool]
    since: float
    tracker: PartTracker | None = None  # its hang's, once said with no part in place

    def ended(self) -> bool:
        """Has its stop ended, its on_stop too? pykka calls an actor dead from the
        moment its stop begins, before its on_stop has let go of what it holds
        (pins, a port, stored requests): only the stop's answer says it is done."""
        return stop_ended(self.stopping, 0)


def stop_ended(stopping: pykka.Future[bool], timeout_s: float) -> bool:
    """Wait up to `timeout_s` for a stop asked of an actor (ActorRef.stop(block=False))
    to end, its on_stop included: True once it has."""
    try:
        stopping.get(timeout=timeout_s)
    except pykka.Timeout:  # not Python's TimeoutError
        return False
    except Exception:  # noqa: BLE001  # the stop failed: over all the same
        return True
    return True


def _asked(
    child: Child, what: str, ask: Callable[[pykka.ActorRef[Any]], pykka.Future[T]]
) -> Asked[T]:
    """`ask` of the part just started, asked now (answered after its on_start, as
    ON_START_DONE); an answer that is an error said as component_<what>_ask_failed."""
    ref = child.ref
    assert ref is not None
    asked = Asked(
        lambda: ask(ref),
        lambda exc: log.warning(
            f"component_{what}_ask_failed", component=child.name, reason=repr(exc)
        ),
    )
    asked.ask()
    return asked


def report_failed(decision: Failed, stats: Stats) -> None:
    """A part given up, in the log and the counters."""
    stats.incr(f"supervisor.failed.{decision.name}")
    log.error("component_failed", component=decision.name, reason=decision.reason)
