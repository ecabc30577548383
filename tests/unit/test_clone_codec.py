"""The CHP codec (RFC 12/CHP) against docs/protocols.md §6.2-§6.6."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.errors import MalformedMessage
from raspy.protocol import clone

T = TypeVar("T")
UUID = bytes(range(16))

names = st.text(min_size=1, max_size=12).filter(
    lambda n: "=" not in n and "\n" not in n
)
values = st.text(max_size=20).filter(lambda v: "\n" not in v)
props_st = st.lists(st.tuples(names, values), max_size=5).map(tuple)
keys = st.binary(min_size=1, max_size=64)
kvmsgs = st.builds(
    clone.KvMsg,
    key=keys,
    seq=st.integers(0, clone.MAX_SEQ),
    uuid=st.one_of(st.just(b""), st.binary(min_size=16, max_size=16)),
    props=props_st,
    body=st.binary(max_size=64),
)
frame_lists = st.lists(st.binary(max_size=40), max_size=8)


def _outcome(decode: Callable[[T], object], value: T) -> object:
    """What decoding gives: the value, or the MalformedMessage it raised."""
    try:
        return decode(value)
    except MalformedMessage as exc:
        return exc


def _reason(frames: list[bytes]) -> str:
    with pytest.raises(MalformedMessage) as info:
        clone.decode_kvset(frames)
    assert info.value.protocol == "clone"
    return info.value.reason


# --- vectors --------------------------------------------------------------------------


def test_kvset_frames_decode_to_a_kvmsg() -> None:
    """§6.4: KVSET [key, 8 zero bytes, UUID16, properties, value]."""
    frames = [b"/device/a", bytes(8), UUID, b"ttl=30\nunit=C\n", b"21.5"]
    assert clone.decode_kvset(frames) == clone.KvMsg(
        b"/device/a", 0, UUID, (("ttl", "30"), ("unit", "C")), b"21.5"
    )


def test_sequence_is_eight_bytes_unsigned_big_endian() -> None:
    """§0.1 and §6.2: 42 is b'\\x00'*7 + b'*'; the top bit is not a sign."""
    assert clone.encode_seq(42) == b"\x00\x00\x00\x00\x00\x00\x00\x2a"
    assert clone.decode_seq(b"\xff" * 8) == 2**64 - 1


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param(
            [b"/a", bytes(8), b"", b""], "wrong_frame_count", id="four-frames"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"", b"v", b"x"], "wrong_frame_count", id="six"
        ),
        pytest.param(
            [b"/a", bytes(4), b"", b"", b"v"], "bad_sequence", id="4-byte-seq"
        ),
        pytest.param(
            [b"/a", bytes(9), b"", b"", b"v"], "bad_sequence", id="9-byte-seq"
        ),
        pytest.param([b"/a", bytes(8), b"u" * 15, b"", b"v"], "bad_uuid", id="uuid-15"),
        pytest.param(
            [b"/a", bytes(8), b"", b"novalue\n", b"v"], "bad_properties", id="no-eq"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"=x\n", b"v"], "bad_properties", id="no-name"
        ),
        pytest.param([b"", bytes(8), b"", b"", b"v"], "bad_key", id="empty-key"),
        pytest.param([b"HUGZ", bytes(8), b"", b"", b"v"], "bad_key", id="literal-key"),
        pytest.param(
            [b"KTHXBAI", bytes(8), b"", b"", b"v"], "bad_key", id="literal-kthxbai"
        ),
        pytest.param([b"k" * 256, bytes(8), b"", b"", b"v"], "key_too_long", id="256"),
        pytest.param(
            [b"/" * 256, bytes(8), b"", b"", b"v"], "key_too_long", id="key-256"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"ttl=-1\n", b"v"], "bad_ttl", id="ttl-neg"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"ttl=abc\n", b"v"], "bad_ttl", id="ttl-text"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"ttl=1e3\n", b"v"], "bad_ttl", id="ttl-exp"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"ttl=inf\n", b"v"], "bad_ttl", id="ttl-inf"
        ),
        pytest.param([b"/a", bytes(8), b"", b"ttl=.\n", b"v"], "bad_ttl", id="ttl-dot"),
        pytest.param(
            [b"/a", bytes(8), b"", b"ttl=\n", b"v"], "bad_ttl", id="ttl-empty"
        ),
        pytest.param(
            [b"/a", bytes(8), b"", b"a=" + b"x" * 4096, b"v"],
            "properties_too_large",
            id="props-big",
        ),
    ],
)
def test_invalid_kvset_is_rejected_with_its_reason(
    frames: list[bytes], reason: str
) -> None:
    """§6.4: a bad shape, sequence, UUID, key, property or ttl makes a KVSET invalid."""
    assert _reason(frames) == reason


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(b"8553", id="zguide-clonecli6"),
        pytest.param(b"a/b", id="not-rooted"),
        pytest.param(b"HUGZILLA", id="literal-prefix"),
        pytest.param(b"/device/x", id="raspy-path"),
    ],
)
def test_kvset_accepts_any_key_rfc12_allows(key: bytes) -> None:
    """§6.2: RFC 12 asks nothing of a key's shape; zguide's clients write `8553`."""
    assert clone.decode_kvset([key, bytes(8), b"", b"", b"v"]).key == key


def test_raspy_path_keys_are_rfc_keys_that_start_with_a_slash() -> None:
    """§6.2: raspy's own keys are /-rooted paths, by convention of its writers."""
    clone.check_path_key(b"/device/x")
    with pytest.raises(MalformedMessage) as info:
        clone.check_path_key(b"8553")
    assert (info.value.reason, info.value.detail) == (
        "bad_key",
        "key '8553' is not /-rooted",
    )


def test_key_of_255_bytes_is_accepted() -> None:
    """§6.2: keys are at most 255 bytes."""
    key = b"/" + b"k" * 254
    assert clone.decode_kvset([key, bytes(8), b"", b"", b"v"]).key == key


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("0", 0.0), ("2.5", 2.5), (".5", 0.5), ("5.", 5.0)],
)
def test_ttl_accepts_decimal_integers_and_fractions(text: str, seconds: float) -> None:
    """§6.6: raspy accepts a decimal integer or decimal fraction."""
    assert clone.parse_ttl(text) == seconds


@pytest.mark.parametrize(
    "text", ["-1", "1e3", "inf", "nan", "", ".", "1.2.3", "²", " 1"]
)
def test_ttl_rejects_anything_but_a_non_negative_decimal(text: str) -> None:
    """§6.4: a ttl that is not a non-negative number makes the KVSET invalid."""
    with pytest.raises(MalformedMessage) as info:
        clone.parse_ttl(text)
    assert info.value.reason == "bad_ttl"


def test_ttl_zero_or_absent_means_permanent() -> None:
    """§6.6: without ttl, or with ttl=0, the key is permanent."""
    assert clone.ttl_of(()) is None
    assert clone.ttl_of((("ttl", "0"),)) is None
    assert clone.ttl_of((("ttl", "30"),)) == 30.0


def test_ttl_is_sent_as_an_integer_when_whole() -> None:
    """§6.6: raspy sends integers; fractions only when the caller asked for one."""
    assert clone.kvset(b"/a", b"v", UUID, ttl_s=30.0) == [
        b"/a",
        bytes(8),
        UUID,
        b"ttl=30\n",
        b"v",
    ]
    assert clone.format_ttl(2.5) == "2.5"


def test_kvset_ttl_replaces_a_ttl_property() -> None:
    """§6.6: one ttl per update; the explicit argument wins."""
    frames = clone.kvset(b"/a", b"v", b"", (("ttl", "9"), ("u", "C")), ttl_s=3)
    assert frames[3] == b"u=C\nttl=3\n"


def test_property_values_keep_everything_after_the_first_equals() -> None:
    """§6.2: split each line at its first `=`; empty lines are ignored."""
    assert clone.decode_props(b"a=b=c\n\nd=\ne=f") == (
        ("a", "b=c"),
        ("d", ""),
        ("e", "f"),
    )


def test_properties_that_are_not_utf8_are_taken_and_give_their_bytes_back() -> None:
    """RFC 12 asks of properties only names without `=` and no newline anywhere;
    bytes that are not UTF-8 come through, and back to the same bytes."""
    frames = [b"/a", bytes(8), b"", b"owner=J\xf6rg\n\xff=1\n", b"v"]
    props = clone.decode_kvset(frames).props
    assert [(clone.prop_bytes(n), clone.prop_bytes(v)) for n, v in props] == [
        (b"owner", b"J\xf6rg"),
        (b"\xff", b"1"),
    ]


@pytest.mark.parametrize(
    "props",
    [
        (("", "v"),),
        (("a=b", "v"),),
        (("a\nb", "v"),),
        (("a", "x\ny"),),
        (("owner", "J\udcf6rg"),),  # raspy writes text: a lone surrogate is not
    ],
)
def test_encoding_a_forbidden_property_is_a_caller_error(
    props: tuple[tuple[str, str], ...],
) -> None:
    """§6.2: names are non-empty without `=` or newline; values have no newline."""
    with pytest.raises(ValueError, match="property"):
        clone.encode_props(props)


def test_server_messages_have_the_rfc_layout() -> None:
    """§6.3 and §6.5: KVSYNC and KTHXBAI with empty UUID/properties; HUGZ seq zero."""
    assert clone.kvsync(b"/a", 7, b"v") == [b"/a", clone.encode_seq(7), b"", b"", b"v"]
    assert clone.kthxbai(9, b"/dev/") == [
        b"KTHXBAI",
        clone.encode_seq(9),
        b"",
        b"",
        b"/dev/",
    ]
    assert clone.hugz() == [b"HUGZ", bytes(8), b"", b"", b""]


def test_icanhaz_is_two_frames_with_the_question_mark() -> None:
    """§6.3: [b'ICANHAZ?', subtree], exactly two frames."""
    assert clone.encode_icanhaz(b"/device/") == [b"ICANHAZ?", b"/device/"]
    assert clone.decode_icanhaz([b"ICANHAZ?", b""]) == clone.Icanhaz(b"")
    assert clone.decode_icanhaz([b"ICANHAZ?", b"/device/"]) == clone.Icanhaz(
        b"/device/"
    )
    # RFC 12 asks nothing of a subtree's shape or length: any key prefix
    assert clone.decode_icanhaz([b"ICANHAZ?", b"85"]) == clone.Icanhaz(b"85")
    long = b"/" * 4096
    assert clone.decode_icanhaz([b"ICANHAZ?", long]) == clone.Icanhaz(long)


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([b"ICANHAZ?"], "wrong_frame_count", id="one-frame"),
        pytest.param([b"ICANHAZ?", b"", b""], "wrong_frame_count", id="three-frames"),
        pytest.param([b"ICANHAZ", b""], "bad_command", id="no-question-mark"),
    ],
)
def test_invalid_icanhaz_is_rejected_with_its_reason(
    frames: list[bytes], reason: str
) -> None:
    """§6.3: anything but a two-frame ICANHAZ? is invalid."""
    with pytest.raises(MalformedMessage) as info:
        clone.decode_icanhaz(frames)
    assert info.value.reason == reason


def test_endpoints_follow_the_port_base() -> None:
    """§6.1 and docs/architecture.md: snapshot N+1, publisher N+2, collector N+3."""
    assert clone.Endpoints.parse("127.0.0.1:5514") == clone.Endpoints(
        "tcp://127.0.0.1:5515", "tcp://127.0.0.1:5516", "tcp://127.0.0.1:5517"
    )
    assert clone.Endpoints.parse("tcp://[::1]:100").publisher == "tcp://[::1]:102"


@pytest.mark.parametrize("text", ["localhost", "host:", ":5514", "host:x", "h:65533"])
def test_endpoints_reject_a_bad_server_address(text: str) -> None:
    """A server is HOST:PORT-BASE with room for four ports."""
    with pytest.raises(ValueError, match=r"expected|port base"):
        clone.Endpoints.parse(text)


# --- properties (hypothesis) ---------------------------------------------------------


@given(kvmsgs)
def test_any_kvmsg_survives_encode_then_decode(msg: clone.KvMsg) -> None:
    """§6.2: the five frames carry key, sequence, UUID, properties and body exactly."""
    assert clone.decode_kvmsg(clone.encode_kvmsg(msg)) == msg


@given(props_st)
def test_any_properties_survive_encode_then_decode(
    props: tuple[tuple[str, str], ...],
) -> None:
    """§6.2: `name=value\\n` in insertion order, split at the first `=`."""
    assert clone.decode_props(clone.encode_props(props)) == props


@given(st.floats(0, clone.MAX_TTL_S))
def test_any_formatted_ttl_parses_back_within_a_microsecond(ttl_s: float) -> None:
    """§6.6: what raspy sends, raspy accepts."""
    assert abs(clone.parse_ttl(clone.format_ttl(ttl_s)) - ttl_s) <= 1e-6 * max(1, ttl_s)


@given(frame_lists)
def test_arbitrary_frames_decode_or_raise_malformed_message(
    frames: list[bytes],
) -> None:
    """docs/style.md §7: any input is a message or a MalformedMessage, nothing else."""
    for decode in (clone.decode_kvmsg, clone.decode_kvset, clone.decode_icanhaz):
        outcome = _outcome(decode, frames)
        assert not isinstance(outcome, MalformedMessage) or outcome.protocol == "clone"


@given(kvmsgs, st.data())
def test_a_valid_message_with_one_frame_changed_decodes_or_raises_malformed(
    msg: clone.KvMsg, data: st.DataObject
) -> None:
    """docs/style.md §7: frames dropped, added or flipped never escape as another error."""
    frames = clone.encode_kvmsg(msg)
    index = data.draw(st.integers(0, len(frames) - 1))
    action = data.draw(st.sampled_from(["drop", "add", "flip"]))
    if action == "drop":
        del frames[index]
    elif action == "add":
        frames.insert(index, data.draw(st.binary(max_size=20)))
    else:
        frames[index] = data.draw(st.binary(max_size=20))
    outcome = _outcome(clone.decode_kvset, frames)
    assert isinstance(outcome, clone.KvMsg | MalformedMessage)


@settings(max_examples=200)
@given(st.text(max_size=30))
def test_arbitrary_ttl_text_parses_or_raises_malformed(text: str) -> None:
    """§6.6: ttl parsing never raises anything but MalformedMessage."""
    outcome = _outcome(clone.parse_ttl, text)
    if isinstance(outcome, MalformedMessage):
        assert outcome.reason == "bad_ttl"
    else:
        assert isinstance(outcome, float)
        assert outcome >= 0


def test_endpoints_refuse_text_that_is_not_utf8() -> None:
    """A lone surrogate (bytes from argv that are not UTF-8) is refused when the
    endpoints are made, in the caller's thread, not in a client's connect()."""
    with pytest.raises(ValueError, match="not UTF-8"):
        clone.Endpoints.parse("h\udcff:5514")


@given(st.binary(max_size=40), st.integers(0, 2 * clone.MAX_KEY_BYTES))
def test_any_subtree_is_checked_or_raises_malformed(subtree: bytes, limit: int) -> None:
    """A subtree a client asks for: accepted, or refused with a MalformedMessage."""
    outcome = _outcome(lambda s: clone.check_subtree(s, limit), subtree)
    assert outcome is None or isinstance(outcome, MalformedMessage)
    assert (outcome is None) is (
        not subtree or (subtree.startswith(b"/") and len(subtree) <= limit)
    )


@given(
    st.text(max_size=30)
    | st.builds(
        lambda host, port: f"{host}:{port}",
        st.text(max_size=12),
        st.integers(-1, 70_000).map(str) | st.text(max_size=6),
    )
)
def test_any_server_text_gives_endpoints_or_a_value_error(text: str) -> None:
    """`--server` as a user types it: three endpoints, or a ValueError saying why."""
    try:
        endpoints = clone.Endpoints.parse(text)
    except ValueError:
        return
    assert endpoints.snapshot.startswith("tcp://")
