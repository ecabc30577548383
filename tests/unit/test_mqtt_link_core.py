"""The MQTT link's decisions (raspy.mqtt.link_core.LinkCore), sans-IO: what paho held
at a lost connection comes back through the buffer, the in-flight count is what paho
holds, and BridgeCore's outputs are sorted into actions and reports."""

from __future__ import annotations

from raspy.backoff import BackoffPolicy
from raspy.config import MqttConfig
from raspy.mqtt.buffer import Message
from raspy.mqtt.core import BridgeCore, BridgeSettings, SendRequest
from raspy.mqtt.discovery import Discovery
from raspy.mqtt.events import TreeChanged
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.link_core import LinkCore
from raspy.mqtt.session import MqttSession
from raspy.mqtt.topics import TopicMap
from raspy.stats import Stats

NOW = 100.0
WINDOW = 5


def make_link(stats: Stats | None = None, *, discovery: bool = False) -> LinkCore:
    topics = TopicMap("raspy", "pi")
    core = BridgeCore(
        BridgeSettings(
            topics=topics,
            exposed=GlobFilter(["/device/*", "/scenario/*"], rooted=True),
            commandable=GlobFilter(["*"]),
            actions=frozenset({"set", "state"}),
            discovery=Discovery(
                "homeassistant",
                topics,
                qos=1,
                sw_version="0",
                commandable=GlobFilter(["*"]),
            )
            if discovery
            else None,
            scenario_buttons=True,
            max_buffered=100,
        )
    )
    session = MqttSession(
        BackoffPolicy(initial_s=0.5, max_s=4.0, stable_s=30.0), max_inflight=WINDOW
    )
    return LinkCore(MqttConfig(), core, stats or Stats(), session)


def up(link: LinkCore, held: list[Message] | None = None) -> None:
    link.connecting(NOW)
    link.connected(NOW, held or [])


def value(name: str, body: bytes) -> Message:
    return Message(f"raspy/pi/fake/{name}/value", body)


def test_what_paho_held_goes_back_to_the_buffer_once_behind_newer_messages() -> None:
    link = make_link()
    for name, body in (("a", b"1"), ("b", b"1"), ("c", b"1")):
        link.event(TreeChanged(f"/device/pi.fake.{name}/value", body), NOW)
    up(link)
    link.acknowledged()  # `online`
    assert len(link.take(NOW)) == 3  # a, b, c: held by paho, unacknowledged
    link.event(TreeChanged("/device/pi.fake.b/value", b"2"), NOW)  # queued: newer
    link.event(TreeChanged("/device/pi.fake.c/value", b""), NOW)  # deleted
    link.disconnected("lost", NOW)
    held = [value("a", b"1"), value("b", b"1"), value("c", b"1")]
    result = Message("raspy/pi/fake/a/result", b"{}", retain=False)
    up(link, [*held, result, value("a", b"0"), value("a", b"1")])
    assert link.session.inflight == 1  # paho holds only `online` now
    assert link.take(NOW) == [
        # not mirrored: went out before the rest, so again first
        Message("raspy/pi/fake/a/result", b"{}", retain=False),
        value("b", b"2"),
        value("c", b""),
        value("a", b"1"),  # the mirror's, again (the held ones add nothing)
    ]
    assert link.session.inflight == 5


def result(n: int) -> Message:
    return Message("raspy/pi/fake/a/result", b'{"n":%d}' % n, retain=False)


def test_every_held_result_goes_again_in_its_order_before_those_answered_since() -> (
    None
):
    """docs/mqtt.md: six commands in a burst get six answers, in their order, and a
    `…/result` paho had not got acknowledged is not lost at a reconnect. They share
    one topic: held results were collapsed to the last one, behind newer ones."""
    link = make_link()
    up(link)
    link.acknowledged()  # `online`
    link.disconnected("lost", NOW)
    link.core.buffer.put(result(4))  # answered while the broker was away
    up(link, [result(1), result(2), result(3)])  # paho held three, unacknowledged
    assert link.take(NOW) == [result(1), result(2), result(3), result(4)]


def test_the_count_is_what_paho_holds_and_never_above_the_window() -> None:
    link = make_link()
    for index in range(20):
        link.event(TreeChanged(f"/device/pi.fake.d{index}/value", b"1"), NOW)
    up(link)
    handed = link.take(NOW)
    assert (len(handed), link.session.inflight) == (WINDOW - 1, WINDOW)  # + online
    link.disconnected("lost", NOW + 1)
    up(link, handed)  # paho gives back what it held: none of it stays in flight
    assert link.session.inflight == 1
    for _ in range(WINDOW):
        link.acknowledged()
    assert link.session.inflight == 0
    assert len(link.take(NOW)) == WINDOW


def test_outputs_are_sorted_into_actions_and_reports() -> None:
    stats = Stats()
    link = make_link(stats)
    up(link)
    link.busy = False
    state = "raspy/pi/scenario/wake/state"  # an echo on the `state` command filter
    assert link.message(state, b'"idle"', retained=True, now=NOW) == []
    assert (link.busy, stats.get("mqtt.commands")) == (False, 0)
    link.event(TreeChanged("/device/pi.fake.lamp/value", b"false"), NOW)
    actions = link.message("raspy/pi/fake/lamp/set", b"ON", retained=False, now=NOW)
    assert [type(a) for a in actions] == [SendRequest]
    refused = link.message("raspy/pi/fake/lamp/set", b"ON", retained=True, now=NOW)
    assert refused == []
    assert stats.get("mqtt.refused.retained_command") == 1
    assert (link.busy, stats.get("mqtt.commands")) == (True, 2)
    assert link.next_deadline(NOW + 3) == NOW + 3  # busy: the next poll is now


def test_home_assistants_birth_message_is_no_command_and_resends_the_mirror() -> None:
    """`online` on `homeassistant/status`: taken by the core (never refused as a
    command), and what it queued again goes out at the next turn."""
    stats = Stats()
    link = make_link(stats, discovery=True)
    link.event(TreeChanged("/device/pi.fake.lamp/value", b"true"), NOW)
    up(link)
    for _ in range(WINDOW):
        link.acknowledged()
    first = link.take(NOW)
    assert value("lamp", b"true") in first
    link.busy = False
    assert link.message("homeassistant/status", b"online", False, NOW + 1) == []
    assert link.busy
    assert stats.get("mqtt.commands") == 0
    online = Message(link.core.topics.availability, b"online")
    # the bridge's online, the hub's config, then the lamp's value
    assert link.take(NOW + 1) == [online, *first]
    assert link.stats()["reannounced"] == 1
    # published where a user sees statistics (raspy status, /stats/), with paho's
    # unacknowledged messages
    assert stats.get("mqtt.reannounced") == 1
    # a count, so a counter (raspy status shows a part's counters), counted once
    link.take(NOW + 2)
    assert stats.counters()["mqtt.reannounced"] == 1
    inflight = link.stats()["inflight"]
    assert isinstance(inflight, int)
    assert stats.get("mqtt.inflight") == inflight > 0


def test_what_the_full_buffer_could_not_keep_is_in_the_statistics() -> None:
    """Past the buffer's bound (100 here) a retained message waits outside it: a
    state by its topic (the mirror holds its payload), a deletion with its own, and
    past as many deletions again one is forgotten (it keeps its old message at the
    broker until the next start's sweep): counted, and published where a user sees
    statistics, as what the buffer dropped is."""
    stats = Stats()
    link = make_link(stats)
    for n in range(250):  # the broker away: nothing goes out
        link.event(TreeChanged(f"/device/pi.fake.k{n}/value", b"1"), NOW)
    assert link.take(NOW) == []
    assert link.stats()["forgotten"] == link.core.forgotten == 0  # states wait
    for n in range(100, 250):  # the states that wait, deleted
        link.event(TreeChanged(f"/device/pi.fake.k{n}/value", b""), NOW)
    assert link.take(NOW) == []
    assert link.stats()["forgotten"] == link.core.forgotten == 50
    assert (stats.get("mqtt.forgotten"), stats.get("mqtt.dropped")) == (50, 300)
    # counts, so counters (raspy status shows a part's counters): each message once,
    # however often the link reports its buffer
    assert link.take(NOW + 1) == []
    counters = stats.counters()
    assert (counters["mqtt.forgotten"], counters["mqtt.dropped"]) == (50, 300)
    assert {"mqtt.forgotten", "mqtt.dropped"}.isdisjoint(stats.gauges())
