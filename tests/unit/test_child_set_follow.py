"""ChildSet.follow for a follower that also runs without its leader (the web face
of a daemon with or without a Clone server), with plain pykka actors and the
supervision rounds driven by the test on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.wait import wait_until

from raspy.backoff import BackoffPolicy
from raspy.child_set import Child, ChildSet
from raspy.cores.supervision import PartState, RestartPolicy
from raspy.stats import Stats

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=5,
    window_s=100.0,
)


class Crash:
    """Told to a Part: it raises, so pykka stops it."""


class Part(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("lost the bus")


class Parts:
    """A ChildSet and a record of what each follower start was given."""

    def __init__(self) -> None:
        self.clock = FakeClock(monotonic=0.0)
        self.children = ChildSet(lambda: POLICY, self.clock, Stats(), self._restarted)
        self.started_with: list[pykka.ActorRef[Any] | None] = []
        self.refuse = False

    def _restarted(self, child: Child) -> None:
        if child.name == "clone" and self.children.named("web") is not None:
            self.follow()  # as raspyd does: the followers move to the new leader

    def follower(self, leader: pykka.ActorRef[Any] | None) -> pykka.ActorRef[Any]:
        self.started_with.append(leader)
        if self.refuse:
            raise OSError("port taken")
        return Part.start()

    def follow(self, *, critical: bool = False) -> None:
        self.children.follow(
            "web", "clone", self.follower, critical=critical, without_leader=True
        )

    def round_after(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.children.check(self.clock.monotonic())

    def confirmed(self) -> None:
        """Rounds at this time until each restart's on_start has answered: a round
        waits on no part, the next ones look."""

        def settled() -> bool:
            self.children.check(self.clock.monotonic())
            return all(child.starting is None for child in self.children.children)

        wait_until(settled, what="the restarts confirmed")

    def names(self) -> list[str]:
        return [child.name for child in self.children.children]


@pytest.fixture
def parts() -> Iterator[Parts]:
    made = Parts()
    yield made
    made.children.stop_all()


def _crash(child: Child | None) -> None:
    assert child is not None
    ref = child.ref
    assert ref is not None
    ref.tell(Crash())
    wait_until(lambda: not ref.is_alive(), what="the actor dead")


def test_a_follower_without_leader_runs_when_there_is_none(parts: Parts) -> None:
    parts.follow()
    parts.follow()  # still no leader: left running
    assert parts.started_with == [None]
    web = parts.children.named("web")
    assert web is not None
    assert web.ref is not None
    assert web.ref.is_alive()


def test_a_follower_without_leader_moves_to_a_new_leader_and_back(
    parts: Parts,
) -> None:
    leader = parts.children.add("clone", Part.start)
    parts.follow()
    first = leader.ref
    assert parts.started_with == [first]
    _crash(leader)
    parts.round_after(0.1)
    parts.follow()  # the leader is down: bound to its absence, as with none at all
    assert parts.started_with == [first, None]
    parts.round_after(1.0)  # the leader is restarted
    assert leader.ref is not first
    parts.follow()
    parts.follow()
    assert parts.started_with == [first, None, leader.ref]
    assert parts.names() == ["clone", "web"]


def test_a_crashed_follower_is_restarted_with_the_same_leader(parts: Parts) -> None:
    """The supervisor's restart of the child repeats the start it was added with."""
    leader = parts.children.add("clone", Part.start)
    parts.follow(critical=True)
    _crash(parts.children.named("web"))
    parts.round_after(0.1)
    parts.round_after(1.0)
    parts.confirmed()
    web = parts.children.named("web")
    assert web is not None
    assert web.restarts == 1
    assert parts.started_with == [leader.ref, leader.ref]


def test_only_the_first_start_of_a_critical_follower_raises(parts: Parts) -> None:
    parts.refuse = True
    with pytest.raises(OSError, match="port taken"):
        parts.follow(critical=True)
    assert parts.names() == []
    parts.refuse = False
    leader = parts.children.add("clone", Part.start)
    parts.follow(critical=True)
    first = leader.ref
    parts.refuse = True
    _crash(leader)
    parts.round_after(0.1)
    parts.round_after(1.0)  # the leader is restarted: a new one to follow
    assert leader.ref is not first
    parts.follow(critical=True)  # fails, and is retried with backoff
    web = parts.children.named("web")
    assert web is not None
    assert web.ref is None
    assert web.tracker.state is PartState.RESTARTING
    parts.refuse = False
    parts.round_after(1.0)
    assert parts.children.ref_of("web") is not None
    assert parts.started_with == [None, first, leader.ref, leader.ref]


def test_a_follower_that_needs_its_leader_is_not_started_without_it(
    parts: Parts,
) -> None:
    started: list[pykka.ActorRef[Any]] = []

    def needs_leader(leader: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        started.append(leader)
        return Part.start()

    parts.children.follow("mqtt", "clone", needs_leader)
    assert parts.names() == []
    assert started == []


def test_a_follower_replaced_during_a_round_is_not_restarted_by_it(
    parts: Parts,
) -> None:
    """Leader and follower both down and due in one round: the leader's restart
    replaces the follower, and the round leaves the replaced one alone (no
    untracked actor bound to the dead leader, no death reported for it)."""
    leader = parts.children.add("clone", Part.start)
    parts.follow()
    first = leader.ref
    _crash(parts.children.named("web"))
    parts.round_after(0.1)  # the follower is down: due at 1.1
    _crash(leader)
    parts.round_after(0.1)  # the leader is down: due at 1.2
    with capture_logs() as logs:
        parts.round_after(1.1)  # the leader restarted; the follower left to it
        parts.confirmed()
    assert parts.started_with == [first, leader.ref]
    assert [(e["event"], e["component"]) for e in logs] == [
        ("component_restarted", "clone"),
        ("component_started", "web"),
    ]
    assert len(pykka.ActorRegistry.get_by_class(Part)) == 2
