"""A part stopped to be started again (a reload, a new leader) whose actor has not
stopped within its time (a handler still busy) runs on: no part of the same name may
start beside it, both holding the same pins, port or MQTT client id. Plain pykka
actors, rounds driven by the test on a fake clock; the one fake is a message that
keeps a part's thread busy until the test lets go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.child_rounds import ChildRounds
from support.wait import wait_until

from raspy import child_set
from raspy.backoff import BackoffPolicy
from raspy.cores.supervision import PartState, RestartPolicy

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=3,
    window_s=100.0,
)


class Busy:
    """Keeps the part that receives it busy until `release` is set."""

    def __init__(self) -> None:
        self.busy, self.release = threading.Event(), threading.Event()


_HELD: list[Busy] = []  # let go at each test's end, whatever it found


class Part(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Busy):
            message.busy.set()
            message.release.wait(30)
        return None


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChildRounds]:
    monkeypatch.setattr(child_set, "STOP_TIMEOUT_S", 0.2)
    made = ChildRounds(POLICY)
    yield made
    for busy in _HELD:
        busy.release.set()
    _HELD.clear()
    made.children.stop_all()


def _busy(ref: pykka.ActorRef[Any] | None) -> Busy:
    assert ref is not None
    busy = Busy()
    _HELD.append(busy)
    ref.tell(busy)
    assert busy.busy.wait(5)
    return busy


def _waits_for(parts: ChildRounds, name: str, old: pykka.ActorRef[Any]) -> None:
    """No `name` runs beside `old`, in its start nor through a round that would
    restart it; the status says why."""
    waiting = parts.children.named(name)
    assert waiting is not None
    assert waiting.ref is None
    assert waiting.tracker.state is PartState.RESTARTING
    assert "previous Part has not stopped yet" in waiting.tracker.status().reason
    parts.round_after(1.0)  # due, and refused again: the old one still runs
    assert old.is_alive()
    assert waiting.ref is None


def test_a_part_stopped_and_added_again_waits_for_its_old_actor(
    parts: ChildRounds,
) -> None:
    """What a reload does to the device services: stop them, add them anew."""
    first = parts.children.add("devices.gpio", Part.start)
    old = first.ref
    assert old is not None
    busy = _busy(old)
    with capture_logs() as logs:
        parts.children.stop(lambda name: name == "devices.gpio")
        assert old.is_alive()  # its stop timed out
        parts.children.add("devices.gpio", Part.start)
    assert any(
        e["event"] == "component_previous_not_stopped"
        and e["component"] == "devices.gpio"
        for e in logs
    )
    _waits_for(parts, "devices.gpio", old)
    busy.release.set()
    wait_until(lambda: not old.is_alive(), what="the old part stopped")
    parts.round_after(2.0)
    new = parts.children.named("devices.gpio")
    assert new is not None
    assert new.ref is not None
    assert new.ref is not old
    assert new.ref.is_alive()


class Stopping(Busy):
    """An on_stop kept busy until `release` is set; `ended` once it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = threading.Event()


class SlowToStop(pykka.ThreadingActor):
    """A part whose on_stop lets go of what it holds only when the test says."""

    def __init__(self, stopping: Stopping) -> None:
        super().__init__()
        self.stopping = stopping

    def on_stop(self) -> None:
        self.stopping.busy.set()
        self.stopping.release.wait(30)
        self.stopping.ended.set()


def test_a_part_waits_for_its_old_actors_on_stop_to_end(parts: ChildRounds) -> None:
    """pykka calls an actor dead as soon as its stop begins, while its on_stop may
    still be closing the pins, the port or the store it holds: the new part waits
    for the stop itself to end."""
    stopping = Stopping()
    _HELD.append(stopping)
    first = parts.children.add("devices.gpio", lambda: SlowToStop.start(stopping))
    old = first.ref
    assert old is not None
    parts.children.stop(lambda name: name == "devices.gpio")
    assert stopping.busy.is_set()  # in its on_stop past the stop's time
    assert not old.is_alive()  # what pykka says of it already
    parts.children.add("devices.gpio", Part.start)
    waiting = parts.children.named("devices.gpio")
    assert waiting is not None
    assert waiting.ref is None
    assert "previous SlowToStop has not stopped yet" in waiting.tracker.status().reason
    parts.round_after(1.0)
    assert waiting.ref is None  # its old one still in its on_stop
    stopping.release.set()
    assert stopping.ended.wait(5)

    def started() -> bool:
        parts.round_after(1.0)
        return parts.children.ref_of("devices.gpio") is not None

    wait_until(started, what="the new part started once the old one's stop ended")
    assert parts.children.ref_of("devices.gpio") is not old


def test_a_part_turned_off_then_on_waits_for_its_old_actor(
    parts: ChildRounds,
) -> None:
    """Two reloads: the part stopped and not added (turned off), then added."""
    first = parts.children.add("titanic", Part.start, critical=True)
    old = first.ref
    assert old is not None
    busy = _busy(old)
    parts.children.stop(lambda name: name == "titanic")
    parts.children.add("titanic", Part.start, critical=True, retried=True)
    _waits_for(parts, "titanic", old)
    busy.release.set()
    wait_until(lambda: not old.is_alive(), what="the old part stopped")
    parts.round_after(2.0)
    assert parts.children.ref_of("titanic") is not None


def test_a_follower_of_a_new_leader_waits_for_its_old_actor(
    parts: ChildRounds,
) -> None:
    """A new Clone server: its followers (the web face, the MQTT bridge) are stopped
    and started again; one still busy must not have a twin on its port, its id."""
    children = parts.children
    leader = children.add("clone", Part.start)

    def follow() -> None:
        children.follow("mqtt", "clone", lambda clone: Part.start(), critical=True)

    follow()
    old = children.ref_of("mqtt")
    assert old is not None
    busy = _busy(old)
    assert leader.ref is not None
    leader.ref.stop()
    parts.round_after(0.1)  # the leader is found dead: the follower waits for it
    parts.round_after(1.0)  # the leader restarted
    parts.confirmed()
    assert leader.ref is not None
    assert leader.ref.is_alive()
    follow()  # as raspyd does after the leader's restart
    assert old.is_alive()
    _waits_for(parts, "mqtt", old)
    follow()  # again (the web face follows at every restart): still waiting
    assert children.ref_of("mqtt") is None
    busy.release.set()
    wait_until(lambda: not old.is_alive(), what="the old follower stopped")
    parts.round_after(2.0)
    new = children.ref_of("mqtt")
    assert new is not None
    assert new is not old


def test_the_last_stop_names_an_old_actor_still_running(parts: ChildRounds) -> None:
    """raspyd's stop: a part stopped by a reload that has not ended since is still
    running, as one of its children would be (raspyd exits 1, naming it)."""
    first = parts.children.add("devices.onewire", Part.start)
    old = first.ref
    assert old is not None
    _busy(old)
    parts.children.stop(lambda name: name == "devices.onewire")  # turned off
    assert parts.children.stop_all() == ["devices.onewire"]
    assert old.is_alive()


def test_a_critical_part_is_not_given_up_while_its_old_actor_is_within_the_bound(
    parts: ChildRounds,
) -> None:
    """Each refused start counted as a crash: with a short backoff a critical part
    (Titanic, the web face) was given up in seconds and raspyd exited, while the old
    actor was only slow (a handler of 30 s). Its start waits, not counted, and
    the status says for what."""
    first = parts.children.add("titanic", Part.start, critical=True)
    old = first.ref
    assert old is not None
    busy = _busy(old)
    parts.children.stop(lambda name: name == "titanic")
    parts.children.add("titanic", Part.start, critical=True, retried=True)
    with capture_logs() as logs:
        for _ in range(55):  # far more tries than max_restarts, within the bound
            parts.round_after(1.0)
    assert parts.fatal == []
    waiting = parts.children.named("titanic")
    assert waiting is not None
    assert waiting.tracker.state is PartState.RESTARTING
    assert "previous Part has not stopped yet" in waiting.tracker.status().reason
    assert not [e for e in logs if e["event"] == "component_died"]  # no log flood
    busy.release.set()
    wait_until(lambda: not old.is_alive(), what="the old part stopped")
    parts.round_after(1.0)
    parts.confirmed()
    new = parts.children.named("titanic")
    assert new is not None
    assert new.ref is not None
    assert new.tracker.state is PartState.RUNNING


@pytest.mark.parametrize("added_again", [True, False])
def test_an_old_actor_still_running_past_hung_after_s_is_hung_and_fatal(
    parts: ChildRounds, added_again: bool
) -> None:
    """An old actor that never ends holds what its part needs for good: hung, as a
    part blocked in a handler is, named once, and fatal, critical part or not
    (raspyd exits 1 for systemd to start it fresh)."""
    first = parts.children.add("devices.gpio", Part.start)
    old = first.ref
    assert old is not None
    _busy(old)
    parts.children.stop(lambda name: name == "devices.gpio")
    if added_again:
        parts.children.add("devices.gpio", Part.start)
    with capture_logs() as logs:
        parts.round_after(POLICY.hung_after_s)
        assert parts.fatal == []
        parts.round_after(1.0)
        parts.round_after(1.0)
    (fatal,) = parts.fatal
    assert fatal.name == "devices.gpio"
    assert fatal.reason == (
        "no answer from its previous actor to its stop for 61 s "
        "(supervisor.hung_after_s = 60)"
    )
    hung = [e for e in logs if e["event"] == "component_hung"]
    assert [(e["component"], e["previous"]) for e in hung] == [("devices.gpio", True)]
    if added_again:
        waiting = parts.children.named("devices.gpio")
        assert waiting is not None
        assert waiting.tracker.state is PartState.HUNG


def test_an_old_actors_hang_is_counted_from_the_ask_to_stop(parts: ChildRounds) -> None:
    """hung_after_s runs from when the part was asked to stop, not from when its
    stop's own wait (and a slow prepare_stop before it) gave up."""
    first = parts.children.add(
        "devices.gpio",
        Part.start,
        prepare_stop=lambda ref: parts.clock.advance(5.0),  # a prepare of 5 s
    )
    old = first.ref
    assert old is not None
    _busy(old)
    parts.children.stop(lambda name: name == "devices.gpio")
    parts.round_after(POLICY.hung_after_s - 5.0 + 1.0)  # 61 s after the ask
    (fatal,) = parts.fatal
    assert fatal.reason == (
        "no answer from its previous actor to its stop for 61 s "
        "(supervisor.hung_after_s = 60)"
    )
