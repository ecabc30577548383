"""Issue 16: the [mqtt] section's checks, and the subtree/command globs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy import config
from raspy.actors.mqtt import bridge_settings
from raspy.config import MqttConfig
from raspy.errors import ConfigError, MalformedMessage
from raspy.mqtt.core import BridgeCore, Refused, SendRequest
from raspy.mqtt.filters import GlobFilter


def test_the_bridge_is_off_by_default_with_home_assistant_defaults() -> None:
    mqtt = config.load("").mqtt
    assert (mqtt.enabled, mqtt.base_topic, mqtt.discovery_prefix) == (
        False,
        "raspy",
        "homeassistant",
    )
    assert mqtt.subtrees == ("/device/*",)


def test_bad_mqtt_settings_are_all_named_at_once() -> None:
    text = """
[mqtt]
port = 70000
qos = 3
password = "x"
password_file = "/etc/raspy/mqtt"
tls_key_file = "/etc/raspy/mqtt.key"
base_topic = "home/#"
subtrees = ["device/*"]
"""
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspyd.toml")
    assert caught.value.problems == [
        "raspyd.toml: mqtt.qos: expected 0, 1 or 2, got 3",
        "raspyd.toml: mqtt.password and password_file: expected one of them",
        "raspyd.toml: mqtt.tls_cert_file and tls_key_file: expected both set or "
        "both empty",
        "raspyd.toml: mqtt.base_topic: expected topic levels without +, # or empty "
        'ones, got "home/#"',
        'raspyd.toml: mqtt.subtrees: expected globs starting with /, got "device/*"',
        "raspyd.toml: mqtt.port: expected 1..65535, got 70000",
    ]


def test_home_assistants_birth_topic_is_its_own_whatever_the_prefix() -> None:
    """Home Assistant's birth message goes to `homeassistant/status` unless its MQTT
    settings move it, whatever its discovery prefix: the bridge listened on
    `<discovery_prefix>/status`, which another prefix left unheard."""
    mqtt = config.load('[mqtt]\ndiscovery_prefix = "ha"\n').mqtt
    assert mqtt.birth_topic == "homeassistant/status"
    assert BridgeCore(bridge_settings(mqtt, "pi")).birth_topic == "homeassistant/status"
    moved = config.load('[mqtt]\nbirth_topic = "hass/status"\n').mqtt
    assert BridgeCore(bridge_settings(moved, "pi")).birth_topic == "hass/status"
    unheard = config.load('[mqtt]\nbirth_topic = ""\n').mqtt
    assert BridgeCore(bridge_settings(unheard, "pi")).birth_topic is None
    with pytest.raises(ConfigError) as caught:
        config.load('[mqtt]\nbirth_topic = "hass/#"\n', "raspyd.toml")
    assert caught.value.problems == [
        "raspyd.toml: mqtt.birth_topic: expected topic levels without +, # or empty "
        'ones, got "hass/#"'
    ]


@pytest.mark.parametrize("host", ["", "  "])
def test_a_broker_host_left_empty_is_named_at_the_check(host: str) -> None:
    """An empty `host` passed the check, and the MQTT library refused it only when
    the bridge started: a traceback, and the bridge restarted again and again."""
    with pytest.raises(ConfigError) as caught:
        config.load(f'[mqtt]\nenabled = true\nhost = "{host}"\n', "raspyd.toml")
    assert caught.value.problems == [
        "raspyd.toml: mqtt.host: expected the broker's host name or address, "
        f'got "{host}"'
    ]


def test_globs_cover_subtrees_and_full_names() -> None:
    exposed = GlobFilter(["/device/pi.fake.*", "/scenario/*/state"], rooted=True)
    assert exposed("/device/pi.fake.lamp/value")
    assert exposed("/scenario/frost/state")
    assert not exposed("/device/pi.gpio.relay/value")
    assert not GlobFilter([])("/device/x")
    with pytest.raises(MalformedMessage):
        GlobFilter(["device/*"], rooted=True)


@given(st.lists(st.text(max_size=20), max_size=4), st.text(max_size=40))
def test_any_globs_build_a_filter_or_raise_malformed(
    globs: list[str], name: str
) -> None:
    try:
        matches = GlobFilter(globs, rooted=True)
    except MalformedMessage:
        return
    assert matches(name) in (True, False)


def test_the_commands_read_is_bridged_to_every_exposed_device() -> None:
    """A word that is no action gets no `…/result` (the bridge subscribes only to the
    actions it knows): `…/<device>/commands` is how an MQTT user learns a device's
    actions, a read that a device outside command_devices answers too."""
    config = MqttConfig(command_devices=("pi.gpio.*",))
    core = BridgeCore(bridge_settings(config, "pi"))
    assert "raspy/+/+/+/commands" in core.topics.command_filters(core.settings.actions)
    core.key_changed("/device/pi.fake.lamp/value", b"false", 0.0)
    outputs = core.command("raspy/pi/fake/lamp/commands", b"", 0.0)
    body = json.dumps({"v": 1, "action": "commands", "device": "lamp"}).encode()
    assert [(o.service, o.body) for o in outputs if isinstance(o, SendRequest)] == [
        ("pi.fake.devices", body)
    ]
    refused = core.command("raspy/pi/fake/lamp/on", b"", 0.0)
    assert refused == [
        Refused(
            "forbidden",
            "pi.fake.lamp takes no MQTT commands",
            topic="raspy/pi/fake/lamp/on",
        )
    ]
