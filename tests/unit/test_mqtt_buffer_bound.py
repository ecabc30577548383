"""The bridge's bounded buffer when it is full (raspy.mqtt.buffer, mirror): what goes
is what can be sent again (a retained value, which the Mirror queues again once there
is room), never a command's result while a value could go instead, and a value put
off is sent again, not counted as sent for ever."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_a_flood_of_results_puts_the_values_off_and_drops_only_results() -> None:
    """Full, a result takes the place of a retained value (the Mirror sends it
    again once there is room), never of another result: with nothing but results
    queued, the one that comes is dropped."""
    core = _core()
    link = _link(core, window=10)
    link.take(NOW)  # (the connect's `online` apart)
    for name in ("a", "b", "c"):
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    for _ in range(10):
        core.command("raspy/pi/fake/a/set", b"ON", NOW)  # each a 403 on …/result
    assert core.buffer.dropped == 10  # three values put off, seven results dropped
    published = link.take(NOW) + link.take(NOW)  # the values once there is room
    assert [m.topic for m in published[:3]] == ["raspy/pi/fake/a/result"] * 3
    assert sorted(m.topic for m in published[3:]) == [
        f"raspy/pi/fake/{name}/value" for name in ("a", "b", "c")
    ]


def test_a_value_never_pushes_out_a_result_waiting_before_it() -> None:
    """A result cannot be sent again, a value can: a value that comes to a full
    buffer waits outside it (it pushed out the oldest message, a result, before)."""
    core = _core()
    core.key_changed("/device/pi.fake.a/value", b"1", NOW)
    core.command("raspy/pi/fake/a/set", b"ON", NOW)  # a 403 on …/result
    core.key_changed("/device/pi.fake.b/value", b"1", NOW)  # full now
    core.key_changed("/device/pi.fake.c/value", b"1", NOW)  # waits
    assert core.buffer.dropped == 1
    assert [m.topic for m in core.buffer.take(10)] == [
        "raspy/pi/fake/a/value",
        "raspy/pi/fake/a/result",
        "raspy/pi/fake/b/value",
    ]
    assert core.refill() == 1
    assert core.buffer.take(10) == [_value("c", b"1")]


def test_a_result_puts_off_the_newest_value_not_the_one_next_to_go() -> None:
    """The head of the queue still drains in order (a discovery config ahead of
    the state it names); the newest value waits for room."""
    buffer = CoalescingBuffer(2)
    evicted: list[Message] = []
    buffer.on_evicted = evicted.append
    buffer.put(Message("config", b"{}"))
    buffer.put(Message("state", b"1"))
    buffer.put(Message("r/result", b"{}", retain=False))
    assert evicted == [Message("state", b"1")]
    assert buffer.take(5) == [
        Message("config", b"{}"),
        Message("r/result", b"{}", retain=False),
    ]


def test_a_result_still_goes_when_there_is_room() -> None:
    core = _core()
    core.command("raspy/pi/fake/a/set", b"ON", NOW)
    assert [m.topic for m in core.buffer.take(10)] == ["raspy/pi/fake/a/result"]
    assert core.buffer.dropped == 0


def test_a_value_evicted_by_other_values_is_sent_again_at_its_next_write() -> None:
    core = _core()
    for name in ("a", "b", "c", "d"):  # d waits outside, unsent
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    assert core.buffer.dropped == 1
    core.buffer.take(10)
    core.key_changed("/device/pi.fake.d/value", b"1", NOW)  # the same value again
    assert core.buffer.take(10) == [_value("d", b"1")]
    core.key_changed("/device/pi.fake.d/value", b"1", NOW)  # sent now: no more
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
    for name in ("b", "c", "d"):  # the buffer full ...
        core.key_changed(f"/device/pi.fake.{name}/value", b"1", NOW)
    core.key_changed("/device/pi.fake.a/value", b"", NOW)  # ... the clear waits
    core.buffer.take(10)
    core.connected(NOW)  # the mirror again, the clear behind it
    taken = core.buffer.take(10)
    core.refill()
    assert _value("a", b"") in taken + core.buffer.take(10)


def test_a_buffer_hands_what_it_evicts_to_its_owner() -> None:
    buffer = CoalescingBuffer(1)
    evicted: list[Message] = []
    buffer.on_evicted = evicted.append
    buffer.put(Message("r", b"x", retain=False))
    buffer.put(Message("r", b"y", retain=False))  # full of news: dropped
    assert (buffer.dropped, evicted) == (1, [])
    buffer.put(Message("a", b"1"))  # full: a waits outside, r stays
    assert (buffer.dropped, evicted) == (2, [Message("a", b"1")])
    assert buffer.take(5) == [Message("r", b"x", retain=False)]
    buffer.put(Message("b", b"1"))
    buffer.put(Message("b", b"2"))  # its own topic's: replaced, nothing goes
    assert (buffer.dropped, buffer.take(5)) == (2, [Message("b", b"2")])


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


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.booleans()), max_size=60))
def test_only_what_can_be_sent_again_goes_while_there_is_any(
    puts: list[tuple[str, bool]],
) -> None:
    """Whatever comes: the buffer stays within its bound, hands out only retained
    messages, and drops a result only when it holds nothing but results."""
    buffer = CoalescingBuffer(4)
    evicted: list[Message] = []
    buffer.on_evicted = evicted.append
    news_dropped = 0
    for n, (topic, retain) in enumerate(puts):
        had_retained = any(t in buffer for t in "abcdef")
        dropped, handed = buffer.dropped, len(evicted)
        buffer.put(Message(topic, str(n).encode(), retain))
        assert len(buffer) <= 4
        if buffer.dropped > dropped and len(evicted) == handed:
            assert (retain, had_retained) == (False, False)
            news_dropped += 1
    assert all(m.retain for m in evicted)
    news = [m for m in buffer.take(100) if not m.retain]
    assert len(news) + news_dropped == sum(not retain for _, retain in puts)


def test_news_held_across_a_reconnect_goes_first_and_a_full_buffer_keeps_news() -> None:
    """Results put back first (paho held them): ahead of everything, in their order;
    when full, the newest queued value makes room, and only news that finds no value
    to put off is dropped."""
    evicted: list[Message] = []
    buffer = CoalescingBuffer(3)
    buffer.on_evicted = evicted.append
    value = Message("raspy/pi/fake/a/value", b"1")
    late = Message("raspy/pi/fake/a/result", b"late", retain=False)
    buffer.put(value)
    buffer.put(late)
    held = [Message("raspy/pi/fake/a/result", b"%d" % n, retain=False) for n in (1, 2)]
    buffer.put_news_first(held)
    assert evicted == [value]
    assert buffer.dropped == 1
    assert buffer.take(10) == [*held, late]
    buffer.put(late)
    four = [
        Message("raspy/pi/fake/a/result", b"r%d" % n, retain=False) for n in range(4)
    ]
    buffer.put_news_first(four)  # two places left for four: the older go
    assert buffer.dropped == 1 + 2
    assert buffer.take(10) == [four[2], four[3], late]
