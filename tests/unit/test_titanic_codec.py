"""Titanic bodies and status frames (docs/protocols.md §5.2, §5.3)."""

from __future__ import annotations

import uuid as uuid_mod

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.errors import MalformedMessage
from raspy.protocol import titanic
from raspy.protocol.titanic import (
    Answer,
    Close,
    PooledUuids,
    ReplyQuery,
    Request,
    Status,
)

UUID = "0123456789abcdef0123456789abcdef"
frames_st = st.lists(st.binary(max_size=40), max_size=6)
uuid_st = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        pytest.param(
            [b"echo", b"hello"], Request(b"echo", (b"hello",)), id="one-body-frame"
        ),
        pytest.param(
            [b"echo", b"a", b"", b"c"], Request(b"echo", (b"a", b"", b"c")), id="many"
        ),
    ],
)
def test_request_body_decodes_target_service_and_body(
    frames: list[bytes], expected: Request
) -> None:
    """§5.2: titanic.request body is [target_service, body0, *more]."""
    assert titanic.decode_request(frames) == expected
    assert titanic.encode_request(expected) == frames


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([], "short", id="empty"),
        pytest.param([b"echo"], "short", id="no-body"),
        pytest.param([b"", b"x"], "bad_service", id="empty-service"),
    ],
)
def test_malformed_request_body_raises_with_reason(
    frames: list[bytes], reason: str
) -> None:
    """§5.3 raspy: fewer than two frames or an empty target service is malformed."""
    with pytest.raises(MalformedMessage) as caught:
        titanic.decode_request(frames)
    assert (caught.value.protocol, caught.value.reason) == ("titanic", reason)


def test_generated_uuids_are_32_lowercase_hex_characters() -> None:
    """§5.2 raspy: generate lowercase hex from UUID4."""
    uuid = titanic.new_uuid()
    assert titanic.parse_uuid(uuid.encode()) == uuid
    assert uuid == uuid.lower()
    assert uuid != titanic.new_uuid()


def test_pooled_uuid_source_makes_distinct_version_4_ids() -> None:
    """§5.2 raspy: lowercase hex from UUID4, also when drawn from a random pool."""
    source = PooledUuids()
    made = [source() for _ in range(600)]  # crosses a pool refill
    assert len(set(made)) == len(made)
    for uuid in made:
        parsed = uuid_mod.UUID(hex=uuid)
        assert (parsed.version, parsed.variant) == (4, uuid_mod.RFC_4122)
        assert titanic.parse_uuid(uuid.encode()) == uuid


def test_uuid_is_accepted_in_either_case_and_returned_lowercase() -> None:
    """§5.2 raspy: accept either case on input."""
    assert titanic.parse_uuid(UUID.upper().encode()) == UUID
    assert titanic.decode_reply_query([UUID.upper().encode()]) == ReplyQuery(UUID)
    assert titanic.decode_close([UUID.encode()]) == Close(UUID)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"", id="empty"),
        pytest.param(UUID[:31].encode(), id="31-chars"),
        pytest.param(UUID.encode() + b"0", id="33-chars"),
        pytest.param(b"g" + UUID[1:].encode(), id="not-hex"),
        pytest.param(b"0123456789abcdef-123456789abcdef", id="dash"),
        pytest.param("é".encode() + UUID[2:].encode(), id="non-ascii"),
    ],
)
def test_anything_but_32_hex_characters_is_a_bad_uuid(frame: bytes) -> None:
    """§5.2 raspy: anything that is not exactly 32 hex characters is unknown (400)."""
    with pytest.raises(MalformedMessage) as caught:
        titanic.parse_uuid(frame)
    assert caught.value.reason == "bad_uuid"


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([], "short", id="none"),
        pytest.param([UUID.encode(), b""], "extra_frames", id="two"),
    ],
)
def test_reply_and_close_bodies_need_exactly_one_frame(
    frames: list[bytes], reason: str
) -> None:
    """§5.2: titanic.reply and titanic.close take exactly one UUID frame."""
    for decode in (titanic.decode_reply_query, titanic.decode_close):
        with pytest.raises(MalformedMessage) as caught:
            decode(frames)
        assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("answer", "frames"),
    [
        pytest.param(
            Answer(Status.OK, (UUID.encode(),)), [b"200", UUID.encode()], id="accepted"
        ),
        pytest.param(Answer(Status.PENDING), [b"300"], id="pending"),
        pytest.param(Answer(Status.UNKNOWN), [b"400"], id="unknown"),
        pytest.param(Answer(Status.ERROR), [b"500"], id="error"),
        pytest.param(Answer(Status.OK, (b"a", b"")), [b"200", b"a", b""], id="reply"),
    ],
)
def test_answers_are_bare_status_digits_then_payload(
    answer: Answer, frames: list[bytes]
) -> None:
    """§5.3 raspy: send bare digits."""
    assert titanic.encode_answer(answer) == frames
    assert titanic.decode_answer(frames) == answer


def test_status_text_after_the_digits_is_ignored() -> None:
    """§5.3: digits optionally followed by a space and text that clients ignore."""
    assert titanic.decode_answer([b"300 Pending", b"x"]) == Answer(
        Status.PENDING, (b"x",)
    )


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([], id="empty"),
        pytest.param([b"201"], id="unknown-code"),
        pytest.param([b"20"], id="short-code"),
        pytest.param([b"OK"], id="text"),
    ],
)
def test_unknown_status_is_malformed(frames: list[bytes]) -> None:
    """§5.3: only the four codes exist."""
    with pytest.raises(MalformedMessage):
        titanic.decode_answer(frames)


def test_accepted_uuid_comes_from_a_200_with_one_uuid_frame() -> None:
    """§5.2: titanic.request answers [b"200", UUID32]."""
    assert titanic.accepted_uuid(Answer(Status.OK, (UUID.encode(),))) == UUID
    with pytest.raises(MalformedMessage):
        titanic.accepted_uuid(Answer(Status.ERROR))
    with pytest.raises(MalformedMessage):
        titanic.accepted_uuid(Answer(Status.OK, (b"nope",)))


@given(
    service=st.binary(min_size=1, max_size=40),
    body=st.lists(st.binary(max_size=40), min_size=1, max_size=5),
)
def test_request_round_trips(service: bytes, body: list[bytes]) -> None:
    """§5.2: body frames are stored and forwarded unchanged."""
    request = Request(service, tuple(body))
    assert titanic.decode_request(titanic.encode_request(request)) == request


@given(uuid=uuid_st)
def test_reply_query_and_close_round_trip(uuid: str) -> None:
    """§5.2: one UUID frame."""
    assert titanic.decode_reply_query(
        titanic.encode_reply_query(ReplyQuery(uuid))
    ) == ReplyQuery(uuid)
    assert titanic.decode_close(titanic.encode_close(Close(uuid))) == Close(uuid)


@given(status=st.sampled_from(Status), payload=frames_st)
def test_answer_round_trips(status: Status, payload: list[bytes]) -> None:
    """§5.3: status frame, then payload frames unchanged."""
    answer = Answer(status, tuple(payload))
    assert titanic.decode_answer(titanic.encode_answer(answer)) == answer


@given(frames=frames_st)
def test_arbitrary_frames_decode_or_raise_malformed_message(
    frames: list[bytes],
) -> None:
    """Every decoder either decodes or raises MalformedMessage, nothing else."""
    decoders = (
        titanic.decode_request,
        titanic.decode_reply_query,
        titanic.decode_close,
        titanic.decode_answer,
    )
    for decode in decoders:
        try:
            decode(frames)
        except MalformedMessage as exc:
            protocol = exc.protocol
        else:
            protocol = "titanic"
        assert protocol == "titanic"


@given(frame=st.binary(max_size=40))
def test_arbitrary_uuid_frames_parse_or_raise_malformed_message(frame: bytes) -> None:
    """§5.2 raspy: a UUID parses to lowercase hex, or is a bad_uuid."""
    try:
        uuid = titanic.parse_uuid(frame)
    except MalformedMessage as exc:
        reason = exc.reason
    else:
        reason = "bad_uuid"
        assert uuid == frame.decode("ascii").lower()
    assert reason == "bad_uuid"


@given(frames_st)
def test_any_answer_gives_its_uuid_or_raises_malformed_message(
    frames: list[bytes],
) -> None:
    """A client reads the UUID out of whatever the broker hands back as Titanic's."""
    try:
        uuid = titanic.accepted_uuid(titanic.decode_answer(frames))
    except MalformedMessage as exc:
        protocol = exc.protocol
    else:
        protocol = "titanic"
        assert frames[1].lower() == uuid.encode()
    assert protocol == "titanic"
