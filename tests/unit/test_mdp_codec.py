"""MDP codecs: the byte vectors of protocols.md §2-§4, and hypothesis properties."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode

V01 = mdp.Version.V01
V02 = mdp.Version.V02
VMJ = mdp.Version.MAJORTOMO
C1 = b"\x00\x80\x00\x00\x01"
SVC = b"echo"

# (id, peer-view frames, decoded message) for messages the broker receives
BROKER_INBOUND = [
    # §2.3 / §2.4
    (
        "v01-client-request",
        [b"", b"MDPC01", SVC, b"hello"],
        mdp.ClientRequest(V01, SVC, (b"hello",)),
    ),
    (
        "v01-client-request-empty-body-frames",
        [b"", b"MDPC01", SVC, b"", b"", b"x"],
        mdp.ClientRequest(V01, SVC, (b"", b"", b"x")),
    ),
    ("v01-ready", [b"", b"MDPW01", b"\x01", SVC], mdp.Ready(V01, SVC)),
    (
        "v01-reply",
        [b"", b"MDPW01", b"\x03", C1, b"", b"hello", b"more"],
        mdp.WorkerReply(V01, C1, (b"hello", b"more"), True),
    ),
    ("v01-heartbeat", [b"", b"MDPW01", b"\x04"], mdp.Heartbeat(V01)),
    ("v01-disconnect", [b"", b"MDPW01", b"\x05"], mdp.Disconnect(V01)),
    (
        "v01-worker-sends-request",
        [b"", b"MDPW01", b"\x02", C1, b"", b"x"],
        mdp.WorkerRequest(V01, C1, (b"x",)),
    ),
    # §3.3
    (
        "v02-client-request",
        [b"MDPC02", b"\x01", SVC, b"hello"],
        mdp.ClientRequest(V02, SVC, (b"hello",)),
    ),
    ("v02-ready", [b"MDPW02", b"\x01", SVC], mdp.Ready(V02, SVC)),
    (
        "v02-partial",
        [b"MDPW02", b"\x03", C1, b"", b"part"],
        mdp.WorkerReply(V02, C1, (b"part",), False),
    ),
    (
        "v02-final",
        [b"MDPW02", b"\x04", C1, b"", b"done"],
        mdp.WorkerReply(V02, C1, (b"done",), True),
    ),
    ("v02-heartbeat", [b"MDPW02", b"\x05"], mdp.Heartbeat(V02)),
    ("v02-disconnect", [b"MDPW02", b"\x06"], mdp.Disconnect(V02)),
    (
        "v02-worker-sends-request",
        [b"MDPW02", b"\x02", C1, b"", b"x"],
        mdp.WorkerRequest(V02, C1, (b"x",)),
    ),
    # §3.4 majortomo table
    (
        "mj-client-request",
        [b"", b"MDPC02", b"\x02", SVC, b"hello"],
        mdp.ClientRequest(VMJ, SVC, (b"hello",)),
    ),
    ("mj-ready", [b"", b"MDPW02", b"\x01", SVC], mdp.Ready(VMJ, SVC)),
    (
        "mj-partial",
        [b"", b"MDPW02", b"\x03", C1, b"", b"part"],
        mdp.WorkerReply(VMJ, C1, (b"part",), False),
    ),
    (
        "mj-final",
        [b"", b"MDPW02", b"\x04", C1, b"", b"done"],
        mdp.WorkerReply(VMJ, C1, (b"done",), True),
    ),
    ("mj-heartbeat", [b"", b"MDPW02", b"\x05"], mdp.Heartbeat(VMJ)),
    ("mj-disconnect", [b"", b"MDPW02", b"\x06"], mdp.Disconnect(VMJ)),
    # §4 requests
    (
        "v01-mmi",
        [b"", b"MDPC01", b"mmi.service", b"echo"],
        mdp.ClientRequest(V01, b"mmi.service", (b"echo",)),
    ),
    (
        "v02-mmi",
        [b"MDPC02", b"\x01", b"mmi.service", b"echo"],
        mdp.ClientRequest(V02, b"mmi.service", (b"echo",)),
    ),
    (
        "mj-mmi",
        [b"", b"MDPC02", b"\x02", b"mmi.service", b"echo"],
        mdp.ClientRequest(VMJ, b"mmi.service", (b"echo",)),
    ),
    (
        "v01-mmi-foo",
        [b"", b"MDPC01", b"mmi.foo", b"x"],
        mdp.ClientRequest(V01, b"mmi.foo", (b"x",)),
    ),
]

# (id, message the broker sends, peer-view frames)
BROKER_OUTBOUND = [
    (
        "v01-client-reply",
        mdp.ClientReply(V01, SVC, (b"hello",)),
        [b"", b"MDPC01", SVC, b"hello"],
    ),
    (
        "v02-client-partial",
        mdp.ClientReply(V02, SVC, (b"p",), False),
        [b"MDPC02", b"\x02", SVC, b"p"],
    ),
    (
        "v02-client-final",
        mdp.ClientReply(V02, SVC, (b"f",), True),
        [b"MDPC02", b"\x03", SVC, b"f"],
    ),
    (
        "mj-client-partial",
        mdp.ClientReply(VMJ, b"", (b"p",), False),
        [b"", b"MDPC02", b"\x03", b"p"],
    ),
    (
        "mj-client-final",
        mdp.ClientReply(VMJ, b"", (b"f",), True),
        [b"", b"MDPC02", b"\x04", b"f"],
    ),
    (
        "v01-worker-request",
        mdp.WorkerRequest(V01, C1, (b"a", b"b")),
        [b"", b"MDPW01", b"\x02", C1, b"", b"a", b"b"],
    ),
    (
        "v02-worker-request",
        mdp.WorkerRequest(V02, C1, (b"a",)),
        [b"MDPW02", b"\x02", C1, b"", b"a"],
    ),
    (
        "mj-worker-request",
        mdp.WorkerRequest(VMJ, C1, (b"a",)),
        [b"", b"MDPW02", b"\x02", C1, b"", b"a"],
    ),
    ("v01-heartbeat", mdp.Heartbeat(V01), [b"", b"MDPW01", b"\x04"]),
    ("v02-heartbeat", mdp.Heartbeat(V02), [b"MDPW02", b"\x05"]),
    ("mj-heartbeat", mdp.Heartbeat(VMJ), [b"", b"MDPW02", b"\x05"]),
    ("v01-disconnect", mdp.Disconnect(V01), [b"", b"MDPW01", b"\x05"]),
    ("v02-disconnect", mdp.Disconnect(V02), [b"MDPW02", b"\x06"]),
    ("mj-disconnect", mdp.Disconnect(VMJ), [b"", b"MDPW02", b"\x06"]),
    # §4 replies
    (
        "v01-mmi-200",
        mdp.ClientReply(V01, b"mmi.service", (b"200",)),
        [b"", b"MDPC01", b"mmi.service", b"200"],
    ),
    (
        "v02-mmi-200",
        mdp.ClientReply(V02, b"mmi.service", (b"200",)),
        [b"MDPC02", b"\x03", b"mmi.service", b"200"],
    ),
    (
        "mj-mmi-200",
        mdp.ClientReply(VMJ, b"", (b"200",)),
        [b"", b"MDPC02", b"\x04", b"200"],
    ),
    (
        "v01-mmi-501",
        mdp.ClientReply(V01, b"mmi.foo", (b"501",)),
        [b"", b"MDPC01", b"mmi.foo", b"501"],
    ),
]

# §2.8 invalid input (router view minus the routing id), with its token
INVALID_AT_BROKER = [
    ("empty", [], "short"),
    ("delimiter-only", [b""], "short"),
    ("unknown-header-delimited", [b"", b"MDPX01", SVC, b"x"], "bad_header"),
    ("unknown-header", [b"HELLO"], "bad_header"),
    ("v01-client-without-delimiter", [b"MDPC01", SVC, b"x"], "bad_envelope"),
    ("v01-worker-without-delimiter", [b"MDPW01", b"\x01", SVC], "bad_envelope"),
    ("v01-request-without-body", [b"", b"MDPC01", SVC], "short"),
    ("v01-request-without-service", [b"", b"MDPC01"], "short"),
    ("v02-request-without-body", [b"MDPC02", b"\x01", SVC], "short"),
    ("mj-request-without-body", [b"", b"MDPC02", b"\x02", SVC], "short"),
    ("v01-empty-service", [b"", b"MDPC01", b"", b"x"], "bad_service"),
    ("v02-empty-service", [b"MDPC02", b"\x01", b"", b"x"], "bad_service"),
    ("v01-unknown-command", [b"", b"MDPW01", b"\x09"], "bad_command"),
    ("v01-command-too-long", [b"", b"MDPW01", b"\x01\x01", SVC], "bad_command"),
    ("v01-command-is-ascii-digit", [b"", b"MDPW01", b"1", SVC], "bad_command"),
    ("v01-worker-without-command", [b"", b"MDPW01"], "short"),
    ("v02-unknown-command", [b"MDPW02", b"\x07"], "bad_command"),
    ("v02-worker-without-command", [b"MDPW02"], "short"),
    ("v02-client-without-command", [b"MDPC02"], "short"),
    ("v02-client-sends-partial", [b"MDPC02", b"\x02", SVC, b"x"], "bad_command"),
    ("v02-client-sends-final", [b"MDPC02", b"\x03", SVC, b"x"], "bad_command"),
    (
        "mj-client-sends-rfc18-request-byte",
        [b"", b"MDPC02", b"\x01", SVC, b"x"],
        "bad_command",
    ),
    ("mj-client-sends-final", [b"", b"MDPC02", b"\x04", SVC, b"x"], "bad_command"),
    ("v01-ready-without-service", [b"", b"MDPW01", b"\x01"], "short"),
    ("v01-ready-extra-frames", [b"", b"MDPW01", b"\x01", SVC, b"x"], "extra_frames"),
    ("v02-ready-without-service", [b"MDPW02", b"\x01"], "short"),
    ("v02-ready-extra-frames", [b"MDPW02", b"\x01", SVC, b""], "extra_frames"),
    ("v02-ready-empty-service", [b"MDPW02", b"\x01", b""], "bad_service"),
    ("v01-heartbeat-extra-frames", [b"", b"MDPW01", b"\x04", b""], "extra_frames"),
    ("v01-disconnect-extra-frames", [b"", b"MDPW01", b"\x05", b"x"], "extra_frames"),
    ("v02-heartbeat-extra-frames", [b"MDPW02", b"\x05", b"x"], "extra_frames"),
    ("mj-disconnect-extra-frames", [b"", b"MDPW02", b"\x06", b"x"], "extra_frames"),
    (
        "v01-reply-bad-envelope",
        [b"", b"MDPW01", b"\x03", C1, b"x", b"body"],
        "bad_envelope",
    ),
    ("v02-final-bad-envelope", [b"MDPW02", b"\x04", C1, b"x", b"body"], "bad_envelope"),
    ("v01-reply-without-body", [b"", b"MDPW01", b"\x03", C1, b""], "short"),
    ("v02-partial-without-client", [b"MDPW02", b"\x03"], "short"),
]


@pytest.mark.parametrize(
    ("frames", "expected"),
    [pytest.param(f, m, id=i) for i, f, m in BROKER_INBOUND],
)
def test_broker_decodes_every_example_message(
    frames: list[bytes], expected: mdp.BrokerInbound
) -> None:
    """protocols.md §2.3, §2.4, §3.3, §3.4, §4: each example decodes to its message."""
    assert mdp_decode.decode_at_broker(frames) == expected


@pytest.mark.parametrize(
    ("frames", "expected"),
    [pytest.param(f, m, id=i) for i, f, m in BROKER_INBOUND],
)
def test_encoding_each_inbound_example_gives_its_exact_frames(
    frames: list[bytes], expected: mdp.BrokerInbound
) -> None:
    """protocols.md §2-§4: encoding is the inverse of decoding, byte for byte."""
    assert mdp.encode(expected) == frames


def test_router_view_example_decodes_after_the_routing_id_is_stripped() -> None:
    """protocols.md §3.3: [C1, b'MDPC02', b'\\x01', SVC, b'hello']."""
    router_view = [C1, b"MDPC02", b"\x01", SVC, b"hello"]
    assert mdp_decode.decode_at_broker(router_view[1:]) == mdp.ClientRequest(
        V02, SVC, (b"hello",)
    )


@pytest.mark.parametrize(
    ("message", "frames"),
    [pytest.param(m, f, id=i) for i, m, f in BROKER_OUTBOUND],
)
def test_broker_messages_encode_to_the_documented_frames(
    message: mdp.Message, frames: list[bytes]
) -> None:
    """protocols.md §2.3, §2.4, §3.3, §3.4, §4: broker -> peer frames."""
    assert mdp.encode(message) == frames


@pytest.mark.parametrize(
    ("message", "frames"),
    [
        pytest.param(m, f, id=i)
        for i, m, f in BROKER_OUTBOUND
        if isinstance(m, mdp.ClientReply)
    ],
)
def test_clients_decode_the_documented_replies(
    message: mdp.ClientReply, frames: list[bytes]
) -> None:
    """protocols.md §2.3, §3.3, §3.4: a client of each version reads its replies."""
    assert mdp_decode.decode_at_client(frames, message.version) == message


@pytest.mark.parametrize(
    ("message", "frames"),
    [
        pytest.param(m, f, id=i)
        for i, m, f in BROKER_OUTBOUND
        if not isinstance(m, mdp.ClientReply)
    ],
)
def test_workers_decode_the_documented_broker_commands(
    message: mdp.WorkerRequest | mdp.Heartbeat | mdp.Disconnect, frames: list[bytes]
) -> None:
    """protocols.md §2.4, §3.3, §3.4: a worker of each version reads broker commands."""
    assert mdp_decode.decode_at_worker(frames, message.version) == message


@pytest.mark.parametrize(
    ("frames", "reason"),
    [pytest.param(f, r, id=i) for i, f, r in INVALID_AT_BROKER],
)
def test_broker_rejects_invalid_input_with_the_table_token(
    frames: list[bytes], reason: str
) -> None:
    """protocols.md §2.8 (and §3.3 for 0.2): each invalid row raises its token."""
    with pytest.raises(MalformedMessage) as caught:
        mdp_decode.decode_at_broker(frames)
    assert (caught.value.protocol, caught.value.reason) == ("mdp", reason)


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([b"", b"MDPC02", b"\x02", SVC, b"x"], id="client"),
        pytest.param([b"", b"MDPW02", b"\x01", SVC], id="worker"),
    ],
)
def test_broker_refuses_majortomo_dialect_when_disabled(frames: list[bytes]) -> None:
    """protocols.md §3.5: delimited MDPC02/MDPW02 is majortomo only if enabled."""
    with pytest.raises(MalformedMessage) as caught:
        mdp_decode.decode_at_broker(frames, accept_majortomo=False)
    assert caught.value.reason == "bad_envelope"


INVALID_AT_CLIENT = [
    ("v01-no-delimiter", V01, [b"MDPC01", SVC, b"x"], "bad_envelope"),
    ("v01-wrong-header", V01, [b"", b"MDPC02", b"\x03", SVC, b"x"], "bad_header"),
    ("v01-no-body", V01, [b"", b"MDPC01", SVC], "short"),
    ("v02-delimited", V02, [b"", b"MDPC02", b"\x03", SVC, b"x"], "bad_envelope"),
    ("v02-request-byte", V02, [b"MDPC02", b"\x01", SVC, b"x"], "bad_command"),
    ("v02-no-body", V02, [b"MDPC02", b"\x03", SVC], "short"),
    ("v02-empty", V02, [], "short"),
    ("mj-rfc18-final-byte", VMJ, [b"", b"MDPC02", b"\x02", b"x"], "bad_command"),
    ("mj-no-body", VMJ, [b"", b"MDPC02", b"\x04"], "short"),
    ("mj-no-delimiter", VMJ, [b"MDPC02", b"\x04", b"x"], "bad_envelope"),
]


@pytest.mark.parametrize(
    ("version", "frames", "reason"),
    [pytest.param(v, f, r, id=i) for i, v, f, r in INVALID_AT_CLIENT],
)
def test_client_rejects_replies_outside_its_version(
    version: mdp.Version, frames: list[bytes], reason: str
) -> None:
    """protocols.md §2.3, §3.3, §3.4: a client accepts only its own reply format."""
    with pytest.raises(MalformedMessage) as caught:
        mdp_decode.decode_at_client(frames, version)
    assert caught.value.reason == reason


INVALID_AT_WORKER = [
    (
        "v01-reply-is-not-for-workers",
        V01,
        [b"", b"MDPW01", b"\x03", C1, b"", b"x"],
        "bad_command",
    ),
    (
        "v01-ready-is-not-for-workers",
        V01,
        [b"", b"MDPW01", b"\x01", SVC],
        "bad_command",
    ),
    (
        "v02-final-is-not-for-workers",
        V02,
        [b"MDPW02", b"\x04", C1, b"", b"x"],
        "bad_command",
    ),
    ("v02-heartbeat-extra", V02, [b"MDPW02", b"\x05", b""], "extra_frames"),
    (
        "v02-request-bad-envelope",
        V02,
        [b"MDPW02", b"\x02", C1, b"x", b"y"],
        "bad_envelope",
    ),
    ("v02-request-short", V02, [b"MDPW02", b"\x02", C1, b""], "short"),
    ("mj-no-delimiter", VMJ, [b"MDPW02", b"\x05"], "bad_envelope"),
    ("v01-wrong-header", V01, [b"", b"MDPW02", b"\x05"], "bad_header"),
    ("v02-no-command", V02, [b"MDPW02"], "short"),
]


@pytest.mark.parametrize(
    ("version", "frames", "reason"),
    [pytest.param(v, f, r, id=i) for i, v, f, r in INVALID_AT_WORKER],
)
def test_worker_rejects_commands_outside_its_version(
    version: mdp.Version, frames: list[bytes], reason: str
) -> None:
    """protocols.md §2.4, §3.3: a worker takes REQUEST, HEARTBEAT, DISCONNECT only."""
    with pytest.raises(MalformedMessage) as caught:
        mdp_decode.decode_at_worker(frames, version)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(mdp.ClientRequest(V02, SVC, ()), id="request-without-body"),
        pytest.param(
            mdp.ClientRequest(V01, b"", (b"x",)), id="request-without-service"
        ),
        pytest.param(mdp.ClientReply(V01, SVC, (b"x",), False), id="partial-in-0.1"),
        pytest.param(mdp.WorkerReply(V01, C1, (b"x",), False), id="worker-partial-0.1"),
        pytest.param(mdp.WorkerReply(V02, C1, ()), id="reply-without-body"),
        pytest.param(mdp.WorkerRequest(V02, C1, ()), id="worker-request-without-body"),
        pytest.param(mdp.ClientReply(VMJ, b"", ()), id="client-reply-without-body"),
        pytest.param(mdp.Ready(V02, b""), id="ready-without-service"),
    ],
)
def test_encoding_a_message_that_cannot_be_valid_raises_value_error(
    message: mdp.Message,
) -> None:
    """protocols.md §2.3, §2.4, §3.1: no empty body or service; 0.1 is final."""
    with pytest.raises(ValueError, match=r"MDP|READY"):
        mdp.encode(message)


# ---------------------------------------------------------------- hypothesis

versions = st.sampled_from(list(mdp.Version))
frame = st.binary(max_size=16)
services = st.binary(min_size=1, max_size=12)
bodies = st.lists(frame, min_size=1, max_size=5).map(tuple)


@st.composite
def worker_replies(draw: st.DrawFn) -> mdp.WorkerReply:
    version = draw(versions)
    final = True if version is V01 else draw(st.booleans())
    return mdp.WorkerReply(version, draw(frame), draw(bodies), final)


@st.composite
def client_replies(draw: st.DrawFn) -> mdp.ClientReply:
    version = draw(versions)
    final = True if version is V01 else draw(st.booleans())
    service = b"" if version is VMJ else draw(services)
    return mdp.ClientReply(version, service, draw(bodies), final)


broker_inbound = st.one_of(
    st.builds(mdp.ClientRequest, versions, services, bodies),
    st.builds(mdp.Ready, versions, services),
    worker_replies(),
    st.builds(mdp.Heartbeat, versions),
    st.builds(mdp.Disconnect, versions),
    st.builds(mdp.WorkerRequest, versions, frame, bodies),
)
worker_inbound = st.one_of(
    st.builds(mdp.WorkerRequest, versions, frame, bodies),
    st.builds(mdp.Heartbeat, versions),
    st.builds(mdp.Disconnect, versions),
)


@given(broker_inbound)
def test_every_message_the_broker_receives_survives_a_round_trip(
    message: mdp.BrokerInbound,
) -> None:
    """protocols.md §3.5: decode_at_broker(encode(m)) == m, every type and version."""
    assert mdp_decode.decode_at_broker(mdp.encode(message)) == message


@given(client_replies())
def test_every_client_reply_survives_a_round_trip(message: mdp.ClientReply) -> None:
    """protocols.md §2.3, §3.3, §3.4: decode_at_client(encode(m)) == m."""
    assert mdp_decode.decode_at_client(mdp.encode(message), message.version) == message


@given(worker_inbound)
def test_every_broker_command_survives_a_round_trip_at_the_worker(
    message: mdp.WorkerRequest | mdp.Heartbeat | mdp.Disconnect,
) -> None:
    """protocols.md §2.4, §3.3, §3.4: decode_at_worker(encode(m)) == m."""
    assert mdp_decode.decode_at_worker(mdp.encode(message), message.version) == message


TOKENS = [
    b"",
    b"MDPC01",
    b"MDPW01",
    b"MDPC02",
    b"MDPW02",
    *(bytes([n]) for n in range(8)),
    b"mmi.service",
]
fuzz_frame = st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8))
fuzz_frames = st.lists(fuzz_frame, max_size=8)
REASONS = {
    "short",
    "bad_header",
    "bad_envelope",
    "bad_service",
    "bad_command",
    "extra_frames",
}


def _decodes_or_raises_malformed(
    decode: Callable[[list[bytes]], object], frames: list[bytes]
) -> None:
    failure: MalformedMessage | None = None
    try:
        decode(frames)
    except MalformedMessage as exc:
        failure = exc
    if failure is not None:
        assert (failure.protocol, failure.reason in REASONS) == ("mdp", True)


@given(fuzz_frames, st.booleans())
def test_arbitrary_frames_decode_at_the_broker_or_raise_malformed_message(
    frames: list[bytes], majortomo: bool
) -> None:
    """protocols.md §2.8: any frame list decodes or raises MalformedMessage, only."""
    _decodes_or_raises_malformed(
        lambda f: mdp_decode.decode_at_broker(f, accept_majortomo=majortomo), frames
    )


@given(fuzz_frames, versions)
def test_arbitrary_frames_decode_at_clients_and_workers_or_raise_malformed_message(
    frames: list[bytes], version: mdp.Version
) -> None:
    """protocols.md §2.8: client and worker decoders fail only with MalformedMessage."""
    _decodes_or_raises_malformed(
        lambda f: mdp_decode.decode_at_client(f, version), frames
    )
    _decodes_or_raises_malformed(
        lambda f: mdp_decode.decode_at_worker(f, version), frames
    )


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    """A valid broker-bound message with one frame dropped, added or flipped."""
    frames = mdp.encode(draw(broker_inbound))
    action = draw(st.sampled_from(["drop", "add", "flip"]))
    if action == "add":
        frames.insert(draw(st.integers(0, len(frames))), draw(fuzz_frame))
        return frames
    index = draw(st.integers(0, len(frames) - 1))
    if action == "drop":
        del frames[index]
    else:
        frames[index] = draw(fuzz_frame)
    return frames


@given(mutated())
@settings(max_examples=300)
def test_mutated_valid_messages_decode_or_raise_malformed_message(
    frames: list[bytes],
) -> None:
    """STYLE.md §7 / protocols.md §2.8: a damaged message never raises anything else."""
    _decodes_or_raises_malformed(mdp_decode.decode_at_broker, frames)
