"""MDP codecs: the byte vectors of docs/protocols.md §2-§4, decoded and encoded both ways."""

from __future__ import annotations

import pytest
from support.mdp_frames import C1, SVC, V01, V02, VMJ

from raspy.protocol import mdp, mdp_decode

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


@pytest.mark.parametrize(
    ("frames", "expected"),
    [pytest.param(f, m, id=i) for i, f, m in BROKER_INBOUND],
)
def test_broker_decodes_every_example_message(
    frames: list[bytes], expected: mdp.BrokerInbound
) -> None:
    """docs/protocols.md §2.3, §2.4, §3.3, §3.4, §4: each example decodes to its message."""
    assert mdp_decode.decode_at_broker(frames) == expected


@pytest.mark.parametrize(
    ("frames", "expected"),
    [pytest.param(f, m, id=i) for i, f, m in BROKER_INBOUND],
)
def test_encoding_each_inbound_example_gives_its_exact_frames(
    frames: list[bytes], expected: mdp.BrokerInbound
) -> None:
    """docs/protocols.md §2-§4: encoding is the inverse of decoding, byte for byte."""
    assert mdp.encode(expected) == frames


def test_router_view_example_decodes_after_the_routing_id_is_stripped() -> None:
    """docs/protocols.md §3.3: [C1, b'MDPC02', b'\\x01', SVC, b'hello']."""
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
    """docs/protocols.md §2.3, §2.4, §3.3, §3.4, §4: broker -> peer frames."""
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
    """docs/protocols.md §2.3, §3.3, §3.4: a client of each version reads its replies."""
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
    """docs/protocols.md §2.4, §3.3, §3.4: a worker of each version reads broker commands."""
    assert mdp_decode.decode_at_worker(frames, message.version) == message


@pytest.mark.parametrize(
    ("version", "frames"),
    [
        pytest.param(V01, [b"", b"MDPC01", SVC, b""], id="v01"),
        pytest.param(V02, [b"MDPC02", b"\x03", SVC, b""], id="v02"),
        pytest.param(VMJ, [b"", b"MDPC02", b"\x04"], id="majortomo"),
    ],
)
def test_a_reply_of_no_body_frame_gets_one_empty_frame_where_its_version_needs_one(
    version: mdp.Version, frames: list[bytes]
) -> None:
    """§3.4: a majortomo worker's FINAL of no body frame goes on to a majortomo
    client as it is; an RFC 7 or RFC 18 reply needs a body frame, one empty frame."""
    assert mdp.client_reply_frames(version, SVC, ()) == frames
    assert mdp_decode.decode_at_client(frames, version).final
