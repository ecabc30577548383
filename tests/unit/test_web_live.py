"""Live values for browsers (raspy.web.live): SSE framing and the coalescing hub."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.controls import Control
from raspy.json_text import tree_value
from raspy.web.html import show_value
from raspy.web.live import LiveHub, comment, frame, is_live, retry


def parse_events(stream: bytes) -> list[tuple[str, str]]:
    """A small reader of the WHATWG event-stream format (event name and data)."""
    events = []
    for block in stream.decode("utf-8").split("\n\n")[:-1]:
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append((name, "\n".join(data)))
    return events


def test_an_event_is_its_name_then_its_data_lines_then_a_blank_line() -> None:
    assert (
        frame("kv", "a\nb", event_id="7") == b"event: kv\nid: 7\ndata: a\ndata: b\n\n"
    )


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="\r", blacklist_categories=["Cs"]),
        max_size=200,
    )
)
def test_any_data_reads_back_unchanged(data: str) -> None:
    assert parse_events(frame("kv", data)) == [("kv", data)]


def test_a_value_with_a_lone_surrogate_is_sent_with_a_replacement() -> None:
    hub = LiveHub()
    hub.publish([("/device/h.f.a/value", b'"\\ud800x"')])
    assert (
        hub.join(Wakes()).take() == b'event: kv\ndata: {"/device/h.f.a/value":"?x"}\n\n'
    )


@pytest.mark.parametrize("name", ["a\nb", "a\rb"])
def test_an_event_name_of_two_lines_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="one line"):
        frame(name, "x")


def test_comments_and_retry_are_single_fields() -> None:
    assert (comment("ping"), retry(1500)) == (b": ping\n\n", b"retry: 1500\n\n")


def test_a_body_that_is_not_json_is_shown_as_text() -> None:
    assert [tree_value(b"21.5"), tree_value(b"\xffx"), tree_value(b"")] == [
        21.5,
        "\ufffdx",
        None,
    ]


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_a_new_client_first_gets_every_current_live_value() -> None:
    hub = LiveHub()
    hub.seed([("/device/h.f.a/value", b"1"), ("/stats/h/x", b"2")])
    hub.publish([("/device/h.f.b/value", b"true")])
    wakes = Wakes()
    client = hub.join(wakes)
    assert (wakes.count, client.take()) == (
        1,
        b'event: kv\ndata: {"/device/h.f.a/value":1,"/device/h.f.b/value":true}\n\n',
    )


def test_a_published_change_beats_an_older_stored_value() -> None:
    hub = LiveHub()
    hub.publish([("/device/h.f.a/value", b"2")])
    hub.seed([("/device/h.f.a/value", b"1")])
    assert hub.join(Wakes()).take() == b'event: kv\ndata: {"/device/h.f.a/value":2}\n\n'


def test_a_slow_client_gets_only_the_latest_value_of_each_key() -> None:
    hub = LiveHub()
    wakes = Wakes()
    client = hub.join(wakes)
    for value in (b"1", b"2", b"3"):
        hub.publish([("/device/h.f.a/value", value), ("/other", b"9")])
    assert (wakes.count, client.take(), client.take()) == (
        1,
        b'event: kv\ndata: {"/device/h.f.a/value":3}\n\n',
        b"",
    )


def test_a_deleted_key_is_sent_as_null_and_forgotten() -> None:
    hub = LiveHub()
    hub.publish([("/scenario/s/state", b'"idle"')])
    first = hub.join(Wakes())
    hub.publish([("/scenario/s/state", b"")])
    assert (first.take(), hub.join(Wakes()).take()) == (
        b'event: kv\ndata: {"/scenario/s/state":null}\n\n',
        b"",
    )


def test_a_client_that_falls_too_far_behind_is_told_to_reload() -> None:
    hub = LiveHub(max_pending_keys=2)
    client = hub.join(Wakes())
    hub.publish([(f"/device/h.f.d{i}/value", b"1") for i in range(3)])
    assert (client.overflowed, client.take()) == (True, b"")


def test_a_client_that_left_gets_nothing_more_and_close_wakes_the_rest() -> None:
    hub = LiveHub()
    gone, staying = Wakes(), Wakes()
    hub.leave(hub.join(gone))
    hub.join(staying)
    hub.publish([("/device/h.f.a/value", b"1")])
    hub.close()
    assert (gone.count, staying.count, hub.closed, len(hub)) == (0, 2, True, 1)


def test_values_give_the_current_value_of_each_live_key_under_a_prefix() -> None:
    hub = LiveHub()
    hub.seed([("/device/a/value", b"1.5"), ("/scenario/s/state", b'"idle"')])
    hub.publish([("/device/b/value", b"not json"), ("/device/a/value", b"2")])
    hub.publish([("/device/c/value", b"3"), ("/device/c/value", b"")])  # deleted
    assert hub.values("/device/") == {
        "/device/a/value": 2,
        "/device/b/value": "not json",
    }
    assert hub.values("/scenario/") == {"/scenario/s/state": "idle"}


def _strict_json(text: str) -> object:
    """JSON.parse as a browser has it: NaN and Infinity are no JSON."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_number_that_is_not_finite_reaches_the_browser_as_the_page_writes_it() -> (
    None
):
    """Python reads NaN, Infinity and 1e400 from a tree body (any Clone client may
    write one) and wrote them back as NaN and Infinity, which JSON.parse refuses:
    app.js dropped the whole batch, the other values in it too, and a new page's
    first batch (every current value) for as long as the key held it. Sent as the
    body's text, `1e400` read "1e400" live and "inf" at the page's load: an
    infinity is sent as 1e999 (JSON.parse's Infinity) and NaN as null, inside a
    list too, and the page's load says them so (html.show_value)."""
    hub = LiveHub()
    hub.publish([("/device/h.f.a/value", b"NaN"), ("/device/h.f.b/value", b"1e400")])
    hub.publish([("/device/h.f.c/value", b"-Infinity"), ("/device/h.f.d/value", b"2")])
    hub.publish([("/scenario/s/last_trigger", b'{"key": "/k", "value": [1e400, NaN]}')])
    [(name, data)] = parse_events(hub.join(Wakes()).take())
    assert name == "kv"
    assert '"/device/h.f.b/value":1e999' in data
    assert '"/device/h.f.c/value":-1e999' in data
    assert _strict_json(data) == {
        "/device/h.f.a/value": None,
        "/device/h.f.b/value": math.inf,
        "/device/h.f.c/value": -math.inf,
        "/device/h.f.d/value": 2,
        "/scenario/s/last_trigger": {"key": "/k", "value": [math.inf, None]},
    }
    assert hub.values("/device/h.f.") == {
        "/device/h.f.a/value": None,
        "/device/h.f.b/value": math.inf,
        "/device/h.f.c/value": -math.inf,
        "/device/h.f.d/value": 2,
    }
    assert [show_value(v) for v in (math.nan, math.inf, -math.inf, 10**400)] == [
        "\u2013",
        "Infinity",
        "-Infinity",
        "Infinity",
    ]


_JSON_BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
).map(lambda value: json.dumps(value).encode())


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is no JSON a browser reads")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["/device/", "/scenario/", "/stats/"]).flatmap(
                lambda prefix: st.text(max_size=12).map(lambda t: prefix + t)
            ),
            st.binary(max_size=30) | _JSON_BODIES,
        ),
        max_size=6,
    )
)
def test_any_tree_change_reaches_the_browser_as_json_it_parses(
    changes: list[tuple[str, bytes]],
) -> None:
    """Any key and body a Clone client may write: the batch is one event whose data
    JSON.parse takes (no NaN nor Infinity), holding each live key's latest value."""
    hub = LiveHub()
    client = hub.join(Wakes())
    hub.publish(changes)
    events = parse_events(client.take())
    live = {key for key, _ in changes if is_live(key)}
    if not live:
        assert events == []
        return
    [(name, data)] = events
    sent = json.loads(data, parse_constant=_no_constant)
    assert name == "kv"
    assert len(sent) == len(live)


def test_a_controls_key_is_live_and_a_key_it_prefixes_is_not() -> None:
    """A control's key (raspy.controls) is subscribed as a prefix: the hub keeps
    that key alone, seeded or changed."""
    hub = LiveHub(controls=[Control("/house/mode", "Mode", "text")])
    hub.seed([("/house/mode", b'"home"'), ("/house/modest", b"1")])
    hub.publish([("/house/mode", b'"away"'), ("/house/mode2", b"2")])
    assert hub.values("/house/") == {"/house/mode": "away"}
    assert hub.join(Wakes()).take() == (
        b'event: kv\ndata: {"/house/mode":"away"}\n\n'
        b'event: control\ndata: {"/house/mode":null}\n\n'
    )


def test_a_controls_key_comes_with_the_reason_its_value_breaks_it() -> None:
    """app.js judged a live value itself, and not as the server does (a text's
    length in UTF-16 units, no control characters, a float step): the server's
    breaks() is the judge, its reason sent after the values."""
    note = Control("/house/note", "Note", "text", max_length=10)
    level = Control("/house/level", "Level", "number", minimum=0, step=0.1)
    hub = LiveHub(controls=[note, level])
    hub.seed([("/house/note", "😀".encode() * 6)])
    client = hub.join(Wakes())
    assert parse_events(client.take()) == [
        ("kv", '{"/house/note":"😀😀😀😀😀😀"}'),
        ("control", '{"/house/note":null}'),
    ]
    hub.publish(
        [
            ("/house/note", b'"a\\nb"'),
            ("/house/level", b"0.30000000000000004"),
            ("/device/x/value", b"1"),
        ]
    )
    events = parse_events(client.take())
    assert [name for name, _ in events] == ["kv", "control"]
    assert json.loads(events[1][1]) == {
        "/house/note": "Set elsewhere to a text that holds '\\n', a control character",
        "/house/level": (
            "Set elsewhere to 0.30000000000000004, which is not on the 0.1 step from 0"
        ),
    }
    hub.publish([("/house/note", b"")])  # deleted: nothing to mark
    assert parse_events(client.take())[1] == ("control", '{"/house/note":null}')
    hub.publish([("/device/x/value", b"2")])  # no control's key: no control event
    assert [name for name, _ in parse_events(client.take())] == ["kv"]
