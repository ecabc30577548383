"""MDP codecs refuse what docs/protocols.md §2-§4 does not allow: the §2.8 table, the §3.5
dialect switch, each side's own version, and messages that cannot be encoded."""

from __future__ import annotations

import pytest
from support.mdp_frames import C1, SVC, V01, V02, VMJ

from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode

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
    ("frames", "reason"),
    [pytest.param(f, r, id=i) for i, f, r in INVALID_AT_BROKER],
)
def test_broker_rejects_invalid_input_with_the_table_token(
    frames: list[bytes], reason: str
) -> None:
    """docs/protocols.md §2.8 (and §3.3 for 0.2): each invalid row raises its token."""
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
    """docs/protocols.md §3.5: delimited MDPC02/MDPW02 is majortomo only if enabled."""
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
    ("mj-no-command", VMJ, [b"", b"MDPC02"], "short"),
    ("mj-no-delimiter", VMJ, [b"MDPC02", b"\x04", b"x"], "bad_envelope"),
]


@pytest.mark.parametrize(
    ("version", "frames", "reason"),
    [pytest.param(v, f, r, id=i) for i, v, f, r in INVALID_AT_CLIENT],
)
def test_client_rejects_replies_outside_its_version(
    version: mdp.Version, frames: list[bytes], reason: str
) -> None:
    """docs/protocols.md §2.3, §3.3, §3.4: a client accepts only its own reply format."""
    with pytest.raises(MalformedMessage) as caught:
        mdp_decode.decode_at_client(frames, version)
    assert caught.value.reason == reason


@pytest.mark.parametrize("command", [b"\x03", b"\x04"], ids=["partial", "final"])
def test_majortomo_reply_may_carry_no_body_frame(command: bytes) -> None:
    """§3.4: majortomo's worker ends a stream with an empty FINAL, and its broker
    passes it on; RFC 18's one-body-frame rule is not the dialect's."""
    reply = mdp_decode.decode_at_client([b"", b"MDPC02", command], VMJ)
    assert reply == mdp.ClientReply(VMJ, b"", (), final=command == b"\x04")


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
    """docs/protocols.md §2.4, §3.3: a worker takes REQUEST, HEARTBEAT, DISCONNECT only."""
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
    """docs/protocols.md §2.3, §2.4, §3.1: no empty body or service; 0.1 is final."""
    with pytest.raises(ValueError, match=r"MDP|READY"):
        mdp.encode(message)
