"""The sweep of an earlier run's retained messages (raspy.mqtt.sweep through
BridgeCore), sans-IO: the clock is passed in."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from raspy.config import MqttConfig
from raspy.devices.gpio_gesture import Gesture
from raspy.errors import MalformedMessage
from raspy.mqtt.buffer import Message
from raspy.mqtt.core import REQUEST_TIMEOUT_S, BridgeCore, BridgeSettings, SendRequest
from raspy.mqtt.discovery import DeviceInfo, Discovery
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.link_core import LinkCore
from raspy.mqtt.sweep import (
    Subscribe,
    Sweep,
    Swept,
    Unsubscribe,
)
from raspy.mqtt.topics import TopicMap
from raspy.stats import Stats

NOW = 1000.0
SETTLE = 2.0
# as raspyd bridges them: `value` and `state` are some kinds' commands too
ACTIONS = frozenset({"set", "on", "off", "toggle", "config", "level", "value", "state"})
AVAILABILITY = "raspy/pi/status"


def make_core(
    *,
    settle_s: float = SETTLE,
    subtrees: str = "/device/*",
    prefix: str = "homeassistant",
) -> BridgeCore:
    topics = TopicMap("raspy", "pi")
    allowed = GlobFilter(["*"])
    return BridgeCore(
        BridgeSettings(
            topics=topics,
            exposed=GlobFilter([subtrees], rooted=True),
            commandable=allowed,
            actions=ACTIONS,
            discovery=Discovery(
                prefix, topics, qos=1, sw_version="0.1.0", commandable=allowed
            ),
            scenario_buttons=True,
            max_buffered=1000,
            cleanup_after_s=settle_s,
        )
    )


def discovery_of(core: BridgeCore) -> Discovery:
    assert core.settings.discovery is not None
    return core.settings.discovery


def device_config(core: BridgeCore, fullname: str, oid: str = "switch") -> Message:
    """What a run of this hub announced for `fullname` (a retained config)."""
    entry = discovery_of(core).device_entry(DeviceInfo(fullname, oid, fullname, ""))
    assert entry is not None
    return Message(entry.topic, entry.payload())


def scenario_config(core: BridgeCore, name: str) -> Message:
    entry = discovery_of(core).scenario_entry(name)
    return Message(entry.topic, entry.payload())


def list_reply(*names: str) -> list[bytes]:
    items = [
        {"name": n, "fullname": f"pi.fake.{n}", "oid": "switch", "config": {}}
        for n in names
    ]
    return [b"200", json.dumps({"v": 1, "action": "list", "devices": items}).encode()]


def connect(core: BridgeCore) -> tuple[str, ...]:
    (subscribe,) = core.connected(NOW)
    assert isinstance(subscribe, Subscribe)
    return subscribe.filters


def replay(core: BridgeCore, *messages: Message) -> None:
    """The broker replays its retained messages on the sweep's subscriptions."""
    for message in messages:
        assert core.swept_message(message.topic, message.payload, True), message.topic


def cleared(core: BridgeCore) -> set[str]:
    return {m.topic for m in core.buffer.take(10_000) if m.retain and not m.payload}


def test_configs_of_a_service_turned_off_are_cleared_and_the_listed_ones_kept() -> None:
    core = make_core()
    core.seed([("/device/pi.gpio.relay/value", b"true")], NOW)
    relay = device_config(core, "pi.gpio.relay")
    lamp = device_config(core, "pi.fake.lamp")  # the fake service is off this run
    connect(core)
    replay(core, relay, lamp)
    gpio = {"name": "relay", "fullname": "pi.gpio.relay", "oid": "switch"}
    reply = json.dumps({"v": 1, "devices": [gpio]}).encode()
    core.reply(1, [b"200", reply], NOW)
    core.buffer.take(10_000)
    assert core.tick(NOW + SETTLE - 0.1) == []
    assert core.next_deadline() == NOW + SETTLE
    outputs = core.tick(NOW + SETTLE)
    assert outputs[0] == Unsubscribe(connect_filters(core))
    assert outputs[1] == Swept(cleared=1, collected=2, overflow=0)
    assert cleared(core) == {lamp.topic}
    assert core.next_deadline() is None


def connect_filters(core: BridgeCore) -> tuple[str, ...]:
    return core._sweep.filters


def test_with_discovery_off_the_configs_an_earlier_run_left_stay() -> None:
    """docs/mqtt.md: turning discovery off (`discovery_prefix = ""`) leaves the
    configs an earlier run announced: the sweep looks at state topics only."""
    core = make_core()
    off = BridgeCore(replace(core.settings, discovery=None))
    assert [f for f in connect(off) if not f.startswith("raspy/pi/")] == []
    assert [f for f in connect(core) if f.startswith("homeassistant/")] == [
        "homeassistant/+/pi/+/config"
    ]


def test_a_device_removed_before_its_first_reading_loses_its_config() -> None:
    core = make_core()
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)
    ghost = device_config(core, "pi.fake.new", "sensor.temperature")
    lamp = device_config(core, "pi.fake.lamp")
    core.reply(1, list_reply("lamp"), NOW)  # `new` is no longer in the config
    connect(core)
    replay(core, ghost, lamp)
    core.tick(NOW + SETTLE)
    assert cleared(core) == {ghost.topic}


def test_a_scenario_deleted_while_down_loses_its_button_a_stored_one_keeps_it() -> None:
    core = make_core()
    core.seed([("/scenario/frost/state", b'"idle"')], NOW)
    frost, gone = scenario_config(core, "frost"), scenario_config(core, "gone")
    connect(core)
    replay(core, frost, gone)
    core.tick(NOW + SETTLE)
    assert cleared(core) == {gone.topic}


def test_nothing_is_cleared_before_the_stored_tree_and_the_list_replies_are_in() -> (
    None
):
    core = make_core()
    ghost = device_config(core, "pi.fake.lamp")
    connect(core)
    replay(core, ghost)
    assert core.tick(NOW + SETTLE) == []  # no seed yet
    assert core.seed([("/device/pi.fake.lamp/value", b"true")], NOW) == [
        SendRequest(1, "pi.fake.devices", b'{"v": 1, "action": "list"}')
    ]
    assert core.tick(NOW + SETTLE) == []  # its list is asked, not answered
    core.reply(1, list_reply("lamp"), NOW + SETTLE + 1)
    assert isinstance(core.tick(NOW + SETTLE + 1)[-1], Swept)
    assert cleared(core) == set()  # listed again: it stays


def test_a_list_that_never_comes_back_delays_the_sweep_at_most_a_request_timeout() -> (
    None
):
    core = make_core()
    core.seed([], NOW)
    ghost = device_config(core, "pi.fake.lamp")
    connect(core)
    replay(core, ghost)
    core.service_available("pi.fake.devices", NOW + 1)
    assert core.tick(NOW + SETTLE) == []
    assert core.next_deadline() == NOW + 1 + REQUEST_TIMEOUT_S
    # another service asked meanwhile: the sweep waits no longer than its bound
    core.service_available("pi.gpio.devices", NOW + 10)
    assert core.tick(NOW + 1 + REQUEST_TIMEOUT_S) == []  # fake's list timed out
    assert core.next_deadline() == NOW + SETTLE + REQUEST_TIMEOUT_S
    assert isinstance(core.tick(NOW + SETTLE + REQUEST_TIMEOUT_S)[-1], Swept)
    # what fake has is not known: its config is left, until its next list
    assert cleared(core) == set()
    core.service_available("pi.fake.devices", NOW + 30)
    core.reply(3, list_reply(), NOW + 30)
    assert cleared(core) == {ghost.topic}


def test_a_list_of_a_service_whose_values_were_all_deleted_is_not_waited_for() -> None:
    """raspyd deletes the values of a service its config turned off at its start,
    after the bridge read the stored tree and asked that service for its list: no
    worker answers it, and the sweep waited a whole request timeout for nothing."""
    core = make_core()
    core.seed(
        [
            ("/device/pi.fake.lamp/value", b"true"),
            ("/device/pi.fake.attic/value", b"1"),
        ],
        NOW,
    )
    lamp, attic = (
        device_config(core, "pi.fake.lamp"),
        device_config(core, "pi.fake.attic"),
    )
    connect(core)
    replay(core, lamp, attic)
    core.key_changed("/device/pi.fake.lamp/value", b"", NOW)
    assert core.tick(NOW + SETTLE) == []  # attic's value is there: its list counts
    core.key_changed("/device/pi.fake.attic/value", b"", NOW + SETTLE)
    assert isinstance(core.tick(NOW + SETTLE)[-1], Swept)
    assert {lamp.topic, attic.topic} <= cleared(core)


def test_a_service_back_after_its_values_went_is_waited_for_again() -> None:
    core = make_core()
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)
    core.key_changed("/device/pi.fake.lamp/value", b"", NOW)
    connect(core)
    core.service_available("pi.fake.devices", NOW)  # its first list still pending
    assert core.tick(NOW + SETTLE) == []
    core.reply(1, list_reply("lamp"), NOW + SETTLE)
    assert isinstance(core.tick(NOW + SETTLE)[-1], Swept)


def test_other_hubs_and_other_tools_entries_are_never_cleared() -> None:
    core = make_core()
    core.seed([], NOW)
    (node_filter, *_) = connect(core)
    assert node_filter == "homeassistant/+/pi/+/config"
    other_hub = TopicMap("raspy", "pi2")
    theirs = Discovery(
        "homeassistant", other_hub, qos=1, sw_version="1", commandable=bool
    )
    other = theirs.device_entry(DeviceInfo("pi2.fake.lamp", "switch", "lamp", ""))
    assert other is not None
    mine = device_config(core, "pi.fake.lamp")
    same_topic = json.loads(mine.payload)
    same_topic["availability_topic"] = "raspy/elsewhere/status"
    moved = json.loads(mine.payload)
    moved["unique_id"] = "raspy.pi.fake.other"  # its topic is not this one's
    foreign = {"unique_id": "zigbee.0x1234", "availability_topic": AVAILABILITY}
    for topic, payload in [
        ("homeassistant/sensor/pi/zigbee_0x1234/config", json.dumps(foreign).encode()),
        ("homeassistant/sensor/pi/broken/config", b"{not json"),
        ("homeassistant/sensor/pi/list/config", b"[1, 2]"),
        (mine.topic, json.dumps(same_topic).encode()),
        (mine.topic.replace("/switch/", "/light/"), json.dumps(moved).encode()),
        (AVAILABILITY, b"offline"),
    ]:
        replay(core, Message(topic, payload))
    assert not core.swept_message(other.topic, other.payload(), True)  # not ours
    assert not core.swept_message("raspy/pi2/fake/lamp/value", b"1", True)
    core.tick(NOW + SETTLE)
    assert cleared(core) == set()


def test_a_remote_boards_config_stays_while_its_value_is_in_the_tree() -> None:
    core = make_core()
    core.seed([("/device/far.onewire.attic/value", b"20.5")], NOW)
    core.buffer.take(10_000)
    attic = device_config(core, "far.onewire.attic", "sensor.temperature")
    gone = device_config(core, "far.onewire.cellar", "sensor.temperature")
    connect(core)
    replay(core, attic, gone)
    core.tick(NOW + SETTLE + REQUEST_TIMEOUT_S)  # the board does not answer its list
    assert cleared(core) == {gone.topic}


def test_retained_state_topics_no_key_backs_are_cleared() -> None:
    core = make_core()
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)
    core.reply(1, list_reply("lamp"), NOW)
    connect(core)
    ghosts = {
        "raspy/pi/fake/gone/value",
        "raspy/pi/fake/gone/status",
        "raspy/pi/scenario/old/last_run",
        "raspy/pi/stats/a/b/c",
        "raspy/pi/fake/lamp/value/extra",
    }
    for topic in [*sorted(ghosts), "raspy/pi/fake/lamp/value"]:
        replay(core, Message(topic, b"1"))
    core.buffer.take(10_000)
    core.tick(NOW + SETTLE)
    assert cleared(core) == ghosts


def test_a_three_level_key_is_swept_only_by_a_last_level_known_here() -> None:
    """docs/mqtt.md, ghosts: `<base>/<host>/a/b/c` is as deep as a command topic,
    so the sweep subscribes there only for a device's fields, a scenario's and the
    last levels this run publishes; any other is left (cleared by hand)."""
    core = make_core(subtrees="/*")
    core.seed([("/house/living/temp", b"20")], NOW)
    filters = connect(core)

    def swept(topic: str) -> bool:
        return any(topic_matches_sub(f, topic) for f in filters)

    assert swept("raspy/pi/house/hall/temp")  # the leaf of a key published here
    assert swept("raspy/pi/house/hall/value")  # a device's field
    assert swept("raspy/pi/house/hall/last_run")  # a scenario's
    assert not swept("raspy/pi/event/pi.gpio.button/pressed")
    assert swept("raspy/pi/house/a/b/c")  # deeper or shallower: any level
    assert swept("raspy/pi/house/hall")


def test_a_switchs_pending_key_is_a_retained_state_topic_never_a_command() -> None:
    """`/device/<fullname>/pending` (a change held by min_off_s) is bridged as a
    state topic, retained while it lasts and cleared with its key; it announces
    nothing to Home Assistant, and one left by an earlier run with no key behind
    it (raspyd killed between a hold and its switch) is swept."""
    core = make_core()
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)
    core.reply(1, list_reply("lamp"), NOW)
    connect(core)
    replay(core, Message("raspy/pi/fake/gone/pending", b"{}"))
    core.buffer.take(10_000)
    body = b'{"state": true, "due": 1300.0, "detail": "off for 40s"}'
    topic = "raspy/pi/fake/lamp/pending"
    assert core.key_changed("/device/pi.fake.lamp/pending", body, NOW) == []
    assert core.buffer.take(10_000) == [Message(topic, body)]
    assert core.key_changed("/device/pi.fake.lamp/pending", b"", NOW) == []
    assert core.buffer.take(10_000) == [Message(topic, b"")]
    core.tick(NOW + SETTLE)
    assert cleared(core) == {"raspy/pi/fake/gone/pending"}
    with pytest.raises(MalformedMessage):
        core.settings.topics.parse_command(topic)


def test_a_config_naming_a_lone_surrogate_is_passed_over_not_raised() -> None:
    """Its unique id hashed for the topic raised UnicodeEncodeError in the link's
    thread: the bridge failed, and, restarted, was sent the same retained message
    at its next sweep."""
    core = make_core()
    core.seed([], NOW)
    connect(core)
    config = {"unique_id": "raspy.pi.fake.\ud800", "availability_topic": AVAILABILITY}
    topic = "homeassistant/switch/pi/raspy_pi_fake___12345678/config"
    replay(core, Message(topic, json.dumps(config).encode()))
    core.tick(NOW + SETTLE)
    assert cleared(core) == set()


def test_live_messages_and_empty_ones_are_not_ghosts() -> None:
    core = make_core()
    core.seed([], NOW)
    connect(core)
    assert core.swept_message("raspy/pi/fake/gone/value", b"1", False)
    assert core.swept_message("raspy/pi/fake/old/value", b"", True)
    core.tick(NOW + SETTLE)
    assert cleared(core) == set()


def test_the_collected_topics_are_bounded() -> None:
    core = make_core()
    core._sweep.max_topics = 3
    core.seed([], NOW)
    connect(core)
    for index in range(5):
        replay(core, Message(f"raspy/pi/fake/d{index}/value", b"1"))
    assert core.tick(NOW + SETTLE)[-1] == Swept(cleared=3, collected=3, overflow=2)


def test_the_sweep_runs_once_per_run_and_again_if_its_connection_was_lost() -> None:
    core = make_core()
    core.seed([], NOW)
    first = connect(core)
    replay(core, Message("raspy/pi/fake/a/value", b"1"))
    core.disconnected()
    assert core.tick(NOW + SETTLE) == []
    assert core.connected(NOW + 5) == [Subscribe(first)]
    assert core.tick(NOW + 5 + SETTLE)[-1] == Swept(1, 1, 0)
    core.disconnected()
    assert core.connected(NOW + 20) == []
    # a late replay after the unsubscribe is not taken for a command
    assert core.swept_message("raspy/pi/fake/a/value", b"1", True)


def test_off_with_zero_settle_time() -> None:
    core = make_core(settle_s=0)
    assert core.connected(NOW) == []
    assert not core.swept_message("raspy/pi/fake/a/value", b"1", True)


_LEVEL = st.sampled_from(["pi", "pi2", "fake", "scenario", "x", "value", "status"])


@given(
    st.sampled_from(["homeassistant", "raspy"]),
    st.lists(_LEVEL | st.sampled_from(sorted(ACTIONS | {"run", "result"})), max_size=6),
)
def test_no_topic_matches_a_command_filter_and_a_sweep_filter(
    prefix: str, rest: list[str]
) -> None:
    """A broker may deliver a message once per matching filter: a command on a
    sweep filter too would run twice."""
    topics = TopicMap("raspy", "pi")
    discovery = Discovery(prefix, topics, qos=1, sw_version="1", commandable=bool)
    sweep = Sweep(topics, discovery, settle_s=1.0)
    published = ["raspy/pi/fake/lamp/value", "raspy/pi/scenario/x/state"]
    subscribe = sweep.start(NOW, ACTIONS, [*published, "raspy/pi/a/b/on"])
    assert subscribe is not None
    topic = "/".join([prefix, *rest])
    commands = topics.command_filters(ACTIONS)
    on_command = any(topic_matches_sub(f, topic) for f in commands)
    assert not (on_command and sweep.matches(topic))


def test_a_scenarios_state_is_bridged_and_its_echo_is_never_a_command() -> None:
    """`state` is also an action (a switch's), so `…/scenario/<n>/state` comes back
    on the command filter `<base>/+/+/+/state`: under the reserved `scenario` level
    only `run` is a command, so the key is published and its echo (this hub's, or
    another hub's) is taken as state, not run and not refused."""
    core = make_core(subtrees="/scenario/*")
    assert core.key_changed("/scenario/wake/state", b'"idle"', NOW) == []
    assert Message("raspy/pi/scenario/wake/state", b'"idle"') in core.buffer.take(99)
    for topic in ("raspy/pi/scenario/wake/state", "raspy/pi2/scenario/x/state"):
        assert core.swept_message(topic, b'"idle"', False), topic
        assert core.swept_message(topic, b'"idle"', True), topic
    assert not core.swept_message("raspy/pi/scenario/wake/run", b"", False)
    assert not core.swept_message("raspy/pi/fake/lamp/state", b"true", False)


def test_a_ghost_scenario_state_is_swept_though_a_command_filter_brings_it() -> None:
    """The sweep leaves `state` out of its own filters (a command filter has it):
    this hub's retained scenario state the command filter replays is swept too,
    another hub's is left alone."""
    core = make_core(subtrees="/scenario/*")
    core.seed([("/scenario/wake/state", b'"idle"')], NOW)
    connect(core)
    for topic in (
        "raspy/pi/scenario/wake/state",  # this run's
        "raspy/pi/scenario/gone/state",  # a ghost
        "raspy/pi2/scenario/gone/state",  # another hub's
    ):
        assert core.swept_message(topic, b'"idle"', True), topic
    core.buffer.take(10_000)
    assert core.tick(NOW + SETTLE)[-1] == Swept(1, 2, 0)
    assert cleared(core) == {"raspy/pi/scenario/gone/state"}


def test_the_hubs_own_entry_is_this_runs_and_old_configs_still_go() -> None:
    """The hub's config names no availability topic (its state is that topic): it
    is still known as this hub's, and this run's, so kept; a ghost device's goes."""
    core = make_core()
    core.seed([], NOW)
    hub = discovery_of(core).hub_entry()
    ghost = device_config(core, "pi.fake.gone")
    connect(core)
    core.buffer.take(10_000)
    replay(core, Message(hub.topic, hub.payload()), ghost)
    assert core.tick(NOW + SETTLE)[-1] == Swept(cleared=1, collected=2, overflow=0)
    assert cleared(core) == {ghost.topic}
    assert core.mirror[hub.topic] == hub.payload()


_BROKER_TOPICS = st.sampled_from(
    [
        "homeassistant/status",
        "homeassistant/switch/pi/raspy_pi_fake_lamp_1a2b3c4d/config",
        "homeassistant/sensor/pi/x/config",
        "homeassistant/button/pi/raspy_pi_scenario_x/config",
        "raspy/pi/status",
        "raspy/pi/fake/lamp/value",
        "raspy/pi/fake/lamp/set",
        "raspy/pi/scenario/x/state",
        "raspy/other/scenario/x/state",
    ]
) | st.text(max_size=30)
_CONFIG_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["raspy.pi.fake.lamp", "raspy.pi.hub", AVAILABILITY, "online"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["unique_id", "availability_topic", "state_topic", "device"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)
_BROKER_PAYLOADS = (
    st.binary(max_size=40)
    | st.sampled_from([b"online", b"offline", b""])
    | _CONFIG_VALUES.map(lambda value: json.dumps(value).encode())
)


@given(st.lists(st.tuples(_BROKER_TOPICS, _BROKER_PAYLOADS, st.booleans()), max_size=8))
def test_anything_on_the_broker_during_and_after_the_sweep_is_taken(
    messages: list[tuple[str, bytes, bool]],
) -> None:
    """Anyone at the broker may publish on Home Assistant's status topic, under the
    discovery prefix or on this hub's topics, retained or not: the link hands each
    to the core as it does (status, sweep, else a command), and none makes it raise,
    during the sweep or at its end."""
    core = make_core()
    connect(core)
    for topic, payload, retained in messages:
        if core.status_message(topic, payload, retained, NOW):
            continue
        if core.swept_message(topic, payload, retained):
            continue
        core.command(topic, payload, NOW, retained=retained)
    outputs = core.tick(NOW + SETTLE)
    assert all(not isinstance(output, Subscribe) for output in outputs)


def test_a_buttons_trigger_an_earlier_run_left_is_cleared_another_hubs_kept() -> None:
    """A trigger names no availability topic: it is this hub's when its device
    comes through this hub (`via_device`), and its topic is the one raspy makes."""
    core = make_core()
    core.seed([], NOW)
    connect(core)
    bell = DeviceInfo(
        "pi.gpio.bell", "sensor.binary", "bell", "", gestures=(Gesture.LONG,)
    )
    (mine,) = discovery_of(core).trigger_entries(bell)
    other_hub = Discovery(
        "homeassistant", TopicMap("raspy", "pi2"), qos=1, sw_version="1",
        commandable=bool,
    )  # fmt: skip
    (theirs,) = other_hub.trigger_entries(bell)  # another hub, under this host
    door = {**mine.config["device"], "identifiers": ["raspy.pi.gpio.door"]}  # type: ignore[dict-item]
    moved = dict(mine.config, device=door)  # its topic is not door's
    for topic, config in [
        (mine.topic, mine.config),
        (mine.topic.replace("bell", "hall"), theirs.config),
        (mine.topic.replace("bell", "door"), moved),
    ]:
        replay(core, Message(topic, json.dumps(config).encode()))
    # an earlier raspy's trigger also had a unique_id (Home Assistant takes none)
    (single,) = discovery_of(core).trigger_entries(
        replace(bell, gestures=(Gesture.SINGLE,))
    )
    older = dict(single.config, unique_id="raspy.pi.gpio.bell/single")
    replay(core, Message(single.topic, json.dumps(older).encode()))
    core.tick(NOW + SETTLE)
    assert cleared(core) == {mine.topic, single.topic}


def test_with_the_prefix_equal_to_the_base_a_ghost_state_topic_is_still_swept() -> None:
    """Every state topic starts with `<prefix>/` then: it was taken for a config,
    found to be none, and never collected, so no state ghost was cleared."""
    core = make_core(prefix="raspy")
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)
    connect(core)
    core.reply(1, list_reply("lamp"), NOW)
    replay(
        core,
        Message("raspy/pi/fake/lamp/value", b"true"),  # this run's
        Message("raspy/pi/fake/gone/value", b"1"),  # a ghost
    )
    core.buffer.take(10_000)
    assert core.tick(NOW + SETTLE)[-1] == Swept(cleared=1, collected=2, overflow=0)
    assert cleared(core) == {"raspy/pi/fake/gone/value"}


def test_with_the_prefix_equal_to_the_base_its_own_configs_are_no_commands() -> None:
    """`<base>/+/+/+/config` (the admin action's filter, answered 403) brings back
    the bridge's own configs then: each retained one was refused as a retained
    command at every start, and counted. They are the sweep's, as its own filter
    would be, so an earlier run's ghost config still goes."""
    core = make_core(prefix="raspy")
    stats = Stats()
    link = LinkCore(MqttConfig(base_topic="raspy"), core, stats)
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)
    lamp, ghost = device_config(core, "pi.fake.lamp"), device_config(core, "pi.x.y")
    assert lamp.topic.startswith("raspy/switch/pi/")
    connect(core)
    core.reply(1, list_reply("lamp"), NOW)
    for message in (lamp, ghost):
        assert link.message(message.topic, message.payload, True, NOW) == []
    assert link.message(lamp.topic, lamp.payload, False, NOW) == []  # live: an echo
    assert stats.counters() == {}  # neither refused nor a command
    core.buffer.take(10_000)
    assert core.tick(NOW + SETTLE)[-1] == Swept(cleared=1, collected=2, overflow=0)
    assert cleared(core) == {ghost.topic}
    # a command on another device's `config` is still refused (an admin action)
    assert not core.swept_message("raspy/pi/fake/lamp/config", b"", False)


def test_a_service_whose_list_failed_keeps_its_configs_over_the_sweep() -> None:
    """A sweep must not clear what it could not list: the lamp's entity went at
    each start whose `list` of fake failed, and came back at its next reading.
    The service's next list clears those it no longer names."""
    core = make_core()
    core.seed(
        [("/device/pi.fake.lamp/value", b"true")], NOW
    )  # asks fake for its list (request 1)
    lamp, gone = device_config(core, "pi.fake.lamp"), device_config(core, "pi.fake.x")
    connect(core)
    replay(core, lamp, gone)
    core.reply(1, [b"500", b'{"error": "internal"}'], NOW)
    core.buffer.take(10_000)
    swept, request = core.tick(NOW + SETTLE)[-2:]
    assert swept == Swept(cleared=0, collected=2, overflow=0)
    assert cleared(core) == set()
    assert isinstance(request, SendRequest)  # the failed list, asked again
    core.reply(request.request_id, list_reply("lamp"), NOW + 5)
    queued = core.buffer.take(10_000)
    assert [m.topic for m in queued if not m.payload] == [gone.topic]
    assert core.mirror[lamp.topic]  # announced again by this run


def test_a_service_turned_off_after_its_list_failed_loses_the_configs_held() -> None:
    """The sweep left fake's configs for its next `list`; a reload that turns fake
    off deletes its values instead, and no `list` comes: what was held goes then,
    as a service turned off over a restart loses its configs at the sweep."""
    core = make_core()
    core.seed([("/device/pi.fake.lamp/value", b"true")], NOW)  # request 1
    lamp, gone = device_config(core, "pi.fake.lamp"), device_config(core, "pi.fake.x")
    connect(core)
    replay(core, lamp, gone)
    core.reply(1, [b"500", b'{"error": "internal"}'], NOW)
    core.buffer.take(10_000)
    swept, retry = core.tick(NOW + SETTLE)[-2:]
    assert swept == Swept(cleared=0, collected=2, overflow=0)
    assert cleared(core) == set()
    assert isinstance(retry, SendRequest)
    core.reply(retry.request_id, [b"500", b'{"error": "internal"}'], NOW + 3)
    assert core.next_deadline() == NOW + 3 + 4.0  # asked again, later
    assert core.key_changed("/device/pi.fake.lamp/value", b"", NOW + 5) == []
    assert core.next_deadline() is None  # turned off: asked no more
    assert {lamp.topic, gone.topic} <= cleared(core)
    # fake back (turned on again): its list announces the lamp anew, nothing stale
    (request,) = core.key_changed("/device/pi.fake.lamp/value", b"true", NOW + 6)
    assert isinstance(request, SendRequest)
    core.reply(request.request_id, list_reply("lamp"), NOW + 6)
    assert cleared(core) == set()
    assert core.mirror[lamp.topic]
