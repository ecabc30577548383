"""The `<host>.logger.history` handler: replies and refusals in the devices
service's envelope; any body gets a reply, never an exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.errors import StoreError
from raspy.history import query, service
from raspy.history.recorder import Bucket
from raspy.history.tiers import Tier, parse_tiers
from raspy.storage.tables import recorded_key_record

_KEY = "/device/pi.fake.attic/value"
_T0 = 1_780_012_800.0
_TIERS = parse_tiers(("10s:48h", "5m:30d", "1h:5y"))
_NOW = _T0 + 3600


def _fetch(key: str) -> query.Fetch:
    def fetch(tier: Tier, slot: int) -> Bucket | None:
        t = _T0 + slot * tier.step_s - tier.slot_of(_T0) * tier.step_s
        return Bucket.of(t, 21.5) if key == _KEY and tier.raw and t <= _NOW else None

    return fetch


def _ask(document: Any) -> tuple[bytes, Any]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    status, reply = service.handle([body], _NOW, _TIERS, {_KEY}, _fetch)
    return status, json.loads(reply)


def test_history_of_a_device_name_answers_its_value_keys_raw_points() -> None:
    status, reply = _ask(
        {"v": 1, "action": "history", "key": "pi.fake.attic", "since": _NOW - 60}
    )
    assert status == b"200"
    assert reply == {
        "v": 1,
        "action": "history",
        "key": _KEY,
        "tier": "10s",
        "step_s": 10,
        "since": _NOW - 60,
        "until": _NOW,
        "points": [[_NOW - 60 + 10 * i, 21.5, 21.5, 21.5] for i in range(7)],
    }


def test_a_since_before_the_epoch_reads_as_the_epoch() -> None:
    """A Pi with no RTC starts near 1970: its web page asked for the last 24 hours
    from a `since` below zero and got a 400 (a broken chart) until NTP came."""
    body = {"v": 1, "action": "history", "key": _KEY, "since": 300 - 86400}
    status, reply = service.handle(
        [json.dumps(body).encode()], 300.0, _TIERS, {_KEY}, _fetch
    )
    assert status == b"200", reply
    assert json.loads(reply)["since"] == 0.0


def test_keys_lists_the_recorded_keys() -> None:
    assert _ask({"v": 1, "action": "keys"}) == (
        b"200",
        {"v": 1, "action": "keys", "keys": [_KEY]},
    )


def _error(
    status: bytes, action: str | None, token: str, detail: str
) -> tuple[bytes, Any]:
    return status, {"v": 1, "action": action, "error": token, "detail": detail}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"{", _error(b"400", None, "bad_json", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
        ({"v": 1, "action": "history", "key": _KEY, "since": 1, "x": 2},
         _error(b"400", "history", "unknown_field", "'x'")),
        ({"v": 1, "action": "keys", "key": _KEY}, _error(b"400", "keys", "unknown_field", "key")),
        ({"v": 2, "action": "history"}, _error(b"400", "history", "unsupported_version", "v: expected 1, got 2")),
        ({"v": 1, "action": "history", "since": 1},
         _error(b"400", "history", "bad_request", "key: expected a Clone key or a device name, got null")),
        ({"v": 1, "action": "history", "key": _KEY},
         _error(b"400", "history", "bad_request", "since: expected epoch seconds, got null")),
        ({"v": 1, "action": "history", "key": _KEY, "since": True},
         _error(b"400", "history", "bad_request", "since: expected epoch seconds, got true")),
        ({"v": 1, "action": "history", "key": _KEY, "since": _NOW, "until": _NOW - 1},
         _error(b"400", "history", "bad_request", "since: expected before until (1780016400.0 >= 1780016399.0)")),
        ({"v": 1, "action": "history", "key": _KEY, "since": 1, "resolution": "2m"},
         _error(b"400", "history", "bad_request", 'resolution: expected one of auto, 10s, 5m, 1h, got "2m"')),
        ({"v": 1, "action": "history", "key": _KEY, "since": 1, "resolution": 5},
         _error(b"400", "history", "bad_request", "resolution: expected a string, got 5")),
        ({"v": 1, "action": "history", "key": "pi.fake.cellar", "since": 1},
         _error(b"404", "history", "unknown_key", 'no history for "/device/pi.fake.cellar/value": only a device with log = true is recorded, from its first reading (after a forget, its next one)')),
        # a typo names the key meant; a key just forgotten was told "only a device
        # with log = true is recorded", which it was
        ({"v": 1, "action": "history", "key": "pi.fake.atic", "since": 1},
         _error(b"404", "history", "unknown_key", 'no history for "/device/pi.fake.atic/value" (did you mean "/device/pi.fake.attic/value"?): only a device with log = true is recorded, from its first reading (after a forget, its next one)')),
        ({"v": 1, "action": "erase"}, _error(b"501", "erase", "unknown_action", '"erase"')),
    ],
    ids=["bad-json", "unknown-field", "keys-extra", "version", "no-key", "no-since",
         "bool-since", "empty-range", "bad-resolution", "number-resolution",
         "unknown-key", "typo-key", "unknown-action"],
)  # fmt: skip
def test_bad_requests_are_refused_with_a_token_and_a_detail(
    document: Any, expected: tuple[bytes, Any]
) -> None:
    assert _ask(document) == expected


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# a byte of argv that is not UTF-8 (`$'/device/\xff/value'`) reads as U+DCFF
_SURROGATES = st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.sampled_from("/a."),
    min_size=1,
    max_size=8,
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 1, 2, "1"]),
        "action": st.sampled_from(["history", "keys", "forget", "x"])
        | st.text(max_size=4),
        "key": st.sampled_from([_KEY, "pi.fake.attic", "/x"]) | _JSON | _SURROGATES,
        "since": st.floats(allow_nan=False) | st.integers() | _JSON,
        "until": st.floats(allow_nan=False) | st.none() | _JSON,
        "resolution": st.sampled_from(["auto", "10s", "1h", "1d"]) | _JSON,
    },
)


def _store_forget(key: str) -> int | None:
    """A forget that encodes the key as the store does (its record's key)."""
    recorded_key_record(key)
    return 3 if key == _KEY else None


@given(
    st.one_of(_FIELDS.map(lambda d: json.dumps(d).encode()), st.binary(max_size=64)),
    st.booleans(),
)
def test_any_body_gets_a_status_and_a_json_object(body: bytes, forgets: bool) -> None:
    forget = _store_forget if forgets else None
    status, reply = service.handle([body], _NOW, _TIERS, {_KEY}, _fetch, forget)
    document = json.loads(reply)
    assert status in {b"200", b"400", b"404", b"501"}
    assert document["v"] == 1
    if status == b"200":
        assert set(document) in (
            {"v", "action", "keys"},
            {"v", "action", "key", "rows"},
            {"v", "action", "key", "tier", "step_s", "since", "until", "points"},
        )
        assert len(document.get("points", ())) <= query.MAX_POINTS
    else:
        assert set(document) == {"v", "action", "error", "detail"}


@given(
    st.sampled_from(["history", "forget"]),
    _SURROGATES | st.text(max_size=8) | st.sampled_from([_KEY, "pi.fake.attic"]),
)
def test_any_key_of_a_request_gets_a_reply(action: str, key: str) -> None:
    """Keys of any characters, lone surrogates among them, with a forget that
    encodes them as the store does: a reply, never an exception."""
    document: dict[str, Any] = {"v": 1, "action": action, "key": key}
    if action == "history":
        document["since"] = 0
    body = json.dumps(document).encode()
    status, reply = service.handle([body], _NOW, _TIERS, {_KEY}, _fetch, _store_forget)
    assert status in {b"200", b"400", b"404"}
    assert json.loads(reply)["action"] == action


@given(st.lists(st.binary(max_size=8), max_size=3).filter(lambda f: len(f) != 1))
def test_a_request_of_other_than_one_frame_is_refused(frames: list[bytes]) -> None:
    status, reply = service.handle(frames, _NOW, _TIERS, {_KEY}, _fetch)
    assert (status, json.loads(reply)["error"]) == (b"400", "bad_request")


def test_forget_deletes_through_the_callback_and_refuses_what_it_cannot() -> None:
    forgotten: list[str] = []

    def forget(key: str) -> int | None:
        forgotten.append(key)
        return 7 if key == _KEY else None  # None: nothing of it in the store

    def failing(key: str) -> int:
        raise StoreError("store full")

    def ask(document: dict[str, Any], how: Any = forget) -> tuple[bytes, Any]:
        body = json.dumps({"v": 1, "action": "forget", **document}).encode()
        status, reply = service.handle([body], _NOW, _TIERS, {_KEY}, _fetch, how)
        return status, json.loads(reply)

    assert ask({"key": "pi.fake.attic"}) == (
        b"200",
        {"v": 1, "action": "forget", "key": _KEY, "rows": 7},
    )
    assert forgotten == [_KEY]
    assert ask({"key": "pi.fake.cellar"})[1]["error"] == "unknown_key"
    assert forgotten == [_KEY, "/device/pi.fake.cellar/value"]  # the store asked
    forgotten.clear()
    assert ask({"key": _KEY, "since": 0})[1]["error"] == "unknown_field"
    assert ask({"key": 5})[1]["error"] == "bad_request"
    assert ask({"key": _KEY}, failing) == (
        b"503",
        {"v": 1, "action": "forget", "error": "store_error", "detail": "store full"},
    )
    assert forgotten == []  # nothing asked of a refused request
    status, reply = service.handle(
        [json.dumps({"v": 1, "action": "forget", "key": _KEY}).encode()],
        _NOW,
        _TIERS,
        {_KEY},
        _fetch,
    )
    assert (status, json.loads(reply)["error"]) == (b"501", "unknown_action")


def test_a_time_of_more_digits_than_a_float_holds_is_a_bad_request() -> None:
    """math.isfinite() of it raised OverflowError out of the service: a 500 (and a
    history actor's failed turn) where any other bad time is a 400."""
    status, reply = _ask(
        f'{{"v": 1, "action": "history", "key": "{_KEY}", "since": {"9" * 400}}}'.encode()
    )
    assert (status, reply["error"]) == (b"400", "bad_request")


@pytest.mark.parametrize("action", ["\ud800", "hist\udfffory"])
def test_an_action_of_a_lone_surrogate_is_answered_not_raised(action: str) -> None:
    """JSON may name a lone surrogate (`"\\ud800"`), which no UTF-8 encodes: the
    501 echoing it raised UnicodeEncodeError out of the handler, so the client got
    no reply at all. It goes back as the JSON escape it came in."""
    body = json.dumps({"v": 1, "action": action}).encode()
    status, reply = service.handle([body], _NOW, _TIERS, {_KEY}, _fetch)
    assert status == b"501"
    assert json.loads(reply)["action"] == action


_HOUSE = {
    "/device/pi-kitchen.onewire.attic/value",
    "/device/pi-kitchen.onewire.freezer/value",
    "/device/pi-kitchen.gpio.lamp/value",
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("pi-kitchen.onewire.atic", "/device/pi-kitchen.onewire.attic/value"),
        ("pi-kitchen.onwire.attic", "/device/pi-kitchen.onewire.attic/value"),
        ("pi-kitchen.gpio.lamps", "/device/pi-kitchen.gpio.lamp/value"),
        ("pi-kitchen.onewire.cellar", None),
        ("pi-kitchen.onewire.boiler", None),
        ("pi-kitchen.gpio.heater", None),
    ],
)
def test_an_unknown_key_is_offered_only_a_device_whose_name_is_alike(
    asked: str, meant: str | None
) -> None:
    """The host and service are most of a key: `cellar` was offered `attic`, and
    `boiler` `freezer`, as typos of theirs (a forgotten `roof` was offered
    `bathroom`), which no one would take them for."""
    body = {"v": 1, "action": "history", "key": asked, "since": 1}
    status, reply = service.handle(
        [json.dumps(body).encode()], _NOW, _TIERS, _HOUSE, _fetch
    )
    assert status == b"404"
    detail = json.loads(reply)["detail"]
    if meant is None:
        assert "did you mean" not in detail
    else:
        assert f'(did you mean "{meant}"?)' in detail


@pytest.mark.timeout(10)
@pytest.mark.parametrize("action", ["forget", "history"])
@pytest.mark.parametrize("key", ["/device/\udcff/value", "pi.fake.\udcffattic"])
def test_a_key_no_utf8_encodes_is_a_bad_request(action: str, key: str) -> None:
    """`raspy history $'/device/\\xff/value' --forget`: the store's encoding of the
    key raised UnicodeEncodeError out of the handler, so no reply went back and the
    command waited out its timeout to say the hub does not answer."""
    body = json.dumps({"v": 1, "action": action, "key": key, "since": 0}).encode()
    if action == "forget":
        body = json.dumps({"v": 1, "action": action, "key": key}).encode()
    status, reply = service.handle([body], _NOW, _TIERS, {_KEY}, _fetch, _store_forget)
    document = json.loads(reply)
    assert (status, document["error"]) == (b"400", "bad_request")
    assert document["detail"].startswith("key: expected a Clone key or a device name")
