"""The device-service request vocabulary, version 1: each action's reply and effects
(issue 7; raspy.devices.service)."""

from __future__ import annotations

import json
from pathlib import Path

from support.device_requests import (
    NOW,
    registry_fixture,  # noqa: F401  # fixture `registry`
)
from support.device_requests import ask as _ask

from raspy.devices import service
from raspy.devices.onewire import OneWireFactory
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Registry
from raspy.devices.service_vocabulary import (
    ConfigChanged,
    Handled,
    PollRequested,
    Publish,
    RescanRequested,
)


def test_reply_is_status_and_sorted_json_frames(registry: Registry) -> None:
    """Issue 7: reply frames [status, json]; 200 ok."""
    handled = service.handle(registry, [b'{"v": 1, "action": "list_keys"}'], NOW)
    assert handled == Handled(
        (
            b"200",
            b'{"action": "list_keys", "devices": ["attic", "hall", "lamp", "tv", '
            b'"tv.channel", "tv.volume"], "v": 1}',
        )
    )


def test_list_gives_name_oid_config_and_last_value(registry: Registry) -> None:
    """Issue 7: list (name, oid, config, last value)."""
    attic = registry.get("attic")
    attic.record(attic.read(NOW))
    status, body, _ = _ask(registry, action="list")
    assert status == b"200"
    assert body["devices"][0] == {
        "name": "attic",
        "fullname": "pi.fake.attic",
        "oid": "sensor.temperature",
        "parent": None,
        "config": attic.config.as_dict(),
        "reading": Reading(10.0, "°C", Status.OK, NOW).as_json(),
        "errors": 0,
    }
    assert [d["parent"] for d in body["devices"]] == [
        None,
        None,
        None,
        None,
        "tv",
        "tv",
    ]


def test_get_returns_the_last_reading_or_null_before_the_first_poll(
    registry: Registry,
) -> None:
    assert _ask(registry, action="get", device="attic")[1] == {
        "v": 1,
        "action": "get",
        "device": "attic",
        "fullname": "pi.fake.attic",
        "reading": None,
        "errors": 0,
    }
    attic = registry.get("attic")
    attic.record(Reading.failed(Status.MISSING, "°C", NOW, "gone"))
    body = _ask(registry, action="get", device="attic")[1]
    assert (body["reading"]["status"], body["errors"]) == ("missing", 1)


def test_set_writes_the_main_command_and_asks_to_publish(registry: Registry) -> None:
    """Issue 7: set / command execution; the new value goes to the tree."""
    status, body, handled = _ask(registry, action="set", device="hall", value=40)
    reading = Reading(40, "%", Status.OK, NOW)
    assert (status, body["reading"]) == (b"200", reading.as_json())
    assert handled.effects == (Publish("hall", "pi.fake.hall", reading),)
    assert registry.get("hall").last == reading


def test_a_whole_number_written_as_a_float_is_the_integer_it_is(
    registry: Registry,
) -> None:
    """JSON has one number type: `50.0` from a template, a script or an MQTT payload
    sets the dimmer to 50 (it was refused as "expected an integer"); a fraction is
    still refused, with the reason."""
    status, body, _ = _ask(registry, action="level", device="hall", value=50.0)
    assert (status, body["reading"]["value"]) == (b"200", 50)
    assert type(body["reading"]["value"]) is int
    status, body, _ = _ask(registry, action="level", device="hall", value=37.5)
    assert (status, body["detail"]) == (
        b"400",
        "level: expected an integer, got 37.5",
    )
    status, body, _ = _ask(
        registry, action="config", device="attic", value={"precision": 2.0}
    )
    assert (status, body["config"]["precision"]) == (b"200", 2)
    assert type(body["config"]["precision"]) is int


def test_kind_commands_run_as_actions(registry: Registry) -> None:
    """Issue 7: each kind's own commands; triggers take no value."""
    assert _ask(registry, action="toggle", device="lamp")[1]["reading"]["value"] is True
    assert _ask(registry, action="up", device="tv.volume")[1]["reading"]["value"] == 25
    _ask(registry, action="mute", device="tv.volume", value=True)
    assert _ask(registry, action="mute", device="tv.volume")[1] == {
        "v": 1,
        "action": "mute",
        "device": "tv.volume",
        "command": "mute",
        "value": True,
    }
    body = _ask(registry, action="level", device="hall")[1]
    assert (body["command"], body["reading"]) == ("level", None)


def test_commands_lists_the_template_with_metadata(registry: Registry) -> None:
    """Issue 7: commands with metadata (info, access, value type, datasource)."""
    body = _ask(registry, action="commands", device="lamp")[1]
    assert body["oid"] == "switch"
    assert body["commands"] == [
        {"name": "config", "info": "the config; a value updates the fields given",
         "access": "rw", "type": "Dict", "datasource": None},
        {"name": "poll", "info": "read the device now and publish the value",
         "access": "wo", "type": None, "datasource": None},
        {"name": "log", "info": "whether values are logged", "access": "rw",
         "type": "Bool", "datasource": None},
        {"name": "reset", "info": "clear errors and return to the initial state",
         "access": "wo", "type": None, "datasource": None},
        {"name": "state", "info": "on (true) or off (false)", "access": "rw",
         "type": "Bool", "datasource": "GAUGE"},
        {"name": "on", "info": "turn on", "access": "wo", "type": None,
         "datasource": None},
        {"name": "off", "info": "turn off", "access": "wo", "type": None,
         "datasource": None},
        {"name": "toggle", "info": "switch to the other state", "access": "wo",
         "type": None, "datasource": None},
    ]  # fmt: skip


def test_config_reads_and_changes_with_a_config_changed_effect(
    registry: Registry,
) -> None:
    """Issue 7: command `config`."""
    before = registry.get("attic").config.as_dict()
    assert _ask(registry, action="config", device="attic")[1]["config"] == before
    status, body, handled = _ask(
        registry, action="config", device="attic", value={"poll_interval_s": 2}
    )
    config = registry.get("attic").config
    assert (status, body["config"]) == (b"200", {**before, "poll_interval_s": 2.0})
    assert handled.effects == (ConfigChanged("attic", config),)


def test_a_config_or_log_that_changes_nothing_asks_for_no_write(
    registry: Registry,
) -> None:
    """A ConfigChanged is a durable write of the device's settings: a `config` or
    `log` that sets what is already set (a script that sends its settings at every
    start, a Home Assistant retry) must not wear the card. It answers as before."""
    before = registry.get("attic").config.as_dict()
    for action, value in (
        ("config", {"poll_interval_s": before["poll_interval_s"]}),
        ("config", {}),
        ("log", before["log"]),
    ):
        status, _, handled = _ask(registry, action=action, device="attic", value=value)
        assert (status, handled.effects) == (b"200", ())
    flipped = not before["log"]
    status, _, handled = _ask(registry, action="log", device="attic", value=flipped)
    assert (status, len(handled.effects)) == (b"200", 1)


def test_list_shows_the_precision_and_config_changes_it(registry: Registry) -> None:
    """The decimals Home Assistant shows are part of the config: `list` shows them
    (what the MQTT bridge announces), `config` changes them, null leaves the choice
    to Home Assistant, and anything outside 0..6 is refused naming the field."""
    listed = _ask(registry, action="list")[1]["devices"][0]["config"]
    assert (listed["name"], listed["precision"]) == ("attic", 1)
    for value in (3, None):
        status, body, _ = _ask(
            registry, action="config", device="attic", value={"precision": value}
        )
        assert (status, body["config"]["precision"]) == (b"200", value)
    status, body, _ = _ask(
        registry, action="config", device="attic", value={"precision": 9}
    )
    assert status == b"400"
    assert "precision: expected an integer in 0..6, got 9" in json.dumps(body)
    assert registry.get("attic").config.settings["precision"] is None


def test_log_flag_reads_and_sets(registry: Registry) -> None:
    """Issue 7: command `log`."""
    assert _ask(registry, action="log", device="lamp")[1]["log"] is False
    status, body, handled = _ask(registry, action="log", device="lamp", value=True)
    assert (status, body["log"]) == (b"200", True)
    assert handled.effects == (ConfigChanged("lamp", registry.get("lamp").config),)


def test_poll_asks_the_owner_to_read_now(registry: Registry) -> None:
    """Issue 7: command `poll` (the read itself may block, so it is an effect)."""
    status, body, handled = _ask(registry, action="poll", device="attic")
    assert (status, body["poll"]) == (b"200", "requested")
    assert handled.effects == (PollRequested("attic"),)


def test_reset_returns_a_composite_and_its_parts_to_the_start(
    registry: Registry,
) -> None:
    """Issue 7: command `reset`."""
    _ask(registry, action="power", device="tv", value=True)
    _ask(registry, action="channel", device="tv.channel", value=7)
    status, body, handled = _ask(registry, action="reset", device="tv")
    assert (status, body["reset"]) == (b"200", ["tv", "tv.channel", "tv.volume"])
    assert handled.effects == (
        Publish("tv", "pi.fake.tv", Reading(False, "", Status.OK, NOW)),
        Publish("tv.channel", "pi.fake.tv.channel", Reading(1, "", Status.OK, NOW)),
        Publish("tv.volume", "pi.fake.tv.volume", Reading(20, "%", Status.OK, NOW)),
    )


def test_reset_of_a_sensor_clears_errors_and_asks_for_a_poll(
    registry: Registry,
) -> None:
    attic = registry.get("attic")
    attic.record(Reading.failed(Status.CRC_ERROR, "°C", NOW, "crc=00 NO"))
    handled = _ask(registry, action="reset", device="attic")[2]
    assert handled.effects == (PollRequested("attic"),)
    assert (attic.errors, attic.last) == (0, None)


def test_rescan_on_a_bus_service_is_an_effect(tmp_path: Path) -> None:
    """Issue 7: 1-Wire sensors are discovered again on a rescan command."""
    onewire = Registry("pi", "onewire", OneWireFactory(tmp_path))
    status, body, handled = _ask(onewire, action="rescan")
    assert (status, body["rescan"]) == (b"200", "requested")
    assert handled.effects == (RescanRequested(),)
