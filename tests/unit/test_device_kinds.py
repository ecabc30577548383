"""The register of device kinds, their templates, and config validation (issue 7)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.devices import kinds
from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.kinds import KindRegister
from raspy.devices.template import (
    Access,
    CommandSpec,
    DataSource,
    DeviceConfig,
    FieldSpec,
    ValueSpec,
    ValueType,
    derive,
    normalise,
    reason_against,
)
from raspy.errors import DeviceError

KIND_OIDS = [
    "clock.rtc",
    "dimmer",
    "media.camera",
    "media.tv",
    "media.tv.channel",
    "media.tv.volume",
    "sensor",
    "sensor.binary",
    "sensor.humidity",
    "sensor.temperature",
    "sensor.wind",
    "switch",
]


def test_builtin_register_has_every_kind_the_issue_names() -> None:
    """Issue 7: at least sensor, sensor.temperature, sensor.wind, sensor.humidity,
    switch, dimmer, media.camera, media.tv (with its parts), clock.rtc."""
    assert BUILTIN.oids() == KIND_OIDS


def test_temperature_template_declares_fields_and_commands_with_metadata() -> None:
    """Issue 7: a template has config fields (name, unit, poll interval, log) and
    commands with info, access, value type and datasource."""
    kind = BUILTIN.get("sensor.temperature")
    assert kind.fields == (
        FieldSpec("info", ValueSpec(ValueType.STR), "a label for people", ""),
        FieldSpec(
            "friendly_name",
            ValueSpec(ValueType.STR, max_length=64),
            "another name a request may use for the device (unique in its service)",
            "",
        ),
        FieldSpec(
            "unit",
            ValueSpec(ValueType.STR, max_length=16, choices=("°C", "°F", "K")),
            "unit of the value",
            "°C",
        ),
        FieldSpec(
            "poll_interval_s",
            ValueSpec(ValueType.REAL, 0.1, 86400.0),
            "seconds between polls",
            10.0,
        ),
        FieldSpec(
            "log", ValueSpec(ValueType.BOOL), "keep a history of the values", False
        ),
        FieldSpec(
            "precision",
            ValueSpec(ValueType.INT, 0, 6, nullable=True),
            "decimals Home Assistant shows (display only: the value is not rounded); "
            "null: its own",
            1,
        ),
    )
    assert kind.main_command == CommandSpec(
        "value",
        "the last reading",
        Access.READ_ONLY,
        ValueSpec(ValueType.REAL),
        DataSource.GAUGE,
    )
    assert [c.name for c in kind.commands] == [
        "config",
        "poll",
        "log",
        "reset",
        "value",
    ]


def test_switch_and_dimmer_commands_are_writable_and_triggers_take_no_value() -> None:
    """Issue 7: read-only / write-only metadata; switch state is Bool, level Byte."""
    switch, dimmer = BUILTIN.get("switch"), BUILTIN.get("dimmer")
    assert switch.main_command.access is Access.READ_WRITE
    assert switch.command("toggle") == CommandSpec(
        "toggle", "switch to the other state", Access.WRITE_ONLY
    )
    assert dimmer.main_command.value == ValueSpec(ValueType.BYTE, 0, 100)


def test_tv_is_a_composite_of_channel_and_volume_parts() -> None:
    """Issue 7: media.tv is a composite with channel and volume sub-devices."""
    tv = BUILTIN.get("media.tv")
    assert [(s.name, s.oid) for s in tv.subdevices] == [
        ("channel", "media.tv.channel"),
        ("volume", "media.tv.volume"),
    ]
    assert BUILTIN.get("media.tv.volume").part_of == "media.tv"


def test_valid_config_gets_every_default_filled_in() -> None:
    """Issue 7: a device config is JSON-compatible data, checked against its kind."""
    config = kinds.validate(BUILTIN, {"name": "attic", "oid": "sensor.temperature"})
    assert config == DeviceConfig(
        "attic",
        "sensor.temperature",
        MappingProxyType(
            {
                "info": "",
                "friendly_name": "",
                "unit": "°C",
                "poll_interval_s": 10.0,
                "log": False,
                "precision": 1,
            }
        ),
    )


def test_integer_given_for_a_real_field_is_stored_as_a_float() -> None:
    config = kinds.validate(
        BUILTIN, {"name": "attic", "oid": "sensor", "poll_interval_s": 5}
    )
    assert config.settings["poll_interval_s"] == 5.0
    assert isinstance(config.settings["poll_interval_s"], float)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"oid": "switch"}, "device (unnamed): name: required", id="no-name"
        ),
        pytest.param(
            {"name": "a.b", "oid": "switch"},
            "device 'a.b': name: expected 1-64 ASCII letters, digits, '_' or '-' starting "
            'with a letter or digit, got "a.b"',
            id="dotted-name",
        ),
        pytest.param({"name": "lamp"}, "device 'lamp': oid: required", id="no-oid"),
        pytest.param(
            {"name": "lamp", "oid": "media.tv.volume"},
            "device 'lamp': oid: media.tv.volume is a sub-device of media.tv, "
            "not a device",
            id="part-as-device",
        ),
        pytest.param(
            {"name": "lamp", "oid": "lamp"},
            "device 'lamp': oid: expected one of clock.rtc, dimmer, media.camera,"
            " media.tv, sensor, sensor.binary, sensor.humidity, sensor.temperature,"
            ' sensor.wind, switch, got "lamp"',  # no sub-device's kind: none is one
            id="unknown-oid",
        ),
        pytest.param(
            {"name": "lamp", "oid": "switch", "colour": "red"},
            "device 'lamp': 'colour': unknown field for switch",
            id="unknown-field",
        ),
        pytest.param(
            {"name": "lamp", "oid": "switch", "poll_intervall_s": 5},
            "device 'lamp': 'poll_intervall_s': unknown field for switch "
            "(did you mean poll_interval_s?)",
            id="mistyped-field",
        ),
        pytest.param(
            {"name": "attic", "oid": "sensor", "poll_interval_s": -5},
            "device 'attic': poll_interval_s: expected a number in 0.1..86400, got -5",
            id="negative-interval",
        ),
        pytest.param(
            {"name": "attic", "oid": "sensor.temperature", "unit": "C"},
            "device 'attic': unit: expected one of °C, °F, K, got \"C\"",
            id="bad-unit",
        ),
        pytest.param(
            {"name": "attic", "oid": "sensor", "log": 1, "info": None},
            "device 'attic': info: expected a string, got null; "
            "device 'attic': log: expected true or false, got 1",
            id="two-problems",
        ),
        pytest.param(
            ["attic"],
            "device config: expected an object, got a list of 1",
            id="not-an-object",
        ),
    ],
)
def test_invalid_config_is_refused_naming_device_field_and_reason(
    config: object, message: str
) -> None:
    """Issue 7: an invalid config is refused with a message naming the device, the
    field and the reason."""
    with pytest.raises(DeviceError) as caught:
        kinds.validate(BUILTIN, config)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("oid", "defaults"),
    [
        ("sensor", {"precision": None, "state_class": "measurement"}),
        ("sensor.temperature", {"precision": 1}),
        ("sensor.humidity", {"precision": 0}),
        ("sensor.wind", {"precision": 1}),
        ("sensor.binary", {"device_class": None}),
    ],
)
def test_sensor_kinds_declare_what_home_assistant_shows_with_defaults(
    oid: str, defaults: dict[str, object]
) -> None:
    """The decimals Home Assistant shows (a DS18B20's 1/16 °C steps as 24.5, not
    24.4375), a generic sensor's state class, a binary input's class: each kind has
    only the fields that mean something for it."""
    settings = kinds.validate(BUILTIN, {"name": "s", "oid": oid}).settings
    display = {"precision", "state_class", "device_class"}
    assert {k: v for k, v in settings.items() if k in display} == defaults


@pytest.mark.parametrize(
    ("config", "field", "value"),
    [
        ({"oid": "sensor.temperature", "precision": 2}, "precision", 2),
        ({"oid": "sensor.humidity", "precision": 6}, "precision", 6),
        ({"oid": "sensor.wind", "precision": 0}, "precision", 0),
        ({"oid": "sensor.temperature", "precision": None}, "precision", None),
        ({"oid": "sensor", "precision": 3}, "precision", 3),
        ({"oid": "sensor", "state_class": "total"}, "state_class", "total"),
        (
            {"oid": "sensor", "state_class": "total_increasing"},
            "state_class",
            "total_increasing",
        ),
        ({"oid": "sensor.binary", "device_class": "door"}, "device_class", "door"),
        (
            {"oid": "sensor.binary", "device_class": "carbon_monoxide"},
            "device_class",
            "carbon_monoxide",
        ),
    ],
)
def test_display_fields_take_home_assistants_values(
    config: dict[str, object], field: str, value: object
) -> None:
    checked = kinds.validate(BUILTIN, {"name": "s", **config})
    assert checked.settings[field] == value
    assert kinds.validate(BUILTIN, checked.as_dict()) == checked


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"oid": "sensor.temperature", "precision": 7},
            "device 'meter': precision: expected an integer in 0..6, got 7",
            id="precision-too-many",
        ),
        pytest.param(
            {"oid": "sensor", "precision": -1},
            "device 'meter': precision: expected an integer in 0..6, got -1",
            id="precision-negative",
        ),
        pytest.param(
            {"oid": "sensor.humidity", "precision": 1.5},
            "device 'meter': precision: expected an integer, got 1.5",
            id="precision-real",
        ),
        pytest.param(
            {"oid": "sensor.wind", "precision": True},
            "device 'meter': precision: expected an integer, got true",
            id="precision-bool",
        ),
        pytest.param(
            {"oid": "sensor", "state_class": "counter"},
            "device 'meter': state_class: expected one of measurement, total, "
            'total_increasing, got "counter"',
            id="state-class-unknown",
        ),
        pytest.param(
            {"oid": "sensor", "state_class": None},
            "device 'meter': state_class: expected one of measurement, total, "
            "total_increasing, got null",
            id="state-class-null",
        ),
        pytest.param(
            {"oid": "sensor.temperature", "state_class": "total"},
            "device 'meter': 'state_class': unknown field for sensor.temperature",
            id="state-class-on-a-temperature",
        ),
        pytest.param(
            {"oid": "sensor.binary", "device_class": "Door"},
            "device 'meter': device_class: expected one of battery, "
            "battery_charging, carbon_monoxide, cold, connectivity, door, "
            "garage_door, gas, heat, light, lock, moisture, motion, moving, "
            "occupancy, opening, plug, power, presence, problem, running, safety, "
            'smoke, sound, tamper, update, vibration, window, got "Door"',
            id="binary-class-unknown",
        ),
        pytest.param(
            {"oid": "sensor.binary", "device_class": "button"},
            "device 'meter': device_class: expected one of battery, "
            "battery_charging, carbon_monoxide, cold, connectivity, door, "
            "garage_door, gas, heat, light, lock, moisture, motion, moving, "
            "occupancy, opening, plug, power, presence, problem, running, safety, "
            'smoke, sound, tamper, update, vibration, window, got "button"',
            id="button-is-gpios-own",
        ),
        pytest.param(
            {"oid": "sensor.binary", "precision": 1},
            "device 'meter': 'precision': unknown field for sensor.binary",
            id="precision-on-a-binary",
        ),
        pytest.param(
            {"oid": "sensor", "device_class": "door"},
            "device 'meter': 'device_class': unknown field for sensor",
            id="binary-class-on-a-sensor",
        ),
    ],
)
def test_a_bad_display_field_is_refused_naming_the_device_and_field(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(DeviceError) as caught:
        kinds.validate(BUILTIN, {"name": "meter", **config})
    assert str(caught.value) == message


def test_driver_fields_are_validated_with_the_kind_fields() -> None:
    """Issue 7: a service adds its driver's fields (e.g. a 1-Wire sensor id)."""
    extra = (FieldSpec("sensor_id", ValueSpec(ValueType.STR), "id", None, True),)
    with pytest.raises(DeviceError) as caught:
        kinds.validate(BUILTIN, {"name": "t", "oid": "sensor"}, lambda oid: extra)
    assert str(caught.value) == "device 't': sensor_id: required"


def test_register_refuses_a_kind_twice_and_commands_named_like_actions() -> None:
    sensor = BUILTIN.get("sensor")
    with pytest.raises(ValueError, match="registered twice"):
        BUILTIN.with_kinds(sensor)
    clash = derive(
        sensor, "sensor.odd", "", commands=[CommandSpec("list", "", Access.WRITE_ONLY)]
    )
    with pytest.raises(ValueError, match="are actions"):
        KindRegister([clash])


def test_unknown_oid_lookup_raises_a_device_error() -> None:
    with pytest.raises(DeviceError):
        BUILTIN.get("sensor.radiation")


@pytest.mark.parametrize(
    ("spec", "value", "fits"),
    [
        pytest.param(ValueSpec(ValueType.BYTE), 255, True, id="byte-max"),
        pytest.param(ValueSpec(ValueType.BYTE), 256, False, id="byte-over"),
        pytest.param(ValueSpec(ValueType.INT), True, False, id="bool-is-not-int"),
        pytest.param(ValueSpec(ValueType.REAL), float("nan"), False, id="nan"),
        pytest.param(ValueSpec(ValueType.REAL), 2**70, False, id="huge"),
        pytest.param(ValueSpec(ValueType.LIST), [1, "a", None], True, id="list"),
        pytest.param(ValueSpec(ValueType.DICT), {"a": [1]}, True, id="dict"),
        pytest.param(ValueSpec(ValueType.DICT), {1: 2}, False, id="int-key"),
        pytest.param(ValueSpec(ValueType.LIST), [b"x"], False, id="bytes-inside"),
        pytest.param(ValueSpec(ValueType.STR, max_length=2), "abc", False, id="long"),
    ],
)
def test_value_types_accept_only_their_values(
    spec: ValueSpec, value: object, fits: bool
) -> None:
    """Issue 7: value types List, Bool, Byte, Int, Real, Str, Dict."""
    assert (reason_against(spec, value) is None) is fits


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_like = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["name", "oid", "info", "unit", "poll_interval_s", "log", "url", "other"]
)
oids = st.sampled_from([*KIND_OIDS, "base", "sensor.radiation", ""])
good_names = st.sampled_from(["attic", "tv", "lamp_2", "Hall-1"])
odd_names = st.sampled_from(["a.b", "", "x" * 65, "-x"]) | st.text(max_size=10)


def _plausible(spec: ValueSpec) -> st.SearchStrategy[object]:
    """Values of the spec's type, mostly in range; sometimes out of it."""
    match spec.value_type:
        case ValueType.BOOL:
            return st.booleans()
        case ValueType.REAL:
            low = spec.minimum if spec.minimum is not None else -1e6
            high = spec.maximum if spec.maximum is not None else 1e6
            return st.floats(low, high) | st.integers(int(low) - 1, int(high) + 1)
        case ValueType.INT if spec.minimum is not None and spec.maximum is not None:
            low, high = int(spec.minimum) - 1, int(spec.maximum) + 1
            return st.integers(low, high) | (
                st.none() if spec.nullable else st.nothing()
            )
        case ValueType.STR if spec.choices:
            return st.sampled_from(spec.choices) | (
                st.none() if spec.nullable else st.nothing()
            )
        case _:
            return st.text(max_size=20)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config near a valid one: a name and oid mostly, fields of any value."""
    config: dict[str, Any] = {}
    kind = BUILTIN.get(draw(st.sampled_from(KIND_OIDS)))
    if draw(st.integers(0, 9)):
        config["name"] = draw(odd_names if draw(st.integers(0, 4)) == 0 else good_names)
    if draw(st.integers(0, 9)):
        config["oid"] = draw(oids) if draw(st.integers(0, 9)) == 0 else kind.oid
    for field in draw(st.lists(st.sampled_from(kind.fields), max_size=4)):
        bad = draw(st.integers(0, 9)) == 0
        config[field.name] = draw(json_like if bad else _plausible(field.spec))
    if draw(st.integers(0, 4)) == 0:
        config[draw(field_names)] = draw(json_like)
    return config


@given(config=configs() | json_like)
@settings(max_examples=200)
def test_any_json_config_either_validates_or_raises_device_error(
    config: object,
) -> None:
    """Issue 7 test: any config either validates or gives a typed error; a valid
    one validates again from its JSON form."""
    try:
        checked = kinds.validate(BUILTIN, config)
    except DeviceError:
        return
    assert kinds.validate(BUILTIN, checked.as_dict()) == checked


@given(
    oid=st.sampled_from([o for o in KIND_OIDS if BUILTIN.get(o).part_of is None]),
    info=st.text(max_size=256),
    interval=st.floats(0.1, 86400.0),
    log=st.booleans(),
)
@settings(max_examples=50)
def test_valid_config_round_trips_through_json_data(
    oid: str, info: str, interval: float, log: bool
) -> None:
    """Issue 7: a config is JSON-compatible data: as_dict() validates to itself."""
    config = kinds.validate(
        BUILTIN,
        {
            "name": "dev",
            "oid": oid,
            "info": info,
            "poll_interval_s": interval,
            "log": log,
        },
    )
    assert kinds.validate(BUILTIN, config.as_dict()) == config
    assert config.as_dict()["info"] == info


_SPECS = st.builds(
    ValueSpec,
    value_type=st.sampled_from(ValueType),
    minimum=st.none() | st.integers(-300, 300) | st.floats(-1e3, 1e3),
    maximum=st.none() | st.integers(-300, 300) | st.floats(-1e3, 1e3),
    choices=st.lists(st.text(max_size=3), max_size=3).map(tuple),
    max_length=st.integers(0, 10),
    nullable=st.booleans(),
)
_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(_SPECS, _ANY_JSON)
def test_any_value_is_refused_with_a_reason_or_normalised_to_one_that_fits(
    spec: ValueSpec, value: Any
) -> None:
    """What a request, a template or an MQTT payload sets: a reason, or the value in
    its canonical form, which fits the spec again and is its own canonical form."""
    reason = reason_against(spec, value)
    if reason is not None:
        assert isinstance(reason, str)
        return
    canonical = normalise(spec, value)
    assert reason_against(spec, canonical) is None
    assert normalise(spec, canonical) == canonical
