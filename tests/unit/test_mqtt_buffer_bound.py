"""The bridge's bounded buffer when it is full (raspy.mqtt.buffer, mirror): a flood
of command results never pushes out a retained value, and a retained value pushed
out by others is sent again, not counted as sent for ever."""

from __future__ import annotations

import pytest

from raspy.backoff import BackoffPolicy
from raspy.config import MqttConfig
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.core import BridgeCore, BridgeSettings
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.link_core import LinkCore
from raspy.mqtt.session import MqttSession
from raspy.mqtt.topics import TopicMap
from raspy.stats import Stats

pytestmark = pytest.mark.timeout(30)

NOW = 100.0
BOUND = 3


def _core() -> BridgeCore:
    return BridgeCore(
        BridgeSettings(
            topics=TopicMap("raspy", "pi"),
            exposed=GlobFilter(["/device/*"], rooted=True),
            commandable=GlobFilter(["pi.gpio.*"]),  # the fake lamp: 403 at once
            actions=frozenset({"set"}),
            discovery=None,
            scenario_buttons=False,
            max_buffered=BOUND,
        )
    )


def _value(name: str, body: bytes) -> Message:
    return Message(f"raspy/pi/fake/{name}/value", body)


def _link(core: BridgeCore, window: int) -> LinkCore:
    session = MqttSession(
        BackoffPolicy(initial_s=0.5, max_s=4.0, stable_s=30.0), max_inflight=window
    )
    link = LinkCore(MqttConfig(), core, Stats(), session)
    link.connecting(NOW)
    link.connected(NOW, [])
    return link


def test_a_flood_of_results_is_dropped_and_counted_not_the_values() -> None:
    core = _core()
    for name in ("a", "b", "c"):
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    for _ in range(10):
        core.command("raspy/pi/fake/a/set", b"ON", NOW)  # each a 403 on …/result
    assert core.buffer.dropped == 10
    assert core.buffer.take(10) == [
        _value("a", b"1"),
        _value("b", b"1"),
        _value("c", b"1"),
    ]


def test_a_result_still_goes_when_there_is_room() -> None:
    core = _core()
    core.command("raspy/pi/fake/a/set", b"ON", NOW)
    assert [m.topic for m in core.buffer.take(10)] == ["raspy/pi/fake/a/result"]
    assert core.buffer.dropped == 0


def test_a_value_evicted_by_other_values_is_sent_again_at_its_next_write() -> None:
    core = _core()
    for name in ("a", "b", "c", "d"):  # a is pushed out, unsent
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    assert core.buffer.dropped == 1
    core.buffer.take(10)
    core.key_changed("/device/pi.fake.a/value", b"1", NOW)  # the same value again
    assert core.buffer.take(10) == [_value("a", b"1")]
    core.key_changed("/device/pi.fake.a/value", b"1", NOW)  # sent now: no more
    assert core.buffer.take(10) == []


def test_a_value_evicted_goes_out_once_the_link_has_taken_room() -> None:
    """No further write needed: the link's next take makes room and it is queued."""
    core = _core()
    link = _link(core, window=2)
    for name in ("a", "b", "c", "d", "e"):  # a and b pushed out, unsent
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    published: list[Message] = []
    for _ in range(5):
        published += link.take(NOW)
        for _ in range(2):
            link.acknowledged()
    assert sorted(m.topic for m in published) == [
        f"raspy/pi/fake/{name}/value" for name in ("a", "b", "c", "d", "e")
    ]
    assert len(core.buffer) == 0


def test_an_evicted_clear_is_queued_again_at_a_reconnect() -> None:
    core = _core()
    core.key_changed("/device/pi.fake.a/value", b"1", NOW)
    core.buffer.take(10)
    core.key_changed("/device/pi.fake.a/value", b"", NOW)  # cleared ...
    for name in ("b", "c", "d"):  # ... and that clear pushed out
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    core.buffer.take(10)
    core.connected(NOW)
    assert _value("a", b"") in core.buffer.take(10)


def test_a_buffer_hands_what_it_evicts_to_its_owner() -> None:
    buffer = CoalescingBuffer(1)
    evicted: list[Message] = []
    buffer.on_evicted = evicted.append
    buffer.put(Message("a", b"1"))
    buffer.put(Message("r", b"x", retain=False))  # full: dropped, a stays
    assert (buffer.dropped, "a" in buffer, "r" in buffer) == (1, True, False)
    buffer.put(Message("b", b"1"))  # full: a goes
    assert (buffer.dropped, evicted) == (2, [Message("a", b"1")])
    assert buffer.take(5) == [Message("b", b"1")]


def test_messages_that_are_not_retained_are_each_kept_in_their_turn() -> None:
    """A state is replaced by its newer value; an answer or a gesture is news: six
    commands sent in a burst get six answers, in order, and a retained value of the
    same topic still replaces only its own older value."""
    buffer = CoalescingBuffer(100)
    for n in range(6):
        buffer.put(Message("r/result", str(n).encode(), retain=False))
    buffer.put(Message("v", b"1"))
    buffer.put(Message("v", b"2"))
    taken = buffer.take(100)
    assert [(m.topic, m.payload) for m in taken] == [
        *[("r/result", str(n).encode()) for n in range(6)],
        ("v", b"2"),
    ]
