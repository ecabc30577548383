"""The supervisor's children: named actors, each with its start and its PartTracker,
started, watched and restarted by one owner thread (raspyd's supervisor).

What to do about a part (restart now, later, or give up) is raspy.cores.supervision's
decision; this module acts on the decisions, over ChildWatch (`child_watch.py`), which
observes the actors and says what was decided in the log and the counters. It knows no actor of raspy: a part is a start callable
that returns a pykka ActorRef, so it is tested with plain pykka actors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, overload

import pykka
import structlog

from raspy.child_watch import ChildWatch, NotStopped, stop_ended
from raspy.cores import supervision
from raspy.cores.supervision import PartState, PartTracker, Restart
from raspy.hang_watch import Ask, Asked, Inner, InnerPulses, Pulse

log = structlog.get_logger(component="supervisor")

STOP_TIMEOUT_S: Final = 3.0  # how long stop_actor waits for a part to stop

ActorStart = Callable[[], pykka.ActorRef[Any]]
# asked of a running part before its stop, bounded by itself (Child.prepare_stop)
BeforeStop = Callable[[pykka.ActorRef[Any]], None]
# how a part's I/O thread is asked its proof of life (raspy.hang_watch): the part is
# asked for its own ask without waiting (answered once its on_start has run); the
# answer is picked up at the rounds (ChildWatch._hung, hang_watch.Asked)
IoAsk = Callable[[pykka.ActorRef[Any]], pykka.Future[Ask]]
# how a part's own actors are listed (the core's scenario actors), asked and picked up
# as IoAsk's answer is; each is then pinged as the part is (hang_watch.InnerPulses)
InnerAsk = Callable[[pykka.ActorRef[Any]], pykka.Future[Inner]]
LeaderStart = Callable[[pykka.ActorRef[Any]], pykka.ActorRef[Any]]
# a follower that also runs while its leader is absent or down (given None then)
OptionalLeaderStart = Callable[[pykka.ActorRef[Any] | None], pykka.ActorRef[Any]]


@dataclass
class Child:
    """A part the supervisor keeps alive; `ref` is None while it is down."""

    name: str
    start: ActorStart
    tracker: PartTracker
    pulse: Pulse  # its proof of life while it runs (raspy.hang_watch)
    ref: pykka.ActorRef[Any] | None = None
    critical: bool = False  # given up, it ends raspyd (ChildSet.add)
    # a start's (the first, a restart's) answer to come once its on_start is done:
    # then the part runs, and a restart counts
    starting: pykka.Future[Any] | None = None
    starting_since: float = 0.0  # when that start began (hung past the bound)
    # a part whose work runs on an I/O thread (the Clone server): how that thread
    # is asked; while this actor runs, that ask asked of it (its answer kept once
    # it has come) and the thread's proof of life (both set at each start)
    io_ask: IoAsk | None = None
    io_asked: Asked[Ask] | None = None
    io_pulse: Pulse | None = None
    # a part that runs actors of its own (the core): how they are listed; while it
    # runs, that asked of it and their proofs of life (both set at each start)
    inner_ask: InnerAsk | None = None
    inner_asked: Asked[Inner] | None = None
    inner_pulses: InnerPulses | None = None
    # the stop's work done while the actor can still be told anything (pykka marks
    # it stopped before its on_stop): asked first by every stop of ChildSet's
    prepare_stop: BeforeStop | None = None

    @property
    def restarts(self) -> int:
        return self.tracker.restarts


class PreviousRunning(RuntimeError):
    """A part's start refused: the actor it replaces still runs (ChildSet._start)."""


@dataclass
class Follower:
    """A child's start bound to its leader's actor (the Clone server), or to its
    absence (None): it is started again only when the leader is replaced, whose
    subscriptions it held."""

    leader: pykka.ActorRef[Any] | None
    start_with: OptionalLeaderStart

    def __call__(self) -> pykka.ActorRef[Any]:
        return self.start_with(self.leader)


class ChildSet(ChildWatch):
    """The children in start order; used by one thread only (the supervisor's). Their
    starts and proofs of life are watched, and decisions said, by ChildWatch."""

    def add(
        self,
        name: str,
        start: ActorStart,
        *,
        critical: bool = False,
        retried: bool = False,
        prepare_stop: BeforeStop | None = None,
        io_ask: IoAsk | None = None,
        inner_ask: InnerAsk | None = None,
    ) -> Child:
        """Start a part and supervise it. A `critical` part is one raspyd cannot do
        without: if this start raises, so does add() (raspyd does not start), unless
        it is `retried` (started again in a running raspyd: a reload, a new leader);
        and once it is `failed`, the `fatal` callback ends raspyd. Any other start
        that raises is retried with backoff. `prepare_stop` is asked of its actor
        before each stop of it (Child.prepare_stop); `io_ask` gives its I/O thread's
        proof of life, watched as its actor's is (Child.io_ask); `inner_ask` its own
        actors, each watched so (Child.inner_ask)."""
        now = self._clock.monotonic()
        # a part stopped before whose stop timed out: raspyd runs, not its start
        retried = retried or name in self._not_stopped
        tracker = PartTracker(
            name,
            self._policy(),
            now,
            restarts=self._restarts_before.get(name, 0),
            critical=critical,
        )
        child = Child(
            name,
            start,
            tracker,
            Pulse.of(tracker.policy, now),
            critical=critical,
            prepare_stop=prepare_stop,
            io_ask=io_ask,
            inner_ask=inner_ask,
        )
        try:
            child.ref = self._start(child)
        except PreviousRunning as exc:
            # named once, here; each refused start says it again in the status
            log.warning("component_previous_not_stopped", component=name)
            child.tracker.held(now, str(exc))
        except Exception as exc:
            if critical and not retried:
                raise
            self._report(
                supervision.on_crash(child.tracker, now, f"start failed: {exc}")
            )
        else:
            log.info("component_started", component=name)
            self._watch_start(child, now)  # a slow on_start is not a silent part
        self.children.append(child)
        self._stepped()
        return child

    def ref_of(self, name: str) -> pykka.ActorRef[Any] | None:
        """The running actor of child `name`; None while it is down or absent."""
        child = self.named(name)
        return None if child is None else child.ref

    @overload
    def follow(
        self,
        name: str,
        leader: str,
        start_with: LeaderStart,
        *,
        enabled: bool = True,
        critical: bool = False,
        without_leader: Literal[False] = False,
    ) -> None: ...

    @overload
    def follow(
        self,
        name: str,
        leader: str,
        start_with: OptionalLeaderStart,
        *,
        enabled: bool = True,
        critical: bool = False,
        without_leader: Literal[True],
    ) -> None: ...

    def follow(
        self,
        name: str,
        leader: str,
        start_with: LeaderStart | OptionalLeaderStart,
        *,
        enabled: bool = True,
        critical: bool = False,
        without_leader: bool = False,
    ) -> None:
        """Start child `name` bound to the running `leader`, unless it already is:
        one bound to a replaced leader is stopped, and (if `enabled`) started again
        with the new one. While the leader is absent or down there is none, unless
        `without_leader`: then it runs bound to None. `critical` (add()): only its
        first start raises (a start after a new leader is retried with backoff)."""
        ref = self.ref_of(leader)
        current = self.named(name)
        if (
            current is not None
            and isinstance(current.start, Follower)
            and current.start.leader is ref
        ):
            return
        self.stop(lambda each: each == name)
        if enabled and (ref is not None or without_leader):
            # without `without_leader`, start_with is only ever given a running leader
            start = cast(OptionalLeaderStart, start_with)
            self.add(
                name,
                Follower(ref, start),
                critical=critical,
                retried=current is not None,
            )

    def stop(self, selected: Callable[[str], bool]) -> list[Child]:
        """Stop and forget the selected children; return them. An actor still
        running after STOP_TIMEOUT_S is kept by its part's name: no part of that name
        starts while it runs (_start)."""
        stopped = [child for child in self.children if selected(child.name)]
        for child in stopped:
            asked_at = self._clock.monotonic()  # hung_after_s counts from the ask
            stopping = stop_child(child)
            if stopping is not None and child.ref is not None:
                held = NotStopped(child.ref, stopping, asked_at)
                self._not_stopped[child.name] = held
            self._restarts_before[child.name] = child.restarts
            self._stepped()  # each stop bounded: several may outlast a reload's bound
        self.children = [c for c in self.children if c not in stopped]
        return stopped

    def stop_all(self) -> list[str]:
        """Stop every child, the last started first (they are kept, for statuses);
        return the names of those still running after STOP_TIMEOUT_S, and of those
        stopped before whose actor has not ended yet."""
        running = [
            child.name
            for child in reversed(self.children)
            if stop_child(child) is not None
        ]
        for name, held in self._not_stopped.items():  # stopped once, still running
            if name not in running and not stop_ended(held.stopping, STOP_TIMEOUT_S):
                log.warning("component_stop_timed_out", component=name)
                running.append(name)
        return running

    def check(self, now: float) -> None:
        """One supervision round: restart what is due, notice what died or hung.
        It waits on no part: what a part was asked is looked at in the next rounds.
        An old actor whose stop timed out is watched too (_old_hung)."""
        self._old_hung(now)
        for child in list(self.children):
            if not any(each is child for each in self.children):
                continue  # replaced in this round (a restarted leader's followers)
            if child.tracker.state is PartState.HUNG:
                continue  # raspyd is ending (fatal)
            if child.starting is not None and not self._confirm(child, now):
                continue  # still in its start (or hung), or it died in it
            up = child.ref is not None and child.ref.is_alive()
            if up and self._hung(child, now):
                continue
            decision = supervision.supervise(
                child.tracker, None if up else "stopped unexpectedly", now
            )
            if isinstance(decision, Restart):
                if _leader_gone(child):
                    continue  # the leader's restart starts it anew (follow)
                self._restart(child, now)
            elif decision is not None:
                child.ref = None
                self._report(decision)

    def _restart(self, child: Child, now: float) -> None:
        """Start the part again; it counts as restarted once it has answered (_confirm):
        pykka runs its on_start on its own thread after start() returned, and one
        that raises there was counted and logged as restarted, then as dead."""
        try:
            child.ref = self._start(child)
        except PreviousRunning as exc:  # tried again at the next round
            child.tracker.held(now, str(exc))
            return
        except Exception as exc:  # noqa: BLE001  # a part's start may raise anything
            self._report(
                supervision.on_crash(child.tracker, now, f"start failed: {exc}")
            )
            return
        self._watch_start(child, now)

    def _start(self, child: Child) -> pykka.ActorRef[Any]:
        """Start the part, unless the actor of the one it replaces still runs: its
        stop timed out (a handler still busy) and it holds what the new one would
        take (pins, sensors, a port, an MQTT client id, Titanic's stored requests).
        The start is held then (PreviousRunning), not counted as a failed one: the
        rounds try again, and the old actor still running `hung_after_s` after its
        stop is hung (ChildWatch._old_hung)."""
        previous = self._previous_running(child.name)
        if previous is not None:
            kind = previous.actor_class.__name__
            raise PreviousRunning(f"the previous {kind} has not stopped yet")
        return child.start()

    def _previous_running(self, name: str) -> pykka.ActorRef[Any] | None:
        """The actor of a part `name` stopped before whose stop timed out, while
        it still runs (the rounds forget it once it has ended: _old_hung)."""
        held = self._not_stopped.get(name)
        return None if held is None or held.ended() else held.ref


def _leader_gone(child: Child) -> bool:
    """Is `child` a follower bound to a leader that died? Started again, it would
    be bound to the dead one until the new leader's restart, which is confirmed at a
    later round (the rounds wait on no part), replaced it."""
    start = child.start
    return (
        isinstance(start, Follower)
        and start.leader is not None
        and not start.leader.is_alive()
    )


def stop_child(child: Child) -> pykka.Future[bool] | None:
    """Ask the child's prepare_stop, if it has one, then stop its actor
    (stop_within): None once stopped, else the stop under way. A prepare that fails
    or times out is logged and the stop goes on; one of an actor already dead is
    nothing to say."""
    ref, prepare = child.ref, child.prepare_stop
    if ref is not None and prepare is not None:
        try:
            prepare(ref)
        except pykka.ActorDeadError:
            pass
        except Exception as exc:  # noqa: BLE001  # a part's hook may raise anything
            log.warning(
                "component_prepare_stop_failed",
                component=child.name,
                reason=str(exc) or type(exc).__name__,
            )
    return stop_within(child.name, ref)


def stop_actor(name: str, ref: pykka.ActorRef[Any] | None) -> bool:
    """Stop a part's actor, waiting up to STOP_TIMEOUT_S; False if it is still
    stopping then (stop_within)."""
    return stop_within(name, ref) is None


def stop_within(
    name: str, ref: pykka.ActorRef[Any] | None
) -> pykka.Future[bool] | None:
    """Stop a part's actor, waiting up to STOP_TIMEOUT_S for its stop to end, its
    on_stop included: None then, else the stop under way. One that does not end in
    time is named (and a part started in its place may find what it held taken)."""
    if ref is None:
        return None
    stopping = ref.stop(block=False)
    if stop_ended(stopping, STOP_TIMEOUT_S):
        return None
    log.warning("component_stop_timed_out", component=name)
    return stopping
