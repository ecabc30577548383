"""A device's Clone keys, `/device/<fullname>/<field>` (raspy.devices.reading):
value_key builds one, device_of_key reads one back or says None for any other key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices.reading import DEVICE_TREE, device_of_key, value_key

_PART = st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True)
FULLNAMES = st.lists(_PART, min_size=3, max_size=5).map(".".join)
FIELDS = st.lists(
    st.from_regex(r"[a-z_]{1,10}", fullmatch=True), min_size=1, max_size=3
).map("/".join)


def test_value_key_is_the_value_field_unless_another_is_named() -> None:
    assert value_key("pi.onewire.attic") == "/device/pi.onewire.attic/value"
    assert value_key("pi.fake.tv.volume", "unit") == "/device/pi.fake.tv.volume/unit"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("/device/pi.fake.lamp/value", ("pi.fake.lamp", "value")),
        ("/device/pi.fake.tv.volume/status", ("pi.fake.tv.volume", "status")),
        ("/device/pi.fake.lamp/a/b", ("pi.fake.lamp", "a/b")),
        ("/device/pi.fake/value", None),  # two parts: a service, not a device
        ("/device/pi..lamp/value", None),  # an empty part
        ("/device/.fake.lamp/value", None),
        ("/device/pi.fake.lamp", None),  # no field
        ("/device/pi.fake.lamp/", None),  # an empty field
        ("/device/", None),
        ("/scenario/wake/state", None),
        ("/devices/pi.fake.lamp/value", None),
        ("device/pi.fake.lamp/value", None),
        ("", None),
    ],
    ids=repr,
)
def test_device_of_key_reads_device_keys_and_passes_others_over(
    key: str, expected: tuple[str, str] | None
) -> None:
    assert device_of_key(key) == expected


@given(FULLNAMES, FIELDS)
def test_device_of_key_reads_back_what_value_key_built(
    fullname: str, field: str
) -> None:
    assert device_of_key(value_key(fullname, field)) == (fullname, field)


@given(st.one_of(st.text(max_size=40), st.text(max_size=40).map(DEVICE_TREE.__add__)))
def test_any_key_is_a_device_key_that_round_trips_or_none(key: str) -> None:
    device = device_of_key(key)
    if device is not None:
        assert value_key(*device) == key
