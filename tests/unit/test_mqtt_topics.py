"""Issue 16: tree keys -> topics and command topics -> targets (raspy.mqtt.topics)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices.reading import device_of_key
from raspy.errors import MalformedMessage
from raspy.mqtt.topics import DeviceTarget, ScenarioTarget, TopicMap

TOPICS = TopicMap("home/raspy", "pi")


@pytest.mark.parametrize(
    ("key", "topic"),
    [
        ("/device/pi.fake.lamp/value", "home/raspy/pi/fake/lamp/value"),
        ("/device/pi.fake.tv.volume/unit", "home/raspy/pi/fake/tv.volume/unit"),
        ("/device/shed.onewire.28-01/status", "home/raspy/shed/onewire/28-01/status"),
        ("/scenario/frost/state", "home/raspy/pi/scenario/frost/state"),
        ("/stats/pi/broker/requests", "home/raspy/pi/stats/pi/broker/requests"),
        # a second board's status (`subtrees` with "/board/*"): under the hub's host
        ("/board/shed.onewire/status", "home/raspy/pi/board/shed.onewire/status"),
    ],
    ids=["device", "subdevice", "other-host", "scenario", "stats", "board"],
)
def test_tree_keys_map_to_topics_under_the_base(key: str, topic: str) -> None:
    assert TOPICS.state_topic(key) == topic


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("/device/pi.fake/value", "bad_device_key"),
        ("/device/pi.fake.a+b/value", "bad_key"),
        ("/event//tick", "bad_key"),
        ("/event/#", "bad_key"),
        ("relative", "bad_key"),
        ("/x/" + "a" * 2000, "topic_too_long"),
        ("/event/door\n/pressed", "bad_key"),
        ("/device/pi.fake.la\x7fmp/value", "bad_key"),
        ("/event/a\x85b/x", "bad_key"),
        ("/device/pi.fake.\ud800/value", "bad_key"),
        ("/event/a\ufdd0/x", "bad_key"),
        ("/event/a\U0001ffff/x", "bad_key"),
    ],
    ids=[
        "no-device",
        "wildcard",
        "empty-level",
        "hash",
        "relative",
        "too-long",
        "newline",
        "delete",
        "c1-control",
        "surrogate",
        "non-character",
        "plane-non-character",
    ],
)
def test_keys_without_a_topic_are_refused_with_a_reason(key: str, reason: str) -> None:
    """Control characters and non-characters too: Mosquitto disconnects a client
    that publishes such a topic, and the bridge re-sends its mirror at every
    reconnect, so one such key would keep the bridge from staying connected."""
    with pytest.raises(MalformedMessage) as caught:
        TOPICS.state_topic(key)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("topic", "target"),
    [
        ("home/raspy/pi/fake/lamp/set", DeviceTarget("pi", "fake", "lamp", "set")),
        (
            "home/raspy/pi/fake/tv.volume/mute",
            DeviceTarget("pi", "fake", "tv.volume", "mute"),
        ),
        ("home/raspy/pi/scenario/frost/run", ScenarioTarget("pi", "frost")),
    ],
    ids=["set", "subdevice-action", "scenario"],
)
def test_command_topics_name_their_target(topic: str, target: object) -> None:
    assert TOPICS.parse_command(topic) == target


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("other/pi/fake/lamp/set", "not_under_base"),
        ("home/raspy/pi/fake/lamp", "bad_command_topic"),
        ("home/raspy/pi/fake/lamp/value", "not_a_command"),
        ("home/raspy/pi/fake/lamp/result", "not_a_command"),
        ("home/raspy/pi/scenario/frost/delete", "unknown_scenario_action"),
        ("home/raspy/pi/fake//set", "bad_command_topic"),
        ("home/raspy/pi/board/shed.onewire/status", "not_a_command"),
    ],
    ids=[
        "other-base",
        "short",
        "state-field",
        "result",
        "scenario-delete",
        "empty",
        "board-status",
    ],
)
def test_other_topics_are_not_commands(topic: str, reason: str) -> None:
    with pytest.raises(MalformedMessage) as caught:
        TOPICS.parse_command(topic)
    assert caught.value.reason == reason


def test_result_topics_sit_next_to_the_command() -> None:
    target = TOPICS.parse_command("home/raspy/pi/fake/lamp/toggle")
    assert TOPICS.result_topic(target) == "home/raspy/pi/fake/lamp/result"
    scenario = TOPICS.parse_command("home/raspy/pi/scenario/frost/run")
    assert TOPICS.result_topic(scenario) == "home/raspy/pi/scenario/frost/result"


def test_command_filters_never_cover_the_state_fields() -> None:
    assert TOPICS.command_filters(frozenset({"set", "value", "toggle", "status"})) == [
        "home/raspy/+/+/+/set",
        "home/raspy/+/+/+/toggle",
        "home/raspy/+/scenario/+/run",
    ]
    assert TOPICS.availability == "home/raspy/pi/status"


def test_a_base_topic_with_wildcards_is_refused() -> None:
    with pytest.raises(MalformedMessage):
        TopicMap("home/+", "pi")


_NAME = st.text(
    # no control characters or non-characters: a topic may not carry them
    st.characters(blacklist_characters="/+#.", blacklist_categories=["Cs", "Cc", "Cn"]),
    min_size=1,
    max_size=12,
)


@given(st.text(max_size=300))
def test_any_key_maps_or_raises_malformed(key: str) -> None:
    """A parser gives a value or a typed error, nothing else."""
    try:
        topic = TOPICS.state_topic(key)
    except MalformedMessage:
        return
    assert topic.startswith("home/raspy/")
    assert "+" not in topic
    assert "#" not in topic


@given(st.text(max_size=300))
def test_any_topic_parses_or_raises_malformed(topic: str) -> None:
    try:
        target = TOPICS.parse_command(topic)
    except MalformedMessage:
        return
    assert (
        TOPICS.parse_command(
            TOPICS.result_topic(target).rsplit("/", 1)[0]
            + "/"
            + (target.action if isinstance(target, DeviceTarget) else "run")
        )
        == target
    )


@given(_NAME, _NAME, _NAME, _NAME)
def test_device_state_and_command_topics_round_trip(
    host: str, service: str, device: str, action: str
) -> None:
    key = f"/device/{host}.{service}.{device}/value"
    topic = TOPICS.state_topic(key)
    assert device_of_key(key) == (f"{host}.{service}.{device}", "value")
    command = topic.rsplit("/", 1)[0] + "/" + action
    if action in {"value", "unit", "status", "timestamp", "result"}:
        return
    if service == "scenario":
        return
    assert TOPICS.parse_command(command) == DeviceTarget(host, service, device, action)
