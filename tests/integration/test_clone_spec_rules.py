"""More of the Clone server's conformance to RFC 12/CHP, over raw ZeroMQ sockets on
127.0.0.1 with frames written out from the RFC (docs/protocols.md §6): what ends a ttl,
subtrees as byte prefixes, and KVSET and ICANHAZ shapes the RFC does not allow. The
rest is in test_clone_spec_audit.py.
"""

from __future__ import annotations

import uuid

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import ZERO, CloneServer, next_update, seq, snapshot

Context = zmq.Context[zmq.Socket[bytes]]


def kvset(key: bytes, properties: bytes, value: bytes) -> list[bytes]:
    return [key, ZERO, uuid.uuid4().bytes, properties, value]


@pytest.mark.parametrize("set_again", [False, True], ids=["deleted", "set-again"])
def test_a_delete_ends_the_keys_ttl(
    zmq_context: Context,
    server: CloneServer,
    clock: FakeClock,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
    set_again: bool,
) -> None:
    """RFC 12: an empty value deletes the key; a ttl deletes the pair when it runs
    out. Once deleted there is no pair left to expire: no second deletion is
    published when the ttl would have run out, and a later KVSET without ttl makes a
    permanent key that the old deadline does not take (docs/protocols.md §6.6)."""
    writer.send_multipart(kvset(b"/lease", b"ttl=10\n", b"mine"))
    writer.send_multipart(kvset(b"/lease", b"", b""))
    assert [next_update(sub)[4] for _ in range(2)] == [b"mine", b""]
    published = 2
    if set_again:
        writer.send_multipart(kvset(b"/lease", b"", b"kept"))
        assert next_update(sub)[4] == b"kept"
        published = 3
    clock.advance(30)
    server.turn()
    server.turn()
    assert server.counter("clone.published") == published
    kept = [[b"/lease", seq(3), b"", b"", b"kept"]] if set_again else []
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        *kept,
        [b"KTHXBAI", seq(published), b"", b"", b""],
    ]


def test_a_subtree_selects_the_keys_it_is_a_byte_prefix_of(
    zmq_context: Context,
    server: CloneServer,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
) -> None:
    """docs/protocols.md §6.3: the snapshot holds the keys that start with the
    subtree, byte for byte (the RFC's slash-ended form is the client's business:
    "/dev" also matches "/devices/..."), the subtree is echoed in KTHXBAI, and the
    KTHXBAI sequence is the server's current one (a raspy choice, §6.3)."""
    for key in (b"/device/lamp", b"/devices/x", b"/dev", b"/de", b"/Dev"):
        writer.send_multipart(kvset(key, b"", b"v"))
        next_update(sub)
    answer = snapshot(zmq_context, server.endpoints.snapshot, b"/dev")
    assert sorted(frames[0] for frames in answer[:-1]) == [
        b"/dev",
        b"/device/lamp",
        b"/devices/x",
    ]
    assert answer[-1] == [b"KTHXBAI", seq(5), b"", b"", b"/dev"]


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([b"/k", ZERO, b"u" * 15, b"", b"v"], id="uuid-15-bytes"),
        pytest.param([b"/k", ZERO, b"u" * 17, b"", b"v"], id="uuid-17-bytes"),
        pytest.param([b"/k", b"\x00" * 9, b"", b"", b"v"], id="sequence-9-bytes"),
        pytest.param([b"/k", b"", b"", b"", b"v"], id="sequence-empty"),
        pytest.param([b"", ZERO, b"", b"", b"v"], id="empty-key"),
        pytest.param([b"HUGZ", ZERO, b"", b"", b"v"], id="hugz-key"),
        pytest.param([b"/k", ZERO, b"", b"ttl=soon\n", b"v"], id="ttl-not-a-number"),
        pytest.param([b"/k", ZERO, b"", b"ttl=\n", b"v"], id="ttl-empty"),
        pytest.param([b"/k", ZERO, b"", b"=v\n", b"v"], id="property-without-name"),
        pytest.param([b"/k", ZERO, b"", b"", b"v", b""], id="six-frames"),
        pytest.param([b"/k"], id="one-frame"),
    ],
)
def test_a_kvset_of_a_shape_rfc12_does_not_allow_is_dropped(
    zmq_context: Context,
    server: CloneServer,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
    frames: list[bytes],
) -> None:
    """RFC 12 KVSET: five frames, an 8-byte sequence, a 16-byte (or empty) UUID,
    "name=value" properties; docs/protocols.md §6.2, §6.4: any other shape, a
    command literal as key, or a ttl that is not a number is dropped with no
    sequence number spent: the next valid KVSET is published as update 1."""
    writer.send_multipart(frames)
    writer.send_multipart([b"/ok", ZERO, b"", b"", b"fine"])
    assert next_update(sub) == [b"/ok", seq(1), b"", b"", b"fine"]
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"/ok", seq(1), b"", b"", b"fine"],
        [b"KTHXBAI", seq(1), b"", b"", b""],
    ]


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([b"ICANHAZ?", b"", b""], id="three-frames"),
        pytest.param([b"ICANHAZ", b""], id="no-question-mark"),
        pytest.param([b"icanhaz?", b""], id="lower-case"),
        pytest.param([b"KTHXBAI", b""], id="server-command"),
    ],
)
def test_an_icanhaz_of_another_shape_is_dropped_and_the_next_is_answered(
    zmq_context: Context, server: CloneServer, frames: list[bytes]
) -> None:
    """RFC 12 State Synchronization: ICANHAZ? is exactly two frames, the literal
    "ICANHAZ?" then the subtree; docs/protocols.md §6.9: zguide's servers stop on a
    malformed one. raspy's drops it unanswered and answers the next well-formed
    request from the same peer."""
    peer = zmq_context.socket(zmq.DEALER)
    peer.setsockopt(zmq.LINGER, 0)
    try:
        peer.connect(server.endpoints.snapshot)
        peer.send_multipart(frames)
        peer.send_multipart([b"ICANHAZ?", b""])
        assert peer.poll(5000), "no answer to the well-formed ICANHAZ?"
        assert peer.recv_multipart() == [b"KTHXBAI", ZERO, b"", b"", b""]
        assert not peer.poll(100), "more than one answer"
    finally:
        peer.close()
