"""The device-service request vocabulary, version 1 (issue 7; raspy.devices.service)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.devices import service
from raspy.devices.onewire import OneWireFactory
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Driver, Registry
from raspy.devices.service import (
    ConfigChanged,
    Handled,
    PollRequested,
    Publish,
    RescanRequested,
)
from raspy.devices.simulated import SimulatedFactory
from raspy.devices.template import DeviceConfig, FieldSpec, JsonValue
from raspy.errors import DeviceError

NOW = 1_700_000_400.0
STATUSES = {b"200", b"400", b"404", b"500", b"501"}


@pytest.fixture
def registry() -> Registry:
    registry = Registry("pi", "fake", SimulatedFactory())
    registry.add_all(
        [
            {"name": "attic", "oid": "sensor.temperature", "min": 10, "max": 20},
            {"name": "hall", "oid": "dimmer"},
            {"name": "lamp", "oid": "switch"},
            {"name": "tv", "oid": "media.tv"},
        ]
    )
    return registry


def _ask(registry: Registry, **request: Any) -> tuple[bytes, dict[str, Any], Handled]:
    handled = service.handle(registry, [json.dumps({"v": 1, **request}).encode()], NOW)
    status, body = handled.reply
    return status, json.loads(body), handled


def _error(status: bytes, action: str | None, token: str, detail: str) -> Handled:
    body = {"v": 1, "action": action, "error": token, "detail": detail}
    return Handled(
        (status, json.dumps(body, ensure_ascii=False, sort_keys=True).encode())
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


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            {"action": "set", "device": "attic", "value": 3},
            _error(b"400", "set", "read_only", "value: read-only"),
            id="set-a-sensor",
        ),
        pytest.param(
            {"action": "set", "device": "lamp"},
            _error(b"400", "set", "value_required", "set: no value"),
            id="set-without-value",
        ),
        pytest.param(
            {"action": "toggle", "device": "lamp", "value": 1},
            _error(b"400", "toggle", "takes_no_value", "toggle: a trigger"),
            id="trigger-with-value",
        ),
        pytest.param(
            {"action": "level", "device": "hall", "value": 101},
            _error(
                b"400",
                "level",
                "invalid_value",
                "level: expected an integer in 0..100, got 101",
            ),
            id="level-too-high",
        ),
        pytest.param(
            {"action": "get", "device": "ghost"},
            _error(b"404", "get", "unknown_device", "'ghost'"),
            id="unknown-device",
        ),
        pytest.param(
            {"action": "get"},
            _error(b"400", "get", "missing_device", "device: required"),
            id="missing-device",
        ),
        pytest.param(
            {"action": "fly", "device": "lamp"},
            _error(b"501", "fly", "unknown_action", "'fly'"),
            id="unknown-action",
        ),
        pytest.param(
            {"action": "toggle", "device": "hall"},
            _error(
                b"501",
                "toggle",
                "unknown_action",
                "'toggle' is not a command of dimmer",
            ),
            id="command-of-another-kind",
        ),
        pytest.param(
            {"action": "rescan"},
            _error(b"501", "rescan", "unknown_action", "no bus to rescan"),
            id="rescan-without-bus",
        ),
        pytest.param(
            {"action": "list", "device": "lamp"},
            _error(b"400", "list", "bad_request", "takes no device or value"),
            id="list-with-device",
        ),
        pytest.param(
            {"action": "get", "device": "lamp", "colour": "red"},
            _error(b"400", "get", "unknown_field", "'colour'"),
            id="unknown-key",
        ),
        pytest.param(
            {"action": "log", "device": "lamp", "value": "yes"},
            _error(b"400", "log", "invalid_value", "log: expected true or false"),
            id="log-not-bool",
        ),
    ],
)
def test_bad_requests_get_the_status_of_the_original(
    registry: Registry, request_: dict[str, Any], expected: Handled
) -> None:
    """Issue 7: 400 bad request, 404 unknown device, 501 unknown action."""
    assert service.handle(
        registry, [json.dumps({"v": 1, **request_}).encode()], NOW
    ) == (expected)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            [],
            _error(b"400", None, "bad_request", "expected 1 frame, got 0"),
            id="none",
        ),
        pytest.param(
            [b"{}", b"{}"],
            _error(b"400", None, "bad_request", "expected 1 frame, got 2"),
            id="two",
        ),
        pytest.param(
            [b"[1]"],
            _error(b"400", None, "bad_request", "expected a JSON object"),
            id="list",
        ),
        pytest.param(
            [b'{"action": "list"}'],
            _error(b"400", "list", "unsupported_version", "v: expected 1, got 'None'"),
            id="no-version",
        ),
        pytest.param(
            [b'{"v": 2, "action": "list"}'],
            _error(b"400", "list", "unsupported_version", "v: expected 1, got '2'"),
            id="version-2",
        ),
        pytest.param(
            [b'{"v": true, "action": "list"}'],
            _error(b"400", "list", "unsupported_version", "v: expected 1, got 'True'"),
            id="version-true",
        ),
        pytest.param(
            [b'{"v": 1, "action": 7}'],
            _error(
                b"400",
                None,
                "bad_request",
                "action: expected a string of at most 64 characters",
            ),
            id="action-not-text",
        ),
        pytest.param(
            [b"x" * (64 * 1024 + 1)],
            _error(b"400", None, "bad_request", "over 65536 bytes"),
            id="too-large",
        ),
    ],
)
def test_malformed_bodies_are_bad_requests(
    registry: Registry, body: list[bytes], expected: Handled
) -> None:
    """Issue 7: a versioned JSON vocabulary; anything else is 400."""
    assert service.handle(registry, body, NOW) == expected


def test_deeply_nested_value_is_refused_as_a_bad_config(registry: Registry) -> None:
    """A value nested far deeper than the limit is refused, not a crash."""
    deep = b"[" * 900 + b"]" * 900
    frame = b'{"v": 1, "action": "config", "device": "lamp", "value": {"info": %s}}'
    handled = service.handle(registry, [frame % deep], NOW)
    assert handled == _error(
        b"400",
        "config",
        "invalid_config",
        "device 'lamp': info: expected Str, got a list of 1",
    )


@pytest.mark.parametrize(
    "frame",
    [b"\xff", b"{", b'{"v": NaN, "action": "list"}', b"[" * 5000 + b"]" * 5000],
    ids=["not-utf8", "cut", "nan", "deep"],
)
def test_undecodable_json_is_a_bad_request(registry: Registry, frame: bytes) -> None:
    status, body = service.handle(registry, [frame], NOW).reply
    assert (status, json.loads(body)["error"]) == (b"400", "bad_json")


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


def test_invalid_config_change_is_refused_and_changes_nothing(
    registry: Registry,
) -> None:
    before = registry.get("attic").config
    handled = _ask(registry, action="config", device="attic", value={"max": 1})[2]
    assert handled == _error(
        b"400",
        "config",
        "invalid_config",
        "device 'attic': max: expected >= min (10.0), got 1.0",
    )
    assert registry.get("attic").config is before


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


class _JammedRelay:
    """A switch whose relay is stuck: hardware faked, as STYLE.md §7 allows."""

    def read(self, config: DeviceConfig, now: float) -> Reading:
        return Reading(False, "", Status.OK, now)

    def execute(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Reading:
        raise DeviceError(f"device {config.name!r}: relay stuck")

    def state(self) -> Mapping[str, JsonValue]:
        return {}

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        return None


class _JammedFactory:
    @property
    def rescan_supported(self) -> bool:
        return False

    def fields(self, oid: str) -> tuple[FieldSpec, ...] | None:
        return () if oid == "switch" else None

    def problems(self, config: DeviceConfig) -> list[str]:
        return []

    def create(self, config: DeviceConfig) -> Driver:
        return _JammedRelay()


def test_device_failure_is_a_500() -> None:
    """Issue 7: 500 device error."""
    registry = Registry("pi", "relays", _JammedFactory())
    registry.add({"name": "pump", "oid": "switch"})
    assert _ask(registry, action="on", device="pump")[2] == _error(
        b"500", "on", "device_error", "device 'pump': relay stuck"
    )


actions = st.sampled_from(
    ["list_keys", "list", "get", "set", "commands", "config", "poll", "log", "reset",
     "rescan", "on", "off", "toggle", "level", "up", "down", "mute", "power",
     "snapshot", "value", "state", "channel", "volume", "fly", ""]
)  # fmt: skip
devices = st.sampled_from(
    ["attic", "hall", "lamp", "tv", "tv.volume", "tv.channel", "x"]
)
values = (
    st.none()
    | st.booleans()
    | st.integers(-5, 300)
    | st.floats()
    | st.text(max_size=5)
    | st.dictionaries(
        st.sampled_from(["log", "max", "unit", "name"]), st.integers(0, 3)
    )
)


@given(
    action=actions,
    device=st.none() | devices,
    value=values,
    version=st.sampled_from([1, 1, 1, 2, "1"]),
)
@settings(max_examples=200)
def test_any_vocabulary_request_gets_a_well_formed_reply(
    action: str, device: str | None, value: object, version: object
) -> None:
    """Every request gets [status, json] with a known status; never an exception."""
    registry = Registry("pi", "fake", SimulatedFactory())
    registry.add_all(
        [{"name": "attic", "oid": "sensor"}, {"name": "tv", "oid": "media.tv"}]
    )
    request: dict[str, object] = {"v": version, "action": action, "value": value}
    if device is not None:
        request["device"] = device
    frame = json.dumps(request).encode()
    status, body = service.handle(registry, [frame], NOW).reply
    assert status in STATUSES
    assert json.loads(body)["v"] == 1


@given(body=st.lists(st.binary(max_size=40), max_size=3))
def test_any_frames_get_a_well_formed_reply(body: list[bytes]) -> None:
    registry = Registry("pi", "fake", SimulatedFactory())
    status, reply = service.handle(registry, body, NOW).reply
    assert status in STATUSES
    assert json.loads(reply)["v"] == 1
