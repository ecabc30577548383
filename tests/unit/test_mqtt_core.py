"""Issue 16: the bridge's decisions (raspy.mqtt.core.BridgeCore), sans-IO."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.ha_schema import schema_problems

from raspy.config import MqttConfig
from raspy.devices import service
from raspy.devices.registry import Registry
from raspy.devices.simulated import SimulatedFactory
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.core import (
    MAX_PENDING,
    REANNOUNCE_EVERY_S,
    REQUEST_TIMEOUT_S,
    BridgeCore,
    BridgeSettings,
    Refused,
    SendRequest,
)
from raspy.mqtt.discovery import DeviceInfo, Discovery
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.link_core import LinkCore
from raspy.mqtt.topics import TopicMap
from raspy.stats import Stats

NOW = 1000.0
LAMP = "/device/pi.fake.lamp/value"


def make_core(
    *, subtrees: tuple[str, ...] = ("/device/*",), commandable: str = "*",
    max_buffered: int = 1000, discovery: bool = True,
) -> BridgeCore:  # fmt: skip
    topics = TopicMap("raspy", "pi")
    allowed = GlobFilter([commandable])
    core = BridgeCore(
        BridgeSettings(
            topics=topics,
            exposed=GlobFilter(subtrees, rooted=True),
            commandable=allowed,
            actions=frozenset({"set", "on", "off", "toggle", "config"}),
            discovery=Discovery(
                "homeassistant", topics, qos=1, sw_version="0.1.0", commandable=allowed
            )
            if discovery
            else None,
            scenario_buttons=True,
            max_buffered=max_buffered,
        )
    )
    core.buffer.take(10)  # the hub's own entry, queued at once (tests of it below)
    return core


def drain(core: BridgeCore) -> list[Message]:
    return core.buffer.take(10_000)


def test_an_exposed_key_is_queued_retained_and_a_same_value_is_not_sent_again() -> None:
    core = make_core(discovery=False)
    assert core.key_changed(LAMP, b"true", NOW) == []
    core.key_changed(LAMP, b"true", NOW)
    core.key_changed("/stats/pi/x", b"1", NOW)  # not exposed
    assert drain(core) == [Message("raspy/pi/fake/lamp/value", b"true")]


def test_a_deleted_key_clears_its_retained_message() -> None:
    core = make_core(discovery=False)
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    core.key_changed(LAMP, b"", NOW)
    assert drain(core) == [Message("raspy/pi/fake/lamp/value", b"")]
    core.key_changed(LAMP, b"", NOW)  # already gone: nothing more
    assert drain(core) == []


def test_a_tree_key_on_the_bridges_availability_topic_is_not_published() -> None:
    """A key `/status` maps to `<base>/<host>/status`, the bridge's own `online`
    (and last will): published or cleared there, every entity would show
    unavailable until the next reconnect."""
    core = make_core(subtrees=("/*",), discovery=False)
    for body in (b'"x"', b""):
        (refused,) = core.key_changed("/status", body, NOW)
        assert isinstance(refused, Refused)
        assert refused.reason == "key_on_status_topic"
    core.key_changed("/statuses", b"1", NOW)
    assert drain(core) == [Message("raspy/pi/statuses", b"1")]


def test_a_tree_key_on_a_topic_the_bridge_sends_news_on_is_not_published() -> None:
    """`…/<device>/gesture` and `…/result` carry what happens, never retained: a
    retained `single` on a button's gesture topic would fire Home Assistant's
    device trigger at each of its restarts (and a stale `…/result` answer every
    new subscriber); the sweep never clears either."""
    core = make_core(subtrees=("/device/*", "/scenario/*", "/house/*"))
    keys = (
        "/device/pi.gpio.button/gesture",
        "/device/pi.fake.lamp/result",
        "/device/board2.gpio.button/gesture",
        "/scenario/heat/result",
        "/house/hall/result",  # <base>/pi/house/hall/result: a device's shape
    )
    for key in keys:
        for body in (b'"single"', b""):
            outputs = core.key_changed(key, body, NOW)
            assert [r.reason for r in outputs if isinstance(r, Refused)] == [
                "key_on_output_topic"
            ], key
    assert drain(core) == []
    for key in ("/device/pi.gpio.button/value", "/house/result", "/house/a/b/gesture"):
        core.key_changed(key, b"1", NOW)
    assert [m.topic for m in drain(core)] == [
        "raspy/pi/gpio/button/value",
        "raspy/pi/house/result",
        "raspy/pi/house/a/b/gesture",
    ]


def test_a_new_device_service_is_listed_once_for_discovery() -> None:
    core = make_core()
    outputs = core.key_changed(LAMP, b"true", NOW)
    assert outputs == [SendRequest(1, "pi.fake.devices", b'{"v": 1, "action": "list"}')]
    assert core.key_changed("/device/pi.fake.attic/value", b"1", NOW) == []


def _list_reply(*devices: tuple[str, str]) -> list[bytes]:
    items = [
        {"name": name, "fullname": f"pi.fake.{name}", "oid": oid, "config": {}}
        for name, oid in devices
    ]
    return [b"200", json.dumps({"v": 1, "action": "list", "devices": items}).encode()]


def test_listed_devices_get_configs_and_a_removed_one_an_empty_config() -> None:
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    core.reply(1, _list_reply(("lamp", "switch"), ("hall", "dimmer")), NOW)
    configs = {m.topic: m.payload for m in drain(core)}
    assert len(configs) == 2
    lamp_topic = next(t for t, p in configs.items() if b"pi.fake.lamp" in p)
    assert lamp_topic.startswith("homeassistant/switch/pi/")
    assert core.service_available("pi.fake.devices", NOW) == [
        SendRequest(2, "pi.fake.devices", b'{"v": 1, "action": "list"}')
    ]
    core.reply(2, _list_reply(("hall", "dimmer")), NOW)
    assert drain(core) == [Message(lamp_topic, b"")]


def test_a_config_topic_is_its_unique_id_made_safe_with_a_hash_of_it() -> None:
    """docs/mqtt.md: `object_id` is the unique id with anything outside
    [A-Za-z0-9_-] as `_`, and a short hash of the id (its example, the lamp's)."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    core.reply(1, _list_reply(("lamp", "switch")), NOW)
    [config] = drain(core)
    assert json.loads(config.payload)["unique_id"] == "raspy.pi.fake.lamp"
    digest = hashlib.sha256(b"raspy.pi.fake.lamp").hexdigest()[:8]
    assert config.topic == f"homeassistant/switch/pi/raspy_pi_fake_lamp_{digest}/config"
    assert config.topic == "homeassistant/switch/pi/raspy_pi_fake_lamp_c06d3b5e/config"


def test_a_device_found_after_its_service_was_listed_is_announced() -> None:
    """A sensor plugged in and found by a 1-Wire `rescan` (README) got readings
    but no config: its service, listed once, was not asked again."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    core.reply(1, _list_reply(("lamp", "switch")), NOW)
    drain(core)
    attic = "/device/pi.fake.attic/value"
    assert core.key_changed(attic, b"21.5", NOW) == [
        SendRequest(2, "pi.fake.devices", b'{"v": 1, "action": "list"}')
    ]
    core.reply(2, _list_reply(("lamp", "switch"), ("attic", "sensor")), NOW)
    (config,) = [m for m in drain(core) if m.topic.startswith("homeassistant/")]
    assert b"pi.fake.attic" in config.payload
    # asked once: a key its service does not list asks no more
    assert core.key_changed("/device/pi.fake.attic/unit", b'"C"', NOW) == []
    assert core.key_changed("/device/pi.fake.stray/value", b"1", NOW) != []
    core.reply(3, _list_reply(("lamp", "switch"), ("attic", "sensor")), NOW)
    assert core.key_changed("/device/pi.fake.stray/value", b"2", NOW) == []
    # removed, its keys deleted: no list; back later, listed again
    for leaf in ("status", "value"):
        assert core.key_changed(f"/device/pi.fake.attic/{leaf}", b"", NOW) == []
    assert core.key_changed(attic, b"20.0", NOW) != []


def test_a_command_becomes_a_device_request_and_its_reply_a_result() -> None:
    core = make_core(discovery=False)
    core.key_changed(LAMP, b"false", NOW)
    drain(core)
    outputs = core.command("raspy/pi/fake/lamp/set", b"ON", NOW)
    body = json.dumps({"v": 1, "action": "set", "device": "lamp", "value": True})
    assert outputs == [SendRequest(1, "pi.fake.devices", body.encode())]
    # answered 504 then: the broker must not run it later
    sent = [out for out in outputs if isinstance(out, SendRequest)]
    assert [out.patience_s for out in sent] == [REQUEST_TIMEOUT_S]
    core.reply(1, [b"200", b'{"v": 1, "device": "lamp"}'], NOW)
    result = drain(core)
    assert result == [
        Message(
            "raspy/pi/fake/lamp/result",
            b'{"action": "set", "reply": {"device": "lamp", "v": 1}, "status": 200, '
            b'"v": 1}',
            retain=False,
        )
    ]


def test_a_command_for_another_hubs_host_is_left_to_that_hub() -> None:
    """Two hubs at one broker both subscribe to every host's command topics: each
    answered the other's commands on the other's `…/result`, a 403 for a scenario
    at once, a 504 for a device (its request queued for a service it never has)."""
    core = make_core(discovery=False, commandable="pi.*")
    assert core.command("raspy/pi2/scenario/frost/run", b"PRESS", NOW) == []
    assert core.command("raspy/pi2/fake/lamp/set", b"true", NOW) == []
    assert drain(core) == []
    # a device of another host this hub mirrors (a raspy-poller's) is its to answer
    core.key_changed("/device/board2.onewire.attic/value", b"21.5", NOW)
    drain(core)
    assert core.command("raspy/board2/onewire/attic/set", b"1", NOW) == [
        Refused(
            "forbidden",
            "board2.onewire.attic takes no MQTT commands",
            topic="raspy/board2/onewire/attic/set",
        )
    ]
    assert [m.topic for m in drain(core)] == ["raspy/board2/onewire/attic/result"]


def test_unauthorised_and_admin_commands_are_refused_with_403() -> None:
    core = make_core(discovery=False, commandable="pi.gpio.*")
    assert core.command("raspy/pi/fake/lamp/set", b"true", NOW) == [
        Refused(
            "forbidden",
            "pi.fake.lamp takes no MQTT commands",
            topic="raspy/pi/fake/lamp/set",
        )
    ]
    core2 = make_core(discovery=False)
    assert core2.command("raspy/pi/fake/lamp/config", b"{}", NOW) == [
        Refused("forbidden", "config is not bridged", topic="raspy/pi/fake/lamp/config")
    ]
    statuses = [json.loads(m.payload)["status"] for m in drain(core) + drain(core2)]
    assert statuses == [403, 403]


def test_a_command_without_a_reply_is_answered_504_after_the_timeout() -> None:
    core = make_core(discovery=False)
    core.command("raspy/pi/fake/lamp/toggle", b"", NOW)
    assert core.next_deadline() == NOW + REQUEST_TIMEOUT_S
    assert core.tick(NOW + 1) == []
    assert core.tick(NOW + REQUEST_TIMEOUT_S) == [
        Refused("timeout", "pi.fake.devices", topic="raspy/pi/fake/lamp/toggle")
    ]
    (message,) = drain(core)
    assert json.loads(message.payload)["status"] == 504
    assert core.reply(1, [b"200", b"{}"], NOW + 11) == []  # too late: forgotten


def test_busy_counts_the_commands_waiting_not_discoverys_list_requests() -> None:
    """docs/mqtt.md: a command is answered 503 `busy` when MAX_PENDING commands
    already wait for an answer; the `list` requests of discovery's sweep waited
    beside them and were counted too, so fewer commands got through."""
    core = make_core()
    services = [f"/device/pi.s{n}.x/value" for n in range(3)]
    for key in services:  # a service each: three `list` requests in flight
        (request,) = core.key_changed(key, b"1", NOW)
        assert isinstance(request, SendRequest)
    drain(core)
    lamp = "raspy/pi/fake/lamp/toggle"
    for _ in range(MAX_PENDING):
        (request,) = core.command(lamp, b"", NOW)
        assert isinstance(request, SendRequest)
    assert core.command(lamp, b"", NOW) == [
        Refused("busy", "too many commands", topic=lamp)
    ]
    (message,) = drain(core)
    assert json.loads(message.payload)["status"] == 503


def test_a_reconnect_queues_every_retained_message_again_newest_kept() -> None:
    core = make_core(discovery=False)
    core.key_changed(LAMP, b"true", NOW)
    core.key_changed("/device/pi.fake.attic/value", b"20", NOW)
    drain(core)
    core.key_changed("/device/pi.fake.attic/value", b"21", NOW)
    core.connected(NOW)
    assert drain(core) == [
        Message("raspy/pi/fake/attic/value", b"21"),
        Message("raspy/pi/fake/lamp/value", b"true"),
    ]


def test_scenarios_get_a_button_and_lose_it_when_deleted() -> None:
    core = make_core(subtrees=())
    core.key_changed("/scenario/frost/state", b'"idle"', NOW)
    (config,) = drain(core)
    assert config.topic.startswith("homeassistant/button/pi/")
    document = json.loads(config.payload)
    assert document["command_topic"] == "raspy/pi/scenario/frost/run"
    assert core.command("raspy/pi/scenario/frost/run", b"PRESS", NOW) == [
        SendRequest(
            1, "pi.core.scenario", b'{"v": 1, "action": "run", "name": "frost"}'
        )
    ]
    core.key_changed("/scenario/frost/state", b"", NOW)
    assert drain(core) == [Message(config.topic, b"")]


def test_the_buffer_keeps_the_latest_per_topic_in_first_queued_order() -> None:
    buffer = CoalescingBuffer(2)
    buffer.put(Message("a", b"1"))
    buffer.put(Message("b", b"1"))
    buffer.put(Message("a", b"2"))
    assert buffer.take(10) == [Message("a", b"2"), Message("b", b"1")]
    buffer.put(Message("a", b"3"))
    buffer.put(Message("b", b"3"))
    buffer.put(Message("c", b"3"))  # full: the newest waits outside
    assert buffer.dropped == 1
    assert buffer.take(10) == [Message("a", b"3"), Message("b", b"3")]


@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.binary(max_size=4))))
def test_the_buffer_is_bounded_and_holds_each_topics_latest(
    updates: list[tuple[str, bytes]],
) -> None:
    buffer = CoalescingBuffer(5)
    latest: dict[str, bytes] = {}
    for topic, payload in updates:
        buffer.put(Message(topic, payload))
        latest[topic] = payload
        assert len(buffer) <= 5
    for message in buffer.take(100):
        assert latest[message.topic] == message.payload


@given(st.text(max_size=100), st.binary(max_size=100))
def test_any_command_message_is_a_request_or_a_refusal(
    topic: str, payload: bytes
) -> None:
    """Nothing that arrives on the broker makes the core raise."""
    core = make_core(discovery=False)
    for out in core.command(topic, payload, NOW):
        assert isinstance(out, SendRequest | Refused)


@given(st.lists(st.binary(max_size=50), max_size=3))
def test_any_reply_frames_are_taken(frames: list[bytes]) -> None:
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)  # request 1: a list
    core.command("raspy/pi/fake/lamp/set", b"true", NOW)  # request 2: a command
    core.reply(1, frames, NOW)
    core.reply(2, frames, NOW)


@pytest.mark.parametrize("status", [b"9" * 5000, b"20", b"2000"])
def test_a_status_frame_not_of_three_digits_is_a_502(status: bytes) -> None:
    """int() of a worker's status frame of thousands of digits raised (Python's
    limit on int from text), out of the link's thread: the bridge failed."""
    core = make_core(discovery=False)
    core.command("raspy/pi/fake/lamp/set", b"true", NOW)
    drain(core)
    assert core.reply(1, [status, b"{}"], NOW) == []
    (result,) = drain(core)
    assert json.loads(result.payload)["status"] == 502


def test_a_reply_nested_as_deep_as_json_reads_gives_a_result() -> None:
    """json.loads read it, json.dumps could not write it two levels deeper in
    `…/result`: RecursionError in the link's thread, and the bridge failed."""
    for depth in range(900, 1100):
        core = make_core(discovery=False)
        core.command("raspy/pi/fake/lamp/set", b"true", NOW)
        drain(core)
        core.reply(1, [b"200", b"[" * depth + b"]" * depth], NOW)
        (result,) = drain(core)
        assert json.loads(result.payload)["status"] == 200


def test_a_tree_key_on_a_command_topic_is_not_published() -> None:
    """/device/<h>.<svc>.lamp/set or /scenario/<n>/run retained would come back to
    the bridge as a command at every subscription."""
    core = make_core(subtrees=("/device/*", "/scenario/*", "/event/*"), discovery=False)
    refused = [
        core.key_changed(key, b"true", NOW)
        for key in (
            "/device/pi.fake.lamp/set",
            "/device/pi.fake.lamp/toggle",
            "/scenario/heat/run",
            "/event/door/on",
        )
    ]
    assert [[r.reason for r in out if isinstance(r, Refused)] for out in refused] == [
        ["key_on_command_topic"]
    ] * 4
    for key in ("/scenario/heat/state", "/event/door/pressed", LAMP):
        core.key_changed(key, b"1", NOW)
    assert [m.topic for m in drain(core)] == [
        "raspy/pi/scenario/heat/state",
        "raspy/pi/event/door/pressed",
        "raspy/pi/fake/lamp/value",
    ]


def test_a_retained_command_is_refused_not_run() -> None:
    """The broker replays retained messages on subscribing: a command retained by
    someone would switch the lamp at every restart of the bridge."""
    core = make_core(discovery=False)
    core.key_changed(LAMP, b"false", NOW)
    drain(core)
    outputs = core.command("raspy/pi/fake/lamp/set", b"ON", NOW, retained=True)
    assert [type(o) for o in outputs] == [Refused]
    assert outputs[0].reason == "retained_command"  # type: ignore[union-attr]
    assert drain(core) == []
    assert isinstance(
        core.command("raspy/pi/fake/lamp/set", b"ON", NOW)[0], SendRequest
    )


def test_a_retained_message_on_no_command_topic_of_this_hubs_is_left_alone() -> None:
    """With the discovery prefix equal to the base topic, `<base>/+/+/+/config`
    brings other tools' retained configs (Zigbee2MQTT's, say) at each start: they
    are no command of this hub's, so nothing is said, as of one sent live. Only
    one for this hub (or a device of another host's it mirrors) is refused."""
    core = make_core(discovery=False)
    core.key_changed("/device/board.fake.attic/value", b"1", NOW)  # mirrored
    drain(core)
    others = (
        "raspy/sensor/0x00158d/temperature/config",  # another tool's config
        "raspy/sensor/esp.kitchen/temp/config",  # a dot: names no raspy service
        "raspy/board2/fake/lamp/set",  # another hub's device: that hub's to refuse
        "raspy/board2/scenario/wake/run",
    )
    for topic in others:
        assert core.command(topic, b"{}", NOW, retained=True) == []
    assert drain(core) == []
    for topic in ("raspy/pi/fake/lamp/set", "raspy/board/fake/attic/set"):
        (refused,) = core.command(topic, b"ON", NOW, retained=True)
        assert isinstance(refused, Refused)
        assert refused.reason == "retained_command"


def test_a_scenario_name_without_a_topic_is_refused_not_raised() -> None:
    """Any Clone client may write `/scenario/<name>/state`; a name with a wildcard
    (or too long for a topic) has no button, and the bridge's thread lives on."""
    core = make_core()  # /scenario/* not exposed: only its button is at stake
    for name in ("a+b", "x#", "a" * 2000):
        outputs = core.key_changed(f"/scenario/{name}/state", b'"idle"', NOW)
        assert [type(out) for out in outputs] == [Refused]
    assert drain(core) == []


def test_a_listed_device_without_a_topic_is_skipped_the_others_announced() -> None:
    """A `list` reply (another host's raspy-poller, another version) naming a
    device that makes no topic: that one is refused, the rest get their configs."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    items = [
        {"name": "a+b", "fullname": "pi.fake.a+b", "oid": "switch", "config": {}},
        {"name": "x", "fullname": "nodots", "oid": "switch", "config": {}},
        {"name": "lamp", "fullname": "pi.fake.lamp", "oid": "switch", "config": {}},
    ]
    reply = json.dumps({"v": 1, "action": "list", "devices": items}).encode()
    outputs = core.reply(1, [b"200", reply], NOW)
    assert [out.reason for out in outputs if isinstance(out, Refused)] == [
        "bad_key",
        "bad_device_key",
    ]
    (config,) = drain(core)
    assert json.loads(config.payload)["unique_id"] == "raspy.pi.fake.lamp"


def test_a_lone_surrogate_in_a_command_is_a_400_not_a_crash() -> None:
    """`"\\ud800"` is valid JSON and valid UTF-8 but names no character: the
    request to the device service could not be encoded."""
    core = make_core(discovery=False)
    outputs = core.command("raspy/pi/fake/lamp/set", b'"\\ud800"', NOW)
    assert [type(out) for out in outputs] == [Refused]
    (result,) = drain(core)
    document = json.loads(result.payload)
    assert (document["status"], document["reply"]["error"]) == (400, "bad_payload")


def test_a_lone_surrogate_in_a_reply_or_a_list_still_gives_json() -> None:
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)  # request 1: the list
    core.command("raspy/pi/fake/lamp/set", b"true", NOW)  # request 2
    drain(core)
    listing = (
        b'{"v": 1, "devices": [{"name": "lamp", "fullname": "pi.fake.lamp",'
        b' "oid": "switch", "config": {"friendly_name": "L\\udc00"}}]}'
    )
    core.reply(1, [b"200", listing], NOW)
    core.reply(2, [b"400", b'{"error": "invalid_value", "detail": "\\ud800"}'], NOW)
    config, result = drain(core)
    assert json.loads(config.payload)["device"]["name"] == "L\udc00"
    assert json.loads(result.payload)["reply"]["detail"] == "\ud800"


def test_a_device_gone_at_a_restart_has_its_old_config_cleared() -> None:
    """raspyd restarted without `pi.fake.old` in its config: the device service
    deletes its stored keys at start. The config announced by the run before is
    retained at the broker; the new bridge never announced it, yet clears it, so
    Home Assistant keeps no ghost entity."""
    core = make_core()
    core.seed([("/device/pi.fake.old/value", b"true"), (LAMP, b"true")], NOW)
    drain(core)
    core.key_changed("/device/pi.fake.old/value", b"", NOW)
    cleared = {m.topic for m in drain(core) if m.payload == b"" and m.retain}
    discovery = core.settings.discovery
    assert discovery is not None
    for component in ("sensor", "binary_sensor", "switch", "light"):
        assert discovery.topic(component, "raspy.pi.fake.old") in cleared
    core.reply(1, _list_reply(("lamp", "switch")), NOW)  # the list, after
    (config,) = drain(core)
    assert json.loads(config.payload)["unique_id"] == "raspy.pi.fake.lamp"


def _rendered(template: str, payload: bytes) -> str:
    """A discovery template rendered as Home Assistant does: Jinja2 with `value`
    (the payload's text) and `value_json` (its JSON, when it is JSON)."""
    text = payload.decode()
    return (
        jinja2.Environment()  # noqa: S701  # not HTML: as Home Assistant renders it
        .from_string(template)
        .render(value=text, value_json=json.loads(text))
    )


@pytest.mark.parametrize(
    ("kind", "field", "payloads"),
    [
        ("switch", "value_template", {b"true": "true", b"null": "None"}),
        ("sensor.binary", "value_template", {b"false": "false", b"null": "None"}),
        ("dimmer", "state_value_template", {b"55": "ON", b"0": "0", b"null": "None"}),
        ("dimmer", "brightness_value_template", {b"55": "55", b"null": ""}),
    ],
)
def test_a_null_value_renders_as_unknown_in_home_assistant(
    kind: str, field: str, payloads: dict[bytes, str]
) -> None:
    """Home Assistant's binary_sensor, switch and light take `None` (after the
    template) as unknown, and ignore an empty brightness; a bare `null` matched no
    payload, the old state stayed, and float("null") failed on the brightness."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    core.reply(1, _list_reply(("thing", kind)), NOW)
    (message,) = drain(core)
    template = json.loads(message.payload)[field]
    assert {p: _rendered(template, p) for p in payloads} == payloads


def test_the_dimmers_light_names_a_schema_home_assistant_accepts() -> None:
    """Home Assistant's MQTT light takes `schema` as `basic` (its default when the
    key is absent), `json` or `template`, and refuses the whole discovery config for
    any other word: the `default` its older docs named would leave the dimmer with
    no entity at all. raspy's light fields are the basic schema's."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    core.reply(1, _list_reply(("hall", "dimmer")), NOW)
    (message,) = drain(core)
    assert message.topic.startswith("homeassistant/light/")
    config = json.loads(message.payload)
    assert config.get("schema", "basic") == "basic"


# The units Home Assistant's sensor docs list for the device classes raspy uses; since
# 2025.7 it refuses a whole MQTT sensor config that pairs a class with another unit
HA_CLASS_UNITS = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "wind_speed": {"Beaufort", "ft/s", "km/h", "kn", "m/s", "mph"},
}


@pytest.mark.parametrize(
    ("kind", "unit", "device_class"),
    [
        ("sensor.humidity", "%", "humidity"),
        ("sensor.humidity", "%RH", None),
        ("sensor.humidity", "", None),
        ("sensor.wind", "km/h", "wind_speed"),
        ("sensor.wind", "kt", None),
        ("sensor.temperature", "K", "temperature"),
    ],
)
def test_a_sensor_names_a_device_class_only_with_a_unit_home_assistant_allows(
    kind: str, unit: str, device_class: str | None
) -> None:
    """A humidity sensor configured in `%RH`, a wind sensor in `kt`: raspy takes
    any unit text there, Home Assistant only its documented units for the class.
    The sensor is still announced (its unit, a measurement), without the class."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    item = {"name": "s", "fullname": "pi.fake.s", "oid": kind, "config": {"unit": unit}}
    core.reply(1, [b"200", json.dumps({"v": 1, "devices": [item]}).encode()], NOW)
    (message,) = drain(core)
    config = json.loads(message.payload)
    assert message.topic.startswith("homeassistant/sensor/")
    assert config.get("device_class") == device_class
    if device_class is not None:
        assert config["unit_of_measurement"] in HA_CLASS_UNITS[device_class]
    assert config.get("unit_of_measurement") == (unit or None)
    assert config["state_class"] == "measurement"


def _announced(
    *items: dict[str, object], commandable: str = "*"
) -> dict[str, dict[str, object]]:
    """The discovery configs of a `list` reply's devices, by device name."""
    core = make_core(commandable=commandable)
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    listed = [
        {"fullname": f"pi.fake.{item['name']}", "config": {}, **item} for item in items
    ]
    core.reply(1, [b"200", json.dumps({"v": 1, "devices": listed}).encode()], NOW)
    configs = [json.loads(m.payload) for m in drain(core)]
    return {str(c["unique_id"]).rsplit(".", 1)[1]: c for c in configs}


def test_each_sensor_kind_announces_its_default_display_precision() -> None:
    """The devices service's own `list` reply, as the bridge gets it: Home Assistant
    is told to show a temperature and a wind speed with one decimal, a humidity
    with none (a DS18B20's 24.4375 °C as 24.4, not the raw float); a generic sensor
    has no unit to go by and is left to Home Assistant."""
    registry = Registry("pi", "fake", SimulatedFactory())
    registry.add_all(
        [
            {"name": "attic", "oid": "sensor.temperature"},
            {"name": "bath", "oid": "sensor.humidity"},
            {"name": "roof", "oid": "sensor.wind"},
            {"name": "meter", "oid": "sensor"},
        ]
    )
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)
    drain(core)
    reply = service.handle(registry, [b'{"v": 1, "action": "list"}'], NOW).reply
    core.reply(1, list(reply), NOW)
    configs = {
        str(c["unique_id"]): c for c in (json.loads(m.payload) for m in drain(core))
    }
    assert {
        unique: config.get("suggested_display_precision")
        for unique, config in configs.items()
    } == {
        "raspy.pi.fake.attic": 1,
        "raspy.pi.fake.bath": 0,
        "raspy.pi.fake.roof": 1,
        "raspy.pi.fake.meter": None,
    }


def test_a_board_that_lists_no_precision_gets_its_kinds_default() -> None:
    """A raspy-poller of an older raspy lists no `precision`: its temperature is
    still shown with its kind's one decimal; a kind the hub does not know, none."""
    configs = _announced(
        {"name": "attic", "oid": "sensor.temperature", "config": {"unit": "°C"}},
        {"name": "odd", "oid": "sensor.newer", "config": {}},
    )
    assert configs["attic"]["suggested_display_precision"] == 1
    assert "suggested_display_precision" not in configs.get("odd", {})


@pytest.mark.parametrize(
    ("precision", "sent"),
    [(3, 3), (0, 0), (6, 6), (None, None), (7, None), (-1, None), (True, None),
     ("2", None), (1.5, None)],
)  # fmt: skip
def test_a_configured_precision_is_sent_and_the_value_stays_unrounded(
    precision: object, sent: int | None
) -> None:
    """A device's `precision` overrides its kind's; one Home Assistant would refuse
    (a board on another version may list anything) is left out, not sent. Display
    only: the value on the state topic is the tree's, every digit of it."""
    configs = _announced(
        {
            "name": "attic",
            "oid": "sensor.temperature",
            "config": {"precision": precision},
        }
    )
    assert configs["attic"].get("suggested_display_precision") == sent
    core = make_core(discovery=False)
    core.key_changed("/device/pi.fake.attic/value", b"24.467074378331503", NOW)
    assert drain(core) == [Message("raspy/pi/fake/attic/value", b"24.467074378331503")]


@pytest.mark.parametrize(
    ("state_class", "sent"),
    [
        ("total_increasing", "total_increasing"),
        ("total", "total"),
        ("measurement", "measurement"),
        (None, "measurement"),
        ("counter", "measurement"),
    ],
)
def test_a_generic_sensor_announces_its_state_class(
    state_class: object, sent: str
) -> None:
    """An energy meter's total or a rain gauge's count is `total_increasing`, so
    Home Assistant's statistics sum what it grows (a drop: a new cycle) rather than
    averaging it as a measurement; absent or unknown: a measurement, as before."""
    config = {} if state_class is None else {"state_class": state_class}
    configs = _announced({"name": "meter", "oid": "sensor", "config": config})
    assert configs["meter"]["state_class"] == sent


@pytest.mark.parametrize(
    ("device_class", "sent"),
    [("door", "door"), ("motion", "motion"), ("window", "window"),
     ("carbon_monoxide", "carbon_monoxide"), (None, None), ("button", None),
     ("doorbell", None), (5, None)],
)  # fmt: skip
def test_a_binary_input_announces_its_class(
    device_class: object, sent: str | None
) -> None:
    """A door contact shows Open/Closed, a PIR Detected/Clear: the binary_sensor
    carries the input's `device_class` when it is one of Home Assistant's. A GPIO
    button (raspy's `button`) or no class: nothing, a plain on/off as before."""
    configs = _announced(
        {
            "name": "hall",
            "oid": "sensor.binary",
            "config": {"device_class": device_class},
        }
    )
    assert configs["hall"].get("device_class") == sent
    assert "suggested_display_precision" not in configs["hall"]
    assert "state_class" not in configs["hall"]


def test_a_read_only_switch_and_dimmer_carry_no_display_fields() -> None:
    """Outside `command_devices` a switch is a binary_sensor and a dimmer a sensor
    in %: neither has a class of its own to announce, nor a precision (the level is
    a whole number)."""
    configs = _announced(
        {"name": "lamp", "oid": "switch"},
        {"name": "hall", "oid": "dimmer"},
        commandable="pi.fake.other",
    )
    assert "device_class" not in configs["lamp"]
    assert configs["hall"]["state_class"] == "measurement"
    assert "suggested_display_precision" not in configs["hall"]


# --- Home Assistant's restart, a device configured, the hub --------------------------
BIRTH = "homeassistant/status"
HUB_ID = "raspy.pi"


def _listed(core: BridgeCore, *devices: tuple[str, str, str]) -> dict[str, bytes]:
    """The lamp's key brings a `list`; its reply (name, oid, friendly name) the
    configs, drained: topic -> payload."""
    (request,) = core.key_changed(LAMP, b"true", NOW)
    assert isinstance(request, SendRequest)
    items = [
        {
            "name": n,
            "fullname": f"pi.fake.{n}",
            "oid": o,
            "config": {"friendly_name": f},
        }
        for n, o, f in devices
    ]
    body = json.dumps({"v": 1, "action": "list", "devices": items}).encode()
    assert core.reply(request.request_id, [b"200", body], NOW) == []
    return {m.topic: m.payload for m in drain(core)}


def _config_of(messages: dict[str, bytes], unique_id: str) -> dict[str, object]:
    for payload in messages.values():
        config = json.loads(payload) if payload else None
        if isinstance(config, dict) and config.get("unique_id") == unique_id:
            return config
    raise AssertionError(f"no config of {unique_id}")


def test_home_assistants_birth_message_queues_every_config_and_state_again() -> None:
    """Home Assistant restarted (its broker may have lost what was retained): the
    bridge's `online` goes again (it went only at a connect, and every entity's
    availability reads it), then every discovery config, then every state."""
    core = make_core()
    configs = _listed(core, ("lamp", "switch", "Lamp"), ("hall", "dimmer", "Hall"))
    assert core.birth_topic == BIRTH
    assert core.status_message(BIRTH, b"online", False, NOW + 1)
    again = drain(core)
    assert again[0] == Message(core.topics.availability, b"online")
    again = again[1:]
    hub = core.settings.discovery.hub_entry() if core.settings.discovery else None
    assert hub is not None
    assert {m.topic for m in again} == {*configs, hub.topic}
    assert [m.topic.startswith("homeassistant/") for m in again] == [
        True,
        True,
        True,
        False,
    ]
    assert again[-1] == Message("raspy/pi/fake/lamp/value", b"true")
    assert all(m.retain for m in again)
    assert core.reannounced == 1


def test_only_a_live_online_on_the_birth_topic_is_a_restart() -> None:
    """`offline` (its last will), a retained `online` (the broker's replay when the
    bridge subscribes, right after its own connect queued everything) and other
    topics ask for nothing; the birth topic is never taken for a command."""
    core = make_core()
    _listed(core, ("lamp", "switch", "Lamp"))
    assert core.status_message(BIRTH, b"offline", False, NOW)
    assert core.status_message(BIRTH, b"online", True, NOW)
    assert core.status_message(BIRTH, b"", False, NOW)
    assert not core.status_message("raspy/pi/fake/lamp/set", b"online", False, NOW)
    assert drain(core) == []
    assert core.reannounced == 0
    assert make_core(discovery=False).birth_topic is None


def test_the_birth_message_is_rate_limited_to_one_reannounce_per_window() -> None:
    """Any MQTT client may publish `online` there: within REANNOUNCE_EVERY_S of a
    re-announce, more of them make one more, when the window ends."""
    core = make_core()
    _listed(core, ("lamp", "switch", "Lamp"))
    assert core.status_message(BIRTH, b"online", False, NOW)
    assert len(drain(core)) == 4  # online, hub, lamp config, lamp value
    for delay in (0.5, 1.0, 2.0):
        assert core.status_message(BIRTH, b"online", False, NOW + delay)
    assert drain(core) == []
    assert core.next_deadline() == NOW + REANNOUNCE_EVERY_S
    assert core.tick(NOW + REANNOUNCE_EVERY_S - 0.1) == []
    assert drain(core) == []
    core.tick(NOW + REANNOUNCE_EVERY_S)
    assert len(drain(core)) == 4
    assert core.next_deadline() is None
    assert core.reannounced == 2
    core.tick(NOW + 60)
    assert drain(core) == []


def test_a_configured_device_is_listed_again_and_its_new_name_goes_out() -> None:
    """`config` (or `reset`) over MDP sets `/event/device/<fullname>/configured`:
    the bridge asks the service `list` again, and the renamed device's config goes
    out with its new name (the rest is unchanged and not sent again)."""
    core = make_core()
    before = _listed(core, ("lamp", "switch", "Lamp"), ("hall", "dimmer", "Hall"))
    event = "/event/device/pi.fake.lamp/configured"
    (request,) = core.key_changed(event, b"1733222400.5", NOW + 1)
    assert request == SendRequest(2, "pi.fake.devices", b'{"v": 1, "action": "list"}')
    items = [
        {"name": "lamp", "fullname": "pi.fake.lamp", "oid": "switch",
         "config": {"friendly_name": "Kitchen"}},
        {"name": "hall", "fullname": "pi.fake.hall", "oid": "dimmer",
         "config": {"friendly_name": "Hall"}},
    ]  # fmt: skip
    body = json.dumps({"v": 1, "action": "list", "devices": items}).encode()
    core.reply(2, [b"200", body], NOW + 1)
    (renamed,) = drain(core)
    assert renamed.topic in before
    config = json.loads(renamed.payload)
    assert (config["unique_id"], config["device"]["name"]) == (
        "raspy.pi.fake.lamp",
        "Kitchen",
    )
    # the key's expiry (a delete) asks nothing
    assert core.key_changed(event, b"", NOW + 61) == []


def test_a_device_configured_while_its_list_is_in_flight_is_listed_once_more() -> None:
    """The reply to a `list` asked before the change may hold the old config."""
    core = make_core()
    assert len(core.key_changed(LAMP, b"true", NOW)) == 1  # list 1, in flight
    event = "/event/device/pi.fake.lamp/configured"
    assert core.key_changed(event, b"1.0", NOW) == []
    assert core.key_changed(event, b"2.0", NOW) == []
    assert core.reply(1, _list_reply(("lamp", "switch")), NOW) == [
        SendRequest(2, "pi.fake.devices", b'{"v": 1, "action": "list"}')
    ]
    assert core.reply(2, _list_reply(("lamp", "switch")), NOW) == []


def test_configured_events_in_the_stored_tree_ask_nothing_at_seed() -> None:
    """At start the services are listed when they come up anyway; the events still
    in the tree (a minute's ttl, a full one again after a restart) are old news.
    Without discovery, or for a device not exposed, the event asks nothing."""
    core = make_core()
    assert core.seed([("/event/device/pi.fake.lamp/configured", b"1.0")], NOW) == []
    plain = make_core(discovery=False)
    assert plain.key_changed("/event/device/pi.fake.lamp/configured", b"1", NOW) == []
    hidden = make_core(subtrees=("/device/pi.gpio.*",))
    assert hidden.key_changed("/event/device/pi.fake.lamp/configured", b"1", NOW) == []
    assert core.key_changed("/event/device/lamp/configured", b"1", NOW) == []


def test_the_hub_is_a_device_with_a_connectivity_entity_and_every_device_its_via() -> (
    None
):
    """One hub device per bridge: a connectivity binary_sensor on the availability
    topic (no availability of its own, so it can show offline), `via_device` of
    every device, and the scenario buttons are its entities."""
    core = make_core()
    discovery = core.settings.discovery
    assert discovery is not None
    hub = discovery.hub_entry()
    assert hub.topic.startswith("homeassistant/binary_sensor/pi/")
    assert core.mirror[hub.topic] == hub.payload()  # this run's: the sweep keeps it
    config = json.loads(hub.payload())
    assert config["device_class"] == "connectivity"
    assert (config["state_topic"], config["payload_on"], config["payload_off"]) == (
        "raspy/pi/status",
        "online",
        "offline",
    )
    assert "availability_topic" not in config
    assert config["device"]["identifiers"] == [HUB_ID]
    assert (config["device"]["name"], config["device"]["model"]) == (
        "raspy pi",
        "raspy hub",
    )
    assert config["device"]["sw_version"] == "0.1.0"
    configs = _listed(core, ("lamp", "switch", "Lamp"))
    lamp = _config_of(configs, "raspy.pi.fake.lamp")
    device = lamp["device"]
    assert isinstance(device, dict)
    assert device["via_device"] == HUB_ID
    assert device["identifiers"] == ["raspy.pi.fake.lamp"]
    # a device of another board comes through this hub too
    remote = discovery.device_entry(
        DeviceInfo("board2.onewire.attic", "sensor", "x", "")
    )
    assert remote is not None
    remote_device = remote.config["device"]
    assert isinstance(remote_device, dict)
    assert remote_device["via_device"] == HUB_ID
    core.key_changed("/scenario/frost/state", b'"idle"', NOW)
    (button,) = drain(core)
    button_config = json.loads(button.payload)
    assert button_config["device"]["identifiers"] == [HUB_ID]
    assert "via_device" not in button_config["device"]
    assert button_config["name"] == "frost"
    assert button_config["availability_topic"] == "raspy/pi/status"


_JSON = st.recursive(  # finite: a reply with NaN is no list (payload.decode_reply)
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_LISTED_DEVICES = st.lists(
    st.dictionaries(
        st.sampled_from(["fullname", "oid", "name", "config"]),
        _JSON,
    )
    | st.fixed_dictionaries(
        {
            "fullname": st.sampled_from(["pi.fake.lamp", "pi.fake.a b", "pi.fake.#"])
            | st.text(max_size=12),
            "oid": st.sampled_from(
                ["sensor", "sensor.temperature", "sensor.binary", "switch", "dimmer"]
            )
            | st.text(max_size=6),
            "name": _JSON,
            "config": st.dictionaries(
                st.sampled_from(
                    ["friendly_name", "info", "unit", "precision", "state_class",
                     "device_class"]
                ),
                _JSON,
            )
            | _JSON,
        }
    ),
    max_size=4,
)  # fmt: skip


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is no JSON Home Assistant reads")


@given(_LISTED_DEVICES | _JSON, st.sampled_from([b"200", b"404", b"2x0"]))
def test_any_list_reply_announces_what_it_can_and_never_raises(
    devices: object, status: bytes
) -> None:
    """A devices service's `list` reply is read for discovery (a board may run
    another raspy): any devices in it give configs that are JSON, or are left out."""
    core = make_core()
    core.key_changed(LAMP, b"true", NOW)  # request 1: the list of pi.fake
    reply = {"v": 1, "action": "list", "devices": devices}
    core.reply(1, [status, json.dumps(reply).encode()], NOW)
    for message in drain(core):
        if message.payload:
            json.loads(message.payload, parse_constant=_no_constant)


BUTTON_CONFIG: dict[str, object] = {
    "friendly_name": "Bell",
    "device_class": "button",
    "double_press_s": 0.5,
    "long_press_s": 1.5,
}
BUTTON_ITEM: dict[str, object] = {
    "name": "bell",
    "fullname": "pi.gpio.bell",
    "oid": "sensor.binary",
    "config": BUTTON_CONFIG,
}


def _gpio_listed(core: BridgeCore, *items: Mapping[str, object]) -> dict[str, bytes]:
    """The configs (by topic) the gpio service's `list` reply makes the core send."""
    outputs = core.key_changed("/device/pi.gpio.bell/value", b"false", NOW)
    outputs += core.service_available("pi.gpio.devices", NOW)  # (listed before)
    (send,) = outputs
    assert isinstance(send, SendRequest)
    reply = json.dumps({"v": 1, "devices": list(items)}).encode()
    core.reply(send.request_id, [b"200", reply], NOW)
    return {
        m.topic: m.payload for m in drain(core) if m.topic.startswith("homeassistant/")
    }


def _trigger(gesture: str, kind: str) -> dict[str, object]:
    return {
        "automation_type": "trigger",
        "topic": "raspy/pi/gpio/bell/gesture",
        "payload": gesture,
        "type": kind,
        "subtype": "button_1",
        "qos": 1,
        "device": {
            "identifiers": ["raspy.pi.gpio.bell"],
            "name": "Bell",
            "manufacturer": "raspy",
            "model": "sensor.binary",
            "sw_version": "0.1.0",
            "via_device": HUB_ID,
        },
        "origin": {"name": "raspy", "sw_version": "0.1.0"},
    }


def test_a_button_with_gestures_gets_a_device_trigger_for_each() -> None:
    """Home Assistant's short, double and long press of the button's device, on
    the topic its gestures go to; the entity itself is the binary_sensor as
    before. A button that lists fewer options loses the other triggers."""
    core = make_core()
    configs = _gpio_listed(core, BUTTON_ITEM)
    triggers = {
        t: json.loads(p) for t, p in configs.items() if "/device_automation/" in t
    }
    assert sorted(triggers.values(), key=lambda c: str(c["payload"])) == [
        _trigger("double", "button_double_press"),
        _trigger("long", "button_long_press"),
        _trigger("single", "button_short_press"),
    ]
    for topic, config in triggers.items():
        assert schema_problems(topic, config) == []  # no unique_id: HA takes none
        trigger_id = f"raspy.pi.gpio.bell/{config['payload']}"
        assert topic == (
            "homeassistant/device_automation/pi/"
            f"raspy_pi_gpio_bell_{config['payload']}_"
            + hashlib.sha256(trigger_id.encode()).hexdigest()[:8]
            + "/config"
        )
    (entity,) = [t for t in configs if "/binary_sensor/" in t]
    long_only = {**BUTTON_ITEM, "config": {**BUTTON_CONFIG, "double_press_s": 0}}
    again = _gpio_listed(core, long_only)
    double_topic = next(t for t, c in triggers.items() if c["payload"] == "double")
    assert again == {double_topic: b""}  # the rest is as it was sent
    assert entity in core.mirror
    # the device gone: its entity and its triggers go
    core.key_changed("/device/pi.gpio.bell/value", b"", NOW)
    assert {m.topic for m in drain(core) if not m.payload} == {
        "raspy/pi/gpio/bell/value",
        entity,
        *(t for t, c in triggers.items() if c["payload"] != "double"),
    }


@pytest.mark.parametrize(
    ("config", "made"),
    [
        ({"device_class": "button"}, []),
        ({"device_class": "button", "double_press_s": 0.4}, ["double", "single"]),
        ({"device_class": "button", "long_press_s": 2}, ["long", "single"]),
        ({"device_class": "door", "long_press_s": 2}, []),
        ({"device_class": "button", "long_press_s": True}, []),
        ({"device_class": "button", "long_press_s": "2"}, []),
    ],
)
def test_a_button_announces_the_gestures_its_options_make_and_no_other(
    config: dict[str, object], made: list[str]
) -> None:
    core = make_core()
    configs = _gpio_listed(core, {**BUTTON_ITEM, "config": config})
    triggers = [json.loads(p) for t, p in configs.items() if "/device_automation/" in t]
    assert sorted(str(c["payload"]) for c in triggers) == made


def test_a_gesture_goes_out_once_not_retained_while_the_broker_is_there() -> None:
    """Retained, a broker would replay it to Home Assistant at each of its starts
    (the trigger firing again); sent at a reconnect, minutes late. So neither."""
    core = make_core(discovery=False)
    key = "/event/pi.gpio.bell/double"
    assert core.key_changed(key, b"1700000000.5", NOW) == []  # no broker yet
    core.connected(NOW)
    drain(core)
    core.key_changed(key, b"1700000001.5", NOW)
    core.key_changed("/event/pi.gpio.bell/pressed", b"1700000001.5", NOW)
    core.key_changed("/event/pi.gpio.bell/double", b"", NOW)  # deleted: nothing
    core.key_changed("/event/pi.fake.bell/long", b"1700000002.0", NOW)
    assert drain(core) == [
        Message("raspy/pi/gpio/bell/gesture", b"double", retain=False),
        Message("raspy/pi/fake/bell/gesture", b"long", retain=False),
    ]
    assert "raspy/pi/gpio/bell/gesture" not in core.mirror
    core.disconnected()
    core.key_changed("/event/pi.gpio.bell/single", b"1700000003.0", NOW)
    core.connected(NOW)
    assert [m for m in drain(core) if not m.retain] == []


def test_a_gesture_queued_when_the_link_drops_is_not_sent_later() -> None:
    """Queued but not yet taken when the Wi-Fi blinked: a double press told five
    minutes later would fire Home Assistant's automation then. Retained states are
    sent again as ever."""
    core = make_core(discovery=False)
    core.connected(NOW)
    drain(core)
    core.key_changed("/event/pi.gpio.bell/double", b"1700000001.5", NOW)
    core.key_changed("/device/pi.fake.t1/value", b"21.5", NOW)
    assert core.disconnected() == 1
    core.connected(NOW + 300)
    sent = drain(core)
    assert [m for m in sent if not m.retain] == []
    assert Message("raspy/pi/fake/t1/value", b"21.5") in sent


def test_what_paho_held_goes_out_again_at_a_connect_but_a_gesture() -> None:
    """Handed to paho and never acknowledged (the keepalive ran out): at the next
    connect the retained state is queued again, the gesture is not."""
    core = make_core(discovery=False)
    stats = Stats()
    link = LinkCore(MqttConfig(), core, stats)
    link.connected(NOW, [])
    link.take(NOW)
    core.key_changed("/event/pi.gpio.bell/double", b"1700000001.5", NOW)
    core.key_changed("/device/pi.fake.t1/value", b"21.5", NOW)
    handed = link.take(NOW)
    assert {m.retain for m in handed} == {True, False}
    link.disconnected("keepalive", NOW + 90)
    link.connected(NOW + 300, handed)
    sent = link.take(NOW + 300)
    assert [m for m in sent if not m.retain] == []
    assert Message("raspy/pi/fake/t1/value", b"21.5") in sent


def test_a_gesture_of_a_device_not_exposed_or_in_the_stored_tree_is_not_sent() -> None:
    core = make_core(subtrees=("/device/pi.fake.*",), discovery=False)
    core.seed([("/event/pi.fake.bell/single", b"1700000000.5")], NOW)
    core.connected(NOW)
    drain(core)
    core.key_changed("/event/pi.gpio.bell/single", b"1700000001.0", NOW)
    assert drain(core) == []
    core.key_changed("/event/pi.fake.bell/single", b"1700000001.0", NOW)
    assert drain(core) == [
        Message("raspy/pi/fake/bell/gesture", b"single", retain=False)
    ]


def test_the_gesture_topic_is_never_a_command() -> None:
    topics = TopicMap("raspy", "pi")
    assert not topics.is_command("raspy/pi/gpio/bell/gesture", frozenset({"gesture"}))
    assert "raspy/+/+/+/gesture" not in topics.command_filters(frozenset({"gesture"}))
    core = make_core()
    assert core.command("raspy/pi/gpio/bell/gesture", b"single", NOW) == [
        Refused(
            "not_a_command",
            "'raspy/pi/gpio/bell/gesture'",
            topic="raspy/pi/gpio/bell/gesture",
        )
    ]
