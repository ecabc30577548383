"""What browsers send (raspy.web.forms): forms, device commands, service requests."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.web.forms import (
    DeviceCommand,
    FormError,
    history_request,
    parse_device_command,
    parse_form,
    scenario_get_request,
    scenario_request,
)


def test_a_form_gives_the_first_value_of_each_field() -> None:
    assert parse_form(b"csrf=a%2Bb&secret=x+y&csrf=2") == {
        "csrf": "a+b",
        "secret": "x y",
    }


def test_an_empty_form_has_no_fields() -> None:
    assert parse_form(b"") == {}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"a=\xff", "not a form: ", id="not-ascii"),
        pytest.param(b"x" * 9000, "form over 8192 bytes", id="too-big"),
        pytest.param(b"novalue", "not a form: ", id="no-equals"),
    ],
)
def test_a_bad_form_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(FormError, match=r".") as caught:
        parse_form(body)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            b'{"key": "/house/mode", "value": "away"}',
            'not a form: the field \'{"key": "/house/mode", "value": "away"}\' '
            "has no '=' (expected name=value fields joined by &, percent-encoded, as a "
            "browser sends a form)",
            id="json",
        ),
        pytest.param(
            b"csrf=x&&value=1",
            "not a form: the field '' has no '=' (expected name=value fields joined "
            "by &, percent-encoded, as a browser sends a form)",
            id="empty-field",
        ),
        pytest.param(
            "value=caf\u00e9".encode(),
            "not a form: byte 0xc3 at offset 9 is not ASCII (expected name=value "
            "fields joined by &, percent-encoded, as a browser sends a form)",
            id="utf8-not-encoded",
        ),
    ],
)
def test_a_body_that_is_no_form_is_told_in_the_forms_words(
    body: bytes, reason: str
) -> None:
    """A script that posts JSON, or text not percent-encoded, reads what a form is,
    not Python's words ('bad query field', 'ascii' codec)."""
    with pytest.raises(FormError) as caught:
        parse_form(body)
    assert str(caught.value) == reason


@given(st.binary(max_size=300))
def test_any_form_body_parses_or_raises_form_error(body: bytes) -> None:
    try:
        fields = parse_form(body)
    except FormError:
        return
    assert all(isinstance(v, str) for v in fields.values())


def test_a_switch_press_becomes_the_devices_services_set_request() -> None:
    command = parse_device_command(
        b'{"service": "h.gpio.devices", "device": "relay", "action": "set", "value": true}'
    )
    assert (command, json.loads(command.request_body())) == (
        DeviceCommand("h.gpio.devices", "relay", "set", True),
        {"v": 1, "action": "set", "device": "relay", "value": True},
    )


def test_a_slider_value_is_a_number_and_a_trigger_has_none() -> None:
    level = parse_device_command(
        b'{"service": "h.f.devices", "device": "hall", "action": "set", "value": 40}'
    )
    off = parse_device_command(
        b'{"service": "h.f.devices", "device": "hall", "action": "off"}'
    )
    assert (level.request_body(), json.loads(off.request_body())) == (
        b'{"v": 1, "action": "set", "device": "hall", "value": 40}',  # not 40.0
        {"v": 1, "action": "off", "device": "hall"},
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"[]", "expected a JSON object", id="not-object"),
        pytest.param(
            b'{"service": "h.echo", "device": "d", "action": "set"}',
            "service: expected a name ending in .devices",
            id="not-a-devices-service",
        ),
        pytest.param(
            b'{"service": "h.f.devices", "device": "d", "action": "config"}',
            "action: expected one of log, off, on, set, toggle",
            id="action-not-allowed",
        ),
        pytest.param(
            b'{"service": "h.f.devices", "device": "", "action": "on"}',
            "device: expected a name of 1..255 characters",
            id="empty-device",
        ),
        pytest.param(
            b'{"service": "h.f.devices", "device": "d", "action": "set", "value": "x"}',
            "value: expected true, false, a number or null",
            id="text-value",
        ),
        pytest.param(
            b'{"service": "h.f.devices", "device": "d", "action": "on", "extra": 1}',
            "unknown field 'extra'",
            id="extra-field",
        ),
    ],
)
def test_a_bad_command_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(FormError, match=r".") as caught:
        parse_device_command(body)
    assert str(caught.value) == reason


@given(
    st.binary(max_size=200)
    | st.dictionaries(
        st.text(max_size=8),
        st.none() | st.booleans() | st.floats() | st.text(max_size=8),
    ).map(lambda d: json.dumps(d).encode())
)
def test_any_command_body_parses_or_raises_form_error(body: bytes) -> None:
    try:
        command = parse_device_command(body)
    except FormError:
        return
    assert json.loads(command.request_body())["v"] == 1


def test_scenario_buttons_and_graphs_ask_in_the_services_own_words() -> None:
    assert (
        json.loads(scenario_request("run", "frost-lamp")),
        json.loads(history_request("h.fake.outdoor", 100.0, None)),
    ) == (
        {"v": 1, "action": "run", "name": "frost-lamp"},
        {
            "v": 1,
            "action": "history",
            "key": "/device/h.fake.outdoor/value",
            "since": 100.0,
            "until": None,
            "resolution": "auto",
        },
    )


def test_a_scenario_action_other_than_the_buttons_is_refused() -> None:
    with pytest.raises(FormError, match="expected one of disable, enable, run"):
        scenario_request("delete", "frost-lamp")


@given(
    action=st.sampled_from(["run", "enable", "disable", "get"]) | st.text(max_size=8),
    name=st.text(max_size=80),
    since=st.floats(),
)
def test_any_path_of_a_page_makes_a_json_request_or_raises_form_error(
    action: str, name: str, since: float
) -> None:
    """A scenario's or a device's name comes from the page's path, any text."""
    builds: list[Callable[[], bytes]] = [
        lambda: scenario_request(action, name),
        lambda: scenario_get_request(name),
        lambda: history_request(name, since, None),
    ]
    for build in builds:
        try:
            body = build()
        except FormError:
            continue
        assert isinstance(json.loads(body), dict)
