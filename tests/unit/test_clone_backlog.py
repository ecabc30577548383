"""The Clone collector's pause (raspy.cores.clone_backlog): paused over the limit,
read on at the low-water mark, not in between; the subscribers' backlogs it reads."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import pykka
import pytest
from support.wait import wait_until

from raspy.actors.clone.publisher import Subscribers
from raspy.actors.core import CoreActor
from raspy.cores.clone_backlog import (
    PAUSED_CHECK_S,
    CollectorGate,
    Paused,
    Resumed,
)
from raspy.rules.tree_view import Routes


def _paused(gate: CollectorGate) -> bool:
    return gate.paused


def test_the_collector_pauses_over_the_limit_and_reads_on_at_the_low_water_mark() -> (
    None
):
    gate = CollectorGate(limit=100, resume_at=50)
    assert gate.on_backlog(100, 1.0) is None  # at the limit: still read
    assert not _paused(gate)
    assert gate.next_check(1.0) is None  # reading: no timer of its own
    assert gate.on_backlog(101, 2.0) == Paused(101)
    assert _paused(gate)
    assert gate.next_check(2.0) == 2.0 + PAUSED_CHECK_S
    assert gate.on_backlog(500, 2.1) is None  # paused already: no second pause
    assert gate.on_backlog(51, 2.2) is None  # between the marks: still paused
    resumed = gate.on_backlog(50, 2.5)
    assert isinstance(resumed, Resumed)
    assert resumed.paused_s == pytest.approx(0.5)
    assert not _paused(gate)
    assert gate.on_backlog(99, 2.6) is None  # between the marks: still read


def test_a_low_water_mark_not_under_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="resume_at"):
        CollectorGate(limit=100, resume_at=100)


class _Backlogged:
    """A subscriber stand-in: no actor inbox, so its default backlog is 0."""

    def tell(self, message: object) -> None:
        pass


def _ref(thing: object) -> pykka.ActorRef[Any]:
    return cast("pykka.ActorRef[Any]", thing)


def test_the_largest_backlog_is_the_slowest_subscribers_and_names_it() -> None:
    subscribers = Subscribers()
    assert subscribers.largest_backlog() == (0, "")
    quick, slow, plain = _Backlogged(), _Backlogged(), _Backlogged()
    subscribers.add(b"/a/", _ref(quick), backlog=lambda: 3)
    subscribers.add(b"/", _ref(slow), backlog=lambda: 7)
    subscribers.add(b"/b/", _ref(plain))
    assert subscribers.largest_backlog() == (7, "_Backlogged")
    subscribers.remove(_ref(slow))  # an unsubscribed one is not waited for
    assert subscribers.largest_backlog() == (3, "_Backlogged")


class _Held(pykka.ThreadingActor):
    """Holds its first message until `release` is set."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def on_receive(self, message: Any) -> None:
        self.release.wait(30)


def test_an_actors_backlog_is_its_inbox_by_default() -> None:
    release = threading.Event()
    ref = _Held.start(release)
    try:
        for index in range(3):
            ref.tell(index)
        subscribers = Subscribers()
        subscribers.add(b"/", ref)
        # the first is taken and held, two wait
        wait_until(lambda: subscribers.largest_backlog() == (2, "_Held"), what="2")
        release.set()
        wait_until(lambda: subscribers.largest_backlog() == (0, ""), what="none")
    finally:
        release.set()
        ref.stop()


def test_routes_list_every_target_routed_to() -> None:
    routes: Routes[str] = Routes()
    assert list(routes.targets) == []
    routes.add("a", "ref-a", ["/x/#"])
    routes.add("b", "ref-b", ["/y/#"])
    assert list(routes.targets) == ["ref-a", "ref-b"]
    routes.remove("a")
    assert list(routes.targets) == ["ref-b"]


def test_the_cores_backlog_is_the_largest_of_its_inbox_and_its_scenarios() -> None:
    """The core tells key changes on to its scenario actors: one of them behind is
    the core behind, for the Clone server's collector."""
    release = threading.Event()
    core, quiet, busy = (_Held.start(release) for _ in range(3))
    try:
        routes: Routes[pykka.ActorRef[Any]] = Routes()
        routes.add("quiet", quiet, ["/a/#"])
        routes.add("busy", busy, ["/b/#"])
        stand_in = SimpleNamespace(actor_ref=core, routes=routes)
        for ref, count in ((core, 2), (quiet, 1), (busy, 4)):
            for index in range(count):
                ref.tell(index)
        # each takes its first and holds it; 1, 0 and 3 wait
        wait_until(lambda: CoreActor.backlog(cast(Any, stand_in)) == 3, what="3")
        routes.remove("busy")  # a stopped scenario is not waited for
        assert CoreActor.backlog(cast(Any, stand_in)) == 1
    finally:
        release.set()
        for ref in (core, quiet, busy):
            ref.stop()
