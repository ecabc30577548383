"""The device-service vocabulary, version 1, on bad input: 400 bad request, 404 unknown
device, 500 device error, 501 unknown action, and any frames at all (issue 7)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.device_requests import (
    NOW,
    registry_fixture,  # noqa: F401  # fixture `registry`
)
from support.device_requests import ask as _ask

from raspy.devices import service
from raspy.devices.driver import Driver
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Registry
from raspy.devices.service_vocabulary import Handled
from raspy.devices.simulated import SimulatedFactory
from raspy.devices.template import DeviceConfig, FieldSpec, JsonValue
from raspy.errors import DeviceError

STATUSES = {b"200", b"400", b"404", b"500", b"501"}


def _error(status: bytes, action: str | None, token: str, detail: str) -> Handled:
    body = {"v": 1, "action": action, "error": token, "detail": detail}
    return Handled(
        (status, json.dumps(body, ensure_ascii=False, sort_keys=True).encode())
    )


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
            {"action": "level", "device": "hall", "value": 300},
            _error(
                b"400",
                "level",
                "invalid_value",
                "level: expected an integer in 0..100, got 300",
            ),
            id="level-over-a-byte-says-the-dimmer-range",
        ),
        pytest.param(
            {"action": "set", "device": "hall", "value": -1},
            _error(
                b"400",
                "set",
                "invalid_value",
                "level: expected an integer in 0..100, got -1",
            ),
            id="level-below-0",
        ),
        pytest.param(
            {"action": "level", "device": "hall", "value": "abc"},
            _error(
                b"400",
                "level",
                "invalid_value",
                'level: expected an integer, got "abc"',
            ),
            id="level-text-quoted-once",
        ),
        pytest.param(
            {"action": "level", "device": "hall", "value": True},
            _error(
                b"400", "level", "invalid_value", "level: expected an integer, got true"
            ),
            id="level-bool-as-json",
        ),
        pytest.param(
            {"action": "state", "device": "lamp", "value": "on"},
            _error(
                b"400",
                "state",
                "invalid_value",
                'state: expected true or false, got "on"',
            ),
            id="state-text-quoted-once",
        ),
        pytest.param(
            {"action": "get", "device": "ghost"},
            _error(b"404", "get", "unknown_device", "no device 'ghost' here"),
            id="unknown-device",
        ),
        pytest.param(
            {"action": "get", "device": "lmap"},
            _error(
                b"404",
                "get",
                "unknown_device",
                "no device 'lmap' here (did you mean lamp?)",
            ),
            id="unknown-device-close-to-one",
        ),
        pytest.param(
            {"action": "get"},
            _error(b"400", "get", "missing_device", "device: required"),
            id="missing-device",
        ),
        pytest.param(
            {"action": "fly", "device": "nosuch"},
            _error(b"501", "fly", "unknown_action", "no action 'fly' here"),
            id="unknown-action",
        ),
        pytest.param(
            {"action": "fly", "device": "lamp"},
            _error(
                b"501",
                "fly",
                "unknown_action",
                # a typo is told what the device takes (it said "no action 'fly'
                # here" and nothing more)
                "'fly' is not a command of switch"
                " (its commands: state, on, off, toggle, config, poll, log, reset)",
            ),
            id="unknown-action-of-a-device",
        ),
        pytest.param(
            {"action": "toggle", "device": "hall"},
            _error(
                b"501",
                "toggle",
                "unknown_action",
                # its own commands named first: a scenario's last_error said only
                # that it was not one, not what to write instead
                "'toggle' is not a command of dimmer"
                " (its commands: level, on, off, config, poll, log, reset)",
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
            _error(b"400", "list", "unsupported_version", "v: expected 1, got null"),
            id="no-version",
        ),
        pytest.param(
            [b'{"v": 2, "action": "list"}'],
            _error(b"400", "list", "unsupported_version", "v: expected 1, got 2"),
            id="version-2",
        ),
        pytest.param(
            [b'{"v": true, "action": "list"}'],
            _error(b"400", "list", "unsupported_version", "v: expected 1, got true"),
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
    """A value nested far deeper than the limit is refused, not a crash: deeper
    than raspy reads JSON from outside (raspy.json_text), as not JSON; within it,
    as a bad value."""
    frame = b'{"v": 1, "action": "config", "device": "lamp", "value": {"info": %s}}'
    deep = b"[" * 900 + b"]" * 900
    assert service.handle(registry, [frame % deep], NOW) == _error(
        b"400", None, "bad_json", "JSON nested deeper than 100 levels"
    )
    nested = b"[" * 90 + b"]" * 90
    assert service.handle(registry, [frame % nested], NOW) == _error(
        b"400",
        "config",
        "invalid_config",
        "device 'lamp': info: expected a string, got a list of 1",
    )


@pytest.mark.parametrize(
    "frame",
    [b"\xff", b"{", b'{"v": NaN, "action": "list"}', b"[" * 5000 + b"]" * 5000],
    ids=["not-utf8", "cut", "nan", "deep"],
)
def test_undecodable_json_is_a_bad_request(registry: Registry, frame: bytes) -> None:
    status, body = service.handle(registry, [frame], NOW).reply
    assert (status, json.loads(body)["error"]) == (b"400", "bad_json")


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


class _JammedRelay:
    """A switch whose relay is stuck: hardware faked, as docs/style.md §7 allows."""

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


@pytest.mark.parametrize("field", ["poll_interval_s", "period_s", "min"])
@pytest.mark.parametrize("digits", [400, 300])
def test_an_integer_too_large_for_a_float_is_refused_as_a_bad_config(
    registry: Registry, field: str, digits: int
) -> None:
    """JSON takes integers of any size (Python reads up to 4300 digits), and a Real
    field's check asked math.isfinite() of it, which raised OverflowError out of the
    handler: raspyd's service failed and was restarted at each such request, and
    raspy-poller's main loop ended with it. One no float holds reads as infinity
    (raspy.json_text); either is over the field's limit."""
    frame = b'{"v": 1, "action": "config", "device": "attic", "value": {"%s": %s}}'
    body = frame % (field.encode(), b"9" * digits)
    status, reply = service.handle(registry, [body], NOW).reply
    assert (status, json.loads(reply)["error"]) == (b"400", "invalid_config")
