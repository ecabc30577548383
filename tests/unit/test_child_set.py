"""The supervisor's children (raspy.child_set) with plain pykka actors, rounds driven
by the test on a fake clock: start, notice a death, restart when due, give up,
follow a leader."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.child_rounds import ChildRounds
from support.wait import wait_until

from raspy.backoff import BackoffPolicy
from raspy.child_set import Child
from raspy.cores.supervision import PartState, RestartPolicy

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=2,
    window_s=100.0,
)


class Crash:
    pass


class Part(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("lost the bus")


def _refuses() -> pykka.ActorRef[Any]:
    raise OSError("no such bus")


def _in_turn(*starts: Callable[[], pykka.ActorRef[Any]]) -> Callable[[], Any]:
    """A part's start that is each of `starts` in turn, one per start."""
    left = iter(starts)

    def start() -> Any:
        return next(left)()

    return start


@pytest.fixture
def parts() -> Iterator[ChildRounds]:
    made = ChildRounds(POLICY)
    yield made
    made.children.stop_all()


def _crash(child: Child) -> None:
    ref = child.ref
    assert ref is not None
    ref.tell(Crash())
    wait_until(lambda: not ref.is_alive(), what="the actor dead")


def test_a_dead_part_is_restarted_once_its_delay_is_over(parts: ChildRounds) -> None:
    child = parts.children.add("bus", Part.start)
    first = child.ref
    _crash(child)
    with capture_logs() as logs:
        parts.round_after(0.1)
        assert parts.children.ref_of("bus") is None
        assert child.tracker.state is PartState.RESTARTING
        parts.round_after(0.5)
        assert parts.children.ref_of("bus") is None  # 1 s backoff: not yet
        parts.round_after(0.5)
        parts.confirmed()
    again = parts.children.ref_of("bus")
    assert again is not None
    assert again is not first
    assert again.is_alive()
    assert (child.tracker.state, child.restarts) == (PartState.RUNNING, 1)
    assert parts.restarted == ["bus"]
    assert parts.stats.snapshot()["supervisor.restarts.bus"] == 1
    events = [(e["event"], e.get("retry_in_s")) for e in logs]
    assert events == [("component_died", 1.0), ("component_restarted", None)]


def test_a_part_whose_start_keeps_failing_is_given_up(parts: ChildRounds) -> None:
    with capture_logs() as logs:
        child = parts.children.add("bus", _refuses)
        for _ in range(4):
            parts.round_after(10.0)
    assert child.tracker.state is PartState.FAILED
    assert child.ref is None
    failed = [e for e in logs if e["event"] == "component_failed"]
    assert len(failed) == 1
    assert failed[0]["reason"].startswith("start failed: no such bus")
    assert parts.stats.snapshot()["supervisor.failed.bus"] == 1
    assert parts.restarted == []


def test_a_critical_part_whose_first_start_fails_raises(parts: ChildRounds) -> None:
    with pytest.raises(OSError, match="no such bus"):
        parts.children.add("bus", _refuses, critical=True)
    assert parts.children.children == []


def test_a_critical_part_given_up_is_fatal_and_another_is_not(
    parts: ChildRounds,
) -> None:
    """A critical part's flag only made its first start raise: the Clone server
    given up left raspyd running without its tree."""
    start = _in_turn(Part.start, _refuses, _refuses, _refuses)
    titanic = parts.children.add("titanic", start, critical=True)
    bus = parts.children.add("bus", _refuses)
    _crash(titanic)
    for _ in range(4):
        parts.round_after(10.0)
    assert titanic.tracker.state is bus.tracker.state is PartState.FAILED
    assert [(f.name, f.fatal) for f in parts.fatal] == [("titanic", True)]


def test_a_critical_follower_started_for_a_new_leader_stays_critical(
    parts: ChildRounds,
) -> None:
    leader = parts.children.add("clone", Part.start)
    starts = iter([Part.start, _refuses, _refuses, _refuses, _refuses])

    def follower(ref: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return next(starts)()

    parts.children.follow("web", "clone", follower, critical=True)
    _crash(leader)
    parts.round_after(0.1)
    parts.round_after(1.0)  # the leader restarted
    parts.children.follow("web", "clone", follower, critical=True)  # retried: no raise
    for _ in range(4):
        parts.round_after(10.0)
    assert [(f.name, f.fatal) for f in parts.fatal] == [("web", True)]


def test_a_follower_is_restarted_only_when_its_leader_is_replaced(
    parts: ChildRounds,
) -> None:
    leader = parts.children.add("clone", Part.start)
    started_with: list[pykka.ActorRef[Any]] = []

    def follower(ref: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        started_with.append(ref)
        return Part.start()

    parts.children.follow("web", "clone", follower)
    parts.children.follow("web", "clone", follower)  # same leader: left running
    first = leader.ref
    assert started_with == [first]
    _crash(leader)
    parts.round_after(0.1)
    parts.children.follow("web", "clone", follower)  # the leader is down: stopped
    assert parts.children.named("web") is None
    parts.round_after(1.0)
    parts.confirmed()
    assert parts.restarted == ["clone"]
    parts.children.follow("web", "clone", follower)
    assert leader.ref is not first
    assert started_with == [first, leader.ref]
    parts.children.follow("mqtt", "clone", follower, enabled=False)
    assert [c.name for c in parts.children.children] == ["clone", "web"]


def test_stop_forgets_the_selected_children_and_stops_their_actors(
    parts: ChildRounds,
) -> None:
    kept = parts.children.add("echo", Part.start)
    gone = parts.children.add("devices.fake", Part.start)
    ref = gone.ref
    assert parts.children.stop(lambda name: name.startswith("devices.")) == [gone]
    assert ref is not None
    assert not ref.is_alive()
    assert parts.children.children == [kept]
    assert parts.children.ref_of("echo") is kept.ref


def test_a_part_started_again_in_place_of_one_keeps_its_restart_count(
    parts: ChildRounds,
) -> None:
    """`raspy status` shows restarts since raspyd started: a follower replaced after
    its leader's restart, or a part a reload starts again, goes on counting (it used
    to begin at 0 again)."""
    leader = parts.children.add("clone", Part.start)
    parts.children.follow("web", "clone", lambda _leader: Part.start())
    web = parts.children.named("web")
    assert web is not None
    _crash(web)
    parts.round_after(0.1)
    parts.round_after(1.0)
    parts.confirmed()
    assert (web.tracker.state, web.restarts) == (PartState.RUNNING, 1)
    _crash(leader)
    parts.round_after(0.1)
    parts.round_after(1.0)
    parts.confirmed()
    parts.children.follow("web", "clone", lambda _leader: Part.start())
    again = parts.children.named("web")
    assert again is not None
    assert again is not web
    assert (again.tracker.state, again.restarts) == (PartState.RUNNING, 1)
    assert [(c.name, c.restarts) for c in parts.children.children] == [
        ("clone", 1),
        ("web", 1),
    ]
    parts.children.stop(lambda name: name == "clone")
    assert parts.children.add("clone", Part.start).restarts == 1


def test_a_restart_counts_once_the_part_has_run_its_on_start(
    parts: ChildRounds,
) -> None:
    """A restart was counted and logged as soon as start() returned, before the
    part's on_start ran (on its own thread): one whose on_start raised was logged
    `component_restarted` each time, then died. Now it counts once the part has
    answered; until then it stays `restarting`, and is not started again."""
    release = threading.Event()

    class SlowStart(Part):
        def on_start(self) -> None:
            release.wait(10)

    child = parts.children.add("bus", _in_turn(Part.start, SlowStart.start))
    _crash(child)
    parts.round_after(0.1)
    with capture_logs() as logs:
        parts.round_after(1.0)  # restarted: its on_start has not run through
        parts.round_after(10.0)
        assert (child.tracker.state, child.restarts) == (PartState.RESTARTING, 0)
        assert logs == []
        release.set()
        wait_until(lambda: child.ref is not None and child.ref.is_alive(), what="up")

        def counted() -> bool:
            parts.round_after(0.0)
            return child.restarts == 1

        wait_until(counted, what="the restart counted")
    assert child.tracker.state is PartState.RUNNING
    assert [(e["event"], e["count"]) for e in logs] == [("component_restarted", 1)]
    assert parts.restarted == ["bus"]


class Asked(pykka.ThreadingActor):
    """Answers "alive?" while running: what a stop asked of it before stopping it."""

    def on_receive(self, message: Any) -> Any:
        return "alive"


def test_every_stop_asks_a_part_to_prepare_first_while_it_is_alive(
    parts: ChildRounds,
) -> None:
    """prepare_stop is asked of the running actor before ChildSet.stop and
    ChildSet.stop_all stop it (Titanic answers its clients then: once stopping, an
    actor can be told nothing); a dead actor or a hook that fails does not keep the
    part from being stopped, and the failure is named."""
    answers: list[str] = []

    def prepare(ref: pykka.ActorRef[Any]) -> None:
        answers.append(ref.ask("alive?", block=True, timeout=5))

    def refuse(ref: pykka.ActorRef[Any]) -> None:
        raise pykka.Timeout("no answer within 3 s")

    reloaded = parts.children.add("titanic", Asked.start, prepare_stop=prepare)
    parts.children.stop(lambda name: name == "titanic")
    last = parts.children.add("titanic", Asked.start, prepare_stop=prepare)
    dead = parts.children.add("dead", Asked.start, prepare_stop=prepare)
    failing = parts.children.add("failing", Asked.start, prepare_stop=refuse)
    assert dead.ref is not None
    dead.ref.stop()
    with capture_logs() as logs:
        assert parts.children.stop_all() == []
    assert answers == ["alive", "alive"]
    for child in (reloaded, last, failing):
        assert child.ref is not None
        assert not child.ref.is_alive()
    assert logs == [
        {
            "event": "component_prepare_stop_failed",
            "component": "failing",
            "reason": "no answer within 3 s",
            "log_level": "warning",
        }
    ]


def test_a_part_whose_on_start_raises_says_what_it_raised(parts: ChildRounds) -> None:
    """A part whose on_start raised stopped before it answered: its reason (what
    `.mmi` and /stats/ show) was pykka's "… stopped before handling the message",
    not what ended its start. It is that exception now."""

    class NoBus(Part):
        def on_start(self) -> None:
            raise OSError("no such bus")

    child = parts.children.add("bus", _in_turn(Part.start, NoBus.start))
    _crash(child)
    parts.round_after(0.1)
    parts.round_after(1.0)  # restarted: its on_start raises on its own thread

    def seen_dead() -> bool:
        parts.round_after(0.0)
        return child.starting is None

    wait_until(seen_dead, what="its start seen to fail")
    reason = child.tracker.status().reason
    assert reason == "stopped as it started: OSError: no such bus"
