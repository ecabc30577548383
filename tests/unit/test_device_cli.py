"""`raspy device`'s reading of its arguments (raspy.cli.device): NAME split into the
service and the device, VALUE as JSON or as text, the answer as a line."""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from raspy.cli.device import answer_text, parse_value, split_name


def test_a_full_name_gives_the_service_and_the_device_in_it() -> None:
    assert split_name("pi.fake.lamp") == ("pi.fake.devices", "lamp")
    assert split_name("pi.fake.tv.volume") == ("pi.fake.devices", "tv.volume")


@pytest.mark.parametrize("friendly", ["Desk lamp", "Lamp no. 2.", "Kids..room", ".x"])
def test_a_friendly_name_of_any_text_is_the_device_part(friendly: str) -> None:
    """The service takes a device's friendly_name too, which is free text (dots and
    all): only the host and service parts have a form to check."""
    assert split_name(f"pi.fake.{friendly}") == ("pi.fake.devices", friendly)


@pytest.mark.parametrize(
    "name",
    ["lamp", "pi.fake", "pi..lamp", ".fake.lamp", "pi.fake.", "my pi.fake.lamp"],
)
def test_a_name_that_is_no_full_name_is_refused_naming_the_form(name: str) -> None:
    """No device service has such a host or service name (raspy.names.NAME_SEGMENT):
    refused at once, not a wait for a reply that cannot come."""
    with pytest.raises(ValueError, match=r"<host>\.<service>\.<device>"):
        split_name(name)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("40", 40),
        ("37.5", 37.5),
        ('{"friendly_name": "Desk"}', {"friendly_name": "Desk"}),
        ("on", "on"),
        ("Desk lamp", "Desk lamp"),
        ("NaN", "NaN"),  # no JSON a service reads: the text
        ("1e400", "1e400"),
        (None, None),
    ],
)
def test_a_value_is_json_where_it_reads_as_json_else_the_text(
    text: str | None, value: object
) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-.5", -0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("+5", 5),
        ("05", 5),
        ("-1_000", -1000),
        ("1.e3", 1000.0),
        (" -.5 ", -0.5),
        ("1__0", "1__0"),  # no number to float(): the text
        ("+1e400", "+1e400"),  # an infinity: the text, as 1e400 is
        ("0x32", "0x32"),  # not a number to JSON nor to float()
        ("\u0661\u0662", "\u0661\u0662"),  # digits but not ASCII ones
    ],
)
def test_a_number_that_python_reads_and_json_does_not_is_sent_as_the_number(
    text: str, value: object
) -> None:
    """`level -.5` sent the text "-.5" where `level -0.5` sent the number."""
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


@given(st.text())
@example("[" * 5000)
@example("Infinity")
@example("null")
def test_any_value_text_gives_something_a_request_can_carry(text: str) -> None:
    """Property: whatever the shell gives, the value goes into strict JSON (a JSON
    `null` reads as no value, which is how the device services take a null)."""
    value = parse_value(text)
    json.dumps(value, allow_nan=False)
    assert (
        value == text
        or isinstance(value, bool | int | float | list | dict)
        or json.loads(text) == value  # a JSON string or null, read
    )


@given(st.text(), st.text(), st.text())
def test_any_name_is_split_or_refused_with_a_value_error(
    host: str, service: str, device: str
) -> None:
    with contextlib.suppress(ValueError):
        split_name(f"{host}.{service}.{device}")


def test_an_answer_prints_its_reading_or_value_read_else_its_json() -> None:
    assert (
        answer_text("pi.fake.hall", {"reading": {"value": 40}}) == "pi.fake.hall = 40"
    )
    read = {"device": "tv", "command": "volume", "value": 12}
    assert answer_text("pi.fake.tv", read) == "pi.fake.tv = 12"
    assert answer_text("pi.fake.lamp", {"reset": ["lamp"]}) == '{"reset": ["lamp"]}'


def test_a_change_the_device_holds_is_said_after_the_value_it_still_has() -> None:
    held = "off for 40s of min_off_s 300s: on in 260s"
    reply = {"reading": {"value": False}, "pending": {"state": True, "detail": held}}
    assert answer_text("pi.gpio.pump", reply) == f"pi.gpio.pump = false (held: {held})"


def test_a_reading_that_failed_says_its_status_and_why_not_only_null() -> None:
    """`raspy device` prints what the device answers: a 1-Wire sensor gone from the
    bus answers a reading with no value and its status (README, "1-Wire on a
    Raspberry Pi": faults show in `status`), which was printed as `= null` alone,
    so the user was not told why."""
    gone = "28-0316a2792aff is gone from the bus"
    reply = {"reading": {"value": None, "status": "missing", "detail": gone}}
    assert answer_text("pi.onewire.attic", reply) == (
        f"pi.onewire.attic = null (missing: {gone})"
    )
    stalled = {"reading": {"value": None, "status": "no_answer", "detail": ""}}
    assert answer_text("pi.onewire.attic", stalled) == (
        "pi.onewire.attic = null (no_answer)"
    )
    fine = {"reading": {"value": 21.5, "status": "ok", "detail": ""}}
    assert answer_text("pi.onewire.attic", fine) == "pi.onewire.attic = 21.5"


@pytest.mark.parametrize("name", ["hall", "fake.hall"])
def test_a_name_short_of_a_part_is_told_the_short_form_too(name: str) -> None:
    """`raspy device hall on` was told the full form only, not `.fake.hall`, which
    the hub's host name completes."""
    said = (
        "NAME: expected a device's full name, <host>.<service>.<device> "
        "(pi.fake.lamp) or .<service>.<device>, under the hub's host name "
        f'(.fake.lamp), got "{name}"'
    )
    with pytest.raises(ValueError, match=f"^{re.escape(said)}$"):
        split_name(name)
