"""Issue 16: command payloads in, result payloads out (raspy.mqtt.payload)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.mqtt.discovery import Entry
from raspy.mqtt.payload import (
    MAX_COMMAND_BYTES,
    decode_reply,
    parse_command,
    result_payload,
)


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b"", None),
        (b"  ", None),
        (b"true", True),
        (b"ON", True),
        (b"off", False),
        (b"42", 42),
        (b"21.5", 21.5),
        (b'"text"', "text"),
        (b"hello world", "hello world"),
        (b"NaN", "NaN"),
        (b'{"level": 3}', {"level": 3}),
    ],
    ids=["empty", "blank", "json-true", "ON", "off", "int", "real", "json-str",
         "bare-text", "nan-is-text", "object"],
)  # fmt: skip
def test_command_payloads_give_their_value(payload: bytes, value: object) -> None:
    assert parse_command(payload) == value


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "bad_payload"),
        (b'{"a": ', "bad_payload"),
        (b"[1, 2", "bad_payload"),
        (b"1" * (MAX_COMMAND_BYTES + 1), "payload_too_long"),
    ],
    ids=["not-utf8", "cut-object", "cut-list", "too-long"],
)
def test_bad_payloads_raise_malformed_with_a_reason(
    payload: bytes, reason: str
) -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_command(payload)
    assert caught.value.reason == reason


def test_a_result_is_json_with_the_mdp_status_as_a_number() -> None:
    body = result_payload("set", 200, {"device": "lamp"})
    assert json.loads(body) == {
        "v": 1,
        "action": "set",
        "status": 200,
        "reply": {"device": "lamp"},
    }


@given(st.binary(max_size=2000))
def test_any_payload_parses_or_raises_malformed(payload: bytes) -> None:
    try:
        value = parse_command(payload)
    except MalformedMessage:
        return
    json.dumps(value, allow_nan=False)  # always JSON the devices service can take


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(_JSON)
def test_json_values_come_back_as_sent(value: object) -> None:
    payload = json.dumps(value).encode()
    parsed = parse_command(payload)
    assert parsed == value


@pytest.mark.parametrize(
    "body", [b"NaN", b'{"t": Infinity}', b"[-Infinity]", b'{"t": 1e999}', b"-1e400"]
)
def test_a_reply_with_a_non_json_number_is_kept_as_text(body: bytes) -> None:
    """json.loads reads NaN and Infinity, which json.dumps writes back as they are:
    a third-party worker's reply made `…/result` invalid JSON."""
    assert decode_reply(body) == body.decode()
    json.loads(result_payload("get", 200, decode_reply(body)), parse_constant=_no)


@pytest.mark.parametrize(
    ("payload", "value"),
    [(b"1e999", "1e999"), (b"-1E400", "-1E400"), (b"[1e999]", None),
     (b'{"l": 2e308}', None)],
)  # fmt: skip
def test_a_number_past_a_floats_range_is_no_infinity_in_the_request(
    payload: bytes, value: str | None
) -> None:
    """json.loads reads `1e999` as inf, which the request to the device service
    then carried as `Infinity` (no JSON): such a number is text, as `NaN` is, and
    inside a list or object the payload is broken JSON (None: a 400)."""
    if value is not None:
        assert parse_command(payload) == value
        return
    with pytest.raises(MalformedMessage) as caught:
        parse_command(payload)
    assert caught.value.reason == "bad_payload"


def _no(name: str) -> None:
    raise AssertionError(f"{name} in the result payload")


def _wire(document: object) -> bytes:
    """The bytes the bridge has always put on the wire for a JSON document: UTF-8,
    keys sorted, `json.dumps`'s separators; all non-ASCII escaped when a string
    holds a lone surrogate (no UTF-8 holds one)."""
    try:
        return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
    except UnicodeEncodeError:
        return json.dumps(document, sort_keys=True).encode("ascii")


_TEXTS = st.text(max_size=12) | st.sampled_from(["°C", "caf\ud800", "\udfff é"])
_DOCUMENTS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXTS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(_TEXTS, inner, max_size=4)
    ),
    max_leaves=12,
)


@given(_DOCUMENTS)
def test_a_result_and_a_discovery_config_are_the_bytes_they_always_were(
    reply: JsonValue,
) -> None:
    """One encoder writes the core's JSON and the bridge's (raspy.json_text): the
    bytes on the MQTT wire are as before, byte for byte."""
    document = {"v": 1, "action": "get", "status": 200, "reply": reply}
    assert result_payload("get", 200, reply) == _wire(document)
    config: dict[str, JsonValue] = {"name": reply, "unique_id": "raspy.pi.fake.t"}
    assert Entry("x/config", config).payload() == _wire(config)


def test_the_wire_bytes_of_a_result_with_text_beyond_ascii() -> None:
    assert result_payload("get", 200, {"unit": "°C", "a": [1, 2.5, None]}) == (
        b'{"action": "get", "reply": {"a": [1, 2.5, null], "unit": "\xc2\xb0C"}, '
        b'"status": 200, "v": 1}'
    )
    assert result_payload("set", 400, {"detail": "caf\ud800 é"}) == (
        b'{"action": "set", "reply": {"detail": "caf\\ud800 \\u00e9"}, '
        b'"status": 400, "v": 1}'
    )


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_a_number_json_has_not_is_never_written_to_the_wire(number: float) -> None:
    """`NaN` and `Infinity` are no JSON: Home Assistant refuses a whole config, and
    a result's reader its whole payload. A reply never holds one (decode_reply
    keeps such a body as text); the encoder refuses one rather than write it."""
    with pytest.raises(ValueError, match="not JSON compliant"):
        result_payload("get", 200, {"t": number})
    with pytest.raises(ValueError, match="not JSON compliant"):
        Entry("x/config", {"precision": number}).payload()
