"""A part's own actors watched with it (raspy.hang_watch.Inner: the core's scenario
actors): real pykka actors, one blocked on the test's Event, rounds driven by the
test on a fake clock. The part answered its ping while one of its actors was stuck,
and all read healthy; now that actor's silence past the bound is the part hung."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.child_rounds import ChildRounds

from raspy.backoff import BackoffPolicy
from raspy.child_set import Child
from raspy.cores.supervision import Failed, PartState, RestartPolicy
from raspy.hang_watch import Inner

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0), hung_after_s=60.0
)
RELEASE = threading.Event()  # set by the fixture at the end: nothing stays blocked


class Block:
    pass


class Scenario(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Block):
            RELEASE.wait(30)
        return "here"


class Core(pykka.ThreadingActor):
    """Runs two scenario actors of its own, listed as the real core lists them."""

    def __init__(self) -> None:
        super().__init__()
        self.watched: tuple[tuple[str, pykka.ActorRef[Any]], ...] = ()

    def on_start(self) -> None:
        self.watched = (("lamp", Scenario.start()), ("fan", Scenario.start()))

    def on_stop(self) -> None:
        for _, ref in self.watched:
            ref.stop(block=False)

    def scenario_actors(self) -> Inner:
        return Inner("scenario", lambda: self.watched)

    def forget(self, name: str) -> None:
        self.watched = tuple(pair for pair in self.watched if pair[0] != name)

    def on_receive(self, message: Any) -> Any:
        return "here"


def _scenarios(ref: pykka.ActorRef[Any]) -> pykka.Future[Inner]:
    answer: pykka.Future[Inner] = ref.proxy().scenario_actors()
    return answer


class CoreRounds(ChildRounds):
    """The core its one part, asked for its scenario actors; each round then waits
    until the core and every scenario actor not blocked have answered."""

    def __init__(self) -> None:
        super().__init__(POLICY)
        self.core = self.children.add("core", Core.start, inner_ask=_scenarios)
        self.blocked: set[str] = set()
        # its on_start and the question of its scenario actors done before the
        # first round, which confirms its start, takes the answer and asks each
        # (else that round raced the actor's thread: the timeline moved a round)
        assert _ref(self.core).ask("here?", timeout=10) == "here"

    def round_after(self, seconds: float) -> None:
        super().round_after(seconds)
        self.answered()

    def scenario(self, name: str) -> pykka.ActorRef[Any]:
        ref = _ref(self.core)
        watched = ref.proxy().watched.get(timeout=10)
        return next(actor for each, actor in watched if each == name)

    def answered(self) -> None:
        """Whatever was asked before now has been answered by the core and every
        scenario actor listed and not blocked (each inbox is in order): the next
        round sees it."""
        core = _ref(self.core)
        assert core.ask("here?", timeout=10) == "here"
        for name, ref in core.proxy().watched.get(timeout=10):
            if name not in self.blocked:
                assert ref.ask("here?", timeout=10) == "here"


@pytest.fixture
def parts() -> Iterator[CoreRounds]:
    RELEASE.clear()
    made = CoreRounds()
    yield made
    RELEASE.set()
    made.children.stop_all()


def _state(child: Child) -> PartState:
    return child.tracker.state


def _ref(child: Child) -> pykka.ActorRef[Any]:
    assert child.ref is not None
    return child.ref


@pytest.mark.timeout(30)
def test_a_scenario_actor_blocked_is_its_core_hung_named_and_counted(
    parts: CoreRounds,
) -> None:
    parts.round_after(0.0)  # started; the scenario actors listed and each asked
    parts.blocked.add("lamp")
    parts.scenario("lamp").tell(Block())
    with capture_logs() as logs:
        parts.round_after(20.0)  # its last answer taken: asked again 20 s after
        parts.round_after(20.0)  # lamp asked again, left unanswered
        parts.round_after(60.0)  # silent 60 s: not past the bound
        assert _state(parts.core) is PartState.RUNNING
        assert parts.fatal == []
        parts.round_after(0.5)
        parts.round_after(10.0)  # said once
    assert _state(parts.core) is PartState.HUNG
    reason = (
        "no answer from its scenario lamp for 60.5 s (supervisor.hung_after_s = 60)"
    )
    assert parts.fatal == [Failed("core", reason, fatal=True, hung=True)]
    assert [(e["event"], e["component"], e["scenario"]) for e in logs] == [
        ("component_hung", "core", "lamp")
    ]
    assert parts.stats.get("core.scenarios_hung") == 1
    assert parts.stats.get("supervisor.hung.core") == 1


@pytest.mark.timeout(30)
def test_a_scenario_actor_gone_from_the_list_is_no_longer_watched(
    parts: CoreRounds,
) -> None:
    """The core lists a scenario actor while it runs or stops (one whose stop timed
    out stays while alive); once it is gone from the list, its question is dropped."""
    parts.round_after(0.0)
    parts.blocked.add("lamp")
    parts.scenario("lamp").tell(Block())
    parts.round_after(20.0)  # its last answer taken
    parts.round_after(20.0)  # lamp asked, left unanswered
    _ref(parts.core).proxy().forget("lamp").get(timeout=10)
    with capture_logs() as logs:
        for _ in range(6):
            parts.round_after(20.0)
    assert _state(parts.core) is PartState.RUNNING
    assert parts.fatal == []
    assert logs == []
