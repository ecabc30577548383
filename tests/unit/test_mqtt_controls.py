"""The controls over MQTT (raspy.mqtt.controls): their topics, a command payload into
the value to write (the web face's rule), and each kind's Home Assistant fields."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.ha_state import shown_after

from raspy.controls import Control, ControlError, as_input, breaks
from raspy.errors import MalformedMessage, quote
from raspy.mqtt.controls import (
    HA_MAX_TEXT,
    ControlMap,
    control_entity,
    control_value,
)
from raspy.mqtt.core import (
    REQUEST_TIMEOUT_S,
    BridgeCore,
    BridgeSettings,
    Refused,
    SendRequest,
)
from raspy.mqtt.discovery import Discovery
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.output import WriteKey
from raspy.mqtt.payload import MAX_COMMAND_BYTES
from raspy.mqtt.topics import ControlTarget, DeviceTarget, TopicMap

TOPICS = TopicMap("raspy", "pi")
NOW = 1000.0
SETPOINT = Control(
    key="/house/setpoint", label="Setpoint", kind="number", minimum=15, maximum=25,
    step=0.5, unit="°C",
)  # fmt: skip
MODE = Control(key="/house/mode", label="Mode", kind="choice", options=("home", "away"))
GUESTS = Control(key="/house/guests", label="Guests", kind="switch")
NOTE = Control(key="/house/note", label="Note", kind="text", max_length=40)
CONTROLS = (SETPOINT, MODE, GUESTS, NOTE)


def test_a_controls_topics_are_a_device_of_the_control_level() -> None:
    controls = ControlMap(CONTROLS, TOPICS)
    assert (
        controls.state_topic("/house/setpoint")
        == "raspy/pi/control/house.setpoint/value"
    )
    assert controls.state_topic("/house/other") is None
    target = TOPICS.parse_command("raspy/pi/control/house.setpoint/set")
    assert target == ControlTarget("pi", "house.setpoint", "set")
    assert TOPICS.result_topic(target) == "raspy/pi/control/house.setpoint/result"
    with pytest.raises(MalformedMessage):  # a state topic is never a command
        TOPICS.parse_command("raspy/pi/control/house.setpoint/value")


def test_a_key_whose_level_is_taken_or_invalid_is_not_bridged() -> None:
    twin = Control(key="/house.setpoint", label="Twin", kind="switch")
    plus = Control(key="/house/a+b", label="Plus", kind="switch")
    controls = ControlMap((SETPOINT, twin, plus), TOPICS)
    assert list(controls.by_key) == ["/house/setpoint"]
    assert [key for key, _ in controls.skipped] == ["/house.setpoint", "/house/a+b"]


@given(st.binary(max_size=80))
def test_any_payload_gives_a_value_the_control_takes_or_a_reason(
    payload: bytes,
) -> None:
    for control in CONTROLS:
        refused: Exception | None = None
        try:
            value = control_value(control, payload)
        except (ControlError, MalformedMessage) as exc:
            refused = exc
        if refused is None:
            assert breaks(control, value) is None
        else:
            assert str(refused)  # a reason for a person, never empty


@given(
    st.one_of(
        st.integers(min_value=30, max_value=50).map(lambda n: (SETPOINT, n / 2)),
        st.sampled_from(MODE.options).map(lambda o: (MODE, o)),
        st.booleans().map(lambda b: (GUESTS, b)),
        st.text(
            st.characters(min_codepoint=0x20, exclude_categories=("Cs", "Cc")),
            max_size=40,
        ).map(lambda t: (NOTE, t)),
    )
)
def test_a_value_as_home_assistant_or_the_page_sends_it_comes_back(
    pair: tuple[Control, object],
) -> None:
    control, value = pair
    assert control_value(control, as_input(control, value).encode()) == value  # type: ignore[arg-type]


def test_a_payload_over_the_limit_or_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match=r"\d+ > \d+ bytes"):
        control_value(NOTE, b"x" * (MAX_COMMAND_BYTES + 1))
    with pytest.raises(MalformedMessage, match="UTF-8"):
        control_value(NOTE, b"\xff")


def test_each_kind_has_its_home_assistant_component_and_fields() -> None:
    state, command = "s", "c"
    number = control_entity(SETPOINT, state, command)
    assert number.component == "number"
    assert {k: number.fields[k] for k in ("min", "max", "step", "mode")} == {
        "min": 15, "max": 25, "step": 0.5, "mode": "slider",
    }  # fmt: skip
    assert number.fields["unit_of_measurement"] == "°C"
    assert control_entity(MODE, state, command).fields["options"] == ["home", "away"]
    assert control_entity(MODE, state, command).component == "select"
    assert control_entity(GUESTS, state, command).component == "switch"
    long_text = Control(key="/k", label="K", kind="text", max_length=4096)
    assert control_entity(long_text, state, command).fields["max"] == HA_MAX_TEXT


@pytest.mark.parametrize(
    ("control", "states"),
    [
        (NOTE, {b'"hi"': "hi", b"null": "", b"": "", b'"None"': "None"}),
        (SETPOINT, {b"21.5": "21.5", b"20": "20.0", b"null": "unknown", b"": "unknown"}),
        (MODE, {b'"away"': "away", b"null": "unknown", b"": "unknown"}),
        (GUESTS, {b"true": "on", b"false": "off", b"null": "unknown", b"": "unknown"}),
    ],
    ids=["text", "number", "choice", "switch"],
)  # fmt: skip
def test_a_control_without_a_value_shows_as_home_assistant_shows_no_value(
    control: Control, states: dict[bytes, str]
) -> None:
    """null (a key set to it) or a deleted key (an empty retained payload): a text
    is empty (it showed `None`, the Python word, as its text), a number, a select
    and a switch unknown (a deleted key left their old state)."""
    entity = control_entity(control, "s", "c")
    read = {p: shown_after(entity.component, entity.fields, p, "old") for p in states}
    assert read == states


@pytest.mark.parametrize(
    ("control", "states"),
    [
        (SETPOINT, {b"40": "unknown", b"14.5": "unknown", b'"warm"': "unknown",
                    b"true": "unknown", b'"21.5"': "unknown", b"25": "25.0"}),
        (MODE, {b'"party"': "unknown", b"1": "unknown", b'["home"]': "unknown",
                b'"Home"': "unknown", b'"home"': "home"}),
        (GUESTS, {b'"on"': "unknown", b"1": "unknown", b'"true"': "unknown",
                  b"true": "on"}),
        (Control(key="/k", label="K", kind="choice",
                 options=('say "hi"', "back\\slash", "é☃😀", "tab\there")),
         {b'"say \\"hi\\""': 'say "hi"', b'"back\\\\slash"': "back\\slash",
          '"é☃😀"'.encode(): "é☃😀", b'"tab\\there"': "tab\there",
          b'"say hi"': "unknown"}),
        (Control(key="/k", label="K", kind="text", max_length=5),
         {b'"12345"': "12345", b'"123456"': "", b"5": "", b'["a"]': "",
          b"true": ""}),
    ],
    ids=["number", "choice", "switch", "odd-options", "text"],
)  # fmt: skip
def test_a_value_set_elsewhere_that_home_assistant_refuses_shows_unknown(
    control: Control, states: dict[bytes, str]
) -> None:
    """A value the control does not take (written by a scenario's `set:`, raspy-kv,
    or kept from before a config change): Home Assistant's number refuses one out of
    its min..max or no number, its select one not in its options (both with an
    error in its log), its switch one that is neither state, and went on showing
    the state before as if it were the control's. It shows unknown, as the web face
    shows such a value as set elsewhere."""
    entity = control_entity(control, "s", "c")
    read = {p: shown_after(entity.component, entity.fields, p, "old") for p in states}
    assert read == states


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        (Control(key="/k", label="K", kind="number"), (-(2.0**53), 2.0**53, 0.001, "box")),
        (Control(key="/k", label="K", kind="number", minimum=5, maximum=5, step=1),
         (5, 6, 1, "slider")),
        (Control(key="/k", label="K", kind="number", minimum=0, maximum=10**6, step=1),
         (0, 10**6, 1, "box")),
        (Control(key="/k", label="K", kind="number", minimum=0, maximum=1, step=1e-6),
         (0, 1, 0.001, "slider")),
    ],
    ids=["unbounded", "one-value", "many-steps", "fine-step"],
)  # fmt: skip
def test_a_number_fits_home_assistants_limits(
    control: Control, expected: tuple[float, float, float, str]
) -> None:
    fields = control_entity(control, "s", "c").fields
    assert (fields["min"], fields["max"], fields["step"], fields["mode"]) == expected


def _core() -> BridgeCore:
    topics = TopicMap("raspy", "pi")
    return BridgeCore(
        BridgeSettings(
            topics=topics,
            exposed=GlobFilter(["/device/*"], rooted=True),
            commandable=GlobFilter([]),
            actions=frozenset({"set", "toggle"}),
            discovery=None,
            scenario_buttons=False,
            max_buffered=100,
            controls=CONTROLS,
        )
    )


def _results(core: BridgeCore) -> list[dict[str, object]]:
    return [
        json.loads(m.payload)
        for m in core.buffer.take(100)
        if m.topic == "raspy/pi/control/house.setpoint/result"
    ]


def _write(core: BridgeCore) -> WriteKey:
    (write,) = core.command("raspy/pi/control/house.setpoint/set", b" 21.5 ", NOW)
    assert isinstance(write, WriteKey)
    assert (write.key, write.body) == ("/house/setpoint", b"21.5")
    return write


def test_a_write_is_answered_when_the_clone_server_publishes_it() -> None:
    core = _core()
    write = _write(core)
    core.writing(write.request_id, b"u1")
    core.key_changed("/house/setpoint", b"21.5", NOW + 1, b"other")  # the web's
    assert _results(core) == []
    core.key_changed("/house/setpoint", b"21.5", NOW + 1, b"u1")
    assert _results(core) == [
        {
            "v": 1, "action": "set", "status": 200,
            "reply": {"key": "/house/setpoint", "value": 21.5},
        }
    ]  # fmt: skip


def test_a_write_refused_or_never_published_is_a_503_or_a_504() -> None:
    core = _core()
    write = _write(core)
    core.writing(write.request_id, b"u1")
    (refused,) = core.write_refused(b"u1", "the commit failed")
    assert isinstance(refused, Refused)
    (result,) = _results(core)
    assert (result["status"], result["reply"]) == (
        503,
        {
            "error": "not_written",
            "detail": "/house/setpoint: not written: the commit failed",
        },
    )
    late = _write(core)
    core.writing(late.request_id, b"u2")
    assert core.tick(NOW + REQUEST_TIMEOUT_S - 1) == []
    assert [
        r.reason for r in core.tick(NOW + REQUEST_TIMEOUT_S) if isinstance(r, Refused)
    ] == ["timeout"]
    assert [r["status"] for r in _results(core)] == [504]
    core.key_changed("/house/setpoint", b"21.5", NOW + 11, b"u2")  # too late: none
    assert _results(core) == []


def test_a_tree_key_on_the_controls_topics_is_not_published() -> None:
    """`/control/house.setpoint/value` (or a device service named `control`) would
    write over the control's retained value."""
    core = _core()
    core.buffer.take(100)
    key = "/device/pi.control.house.setpoint/value"
    (refused,) = core.key_changed(key, b"1", NOW)
    assert isinstance(refused, Refused)
    assert refused.reason == "key_on_control_topic"
    core.key_changed("/house/setpoint", b"20", NOW)
    assert [(m.topic, m.payload) for m in core.buffer.take(100)] == [
        ("raspy/pi/control/house.setpoint/value", b"20")
    ]


def _discovering_core() -> BridgeCore:
    topics = TopicMap("raspy", "pi")
    every = GlobFilter(["*"])
    return BridgeCore(
        BridgeSettings(
            topics=topics,
            exposed=GlobFilter(["/device/*"], rooted=True),
            commandable=every,
            actions=frozenset({"set", "toggle"}),
            discovery=Discovery(
                "homeassistant", topics, qos=1, sw_version="0.1.0", commandable=every
            ),
            scenario_buttons=True,
            max_buffered=100,
            controls=CONTROLS,
        )
    )


@pytest.mark.parametrize("host", ["pi", "board2"])
@pytest.mark.parametrize("service", ["control", "scenario"])
def test_a_device_of_a_reserved_service_level_is_never_announced_or_mirrored(
    service: str, host: str
) -> None:
    """Another program's worker may register `pi.control.devices`: its switch's
    topics would be `raspy/pi/control/<device>/value|set`, a control's, and Home
    Assistant's switch would write the control's key (under `scenario`, a
    scenario's). Another host's (an older board, keys written by hand) would take
    the topics of that host's controls: `raspy/board2/control/…` was mirrored. Its
    devices are refused, once per service for the log; another service's go out."""
    core = _discovering_core()
    core.buffer.take(100)
    prefix = f"/device/{host}.{service}."
    key = f"{prefix}house.setpoint/value"
    assert core.key_changed(key, b"true", NOW) == [
        Refused(f"key_on_{service}_topic", quote(key), prefix)
    ]
    (listing,) = core.service_available(f"{host}.{service}.devices", NOW)
    assert isinstance(listing, SendRequest)
    items = [
        {
            "name": name,
            "fullname": f"{host}.{svc}.{name}",
            "oid": "switch",
            "config": {},
        }
        for svc, name in ((service, "house.setpoint"), ("fake", "lamp"))
    ]
    reply = json.dumps({"v": 1, "action": "list", "devices": items}).encode()
    refused = core.reply(listing.request_id, [b"200", reply], NOW)
    fullname = f"{host}.{service}.house.setpoint"
    assert refused == [Refused(f"key_on_{service}_topic", quote(fullname), prefix)]
    sent = core.buffer.take(100)
    assert [json.loads(m.payload)["unique_id"] for m in sent] == [
        f"raspy.{host}.fake.lamp"
    ]
    assert not any(f"raspy/{host}/{service}/" in m.payload.decode() for m in sent)


def test_a_command_on_another_hosts_control_topics_is_left_to_that_hub() -> None:
    """`raspy/board2/control/lamp/set` is board2's control: this hub mirrors no
    device there, so it neither sends it to `board2.control.devices` nor answers
    it on board2's `…/result` (it did, once the key was in the tree)."""
    assert TOPICS.parse_command("raspy/board2/control/lamp/set") == DeviceTarget(
        "board2", "control", "lamp", "set"
    )
    core = _discovering_core()
    core.key_changed("/device/board2.control.lamp/value", b"false", NOW)
    core.buffer.take(100)
    assert core.command("raspy/board2/control/lamp/set", b"ON", NOW) == []
    assert core.buffer.take(100) == []


_BOUND = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@given(_BOUND, _BOUND, st.none() | st.floats(min_value=5e-324, allow_infinity=False))
def test_a_numbers_min_is_below_its_max_and_its_step_above_zero(
    low: float | None, high: float | None, step: float | None
) -> None:
    """Home Assistant refuses a number whose max is not above its min (`min=1e16`
    and no max gave 1e16 for both: 1e16 + 0.001 is 1e16 in a float)."""
    if low is not None and high is not None and low > high:
        low, high = high, low  # the config check refuses min > max
    control = Control(
        key="/k", label="K", kind="number", minimum=low, maximum=high, step=step
    )
    fields = control_entity(control, "s", "c").fields
    low_out, high_out, step_out = fields["min"], fields["max"], fields["step"]
    assert isinstance(low_out, float | int)
    assert isinstance(high_out, float | int)
    assert isinstance(step_out, float | int)
    assert math.isfinite(low_out)
    assert math.isfinite(high_out)
    assert low_out < high_out
    assert step_out > 0
    json.loads(json.dumps(fields, allow_nan=False))
    for end in (low_out, high_out):  # each end, written into the template, is in
        shown = shown_after("number", fields, json.dumps(end).encode(), "old")
        assert shown == str(float(end))


def test_a_huge_minimum_without_a_maximum_still_has_a_larger_maximum() -> None:
    control = Control(key="/k", label="K", kind="number", minimum=1e16)
    fields = control_entity(control, "s", "c").fields
    assert fields["min"] == 1e16
    assert isinstance(fields["max"], float)
    assert fields["max"] > 1e16


_OPTION = st.text(min_size=1, max_size=64).filter(
    lambda o: o == o.strip() and o.lower() != "none"
)


@given(st.lists(_OPTION, min_size=1, max_size=5, unique=True))
def test_every_option_a_config_takes_shows_as_itself(options: list[str]) -> None:
    """The options written into the choice's template as a Jinja list: quotes,
    backslashes, control characters and characters past U+FFFF read back as they
    are."""
    control = Control(key="/k", label="K", kind="choice", options=tuple(options))
    entity = control_entity(control, "s", "c")
    for option in options:
        payload = json.dumps(option).encode()
        assert shown_after(entity.component, entity.fields, payload, "old") == option
