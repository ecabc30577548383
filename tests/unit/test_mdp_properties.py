"""MDP codecs under hypothesis: round trips and fuzzed frames (docs/protocols.md §2-§4)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from support.mdp_frames import V01, VMJ

from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode

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
    """docs/protocols.md §3.5: decode_at_broker(encode(m)) == m, every type and version."""
    assert mdp_decode.decode_at_broker(mdp.encode(message)) == message


@given(client_replies())
def test_every_client_reply_survives_a_round_trip(message: mdp.ClientReply) -> None:
    """docs/protocols.md §2.3, §3.3, §3.4: decode_at_client(encode(m)) == m."""
    assert mdp_decode.decode_at_client(mdp.encode(message), message.version) == message


@given(worker_inbound)
def test_every_broker_command_survives_a_round_trip_at_the_worker(
    message: mdp.WorkerRequest | mdp.Heartbeat | mdp.Disconnect,
) -> None:
    """docs/protocols.md §2.4, §3.3, §3.4: decode_at_worker(encode(m)) == m."""
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
    """docs/protocols.md §2.8: any frame list decodes or raises MalformedMessage, only."""
    _decodes_or_raises_malformed(
        lambda f: mdp_decode.decode_at_broker(f, accept_majortomo=majortomo), frames
    )


@given(fuzz_frames, versions)
def test_arbitrary_frames_decode_at_clients_and_workers_or_raise_malformed_message(
    frames: list[bytes], version: mdp.Version
) -> None:
    """docs/protocols.md §2.8: client and worker decoders fail only with MalformedMessage."""
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
    """docs/style.md §7 / docs/protocols.md §2.8: a damaged message never raises anything else."""
    _decodes_or_raises_malformed(mdp_decode.decode_at_broker, frames)
